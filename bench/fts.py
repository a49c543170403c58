"""Cost of rebuilding the full-text search index, which happens after every ingest that
changed documents (DuckDB's fts index is not incremental), and of a search.

Generates a corpus of --paragraphs kept paragraphs directly with SQL (deterministic:
--seed), in a database created by docmill's own schema: news-like paragraphs of 20 to 100
words drawn from a 50,000-word vocabulary with a Zipf-like frequency, in four languages.
Then times ``docmill reindex``'s rebuild and a few searches, and prints the figures.

    .venv/bin/python bench/fts.py --paragraphs 100000
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.corpus import Corpus  # noqa: E402
from storage.search import rebuild_index, search  # noqa: E402

PARAGRAPHS_PER_DOCUMENT = 10
SEARCHED_RANKS = [[1], [30], [3000], [40000], [30, 3000, 40000]]  # a common word, rarer ones, three at once

# Words are syllable strings; a word's rank is log-uniform, so a few are very common and
# most are rare, as in text. Accented syllables keep accent folding in the measure.
# Pseudo-random numbers come from hash(), so the corpus is the same on every run.
GENERATE = """
CREATE TEMP TABLE syllables AS SELECT unnest(['ka', 'vo', 're', 'mi', 'te', 'su', 'lo', 'ba', 'rin', 'de',
    'no', 'la', 'bé', 'ku', 'ïg', 'sa', 'po', 'ni', 'ra', 'ge', 'mo', 'tu', 'è', 'fa', 'li']) AS s;
CREATE TEMP TABLE vocabulary AS
SELECT row_number() OVER (ORDER BY hash(word, $seed)) AS rank, word FROM (
    SELECT DISTINCT a.s || b.s || c.s || coalesce(d.s, '') AS word
    FROM syllables a, syllables b, syllables c, (SELECT s FROM syllables UNION ALL SELECT NULL) d)
QUALIFY rank <= 50000;
CREATE TEMP TABLE tokens AS
SELECT d, p, w, greatest(1, floor(exp(hash(d, p, w, $seed) / 18446744073709551616.0 * ln(50000))))::BIGINT AS rank
FROM range($documents) a(d), range($per_document) b(p), range(100) c(w)
WHERE w < 20 + hash(d, p, $seed) % 81;
INSERT INTO documents (doc_id, seq, source, format, extractor, title, lang, lang_prob, text, content_hash,
                       n_paragraphs, n_kept, n_removed, n_duplicate, run_id, seen_run_id, ingested_at, updated_at)
SELECT format('{:016x}', d), d + 1, format('file:///bench/{}.txt', d), 'txt', 'plain', format('Document {}', d),
       ['fr', 'en', 'de', 'es'][1 + d % 4], 0.99, '', format('{:032x}', d), $per_document, $per_document, 0, 0,
       'bench', 'bench', now(), now()
FROM range($documents) t(d);
INSERT INTO paragraphs (doc_id, position, text, status, lang, lang_prob, fingerprint)
SELECT format('{:016x}', d), p, string_agg(word, ' ' ORDER BY w), 'kept', ['fr', 'en', 'de', 'es'][1 + d % 4], 0.99,
       hash(d, p)
FROM tokens JOIN vocabulary USING (rank)
GROUP BY d, p;
"""


def generate(db: Path, paragraphs: int, seed: int) -> tuple[int, list[str]]:
    """Create the corpus; return how many words it holds, and the queries to time."""
    Corpus(db).close()
    params = {"seed": seed, "documents": paragraphs // PARAGRAPHS_PER_DOCUMENT, "per_document": PARAGRAPHS_PER_DOCUMENT}
    with duckdb.connect(str(db)) as con:
        for statement in duckdb.extract_statements(GENERATE):
            con.execute(statement, {name: params[name] for name in statement.named_parameters})
        words = con.execute("SELECT count(*) FROM tokens").fetchone()[0]
        ranks = sorted({rank for query in SEARCHED_RANKS for rank in query})
        word_of = dict(con.execute("SELECT rank, word FROM vocabulary WHERE list_contains(?, rank)",
                                   [ranks]).fetchall())
    return words, [" ".join(word_of[rank] for rank in query) for query in SEARCHED_RANKS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paragraphs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3, help="rebuilds to time (default: %(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        started = time.perf_counter()
        words, queries = generate(db, args.paragraphs, args.seed)
        size_before = db.stat().st_size
        seconds = time.perf_counter() - started
        print(f"generated {args.paragraphs:,} kept paragraphs, {words:,} words, in {seconds:.1f} s")
        for attempt in range(1, args.repeat + 1):
            built = rebuild_index(db)
            print(f"rebuild {attempt}: {built.paragraphs:,} paragraphs indexed in {built.seconds:.2f} s")
        print(f"database: {size_before / 2**20:.0f} MiB without the index, {db.stat().st_size / 2**20:.0f} MiB with it")
        for query in queries:
            started = time.perf_counter()
            hits = search(db, query, limit=20).hits
            print(f"search {query!r}: {len(hits)} hits in {1000 * (time.perf_counter() - started):.0f} ms")


if __name__ == "__main__":
    main()
