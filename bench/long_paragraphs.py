"""Near-duplicates among long paragraphs: what chance shares, and what loading them costs.

    .venv/bin/python bench/long_paragraphs.py
    .venv/bin/python bench/long_paragraphs.py --one-band    # every paragraph content with one shared band key

Chance: the extraction benchmark's gold text (real news, mostly English, 800,000
characters) joined and cut into pieces of each length. For every pair of pieces of one
length, their 5-gram Jaccard similarity J, and from it the chance that the pair shares at
least one, two or three of its band keys (each of the 20 is shared with probability J**5),
averaged over the pairs: how many unrelated paragraphs of that length each one is compared
with, per paragraph stored. These figures set ``SHARED_BANDS_BY_LENGTH`` (tasks/neardup.py).

Load: documents of one paragraph each, of words drawn uniformly from 5,000 random words
(two unrelated paragraphs of 35,000 characters share 0.19 of their 5-grams, as English
does), every fifth a copy of an earlier one with a share of its words replaced, loaded
through ``Corpus.load_batch`` in the ingest flow's load groups. Prints the copies found
(marked near-duplicates of their original) by share of words replaced, with the Jaccard
similarity that leaves, originals marked (wrongly), the writer's seconds per load in the
first and the last tenth of the corpus, and peak RSS at a tenth, half and the end.
``--one-band`` asks every paragraph for one shared band key, as docmill did before long
paragraphs asked for more, to compare.
"""
from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from math import comb
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tasks.neardup  # noqa: E402
from storage.corpus import LOAD_GROUP_CHARACTERS, LOAD_GROUP_PARAGRAPHS, Corpus  # noqa: E402
from tasks.dedup import content_key, sign_paragraphs  # noqa: E402
from tasks.neardup import BANDS, ROWS, SHARED_BANDS_BY_LENGTH, Comparable, shingle_jaccard  # noqa: E402
from tasks.records import BatchResult, Document, Paragraph  # noqa: E402

GOLD = ROOT.parent / "shared" / "dev-data" / "article-extraction-benchmark" / "manifest.jsonl"
LENGTHS = (500, 1_000, 3_000, 10_000, 35_000, 50_000, 100_000)
EDIT_SHARES = (0.01, 0.05, 0.1, 0.2)


def sharing_at_least(similarity: float, keys: int) -> float:
    """The chance that two keys of this 5-gram Jaccard similarity share ``keys`` band keys or more."""
    p = similarity**ROWS
    return 1 - sum(comb(BANDS, i) * p**i * (1 - p) ** (BANDS - i) for i in range(keys))


