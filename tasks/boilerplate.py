"""The boilerplate rule engine: one engine, many rules as data.

Rules live in TOML files (``tasks/rules/default.toml`` and any the user passes). A rule
either matches a paragraph's own shape (``patterns`` + ``max_chars``) or names a
document-level detector (``context``). ``where`` limits a rule to the head or tail of a
document: a head rule only fires while every earlier paragraph has been removed, a tail
rule only while every later one has. The engine labels paragraphs; it never deletes them,
so every removal can be explained by the rule that made it.
"""
from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tasks.dedup import dedup_key
from tasks.records import KEPT, REMOVED, Paragraph

DEFAULT_RULES = Path(__file__).with_name("rules") / "default.toml"

ANYWHERE, HEAD, TAIL = "anywhere", "head", "tail"
_RULE_KEYS = {"name", "description", "patterns", "max_chars", "min_chars", "where", "langs", "context",
              "case_sensitive", "markup", "markup_max_chars"}
_MARKUP_KEYS = {"attr", "pattern", "tag", "up"}


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


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    description: str
    patterns: tuple[re.Pattern[str], ...] = ()
    max_chars: int | None = None
    min_chars: int = 0
    where: str = ANYWHERE
    langs: tuple[str, ...] = ()
    context: str | None = None
    markup: tuple[MarkupMatcher, ...] = ()  # HTML elements to take out before extraction
    markup_max_chars: int = 2000  # an element with more text than this is content, not a widget

    def matches(self, text: str) -> bool:
        if self.max_chars is not None and len(text) > self.max_chars:
            return False
        return any(pattern.search(text) for pattern in self.patterns)


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """Which rules to use: picklable and hashable, so worker processes compile each set once."""

    files: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()


# --- document-level detectors -------------------------------------------------------------

_ELLIPSIS_END = re.compile(r"(?:\.{3,}|…)\s*[)\]»\"”’]?\s*$")

Verdicts = dict[int, int | None]


def _truncated_repeats(texts: Sequence[str], live: Sequence[bool], rule: Rule) -> Verdicts:
    """Paragraphs ending in an ellipsis whose text before it (possibly cut mid-word) begins
    another paragraph of the document: the teaser of an article repeated at its foot."""
    candidates = [i for i, text in enumerate(texts) if live[i] and _ELLIPSIS_END.search(text)]
    if not candidates:
        return {}
    keys = [dedup_key(text) if alive else "" for text, alive in zip(texts, live)]
    verdicts: Verdicts = {}
    for i in candidates:
        prefix = dedup_key(_ELLIPSIS_END.sub("", texts[i]))
        if len(prefix) < rule.min_chars:
            continue
        source = next(
            (j for j, key in enumerate(keys) if j != i and len(key) > len(prefix) and key.startswith(prefix)),
            None,
        )
        if source is not None:
            verdicts[i] = source
    return verdicts


DETECTORS: dict[str, Callable[[Sequence[str], Sequence[bool], Rule], Verdicts]] = {
    "truncated_repeat": _truncated_repeats,
}


# --- loading ----------------------------------------------------------------------------------

def _compile_rule(entry: dict, origin: str) -> Rule:
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise RuleError(f"{origin}: a [[rule]] has no name")
    where = f"{origin}: rule {name!r}"
    unknown = set(entry) - _RULE_KEYS
    if unknown:
        raise RuleError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}")
    if entry.get("where", ANYWHERE) not in (ANYWHERE, HEAD, TAIL):
        raise RuleError(f"{where}: 'where' must be one of anywhere, head, tail")
    context, patterns, markup = entry.get("context"), entry.get("patterns", []), entry.get("markup", [])
    if context is not None and context not in DETECTORS:
        raise RuleError(f"{where}: unknown context {context!r}; known: {sorted(DETECTORS)}")
    if context is not None and patterns:
        raise RuleError(f"{where}: give either 'patterns' or 'context', not both")
    if context is None and not patterns and not markup:
        raise RuleError(f"{where}: give 'patterns', 'context' or 'markup'")
    flags = 0 if entry.get("case_sensitive", False) else re.IGNORECASE
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern, flags))
        except (re.error, TypeError) as error:
            raise RuleError(f"{where}: bad pattern {pattern!r}: {error}") from None
    return Rule(
        name=name,
        description=entry.get("description", ""),
        patterns=tuple(compiled),
        max_chars=entry.get("max_chars"),
        min_chars=entry.get("min_chars", 0),
        where=entry.get("where", ANYWHERE),
        langs=tuple(entry.get("langs", ())),
        context=context,
        markup=tuple(_compile_markup(entry, where) for entry in markup),
        markup_max_chars=entry.get("markup_max_chars", 2000),
    )


