"""The ``ingest`` flow: discover sources, clean them in batches on every core, load each
batch into DuckDB through one writer, and publish a summary.

Orchestration only: the work is in ``tasks`` (pure core) and ``storage`` (SQL).
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from flows.report import summary_rows
from storage.corpus import Corpus, LoadCounts
from tasks.boilerplate import RuleSpec, load_rules
from tasks.pipeline import init_worker
from tasks.prefect_tasks import clean_batch, discover_sources, load_batch
from tasks.records import BatchResult, Failure, SourceRef

DEFAULT_BATCH_SIZE = 200


def _run_name() -> str:
    sources = flow_run.parameters.get("sources") or []
    names = ", ".join(Path(str(s)).name or str(s) for s in sources[:3])
    more = f" +{len(sources) - 3}" if len(sources) > 3 else ""
    return f"ingest {names}{more} → {Path(str(flow_run.parameters.get('db', ''))).name}"


def _worker_count(requested: int | None, batches: int) -> int:
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(requested or available, batches))


@contextmanager
def _cleaning_pool(workers: int) -> Iterator[Executor | None]:
    """Worker processes for cleaning, or None to clean in the flow's own process.

    Spawned, not forked: the flow process runs Prefect's threads, which fork would copy
    mid-flight. Each worker loads the language profiles and rules once, up front.
    """
    if workers <= 1:
        init_worker()
        yield None
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=init_worker)
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


class _Progress:
    """Batch progress in the Prefect UI (a progress artifact) and, on a terminal, as a bar."""

    def __init__(self, total: int):
        self.total, self.done = total, 0
        self.artifact_id = create_progress_artifact(0.0, key="ingest-progress", description="Batches loaded")
        self.bar = None
        if sys.stderr.isatty() and total > 1:
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.bar.start()
            self.bar_task = self.bar.add_task("ingesting", total=total)

    def advance(self) -> None:
        self.done += 1
        update_progress_artifact(self.artifact_id, 100.0 * self.done / self.total)
        if self.bar is not None:
            self.bar.advance(self.bar_task)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _batches(refs: Sequence[SourceRef], size: int) -> list[list[SourceRef]]:
    return [list(refs[i : i + size]) for i in range(0, len(refs), size)]


def _failures(sources: Sequence[str], stage: str, error: BaseException) -> list[Failure]:
    message = f"{type(error).__name__}: {error}"
    return [Failure(source, stage, type(error).__name__, message) for source in sources]


@flow(name="ingest", flow_run_name=_run_name, task_runner=ThreadPoolTaskRunner(max_workers=8))
def ingest(
    sources: list[str],
    db: str = "docmill.duckdb",
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
    rules: list[str] | None = None,
    disable_rules: list[str] | None = None,
    force: bool = False,
) -> dict:
    """Ingest text files under ``sources`` into the DuckDB file ``db``.

    Args:
        sources: files and directories (walked recursively for .txt and .md files).
        db: the DuckDB database file; created if missing.
        batch_size: documents per task run.
        workers: cleaning processes; default one per available core.
        rules: extra boilerplate rule files (TOML), applied after the built-in rules.
        disable_rules: names of rules to switch off.
        force: re-process sources whose bytes have not changed since they were loaded.
    """
    logger = get_run_logger()
    run_id = str(flow_run.id)
    spec = RuleSpec(tuple(rules or ()), tuple(disable_rules or ()))
    load_rules(spec)  # fail fast on a bad rule file, before any work
    refs, discover_failures = discover_sources(sources)
    batches = _batches(refs, batch_size)
    workers = _worker_count(workers, len(batches))
    logger.info("%d sources in %d batches of up to %d, %d cleaning process(es)", len(refs), len(batches), batch_size, workers)

    counts = LoadCounts(documents_failed=len(discover_failures))
    with Corpus(db) as corpus, _cleaning_pool(workers) as pool:
        corpus.start_run(run_id, flow_run.name, sources, flow_run.parameters)
        corpus.record_failures(run_id, discover_failures)
        known = {} if force else corpus.known_hashes([ref.doc_id for ref in refs])
        progress, status = _Progress(len(batches)), "failed"
        try:
            for index, batch in _cleaned(batches, known, spec, pool, window=2 * workers):
                try:
                    loaded = load_batch(index, corpus, run_id, batch)
                except Exception as error:  # a batch that cannot load is recorded; the run goes on
                    failed = _failures([doc.source for doc in batch.documents], "load", error)
                    batch = BatchResult(failures=batch.failures + failed, unchanged=batch.unchanged)
                    loaded = load_batch(index, corpus, run_id, batch)
                counts.add(loaded)
                logger.info(
                    "batch %d/%d: %d new, %d updated, %d unchanged, %d failed",
                    index + 1, len(batches), loaded.documents_new, loaded.documents_updated,
                    loaded.documents_unchanged, loaded.documents_failed,
                )
                for failure in batch.failures:
                    logger.warning("failed [%s] %s: %s", failure.stage, failure.source, failure.message)
                progress.advance()
            status = "completed"
        finally:
            progress.close()
            corpus.finish_run(run_id, status, counts)
        summary = corpus.run_summary(run_id)
    create_table_artifact(summary_rows(summary), key="ingest-summary", description=f"docmill ingest into {db}")
    return summary


def _cleaned(batches, known, spec, pool, window: int) -> Iterator[tuple[int, BatchResult]]:
    """Cleaned batches in submission order, at most ``window`` in flight, so memory holds a
    few batches whatever the corpus size and the corpus order (hence dedup) is deterministic."""
    pending: deque = deque()
    submitted = 0
    while submitted < len(batches) or pending:
        while submitted < len(batches) and len(pending) < window:
            batch = batches[submitted]
            hashes = {ref.doc_id: known[ref.doc_id] for ref in batch if ref.doc_id in known}
            pending.append((submitted, batch, clean_batch.submit(submitted, batch, hashes, spec, pool)))
            submitted += 1
        index, batch, future = pending.popleft()
        try:
            yield index, future.result()
        except Exception as error:
            yield index, BatchResult(failures=_failures([ref.source for ref in batch], "clean", error))
