"""The corpus database: schema, bulk loading and run bookkeeping. The only module that
speaks SQL to the DuckDB file.

Each batch loads in one transaction from Arrow tables, so a crash leaves whole batches or
nothing. Corpus-wide dedup (exact, teaser, near-duplicate) is resolved here, in corpus
order (documents.seq, then position): SQL joins fetch the earlier paragraphs that share
an exact fingerprint, a teaser prefix or an LSH band key with the batch, and the pure
``mark_duplicates`` (tasks/dedup.py, the same code ``docmill clean`` runs) resolves the
batch against them. When documents are replaced or deleted, the paragraphs that pointed
into them are resolved again, and so, in rounds, are later paragraphs sharing a key with
one whose fate changed: pointers never dangle and always point at a kept paragraph.
"""
from __future__ import annotations

import gc
import json
import operator
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
# DuckDB imports pyarrow.dataset the first time it scans an Arrow table (0.05 s, 0.18 s on
# a busy machine): imported with this module, it is not inside a run's first lookup, which
# the cleaning workers wait for.
import pyarrow.dataset  # noqa: F401

from tasks.dedup import (
    EXACT, MAX_ORIGINALS_PER_BAND, NEAR, TEASER, DedupParams, Origin, Original, SeenIndex, is_teaser, mark_duplicates,
    repeated_document, sign_paragraphs,
)
from tasks.neardup import shared_bands_needed
from tasks.pii import PiiKind
from tasks.quality import QualitySignals
from tasks.records import DUPLICATE, KEPT, REMOVED, BatchResult, Document, Failure, Paragraph, RawRecord, SourceDone

SCHEMA_VERSION = 6
SEQ_SHIFT = 2**32  # paragraphs.pid = documents.seq * SEQ_SHIFT + position: corpus order in one integer
# DuckDB would cache the database up to 80% of the machine's memory, so the writer's RSS
# would grow with the corpus (1.9 GiB at a million paragraphs); every load scans its
# tables anyway, and reads them back from the OS page cache as fast. Within a load, DuckDB
# keeps what it scans up to this limit, and a checkpoint fills its buffers up to it too;
# so the limit is what a corpus of distinct paragraphs adds to the writer's peak once its
# loads scan that much. bench/neardup.py at a million paragraphs: 575 MiB peak RSS under
# 128 MB, 686 under 256 MB, for the same CPU (61.6 and 64.0 CPU-s per million); under 64 MB
# the first loads fail, out of memory.
WRITER_MEMORY_LIMIT = "128MB"
# Between loads DuckDB would keep what the last one read, up to the limit above, so the
# writer's RSS would grow with the corpus until that cache is full (it held 183 MB after
# 15,000 pages of bench/extraction.py, by duckdb_memory()). Lowering the limit evicts it.
# Blocks written since the last checkpoint cannot be evicted, only spilled to a temporary
# file that grows with the input until the checkpoint reads it back: so loads checkpoint at
# DuckDB's default threshold (16 MB of log), not 1 GB. That costs no CPU (bench/neardup.py
# at a million paragraphs: 136 CPU-s per million, 140 to 146 with a 1 GB threshold and no
# eviction) but a larger file, 1,400 bytes a paragraph, not 900: each checkpoint rewrites
# the tables' last row groups.
WRITER_IDLE_MEMORY_LIMIT = "16MB"
# Loads commit first and checkpoint after (a checkpoint inside the COMMIT would add its
# buffers to the load's), once the log holds DuckDB's default 16 MB. DuckDB evicts as the
# checkpoint writes, and if a checkpoint fails, the committed load is safe in the log.
WAL_CHECKPOINT_BYTES = 16 * 1024 * 1024
# A checkpoint writes what loads appended since the last one as row groups of their own
# (some 60,000 paragraphs), and DuckDB's vacuum would then merge two such neighbours into
# one full row group, reading and rewriting 120,000 paragraphs' text: the writer's peak RSS
# rose by 45 to 55 MiB at such checkpoints, once the table held a few row groups, and that
# set the run's peak (bench/extraction.py's 36,200 pages replayed through load_batch: 318
# MiB peak, 269 without merging, 20% less load time, and a 20% smaller file). Unmerged row
# groups scan as fast. Not merging also means that the rows of deleted documents stay in
# the file until every row of their row group is deleted (DuckDB never vacuums the tables
# with a primary key, documents and sources, anyway). Every connection that writes sets it.
MAX_VACUUM_TASKS = 0
# Each load looks its keys up by scanning the dedup index once (DuckDB joins by hashing, it
# has no index joins), so the writer loads cleaned batches in groups of about this many
# paragraphs: the index is scanned fifteen times less often than batch by batch, and a group
# holds some megabytes, whatever the corpus size. At a million paragraphs (bench/neardup.py),
# groups of 20,000 / 25,000 / 30,000 cost the writer 116 / 107 / 102 CPU-seconds per million
# paragraphs, for a peak RSS of 705 / 750 / 771 MiB.
LOAD_GROUP_PARAGRAPHS = 30_000
# ... or of about this many characters of paragraph text, when paragraphs are long: a load
# holds its group several times over (the cleaned documents, their Arrow tables, DuckDB's
# copy), some 13 bytes of RSS per character. Text with one paragraph per document (3,000
# JSON Lines documents of 35,000 characters) was loaded as a single group, for a peak RSS
# of 1,395 MiB; in groups under this cap, 977 MiB (686 without the near tier, whose
# candidates are long texts there too). Groups of bench/extraction.py's pages hold some
# 4.4 million characters, of bench/throughput.py's and bench/neardup.py's some 10 million:
# this cap leaves them as they were.
LOAD_GROUP_CHARACTERS = 12_000_000


