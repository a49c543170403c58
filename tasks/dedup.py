"""Exact paragraph deduplication after normalisation.

This is the in-memory implementation, used within a document and by ``docmill clean``
across the files it is given. The database applies the same rule across the whole corpus
and across runs (storage/corpus.py); tests check that both agree.
"""
from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, MutableMapping

from tasks.records import DUPLICATE, KEPT, Paragraph

# Shorter normalised texts ("Oui.", "Sport", a date) repeat innocently across documents.
MIN_DEDUP_CHARS = 20

FirstSeen = MutableMapping[int, tuple[str, int]]


class _PunctuationToSpace(dict):
    """str.translate table folding every Unicode punctuation mark to a space, built lazily."""

    def __missing__(self, codepoint: int) -> int | str:
        folded = " " if unicodedata.category(chr(codepoint)).startswith("P") else codepoint
        self[codepoint] = folded
        return folded


_FOLD_PUNCTUATION = _PunctuationToSpace()


def dedup_key(text: str) -> str:
    """The text two paragraphs must share to be duplicates.

    Compatibility-normalised, case-folded, punctuation (quotes, dashes, trailing "...")
    folded to spaces and whitespace collapsed. Digits, symbols and diacritics are kept:
    "€26 million" and "€28 million" are different facts.
    """
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD_PUNCTUATION)
    return " ".join(folded.split())


def fingerprint(text: str) -> int | None:
    """64-bit fingerprint of ``dedup_key(text)``, or None if too short to deduplicate."""
    key = dedup_key(text)
    if len(key) < MIN_DEDUP_CHARS:
        return None
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")


def mark_duplicates(doc_id: str, paragraphs: Iterable[Paragraph], first_seen: FirstSeen) -> None:
    """Mark kept paragraphs already in ``first_seen`` as duplicates; record the others there."""
    for paragraph in paragraphs:
        if paragraph.status != KEPT or paragraph.fingerprint is None:
            continue
        origin = first_seen.setdefault(paragraph.fingerprint, (doc_id, paragraph.position))
        if origin != (doc_id, paragraph.position):
            paragraph.status = DUPLICATE
            paragraph.dup_of_doc, paragraph.dup_of_position = origin
