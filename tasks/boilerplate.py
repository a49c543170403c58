"""The boilerplate rule engine: one engine, many rules as data.

Rules live in TOML files (``tasks/rules/default.toml`` and any the user passes). A rule
matches a paragraph's own shape (regular expressions plus ``max_chars``), or names a
document-level detector (``context``), or HTML markup to take out before extraction
(``markup``). Shape patterns come in three lists: ``patterns`` fire anywhere, ``head``
patterns only while every earlier paragraph has been removed (kickers and breadcrumbs
above the article), ``tail`` patterns only while every later one has (bios, credits
below it). The engine labels paragraphs; it never deletes them, so every removal can be
explained by the rule that made it.
"""
from __future__ import annotations

import re
import sys
import tomllib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import re2

from tasks.dedup import dedup_key, dedup_keys, teaser_text
from tasks.lexicon import DEFAULT_RULES, Lexicons, expand, read_lexicons
from tasks.records import KEPT, REMOVED, Paragraph

ANYWHERE, HEAD, TAIL = "patterns", "head", "tail"
_RULE_KEYS = {"name", "description", "patterns", "head", "tail", "max_chars", "min_chars", "min_count", "langs",
              "context", "case_sensitive", "markup", "markup_max_chars", "min_documents", "min_share"}
# Contexts that need the whole corpus, not one document: the writer runs them after a run's
# loads (storage/site_template.py); the per-document engine leaves them alone.
SITE_REPEAT = "site_repeat"
CORPUS_CONTEXTS = frozenset({SITE_REPEAT})
_MARKUP_KEYS = {"attr", "pattern", "tag", "up"}
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z_][\w.-]*")


class RuleError(ValueError):
    """A rule file that cannot be used; the message names the file and the rule."""


@dataclass(frozen=True, slots=True)
class MarkupMatcher:
    """HTML elements one of whose attributes (``attrs``, e.g. class or id) has a
    space-separated token matching ``pattern``; with ``up``, the nearest enclosing element
    of that tag instead (the form around a search input)."""

    attrs: tuple[str, ...]
    pattern: re.Pattern[str]
    tags: frozenset[str] | None = None
    up: str | None = None


# eq=False: a rule is itself, hashed by identity. Rule sets key the caches of their compiled
# forms (_shapes, tasks/html.py's markup index), looked up for every page; hashing every
# field of every rule took 40 µs a set.
@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    name: str
    description: str
    patterns: tuple[re.Pattern[str], ...] = ()  # anywhere in the document
    head: tuple[re.Pattern[str], ...] = ()  # only before the first content paragraph
    tail: tuple[re.Pattern[str], ...] = ()  # only after the last content paragraph
    max_chars: int | None = None
    min_chars: int = 0
    min_count: int = 3
    langs: tuple[str, ...] = ()
    context: str | None = None
    markup: tuple[MarkupMatcher, ...] = ()  # HTML elements to take out before extraction
    markup_max_chars: int = 2000  # an element with more text than this is content, not a widget
    min_documents: int = 5  # site_repeat: in at least this many documents of one site ...
    min_share: float = 0.0  # ... and at least this share of the site's documents


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """Which rules to use: picklable and hashable, so worker processes compile each set once."""

    files: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()


# --- document-level detectors -------------------------------------------------------------

Verdicts = dict[int, int | None]

_SENTENCE_END = re.compile(r"[.!?…。！？]\W{0,2}$")


def _keys_of(texts: Sequence[str], wanted: Sequence[bool]) -> list[str]:
    """The dedup keys of the wanted texts, computed together; "" for the others."""
    keys = [""] * len(texts)
    chosen = [i for i, want in enumerate(wanted) if want]
    for i, key in zip(chosen, dedup_keys([texts[i] for i in chosen])):
        keys[i] = key
    return keys


def _lede_pairs(texts: Sequence[str], live: Sequence[bool]) -> list[tuple[int, int]]:
    """Each live paragraph longer than every one before it (the title, a lede: the top of
    the document), with the next such paragraph, the first one after it that is longer."""
    tops: list[int] = []
    for i in (i for i, alive in enumerate(live) if alive):
        if not tops or len(texts[i]) > len(texts[tops[-1]]):
            tops.append(i)
    return list(zip(tops, tops[1:]))