class RunStatus(StrEnum):
    """runs.status."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # stopped by a signal, or found still running by a later run


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
# (schema version, table, column, type) of the columns added after version 1.
_ADDED_COLUMNS = (
    (2, "documents", "dup_of_doc", "VARCHAR"), (2, "paragraphs", "similarity", "DOUBLE"),
    (2, "paragraphs", "pid", "BIGINT"), (2, "paragraphs", "prefix_fingerprint", "UBIGINT"),
    (3, "paragraphs", "long_prefix_fingerprint", "UBIGINT"),
    (5, "documents", "invalid_bytes", "INTEGER"),
)


def schema_sql() -> str:
    return SCHEMA_FILE.read_text(encoding="utf-8")


_DOCUMENT_SCHEMA = pa.schema(
    [(name, pa.string()) for name in ("doc_id", "source", "locator", "format", "extractor", "url", "title",
                                         "author", "published", "site_name", "description", "page_lang",
                                         "fetched_at", "lang")]
    + [("lang_prob", pa.float64()), ("content_hash", pa.string()), ("invalid_bytes", pa.int32())]
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
        ("dup_kind", pa.string()),
        ("similarity", pa.float64()),
        ("pid", pa.int64()),
        ("prefix_fingerprint", pa.uint64()),
        ("long_prefix_fingerprint", pa.uint64()),
    ]
)
_QUALITY_SCHEMA = pa.schema(
    [("doc_id", pa.string())]
    + [(f.name, pa.float64() if str(f.type).startswith("float") else pa.int32()) for f in fields(QualitySignals)]
)
_PII_SCHEMA = pa.schema([("doc_id", pa.string()), ("position", pa.int32()), ("kind", pa.string()),
                         ("start", pa.int32()), ("end", pa.int32())])
_BAND_SCHEMA = pa.schema([("band", pa.uint64()), ("pid", pa.int64())])
_RESOLUTION_SCHEMA = pa.schema(
    [("pid", pa.int64()), ("status", pa.string()), ("dup_kind", pa.string()), ("dup_of_doc", pa.string()),
     ("dup_of_position", pa.int32()), ("similarity", pa.float64())]
)
_FAILURE_SCHEMA = pa.schema([(name, pa.string()) for name in ("source", "stage", "error_type", "message")])


def _documents_table(documents: Sequence[Document]) -> pa.Table:
    columns = {name: [] for name in _DOCUMENT_SCHEMA.names}
    for doc in documents:
        meta = doc.meta
        row = (
            doc.doc_id, doc.source, doc.locator, doc.format, doc.extractor, meta.url, doc.title,
            meta.author, meta.published, meta.site_name, meta.description, meta.page_lang, meta.fetched_at,
            doc.lang, doc.lang_prob, doc.content_hash, doc.invalid_bytes,
        )
        for name, value in zip(_DOCUMENT_SCHEMA.names, row):
            columns[name].append(value)
    return pa.table(columns, schema=_DOCUMENT_SCHEMA)


def _quality_table(documents: Sequence[Document]) -> pa.Table:
    scored = [doc for doc in documents if doc.quality is not None]
    columns = {"doc_id": [doc.doc_id for doc in scored]}
    for name in _QUALITY_SCHEMA.names[1:]:
        columns[name] = [getattr(doc.quality, name) for doc in scored]
    return pa.table(columns, schema=_QUALITY_SCHEMA)


def _pii_table(documents: Sequence[Document]) -> pa.Table:
    spans = [(doc.doc_id, span) for doc in documents for span in doc.pii]
    return pa.table({
        "doc_id": [doc_id for doc_id, _ in spans],
        "position": [span.position for _, span in spans],
        "kind": [PiiKind(span.kind).value for _, span in spans],
        "start": [span.start for _, span in spans],
        "end": [span.end for _, span in spans],
    }, schema=_PII_SCHEMA)


def _appended_seqs(documents: Sequence[Document], last_seq: int) -> dict[str, int]:
    """The places of a batch's documents in corpus order if they are new: after every stored
    document, in batch order (a stored document keeps its own)."""
    return {doc.doc_id: last_seq + 1 + ord_ for ord_, doc in enumerate(documents)}


def _outcomes_table(documents: Sequence[Document], seqs: Mapping[str, int]) -> pa.Table:
    """Each document's place in corpus order, and its final text and counts, from its
    resolved paragraphs."""
    statuses = [Counter(p.status for p in doc.paragraphs) for doc in documents]
    return pa.table({
        "doc_id": [doc.doc_id for doc in documents],
        "seq": pa.array([seqs[doc.doc_id] for doc in documents], pa.int64()),
        "text": [doc.text for doc in documents],
        "n_paragraphs": [len(doc.paragraphs) for doc in documents],
        "n_kept": [counted[KEPT] for counted in statuses],
        "n_removed": [counted[REMOVED] for counted in statuses],
        "n_duplicate": [counted[DUPLICATE] for counted in statuses],
        "dup_of_doc": pa.array([repeated_document(doc.paragraphs) for doc in documents], pa.string()),
    })


def _last_of_each(documents: Sequence[Document]) -> list[Document]:
    """One document per id, the last one seen (the same URL fetched twice in one batch)."""
    return list({doc.doc_id: doc for doc in documents}.values())


def _paragraphs_table(documents: Sequence[Document], seqs: dict[str, int]) -> pa.Table:
    """Built column by column (three times as fast as row by row)."""
    paragraphs = [p for doc in documents for p in doc.paragraphs]
    columns = {
        "doc_id": [doc.doc_id for doc in documents for _ in doc.paragraphs],
        "pid": [seqs[doc.doc_id] * SEQ_SHIFT + p.position for doc in documents for p in doc.paragraphs],
    }
    for name in _PARAGRAPH_SCHEMA.names:
        if name not in columns:
            columns[name] = list(map(operator.attrgetter(name), paragraphs))
    return pa.table(columns, schema=_PARAGRAPH_SCHEMA)


def _bands_table(paragraphs: Iterable[tuple[int, Paragraph]]) -> pa.Table:
    """Band keys of the kept paragraphs among (pid, paragraph) pairs: only originals are
    candidates, and leaving duplicates out shrinks what every batch's lookup scans."""
    kept = [(pid, p) for pid, p in paragraphs if p.bands and p.status == KEPT]
    pids = np.repeat(np.array([pid for pid, _ in kept], dtype=np.int64), [len(p.bands) for _, p in kept])
    return pa.table({"band": _joined_bands(p for _, p in kept), "pid": pids}, schema=_BAND_SCHEMA)


def _joined_bands(paragraphs: Iterable[Paragraph]) -> np.ndarray:
    """The paragraphs' band keys, one after the other (a copy of their arrays' bytes)."""
    return np.frombuffer(b"".join(p.bands for p in paragraphs if p.bands), dtype=np.uint64)


def _wanted_bands(paragraphs: Sequence[Paragraph]) -> tuple[pa.Table, pa.Table]:
    """The band keys to look up: those of the paragraphs content with an original holding
    one of them (nearly all), and those of the long paragraphs, whose originals must hold
    more (shared_bands_needed), each with its asker and how many it needs."""
    signed = [(p, shared_bands_needed(p.key)) for p in paragraphs if p.bands]
    asking = [(asker, p, needed) for asker, (p, needed) in enumerate(signed) if needed > 1]
    widths = [len(p.bands) for _, p, _ in asking]
    return pa.table({"key": _joined_bands(p for p, needed in signed if needed == 1)}), pa.table({
        "key": _joined_bands(p for _, p, _ in asking),
        "asker": np.repeat(np.array([asker for asker, _, _ in asking], dtype=np.int64), widths),
        "needed": np.repeat(np.array([needed for *_, needed in asking], dtype=np.int64), widths),
    })