def _compile_markup(entry: dict, where: str) -> MarkupMatcher:
    if not isinstance(entry, dict) or "attr" not in entry or "pattern" not in entry:
        raise RuleError(f"{where}: each markup entry is a table with 'attr' and 'pattern', not {entry!r}")
    unknown = set(entry) - _MARKUP_KEYS
    if unknown:
        raise RuleError(f"{where}: unknown markup keys {sorted(unknown)}; allowed: {sorted(_MARKUP_KEYS)}")
    try:
        pattern = re.compile(entry["pattern"], re.IGNORECASE)
    except (re.error, TypeError) as error:
        raise RuleError(f"{where}: bad markup pattern {entry['pattern']!r}: {error}") from None
    tags = entry.get("tag")
    return MarkupMatcher(
        attrs=tuple(entry["attr"].split()),
        pattern=pattern,
        tags=frozenset(tags.split()) if tags else None,
        up=entry.get("up"),
    )


def _read_rule_file(path: Path) -> tuple[list[Rule], list[str]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise RuleError(f"{path}: cannot read rules: {error}") from None
    rules = [_compile_rule(entry, str(path)) for entry in data.get("rule", [])]
    return rules, list(data.get("disable", []))


@lru_cache(maxsize=8)
def load_rules(spec: RuleSpec = RuleSpec()) -> tuple[Rule, ...]:
    """The default rules, then each file's rules (a rule with an existing name replaces it),
    less the disabled ones. Compiled once per process per spec."""
    by_name: dict[str, Rule] = {}
    disabled = set(spec.disabled)
    for path in (DEFAULT_RULES, *map(Path, spec.files)):
        rules, disable = _read_rule_file(path)
        by_name.update((rule.name, rule) for rule in rules)
        disabled.update(disable)
    unknown = disabled - set(by_name)
    if unknown:
        raise RuleError(f"cannot disable unknown rules {sorted(unknown)}; known: {sorted(by_name)}")
    return tuple(rule for name, rule in by_name.items() if name not in disabled)


# --- labelling --------------------------------------------------------------------------------

def _remove(paragraph: Paragraph, rule: Rule, source: int | None = None) -> None:
    paragraph.status, paragraph.removed_by = REMOVED, rule.name
    paragraph.dup_of_position = source


def _scan_edge(paragraphs: Sequence[Paragraph], rules: Sequence[Rule]) -> None:
    """Remove matching paragraphs from one edge inwards, stopping at the first content."""
    for paragraph in paragraphs:
        if paragraph.status != KEPT:
            continue
        rule = next((rule for rule in rules if rule.matches(paragraph.text)), None)
        if rule is None:
            return
        _remove(paragraph, rule)


def label_boilerplate(paragraphs: Sequence[Paragraph], rules: Sequence[Rule]) -> None:
    """Label each paragraph kept or removed (with the rule's name), in place."""
    anywhere = [rule for rule in rules if rule.where == ANYWHERE and rule.patterns]
    for paragraph in paragraphs:
        if paragraph.status != KEPT:
            continue
        rule = next((rule for rule in anywhere if rule.matches(paragraph.text)), None)
        if rule is not None:
            _remove(paragraph, rule)
    for rule in (rule for rule in rules if rule.context is not None):
        texts = [p.text for p in paragraphs]
        verdicts = DETECTORS[rule.context](texts, [p.status == KEPT for p in paragraphs], rule)
        for index, source in verdicts.items():
            _remove(paragraphs[index], rule, source)
    _scan_edge(paragraphs, [rule for rule in rules if rule.where == HEAD and rule.patterns])
    _scan_edge(paragraphs[::-1], [rule for rule in rules if rule.where == TAIL and rule.patterns])
