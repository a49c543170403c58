"""The ``ingest`` flow: discover source files, stream their records into batches, clean the
batches on every core, load each through one writer into DuckDB, and publish a summary.

Orchestration only: the work is in ``tasks`` (pure core) and ``storage`` (SQL).
"""
from __future__ import annotations

import ctypes
import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact, create_progress_artifact, create_table_artifact, update_progress_artifact,
)
from prefect.runtime import flow_run
from prefect.states import Completed, State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from flows.report import failures_markdown, summary_rows
from storage.corpus import LOAD_GROUP_CHARACTERS, LOAD_GROUP_PARAGRAPHS, Corpus, LoadCounts, RunStatus
from storage.lock import DatabaseBusy, note_unrecorded_run, open_with_retry, unrecorded_runs, writer_lock
from storage.search import rebuild_index
from storage.site_template import mark_site_templates
from tasks.boilerplate import Rule, RuleSpec, load_rules, site_repeat_rule
from tasks.dedup import TIERS, DedupParams
from tasks.neardup import DEFAULT_NEAR_THRESHOLD
from tasks.pipeline import init_worker
from tasks.prefect_tasks import clean_batch, discover_sources, load_batch
from tasks.records import BatchResult, Document, Failure, RawRecord
from tasks.sources import FORMATS, MAX_BATCH_BYTES, PlannedBatch, ReadOptions, plan_batches

DEFAULT_BATCH_SIZE = 200
# Cleaned batches in flight (see _cleaned). bench/throughput.py's small text documents went
# at 452 documents/s with two in flight, 465 with four. HTML batches are capped by bytes:
# past one and a half full batches (batches close at 32 MiB or 200 records, so two of them),
# the flow waits before it reads more. At "64 MiB or more", two batches a little short of
# 32 MiB let a third be read, and the loads that came then peaked 30 MiB higher.
_MAX_BATCHES_IN_FLIGHT = 4
_MAX_BYTES_IN_FLIGHT = MAX_BATCH_BYTES * 3 // 2
# A run with failed inputs ends Completed under this name: the corpus was updated, but the
# runs list and the dashboard show at a glance that something needs a look.
COMPLETED_WITH_FAILURES = "CompletedWithFailures"


class SourcesMissing(RuntimeError):
    """A source the run was given does not exist (a wrong path, a missing mount)."""


class _NoTracebackForReported(logging.Filter):
    """A run that gave up on the database, or missed a source, has logged why; it raises
    (a flow that returns a Failed state under retries is left AwaitingRetry, never run
    again) so that the deployment's retries take it up, and Prefect's traceback of that
    would bury the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], (DatabaseBusy, SourcesMissing)))


logging.getLogger("prefect.flow_runs").addFilter(_NoTracebackForReported())


def _run_name() -> str:
    sources = flow_run.parameters.get("sources") or []
    names = ", ".join(Path(str(s)).name or str(s) for s in sources[:3])
    more = f" +{len(sources) - 3}" if len(sources) > 3 else ""
    return f"ingest {names}{more} → {Path(str(flow_run.parameters.get('db', ''))).name}"


# Below this much input, starting worker processes (each imports trafilatura and loads
# the language profiles, about a second) costs more than it saves.
_POOL_THRESHOLD_BYTES = 2 * 1024 * 1024


def _worker_count(requested: int | None, input_bytes: int) -> int:
    if requested:
        return max(1, requested)
    if input_bytes < _POOL_THRESHOLD_BYTES:
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _input_bytes_up_to(sources: Sequence[str], limit: int) -> int:
    """The size of the files under ``sources``, counted until it reaches ``limit``: enough
    to tell a small input from a large one without walking a large tree twice."""
    total = 0
    for source in sources:
        for directory, _, names in os.walk(source) if os.path.isdir(source) else [("", [], [source])]:
            for name in names:
                try:
                    total += os.path.getsize(os.path.join(directory, name))
                except OSError:
                    continue  # the run itself reports what cannot be read
                if total >= limit:
                    return total
    return total


# The most Linux lets an unprivileged process ask of a pipe by default (/proc/sys/fs/pipe-max-size).
_PIPE_BYTES = 1024 * 1024


def _widen_pipes(pool: ProcessPoolExecutor) -> None:
    """Let the pool's pipes hold a megabyte, not 64 KiB: a chunk of HTML (megabytes) then
    crosses in a few writes, not dozens, each of which waits for the flow's process to give
    its feeding thread the GIL. On bench/extraction.py, each worker's time between chunks
    fell from 1.2-1.3 s to 0.8. The pipes are the pool's own (private) attributes: where
    they or the call are missing, the pool works as it is."""
    try:
        import fcntl

        for queue in (pool._call_queue, pool._result_queue):
            fcntl.fcntl(queue._writer.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _init_worker_process() -> None:
    """A cleaning process: Ctrl-C (sent to the whole process group) is for the flow's
    process to act on, which then stops the workers; and a worker dies with the flow's
    process, even when that is killed (-9), rather than outlive it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (AttributeError, OSError, TypeError):
        pass  # not Linux: the pool's own shutdown is what stops them
    if os.getppid() == 1:  # the flow's process died before prctl
        os._exit(1)
    init_worker()


