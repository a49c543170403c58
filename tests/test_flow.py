"""The real ingest flow on a real (temporary) Prefect server, into a temporary DuckDB file."""
from __future__ import annotations

import json
import os
import shutil

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.ingest import ingest

from conftest import SAMPLES

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_harness")]


def rows(db, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


CONTENT = "SELECT doc_id, position, status, removed_by, dup_of_doc, dup_of_position, text, lang FROM paragraphs ORDER BY ALL"


def test_ingest_samples_then_rerun_changes_nothing(tmp_path):
    db = tmp_path / "corpus.duckdb"
    summary = ingest(sources=[str(SAMPLES)], db=str(db))
    assert (summary["documents_new"], summary["paragraphs_kept"], summary["paragraphs_removed"]) == (2, 23, 8)
    assert summary["languages"] == {"fr": 2}
    assert rows(db, "SELECT title, lang FROM documents ORDER BY source") == [
        ('En visite à Téhéran, le plus haut responsable russe de la défense propose une "coopération totale" '
         "avec l'Iran avant une éventuelle guerre avec Israël", "fr"),
        ("Sergueï Choïgou en Iran pour réaffirmer le soutien de Moscou", "fr"),
    ]
    teaser = rows(db, "SELECT p.dup_of_position, o.status, starts_with(o.text, 'L’ancien ministre') "
                      "FROM paragraphs p JOIN paragraphs o ON o.doc_id = p.dup_of_doc AND o.position = p.dup_of_position "
                      "WHERE p.removed_by = 'truncated_repeat'")
    assert teaser == [(6, "kept", True)]
    before = rows(db, CONTENT)

    again = ingest(sources=[str(SAMPLES)], db=str(db))
    assert (again["documents_new"], again["documents_updated"], again["documents_unchanged"]) == (0, 0, 2)
    assert rows(db, CONTENT) == before
    assert rows(db, "SELECT count(*) FROM runs WHERE status = 'completed'") == [(2,)]


def test_bad_inputs_are_failures_and_the_run_goes_on(tmp_path):
    inbox = tmp_path / "inbox"
    shutil.copytree(SAMPLES, inbox)
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    latin1 = "Le café coûte cher à Paris, hélas. Les élèves sont très sûrs d'eux, déjà en été."
    (inbox / "legacy.txt").write_bytes(latin1.encode("latin-1"))
    db = tmp_path / "corpus.duckdb"
    state = ingest(sources=[str(inbox)], db=str(db), return_state=True)
    # Not a plain green "Completed": the runs list tells this run apart, with the count.
    assert state.is_completed() and state.name == "CompletedWithFailures"
    assert state.message == "2 input(s) failed: read 1, decode 1"
    summary = state.result()
    assert (summary["status"], summary["documents_new"], summary["documents_failed"]) == ("completed", 3, 2)
    artifacts = artifacts_of(state)
    markdown = artifacts["ingest-failures"].data
    assert "# 2 sources could not be ingested" in markdown and "| decode | `" in markdown
    table = {row["metric"]: row["value"] for row in json.loads(artifacts["ingest-summary"].data)}
    assert (table["source files seen"], table["failed at decode"], table["failed at read"]) == ("5", "1", "1")
    assert 0 < float(table["run duration (s)"]) < 600
    failures = {source.rsplit("/", 1)[1]: (stage, message) for source, stage, message in
                rows(db, "SELECT source, stage, message FROM failures")}
    assert failures["image.txt"] == ("decode", "binary content (NUL bytes), not text")
    assert failures["empty.txt"] == ("read", "empty file: no text to ingest")
    assert rows(db, "SELECT text, lang FROM documents WHERE source LIKE '%legacy.txt'") == [(latin1, "fr")]


def test_a_bad_file_that_stays_is_reported_by_every_run_and_failing_now(tmp_path):
    from storage.stats import corpus_stats

    inbox = tmp_path / "inbox"
    shutil.copytree(SAMPLES, inbox)
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    (inbox / "feed.jsonl").write_text(
        json.dumps({"text": "A story delivered by the feed, long enough to be a paragraph of text."}) + "\n{oops\n")
    db = tmp_path / "corpus.duckdb"
    first = ingest(sources=[str(inbox)], db=str(db))
    second = ingest(sources=[str(inbox)], db=str(db), return_state=True)
    summary = second.result()
    names = lambda failures: sorted((source.rsplit("/", 1)[1], stage) for source, stage, _ in failures)
    expected = [("empty.txt", "read"), ("feed.jsonl", "parse"), ("image.txt", "decode")]
    assert names(first["failures"]) == names(summary["failures"]) == expected
    assert second.name == "CompletedWithFailures" and summary["documents_new"] == 0
    assert names(rows(db, "SELECT source, stage, message FROM failing_now")) == expected
    assert "Failing now" in corpus_stats(db) and "image.txt" in corpus_stats(db)

    (inbox / "image.txt").unlink()  # fixed or gone: no longer failing
    (inbox / "empty.txt").write_text("Now the file has a sentence of its own, long enough to keep.\n")
    third = ingest(sources=[str(inbox)], db=str(db))
    assert names(third["failures"]) == [("feed.jsonl", "parse")]
    assert names(rows(db, "SELECT source, stage, message FROM failing_now")) == [("feed.jsonl", "parse")]


def test_a_missing_source_directory_fails_the_run_with_a_warning(tmp_path):
    db = tmp_path / "corpus.duckdb"
    missing = tmp_path / "inbox"
    state = ingest(sources=[str(missing)], db=str(db), return_state=True)
    assert state.is_failed()
    assert state.message.endswith(f"SourcesMissing: source not found: {missing}; 1 input(s) failed: discover 1")
    assert rows(db, "SELECT source, stage FROM failures") == [(str(missing), "discover")]
    assert rows(db, "SELECT source FROM failing_now") == [(str(missing),)]
    assert rows(db, "SELECT status FROM runs") == [("failed",)]
    logs = logs_of(state)
    assert f"failed [discover] {missing}: no such file or directory: {missing}" in [l.message for l in logs if l.level == 30]
    assert f"source not found: {missing}" in [log.message for log in logs if log.level == 40]
    assert not any("Traceback" in log.message for log in logs)


def test_parallel_batches_load_the_same_corpus_as_one_process(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shared = "Ce paragraphe partagé est assez long pour être dédupliqué entre les documents du corpus."
    for i in range(24):
        (inbox / f"doc{i:02}.txt").write_text(
            f"Titre du document {i}\nCeci est le contenu propre du document numéro {i}, écrit pour le test.\n"
            f"{shared}\nRechercher\n", encoding="utf-8")
    serial, parallel = tmp_path / "serial.duckdb", tmp_path / "parallel.duckdb"
    # The shared paragraph, in every document of the folder, would be the site's template
    # text (tests/test_site_template.py): left to dedup here, which is what this test is about.
    ingest(sources=[str(inbox)], db=str(serial), workers=1, batch_size=5, disable_rules=["site_template"])
    summary = ingest(sources=[str(inbox)], db=str(parallel), workers=2, batch_size=5, disable_rules=["site_template"])
    assert summary["documents_new"] == 24 and summary["paragraphs_duplicate"] == 23
    assert rows(parallel, CONTENT) == rows(serial, CONTENT)


def test_a_batch_holding_only_files_it_completes_cleans_without_error(tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    # Ten files in batches of five: the tenth file's end travels in a batch of its own, with no records.
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(10):
        (inbox / f"doc{i}.txt").write_text(f"Document {i} has a sentence of its own, long enough to keep.\n",
                                           encoding="utf-8")
    db = tmp_path / "corpus.duckdb"
    state = ingest(sources=[str(inbox)], db=str(db), workers=2, batch_size=5, return_state=True)
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        )
    assert sorted(run.name for run in task_runs if run.name.startswith("clean")) == [
        "clean batch 1", "clean batch 2", "clean batch 3"]
    assert all(run.state.is_completed() for run in task_runs)
    assert rows(db, "SELECT count(*) FROM sources WHERE complete") == [(10,)]


def logs_of(state) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort

    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)  # the run's last lines may still be on their way
    with get_client(sync_client=True) as client:
        return client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id])),
                                sort=LogSort.TIMESTAMP_ASC)


