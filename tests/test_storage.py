"""The DuckDB corpus: idempotent loads, replacement, corpus-wide dedup that never dangles,
and agreement between the in-memory dedup (docmill clean) and the SQL one (ingest)."""
from __future__ import annotations

import json
import random
from pathlib import Path

import duckdb
import pytest

import storage.corpus
from storage.corpus import _ADDED_COLUMNS, SCHEMA_VERSION, WRITER_MEMORY_LIMIT, Corpus, LoadCounts
from storage.search import rebuild_index
from tasks.dedup import DedupParams, mark_duplicates
from tasks.pipeline import clean_batch
from tasks.sources import ReadOptions, discover, plan_batches
from tasks.records import BatchResult, RawRecord

from conftest import SAMPLES, records_of

POOL = [
    f"Paragraph number {i} of the shared pool, long enough to take part in deduplication."
    for i in range(40)
]


def write_docs(folder, docs: dict[str, list[str]]) -> None:
    folder.mkdir(exist_ok=True)
    for name, paragraphs in docs.items():
        (folder / name).write_text("\n\n".join(paragraphs), encoding="utf-8")


def load(corpus: Corpus, paths, run_id: str = "run", batch_size: int = 100) -> LoadCounts:
    """What the ingest flow does, without Prefect: plan, clean, load batch by batch."""
    files, _ = discover([str(p) for p in paths])
    counts = LoadCounts()
    corpus.start_run(run_id, run_id, [str(p) for p in paths], {})
    known_sources = corpus.source_hashes([file.source for file in files])
    for plan in plan_batches(files, ReadOptions(), known_sources, batch_size):
        known = corpus.document_hashes(plan.records)
        counts.add(corpus.load_batch(run_id, plan.attach(clean_batch(plan.records, known, resolve=False))))
    corpus.finish_run(run_id, "completed", counts)
    return counts


def dangling(con) -> int:
    return con.execute(
        """
        SELECT count(*) FROM paragraphs d LEFT JOIN paragraphs o
          ON o.doc_id = d.dup_of_doc AND o.position = d.dup_of_position
        WHERE d.status = 'duplicate' AND (o.doc_id IS NULL OR o.status <> 'kept')
        """
    ).fetchone()[0]


def snapshot(con) -> list[tuple]:
    return con.execute(
        "SELECT doc_id, position, status, dup_of_doc, dup_of_position, text FROM paragraphs ORDER BY ALL"
    ).fetchall()


def test_samples_load_and_reload_unchanged(tmp_path):
    with Corpus(tmp_path / "c.duckdb") as corpus:
        assert load(corpus, [SAMPLES], "first") == LoadCounts(documents_new=2)
        before = snapshot(corpus.con)
        assert load(corpus, [SAMPLES], "second") == LoadCounts(documents_unchanged=2)
        assert snapshot(corpus.con) == before
        con = corpus.con
        assert con.execute("SELECT count(*), count(DISTINCT doc_id) FROM documents").fetchone() == (2, 2)
        assert con.execute("SELECT sum(n_kept), sum(n_removed) FROM documents").fetchone() == (23, 8)
        rules = dict(con.execute("SELECT rule, paragraphs FROM boilerplate_by_rule").fetchall())
        assert rules == {"search_ui": 2, "social_embed": 2, "author_bio": 1, "caption_credit": 1,
                         "navigation": 1, "truncated_repeat": 1}
        assert con.execute("SELECT * FROM languages").fetchall() == [("fr", 2, 23)]
        assert con.execute("SELECT status FROM run_history").fetchall() == [("completed",), ("completed",)]


def test_document_hashes_are_looked_up_by_document_within_the_given_files(tmp_path):
    with Corpus(tmp_path / "c.duckdb") as corpus:
        load(corpus, [SAMPLES], "first")
        rows = corpus.con.execute("SELECT doc_id, source, content_hash FROM documents ORDER BY doc_id").fetchall()
        (first, first_source, first_hash), (second, second_source, _) = rows

        def record(doc_id: str, source: str) -> RawRecord:
            return RawRecord(doc_id, source, None, "text", "txt", b"")

        assert corpus.document_hashes([record(first, first_source)]) == {first: first_hash}
        # Both files asked for, but only the documents named: the second is not returned.
        assert corpus.document_hashes([record(first, first_source), record("elsewhere", second_source)]) == {
            first: first_hash}
        # The second document, asked for as if it came from the first file, is not known there.
        assert corpus.document_hashes([record(first, first_source), record(second, first_source)]) == {
            first: first_hash}
        assert corpus.document_hashes([]) == {}


