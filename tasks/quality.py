"""Per-document quality signals, as the published filters define them: Gopher (Rae et al.
2021, appendix A), C4 (Raffel et al. 2020) and RedPajama-v2's signals. docmill tags and never
filters: the signals are stored (storage/schema.sql, ``document_quality``, which says which
definition each follows) and the thresholds live in views.

A document's text here is its paragraphs that are not boilerplate (duplicates of other
documents included: a document's quality does not depend on what was loaded before it).
Words: a maximal run of characters that are neither white space nor Han, kana or Thai;
each Han or kana character, and each Thai character with the combining marks that follow
it, is a word of its own (those scripts do not separate words by spaces). A token made of
punctuation and symbols only ("—", "|", "#") is not a word.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_UNSPACED = "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
_THAI_MARKS = "\u0e31\u0e34-\u0e3a\u0e47-\u0e4e"
_TOKEN = re.compile(rf"[{_UNSPACED}]|[\u0e00-\u0e7f][{_THAI_MARKS}]*|[^\s{_UNSPACED}\u0e00-\u0e7f]+")
# C4 keeps lines ending in a period, exclamation mark, question mark or closing quote; the
# CJK full stops are theirs in those scripts.
_TERMINAL = tuple('.!?"”’»」』。！？')
# RedPajama-v2's bullets (rps_lines_start_with_bulletpoint), with Gopher's "-" and "*".
_BULLETS = tuple("•‣⁃◦▪▫■□▶◀–-*")
_ELLIPSES = ("...", "…")
# C4 drops the lines that contain one of these.
_POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                   "use cookies")
# C4: a sentence ends in terminal punctuation followed by white space or the end of the line.
_SENTENCE_END = re.compile(r"[.!?。！？]+[\"”’»」』]*(?:\s|$)")
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


def tokens(text: str) -> list[str]:
    """Space-separated runs, and single Han, kana and Thai characters (see the module's doc)."""
    return _TOKEN.findall(text)


def _is_word(token: str) -> bool:
    return any(unicodedata.category(char)[0] not in "PS" for char in token)


def words(text: str) -> list[str]:
    """The tokens that are not punctuation and symbols only."""
    return [token for token in tokens(text) if _is_word(token)]


def _normalised(word: str) -> str:
    """As RedPajama-v2 compares words: case-folded, punctuation at either end stripped."""
    start, end = 0, len(word)
    while start < end and unicodedata.category(word[start])[0] == "P":
        start += 1
    while end > start and unicodedata.category(word[end - 1])[0] == "P":
        end -= 1
    return word[start:end].casefold()


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _repeats(items: Sequence[str]) -> tuple[float | None, float | None]:
    """Gopher's duplicate fractions: the share of items that repeat an earlier one, and of
    the characters in them. Independent of the items' order."""
    counts = Counter(items)
    repeated = sum(count - 1 for count in counts.values())
    repeated_chars = sum((count - 1) * len(item) for item, count in counts.items())
    return _share(repeated, len(items)), _share(repeated_chars, sum(len(item) for item in items))


def _ngrams(runs: Sequence[Sequence[str]], n: int) -> list[tuple[int, int, tuple[str, ...]]]:
    """(paragraph, index of its first word, words) of every n-gram; none spans paragraphs."""
    return [(r, i, tuple(run[i:i + n])) for r, run in enumerate(runs) for i in range(len(run) - n + 1)]


def _top_ngram_share(runs: Sequence[Sequence[str]], n: int, total_chars: int) -> float | None:
    """Gopher's "fraction of characters contained within the most frequent n-gram": the
    characters of the words its occurrences cover (each word once, so overlapping
    occurrences, "a a a", count no word twice), over all words' characters, as RedPajama-v2.
    On a tie, the n-gram of the most characters, then the first in sorted order."""
    grams = _ngrams(runs, n)
    if not grams or not total_chars:
        return None
    counts = Counter(gram for _, _, gram in grams)
    top = max(counts, key=lambda gram: (counts[gram], sum(map(len, gram)), gram))
    return _covered_chars(runs, [(r, i) for r, i, gram in grams if gram == top], n) / total_chars


def _covered_chars(runs: Sequence[Sequence[str]], starts: Sequence[tuple[int, int]], n: int) -> int:
    """The characters of the words covered by n-grams starting at these places, each once."""
    covered = {(r, j) for r, i in starts for j in range(i, i + n)}
    return sum(len(runs[r][j]) for r, j in covered)


def _duplicate_ngram_shares(runs: Sequence[Sequence[str]], total_chars: int) -> dict[str, float | None]:
    """Gopher's "fraction of characters in duplicated n-grams", as RedPajama-v2 counts it:
    the word characters covered by any n-gram occurring more than once (each word once)."""
    shares: dict[str, float | None] = {}
    for n in DUPLICATE_NGRAM_SIZES:
        name = f"duplicate_{n}gram_char_share"
        if not total_chars or shares.get(f"duplicate_{n - 1}gram_char_share", 1) == 0:
            # a repeated n-gram begins with a repeated (n-1)-gram: none repeats now either
            shares[name] = None if not total_chars else 0.0
            continue
        grams = _ngrams(runs, n)
        counts = Counter(gram for _, _, gram in grams)
        shares[name] = _covered_chars(runs, [(r, i) for r, i, gram in grams if counts[gram] > 1], n) / total_chars
    return shares


def _c4_sentences(lines: Sequence[str], words_per_line: Sequence[int]) -> int:
    """Sentences in the lines C4 keeps: ending in terminal punctuation, of at least five
    words, without "javascript" or a policy phrase."""
    kept = [line for line, count in zip(lines, words_per_line)
            if line.endswith(_TERMINAL) and count >= C4_MIN_LINE_WORDS and not _c4_drops(line.casefold())]
    return sum(len(_SENTENCE_END.findall(line)) for line in kept)


def _c4_drops(folded_line: str) -> bool:
    return "javascript" in folded_line or any(phrase in folded_line for phrase in _POLICY_PHRASES)


def quality_signals(paragraphs: Sequence[str], lang: str) -> QualitySignals:
    """The signals of a document whose text is these paragraphs, in language ``lang``."""
    lines = [line.strip() for paragraph in paragraphs for line in paragraph.splitlines() if line.strip()]
    line_words = [words(line) for line in lines]
    runs = [[w for w in map(_normalised, words(paragraph)) if w] for paragraph in paragraphs]
    all_words = [w for ws in line_words for w in ws]
    n_words, n_lines = len(all_words), len(lines)
    text = "\n".join(paragraphs)
    folded_lines = [line.casefold() for line in lines]
    stop_words = STOP_WORDS.get(lang)
    total_chars = sum(len(w) for run in runs for w in run)
    return QualitySignals(
        word_count=n_words,
        mean_word_length=_share(sum(map(len, all_words)), n_words),
        line_count=n_lines,
        terminal_punctuation_line_share=_share(sum(line.endswith(_TERMINAL) for line in lines), n_lines),
        bullet_line_share=_share(sum(line.startswith(_BULLETS) for line in lines), n_lines),
        ellipsis_line_share=_share(sum(line.endswith(_ELLIPSES) for line in lines), n_lines),
        hash_word_ratio=_share(text.count("#"), n_words),
        ellipsis_word_ratio=_share(text.count("...") + text.count("…"), n_words),
        non_alpha_word_share=_share(sum(not any(c.isalpha() for c in w) for w in all_words), n_words),
        stop_word_count=None if stop_words is None else sum(w in stop_words for run in runs for w in run),
        duplicate_line_share=(dup_lines := _repeats(lines))[0],
        duplicate_line_char_share=dup_lines[1],
        duplicate_paragraph_share=(dup_paragraphs := _repeats([p.strip() for p in paragraphs if p.strip()]))[0],
        duplicate_paragraph_char_share=dup_paragraphs[1],
        **{f"top_{n}gram_char_share": _top_ngram_share(runs, n, total_chars) for n in TOP_NGRAM_SIZES},
        **_duplicate_ngram_shares(runs, total_chars),
        lorem_ipsum_count=text.casefold().count("lorem ipsum"),
        curly_bracket_count=text.count("{") + text.count("}"),
        javascript_line_count=sum("javascript" in line for line in folded_lines),
        policy_line_count=sum(any(p in line for p in _POLICY_PHRASES) for line in folded_lines),
        c4_sentence_count=_c4_sentences(lines, [len(ws) for ws in line_words]),
    )