def artifacts_of(state) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]))
        )
    return {artifact.key: artifact for artifact in artifacts}


def test_run_publishes_a_summary_artifact(tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    state = ingest(sources=[str(SAMPLES)], db=str(tmp_path / "corpus.duckdb"), return_state=True)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["ingest-summary", "ingest-progress"]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
            )
        )
    by_key = {artifact.key: artifact for artifact in artifacts}
    assert by_key.keys() == {"ingest-summary", "ingest-progress"}
    assert by_key["ingest-progress"].data == 100
    summary = json.loads(by_key["ingest-summary"].data)
    assert {"metric": "removed by truncated_repeat", "value": "1"} in summary
    assert {"metric": "documents new", "value": "2"} in summary


def test_mixed_inputs_through_the_flow(tmp_path):
    from test_inputs import ARTICLE, page, write_warc

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_warc(inbox / "crawl.warc.gz")
    (inbox / "feed.jsonl").write_text(
        json.dumps({"url": "https://feed.example/1", "title": "Feed story", "date": "2024-05-02",
                    "text": "A story delivered by the feed, long enough to be a paragraph of text."}) + "\n{oops\n"
    )
    (inbox / "page.html").write_text(page(ARTICLE, "Local page"))
    db = tmp_path / "corpus.duckdb"
    summary = ingest(sources=[str(inbox)], db=str(db))
    assert (summary["documents_new"], summary["documents_failed"], summary["records_skipped"]) == (4, 1, 3)
    assert rows(db, "SELECT format, extractor, url, title, published::VARCHAR FROM documents ORDER BY format, url") == [
        ("html", "trafilatura", None, "Local page", None),
        ("jsonl", "plain", "https://feed.example/1", "Feed story", "2024-05-02"),
        ("warc.gz", "trafilatura", "https://port.example/one", "One", None),
        ("warc.gz", "trafilatura", "https://port.example/two", "Two", None),
    ]
    assert rows(db, "SELECT stage, message FROM failures") == [
        ("parse", "line 2: not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")
    ]
    assert rows(db, "SELECT count(*) FROM sources WHERE complete") == [(3,)]
    again = ingest(sources=[str(inbox)], db=str(db))
    assert (again["documents_new"], again["documents_unchanged"], again["records_skipped"]) == (0, 4, 0)