def test_cross_document_duplicates_point_at_first_occurrence(tmp_path):
    write_docs(tmp_path / "in", {"a.txt": POOL[0:3], "b.txt": [POOL[5], POOL[1], POOL[1]]})
    with Corpus(tmp_path / "c.duckdb") as corpus:
        load(corpus, [tmp_path / "in"])
        rows = corpus.con.execute(
            "SELECT d.source, p.position, p.status, p.dup_kind, p.dup_of_position, o.source "
            "FROM paragraphs p JOIN documents d USING (doc_id) LEFT JOIN documents o ON o.doc_id = p.dup_of_doc "
            "WHERE p.status = 'duplicate' ORDER BY ALL"
        ).fetchall()
        assert [(r[0].rsplit("/", 1)[1], r[1], r[3], r[4], r[5].rsplit("/", 1)[1]) for r in rows] == [
            ("b.txt", 1, "exact", 1, "a.txt"),
            ("b.txt", 2, "exact", 1, "a.txt"),
        ]
        text_b = corpus.con.execute("SELECT text FROM documents WHERE source LIKE '%b.txt'").fetchone()[0]
        assert text_b == POOL[5]


def test_duplicates_are_found_across_runs(tmp_path):
    write_docs(tmp_path / "one", {"a.txt": POOL[0:3]})
    write_docs(tmp_path / "two", {"b.txt": [POOL[2], POOL[9]]})
    with Corpus(tmp_path / "c.duckdb") as corpus:
        load(corpus, [tmp_path / "one"], "night-1")
        load(corpus, [tmp_path / "two"], "night-2")
        assert corpus.con.execute(
            "SELECT position, status, dup_of_position FROM paragraphs JOIN documents USING (doc_id) "
            "WHERE source LIKE '%b.txt' ORDER BY position"
        ).fetchall() == [(0, "duplicate", 2), (1, "kept", None)]


def test_replacing_a_document_re_resolves_pointers(tmp_path):
    folder = tmp_path / "in"
    write_docs(folder, {"a.txt": POOL[0:3], "b.txt": [POOL[1], POOL[7]], "c.txt": [POOL[1]]})
    with Corpus(tmp_path / "c.duckdb") as corpus:
        load(corpus, [folder], "first")
        write_docs(folder, {"a.txt": [POOL[0], POOL[2]]})  # a.txt loses the shared paragraph
        assert load(corpus, [folder], "second") == LoadCounts(documents_updated=1, documents_unchanged=2)
        assert dangling(corpus.con) == 0
        statuses = corpus.con.execute(
            "SELECT regexp_extract(source, '(\\w)\\.txt', 1), position, status, dup_of_position "
            "FROM paragraphs JOIN documents USING (doc_id) ORDER BY ALL"
        ).fetchall()
        assert statuses == [
            ("a", 0, "kept", None), ("a", 1, "kept", None),
            ("b", 0, "kept", None), ("b", 1, "kept", None),  # b's copy is now the first occurrence
            ("c", 0, "duplicate", 0),                          # and c points at it
        ]
        texts = dict(corpus.con.execute(
            "SELECT regexp_extract(source, '(\\w)\\.txt', 1), text FROM documents").fetchall())
        assert texts["b"] == f"{POOL[1]}\n\n{POOL[7]}" and texts["c"] == ""
        assert corpus.con.execute("SELECT count(*) FROM paragraphs").fetchone()[0] == 5


def test_sql_dedup_agrees_with_in_memory_dedup(tmp_path):
    """cc_net style: the fast path (SQL, batched, across runs) must equal the simple one."""
    rng = random.Random(7)
    docs = {f"d{i:03}.txt": [rng.choice(POOL[:25]) for _ in range(rng.randint(1, 6))] for i in range(60)}
    write_docs(tmp_path / "in", docs)
    refs = records_of(tmp_path / "in")
    expected = {
        (d.doc_id, p.position): (p.status, p.dup_of_doc, p.dup_of_position)
        for d in clean_batch(refs, {}, first_seen={}).documents
        for p in d.paragraphs
    }
    with Corpus(tmp_path / "c.duckdb") as corpus:
        corpus.start_run("r", "r", [], {})
        for i in range(0, len(refs), 7):  # many batches, so dedup spans batches
            corpus.load_batch("r", clean_batch(refs[i : i + 7], {}))
        actual = {
            (doc, pos): (status, dup_doc, dup_pos)
            for doc, pos, status, dup_doc, dup_pos, _ in snapshot(corpus.con)
        }
    assert actual == expected
    assert sum(status == "duplicate" for status, _, _ in expected.values()) > 50


