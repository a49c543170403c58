"""Per-document quality signals, as the published filters define them: Gopher (Rae et al.
2021, appendix A), C4 (Raffel et al. 2020) and RedPajama-v2's signals. docmill tags and never
filters: the signals are stored (storage/schema.sql, ``document_quality``, which says which
definition each follows) and the thresholds live in views.

A document's text here is its paragraphs that are not boilerplate (duplicates of other
documents included: a document's quality does not depend on what was loaded before it).
Words, as RedPajama-v2 normalises them: the text is case-folded and its punctuation and
common symbols (``_PUNCTUATION``) removed; a word is then a maximal run of characters that
are neither white space nor Han, kana or Thai, and each Han or kana character, and each
Thai character with the combining marks that follow it, is a word of its own (those scripts
do not separate words by spaces). Lines are the text's non-empty lines, stripped; n-grams
are taken within a line, so that no signal depends on the order of paragraphs.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields
from itertools import accumulate, compress, filterfalse
from operator import attrgetter, sub

_UNSPACED = "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
_THAI_MARKS = "\u0e31\u0e34-\u0e3a\u0e47-\u0e4e"
_TOKEN = re.compile(rf"[{_UNSPACED}]|[\u0e00-\u0e7f][{_THAI_MARKS}]*|[^\s{_UNSPACED}\u0e00-\u0e7f]+")
_UNSPACED_CHAR = re.compile(rf"[{_UNSPACED}\u0e00-\u0e7f]")
_LETTER = re.compile(r"[^\W\d_]")
# What words lose: ASCII punctuation and symbols, Latin-1's punctuation and signs, General
# Punctuation, currency signs, arrows, box drawing and geometric shapes (bullets), CJK and
# full-width punctuation.
_PUNCTUATION = re.compile("[!-/:-@\\[-`{-~\u00a1-\u00bf\u00d7\u00f7\u2010-\u2027\u2030-\u205e\u20a0-\u20cf"
                          "\u2190-\u21ff\u2500-\u25ff\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40"
                          "\uff5b-\uff65]")
# C4 keeps lines ending in a period, exclamation mark, question mark or closing quote; the
# CJK full stops are theirs in those scripts.
_TERMINAL = tuple('.!?"”’»」』。！？')
# RedPajama-v2's bullets (rps_lines_start_with_bulletpoint), with Gopher's "-" and "*".
_BULLETS = tuple("•‣⁃◦▪▫■□▶◀–-*")
_ELLIPSES = ("...", "…")
# C4 drops the lines that contain one of these.
_POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                   "use cookies")
_SENTENCE_MARKS = ".!?。！？"
C4_MIN_LINE_WORDS = 5
# Gopher's eight stop words ("the, be, to, of, and, that, have, with"), and their usual
# counterparts in the languages docmill's users ingest most; other languages have none.
STOP_WORDS = {
    "en": frozenset({"the", "be", "to", "of", "and", "that", "have", "with"}),
    "fr": frozenset({"le", "la", "les", "être", "de", "et", "que", "avoir", "avec", "à"}),
    "de": frozenset({"der", "die", "das", "sein", "zu", "von", "und", "dass", "haben", "mit"}),
    "es": frozenset({"el", "la", "los", "ser", "a", "de", "y", "que", "haber", "con"}),
    "it": frozenset({"il", "la", "essere", "a", "di", "e", "che", "avere", "con"}),
    "pt": frozenset({"o", "a", "os", "ser", "para", "de", "e", "que", "ter", "com"}),
    "nl": frozenset({"de", "het", "zijn", "te", "van", "en", "dat", "hebben", "met"}),
}
TOP_NGRAM_SIZES = (2, 3, 4)
DUPLICATE_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)


@dataclass(frozen=True, slots=True)
class QualitySignals:
    """One document's signals (document_quality's columns, in order). A share is None when
    what it divides by is zero (no words, no lines)."""

    word_count: int
    mean_word_length: float | None
    line_count: int
    terminal_punctuation_line_share: float | None
    bullet_line_share: float | None
    ellipsis_line_share: float | None
    hash_word_ratio: float | None
    ellipsis_word_ratio: float | None
    non_alpha_word_share: float | None
    stop_word_count: int | None  # None: no stop-word list for the document's language
    duplicate_line_share: float | None
    duplicate_line_char_share: float | None
    duplicate_paragraph_share: float | None
    duplicate_paragraph_char_share: float | None
    top_2gram_char_share: float | None
    top_3gram_char_share: float | None
    top_4gram_char_share: float | None
    duplicate_5gram_char_share: float | None
    duplicate_6gram_char_share: float | None
    duplicate_7gram_char_share: float | None
    duplicate_8gram_char_share: float | None
    duplicate_9gram_char_share: float | None
    duplicate_10gram_char_share: float | None
    lorem_ipsum_count: int
    curly_bracket_count: int
    javascript_line_count: int
    policy_line_count: int
    c4_sentence_count: int

    def __reduce__(self):
        # As Paragraph's (tasks/records.py): by the constructor's arguments, not a Python
        # loop over the fields on both sides; every document's signals cross processes.
        return QualitySignals, _signal_values(self)


_signal_values = attrgetter(*(f.name for f in fields(QualitySignals)))


def tokens(text: str) -> list[str]:
    """Space-separated runs, and single Han, kana and Thai characters (see the module's doc)."""
    return _TOKEN.findall(text) if _UNSPACED_CHAR.search(text) else text.split()


def words(text: str) -> list[str]:
    """The words of a line (see the module's doc)."""
    return tokens(_PUNCTUATION.sub("", text.casefold()))


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _repeats(items: Sequence[str]) -> tuple[float | None, float | None]:
    """Gopher's duplicate fractions: the share of items that repeat an earlier one, and of
    the characters in them. Independent of the items' order."""
    counts = Counter(items)
    repeated = sum(count - 1 for count in counts.values())
    repeated_chars = sum((count - 1) * len(item) for item, count in counts.items())
    return _share(repeated, len(items)), _share(repeated_chars, sum(len(item) for item in items))


def _ngram_counts(runs: Sequence[Sequence[str]], n: int) -> Counter:
    """How often each n-gram occurs; none spans two lines."""
    counts: Counter = Counter()
    for run in runs:
        counts.update(zip(*(run[i:] for i in range(n))))
    return counts


def _covered_chars(runs: Sequence[Sequence[str]], n: int, wanted: set[tuple[str, ...]]) -> int:
    """The characters of the words covered by the n-grams ``wanted`` holds, each word once."""
    total = 0
    for run in runs:
        covered = [False] * len(run)
        for i, gram in enumerate(zip(*(run[i:] for i in range(n)))):
            if gram in wanted:
                covered[i:i + n] = [True] * n
        total += sum(map(len, compress(run, covered)))
    return total


def _overlaps_itself(gram: tuple[str, ...]) -> bool:
    """Whether two occurrences of ``gram`` can overlap ("a b a" at 0 and 2)."""
    return any(gram[shift:] == gram[:-shift] for shift in range(1, len(gram)))


def _longest_ngram_chars(word_ends: Sequence[Sequence[int]], n: int) -> int:
    """The most characters an n-gram has, from each line's cumulative word lengths."""
    return max((max(map(sub, ends[n:], ends[:-n])) for ends in word_ends if len(ends) > n), default=0)


def _top_ngram_shares(runs: Sequence[Sequence[str]], total_chars: int) -> tuple[dict[str, float | None], bool]:
    """Gopher's "fraction of characters contained within the most frequent n-gram": the
    characters of the words its occurrences cover (each word once, so overlapping
    occurrences, "a a a", count no word twice), over all words' characters, as RedPajama-v2.
    On a tie, the n-gram of the most characters, then the first in sorted order. Also
    returns whether some 2-gram repeats."""
    shares: dict[str, float | None] = {}
    repeated = True
    bigrams_repeat = False
    word_ends = [list(accumulate(map(len, run), initial=0)) for run in runs]
    for n in TOP_NGRAM_SIZES:
        name = f"top_{n}gram_char_share"
        if not total_chars or not any(len(run) >= n for run in runs):
            shares[name] = None
            continue
        # a repeated n-gram holds a repeated (n-1)-gram: once none repeats, none will
        counts = _ngram_counts(runs, n) if repeated else None
        top_count = max(counts.values()) if counts else 1
        repeated = top_count > 1
        bigrams_repeat = bigrams_repeat or (n == 2 and repeated)
        if not repeated:  # every n-gram once: the longest
            shares[name] = _longest_ngram_chars(word_ends, n) / total_chars
            continue
        top = max((gram for gram, count in counts.items() if count == top_count),
                  key=lambda gram: (sum(map(len, gram)), gram))
        covered = _covered_chars(runs, n, {top}) if _overlaps_itself(top) else top_count * sum(map(len, top))
        shares[name] = covered / total_chars
    return shares, bigrams_repeat


def _duplicate_ngram_shares(runs: Sequence[Sequence[str]], total_chars: int,
                            bigrams_repeat: bool) -> dict[str, float | None]:
    """Gopher's "fraction of characters in duplicated n-grams", as RedPajama-v2 counts it:
    the word characters covered by any n-gram occurring more than once (each word once)."""
    shares: dict[str, float | None] = {}
    repeated = bigrams_repeat
    for n in DUPLICATE_NGRAM_SIZES:
        name = f"duplicate_{n}gram_char_share"
        if not total_chars:
            shares[name] = None
            continue
        # a repeated n-gram begins with a repeated (n-1)-gram: once none repeats, none will
        if repeated:
            repeats = {gram for gram, count in _ngram_counts(runs, n).items() if count > 1}
            repeated = bool(repeats)
        shares[name] = _covered_chars(runs, n, repeats) / total_chars if repeated else 0.0
    return shares


def _c4_sentences(lines: Sequence[str], folded: str, folded_lines: Sequence[str],
                  line_words: Sequence[Sequence[str]]) -> int:
    """Sentences in the lines C4 keeps: ending in terminal punctuation, of at least five
    words, without "javascript" or a policy phrase. A sentence ends at a terminal mark
    followed by a space, or at the end of the line."""
    dropping = _c4_drops(folded)  # some line has a marker: look for it line by line
    kept = [line for line, folded_line, found in zip(lines, folded_lines, line_words)
            if line.endswith(_TERMINAL) and len(found) >= C4_MIN_LINE_WORDS
            and not (dropping and _c4_drops(folded_line))]
    joined = "\n".join(kept)
    return len(kept) + sum(joined.count(mark + " ") for mark in _SENTENCE_MARKS)


def _c4_drops(folded_line: str) -> bool:
    return "javascript" in folded_line or any(phrase in folded_line for phrase in _POLICY_PHRASES)


def quality_signals(paragraphs: Sequence[str], lang: str) -> QualitySignals:
    """The signals of a document whose text is these paragraphs, in language ``lang``."""
    lines = [line for line in map(str.strip, "\n".join(paragraphs).splitlines()) if line]
    text = "\n".join(lines)
    folded = text.casefold()
    folded_lines = folded.split("\n") if lines else []
    # words() line by line, with the case folding and punctuation removal done once
    line_words = [tokens(line) for line in _PUNCTUATION.sub("", folded).split("\n")] if lines else []
    n_words, n_lines = sum(map(len, line_words)), len(lines)
    stop_words = STOP_WORDS.get(lang)
    total_chars = sum(sum(map(len, found)) for found in line_words)
    return QualitySignals(
        word_count=n_words,
        mean_word_length=_share(total_chars, n_words),
        line_count=n_lines,
        terminal_punctuation_line_share=_share(sum(line.endswith(_TERMINAL) for line in lines), n_lines),
        bullet_line_share=_share(sum(line.startswith(_BULLETS) for line in lines), n_lines),
        ellipsis_line_share=_share(sum(line.endswith(_ELLIPSES) for line in lines), n_lines),
        hash_word_ratio=_share(text.count("#"), n_words),
        ellipsis_word_ratio=_share(text.count("...") + text.count("…"), n_words),
        # most words are letters only (str.isalpha); the others are searched for a letter
        non_alpha_word_share=_share(sum(not _LETTER.search(word) for found in line_words
                                        for word in filterfalse(str.isalpha, found)), n_words),
        stop_word_count=None if stop_words is None else sum(sum(map(stop_words.__contains__, found))
                                                            for found in line_words),
        duplicate_line_share=(dup_lines := _repeats(lines))[0],
        duplicate_line_char_share=dup_lines[1],
        duplicate_paragraph_share=(dup_paragraphs := _repeats([p.strip() for p in paragraphs if p.strip()]))[0],
        duplicate_paragraph_char_share=dup_paragraphs[1],
        **(top := _top_ngram_shares(line_words, total_chars))[0],
        **_duplicate_ngram_shares(line_words, total_chars, bigrams_repeat=top[1]),
        lorem_ipsum_count=folded.count("lorem ipsum"),
        curly_bracket_count=text.count("{") + text.count("}"),
        javascript_line_count=sum("javascript" in line for line in folded_lines) if "javascript" in folded else 0,
        policy_line_count=_policy_lines(folded, folded_lines),
        c4_sentence_count=_c4_sentences(lines, folded, folded_lines, line_words),
    )


def _policy_lines(folded: str, folded_lines: Sequence[str]) -> int:
    if not any(phrase in folded for phrase in _POLICY_PHRASES):
        return 0  # the usual case, found in one pass
    return sum(any(phrase in line for phrase in _POLICY_PHRASES) for line in folded_lines)