def test_a_batch_that_cannot_load_costs_only_its_own_documents(tmp_path, monkeypatch):
    """The writer loads batches in groups; when a group fails, each batch is loaded alone."""
    from storage.corpus import Corpus

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(6):
        poison = " POISON" if i == 3 else ""
        (inbox / f"doc{i}.txt").write_text(f"Document {i} du corpus, avec assez de texte pour compter.{poison}\n",
                                           encoding="utf-8")
    real_load = Corpus.load_batch

    def load_unless_poisoned(self, run_id, batch):
        if any("POISON" in p.text for d in batch.documents for p in d.paragraphs):
            raise RuntimeError("cannot load this batch")
        return real_load(self, run_id, batch)

    monkeypatch.setattr(Corpus, "load_batch", load_unless_poisoned)
    db = tmp_path / "corpus.duckdb"
    summary = ingest(sources=[str(inbox)], db=str(db), workers=1, batch_size=2)
    assert (summary["documents_new"], summary["documents_failed"]) == (4, 2)
    assert rows(db, "SELECT stage, count(*) FROM failures GROUP BY ALL") == [("load", 2)]
    assert rows(db, "SELECT count(*) FROM documents WHERE source LIKE '%doc3.txt' OR source LIKE '%doc2.txt'") == [(0,)]


