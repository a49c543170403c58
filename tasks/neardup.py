"""Near-duplicate and teaser signatures, and the checks that confirm a candidate.

Near-duplicates: MinHash over the character 5-grams of a paragraph's dedup key, with LSH
banding: two paragraphs whose 5-gram sets have Jaccard similarity J share at least one of
the ``BANDS`` band keys with probability 1 - (1 - J**ROWS)**BANDS (0.81 at J = 0.6, 0.98
at 0.7, 0.9995 at 0.8). Band keys are only candidates: each one is confirmed on the texts
(exact 5-gram Jaccard at least the threshold, and the same numbers).

Speed: the 5-grams are hashed with numpy over a whole document's keys at once, and the
MinHash is rensa's (Rust), from those hashes. Building the 5-grams as Python strings
costs 55 µs a paragraph; this costs about 10 µs (bench/neardup.py).

Pure functions (no Prefect, no database); workers compute signatures, the writer and
``docmill clean`` confirm candidates with the same functions.
"""
from __future__ import annotations

import re
from array import array
from collections.abc import Sequence
from functools import cached_property

import numpy as np
import rensa

SHINGLE_CHARS = 5
# 20 bands of 5 rows: measured on the development set (bench/neardup.py), 5-row bands
# keep unrelated paragraphs apart (0.2 candidates a paragraph at a million paragraphs)
# and 20 of them find 99% of the 3-word edits that are near-duplicates at all.
BANDS, ROWS = 20, 5
NUM_PERM = BANDS * ROWS
# Part of the stored index: changing the seed, the bands or the hashing below makes the
# band keys of an existing database useless.
MINHASH_SEED = 20_250_901

# Paragraphs with a shorter dedup key take no part in near-duplicate detection: a word
# changed in a short paragraph changes what it says ("taxes will rise" / "taxes will fall").
# A Chinese, Japanese or Korean character counts twice: it carries about a word.
NEAR_MIN_CHARS = 50
_WIDE = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# The longer two unrelated texts in one language, the more 5-grams they share, and a shared
# band key makes them candidates, each fetched with its text and compared. English (the
# extraction benchmark's gold text cut into pieces, bench/long_paragraphs.py): Jaccard 0.05
# on average at 1,000 characters, 0.19 at 35,000, 0.26 at 100,000; one unrelated pair in
# 68,000 shares a band key at 500 characters, one in 13,000 at 3,000, one in 127 at 35,000,
# one in 32 at 100,000. So a long key's candidates must hold more of its band keys: (from
# this many characters, this many). Two keys: one unrelated pair in 8,300 at 50,000
# characters; three: one in 113,000 at 100,000. Copies found at Jaccard 0.8: 0.996 of them
# with two keys, 0.98 with three (a few words edited in a long text leave 0.99 and up).
SHARED_BANDS_BY_LENGTH = ((50_000, 3), (3_000, 2))
# A confirmed near-duplicate shares at least this share of its 5-grams (Jaccard) with the
# original. On the development set, 1-3 word edits of paragraphs of 50+ characters score
# 0.51 or more (99% above 0.6); different paragraphs sharing a long quote at most 0.43.
DEFAULT_NEAR_THRESHOLD = 0.5

_FNV_PRIME = np.uint64(0x100000001B3)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_BAND_SALTS = (np.arange(1, BANDS + 1, dtype=np.uint64) * np.uint64(0xBF58476D1CE4E5B9)).reshape(1, BANDS)
_DIGITS = re.compile(r"\d+")