def _new_pool(workers: int) -> ProcessPoolExecutor:
    """Spawned, not forked: the flow process runs Prefect's threads, which fork would copy
    mid-flight. Each worker loads the language profiles and rules once, up front."""
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker_process)
    _widen_pipes(pool)
    # Start every worker now rather than at the first batch (the pool starts them on demand).
    for _ in range(workers):
        pool.submit(os.getpid)
    return pool


_early_pool: tuple[int, ProcessPoolExecutor] | None = None


@contextmanager
def workers_started_early(requested: int | None, sources: Sequence[str]) -> Iterator[None]:
    """Start the cleaning processes the ingest run inside the block will want, before the
    run itself: `docmill ingest` enters this before Prefect starts its temporary server
    (several seconds), so that the workers' own start (half a CPU-second each, importing
    trafilatura) is over when the first batch is read, rather than delaying it. Workers the
    run did not take are stopped at the end of the block."""
    global _early_pool
    workers = _worker_count(requested, _input_bytes_up_to(sources, _POOL_THRESHOLD_BYTES))
    if workers > 1 and _early_pool is None:
        _early_pool = (workers, _new_pool(workers))
    try:
        yield
    finally:
        if _early_pool is not None:
            _stop_pool(_early_pool[1], wait=False)
            _early_pool = None


def _stop_pool(pool: ProcessPoolExecutor, wait: bool = True) -> None:
    """Shut the pool down; on an interrupt, without waiting for the chunks being cleaned.
    (The pool's processes are a private attribute: where it is missing, they finish.)"""
    if _stop_requested.is_set():
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
    pool.shutdown(wait=wait, cancel_futures=True)


# Set when the run is asked to stop (SIGINT, SIGTERM). The signal also raises in the flow's
# thread, but an exception can be swallowed on its way (DuckDB turns an interrupted query
# into a RuntimeError, which a load would record as failures): the flow checks this too.
_stop_requested = threading.Event()


class Interrupted(KeyboardInterrupt):
    """The run was asked to stop (SIGINT or SIGTERM)."""


def _check_stop() -> None:
    if _stop_requested.is_set():
        raise Interrupted("interrupted by a signal")


@contextmanager
def _signals_noted() -> Iterator[None]:
    """Note SIGINT and SIGTERM in _stop_requested, then let the handler in place act:
    Python's (KeyboardInterrupt), Prefect's (its TerminationSignal). SIGTERM's default,
    ending the process on the spot, becomes Interrupted, so that the run is closed."""
    _stop_requested.clear()
    previous = {}

    def noted(signum, frame):
        _stop_requested.set()
        handler = previous.get(signum)
        if callable(handler):
            handler(signum, frame)
        elif handler != signal.SIG_IGN:
            raise Interrupted(f"interrupted by {signal.Signals(signum).name}")

    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, noted)
    except ValueError:
        pass  # not the main thread: signals go to the thread that can take them
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def _cleaning_pool(workers: int) -> Iterator[Executor | None]:
    """Worker processes for cleaning (those started early, if there are as many), or None
    to clean in the flow's own process."""
    global _early_pool
    early, _early_pool = _early_pool, None
    if early is not None and early[0] != workers:
        _stop_pool(early[1], wait=False)
        early = None
    if workers <= 1:
        init_worker()
        yield None
        return
    pool = early[1] if early is not None else _new_pool(workers)
    try:
        yield pool
    finally:
        _stop_pool(pool)