def test_what_is_held_is_loaded_once_the_input_is_all_read():
    """Groups close at the paragraph threshold; at the marker that every batch has been
    submitted (None), what is held is loaded, and every later batch on its own, so that
    only the last batch is left to load when the cleaning is done."""
    from flows.ingest import _groups
    from tasks.records import BatchResult, Document, Paragraph
    from tasks.sources import PlannedBatch

    def cleaned(index: int, paragraphs: int) -> tuple[int, PlannedBatch, BatchResult]:
        document = Document(f"d{index}", "s", "h", [Paragraph(i, f"p{i}") for i in range(paragraphs)])
        return index, PlannedBatch(), BatchResult(documents=[document])

    stream = [cleaned(1, 6), cleaned(2, 5), cleaned(3, 2), None, cleaned(4, 3), cleaned(5, 1)]
    assert [[index for index, _ in group] for group in _groups(iter(stream), 10, 10**6)] == [[1, 2], [3], [4], [5]]
    assert [[index for index, _ in group] for group in _groups(iter([None, cleaned(1, 2)]), 10, 10**6)] == [[1]]


def test_groups_of_long_paragraphs_close_at_the_character_threshold():
    """A group holds a few long paragraphs, not LOAD_GROUP_PARAGRAPHS of them: its memory
    follows its text, whatever the number of paragraphs."""
    from flows.ingest import _groups
    from tasks.records import BatchResult, Document, Paragraph
    from tasks.sources import PlannedBatch

    def cleaned(index: int, length: int) -> tuple[int, PlannedBatch, BatchResult]:
        document = Document(f"d{index}", "s", "h", [Paragraph(0, "x" * length)])
        return index, PlannedBatch(), BatchResult(documents=[document])

    stream = [cleaned(1, 600), cleaned(2, 500), cleaned(3, 1200), cleaned(4, 10), None]
    assert [[index for index, _ in group] for group in _groups(iter(stream), 10, 1000)] == [[1, 2], [3], [4]]