def print_chance(gold: Path, max_pieces: int = 30) -> None:
    golds = [json.loads(line)["gold_text"] for line in gold.read_text(encoding="utf-8").splitlines()]
    pool = " ".join(" ".join(text.split()) for text in golds)
    print(f"chance: {len(pool):,} characters of gold text, cut into pieces")
    print(f"{'characters':>10} {'pairs':>6} {'mean J':>7} {'max J':>6}   unrelated pairs sharing >= 1, 2, 3 band keys")
    for length in LENGTHS:
        pieces = [Comparable(content_key(pool[i * length : (i + 1) * length]))
                  for i in range(min(max_pieces, len(pool) // length))]
        similarities = [shingle_jaccard(a, b) for a, b in itertools.combinations(pieces, 2)]
        rates = [statistics.fmean(sharing_at_least(j, keys) for j in similarities) for keys in (1, 2, 3)]
        print(f"{length:>10,} {len(similarities):>6} {statistics.fmean(similarities):>7.3f} {max(similarities):>6.3f}   "
              + "  ".join(f"1 in {1 / rate:>13,.0f}" for rate in rates))


def _words(rng: random.Random, vocabulary: list[str], characters: int) -> list[str]:
    words, length = [], 0
    while length < characters:
        words.append(rng.choice(vocabulary))
        length += len(words[-1]) + 1
    return words


def generate(count: int, characters: int, seed: int) -> Iterator[tuple[str, str, tuple[str, float, float] | None]]:
    """(doc_id, text, (original's doc_id, share of words replaced, Jaccard) for a copy)."""
    rng = random.Random(seed)
    vocabulary = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 9))) for _ in range(5_000)]
    recent: list[tuple[str, list[str]]] = []  # a bounded pool of originals to copy from
    for i in range(count):
        name = f"d{i:06}"
        if i % 5 == 4 and recent:
            of, words = rng.choice(recent)
            share = EDIT_SHARES[(i // 5) % len(EDIT_SHARES)]
            copy = [rng.choice(vocabulary) if rng.random() < share else word for word in words]
            similarity = shingle_jaccard(Comparable(content_key(" ".join(words))), Comparable(content_key(" ".join(copy))))
            yield name, " ".join(copy), (of, share, similarity)
        else:
            words = _words(rng, vocabulary, characters)
            recent = [*recent[-99:], (name, words)]
            yield name, " ".join(words), None


def load(db: Path, args: argparse.Namespace) -> tuple[dict, dict, list[tuple[float, float]]]:
    """Load the generated corpus in the flow's load groups. Returns the copies (doc_id:
    original, share replaced, Jaccard), each document's fate (the document its paragraph is
    a duplicate of, or None) and each load's (seconds, peak RSS so far in MiB)."""
    copies: dict[str, tuple[str, float, float]] = {}
    loads: list[tuple[float, float]] = []
    with Corpus(db) as corpus:
        corpus.start_run("bench", "bench", [], {})
        batch: list[Document] = []
        held_characters = 0
        for number, (name, text, copy) in enumerate(generate(args.documents, args.characters, args.seed), start=1):
            paragraphs = [Paragraph(0, text)]
            sign_paragraphs(paragraphs)
            batch.append(Document(name, f"bench://{name}", name, paragraphs))
            held_characters += len(text)
            if copy:
                copies[name] = copy
            if len(batch) >= LOAD_GROUP_PARAGRAPHS or held_characters >= LOAD_GROUP_CHARACTERS or number == args.documents:
                started = time.perf_counter()
                corpus.load_batch("bench", BatchResult(documents=batch))
                loads.append((time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
                batch, held_characters = [], 0
        fates = dict(corpus.con.execute(
            "SELECT doc_id, CASE WHEN status = 'duplicate' THEN dup_of_doc END FROM paragraphs").fetchall())
    return copies, fates, loads


def print_load(copies: dict, fates: dict, loads: list[tuple[float, float]], args: argparse.Namespace) -> None:
    rule = "one for every length" if args.one_band else f"by length, {SHARED_BANDS_BY_LENGTH}"
    print(f"\nload: {args.documents} one-paragraph documents of {args.characters:,} characters; "
          f"shared band keys asked: {rule}")
    print(f"{'words replaced':>14} {'copies':>7} {'mean J':>7} {'found':>7}")
    for share in EDIT_SHARES:
        mine = [(name, of, similarity) for name, (of, replaced, similarity) in copies.items() if replaced == share]
        found = sum(fates[name] == of for name, of, _ in mine)
        print(f"{share:>14.0%} {len(mine):>7} {statistics.fmean(j for *_, j in mine):>7.3f} {found / len(mine):>7.3f}")
    wrong = sum(fate is not None for name, fate in fates.items() if name not in copies)
    print(f"originals marked duplicates: {wrong} of {len(fates) - len(copies)}")
    tenth = max(1, len(loads) // 10)
    print(f"writer, seconds per load: {statistics.fmean(s for s, _ in loads[:tenth]):.2f} in the first tenth of "
          f"the {len(loads)} loads, {statistics.fmean(s for s, _ in loads[-tenth:]):.2f} in the last")
    print(f"peak RSS: {loads[len(loads) // 10][1]:.0f} MiB after a tenth of the loads, "
          f"{loads[len(loads) // 2][1]:.0f} after half, {loads[-1][1]:.0f} at the end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=3_000)
    parser.add_argument("--characters", type=int, default=35_000, help="length of each document's one paragraph")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gold", type=Path, default=GOLD, help="the extraction benchmark's manifest.jsonl")
    parser.add_argument("--one-band", action="store_true", help="ask every paragraph for one shared band key")
    args = parser.parse_args()
    if args.gold.exists():
        print_chance(args.gold)
    if args.one_band:
        tasks.neardup.SHARED_BANDS_BY_LENGTH = ()
    with tempfile.TemporaryDirectory(prefix="docmill-long-") as tmp:
        print_load(*load(Path(tmp) / "bench.duckdb", args), args)


if __name__ == "__main__":
    main()