@contextmanager
def _heap_frozen() -> Iterator[None]:
    """Leave what exists before the run (Prefect, the imported modules: some 150,000
    objects) out of Python's cyclic collector while the run allocates and frees its
    batches: each full collection would walk it all again. With the collector paused
    during loads (storage/corpus.py), the flow's process spent 0.8 CPU-seconds collecting
    on bench/extraction.py's 3,620 pages, not 1.7."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _Progress:
    """Source files done, in the Prefect UI (a progress artifact) and, on a terminal, as a bar."""

    def __init__(self, total: int):
        self.total, self.done = max(total, 1), 0
        self.artifact_id = create_progress_artifact(0.0, key="ingest-progress", description="Source files loaded")
        self.bar = None
        if sys.stderr.isatty() and total > 1:
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.bar.start()
            self.bar_task = self.bar.add_task("ingesting", total=total)

    def advance(self, files: int) -> None:
        if not files:
            return
        self.done += files
        update_progress_artifact(self.artifact_id, 100.0 * self.done / self.total)
        if self.bar is not None:
            self.bar.advance(self.bar_task, files)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _failures(items: Iterable[Document | RawRecord], stage: str, error: BaseException) -> list[Failure]:
    """One failure per document or record of a batch that failed as a whole."""
    message = f"{type(error).__name__}: {error}"
    return [
        Failure(item.source + (f" ({item.locator})" if item.locator else ""), stage, type(error).__name__, message)
        for item in items
    ]


@flow(name="ingest", flow_run_name=_run_name, task_runner=ThreadPoolTaskRunner(max_workers=8))
def ingest(
    sources: list[str],
    db: str = "docmill.duckdb",
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
    rules: list[str] | None = None,
    disable_rules: list[str] | None = None,
    force: bool = False,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    format: str | None = None,
    text_field: str = "text",
    html_field: str = "html",
    lock_timeout: float = 600,
    dedup_tiers: list[str] | None = None,
    near_threshold: float = DEFAULT_NEAR_THRESHOLD,
) -> dict | State:
    """Ingest documents from files and directories into the DuckDB file ``db``.

    Args:
        sources: files and directories (walked recursively).
        db: the DuckDB database file; created if missing.
        batch_size: documents per task run.
        workers: cleaning processes; default one per available core.
        rules: extra boilerplate rule files (TOML), applied after the built-in rules.
        disable_rules: names of rules to switch off.
        force: re-process sources whose bytes have not changed since they were loaded.
        include: glob patterns of files to take from directories (default: known formats).
        exclude: glob patterns of files to leave out.
        format: read every file as this format (txt, html, jsonl, warc) instead of detecting it.
        text_field: JSON Lines field holding plain text.
        html_field: JSON Lines field holding HTML (used when present).
        lock_timeout: seconds to wait while another run writes ``db`` or another program
            holds it open; then the run fails, having written nothing.
        dedup_tiers: which paragraph dedup tiers run: exact, teaser, near (default: all three).
        near_threshold: how alike a near-duplicate must be: the share of character 5-grams it
            shares with its original (Jaccard similarity), in (0, 1].
    """
    logger = get_run_logger()
    # The run counts from here, its wait for the database included.
    started_at, clock = datetime.now(timezone.utc), time.monotonic()
    if format is not None and format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    run_id = str(flow_run.id)
    spec = RuleSpec(tuple(rules or ()), tuple(disable_rules or ()))
    load_rules(spec)  # fail fast on a bad rule file, before any work
    dedup = DedupParams(TIERS if dedup_tiers is None else tuple(dedup_tiers), near_threshold)  # fails fast too
    options = ReadOptions(format=format, text_field=text_field, html_field=html_field)
    files, discover_failures = discover_sources(sources, include or (), exclude or ())
    workers = _worker_count(workers, _input_bytes_up_to([file.path for file in files], _POOL_THRESHOLD_BYTES))
    logger.info("%d source files, %d cleaning process(es)", len(files), workers)
    for failure in discover_failures:
        logger.warning("failed [%s] %s: %s", failure.stage, failure.source, failure.message)

    counts = LoadCounts(documents_failed=len(discover_failures))
    # Backoff across the deployment's retries: each attempt waits twice as long as the last.
    wait = lock_timeout * 2 ** max((flow_run.run_count or 1) - 1, 0)
    try:
        with _signals_noted(), writer_lock(db, run_id, wait, logger.warning):
            opened = open_with_retry(db, lambda: Corpus(db, dedup), wait, logger.warning)
            with opened as corpus, _cleaning_pool(workers) as pool, _heap_frozen():
                with unrecorded_runs(db) as earlier:
                    corpus.record_unrecorded_runs(earlier)
                closed = corpus.start_run(run_id, flow_run.name, sources, flow_run.parameters, started_at)
                if closed:
                    logger.warning("%d earlier run(s) left running by a killed process: closed as interrupted", closed)
                corpus.record_failures(run_id, discover_failures)
                known_sources = {} if force else corpus.source_hashes([file.source for file in files])
                planned = plan_batches(files, options, known_sources, batch_size)
                cleaned = _cleaned(planned, corpus, force, spec, pool, parts=2 * workers)
                # A run that missed a source it was given fails (see _outcome), in runs as in Prefect.
                _load_all(cleaned, corpus, run_id, counts, _Progress(len(files)), site_repeat_rule(load_rules(spec)),
                          RunStatus.FAILED if _missing(discover_failures) else RunStatus.COMPLETED)
                summary = corpus.run_summary(run_id)
            _refresh_search_index(db, summary)
    except DatabaseBusy as busy:
        logger.error("%s", busy)
        note_unrecorded_run(db, {
            "run_id": run_id, "run_name": flow_run.name, "sources": list(sources), "parameters": flow_run.parameters,
            "started_at": started_at.isoformat(), "finished_at": datetime.now(timezone.utc).isoformat(),
            "status": RunStatus.FAILED.value,
        })
        raise  # a failure, which the deployment's retries take up (no traceback: _NoTracebackForReported)
    summary.update(seconds=round(time.monotonic() - clock, 1), source_files=len(files))
    create_table_artifact(summary_rows(summary), key="ingest-summary", description=f"docmill ingest into {db}")
    if summary.get("failures"):
        create_markdown_artifact(failures_markdown(summary["failures"]), key="ingest-failures",
                                 description="Sources this run could not ingest")
    return _outcome(summary, discover_failures)


def _missing(discover_failures: Sequence[Failure]) -> list[str]:
    """The sources given to the run that do not exist."""
    return [f.source for f in discover_failures if f.error_type == "FileNotFoundError"]


def _outcome(summary: dict, discover_failures: Sequence[Failure]) -> dict | State:
    """The run's final state: the summary if nothing failed; SourcesMissing (the run fails)
    if a source given was not found (a wrong path or a missing mount, not a bad file); else
    Completed, named COMPLETED_WITH_FAILURES, the count by stage in its message."""
    failures = summary.get("failures") or []
    if not failures:
        return summary
    by_stage = Counter(stage for _, stage, _ in failures)
    message = f"{len(failures)} input(s) failed: " + ", ".join(f"{stage} {n}" for stage, n in by_stage.most_common())
    missing = _missing(discover_failures)
    if missing:
        get_run_logger().error("source not found: %s", ", ".join(missing))
        raise SourcesMissing(f"source not found: {', '.join(missing)}; {message}")
    return Completed(name=COMPLETED_WITH_FAILURES, message=message, data=summary)


def _load_all(
    cleaned: Iterator[tuple[int, PlannedBatch, BatchResult] | None], corpus: Corpus, run_id: str, counts: LoadCounts,
    progress: _Progress, site_rule: Rule | None = None, done: RunStatus = RunStatus.COMPLETED,
) -> None:
    """Load the cleaned batches in order, in groups (see LOAD_GROUP_PARAGRAPHS), one INFO
    line each, then mark the lines repeated across a site (``site_rule``); the run is
    recorded ``done``, or failed if anything escapes."""
    logger, status = get_run_logger(), RunStatus.FAILED
    try:
        for group in _groups(cleaned, LOAD_GROUP_PARAGRAPHS, LOAD_GROUP_CHARACTERS):
            _check_stop()
            label = _label(group)
            loaded = _load_group(label, group, corpus, run_id)
            counts.add(loaded)
            logger.info(
                "%s %s: %d new, %d updated, %d unchanged, %d deleted, %d failed, %d skipped",
                "batch" if len(group) == 1 else "batches", label, loaded.documents_new, loaded.documents_updated, loaded.documents_unchanged,
                loaded.documents_deleted, loaded.documents_failed, loaded.records_skipped,
            )
            for _, batch in group:
                for failure in batch.failures:
                    logger.warning("failed [%s] %s: %s", failure.stage, failure.source, failure.message)
                progress.advance(len(batch.sources_done) + len(batch.unchanged_sources))
        _check_stop()
        if site_rule is not None:
            site = mark_site_templates(corpus, run_id, site_rule)
            logger.info("%s: %d sites counted, %d template lines, %d paragraphs marked, %d unmarked",
                        site_rule.name, site.sites, site.lines, site.marked, site.unmarked)
        status = done
    finally:
        progress.close()
        if _stop_requested.is_set():
            status = RunStatus.INTERRUPTED
        corpus.finish_run(run_id, status, counts)


def _groups(
    cleaned: Iterator[tuple[int, PlannedBatch, BatchResult] | None], paragraphs: int, characters: int
) -> Iterator[list[tuple[int, BatchResult]]]:
    """Consecutive cleaned batches (their reading results attached) holding at least
    ``paragraphs`` paragraphs or ``characters`` characters of paragraph text, the last group
    whatever it holds. The raw records are not kept: HTML payloads would weigh ten times the
    cleaned documents.

    Once the input is all read (None in ``cleaned``), what is held is loaded at once and
    each later batch on its own, as it comes: each load then overlaps the cleaning of the
    batches after it, and only the last batch is left to load when the workers are done.
    (Held together, the batches still cleaning when bench/extraction.py's input was all
    read were loaded after the last of them, 0.3 s in which both workers idled.)"""
    group: list[tuple[int, BatchResult]] = []
    held, held_characters, draining = 0, 0, False
    for item in cleaned:
        if item is None:
            draining = True
        else:
            index, plan, batch = item
            group.append((index, plan.attach(batch)))
            held += batch.paragraph_count
            held_characters += batch.character_count
        if group and (held >= paragraphs or held_characters >= characters or draining):
            yield group
            group, held, held_characters = [], 0, 0
    if group:
        yield group


def _refresh_search_index(db: str, summary: dict) -> None:
    """Rebuild the full-text index if the run changed documents: DuckDB's fts index is not
    incremental. Search is secondary, so a failure is a warning and the run stays completed."""
    if not any(summary.get(key) for key in ("documents_new", "documents_updated", "documents_deleted")):
        return
    logger = get_run_logger()
    try:
        built = rebuild_index(db)
    except Exception as error:
        logger.warning("search index not rebuilt: %s (run `docmill reindex --db %s`)", error, db)
        return
    logger.info("search index rebuilt: %d paragraphs in %.2f s", built.paragraphs, built.seconds)


def _label(group: Sequence[tuple[int, BatchResult]]) -> str:
    """The group's batch numbers: "3", or "3-7"."""
    first, last = group[0][0], group[-1][0]
    return str(first) if first == last else f"{first}-{last}"