@given(st.lists(st.integers(1, 3 * 1024 * 1024), min_size=1, max_size=60), st.integers(1, 8))
@settings(max_examples=200, deadline=None)
def test_a_batch_is_chunked_in_order_into_equal_shares(sizes, parts):
    from tasks.prefect_tasks import MAX_CHUNK_BYTES, _chunks
    from tasks.records import RawRecord

    records = [RawRecord(f"d{i}", "s", None, "html", "", b"x" * size) for i, size in enumerate(sizes)]
    chunks = _chunks(records, parts)
    assert [record for chunk in chunks for record in chunk] == records
    assert len(chunks) == min(len(records), max(parts, -(-sum(sizes) // MAX_CHUNK_BYTES)))
    share = sum(sizes) / len(chunks)
    # A chunk closes at the record that takes it to its share, not later.
    assert all(sum(len(r.payload) for r in chunk[:-1]) < share for chunk in chunks[:-1])


def test_workers_started_early_are_the_runs_and_stop_with_the_block(tmp_path):
    """`docmill ingest` starts the workers before Prefect's server, for the run to take; a
    run wanting another number of workers, or no run at all, leaves none behind."""
    import fcntl

    from flows import ingest as flow_module

    large, small = tmp_path / "large.txt", tmp_path / "small.txt"
    large.write_bytes(b"x" * flow_module._POOL_THRESHOLD_BYTES)
    small.write_text("a few words\n", encoding="utf-8")

    with flow_module.workers_started_early(None, [str(tmp_path)]):
        workers, early = flow_module._early_pool
        assert workers > 1 or len(os.sched_getaffinity(0)) == 1
        processes = set(early.submit(os.getpid).result() for _ in range(8))
        with flow_module._cleaning_pool(workers) as pool:
            assert pool is early and pool.submit(os.getpid).result() in processes
            assert fcntl.fcntl(pool._call_queue._writer.fileno(), fcntl.F_GETPIPE_SZ) == flow_module._PIPE_BYTES
    with flow_module.workers_started_early(2, [str(small)]):
        _, early = flow_module._early_pool
        with flow_module._cleaning_pool(1) as pool:
            assert pool is None and flow_module._early_pool is None
        with pytest.raises(RuntimeError):  # shut down: it takes no more work
            early.submit(os.getpid)
    with flow_module.workers_started_early(None, [str(small)]):
        assert flow_module._early_pool is None  # too little input to start processes for
    with flow_module.workers_started_early(2, [str(small)]):
        _, early = flow_module._early_pool
    assert flow_module._early_pool is None
    with pytest.raises(RuntimeError):
        early.submit(os.getpid)


def _held(db, run: str, seconds: float, after=None):
    """Hold the database's writer lock from another thread for ``seconds`` from when the
    event ``after`` is set; returns the thread."""
    import threading
    import time

    from storage.lock import writer_lock

    taken = threading.Event()

    def hold():
        with writer_lock(db, run, timeout=5):
            taken.set()
            after.wait(600)
            time.sleep(seconds)
        thread.released = time.monotonic()

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait(5)
    return thread


def test_a_run_waiting_for_the_lock_says_who_holds_it_and_counts_the_wait(tmp_path, monkeypatch):
    import threading
    import time

    from storage import lock

    monkeypatch.setattr(lock, "WAIT_REPORT_SECONDS", 1.0)
    waiting, report = threading.Event(), lock._WaitReporter.__call__
    began = []

    def noted(self, holder):
        if not waiting.is_set():
            began.append(time.monotonic())
            waiting.set()
        report(self, holder)

    monkeypatch.setattr(lock._WaitReporter, "__call__", noted)
    db = tmp_path / "corpus.duckdb"
    holder = _held(db, "nightly-123", 3, after=waiting)
    state = ingest(sources=[str(SAMPLES)], db=str(db), lock_timeout=60, return_state=True)
    holder.join()
    waited = holder.released - began[0]
    assert state.is_completed()
    warnings = [log.message for log in logs_of(state) if log.level == 30]
    assert warnings[0].startswith(f"waiting up to 60 s for the database: {db} is being written by docmill run nightly-123 (pid")
    assert any(w.startswith("still waiting for the database after ") and "nightly-123" in w for w in warnings[1:])
    ((status, seconds),) = rows(db, "SELECT status, epoch(finished_at - started_at) FROM runs")
    assert status == "completed" and seconds >= waited  # the wait included


def test_a_run_that_gives_up_on_the_lock_is_retried_and_reaches_runs(tmp_path):
    from storage.stats import corpus_stats

    import threading

    db = tmp_path / "corpus.duckdb"
    done = threading.Event()
    holder = _held(db, "nightly-123", 0, after=done)
    # As the deployments run it (retries in deployments/prefect.yaml): each attempt waits twice as long.
    state = ingest.with_options(retries=1, retry_delay_seconds=0)(
        sources=[str(SAMPLES)], db=str(db), lock_timeout=1, return_state=True)
    done.set()
    assert state.is_failed() and "is being written by docmill run nightly-123" in state.message
    messages = [log.message for log in logs_of(state)]
    assert sum(m.startswith(f"{db} is being written by") for m in messages) == 2  # the first attempt waited 1 s, the retry 2 s
    assert not any("Traceback" in m for m in messages)
    holder.join()
    assert not db.exists()  # nothing half-written

    ingest(sources=[str(SAMPLES)], db=str(db))  # the next run records it
    runs = rows(db, "SELECT run_id, status, epoch(finished_at - started_at) FROM runs ORDER BY started_at")
    assert [(run_id, status) for run_id, status, _ in runs][0] == (str(state.state_details.flow_run_id), "failed")
    assert [status for _, status, _ in runs] == ["failed", "completed"] and runs[0][2] >= 3
    assert rows(db, "SELECT failed_runs FROM runs_by_day") == [(1,)]
    assert "failed_runs" in corpus_stats(db)