def _truncated_repeats(texts: Sequence[str], live: Sequence[bool], rule: Rule) -> Verdicts:
    """Teasers of another paragraph of the same document, which stays:

    - a paragraph ending in an ellipsis (perhaps then "Read more") whose text before it,
      possibly cut mid-word, begins another paragraph: an article's teaser repeated at its
      foot, or above it;
    - at the top, a lede without an ellipsis whose full paragraph is the next longer one,
      when it stops mid-word or at the end of a sentence (a headline that begins the first
      paragraph stops at a word and stays)."""
    teasers = {i: cut for i, text in enumerate(texts) if live[i] and (cut := teaser_text(text)) is not None}
    verdicts: Verdicts = {}
    if teasers:
        keys = _keys_of(texts, live)
        for i, cut in teasers.items():
            prefix = dedup_key(cut)
            if len(prefix) < rule.min_chars:
                continue
            source = next(
                (j for j, key in enumerate(keys) if j != i and len(key) > len(prefix) and key.startswith(prefix)),
                None,
            )
            if source is not None:
                verdicts[i] = source
    # Keys cost some 15 µs a paragraph; a lede and its paragraph open with the same characters.
    ledes = [(i, j) for i, j in _lede_pairs(texts, live)
             if i not in teasers and len(texts[i]) >= rule.min_chars and texts[j].startswith(texts[i][:10])]
    pair_keys = iter(dedup_keys([texts[k] for pair in ledes for k in pair]))
    for i, j in ledes:
        lede, full = next(pair_keys), next(pair_keys)
        if len(lede) >= rule.min_chars and len(full) > len(lede) and full.startswith(lede) and (
            (lede[-1].isalnum() and full[len(lede)].isalnum()) or _SENTENCE_END.search(texts[i])
        ):
            verdicts[i] = j
    return verdicts


# A line of code (a call, an assignment, an import) repeats in documentation as content does.
_CODE_LINE = re.compile(r"[=(){}\[\];]|^(import|from|def|class|return|const|let|var|#)\b")


def _repeated_lines(texts: Sequence[str], live: Sequence[bool], rule: Rule) -> Verdicts:
    """Short labels that occur ``min_count`` times or more in one document (a slogan, a
    "watch the video" label, a month list): the repeats go, each pointing at the first
    occurrence, which stays, since a repeated heading may be the document's structure.
    Sentences are not labels: an interview page asks each guest the same question."""
    keys = _keys_of(texts, [alive and len(text) <= (rule.max_chars or 80) and not _SENTENCE_END.search(text)
                            and not _CODE_LINE.search(text) for text, alive in zip(texts, live)])
    counts = Counter(key for key in keys if key)
    first: dict[str, int] = {}
    verdicts: Verdicts = {}
    for i, key in enumerate(keys):
        if key and counts[key] >= rule.min_count and first.setdefault(key, i) != i:
            verdicts[i] = first[key]
    return verdicts


DETECTORS: dict[str, Callable[[Sequence[str], Sequence[bool], Rule], Verdicts]] = {
    "truncated_repeat": _truncated_repeats,
    "repeated_line": _repeated_lines,
}


# --- loading ----------------------------------------------------------------------------------

def _compile_rule(entry: dict, origin: str, lexicons: Lexicons, user: bool = False) -> Rule:
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise RuleError(f"{origin}: a [[rule]] has no name")
    rule_at = f"{origin}: rule {name!r}"
    unknown = set(entry) - _RULE_KEYS
    if unknown:
        raise RuleError(f"{rule_at}: unknown keys {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}")
    context, markup = entry.get("context"), entry.get("markup", [])
    shapes = {key: entry.get(key, []) for key in (ANYWHERE, HEAD, TAIL)}
    if context is not None and context not in DETECTORS and context not in CORPUS_CONTEXTS:
        raise RuleError(f"{rule_at}: unknown context {context!r}; known: {sorted({*DETECTORS, *CORPUS_CONTEXTS})}")
    min_share = entry.get("min_share", 0.0)
    if not isinstance(min_share, int | float) or not 0 <= min_share <= 1:
        raise RuleError(f"{rule_at}: min_share must be a number in [0, 1], not {min_share!r}")
    if context is not None and any(shapes.values()):
        raise RuleError(f"{rule_at}: give either patterns or a context, not both")
    if context is None and not any(shapes.values()) and not markup:
        raise RuleError(f"{rule_at}: give 'patterns' (or 'head'/'tail'), 'context' or 'markup'")
    flags = 0 if entry.get("case_sensitive", False) else re.IGNORECASE
    compiled = {key: tuple(_compile_pattern(p, flags, rule_at, lexicons, user) for p in patterns)
                for key, patterns in shapes.items()}
    return Rule(
        name=name,
        description=entry.get("description", ""),
        patterns=compiled[ANYWHERE],
        head=compiled[HEAD],
        tail=compiled[TAIL],
        max_chars=entry.get("max_chars"),
        min_chars=entry.get("min_chars", 0),
        min_count=entry.get("min_count", 3),
        langs=tuple(entry.get("langs", ())),
        context=context,
        markup=tuple(_compile_markup(entry, rule_at, user) for entry in markup),
        markup_max_chars=entry.get("markup_max_chars", 2000),
        min_documents=entry.get("min_documents", 5),
        min_share=float(min_share),
    )


