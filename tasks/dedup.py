"""Paragraph deduplication in three tiers, in corpus order: normalised exact, teaser
(a paragraph cut off with an ellipsis), near-duplicate (MinHash LSH, confirmed on the texts).

``sign_paragraphs`` computes what each tier looks paragraphs up by (workers do it);
``mark_duplicates`` resolves a document against what came before it. This is the
in-memory implementation, used within a document by workers and across the files given
to ``docmill clean``. The database runs the very same ``mark_duplicates`` over the
documents a load touches, with the earlier paragraphs those share keys with fetched by
SQL joins (storage/corpus.py); tests check that both agree.
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass

import numpy as np

from tasks.lexicon import dedup_tail_phrases
from tasks.neardup import DEFAULT_NEAR_THRESHOLD, Comparable, band_keys, near_similarity, shared_bands_needed
from tasks.records import DUPLICATE, EXACT, KEPT, NEAR, REMOVED, TEASER, Paragraph

# Shorter normalised texts ("Oui.", "Sport", a date) repeat innocently across documents.
MIN_DEDUP_CHARS = 20
# A teaser is looked up by the hash of its first characters: it must have this many.
TEASER_MIN_CHARS = 40
# A teaser at least this long is looked up by the hash of this many first characters:
# paragraphs often begin alike (templates, wire copy). At a million paragraphs of the
# development set, the 40-character prefixes of one load's 1,200 teasers were shared by
# 27,600 originals (one by 400), each of them fetched and compared; 80 characters, by 2,700.
TEASER_LONG_PREFIX_CHARS = 80

# A band key is remembered for at most this many originals, the earliest in corpus order:
# on low-vocabulary text (tables, lists, templated lines) one band key may be shared by
# thousands of paragraphs, and every later paragraph holding it would be compared with all
# of them. A near-duplicate still finds its original by its other band keys. (A teaser has
# one key, its prefix, and keeps every original under it: teasers are few, and checking
# one is a string comparison; capped at 64, teaser recall fell from 0.998 to 0.980 on the
# development set at a million paragraphs.)
MAX_ORIGINALS_PER_BAND = 64

TIERS = (EXACT, TEASER, NEAR)

# Left between a paragraph and its tail once punctuation is folded: "… | Read more", "→ Share".
_SEPARATORS = " |/→>+~*=-"
_ELLIPSIS = re.compile(r"\.{3,}|…")
_ONE_CLOSING_MARK = re.compile(r"\s*[)\]»\"”’]?[.,;]?\s*")

FirstSeen = MutableMapping


# No code point past the Supplementary Multilingual Plane is punctuation (the last one is
# U+1E95F, ADLAM INITIAL QUESTION MARK); asking unicodedata about the other 900,000 would
# cost each process a tenth of a second. tests/test_properties.py checks the bound.
PUNCTUATION_BOUND = 0x20000


@functools.cache
def _is_punctuation() -> np.ndarray:
    """Whether each code point is a Unicode punctuation mark (category P), by code point."""
    table = np.zeros(sys.maxunicode + 1, dtype=bool)
    table[[c for c in range(PUNCTUATION_BOUND) if unicodedata.category(chr(c)).startswith("P")]] = True
    return table


def dedup_key(text: str) -> str:
    """The text two paragraphs must share to be duplicates.

    Compatibility-normalised, case-folded, punctuation (quotes, dashes, trailing "...")
    folded to spaces and whitespace collapsed. Digits, symbols and diacritics are kept:
    "€26 million" and "€28 million" are different facts.
    """
    return dedup_keys([text])[0]


def dedup_keys(texts: Sequence[str]) -> list[str]:
    """``dedup_key`` of each text, folded all at once: a lookup in a table of code points
    costs a tenth of ``str.translate`` per character (7 of a paragraph's 15 µs, measured)."""
    if not texts:
        return []
    # NFKC text by text: its quick check passes most texts unchanged, not a whole document.
    normalised = [unicodedata.normalize("NFKC", text) for text in texts]
    if any("\0" in text for text in normalised):  # normalised text has none; else each on its own
        folded = [_fold(text) for text in normalised]
    else:
        folded = _fold("\0".join(normalised)).split("\0")
    return [" ".join(text.split()) for text in folded]


def _fold(text: str) -> str:
    """Case-folded, every punctuation mark a space."""
    codes = np.frombuffer(text.casefold().encode("utf-32-le"), dtype=np.uint32).copy()
    codes[_is_punctuation()[codes]] = ord(" ")
    return codes.tobytes().decode("utf-32-le")


# Scripts written without spaces between words (Thai, Lao, Myanmar, Khmer; CJK and Japanese
# kana from U+2E80): a tail in them is glued to the word before it.
_SPACELESS = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u2e80-\U0010ffff]")