def _load_group(label: str, group: Sequence[tuple[int, BatchResult]], corpus: Corpus, run_id: str) -> LoadCounts:
    """Load a group of batches in one transaction; if it cannot load, each batch on its
    own, so that one bad batch costs only its own documents."""
    merged = BatchResult()
    for _, batch in group:
        merged.extend(batch)
    if len(group) == 1:
        return _load(label, corpus, run_id, merged)
    try:
        return load_batch(label, corpus, run_id, quote(merged))
    except Exception:
        _check_stop()
        counts = LoadCounts()
        for index, batch in group:
            counts.add(_load(str(index), corpus, run_id, batch))
        return counts


def _load(label: str, corpus: Corpus, run_id: str, batch: BatchResult) -> LoadCounts:
    """Load a batch; if it cannot load, record its documents as failures and go on."""
    try:
        return load_batch(label, corpus, run_id, quote(batch))
    except Exception as error:
        _check_stop()  # a load cut short by a signal has not failed: the run stops
        failed = _failures(batch.documents, "load", error)
        # Its files are recorded, those whose documents failed as incomplete (Corpus.load_batch).
        kept = BatchResult(failures=batch.failures + failed, skipped=batch.skipped, unchanged_sources=batch.unchanged_sources,
                           sources_done=batch.sources_done)
        return load_batch(label, corpus, run_id, quote(kept))