def _compile_pattern(pattern: str, flags: int, rule_at: str, lexicons: Lexicons,
                     user: bool = False) -> re.Pattern[str] | re2._Regexp:
    """A rule's pattern with its lexicons ({name}) spelled out; a user's on RE2."""
    try:
        source = expand(pattern, lexicons)
    except KeyError as error:
        raise RuleError(f"{rule_at}: pattern {pattern!r} names unknown lexicon {error}; known: {sorted(lexicons)}") from None
    except TypeError as error:
        raise RuleError(f"{rule_at}: bad pattern {pattern!r}: {error}") from None
    if user:
        return _compile_user_pattern(source, flags, rule_at)
    try:
        return re.compile(source, flags)
    except re.error as error:
        raise RuleError(f"{rule_at}: bad pattern {pattern!r}: {error}") from None


def _compile_user_pattern(pattern: str, flags: int, rule_at: str, kind: str = "pattern") -> re2._Regexp:
    """A user's pattern, compiled by RE2, which matches in time linear in the text: under
    Python's backtracking engine, one pattern such as (a+)+$ can take hours on one line.
    RE2 has no lookarounds or backreferences; the built-in rules, reviewed, use re."""
    if not isinstance(pattern, str):
        raise RuleError(f"{rule_at}: bad {kind} {pattern!r}: not a string")
    options = re2.Options()
    options.case_sensitive = not flags & re.IGNORECASE
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as error:
        reason = error.args[0].decode("utf-8", "replace") if error.args and isinstance(error.args[0], bytes) else error
        raise RuleError(f"{rule_at}: bad {kind} {pattern!r}: {reason} (rule files use RE2 syntax: "
                        "no lookarounds or backreferences)") from None


def combined_pattern(patterns: Sequence) -> re.Pattern[str] | re2._Regexp:
    """One case-insensitive pattern matching where any of ``patterns`` does; on RE2 if any
    of them is a user's (its source could make Python's engine backtrack for ever)."""
    source = "|".join(f"(?:{pattern.pattern})" for pattern in patterns)
    if all(isinstance(pattern, re.Pattern) for pattern in patterns):
        return re.compile(source, re.IGNORECASE)
    return _compile_user_pattern(source, re.IGNORECASE, "markup rules", "combination of patterns")


def _compile_markup(entry: dict, rule_at: str, user: bool = False) -> MarkupMatcher:
    if not isinstance(entry, dict) or "attr" not in entry or "pattern" not in entry:
        raise RuleError(f"{rule_at}: each markup entry is a table with 'attr' and 'pattern', not {entry!r}")
    unknown = set(entry) - _MARKUP_KEYS
    if unknown:
        raise RuleError(f"{rule_at}: unknown markup keys {sorted(unknown)}; allowed: {sorted(_MARKUP_KEYS)}")
    if user:
        pattern = _compile_user_pattern(entry["pattern"], re.IGNORECASE, rule_at, "markup pattern")
    else:
        try:
            pattern = re.compile(entry["pattern"], re.IGNORECASE)
        except (re.error, TypeError) as error:
            raise RuleError(f"{rule_at}: bad markup pattern {entry['pattern']!r}: {error}") from None
    attrs = str(entry["attr"]).split()
    if not attrs or not all(_ATTRIBUTE_NAME.fullmatch(attr) for attr in attrs):
        raise RuleError(f"{rule_at}: markup 'attr' must be attribute names separated by spaces, not {entry['attr']!r}")
    tags = entry.get("tag")
    return MarkupMatcher(
        attrs=tuple(attrs),
        pattern=pattern,
        tags=frozenset(tags.split()) if tags else None,
        up=entry.get("up"),
    )


