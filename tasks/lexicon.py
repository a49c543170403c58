"""Phrase lists by meaning and language: the ``[lexicon.NAME]`` tables of a rules file.

One source for two users: a boilerplate rule's pattern names a list as ``{NAME}`` (see
``expand``), and dedup drops the phrases of the lists the built-in file names in
``dedup_tails`` from the end of a paragraph before comparing it (tasks/dedup.py).
"""
from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

DEFAULT_RULES = Path(__file__).with_name("rules") / "default.toml"

Lexicons = dict[str, tuple[str, ...]]  # a list's name -> its phrases, every language's

# A regex quantifier is {m,n} in digits, so a name in braces is never one.
_PLACEHOLDER = re.compile(r"\{([a-z][a-z_]*)\}")


def read_lexicons(data: dict, origin: str) -> Lexicons:
    """A rules file's lexicons, each as the phrases of all its languages."""
    lexicons: Lexicons = {}
    for name, by_language in data.get("lexicon", {}).items():
        if not isinstance(by_language, dict) or not all(
            isinstance(phrases, list) and all(isinstance(p, str) and p for p in phrases)
            for phrases in by_language.values()
        ):
            raise ValueError(f"{origin}: lexicon {name!r} must map languages to lists of phrases")
        lexicons[name] = tuple(phrase for phrases in by_language.values() for phrase in phrases)
    return lexicons


def _alternation(phrases: tuple[str, ...]) -> str:
    """The phrases as one group, factored by their common beginnings: a plain alternation of
    hundreds of phrases makes the regex engine try every one of them in turn (a
    case-insensitive literal skips no branch), a factored one a branch per distinct letter."""
    trie: dict = {}
    for phrase in phrases:
        node = trie
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}
    return "(?:" + _factored(trie) + ")"


def _factored(node: dict) -> str:
    # An apostrophe matches the typographic one too (normalisation keeps both).
    branches = [(re.escape(char).replace("'", "['’]")) + _factored(child) for char, child in node.items() if char]
    if not branches:
        return ""
    group = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if "" not in node:
        return group
    return (group if len(branches) == 1 and len(group) == 1 else f"(?:{group})") + "?"


def expand(pattern: str, lexicons: Lexicons) -> str:
    """The pattern with each ``{NAME}`` replaced by the alternation of that lexicon's
    phrases; KeyError names an unknown lexicon."""
    return _PLACEHOLDER.sub(lambda match: _alternation(lexicons[match.group(1)]), pattern)


@cache
def dedup_tail_phrases() -> tuple[str, ...]:
    """The phrases of the built-in lexicons named in ``dedup_tails``. Only the built-in
    file decides them: stored fingerprints depend on them."""
    data = tomllib.loads(DEFAULT_RULES.read_text(encoding="utf-8"))
    lexicons = read_lexicons(data, str(DEFAULT_RULES))
    return tuple(phrase for name in data.get("dedup_tails", []) for phrase in lexicons[name])