def _shingle_hashes(keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every character 5-gram of each key, flat, with row offsets."""
    codes = np.frombuffer(("\0".join(keys) + "\0").encode("utf-32-le"), dtype=np.uint32)
    count = codes.size - SHINGLE_CHARS + 1
    hashes = codes[:count].astype(np.uint64)
    for shift in range(1, SHINGLE_CHARS):
        hashes *= _FNV_PRIME
        hashes ^= codes[shift : shift + count]
    hashes *= _MIX
    # A window holding a separator (keys never contain NUL: dedup_key drops controls) spans two keys.
    separators = np.cumsum(codes == 0)
    inside = (separators[SHINGLE_CHARS - 1 :] == separators[:count]) & (codes[:count] != 0)
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys)) - (SHINGLE_CHARS - 1)
    offsets = np.zeros(len(keys) + 1, dtype=np.uint64)
    np.cumsum(np.maximum(lengths, 0), out=offsets[1:])
    return hashes[inside], offsets


def _weighted_length(key: str) -> int:
    return len(key) if len(key) >= NEAR_MIN_CHARS else len(key) + len(_WIDE.findall(key))


def band_keys(keys: Sequence[str]) -> list[array | None]:
    """LSH band keys (``BANDS`` 64-bit integers, an array('Q')) of each key of
    ``NEAR_MIN_CHARS`` or more characters (CJK counting twice); None for shorter keys.

    An array, not a tuple: twenty Python integers take 900 bytes, and every kept paragraph's
    keys cross from the cleaning process to the writer, which holds a few batches of them;
    the array takes 220 bytes and pickles as one block."""
    long_enough = [i for i, key in enumerate(keys) if _weighted_length(key) >= NEAR_MIN_CHARS]
    result: list[array | None] = [None] * len(keys)
    if not long_enough:
        return result
    hashes, offsets = _shingle_hashes([keys[i] for i in long_enough])
    digests = rensa.RMinHash.digest_matrix_from_flat_token_hashes(hashes, offsets, NUM_PERM, MINHASH_SEED)
    rows = np.array(digests.to_rows(), dtype=np.uint64).reshape(len(long_enough), BANDS, ROWS)
    bands = rows[:, :, 0] ^ _BAND_SALTS
    for row in range(1, ROWS):
        bands *= _FNV_PRIME
        bands ^= rows[:, :, row]
    bands *= _MIX
    bands ^= bands >> np.uint64(29)
    for i, keys_of_one in zip(long_enough, bands):
        result[i] = array("Q", keys_of_one.tobytes())
    return result


def shared_bands_needed(key: str) -> int:
    """How many of ``key``'s band keys an original must hold to be compared with it."""
    return next((needed for chars, needed in SHARED_BANDS_BY_LENGTH if len(key) >= chars), 1)


class Comparable:
    """A dedup key with what comparing it needs, each computed once, when first needed."""

    def __init__(self, key: str):
        self.key = key

    @cached_property
    def shingles(self) -> np.ndarray:
        """The distinct 5-grams, as sorted 64-bit hashes: five times faster to build than a
        set of strings (14 µs for 300 characters), and a collision is a 1e-15 chance."""
        codes = np.frombuffer(self.key.ljust(SHINGLE_CHARS).encode("utf-32-le"), dtype=np.uint32)
        count = codes.size - SHINGLE_CHARS + 1
        hashes = codes[:count].astype(np.uint64)
        for shift in range(1, SHINGLE_CHARS):
            hashes *= _FNV_PRIME
            hashes ^= codes[shift : shift + count]
        hashes.sort()
        return hashes[np.concatenate(([True], hashes[1:] != hashes[:-1]))]

    @cached_property
    def numbers(self) -> list[str]:
        """The numbers it states, sorted: a reordered sentence keeps its numbers."""
        return sorted(_DIGITS.findall(self.key))


def near_similarity(a: Comparable, b: Comparable) -> float:
    """Jaccard similarity of the two keys' 5-gram sets; 0.0 if they state different numbers
    ("€26 million" and "€28 million" are different facts, however alike the sentences)."""
    return 0.0 if a.numbers != b.numbers else shingle_jaccard(a, b)


def shingle_jaccard(a: Comparable, b: Comparable) -> float:
    """Jaccard similarity of the two keys' 5-gram sets, numbers or not."""
    mine, theirs = a.shingles, b.shingles
    where = np.searchsorted(theirs, mine)
    where[where == theirs.size] = 0
    shared = int(np.count_nonzero(theirs[where] == mine))
    return shared / (mine.size + theirs.size - shared)