def test_documents_written_at_insert_agree_with_their_recomputation_from_paragraphs(tmp_path):
    """A load that only appends writes each new document's text and counts from its resolved
    paragraphs in Python; a load that replaces documents recomputes them in SQL. Both must
    say the same, for every kind of paragraph."""
    teaser = POOL[35][:60] + "..."
    docs = {
        "a.txt": [POOL[30], POOL[31], POOL[30]],    # repeats itself: the repeat stays in its text
        "b.txt": [POOL[31], POOL[32]],              # copies a paragraph of a
        "c.txt": [POOL[32], POOL[31]],              # nothing kept: repeats a and b once each, b first
        "d.txt": [POOL[35], "Rechercher", teaser],  # a search label and its own truncated repeat: removed
        "e.txt": [teaser, POOL[33]],                # another document's teaser
    }
    write_docs(tmp_path / "in", docs)
    outcome = "SELECT doc_id, text, n_paragraphs, n_kept, n_removed, n_duplicate, dup_of_doc FROM documents ORDER BY ALL"
    with Corpus(tmp_path / "c.duckdb") as corpus:
        corpus.start_run("r", "r", [], {})
        for record in [*records_of(SAMPLES), *records_of(tmp_path / "in")]:  # a load per document
            corpus.load_batch("r", clean_batch([record], {}, resolve=False))
        written = corpus.con.execute(outcome).fetchall()
        corpus.con.execute("CREATE OR REPLACE TEMP TABLE affected_documents AS SELECT doc_id, seq FROM documents")
        corpus._refresh_documents()
        assert corpus.con.execute(outcome).fetchall() == written
    by_name = {row[0]: row for row in written}
    ids = {name: record.doc_id for record in records_of(tmp_path / "in") for name in docs if record.source.endswith(name)}
    assert by_name[ids["a.txt"]][1:6] == (f"{POOL[30]}\n\n{POOL[31]}\n\n{POOL[30]}", 3, 2, 0, 1)
    assert by_name[ids["c.txt"]][1:] == ("", 2, 0, 0, 2, ids["b.txt"])
    assert by_name[ids["d.txt"]][2:6] == (3, 1, 2, 0)
    assert by_name[ids["e.txt"]][1] == POOL[33]
    assert sum(row[4] for row in written) > 5  # the samples' boilerplate


def test_changed_and_deleted_documents_keep_exact_dedup_as_if_loaded_at_once(tmp_path):
    """Runs that change and delete records: after each, every paragraph's exact-tier
    resolution is the in-memory one over the records as they stand, in corpus order, and
    the first-occurrence index (paragraph_firsts) is what the paragraphs say it is."""
    rng = random.Random(11)
    source = tmp_path / "in" / "records.jsonl"
    source.parent.mkdir()
    exact = DedupParams(("exact",))
    records = {f"r{i:02}": [rng.choice(POOL[:30]) for _ in range(rng.randint(1, 4))] for i in range(40)}
    with Corpus(tmp_path / "c.duckdb", exact) as corpus:
        for run in range(5):
            if run:
                for key in rng.sample(sorted(records), 8):
                    records[key] = [rng.choice(POOL[:30]) for _ in range(rng.randint(1, 4))]
                for key in rng.sample(sorted(records), 3):
                    del records[key]
            source.write_text("".join(json.dumps({"id": key, "text": "\n\n".join(paragraphs)}) + "\n"
                                      for key, paragraphs in records.items()), encoding="utf-8")
            load(corpus, [source.parent], f"run{run}", batch_size=7)
            seqs = dict(corpus.con.execute("SELECT doc_id, seq FROM documents").fetchall())
            in_order = sorted(records_of(source), key=lambda record: seqs[record.doc_id])
            store: dict = {}
            expected = set()
            for doc in clean_batch(in_order, {}, resolve=False).documents:
                mark_duplicates(doc.doc_id, doc.paragraphs, store, exact)
                expected |= {(doc.doc_id, p.position, p.status, p.dup_of_doc, p.dup_of_position) for p in doc.paragraphs}
            assert {row[:5] for row in snapshot(corpus.con)} == expected
            assert sorted(corpus.con.execute("SELECT * FROM paragraph_firsts").fetchall()) == sorted(
                corpus.con.execute("SELECT fingerprint, min(pid) FROM paragraphs WHERE status <> 'removed' "
                                   "AND fingerprint IS NOT NULL GROUP BY fingerprint").fetchall())
        assert corpus.con.execute("SELECT count(*) FROM documents").fetchone()[0] == len(records)
        assert corpus.con.execute("SELECT sum(documents_deleted) FROM runs").fetchone()[0] == 12