def _cleaned(
    planned: Iterator[PlannedBatch], corpus: Corpus, force: bool, spec: RuleSpec, pool: Executor | None, parts: int
) -> Iterator[tuple[int, PlannedBatch, BatchResult] | None]:
    """Cleaned batches in reading order, numbered from 1, each spread over the pool in
    ``parts`` chunks. Up to four are in flight, so that the workers have work while the flow
    loads, but no more than two batches of HTML (see _MAX_BYTES_IN_FLIGHT): memory holds a
    few batches whatever the corpus size, and corpus order (hence dedup) is deterministic.
    None comes once, when every batch has been submitted."""
    pending: deque = deque()
    in_flight = 0
    for index, plan in enumerate(planned, start=1):
        _check_stop()
        known = {} if force else corpus.document_hashes(plan.records)
        future = clean_batch.submit(index, quote(plan.records), quote(known), spec, pool, parts)
        pending.append((index, plan, future))
        in_flight += plan.payload_bytes
        while len(pending) >= _MAX_BATCHES_IN_FLIGHT or in_flight > _MAX_BYTES_IN_FLIGHT:
            in_flight -= pending[0][1].payload_bytes
            yield _result(*pending.popleft())
    yield None
    while pending:
        yield _result(*pending.popleft())


def _result(index: int, plan: PlannedBatch, future) -> tuple[int, PlannedBatch, BatchResult]:
    try:
        result = future.result()
    except Exception as error:
        _check_stop()  # workers stopped by a signal have not failed the batch
        result = BatchResult(failures=_failures(plan.records, "clean", error))
    # The batch is cleaned: its payloads (some 32 MB of HTML) need not live through the
    # load of its group. Emptied in place, not replaced: the clean task's thread can still
    # hold the list for a moment after its result is in, and some loads then ran with two
    # batches of HTML held, not one.
    plan.records.clear()
    _return_freed_memory()
    return index, plan, result


def _libc_malloc_trim():
    """glibc's malloc_trim, or None where the C library has none (musl, macOS, Windows)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError, TypeError):
        return None


_malloc_trim = _libc_malloc_trim()


def _return_freed_memory() -> None:
    """Give the pages of the payloads just freed back to the system. glibc keeps freed
    memory in its heap for reuse, and the next batch's payloads do not land just where the
    last one's were, so the heap's resident pages grew by up to a batch between loads. On
    bench/extraction.py's WARCs the peaks at one, three and ten times the input fell from
    491, 498 and 512 MiB to 471, 477 and 489, for 1 to 14 ms a call (3 at the median)."""
    if _malloc_trim is not None:
        _malloc_trim(0)
