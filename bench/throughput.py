"""End-to-end ingest throughput on generated plain-text documents.

Generates a corpus (deterministic: --seed) of news-like documents in four languages with
the boilerplate docmill removes and a share of wire copy repeated across documents, then
runs `docmill ingest` on it exactly as a user would (a separate process, Prefect's
server-less mode) and prints documents/s, paragraphs/s and peak memory.

    .venv/bin/python bench/throughput.py --documents 5000
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(Path(__file__).resolve().parent))
# Realistic word frequencies (a core vocabulary plus a long Zipf tail), shared with the
# near-duplicate bench: from a few dozen words alone, unrelated paragraphs would share so
# many 5-grams that every paragraph became a near-duplicate candidate of every other.
from neardup import _LEXICONS  # noqa: E402

LANGUAGES = ("en", "fr", "de", "es")
BOILERPLATE = [
    "Rechercher", "Search", "Share on Facebook", "Lire aussi : Les prix de l'énergie en hausse",
    "Le ministre lors d'une conférence de presse à Paris, le 5 août 2024. Photo AFP",
    "— Jane Doe (@janedoe) August 5, 2024",
]


def sentence(rng: random.Random, lang: str) -> str:
    words, cumulative = _LEXICONS[lang]
    return " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(12, 28))).capitalize() + "."


def paragraph(rng: random.Random, lang: str) -> str:
    return " ".join(sentence(rng, lang) for _ in range(rng.randint(1, 4)))


def generate(folder: Path, documents: int, seed: int) -> int:
    """Write the corpus; return how many paragraphs it has."""
    rng = random.Random(seed)
    wire = {lang: [paragraph(rng, lang) for _ in range(200)] for lang in LANGUAGES}
    total = 0
    for i in range(documents):
        lang = rng.choice(LANGUAGES)
        body = [paragraph(rng, lang) if rng.random() > 0.1 else rng.choice(wire[lang]) for _ in range(rng.randint(6, 14))]
        lines = [rng.choice(BOILERPLATE)] if rng.random() < 0.5 else []
        lines += [sentence(rng, lang).rstrip("."), *body]
        if rng.random() < 0.3:
            lines.insert(len(lines) // 2, rng.choice(BOILERPLATE))
        total += len(lines)
        shard = folder / f"{i % 100:02}"
        shard.mkdir(exist_ok=True)
        (shard / f"doc{i:06}.txt").write_text("\n\n".join(lines), encoding="utf-8")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="docmill-bench-") as tmp:
        corpus, db = Path(tmp) / "corpus", Path(tmp) / "bench.duckdb"
        corpus.mkdir()
        paragraphs = generate(corpus, args.documents, args.seed)
        command = [sys.executable, "-m", "flows.cli", "ingest", str(corpus), "--db", str(db),
                   "--batch-size", str(args.batch_size)]
        if args.workers:
            command += ["--workers", str(args.workers)]
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        peak_rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        query = [sys.executable, "-m", "flows.cli", "query", "--db", str(db), "--format", "json",
                 "SELECT epoch(finished_at - started_at) AS flow_seconds, documents_new, paragraphs_kept, "
                 "paragraphs_removed, paragraphs_duplicate FROM runs"]
        run = json.loads(subprocess.run(query, cwd=ROOT, check=True, capture_output=True, text=True).stdout)
        db_mib = db.stat().st_size / 2**20

    flow_seconds = run["flow_seconds"]
    print(f"documents            {args.documents}")
    print(f"paragraphs           {paragraphs}  (kept {run['paragraphs_kept']}, removed {run['paragraphs_removed']}, "
          f"duplicate {run['paragraphs_duplicate']})")
    print(f"wall time            {wall:.1f} s  (whole command, including Prefect's server start)")
    print(f"flow time            {flow_seconds:.1f} s  (runs.started_at to finished_at)")
    print(f"documents/s          {args.documents / flow_seconds:.0f}  in the flow, {args.documents / wall:.0f} end to end")
    print(f"paragraphs/s         {paragraphs / flow_seconds:.0f}  in the flow, {paragraphs / wall:.0f} end to end")
    print(f"peak RSS             {peak_rss_mib:.0f} MiB  (largest single process of the run)")
    print(f"database size        {db_mib:.1f} MiB")


if __name__ == "__main__":
    main()