@functools.cache
def _tails() -> dict[str, tuple[tuple[str, ...], tuple[tuple[str, bool], ...]]]:
    """The "read more" and share prompts sites glue to the end of a paragraph (the rules
    file's dedup_tails lexicons), as dedup_key spells them, by last character (a paragraph's
    last character rules out all but a few of some 300 tails): the tails, for one C call,
    and each with whether it must start a word, longest first ("この記事をシェア" before
    "記事をシェア")."""
    by_last: dict[str, list[str]] = {}
    for tail in sorted(set(dedup_keys(dedup_tail_phrases())), key=len, reverse=True):
        by_last.setdefault(tail[-1], []).append(tail)
    return {last: (tuple(tails), tuple((tail, not _SPACELESS.match(tail)) for tail in tails))
            for last, tails in by_last.items()}


def _without_tails(key: str) -> str:
    """``key`` less the known tails at its end. A tail in a script with spaces must start a
    word: "prices spread more" does not end in "read more"."""
    by_last = _tails()
    while key and (entry := by_last.get(key[-1])) and key.endswith(entry[0]):
        for tail, word_start in entry[1]:
            cut = len(key) - len(tail)
            if key.endswith(tail) and (cut == 0 or not word_start or not key[cut - 1].isalnum()):
                key = key[:cut].rstrip(_SEPARATORS)
                break
        else:
            break
    return key


def content_key(text: str) -> str:
    """``dedup_key`` less trailing "read more" or share prompts (a paragraph that is
    nothing but one keeps it: that is for the boilerplate rules to judge)."""
    return content_keys([text])[0]


def content_keys(texts: Sequence[str]) -> list[str]:
    """``content_key`` of each text, computed together."""
    return [_without_tails(key) or key for key in dedup_keys(texts)]


def _hash64(key: str, tier: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8, person=tier).digest(), "big")


def _fingerprint(key: str) -> int | None:
    """64-bit fingerprint of a content key, or None if too short to deduplicate."""
    return _hash64(key, b"") if len(key) >= MIN_DEDUP_CHARS else None


def teaser_text(text: str) -> str | None:
    """The text before the ellipsis that ends ``text``, perhaps followed by one closing quote
    or bracket, or by a "read more" prompt; None if it does not end so ("( [ argument [, ...]
    ] )" closes a syntax, it is not cut short)."""
    if "…" not in text and "..." not in text:
        return None
    *_, last = _ELLIPSIS.finditer(text)
    rest = text[last.end() :]
    tail = dedup_key(rest)
    ends = not _without_tails(tail) if tail else _ONE_CLOSING_MARK.fullmatch(rest)
    return text[: last.start()] if ends else None


def is_teaser(text: str) -> bool:
    """Ends in an ellipsis, perhaps followed by a closing quote or a "read more" prompt."""
    return teaser_text(text) is not None


def sign_paragraphs(paragraphs: Sequence[Paragraph]) -> None:
    """Set each paragraph's exact fingerprint, and for those that are not boilerplate, the
    prefix fingerprint teasers are looked up by and the near-duplicate band keys."""
    keys = content_keys([p.text for p in paragraphs])
    for paragraph, key in zip(paragraphs, keys):
        paragraph.fingerprint = _fingerprint(key)
    live = [(p, key) for p, key in zip(paragraphs, keys) if p.status != REMOVED]
    for (paragraph, key), bands in zip(live, band_keys([key for _, key in live])):
        paragraph.key = key
        paragraph.prefix_fingerprint = prefix_fingerprint(key)
        paragraph.long_prefix_fingerprint = prefix_fingerprint(key, TEASER_LONG_PREFIX_CHARS)
        paragraph.bands = bands


def prefix_fingerprint(key: str, chars: int = TEASER_MIN_CHARS) -> int | None:
    """Hash of the first ``chars`` characters of a dedup key, None if shorter."""
    return _hash64(key[:chars], b"prefix") if len(key) >= chars else None