def test_a_batch_that_fails_to_load_leaves_nothing(tmp_path):
    write_docs(tmp_path / "in", {"a.txt": POOL[0:2], "b.txt": POOL[2:4]})
    refs = records_of(tmp_path / "in")
    batch = clean_batch(refs, {})
    batch.documents[1].paragraphs[0].status = "bogus"  # violates the schema's CHECK
    with Corpus(tmp_path / "c.duckdb") as corpus:
        corpus.start_run("r", "r", [], {})
        with pytest.raises(duckdb.ConstraintException):
            corpus.load_batch("r", batch)
        assert corpus.con.execute("SELECT count(*) FROM documents").fetchone()[0] == 0
        assert corpus.con.execute("SELECT count(*) FROM paragraphs").fetchone()[0] == 0
        assert corpus.load_batch("r", clean_batch(refs, {})) == LoadCounts(documents_new=2)


def test_failures_are_recorded_with_the_batch(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bin.txt").write_bytes(b"\x00\x01" * 50)
    refs = records_of(tmp_path / "in")
    with Corpus(tmp_path / "c.duckdb") as corpus:
        corpus.start_run("r", "r", [], {})
        assert corpus.load_batch("r", clean_batch(refs, {})) == LoadCounts(documents_failed=1)
        assert corpus.con.execute("SELECT stage, message FROM failures").fetchall() == [
            ("decode", "binary content (NUL bytes), not text")
        ]


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "c.duckdb"
    Corpus(path).close()
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE docmill_meta SET value = '99' WHERE key = 'schema_version'")
    from storage.corpus import SchemaError

    with pytest.raises(SchemaError, match="schema version 99"):
        Corpus(path)


def test_empty_batch_loads_nothing(tmp_path):
    with Corpus(tmp_path / "c.duckdb") as corpus:
        assert corpus.load_batch("r", BatchResult()) == LoadCounts()


def _store_filler(con) -> None:
    """Some 90 MB stored and checkpointed."""
    con.execute("CREATE TABLE filler AS SELECT range AS i, repeat(md5(range::VARCHAR), 12) AS s FROM range(250000)")
    con.execute("CHECKPOINT")


def _memory_limit(con) -> str:
    return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def _memory_limit_as_configured() -> str:
    with duckdb.connect(config={"memory_limit": WRITER_MEMORY_LIMIT}) as fresh:
        return _memory_limit(fresh)


def _cached_mib(con) -> int:
    return con.execute("SELECT sum(memory_usage_bytes) // 1048576 FROM duckdb_memory()").fetchone()[0]


def test_a_load_leaves_the_database_cache_evicted(tmp_path):
    with Corpus(tmp_path / "c.duckdb") as corpus:
        con = corpus.con
        # Stored data read once, so that DuckDB caches it, as a large corpus's loads do.
        _store_filler(con)
        con.execute("SELECT sum(length(s)) FROM filler").fetchall()
        assert _cached_mib(con) > 32
        load(corpus, [SAMPLES])
        assert _cached_mib(con) <= 16
        assert _memory_limit(con) == _memory_limit_as_configured()


def test_a_load_checkpoints_a_long_log(tmp_path):
    path = tmp_path / "c.duckdb"
    wal = Path(f"{path}.wal")
    with Corpus(path) as corpus:
        _store_filler(corpus.con)
        # Committed but not checkpointed: updates go to the write-ahead log (and stay in
        # memory until a checkpoint: a third of the filler's, some 30 MB).
        corpus.con.execute("UPDATE filler SET s = upper(s) WHERE i % 3 = 0")
        assert wal.stat().st_size > 16 * 2**20
        load(corpus, [SAMPLES])
        assert not wal.exists() or wal.stat().st_size < 2**20
        assert corpus.con.execute("SELECT count(*) FROM documents").fetchone()[0] == 2
        assert _memory_limit(corpus.con) == _memory_limit_as_configured()


def _paragraph_row_groups(con) -> list[tuple]:
    """Each row group of paragraphs: its rows and the block its text starts in."""
    return con.execute(
        "SELECT row_group_id, count, block_id FROM pragma_storage_info('paragraphs') "
        "WHERE column_name = 'text' AND segment_type = 'VARCHAR' AND segment_id = 0 ORDER BY row_group_id"
    ).fetchall()


def test_checkpoints_leave_earlier_paragraphs_where_they_were_written(tmp_path, monkeypatch):
    """Each checkpoint writes the paragraphs appended since the last one as a row group of
    their own. DuckDB's vacuum would merge it into its neighbour, rewriting both (see
    MAX_VACUUM_TASKS); neither a load's checkpoint nor the search index's rebuild does."""
    monkeypatch.setattr(storage.corpus, "WAL_CHECKPOINT_BYTES", 0)  # checkpoint after every load
    write_docs(tmp_path / "a", {"a.txt": POOL[:10]})
    write_docs(tmp_path / "b", {"b.txt": POOL[10:20]})
    path = tmp_path / "c.duckdb"
    with Corpus(path) as corpus:
        load(corpus, [tmp_path / "a"], "r1")
        first = _paragraph_row_groups(corpus.con)
        load(corpus, [tmp_path / "b"], "r2")
        both = _paragraph_row_groups(corpus.con)
    rebuild_index(path)
    with duckdb.connect(str(path), read_only=True) as con:
        after_reindex = _paragraph_row_groups(con)
        assert con.execute("SELECT count(*) FROM paragraphs").fetchone()[0] == 20
    assert [rows for _, rows, _ in first] == [10]
    assert both[0] == first[0] and [rows for _, rows, _ in both] == [10, 10]
    assert after_reindex == both


def _as_written_by(path, version: int) -> None:
    """Turn a database into what docmill wrote at an earlier schema version."""
    with duckdb.connect(str(path)) as con:
        if version < 2:  # no pid, prefix, similarity, bands
            for (view,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall():
                con.execute(f"DROP VIEW {view}")
            con.execute("DROP TABLE paragraph_bands")
        if version < 4:
            con.execute("DROP TABLE paragraph_firsts")
        if version < 6:
            con.execute("DROP TABLE document_quality")
            con.execute("DROP TABLE pii")
        for added_in, table, column, _ in _ADDED_COLUMNS:
            if added_in > version:
                con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        con.execute("UPDATE docmill_meta SET value = ? WHERE key = 'schema_version'", [str(version)])


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5])
def test_an_older_database_is_upgraded_and_its_paragraphs_found_again(tmp_path, version):
    """Version 1 had exact dedup only, version 2 no long teaser prefixes, version 3 no
    first-occurrence index, version 5 no quality signals or personal data. Opening one adds what is missing (band keys once), keeps the
    stored resolutions, and later loads find exact and near duplicates and long teasers of
    the old paragraphs."""
    story = ("The regional council voted on Tuesday to close the old bridge over the river for repairs, "
             "sending traffic through the northern bypass until the spring.")
    once = "A paragraph that is here only once, long enough to count."
    write_docs(tmp_path / "old", {"a.txt": [story, once]})
    path = tmp_path / "c.duckdb"
    with Corpus(path) as corpus:
        load(corpus, [tmp_path / "old"], "old")
        bands = corpus.con.execute("SELECT count(*) FROM paragraph_bands").fetchone()
    _as_written_by(path, version)
    with Corpus(path) as corpus:
        con = corpus.con
        assert con.execute("SELECT value FROM docmill_meta WHERE key = 'schema_version'").fetchone() == (
            str(SCHEMA_VERSION),)
        before = snapshot(con)
        assert con.execute("SELECT count(*) FROM paragraphs WHERE pid IS NULL").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM paragraph_bands").fetchone() == bands
        assert con.execute("SELECT count(*) FROM paragraphs WHERE long_prefix_fingerprint IS NULL").fetchone() == (1,)
        write_docs(tmp_path / "new", {"b.txt": [story.replace("Tuesday", "Wednesday"), story[:100] + "…", once]})
        load(corpus, [tmp_path / "new"], "new")
        assert set(before) <= set(snapshot(con))  # the old resolutions stay
        # the new document has quality signals; the old one has none until it is re-ingested
        assert con.execute("SELECT count(*) FROM document_quality").fetchone() == (1,)
        found = con.execute(
            "SELECT p.dup_kind, o.text FROM paragraphs p JOIN paragraphs o "
            "ON o.doc_id = p.dup_of_doc AND o.position = p.dup_of_position WHERE p.status = 'duplicate' "
            "ORDER BY p.position"
        ).fetchall()
    assert found == [("near", story), ("teaser", story), ("exact", once)]