def _rows_table(rows: Sequence[tuple], schema: pa.Schema) -> pa.Table:
    return pa.table({name: [row[i] for row in rows] for i, name in enumerate(schema.names)}, schema=schema)


def _failures_table(failures: Iterable[Failure]) -> pa.Table:
    return _rows_table([(f.source, f.stage, f.error_type, f.message) for f in failures], _FAILURE_SCHEMA)


def _sources_table(done: Sequence[SourceDone]) -> pa.Table:
    return _rows_table([(d.source, d.content_hash, d.size, d.format, d.complete) for d in done], _SOURCE_SCHEMA)


def _index_firsts(con: duckdb.DuckDBPyConnection, fingerprints: str) -> None:
    """Recompute from the paragraphs the first occurrences (paragraph_firsts) of the
    fingerprints the query ``fingerprints`` selects, as ``key``: after paragraphs were
    deleted, or inserted before stored ones. Reads every paragraph's fingerprint."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE refirst AS {fingerprints}")
    con.execute("DELETE FROM paragraph_firsts WHERE fingerprint IN (SELECT key FROM refirst)")
    con.execute(
        "INSERT INTO paragraph_firsts SELECT fingerprint, min(pid) FROM paragraphs "
        "WHERE fingerprint IN (SELECT key FROM refirst) AND status <> 'removed' GROUP BY fingerprint"
    )


@dataclass(slots=True)
class _Known:
    """A paragraph outside the documents being resolved that shares a key with them: the
    first occurrence of a fingerprint (``first``) and/or an original (kept) paragraph, with
    the keys (teaser prefixes, band keys) under which they look it up."""

    pid: int
    first: tuple[int, Origin] | None = None
    original: Original | None = None
    prefix: int | None = None
    long_prefix: int | None = None
    bands: list[int] | None = None

    def enter(self, index: SeenIndex) -> None:
        if self.first is not None:
            index.note_first(*self.first)
        if self.original is not None:
            index.add_original(self.original, self.prefix, self.long_prefix, self.bands or ())


_Resolved = tuple  # (status, dup_kind, dup_of_doc, dup_of_position, similarity)


def _resolved(paragraph: Paragraph) -> _Resolved:
    return (paragraph.status, paragraph.dup_kind, paragraph.dup_of_doc, paragraph.dup_of_position,
            paragraph.similarity)


class _Resolution:
    """Corpus-wide dedup of one load, inside its transaction.

    Round one resolves the batch's documents and those whose duplicates pointed into
    replaced or deleted documents, in corpus order, with ``mark_duplicates`` over an index
    holding only the earlier paragraphs that share a key with them (three joins). If the
    load replaced documents (which keep their place in corpus order), later paragraphs
    sharing a key with a paragraph whose fate changed may now resolve differently: their
    documents are resolved in the next round, until nothing changes. A load that only
    appends has nothing later, hence one round."""

    def __init__(self, con: duckdb.DuckDBPyConnection, params: DedupParams):
        self.con, self.params = con, params

    def run(self, documents: Sequence[Document], seqs: dict[str, int], pointing: Sequence[str], replacing: bool) -> None:
        """Resolve and insert the documents' paragraphs. When the load replaced documents,
        the temp table ``affected_documents`` lists every document whose paragraphs changed."""
        dirty = {doc.doc_id: (seqs[doc.doc_id], list(doc.paragraphs)) for doc in documents}
        dirty.update(self._load(pointing))
        affected = dict(seqs)
        new = True
        while dirty:
            before = {(doc_id, p.position): _resolved(p) for doc_id, (_, ps) in dirty.items() if doc_id not in seqs
                      for p in ps}
            indexed = self._sweep(dirty)
            changed = [(doc_id, seq, p) for doc_id, (seq, ps) in dirty.items() for p in ps
                       if (new and doc_id in seqs) or before.get((doc_id, p.position)) != _resolved(p)]
            if new:
                self._insert(documents, seqs)
                self._index_inserted(documents, seqs, indexed, replacing)
            self._update([(seq, p) for doc_id, seq, p in changed if not (new and doc_id in seqs)])
            affected.update((doc_id, seq) for doc_id, seq, _ in changed)
            dirty = self._later(changed, dirty) if replacing and changed else {}
            new = False
        if not replacing:
            return
        affected_table = pa.table({"doc_id": pa.array(list(affected), pa.string()),
                                   "seq": pa.array(list(affected.values()), pa.int64())})
        with _registered(self.con, {"affected_table": affected_table}):
            self.con.execute("CREATE OR REPLACE TEMP TABLE affected_documents AS SELECT doc_id, seq FROM affected_table")

    # --- one round ------------------------------------------------------------------------

    def _sweep(self, dirty: dict[str, tuple[int, list[Paragraph]]]) -> set[int]:
        """Resolve the dirty documents in corpus order, entering each earlier known
        paragraph into the index just before the first document that comes after it.
        Returns the fingerprints whose first occurrence was found outside them."""
        known = self._known(dirty)
        store: dict = {}
        index, entered = SeenIndex(store), 0
        for doc_id, (seq, paragraphs) in sorted(dirty.items(), key=lambda item: item[1][0]):
            while entered < len(known) and known[entered].pid < seq * SEQ_SHIFT:
                known[entered].enter(index)
                entered += 1
            mark_duplicates(doc_id, paragraphs, store, self.params)
        return {entry.first[0] for entry in known if entry.first is not None}

    def _known(self, dirty: dict[str, tuple[int, list[Paragraph]]]) -> list[_Known]:
        live = [(seq, p) for seq, ps in dirty.values() for p in ps
                if p.status != "removed" and p.fingerprint is not None]
        tiers = self.params.tiers
        known: dict[int, _Known] = {}
        dirty_seqs = {seq for seq, _ in dirty.values()}
        with _registered(self.con, {"dirty_seqs": pa.table({"seq": pa.array(list(dirty_seqs), pa.int64())})}):
            if EXACT in tiers:
                self._known_firsts(known, {p.fingerprint for _, p in live}, dirty_seqs)
            self._known_originals(known, self._open(live, known))
        return sorted(known.values(), key=lambda entry: entry.pid)

    @staticmethod
    def _open(live: list[tuple[int, Paragraph]], known: dict[int, _Known]) -> list[Paragraph]:
        """The live paragraphs the teaser and near tiers may look up: not those whose
        fingerprint occurred before their document, which the exact tier settles (a
        crawl's repeated pages would otherwise look up every band key of every copy)."""
        first_at = {entry.first[0]: entry.pid for entry in known.values() if entry.first is not None}
        return [p for seq, p in live if first_at.get(p.fingerprint, seq * SEQ_SHIFT) >= seq * SEQ_SHIFT]

    def _known_firsts(self, known: dict[int, _Known], fingerprints: set[int], dirty_seqs: set[int]) -> None:
        """The first occurrence of each fingerprint the dirty documents hold, where it lies
        outside them, from paragraph_firsts."""
        if not fingerprints:
            return
        with _registered(self.con, {"wanted_fingerprints": _keys_table(fingerprints)}):
            indexed = self.con.execute(
                "SELECT fingerprint, pid FROM paragraph_firsts WHERE fingerprint IN (SELECT key FROM wanted_fingerprints)"
            ).fetchall()
        # A first occurrence inside the dirty documents is noted again as they are resolved,
        # and nothing outside them comes before it.
        pids = [pid for _, pid in indexed if pid // SEQ_SHIFT not in dirty_seqs]
        if not pids:
            return
        with _registered(self.con, {"first_pids": pa.table({"pid": pa.array(pids, pa.int64())})}):
            rows = self.con.execute(
                "SELECT pid, fingerprint, doc_id, position, status, dup_kind, dup_of_doc, dup_of_position, similarity "
                "FROM paragraphs SEMI JOIN first_pids USING (pid)"
            ).fetchall()
        for pid, fingerprint, doc_id, position, status, kind, dup_doc, dup_position, similarity in rows:
            origin = (Origin(doc_id, position, EXACT, 1.0) if status == KEPT
                      else Origin(dup_doc, dup_position, kind, similarity))
            known.setdefault(pid, _Known(pid)).first = (fingerprint, origin)

    def _known_originals(self, known: dict[int, _Known], paragraphs: list[Paragraph]) -> None:
        """Kept paragraphs, outside the dirty documents, sharing a teaser's prefix or a band
        key with these paragraphs."""
        tiers = self.params.tiers
        teasers = ([p for p in paragraphs if p.prefix_fingerprint is not None and is_teaser(p.text)]
                   if TEASER in tiers else [])
        wanted = {
            # Each teaser by the key SeenIndex.teaser_sources looks it up by.
            "wanted_prefixes": _keys_table({p.prefix_fingerprint for p in teasers if p.long_prefix_fingerprint is None}),
            "wanted_long_prefixes": _keys_table({p.long_prefix_fingerprint for p in teasers
                                                 if p.long_prefix_fingerprint is not None}),
        }
        wanted["wanted_bands"], long_asked = _wanted_bands(paragraphs if NEAR in tiers else [])
        # Each band key's earliest MAX_ORIGINALS_PER_BAND originals outside the dirty documents,
        # as SeenIndex keeps them in memory (the dirty ones are resolved and indexed again);
        # for a long paragraph's keys, those holding as many of them as it needs.
        lookups, parameters = [], {"shift": SEQ_SHIFT}
        for column, table in (("prefix_fingerprint", "wanted_prefixes"),
                              ("long_prefix_fingerprint", "wanted_long_prefixes")):
            if wanted[table].num_rows:
                lookups.append(f"""
                    SELECT pid, prefix_fingerprint AS prefix, long_prefix_fingerprint AS long_prefix,
                           NULL::UBIGINT[] AS bands
                    FROM paragraphs
                    WHERE {column} IN (SELECT key FROM {table}) AND status = 'kept'
                      AND pid // $shift NOT IN (SELECT seq FROM dirty_seqs)""")
        held = """(SELECT pid, band FROM paragraph_bands
                   WHERE band IN (SELECT key FROM {keys}) AND pid // $shift NOT IN (SELECT seq FROM dirty_seqs)
                   QUALIFY row_number() OVER (PARTITION BY band ORDER BY pid) <= $cap)"""
        if wanted["wanted_bands"].num_rows or long_asked.num_rows:
            parameters["cap"] = MAX_ORIGINALS_PER_BAND
        if wanted["wanted_bands"].num_rows:
            lookups.append(f"""
                SELECT pid, NULL::UBIGINT AS prefix, NULL::UBIGINT AS long_prefix, list(band) AS bands
                FROM {held.format(keys="wanted_bands")} GROUP BY pid""")
        if long_asked.num_rows:
            lookups.append(f"""
                SELECT pid, NULL::UBIGINT AS prefix, NULL::UBIGINT AS long_prefix, list(DISTINCT band) AS bands FROM (
                    SELECT pid, band, count(*) OVER (PARTITION BY pid, asker) >= needed AS enough
                    FROM {held.format(keys="long_asked")} JOIN long_asked ON band = key
                ) GROUP BY pid HAVING bool_or(enough)""")
        if not lookups:
            return
        # Grouped by pid before the join: grouping by the texts too would hash every one.
        with _registered(self.con, wanted | {"long_asked_table": long_asked}):
            # A join with an Arrow table passes the join's key range to the Arrow scan as a
            # filter, and a band key past 2**63 fails there (OverflowError, DuckDB 1.5.5): the
            # long paragraphs' keys are copied into DuckDB first.
            if long_asked.num_rows:
                self.con.execute("CREATE OR REPLACE TEMP TABLE long_asked AS SELECT * FROM long_asked_table")
            rows = self.con.execute(
                f"""
                WITH m AS (
                    SELECT pid, any_value(prefix) AS prefix, any_value(long_prefix) AS long_prefix,
                           list_distinct(flatten(list(bands))) AS bands
                    FROM ({" UNION ALL ".join(lookups)}) GROUP BY pid
                )
                SELECT p.pid, p.doc_id, p.position, p.text, m.prefix, m.long_prefix, m.bands
                FROM m JOIN paragraphs p USING (pid)
                """,
                parameters,
            ).fetchall()
        for pid, doc_id, position, text, prefix, long_prefix, band_list in rows:
            entry = known.setdefault(pid, _Known(pid))
            entry.original, entry.bands = Original(doc_id, position, text), band_list
            entry.prefix, entry.long_prefix = prefix, long_prefix

    # --- reading and writing paragraphs ---------------------------------------------------------

    def _load(self, doc_ids: Iterable[str]) -> dict[str, tuple[int, list[Paragraph]]]:
        """Stored documents' paragraphs that take part in dedup, signed again (the band
        table holds originals only; these may be duplicates)."""
        doc_ids = list(doc_ids)
        if not doc_ids:
            return {}
        with _registered(self.con, {"load_docs": pa.table({"doc_id": pa.array(doc_ids, pa.string())})}):
            rows = self.con.execute(
                """
                SELECT p.doc_id, d.seq, p.position, p.text, p.status, p.dup_kind, p.dup_of_doc, p.dup_of_position,
                       p.similarity
                FROM paragraphs p JOIN documents d USING (doc_id) SEMI JOIN load_docs USING (doc_id)
                WHERE p.status <> 'removed'
                ORDER BY p.pid
                """
            ).fetchall()
        loaded: dict[str, tuple[int, list[Paragraph]]] = {}
        for doc_id, seq, position, text, status, kind, dup_doc, dup_position, similarity in rows:
            paragraph = Paragraph(position, text, status, dup_of_doc=dup_doc, dup_of_position=dup_position,
                                  dup_kind=kind, similarity=similarity)
            loaded.setdefault(doc_id, (seq, []))[1].append(paragraph)
        for _, paragraphs in loaded.values():
            sign_paragraphs(paragraphs)
        return loaded

    def _insert(self, documents: Sequence[Document], seqs: dict[str, int]) -> None:
        staged = {
            "staged_paragraphs": _paragraphs_table(documents, seqs),
            "staged_bands": _bands_table(
                (seqs[doc.doc_id] * SEQ_SHIFT + p.position, p) for doc in documents for p in doc.paragraphs
            ),
        }
        with _registered(self.con, staged):
            self.con.execute("INSERT INTO paragraphs BY NAME SELECT * FROM staged_paragraphs")
            self.con.execute("INSERT INTO paragraph_bands BY NAME SELECT * FROM staged_bands")

    def _index_inserted(self, documents: Sequence[Document], seqs: dict[str, int], indexed: set[int],
                        replacing: bool) -> None:
        """Enter the inserted paragraphs' first occurrences into paragraph_firsts. A load that
        only appends comes after every stored paragraph, and round one looked all its
        fingerprints up: those not found are new. A replacing load may put a paragraph before
        a stored first, and a load without the exact tier looked nothing up: recomputed."""
        firsts: dict[int, int] = {}
        for doc in documents:
            for p in doc.paragraphs:
                if p.status != REMOVED and p.fingerprint is not None:
                    pid = seqs[doc.doc_id] * SEQ_SHIFT + p.position
                    firsts[p.fingerprint] = min(pid, firsts.get(p.fingerprint, pid))
        if replacing or EXACT not in self.params.tiers:
            with _registered(self.con, {"inserted_fingerprints": _keys_table(firsts)}):
                _index_firsts(self.con, "SELECT key FROM inserted_fingerprints")
            return
        new = {fingerprint: pid for fingerprint, pid in firsts.items() if fingerprint not in indexed}
        new_firsts = pa.table({"fingerprint": pa.array(list(new), pa.uint64()),
                               "pid": pa.array(list(new.values()), pa.int64())})
        with _registered(self.con, {"new_firsts": new_firsts}):
            self.con.execute("INSERT INTO paragraph_firsts SELECT fingerprint, pid FROM new_firsts")

    def _update(self, changed: Sequence[tuple[int, Paragraph]]) -> None:
        if not changed:
            return
        rows = [(seq * SEQ_SHIFT + p.position, *_resolved(p)) for seq, p in changed]
        staged = {
            "staged_resolution": _rows_table(rows, _RESOLUTION_SCHEMA),
            "staged_bands": _bands_table((seq * SEQ_SHIFT + p.position, p) for seq, p in changed),
        }
        with _registered(self.con, staged):
            self.con.execute(
                """
                UPDATE paragraphs SET status = r.status, dup_kind = r.dup_kind, dup_of_doc = r.dup_of_doc,
                    dup_of_position = r.dup_of_position, similarity = r.similarity
                FROM staged_resolution r WHERE paragraphs.pid = r.pid
                """
            )
            # The band table holds the originals: those that became duplicates leave it, and
            # those that became originals (or stay so) are in it once.
            self.con.execute("DELETE FROM paragraph_bands WHERE pid IN (SELECT pid FROM staged_resolution)")
            self.con.execute("INSERT INTO paragraph_bands BY NAME SELECT * FROM staged_bands")

    def _later(self, changed: Sequence[tuple[str, int, Paragraph]], done: dict) -> dict[str, tuple[int, list[Paragraph]]]:
        """Documents after the first changed paragraph, not resolved this round, with a
        paragraph pointing at a changed one or sharing a key with it (an exact fingerprint,
        a teaser prefix, or a band key of an original: the band table holds originals only,
        so a later duplicate keeps its original, kept and earlier, rather than move to a new
        earlier one; the exact tier is followed to the letter)."""
        paragraphs = [p for _, _, p in changed]
        tables = {
            "done_docs": pa.table({"doc_id": pa.array(list(done), pa.string())}),
            "changed_pids": pa.table({"pid": pa.array([seq * SEQ_SHIFT + p.position for _, seq, p in changed],
                                                      pa.int64())}),
            "changed_fingerprints": _keys_table({p.fingerprint for p in paragraphs if p.fingerprint is not None}),
            "changed_prefixes": _keys_table({p.prefix_fingerprint for p in paragraphs if p.prefix_fingerprint is not None}),
            "changed_bands": _keys_table({b for p in paragraphs for b in p.bands or ()}),
        }
        with _registered(self.con, tables):
            doc_ids = [row[0] for row in self.con.execute(
                """
                SELECT DISTINCT doc_id FROM paragraphs
                WHERE status <> 'removed' AND pid > $after AND doc_id NOT IN (SELECT doc_id FROM done_docs)
                  AND (fingerprint IN (SELECT key FROM changed_fingerprints)
                       OR prefix_fingerprint IN (SELECT key FROM changed_prefixes)
                       OR pid IN (SELECT pid FROM paragraph_bands WHERE band IN (SELECT key FROM changed_bands))
                       OR (dup_of_doc, dup_of_position) IN (
                           SELECT (doc_id, position) FROM paragraphs WHERE pid IN (SELECT pid FROM changed_pids)))
                """,
                {"after": min(seq * SEQ_SHIFT + p.position for _, seq, p in changed)},
            ).fetchall()]
        return self._load(doc_ids)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back what is open. A COMMIT that failed (disk full, out of memory) has already
    rolled back: ROLLBACK then raises "no transaction is active", which would hide the
    real cause being raised."""
    try:
        con.execute("ROLLBACK")
    except duckdb.TransactionException:
        pass


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """A load allocates many small objects (Arrow columns' values, dedup's index) and frees
    them by reference counting; on each allocation threshold Python's cyclic collector
    would walk the writer's whole heap (the batches held, Prefect's objects): 15 µs a
    paragraph in dedup's resolution alone, measured (bench/neardup.py)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, tables: Mapping[str, pa.Table]) -> Iterator[None]:
    """Arrow tables visible to SQL under these names for the block, and gone after it."""
    for name, table in tables.items():
        con.register(name, table)
    try:
        yield
    finally:
        for name in tables:
            con.unregister(name)


def _keys_table(keys: Iterable[int]) -> pa.Table:
    return pa.table({"key": pa.array(list(keys), pa.uint64())})


class Corpus:
    """A docmill database opened for writing. Use as a context manager. ``dedup`` says which
    dedup tiers run on loads, and the near-duplicate threshold."""

    def __init__(self, path: str | Path, dedup: DedupParams = DedupParams()):
        self.path = str(path)
        self.dedup = dedup
        self._unloaded_sources: dict[str, set[str]] = {}  # by run: files some of whose documents failed to load
        self.con = duckdb.connect(self.path, config={
            "memory_limit": WRITER_MEMORY_LIMIT,
            # The cleaning processes hold the cores; a second DuckDB thread only competes.
            "threads": 1,
            # Loads checkpoint themselves (Corpus._checkpoint), not inside their COMMIT.
            "checkpoint_threshold": "1GB",
            "max_vacuum_tasks": MAX_VACUUM_TASKS,
        })
        self._apply_schema()
        # A load's Arrow tables live for that load only. Allocated by the C library's malloc,
        # as Python's own large objects are, the memory they free serves the next batches;
        # pyarrow's default allocator (mimalloc) would keep its own high-water mark beside
        # malloc's: 35 MiB more peak RSS on bench/extraction.py's WARCs (546 against 509 MiB
        # at 1x, 607 against 572 at 10x).
        self._arrow_pool = pa.default_memory_pool()
        pa.set_memory_pool(pa.system_memory_pool())

    def __enter__(self) -> Corpus:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()
        pa.set_memory_pool(self._arrow_pool)

    def _apply_schema(self) -> None:
        found = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'docmill_meta'"
        ).fetchone()[0]
        version = None
        if found:
            row = self.con.execute("SELECT value FROM docmill_meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else None
            if version and version > SCHEMA_VERSION:
                raise SchemaError(
                    f"{self.path} has schema version {version}; this docmill reads up to {SCHEMA_VERSION}"
                )
        self.con.execute("BEGIN")
        if version is not None and version < SCHEMA_VERSION:
            self._add_columns(version)
        self.con.execute(schema_sql())
        if version is not None and version < 3:
            self._sign_stored_paragraphs(with_bands=version < 2)
        if version is not None and version < 4:
            _index_firsts(self.con, "SELECT DISTINCT fingerprint AS key FROM paragraphs")
        self.con.execute(
            "INSERT OR REPLACE INTO docmill_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )
        self.con.execute("COMMIT")

    def _add_columns(self, version: int) -> None:
        """Add the columns of the versions after ``version``. Version 1 had exact dedup only:
        version 2 added what the teaser and near-duplicate tiers need; version 3, long teaser prefixes."""
        for added_in, table, column, type_ in _ADDED_COLUMNS:
            if added_in > version:
                self.con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {type_}")
        if version < 2:
            self.con.execute(
                """
                UPDATE paragraphs SET pid = d.seq * $shift + paragraphs.position,
                    similarity = CASE WHEN paragraphs.status = 'duplicate' THEN 1.0 END
                FROM documents d WHERE d.doc_id = paragraphs.doc_id
                """,
                {"shift": SEQ_SHIFT},
            )

    def _sign_stored_paragraphs(self, with_bands: bool, chunk: int = 20_000) -> None:
        """Fingerprint stored paragraphs again and compute their teaser prefixes, and (from
        version 1) the band keys of the kept ones, so that later loads find their duplicates.
        Their resolutions stay."""
        after = -1
        while True:
            rows = self.con.execute(
                "SELECT pid, text, status FROM paragraphs WHERE status <> 'removed' AND pid > ? ORDER BY pid LIMIT ?",
                [after, chunk],
            ).fetchall()
            if not rows:
                return
            pids = [pid for pid, _, _ in rows]
            paragraphs = [Paragraph(0, text, status) for _, text, status in rows]
            sign_paragraphs(paragraphs)
            signed = {
                "signed": pa.table({
                    "pid": pa.array(pids, pa.int64()),
                    "fingerprint": pa.array([p.fingerprint for p in paragraphs], pa.uint64()),
                    "prefix": pa.array([p.prefix_fingerprint for p in paragraphs], pa.uint64()),
                    "long_prefix": pa.array([p.long_prefix_fingerprint for p in paragraphs], pa.uint64()),
                }),
                "signed_bands": _bands_table(zip(pids, paragraphs) if with_bands else ()),
            }
            with _registered(self.con, signed):
                self.con.execute(
                    "UPDATE paragraphs SET fingerprint = s.fingerprint, prefix_fingerprint = s.prefix, "
                    "long_prefix_fingerprint = s.long_prefix FROM signed s WHERE paragraphs.pid = s.pid"
                )
                self.con.execute("INSERT INTO paragraph_bands BY NAME SELECT * FROM signed_bands")
            after = pids[-1]

    # --- runs -----------------------------------------------------------------------------

    def start_run(
        self, run_id: str, run_name: str | None, sources: Sequence[str], parameters: dict,
        started_at: datetime | None = None,
    ) -> int:
        """Record a run as running, from ``started_at`` (before it waited for the database;
        an earlier attempt of the same run counts from its own start). Runs still marked
        running were killed (a run holds the writer lock from start to finish): they are
        closed as interrupted; returns how many."""
        closed = self.con.execute(
            "UPDATE runs SET status = ?, finished_at = now() WHERE status = ?",
            [RunStatus.INTERRUPTED.value, RunStatus.RUNNING.value],
        ).fetchone()[0]
        self.con.execute(
            "INSERT INTO runs (run_id, run_name, sources, parameters, started_at, status) "
            "VALUES (?, ?, ?, ?, coalesce(?::TIMESTAMPTZ, now()), ?) ON CONFLICT (run_id) DO UPDATE SET "
            "started_at = least(runs.started_at, excluded.started_at), status = excluded.status, finished_at = NULL",
            [run_id, run_name, list(sources), json.dumps(parameters, default=str), started_at, RunStatus.RUNNING.value],
        )
        return closed

    def record_unrecorded_runs(self, runs: Sequence[Mapping]) -> None:
        """Record runs that ended without the database (they gave up waiting for it), from
        storage.lock.note_unrecorded_run: each flow run once, from its first attempt's start."""
        for run in runs:
            self.con.execute(
                "INSERT INTO runs (run_id, run_name, sources, parameters, started_at, finished_at, status) "
                "VALUES (?, ?, ?, ?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?) ON CONFLICT (run_id) DO UPDATE SET "
                "started_at = least(runs.started_at, excluded.started_at), "
                "finished_at = greatest(runs.finished_at, excluded.finished_at), status = excluded.status",
                [run["run_id"], run.get("run_name"), list(run.get("sources") or []), json.dumps(run.get("parameters") or {}),
                 run["started_at"], run["finished_at"], RunStatus(run["status"]).value],
            )

    def finish_run(self, run_id: str, status: RunStatus, counts: LoadCounts) -> None:
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
            {"status": RunStatus(status).value, "run_id": run_id, **asdict(counts)},
        )

    def record_failures(self, run_id: str, failures: Sequence[Failure]) -> None:
        if failures:
            with _registered(self.con, {"staged_failures": _failures_table(failures)}):
                self.con.execute(
                    "INSERT INTO failures SELECT ?, source, stage, error_type, message, now() FROM staged_failures",
                    [run_id],
                )

    def _lookup(self, sql: str, keys: Sequence[str], params: dict | None = None) -> dict[str, str]:
        if not keys:
            return {}
        with _registered(self.con, {"wanted": pa.table({"key": list(keys)})}):
            return dict(self.con.execute(sql, params).fetchall())

    def source_hashes(self, sources: Sequence[str]) -> dict[str, str]:
        """Content hashes of the given files, for those last read to their end without a
        failure: a file that failed is read again, so that every run reports it while it stays."""
        return self._lookup(
            "SELECT source, content_hash FROM sources WHERE complete AND source IN (SELECT key FROM wanted) "
            "AND NOT EXISTS (SELECT 1 FROM failures f WHERE f.run_id = sources.run_id "
            "AND (f.source = sources.source OR starts_with(f.source, sources.source || ' (')))", sources
        )

    def document_hashes(self, records: Sequence[RawRecord]) -> dict[str, str]:
        """Content hashes of the records' documents, where stored from the same files. By
        document, not by file: a batch of a large WARC needs its fifty, not the file's all."""
        return self._lookup(
            "SELECT doc_id, content_hash FROM documents WHERE doc_id IN (SELECT key FROM wanted) "
            "AND list_contains($sources, source)",
            [record.doc_id for record in records], {"sources": list({record.source for record in records})},
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
        # A file whose documents failed to load in this run is not complete, whichever batch
        # carries its SourceDone: else the next run would skip it unread, its documents missing.
        unloaded = self._unloaded_sources.get(run_id, set())
        done = [replace(d, complete=False) if d.complete and d.source in unloaded else d for d in batch.sources_done]
        counts = LoadCounts(
            documents_unchanged=len(batch.unchanged) + self._documents_in(batch.unchanged_sources),
            documents_failed=len(batch.failures), records_skipped=batch.skipped,
        )
        staged = {
            "staged_documents": _documents_table(documents),
            "staged_unchanged": pa.table({"doc_id": pa.array(batch.unchanged, pa.string())}),
            "staged_sources": _sources_table(done),
        }
        with _registered(self.con, staged), _cyclic_gc_paused():
            try:
                self.con.execute("BEGIN")
                last_seq = self.con.execute("SELECT coalesce(max(seq), 0) FROM documents").fetchone()[0]
                counts.documents_updated = self._update_documents(run_id)
                counts.documents_new = len(documents) - counts.documents_updated
                counts.documents_deleted, replacing = self._replace_paragraphs(run_id, documents, last_seq)
                self._insert_documents(run_id, documents, last_seq)
                self._replace_tags(documents)
                if replacing:
                    self._refresh_documents()
                self._record_sources(run_id)
                self.record_failures(run_id, batch.failures)
                self.con.execute("COMMIT")
            except BaseException:
                self._unloaded_sources.setdefault(run_id, set()).update(doc.source for doc in documents)
                _rollback(self.con)
                raise
        try:
            self._checkpoint()
        finally:
            self._release_cache()
        return counts

    def _checkpoint(self) -> None:
        """Checkpoint once the log holds 16 MB. Best effort: the load is committed, in the
        write-ahead log, whatever happens here."""
        wal = Path(self.path + ".wal")
        if not wal.exists() or wal.stat().st_size < WAL_CHECKPOINT_BYTES:
            return
        try:
            self.con.execute("CHECKPOINT")
        except duckdb.FatalException:
            raise  # the database is invalidated: nothing more can be written
        except duckdb.Error:
            pass  # e.g. another transaction open: a later load, or closing, checkpoints

    def _release_cache(self) -> None:
        """Evict DuckDB's cache of the database (see WRITER_IDLE_MEMORY_LIMIT), and restore
        the usual memory limit."""
        try:
            self.con.execute(f"SET memory_limit = '{WRITER_IDLE_MEMORY_LIMIT}'")
        except duckdb.OutOfMemoryException:
            pass  # DuckDB evicted what it could; the rest is in use
        self.con.execute(f"SET memory_limit = '{WRITER_MEMORY_LIMIT}'")

    def _update_documents(self, run_id: str) -> int:
        """Update the metadata of the batch's documents already stored; their paragraphs are
        replaced and their text recomputed later in the load (_refresh_documents)."""
        self.con.execute("UPDATE documents SET seen_run_id = ? WHERE doc_id IN (SELECT doc_id FROM staged_unchanged)", [run_id])
        updated = self.con.execute(
            """
            UPDATE documents SET source = s.source, locator = s.locator, format = s.format, extractor = s.extractor,
                url = s.url, title = s.title, author = s.author, published = TRY_CAST(s.published AS DATE),
                site_name = s.site_name, description = s.description, page_lang = s.page_lang,
                fetched_at = TRY_CAST(s.fetched_at AS TIMESTAMPTZ), lang = s.lang, lang_prob = s.lang_prob,
                content_hash = s.content_hash, invalid_bytes = s.invalid_bytes, run_id = $run_id, seen_run_id = $run_id,
                updated_at = now()
            FROM staged_documents s WHERE documents.doc_id = s.doc_id
            """,
            {"run_id": run_id},
        ).fetchone()[0]
        return updated

    def _insert_documents(self, run_id: str, documents: Sequence[Document], last_seq: int) -> None:
        """Insert the batch's new documents, their paragraphs resolved: with their final text
        and counts, computed here rather than aggregated from the stored paragraphs again
        (_refresh_documents, which a load that replaced documents still runs, says the same)."""
        outcomes = _outcomes_table(documents, _appended_seqs(documents, last_seq))
        with _registered(self.con, {"staged_outcomes": outcomes}):
            self.con.execute(
                """
                INSERT INTO documents BY NAME
                SELECT s.doc_id, o.seq, s.source, s.locator, s.format, s.extractor, s.url,
                       s.title, s.author, TRY_CAST(s.published AS DATE) AS published, s.site_name, s.description,
                       s.page_lang, TRY_CAST(s.fetched_at AS TIMESTAMPTZ) AS fetched_at, s.lang, s.lang_prob,
                       o.text, s.content_hash, s.invalid_bytes, o.n_paragraphs, o.n_kept, o.n_removed, o.n_duplicate,
                       o.dup_of_doc,
                       $run_id AS run_id, $run_id AS seen_run_id, now() AS ingested_at, now() AS updated_at
                FROM staged_documents s JOIN staged_outcomes o USING (doc_id) ANTI JOIN documents d USING (doc_id)
                """,
                {"run_id": run_id},
            )

    def _replace_tags(self, documents: Sequence[Document]) -> None:
        """Swap in the batch's quality signals and personal-data spans; drop those of the
        documents deleted (``stale``, from _replace_paragraphs)."""
        for table in ("document_quality", "pii"):
            self.con.execute(f"DELETE FROM {table} WHERE doc_id IN "
                             "(SELECT doc_id FROM staged_documents UNION ALL SELECT doc_id FROM stale)")
        with _registered(self.con, {"staged_quality": _quality_table(documents), "staged_pii": _pii_table(documents)}):
            self.con.execute("INSERT INTO document_quality BY NAME SELECT * FROM staged_quality")
            self.con.execute("INSERT INTO pii BY NAME SELECT * FROM staged_pii")

    def _replace_paragraphs(self, run_id: str, documents: Sequence[Document], last_seq: int) -> tuple[int, bool]:
        """Swap in the batch's paragraphs, drop documents their re-read source no longer
        holds, and resolve duplicates for everything that came or went. Returns the number of
        documents deleted, and whether stored paragraphs were replaced or deleted."""
        self.con.execute(
            """
            CREATE OR REPLACE TEMP TABLE stale AS
            SELECT doc_id FROM documents
            WHERE source IN (SELECT source FROM staged_sources WHERE complete) AND seen_run_id <> ?
            """,
            [run_id],
        )
        # Documents whose old paragraphs go: replaced ones (loaded before this batch) and stale ones.
        self.con.execute(
            """
            CREATE OR REPLACE TEMP TABLE gone AS
            SELECT doc_id, seq FROM documents
            WHERE seq <= ? AND doc_id IN (SELECT doc_id FROM staged_documents UNION ALL SELECT doc_id FROM stale)
            """,
            [last_seq],
        )
        replacing = self.con.execute("SELECT count(*) FROM gone").fetchone()[0] > 0
        pointing: list[str] = []
        if replacing:
            pointing = [row[0] for row in self.con.execute(
                """
                SELECT DISTINCT doc_id FROM paragraphs
                WHERE status = 'duplicate' AND dup_of_doc IN (SELECT doc_id FROM gone)
                  AND doc_id NOT IN (SELECT doc_id FROM gone)
                """
            ).fetchall()]
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE gone_fingerprints AS SELECT DISTINCT fingerprint AS key "
                "FROM paragraphs WHERE doc_id IN (SELECT doc_id FROM gone) AND fingerprint IS NOT NULL"
            )
            self.con.execute("DELETE FROM paragraph_bands WHERE pid // ? IN (SELECT seq FROM gone)", [SEQ_SHIFT])
            self.con.execute("DELETE FROM paragraphs WHERE doc_id IN (SELECT doc_id FROM gone)")
            _index_firsts(self.con, "SELECT key FROM gone_fingerprints")
        deleted = self.con.execute("DELETE FROM documents WHERE doc_id IN (SELECT doc_id FROM stale)").fetchone()[0]
        seqs = _appended_seqs(documents, last_seq)
        seqs.update(self.con.execute(
            "SELECT doc_id, seq FROM documents WHERE doc_id IN (SELECT doc_id FROM staged_documents)"
        ).fetchall())
        _Resolution(self.con, self.dedup).run(documents, seqs, pointing, replacing)
        return deleted, replacing

    def _refresh_documents(self) -> None:
        """Recompute final text, counts and the document each repeats, for every document
        whose paragraphs a load that replaced or deleted documents changed (in the tables:
        later rounds of its resolution may have re-resolved any of them)."""
        # Their paragraphs come no earlier than the first of them: a bound on pid lets DuckDB
        # skip the rest of the table by its min-max index.
        first = self.con.execute("SELECT min(seq) FROM affected_documents").fetchone()[0]
        if first is None:
            return
        self.con.execute(
            """
            UPDATE documents SET text = u.text, n_paragraphs = u.n_paragraphs, n_kept = u.n_kept,
                n_removed = u.n_removed, n_duplicate = u.n_duplicate,
                dup_of_doc = CASE WHEN u.n_kept = 0 THEN u.repeats END, updated_at = now()
            FROM (
                SELECT doc_id,
                       coalesce(string_agg(text, chr(10) || chr(10) ORDER BY position)
                                -- as Document.text (tasks/records.py): kept, and the document's own repeats
                                FILTER (WHERE status = 'kept' OR (status = 'duplicate' AND dup_of_doc = doc_id
                                                                  AND dup_kind <> 'teaser')), '') AS text,
                       count(*) AS n_paragraphs,
                       count(*) FILTER (WHERE status = 'kept') AS n_kept,
                       count(*) FILTER (WHERE status = 'removed') AS n_removed,
                       count(*) FILTER (WHERE status = 'duplicate') AS n_duplicate,
                       -- The document most duplicates point at; on a tie, the one pointed at first.
                       arg_max(dup_of_doc, pointers * $shift - first_position) FILTER (WHERE status = 'duplicate')
                           AS repeats
                FROM (
                    SELECT doc_id, position, text, status, dup_of_doc, dup_kind,
                           count(*) OVER (PARTITION BY doc_id, status, dup_of_doc) AS pointers,
                           min(position) OVER (PARTITION BY doc_id, status, dup_of_doc) AS first_position
                    FROM paragraphs SEMI JOIN affected_documents USING (doc_id)
                    WHERE pid >= $first
                )
                GROUP BY doc_id
            ) u
            WHERE documents.doc_id = u.doc_id
            """,
            {"shift": SEQ_SHIFT, "first": first * SEQ_SHIFT},
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
        summary["quality"] = {"gopher": 0, "c4": 0} | dict(con.execute(
            """
            SELECT filter, count(DISTINCT doc_id) FROM (
                SELECT 'gopher' AS filter, doc_id FROM gopher_quality UNION ALL SELECT 'c4', doc_id FROM c4_quality
            ) WHERE doc_id IN (SELECT doc_id FROM documents WHERE run_id = ?) GROUP BY ALL ORDER BY 1 DESC
            """,
            [run_id],
        ).fetchall())
        summary["pii"] = dict(con.execute(
            "SELECT kind, count(*) FROM pii WHERE doc_id IN (SELECT doc_id FROM documents WHERE run_id = ?) "
            "GROUP BY ALL ORDER BY 2 DESC, 1",
            [run_id],
        ).fetchall())
        summary["failures"] = con.execute(
            "SELECT source, stage, message FROM failures WHERE run_id = ? ORDER BY source", [run_id]
        ).fetchall()
        return summary