def _read_rule_file(path: Path) -> tuple[dict, Lexicons]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return data, read_lexicons(data, str(path))
    except (OSError, tomllib.TOMLDecodeError, ValueError) as error:
        raise RuleError(f"{path}: cannot read rules: {error}") from None


@lru_cache(maxsize=8)
def load_rules(spec: RuleSpec = RuleSpec()) -> tuple[Rule, ...]:
    """The default rules, then each file's rules (a rule with an existing name replaces it),
    less the disabled ones; a file's lexicon replaces the one of the same name for every
    rule. Compiled once per process per spec."""
    files = [(str(path), *_read_rule_file(path)) for path in (DEFAULT_RULES, *map(Path, spec.files))]
    lexicons: Lexicons = {}
    for _, _, file_lexicons in files:
        lexicons.update(file_lexicons)
    by_name: dict[str, Rule] = {}
    disabled = set(spec.disabled)
    for origin, data, _ in files:
        user = origin != str(DEFAULT_RULES)  # a user's patterns compile on RE2
        by_name.update((rule.name, rule) for rule in (_compile_rule(entry, origin, lexicons, user)
                                                      for entry in data.get("rule", [])))
        disabled.update(data.get("disable", []))
    unknown = disabled - set(by_name)
    if unknown:
        raise RuleError(f"cannot disable unknown rules {sorted(unknown)}; known: {sorted(by_name)}")
    return tuple(rule for name, rule in by_name.items() if name not in disabled)


def site_repeat_rule(rules: Sequence[Rule]) -> Rule | None:
    """The rule that marks lines repeated across a site's documents, if enabled (the last
    one, as a later file's rule replaces an earlier one)."""
    return next((rule for rule in reversed(rules) if rule.context == SITE_REPEAT), None)


# --- labelling --------------------------------------------------------------------------------

# A rule as the engine's inner loop wants it: its length limit and its patterns' bound
# search methods. That loop runs for every paragraph against every rule, some 300 times a
# page: over these, labelling bench/extraction.py's pages takes 0.72 ms a page, not 0.82.
_Shape = tuple[Rule, int, tuple[Callable[[str], object], ...]]


@lru_cache(maxsize=32)
def _shapes(rules: tuple[Rule, ...], where: str) -> tuple[_Shape, ...]:
    return tuple(
        (rule, sys.maxsize if rule.max_chars is None else rule.max_chars, tuple(p.search for p in getattr(rule, where)))
        for rule in rules if getattr(rule, where)
    )


def _first_match(text: str, shapes: tuple[_Shape, ...]) -> Rule | None:
    """The first rule one of whose patterns is found in the text, if not too long for it."""
    size = len(text)
    for rule, max_chars, searches in shapes:
        if size <= max_chars:
            for search in searches:
                if search(text):
                    return rule
    return None


def _remove(paragraph: Paragraph, rule: Rule, source: int | None = None) -> None:
    paragraph.status, paragraph.removed_by = REMOVED, rule.name
    paragraph.dup_of_position = source


def _scan_edge(paragraphs: Sequence[Paragraph], shapes: tuple[_Shape, ...]) -> None:
    """Remove matching paragraphs from one edge inwards, stopping at the first content."""
    for paragraph in paragraphs:
        if paragraph.status != KEPT:
            continue
        rule = _first_match(paragraph.text, shapes)
        if rule is None:
            return
        _remove(paragraph, rule)


def label_boilerplate(paragraphs: Sequence[Paragraph], rules: Sequence[Rule]) -> None:
    """Label each paragraph kept or removed (with the rule's name), in place."""
    rules = tuple(rules)
    anywhere = _shapes(rules, ANYWHERE)
    for paragraph in paragraphs:
        if paragraph.status != KEPT:
            continue
        rule = _first_match(paragraph.text, anywhere)
        if rule is not None:
            _remove(paragraph, rule)
    for rule in (rule for rule in rules if rule.context in DETECTORS):
        texts = [p.text for p in paragraphs]
        verdicts = DETECTORS[rule.context](texts, [p.status == KEPT for p in paragraphs], rule)
        for index, source in verdicts.items():
            _remove(paragraphs[index], rule, source)
    _scan_edge(paragraphs, _shapes(rules, HEAD))
    _scan_edge(paragraphs[::-1], _shapes(rules, TAIL))
