"""Thin Prefect task wrappers around the pure core and the storage layer.

A task handles a batch of documents, never one: a Prefect task run costs some 25 ms of
server and client work (190 more task runs cost the temporary server 4.5 CPU-seconds and
the flow's process 0.8). CPU-bound cleaning runs in a plain process pool whose workers never
import Prefect: with no Prefect server configured, each process of Prefect's own
ProcessPoolTaskRunner would start a temporary server of its own (20-30 CPU-seconds each).
So the task itself runs in a thread of the flow and spreads its batch over the pool.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor

from prefect import task
from prefect.cache_policies import NO_CACHE

from storage.corpus import Corpus, LoadCounts
from tasks.boilerplate import RuleSpec
from tasks.pipeline import clean_batch as clean_batch_core
from tasks.records import BatchResult, Failure, RawRecord, SourceFile
from tasks.sources import discover

# Inputs are large or unhashable (connections, pools): never hash them for a cache key.
_TASK_DEFAULTS = dict(cache_policy=NO_CACHE, persist_result=False)


@task(name="discover-sources", **_TASK_DEFAULTS)
def discover_sources(
    sources: Sequence[str], include: Sequence[str], exclude: Sequence[str]
) -> tuple[list[SourceFile], list[Failure]]:
    return discover(sources, include, exclude)


@task(name="clean-batch", task_run_name="clean batch {index}", **_TASK_DEFAULTS)
def clean_batch(
    index: int,
    records: Sequence[RawRecord],
    known_hashes: Mapping[str, str],
    spec: RuleSpec,
    pool: Executor | None,
    parts: int = 1,
) -> BatchResult:
    """Clean a batch, spread over the pool in at least ``parts`` consecutive chunks (see
    _chunks): a task covers more pages than one process should take on alone, to keep task
    runs few. The chunks' results come back in reading order."""
    # Paragraphs are only signed here: the writer resolves every one of them against the
    # corpus in corpus order (storage/corpus.py), its own document included.
    if pool is None or not records:  # a batch may only carry the files it completes
        return clean_batch_core(records, known_hashes, spec, resolve=False)
    futures = [
        pool.submit(clean_batch_core, chunk, _known_in(chunk, known_hashes), spec, resolve=False)
        for chunk in _chunks(records, parts)
    ]
    result = BatchResult()
    for future in futures:
        result.extend(future.result())
    return result


# The last batch's chunks end the run: the smaller they are, the less one worker waits for
# the other. 4 MiB is some 24 pages of HTML, half a second of work (bench/extraction.py);
# chunks of small text documents stay at ``parts`` a batch.
MAX_CHUNK_BYTES = 4 * 1024 * 1024


def _chunks(records: Sequence[RawRecord], parts: int) -> list[Sequence[RawRecord]]:
    """Consecutive runs of the records, ``parts`` of them or as many as MAX_CHUNK_BYTES asks
    for (never more than there are records), each closed at the record that takes it to an
    equal share of the payload."""
    total = sum(len(record.payload) for record in records)
    count = min(len(records), max(parts, -(-total // MAX_CHUNK_BYTES)))
    share = total / max(count, 1)
    chunks: list[Sequence[RawRecord]] = []
    start = held = 0
    for end, record in enumerate(records, start=1):
        held += len(record.payload)
        still_to_close = count - 1 - len(chunks)
        if still_to_close > 0 and (held >= share or len(records) - end == still_to_close):
            chunks.append(records[start:end])
            start, held = end, 0
    if start < len(records):
        chunks.append(records[start:])
    return chunks


def _known_in(records: Sequence[RawRecord], known_hashes: Mapping[str, str]) -> dict[str, str]:
    return {record.doc_id: known_hashes[record.doc_id] for record in records if record.doc_id in known_hashes}


@task(name="load-batch", task_run_name="load batch {label}", **_TASK_DEFAULTS)
def load_batch(label: str, corpus: Corpus, run_id: str, batch: BatchResult) -> LoadCounts:
    return corpus.load_batch(run_id, batch)