# --- resolution ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DedupParams:
    """Which tiers run and how alike a near-duplicate must be (5-gram Jaccard)."""

    tiers: tuple[str, ...] = TIERS
    near_threshold: float = DEFAULT_NEAR_THRESHOLD

    def __post_init__(self) -> None:
        unknown = set(self.tiers) - set(TIERS)
        if unknown:
            raise ValueError(f"unknown dedup tiers {sorted(unknown)}; known: {', '.join(TIERS)}")
        if not 0.0 < self.near_threshold <= 1.0:
            raise ValueError(f"near_threshold must be in (0, 1], not {self.near_threshold}")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a duplicate points: the original paragraph, how it repeats it, how alike."""

    doc_id: str
    position: int
    kind: str
    similarity: float


class Original:
    """A kept paragraph later ones may repeat. ``order`` is its rank in corpus order."""

    __slots__ = ("doc_id", "position", "text", "key", "order", "_comparable")

    def __init__(self, doc_id: str, position: int, text: str, key: str | None = None):
        self.doc_id, self.position, self.text, self.key, self.order = doc_id, position, text, key, 0
        self._comparable: Comparable | None = None

    @property
    def comparable(self) -> Comparable:
        if self._comparable is None:
            self._comparable = Comparable(_key_of(self))
        return self._comparable


class SeenIndex:
    """What dedup has seen, in corpus order: the first occurrence of each exact
    fingerprint, and the originals by teaser prefix (short and long) and by band key. It lives in the
    mapping the caller shares across calls (one dict per tier in it), so that a plain
    dict is the whole in-memory index.

    A prefix or band key holds one Original, or a tuple of them when several share it:
    almost every band key is held by one paragraph, and a list per key would triple the
    objects Python's garbage collector walks (measured: 40% of the resolution time)."""

    def __init__(self, store: MutableMapping):
        self.firsts: dict[int, Origin] = store.setdefault(EXACT, {})
        self.prefixes: dict[int, Original | tuple[Original, ...]] = store.setdefault(TEASER, {})
        self.long_prefixes: dict[int, Original | tuple[Original, ...]] = store.setdefault("long_teaser", {})
        self.bands: dict[int, Original | tuple[Original, ...]] = store.setdefault(NEAR, {})
        self.ranks: Iterator[int] = store.setdefault("rank", itertools.count())

    def first(self, fingerprint_: int) -> Origin | None:
        return self.firsts.get(fingerprint_)

    def note_first(self, fingerprint_: int | None, origin: Origin) -> None:
        if fingerprint_ is not None:
            self.firsts.setdefault(fingerprint_, origin)

    def add_original(
        self, original: Original, prefix: int | None, long_prefix: int | None, bands: Iterable[int]
    ) -> None:
        """Index an original under its keys; a band key already holding MAX_ORIGINALS_PER_BAND
        originals keeps those, the earliest."""
        original.order = next(self.ranks)
        if prefix is not None:
            _hold(self.prefixes, prefix, original, None)
        if long_prefix is not None:
            _hold(self.long_prefixes, long_prefix, original, None)
        held_by_band = self.bands
        for band in bands:  # _hold, inline: twenty band keys for every paragraph
            held = held_by_band.setdefault(band, original)
            if held is not original:
                _hold(held_by_band, band, original, MAX_ORIGINALS_PER_BAND)

    def teaser_sources(self, teaser: Paragraph) -> tuple[Original, ...]:
        """The originals a teaser may begin, in corpus order: those sharing its long prefix
        if it has one (an original it begins shares it too), else its short one."""
        if teaser.long_prefix_fingerprint is not None:
            held = self.long_prefixes.get(teaser.long_prefix_fingerprint, ())
        else:
            held = self.prefixes.get(teaser.prefix_fingerprint, ())
        return held if isinstance(held, tuple) else (held,)

    def near_sources(self, bands: Iterable[int], shared: int = 1) -> list[Original]:
        """Originals holding at least ``shared`` of the band keys, in corpus order."""
        found = [held for held in map(self.bands.get, bands) if held is not None]
        if shared == 1 and len(found) == 1 and not isinstance(found[0], tuple):
            return found
        each = (original for held in found for original in (held if isinstance(held, tuple) else (held,)))
        if shared == 1:
            unique = set(each)
        else:
            unique = {original for original, count in Counter(each).items() if count >= shared}
        return sorted(unique, key=lambda original: original.order)


def _hold(keys: dict, key: int, original: Original, limit: int | None) -> None:
    held = keys.setdefault(key, original)
    if held is original:
        return
    if not isinstance(held, tuple):
        keys[key] = (held, original)
    elif limit is None or len(held) < limit:
        keys[key] = (*held, original)


def _key_of(item: Paragraph | Original) -> str:
    """The content key signing kept, or computed again where it was not (stored paragraphs)."""
    return item.key if item.key is not None else content_key(item.text)


def _mark(paragraph: Paragraph, origin: Origin) -> None:
    paragraph.status = DUPLICATE
    paragraph.dup_of_doc, paragraph.dup_of_position = origin.doc_id, origin.position
    paragraph.dup_kind, paragraph.similarity = origin.kind, origin.similarity


def _origin_of(doc_id: str, paragraph: Paragraph) -> Origin:
    """Where copies of this paragraph point: itself if kept, else its own original."""
    if paragraph.status == KEPT:
        return Origin(doc_id, paragraph.position, EXACT, 1.0)
    return Origin(paragraph.dup_of_doc, paragraph.dup_of_position, paragraph.dup_kind, paragraph.similarity)


