"""The corpus database: schema, bulk loading and run bookkeeping. The only module that
speaks SQL to the DuckDB file.

Each batch loads in one transaction from Arrow tables, so a crash leaves whole batches or
nothing. Corpus-wide exact dedup is resolved here, in SQL, for every fingerprint a batch
touches: the first occurrence in corpus order (documents.seq, then position) is kept and
every other points at it. Re-resolving touched fingerprints on each load is what keeps
duplicate pointers from dangling when a document is replaced.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import duckdb
import pyarrow as pa

from tasks.records import BatchResult, Document, Failure, SourceDone

SCHEMA_VERSION = 1


class SchemaError(RuntimeError):
    """The database was written by an incompatible docmill."""


@dataclass(slots=True)
class LoadCounts:
    documents_new: int = 0
    documents_updated: int = 0
    documents_unchanged: int = 0
    documents_failed: int = 0
    documents_deleted: int = 0
    records_skipped: int = 0

    def add(self, other: LoadCounts) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


SCHEMA_FILE = Path(__file__).with_name("schema.sql")


def schema_sql() -> str:
    return SCHEMA_FILE.read_text(encoding="utf-8")


_DOCUMENT_SCHEMA = pa.schema(
    [("ord", pa.int64())]
    + [(name, pa.string()) for name in ("doc_id", "source", "locator", "format", "extractor", "url", "title",
                                         "author", "published", "site_name", "description", "page_lang",
                                         "fetched_at", "lang")]
    + [("lang_prob", pa.float64()), ("content_hash", pa.string())]
)
_SOURCE_SCHEMA = pa.schema(
    [("source", pa.string()), ("content_hash", pa.string()), ("size", pa.int64()), ("format", pa.string()),
     ("complete", pa.bool_())]
)
_PARAGRAPH_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("position", pa.int32()),
        ("text", pa.string()),
        ("status", pa.string()),
        ("removed_by", pa.string()),
        ("dup_of_doc", pa.string()),
        ("dup_of_position", pa.int32()),
        ("lang", pa.string()),
        ("lang_prob", pa.float64()),
        ("fingerprint", pa.uint64()),
    ]
)
_FAILURE_SCHEMA = pa.schema([(name, pa.string()) for name in ("source", "stage", "error_type", "message")])


def _documents_table(documents: Sequence[Document]) -> pa.Table:
    columns = {name: [] for name in _DOCUMENT_SCHEMA.names}
    for ord_, doc in enumerate(documents):
        meta = doc.meta
        row = (
            ord_, doc.doc_id, doc.source, doc.locator, doc.format, doc.extractor, meta.url, doc.title,
            meta.author, meta.published, meta.site_name, meta.description, meta.page_lang, meta.fetched_at,
            doc.lang, doc.lang_prob, doc.content_hash,
        )
        for name, value in zip(_DOCUMENT_SCHEMA.names, row):
            columns[name].append(value)
    return pa.table(columns, schema=_DOCUMENT_SCHEMA)


def _last_of_each(documents: Sequence[Document]) -> list[Document]:
    """One document per id, the last one seen (the same URL fetched twice in one batch)."""
    return list({doc.doc_id: doc for doc in documents}.values())


def _paragraphs_table(documents: Sequence[Document]) -> pa.Table:
    columns = {name: [] for name in _PARAGRAPH_SCHEMA.names}
    for doc in documents:
        for p in doc.paragraphs:
            row = (
                doc.doc_id, p.position, p.text, p.status, p.removed_by, p.dup_of_doc,
                p.dup_of_position, p.lang, p.lang_prob, p.fingerprint,
            )
            for name, value in zip(_PARAGRAPH_SCHEMA.names, row):
                columns[name].append(value)
    return pa.table(columns, schema=_PARAGRAPH_SCHEMA)


def _rows_table(rows: Sequence[tuple], schema: pa.Schema) -> pa.Table:
    return pa.table({name: [row[i] for row in rows] for i, name in enumerate(schema.names)}, schema=schema)


def _failures_table(failures: Iterable[Failure]) -> pa.Table:
    return _rows_table([(f.source, f.stage, f.error_type, f.message) for f in failures], _FAILURE_SCHEMA)


def _sources_table(done: Sequence[SourceDone]) -> pa.Table:
    return _rows_table([(d.source, d.content_hash, d.size, d.format, d.complete) for d in done], _SOURCE_SCHEMA)


class Corpus:
    """A docmill database opened for writing. Use as a context manager."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self.con = duckdb.connect(self.path)
        self._apply_schema()

    def __enter__(self) -> Corpus:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def _apply_schema(self) -> None:
        found = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'docmill_meta'"
        ).fetchone()[0]
        if found:
            version = self.con.execute("SELECT value FROM docmill_meta WHERE key = 'schema_version'").fetchone()
            if version and int(version[0]) > SCHEMA_VERSION:
                raise SchemaError(
                    f"{self.path} has schema version {version[0]}; this docmill reads up to {SCHEMA_VERSION}"
                )
        self.con.execute("BEGIN")
        self.con.execute(schema_sql())
        self.con.execute(
            "INSERT OR REPLACE INTO docmill_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )
        self.con.execute("COMMIT")

    # --- runs -----------------------------------------------------------------------------

    def start_run(self, run_id: str, run_name: str | None, sources: Sequence[str], parameters: dict) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO runs (run_id, run_name, sources, parameters, started_at, status) "
            "VALUES (?, ?, ?, ?, now(), 'running')",
            [run_id, run_name, list(sources), json.dumps(parameters, default=str)],
        )

    def finish_run(self, run_id: str, status: str, counts: LoadCounts) -> None:
        self.con.execute(
            """
            UPDATE runs SET status = $status, finished_at = now(),
                documents_new = $documents_new, documents_updated = $documents_updated,
                documents_unchanged = $documents_unchanged, documents_failed = $documents_failed,
                documents_deleted = $documents_deleted, records_skipped = $records_skipped,
                paragraphs_kept = t.kept, paragraphs_removed = t.removed, paragraphs_duplicate = t.duplicate
            FROM (
                SELECT coalesce(sum(n_kept), 0) AS kept, coalesce(sum(n_removed), 0) AS removed,
                       coalesce(sum(n_duplicate), 0) AS duplicate
                FROM documents WHERE run_id = $run_id
            ) t
            WHERE runs.run_id = $run_id
            """,
            {"status": status, "run_id": run_id, **asdict(counts)},
        )

    def record_failures(self, run_id: str, failures: Sequence[Failure]) -> None:
        if failures:
            self.con.register("staged_failures", _failures_table(failures))
            self.con.execute(
                "INSERT INTO failures SELECT ?, source, stage, error_type, message, now() FROM staged_failures", [run_id]
            )
            self.con.unregister("staged_failures")

    def _lookup(self, sql: str, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        self.con.register("wanted", pa.table({"key": list(keys)}))
        try:
            return dict(self.con.execute(sql).fetchall())
        finally:
            self.con.unregister("wanted")

    def source_hashes(self, sources: Sequence[str]) -> dict[str, str]:
        """Content hashes of the given files, for those last read to their end."""
        return self._lookup(
            "SELECT source, content_hash FROM sources WHERE complete AND source IN (SELECT key FROM wanted)", sources
        )

    def document_hashes(self, sources: Sequence[str]) -> dict[str, str]:
        """Content hashes of the documents that came from the given files."""
        return self._lookup(
            "SELECT doc_id, content_hash FROM documents WHERE source IN (SELECT key FROM wanted)", sources
        )

    def _documents_in(self, sources: Sequence[str]) -> int:
        if not sources:
            return 0
        return self.con.execute(
            "SELECT count(*) FROM documents WHERE list_contains(?, source)", [list(sources)]
        ).fetchone()[0]

    # --- loading --------------------------------------------------------------------------

    def load_batch(self, run_id: str, batch: BatchResult) -> LoadCounts:
        """Load one cleaned batch in a single transaction and resolve its duplicates.

        Documents of a completely re-read source that the source no longer holds are deleted
        here too, with the batch that finished reading it."""
        documents = _last_of_each(batch.documents)
        counts = LoadCounts(
            documents_unchanged=len(batch.unchanged) + self._documents_in(batch.unchanged_sources),
            documents_failed=len(batch.failures), records_skipped=batch.skipped,
        )
        staged = {
            "staged_documents": _documents_table(documents),
            "staged_paragraphs": _paragraphs_table(documents),
            "staged_unchanged": pa.table({"doc_id": pa.array(batch.unchanged, pa.string())}),
            "staged_sources": _sources_table(batch.sources_done),
        }
        for name, table in staged.items():
            self.con.register(name, table)
        try:
            self.con.execute("BEGIN")
            counts.documents_updated = self._upsert_documents(run_id)
            counts.documents_new = len(documents) - counts.documents_updated
            counts.documents_deleted = self._replace_paragraphs(run_id)
            self._refresh_documents()
            self._record_sources(run_id)
            self.record_failures(run_id, batch.failures)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            for name in staged:
                self.con.unregister(name)
        return counts

    def _upsert_documents(self, run_id: str) -> int:
        self.con.execute("UPDATE documents SET seen_run_id = ? WHERE doc_id IN (SELECT doc_id FROM staged_unchanged)", [run_id])
        updated = self.con.execute(
            """
            UPDATE documents SET source = s.source, locator = s.locator, format = s.format, extractor = s.extractor,
                url = s.url, title = s.title, author = s.author, published = TRY_CAST(s.published AS DATE),
                site_name = s.site_name, description = s.description, page_lang = s.page_lang,
                fetched_at = TRY_CAST(s.fetched_at AS TIMESTAMPTZ), lang = s.lang, lang_prob = s.lang_prob,
                content_hash = s.content_hash, run_id = $run_id, seen_run_id = $run_id, updated_at = now()
            FROM staged_documents s WHERE documents.doc_id = s.doc_id
            """,
            {"run_id": run_id},
        ).fetchone()[0]
        self.con.execute(
            """
            INSERT INTO documents
            SELECT s.doc_id, (SELECT coalesce(max(seq), 0) FROM documents) + 1 + s.ord, s.source, s.locator,
                   s.format, s.extractor, s.url, s.title, s.author, TRY_CAST(s.published AS DATE), s.site_name,
                   s.description, s.page_lang, TRY_CAST(s.fetched_at AS TIMESTAMPTZ), s.lang, s.lang_prob, '',
                   s.content_hash, 0, 0, 0, 0, $run_id, $run_id, now(), now()
            FROM staged_documents s ANTI JOIN documents d USING (doc_id)
            """,
            {"run_id": run_id},
        )
        return updated

    def _replace_paragraphs(self, run_id: str) -> int:
        """Swap in the staged paragraphs, drop documents their re-read source no longer
        holds, and re-resolve every fingerprint that came or went. Returns documents deleted."""
        self.con.execute(
            """
            CREATE OR REPLACE TEMP TABLE stale AS
            SELECT doc_id FROM documents
            WHERE source IN (SELECT source FROM staged_sources WHERE complete) AND seen_run_id <> ?
            """,
            [run_id],
        )
        self.con.execute(
            """
            CREATE OR REPLACE TEMP TABLE touched AS
            SELECT DISTINCT fingerprint FROM (
                SELECT fingerprint FROM paragraphs
                WHERE doc_id IN (SELECT doc_id FROM staged_documents UNION ALL SELECT doc_id FROM stale)
                UNION ALL SELECT fingerprint FROM staged_paragraphs
            ) WHERE fingerprint IS NOT NULL
            """
        )
        self.con.execute(
            "DELETE FROM paragraphs WHERE doc_id IN (SELECT doc_id FROM staged_documents UNION ALL SELECT doc_id FROM stale)"
        )
        deleted = self.con.execute("DELETE FROM documents WHERE doc_id IN (SELECT doc_id FROM stale)").fetchone()[0]
        self.con.execute(
            """
            INSERT INTO paragraphs
            SELECT doc_id, position, text, status, removed_by,
                   CASE WHEN status = 'duplicate' THEN 'exact' END,
                   dup_of_doc, dup_of_position, lang, lang_prob, fingerprint
            FROM staged_paragraphs
            """
        )
        self._resolve_duplicates()
        return deleted

    def _resolve_duplicates(self) -> None:
        self.con.execute(
            """
            CREATE OR REPLACE TEMP TABLE resolution AS
            WITH ranked AS (
                SELECT p.doc_id, p.position,
                       row_number() OVER w AS rank,
                       first_value(p.doc_id) OVER w AS first_doc,
                       first_value(p.position) OVER w AS first_position
                FROM paragraphs p JOIN documents d USING (doc_id) SEMI JOIN touched USING (fingerprint)
                WHERE p.status <> 'removed'
                WINDOW w AS (PARTITION BY p.fingerprint ORDER BY d.seq, p.position)
            )
            SELECT doc_id, position,
                   CASE WHEN rank = 1 THEN 'kept' ELSE 'duplicate' END AS status,
                   CASE WHEN rank > 1 THEN 'exact' END AS dup_kind,
                   CASE WHEN rank > 1 THEN first_doc END AS dup_of_doc,
                   CASE WHEN rank > 1 THEN first_position END AS dup_of_position
            FROM ranked
            """
        )
        self.con.execute(
            """
            CREATE OR REPLACE TEMP TABLE affected_documents AS
            SELECT DISTINCT r.doc_id FROM resolution r JOIN paragraphs p USING (doc_id, position)
            WHERE p.status IS DISTINCT FROM r.status OR p.dup_of_doc IS DISTINCT FROM r.dup_of_doc
               OR p.dup_of_position IS DISTINCT FROM r.dup_of_position
            UNION SELECT doc_id FROM staged_documents
            """
        )
        self.con.execute(
            """
            UPDATE paragraphs SET status = r.status, dup_kind = r.dup_kind,
                dup_of_doc = r.dup_of_doc, dup_of_position = r.dup_of_position
            FROM resolution r
            WHERE paragraphs.doc_id = r.doc_id AND paragraphs.position = r.position
              AND (paragraphs.status IS DISTINCT FROM r.status
                   OR paragraphs.dup_of_doc IS DISTINCT FROM r.dup_of_doc
                   OR paragraphs.dup_of_position IS DISTINCT FROM r.dup_of_position)
            """
        )

    def _refresh_documents(self) -> None:
        """Recompute final text and counts of every document whose paragraphs changed."""
        self.con.execute(
            """
            UPDATE documents SET text = a.text, n_paragraphs = a.n_paragraphs, n_kept = a.n_kept,
                n_removed = a.n_removed, n_duplicate = a.n_duplicate, updated_at = now()
            FROM (
                SELECT doc_id,
                       coalesce(string_agg(text, chr(10) || chr(10) ORDER BY position)
                                FILTER (WHERE status = 'kept'), '') AS text,
                       count(*) AS n_paragraphs,
                       count(*) FILTER (WHERE status = 'kept') AS n_kept,
                       count(*) FILTER (WHERE status = 'removed') AS n_removed,
                       count(*) FILTER (WHERE status = 'duplicate') AS n_duplicate
                FROM paragraphs SEMI JOIN affected_documents USING (doc_id)
                GROUP BY doc_id
            ) a
            WHERE documents.doc_id = a.doc_id
            """
        )

    def _record_sources(self, run_id: str) -> None:
        self.con.execute(
            """
            INSERT OR REPLACE INTO sources
            SELECT source, content_hash, size, format, complete, ?, now() FROM staged_sources
            """,
            [run_id],
        )

    # --- reading back ---------------------------------------------------------------------

    def run_summary(self, run_id: str) -> dict:
        """What a run did, for the terminal and the Prefect artifact."""
        con = self.con
        keys = ("status", "documents_new", "documents_updated", "documents_unchanged", "documents_failed",
                "documents_deleted", "records_skipped", "paragraphs_kept", "paragraphs_removed",
                "paragraphs_duplicate")
        run = con.execute(f"SELECT {', '.join(keys)} FROM runs WHERE run_id = ?", [run_id]).fetchone()
        summary = dict(zip(keys, run)) if run else {}
        summary["removed_by_rule"] = dict(con.execute(
            "SELECT removed_by, count(*) FROM paragraphs JOIN documents USING (doc_id) "
            "WHERE documents.run_id = ? AND status = 'removed' GROUP BY ALL ORDER BY 2 DESC, 1",
            [run_id],
        ).fetchall())
        summary["languages"] = dict(con.execute(
            "SELECT lang, count(*) FROM documents WHERE run_id = ? GROUP BY ALL ORDER BY 2 DESC, 1", [run_id]
        ).fetchall())
        summary["failures"] = con.execute(
            "SELECT source, stage, message FROM failures WHERE run_id = ? ORDER BY source", [run_id]
        ).fetchall()
        return summary