def _teaser_origin(me: Comparable, sources: Iterable[Original]) -> Origin | None:
    """The first original the teaser is the beginning of (perhaps cut mid-word)."""
    for source in sources:
        key = source.comparable.key
        if len(key) > len(me.key) and key.startswith(me.key):
            return Origin(source.doc_id, source.position, TEASER, len(me.key) / len(key))
    return None


def _near_origin(me: Comparable, sources: Iterable[Original], threshold: float) -> Origin | None:
    """The first original, in corpus order, confirmed alike on the texts."""
    for source in sources:
        similarity = near_similarity(me, source.comparable)
        if similarity >= threshold:
            return Origin(source.doc_id, source.position, NEAR, round(similarity, 4))
    return None


class _Resolver:
    """Resolves one document's paragraphs against the index, then records its originals."""

    def __init__(self, doc_id: str, paragraphs: Sequence[Paragraph], index: SeenIndex, params: DedupParams):
        self.doc_id, self.paragraphs, self.index, self.params = doc_id, paragraphs, index, params
        self.held: list[Paragraph] = []  # teasers whose original may come later in the document

    def run(self) -> None:
        for paragraph in self.paragraphs:
            if paragraph.status not in (KEPT, DUPLICATE) or paragraph.fingerprint is None:
                continue  # boilerplate stays as the rules labelled it
            paragraph.status, paragraph.dup_of_doc, paragraph.dup_of_position = KEPT, None, None
            paragraph.dup_kind = paragraph.similarity = None
            self._resolve(paragraph)
        for teaser in self.held:
            self._resolve_held(teaser)

    def _resolve(self, paragraph: Paragraph) -> None:
        origin = self.index.first(paragraph.fingerprint) if EXACT in self.params.tiers else None
        prefix = paragraph.prefix_fingerprint
        if origin is None and TEASER in self.params.tiers and prefix is not None and is_teaser(paragraph.text):
            origin = _teaser_origin(Comparable(_key_of(paragraph)), self.index.teaser_sources(paragraph))
            if origin is None:
                self.held.append(paragraph)
                return
        self._settle(paragraph, origin or self._near(paragraph))

    def _near(self, paragraph: Paragraph) -> Origin | None:
        if NEAR not in self.params.tiers or not paragraph.bands:
            return None
        key = _key_of(paragraph)
        sources = self.index.near_sources(paragraph.bands, shared_bands_needed(key))
        if not sources:
            return None
        return _near_origin(Comparable(key), sources, self.params.near_threshold)

    def _resolve_held(self, teaser: Paragraph) -> None:
        """A teaser with no earlier original: the first later paragraph of the document
        it begins (or that paragraph's original, if it is a duplicate itself)."""
        origin = self.index.first(teaser.fingerprint) if EXACT in self.params.tiers else None
        if origin is None:
            me = Comparable(_key_of(teaser))
            later = [p for p in self.paragraphs if p.position > teaser.position and p.status != REMOVED
                     and p.fingerprint is not None]
            for paragraph in later:
                key = _key_of(paragraph)
                if len(key) > len(me.key) and key.startswith(me.key):
                    target = _origin_of(self.doc_id, paragraph)
                    origin = Origin(target.doc_id, target.position, TEASER, len(me.key) / len(key))
                    break
        self._settle(teaser, origin or self._near(teaser))

    def _settle(self, paragraph: Paragraph, origin: Origin | None) -> None:
        if origin is None:
            self.index.add_original(
                Original(self.doc_id, paragraph.position, paragraph.text, paragraph.key), paragraph.prefix_fingerprint,
                paragraph.long_prefix_fingerprint, paragraph.bands or (),
            )
        else:
            _mark(paragraph, origin)
        self.index.note_first(paragraph.fingerprint, _origin_of(self.doc_id, paragraph))


def mark_duplicates(
    doc_id: str, paragraphs: Sequence[Paragraph], first_seen: FirstSeen, params: DedupParams = DedupParams()
) -> None:
    """Resolve a document's paragraphs (not the boilerplate) in order against ``first_seen``,
    the index of what came before (see SeenIndex; pass the same dict for every document
    to deduplicate across them), and record its originals there.

    Tiers, in this order: the exact fingerprint was seen (the duplicate points where the
    first occurrence points: itself, or its own original); a teaser ending in an ellipsis
    begins an earlier original, or else a later paragraph of its own document; a near-
    duplicate of an earlier original (the first one, in corpus order, confirmed alike)."""
    _Resolver(doc_id, paragraphs, SeenIndex(first_seen), params).run()


def repeated_document(paragraphs: Sequence[Paragraph]) -> str | None:
    """The document this one repeats, when none of its paragraphs is kept and some are
    duplicates: the one most of them point at (on a tie, the one pointed at first)."""
    if any(p.status == KEPT for p in paragraphs):
        return None
    pointed = Counter(p.dup_of_doc for p in paragraphs if p.status == DUPLICATE)
    return pointed.most_common(1)[0][0] if pointed else None
