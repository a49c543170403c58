"""Hostile inputs and faults (issue 34): each one must cost a failure row, never the run,
the corpus or the machine."""
from __future__ import annotations

import gzip
import io
import json
import os
import re
import resource
import signal
import socket
import subprocess
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from storage.corpus import Corpus, RunStatus
from tasks.boilerplate import RuleSpec, load_rules
from tasks.html import extract_html
from tasks.pipeline import MAX_DOCUMENT_CHARS, MAX_PARAGRAPH_CHARS, clean_batch, clean_paragraphs
from tasks.reading import Decoded, UnreadableSource, decode, decode_counted
from tasks.records import Failure, RawRecord, Skipped
from tasks.sources import ReadOptions, discover, iter_records, plan_batches

from conftest import ROOT, SAMPLES, records_of
from test_cli import DOCMILL, docmill
from test_storage import load, write_docs

ARTICLE = b"<p>The harbour reopened on Monday after three weeks of repairs to the main quay and its cranes.</p>"


def warc_bytes(*urls: str | None, body: bytes = b"<html><body>" + ARTICLE * 5 + b"</body></html>") -> bytes:
    """A WARC of HTML responses; a None URL writes a response without WARC-Target-URI."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=False)
    for number, url in enumerate(urls):
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        record = writer.create_warc_record(url or f"https://port.example/{number}", "response",
                                           payload=io.BytesIO(body), http_headers=headers)
        if url is None:
            record.rec_headers.remove_header("WARC-Target-URI")
        writer.write_record(record)
    return out.getvalue()


def items_of(path: Path) -> list:
    [file], _ = discover([str(path)])
    return list(iter_records(file))


# --- 1. a WARC response without WARC-Target-URI -------------------------------------------

def test_a_warc_response_without_target_uri_is_a_failure_and_the_next_records_are_read(tmp_path):
    path = tmp_path / "crawl.warc"
    path.write_bytes(warc_bytes("https://port.example/a", None, "https://port.example/c"))
    items = items_of(path)
    assert [item.locator for item in items if isinstance(item, RawRecord)] == ["record 1", "record 3"]
    [failure] = [item for item in items if isinstance(item, Failure)]
    assert (failure.stage, failure.error_type) == ("parse", "MissingTargetURI")
    assert failure.message == "record 2: response record without WARC-Target-URI"


def test_docmill_clean_reports_a_warc_record_without_target_uri_as_an_error_record(tmp_path):
    path = tmp_path / "crawl.warc"
    path.write_bytes(warc_bytes(None, "https://port.example/b"))
    result = docmill("clean", "--json", str(path), check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    error, document = (json.loads(line) for line in result.stdout.splitlines())
    assert error == {"file": str(path), "error": {
        "stage": "parse", "message": "record 1: response record without WARC-Target-URI"}}
    assert document["url"] == "https://port.example/b" and document["locator"] == "record 2"



def test_arc_records_keep_their_url_from_the_arc_header(tmp_path):
    """ARC (the WARC's predecessor) names a record's URL in its own header line."""
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body>" + ARTICLE + b"</body></html>"
    description = b"1 0 InternetArchive\nURL IP-address Archive-date Content-type Archive-length\n"
    path = tmp_path / "old.arc"
    path.write_bytes(b"filedesc://old.arc 0.0.0.0 20240101000000 text/plain %d\n" % len(description) + description
                     + b"\nhttp://port.example/a 10.0.0.1 20240101000000 text/html %d\n" % len(http) + http + b"\n")
    [record] = [item for item in items_of(path) if not isinstance(item, Skipped)]
    assert isinstance(record, RawRecord) and record.meta.url == "http://port.example/a"

# --- 9. a truncated WARC ------------------------------------------------------------------

def test_a_truncated_warc_reports_its_last_record_truncated(tmp_path):
    whole = warc_bytes("https://port.example/a", "https://port.example/b")
    # Cut inside the last record's HTML, then inside its HTTP headers.
    for cut in (len(whole) - 200, whole.rindex(b"HTTP/1.1 200") + 10):
        path = tmp_path / f"cut{cut}.warc"
        path.write_bytes(whole[:cut])
        items = items_of(path)
        assert [item.locator for item in items if isinstance(item, RawRecord)] == ["record 1"]
        [failure] = [item for item in items if isinstance(item, Failure)]
        assert (failure.stage, failure.error_type) == ("read", "Truncated"), failure
        assert failure.message.startswith("record 2: truncated: the file ends ")


# --- 3 and 9. decoding -------------------------------------------------------------------

FRENCH = "Le président a déjeuné à l'Élysée avec les élèves de l'école, où ils ont parlé d'été.\n"


def test_a_stray_invalid_byte_leaves_a_utf8_file_utf8_with_the_byte_counted():
    data = (FRENCH * 20).encode("utf-8")
    cut = data.index(b"avec")
    decoded = decode_counted(data[:cut] + b"\xff" + data[cut:])
    assert decoded.text == (FRENCH * 20).replace("avec", "\ufffdavec", 1)
    assert decoded.invalid_bytes == 1
    assert decode_counted((FRENCH * 20).encode("cp1252")) == Decoded(FRENCH * 20, 0)  # legacy files stay legacy


def test_utf16_without_a_byte_order_mark_is_text_and_nul_runs_still_binary():
    for encoding in ("utf-16-le", "utf-16-be"):
        assert decode_counted((FRENCH * 3).encode(encoding)).text == FRENCH * 3
        assert decode("Привет, мир. Как дела?".encode(encoding)) == "Привет, мир. Как дела?"
    with pytest.raises(UnreadableSource, match="binary"):
        decode(b"\x00\xff" * 100)


def test_invalid_bytes_are_stored_with_the_document_and_clean_warns(tmp_path):
    data = (FRENCH * 5).encode("utf-8")
    path = tmp_path / "stray.txt"
    path.write_bytes(data[:40] + b"\xe9\xff" + data[40:])
    [document] = clean_batch(records_of(path), {}).documents
    assert document.invalid_bytes == 2 and "président" in document.text and "Ã" not in document.text
    with Corpus(tmp_path / "c.duckdb") as corpus:
        load(corpus, [path], "run")
        assert corpus.con.execute("SELECT invalid_bytes, contains(text, 'élèves') FROM documents").fetchall() == [
            (2, True)]
    result = docmill("clean", str(path))
    assert "[decode] warning: 2 invalid UTF-8 bytes replaced" in result.stderr


def test_text_nested_a_thousand_elements_deep_is_extracted():
    depth = 1000
    page = b"<html><body>" + b"<div>" * depth + ARTICLE + b"</div>" * depth + b"</body></html>"
    extraction = extract_html(page, None, load_rules())
    assert extraction.text.startswith("The harbour reopened on Monday")


# --- 2. loads that fail, and inputs too large to load ---------------------------------------

@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """A full disk, as far as this process's writes go: no file may grow past ``limit``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails (EFBIG), no kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def _limit_file_size_in_child() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def test_a_load_that_fails_at_commit_raises_its_cause_and_leaves_its_file_incomplete(tmp_path):
    inbox = tmp_path / "inbox"
    write_docs(inbox, {"a_big.txt": [f"{i} {FRENCH * 20}" for i in range(200)], "b_small.txt": [FRENCH]})
    with Corpus(tmp_path / "c.duckdb") as corpus:
        load(corpus, [SAMPLES], "first")
        corpus.con.execute("CHECKPOINT")
        files, _ = discover([str(inbox)])
        corpus.start_run("second", "second", [str(inbox)], {})
        # One record per batch: the big file's SourceDone travels in the batch after its document.
        plans = list(plan_batches(files, ReadOptions(), {}, batch_size=1))
        assert [len(plan.records) for plan in plans][:2] == [1, 1] and not plans[0].sources_done
        with pytest.raises(duckdb.Error) as error, file_size_limit(64 * 1024):
            corpus.load_batch("second", plans[0].attach(clean_batch(plans[0].records, {}, resolve=False)))
        assert "File too large" in str(error.value) and "no transaction is active" not in str(error.value)
        for plan in plans[1:]:
            corpus.load_batch("second", plan.attach(clean_batch(plan.records, {}, resolve=False)))
        assert corpus.con.execute(
            "SELECT regexp_extract(source, '[^/]+$'), complete FROM sources WHERE run_id = 'second' ORDER BY 1"
        ).fetchall() == [("a_big.txt", False), ("b_small.txt", True)]
        again = load(corpus, [inbox], "third")  # the next run reads the big file again
        assert (again.documents_new, again.documents_unchanged) == (1, 1)


def test_a_document_or_paragraph_over_the_caps_fails_before_the_database(tmp_path):
    write_docs(tmp_path, {"paragraph.txt": ["word " * (MAX_PARAGRAPH_CHARS // 5 + 10)],
                          "document.txt": ["word " * (MAX_PARAGRAPH_CHARS // 10)] * (MAX_DOCUMENT_CHARS // MAX_PARAGRAPH_CHARS * 2 + 2),
                          "fine.txt": [FRENCH]})
    result = clean_batch(records_of(tmp_path), {})
    assert [Path(doc.source).name for doc in result.documents] == ["fine.txt"]
    failures = {Path(f.source).name: (f.stage, f.error_type, f.message) for f in result.failures}
    assert failures["paragraph.txt"] == ("clean", "TooLarge", f"paragraph 0 has 1,000,049 characters, over the "
                                                              f"{MAX_PARAGRAPH_CHARS:,} a paragraph may hold")
    assert failures["document.txt"][:2] == ("clean", "TooLarge") and "a document may hold" in failures["document.txt"][2]


def test_docmill_reindex_that_cannot_write_is_an_error_not_a_traceback(tmp_path):
    db = tmp_path / "c.duckdb"
    with Corpus(db) as corpus:
        load(corpus, [SAMPLES], "run")
    result = subprocess.run([*DOCMILL, "reindex", "--db", str(db)], cwd=ROOT, capture_output=True, text=True,
                            preexec_fn=_limit_file_size_in_child, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("docmill: search index not rebuilt: ") and "File too large" in result.stderr


# --- 7. a JSON Lines line too long to read -------------------------------------------------

def test_an_overlong_json_line_is_skipped_while_streaming_and_the_next_lines_read(tmp_path):
    path = tmp_path / "feed.jsonl.gz"
    good = json.dumps({"id": "a", "text": FRENCH}).encode()
    with gzip.open(path, "wb") as out:  # 40 MB of one line, some 40 KB compressed
        out.write(good + b"\n" + b'{"text": "' + b"a" * 40_000_000 + b'"}\n' + good.replace(b'"a"', b'"b"') + b"\n")
    [file], _ = discover([str(path)])
    tracemalloc.start()
    try:
        items = list(iter_records(file, ReadOptions(max_record_bytes=1_000_000)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [item.locator for item in items if isinstance(item, RawRecord)] == ["line 1", "line 3"]
    [failure] = [item for item in items if isinstance(item, Failure)]
    assert (failure.stage, failure.error_type) == ("parse", "TooLarge")
    assert failure.message == "line 2: longer than 1000000 bytes: skipped"
    assert peak < 8_000_000  # the line is never held whole


# --- 4. docmill query reads the corpus and nothing else --------------------------------------

def test_docmill_query_cannot_touch_files_settings_or_other_databases(tmp_path):
    db, other = tmp_path / "c.duckdb", tmp_path / "other.duckdb"
    for path in (db, other):
        with Corpus(path) as corpus:
            load(corpus, [SAMPLES], "run")
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours", encoding="utf-8")
    refused = {
        f"SELECT content FROM read_text('{secret}')": "disabled by configuration",
        f"SELECT * FROM glob('{tmp_path}/*')": "disabled by configuration",
        f"COPY (SELECT * FROM documents) TO '{tmp_path / 'out.csv'}'": "disabled by configuration",
        f"EXPORT DATABASE '{tmp_path / 'dump'}'": "disabled by configuration",
        f"ATTACH '{other}' AS other": "disabled by configuration",
        "SET enable_external_access = true": "configuration has been locked",
        "SET memory_limit = '10GB'": "configuration has been locked",
        "SELECT 1; SELECT 2": "one SQL statement per query, not 2",
        f"ATTACH '{other}' AS other; DELETE FROM other.documents": "one SQL statement per query, not 2",
    }
    for sql, message in refused.items():
        result = docmill("query", "--db", str(db), sql, check=False)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, (sql, result.stderr)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["c.duckdb", "other.duckdb", "secret.txt"]
    with duckdb.connect(str(other), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM documents").fetchone() == (2,)
    # What a query is for still works.
    result = docmill("query", "--db", str(db), "--format", "csv",
                     "SELECT count(*) AS n FROM documents WHERE lang = 'fr'")
    assert result.stdout.splitlines() == ["n", "2"]



def test_docmill_export_writes_its_output_and_reads_nothing_but_the_corpus(tmp_path):
    db = tmp_path / "c.duckdb"
    with Corpus(db) as corpus:
        load(corpus, [SAMPLES], "run")
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = docmill("export", str(out), "--db", str(db), "--where",
                     f"text NOT IN (SELECT content FROM read_text('{secret}'))", check=False)
    assert result.returncode == 2 and "disabled by configuration" in result.stderr and not out.exists()
    assert "2 documents written" in docmill("export", str(out), "--db", str(db), "--where", "lang = 'fr'").stdout
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2

# --- 5. user rules that would backtrack for ever -----------------------------------------------

def test_a_user_rule_with_catastrophic_backtracking_matches_in_linear_time(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text("[[rule]]\nname = 'runaway'\npatterns = ['(a+)+$', '^x+x+y$']\n", encoding="utf-8")
    loaded = load_rules(RuleSpec(files=(str(rules),)))
    started = time.perf_counter()
    # Python's re takes some 20 s on the first paragraph, twice that for each more "a".
    paragraphs = clean_paragraphs(f"{'a' * 28}!\n\n{'x' * 5_000}\n\n{FRENCH}\n\nbaaa", loaded)
    assert time.perf_counter() - started < 2
    assert [p.removed_by for p in paragraphs] == [None, None, None, "runaway"]
    assert clean_paragraphs(f"{'a' * 100_000}!", loaded)[0].removed_by is None


def test_a_user_markup_rule_with_catastrophic_backtracking_matches_in_linear_time(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text("[[rule]]\nname = 'runaway_box'\nmarkup = [{attr = 'class', pattern = '^(a+)+$'}]\n",
                     encoding="utf-8")
    loaded = load_rules(RuleSpec(files=(str(rules),)))
    page = (b"<html><body><article><div class='" + b"a" * 28 + b"!'>" + ARTICLE + b"</div>"
            b"<div class='aaaa'>Sponsored box</div></article></body></html>")
    started = time.perf_counter()
    extraction = extract_html(page, None, loaded)
    assert time.perf_counter() - started < 2
    assert extraction.text.startswith("The harbour reopened") and ("runaway_box", "Sponsored box") in extraction.markup


def test_a_user_rule_re2_cannot_run_is_a_clear_error(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text("[[rule]]\nname = 'lookbehind'\npatterns = ['(?<=Photo) AFP']\n", encoding="utf-8")
    result = docmill("clean", "--rules", str(rules), str(SAMPLES / "000_747d8f32a30fbfc0.txt"), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "rule 'lookbehind': bad pattern '(?<=Photo) AFP': invalid perl operator: (?<=" in result.stderr
    assert "RE2 syntax" in result.stderr


# --- 6. signals and kill -9 ---------------------------------------------------------------------

def test_a_run_left_running_by_a_killed_process_is_closed_as_interrupted_by_the_next(tmp_path):
    with Corpus(tmp_path / "c.duckdb") as corpus:
        corpus.start_run("killed", "killed", [], {})  # and never finished
    with Corpus(tmp_path / "c.duckdb") as corpus:
        assert corpus.start_run("next", "next", [], {}) == 1
        assert corpus.con.execute("SELECT run_id, status, finished_at IS NOT NULL FROM runs ORDER BY run_id").fetchall() == [
            ("killed", RunStatus.INTERRUPTED, True), ("next", RunStatus.RUNNING, False)]


# Every table's content, less what names or times a run: a corpus built in several
# interrupted runs must equal one built in a single run.
_RUN_COLUMNS = {"run_id", "seen_run_id", "ingested_at", "updated_at", "loaded_at", "failed_at"}


def corpus_checksum(db: Path) -> dict[str, str]:
    sums = {}
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [row[0] for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND table_name NOT IN "
            "('runs', 'docmill_meta') AND NOT starts_with(table_name, 'search_') ORDER BY 1").fetchall()]
        for table in tables:
            columns = [row[0] for row in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND schema_name = 'main' "
                "ORDER BY column_index", [table]).fetchall() if row[0] not in _RUN_COLUMNS]
            listed = ", ".join(f'"{column}"' for column in columns)
            sums[table] = con.execute(
                f"SELECT count(*) || ':' || coalesce(md5(string_agg(r::VARCHAR, '|' ORDER BY r::VARCHAR)), '') "
                f"FROM (SELECT ({listed}) AS r FROM {table})").fetchone()[0]
    return sums


def _inbox(folder: Path) -> Path:
    """90,000 paragraphs in 180 files: three load groups. Short ones, cleaned in seconds."""
    folder.mkdir()
    for number in range(180):
        (folder / f"doc{number:03}.txt").write_text(
            "\n\n".join(f"Quay {i % 40}, berth {number}." for i in range(500)), encoding="utf-8")
    return folder


def _start_ingest(inbox: Path, db: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([*DOCMILL, "ingest", str(inbox), "--db", str(db), "--workers", "2", "--batch-size", "10"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"), start_new_session=True)


def _wait_for(log: Path, text: str, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(encoding="utf-8", errors="replace"):
        assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.1)


def _server_port(log: Path) -> int:
    return int(re.search(r"Starting temporary server on http://127\.0\.0\.1:(\d+)", log.read_text()).group(1))


def _nothing_left(process: subprocess.Popen, port: int) -> None:
    """No process of the run's group (the flow's, its workers, multiprocessing's resource
    tracker) and no temporary server (in a session of its own) outlives it."""
    deadline = time.monotonic() + 15
    while True:
        try:
            os.killpg(process.pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        with socket.socket() as probe:
            serving = probe.connect_ex(("127.0.0.1", port)) == 0
        if not alive and not serving:
            return
        assert time.monotonic() < deadline, f"still there: group {alive}, server {serving}"
        time.sleep(0.2)


def test_kill_9_sigterm_and_ctrl_c_stop_a_run_and_reruns_build_the_same_corpus(tmp_path):
    inbox, db = _inbox(tmp_path / "inbox"), tmp_path / "c.duckdb"
    statuses = lambda: [row[0] for row in duckdb.connect(str(db), read_only=True).execute(
        "SELECT status FROM runs ORDER BY started_at").fetchall()]
    # Each stopped once a load group is in (logged "... N new, ..."): by kill -9, by SIGTERM,
    # by Ctrl-C (SIGINT to the whole process group).
    for number, stop in enumerate([lambda p: os.kill(p.pid, signal.SIGKILL), lambda p: os.kill(p.pid, signal.SIGTERM),
                                   lambda p: os.killpg(p.pid, signal.SIGINT)]):
        log = tmp_path / f"run{number}.log"
        process = _start_ingest(inbox, db, log)
        _wait_for(log, " new, ", process)
        stop(process)
        started = time.monotonic()
        status = process.wait(timeout=60)
        assert time.monotonic() - started < 15
        _nothing_left(process, _server_port(log))
        if number == 0:
            assert status == -signal.SIGKILL and statuses() == ["running"]
        else:
            assert status == 130 and "docmill: interrupted" in log.read_text(), log.read_text()[-3000:]
    assert statuses() == ["interrupted"] * 3
    assert docmill("ingest", str(inbox), "--db", str(db)).returncode == 0
    assert statuses() == ["interrupted"] * 3 + ["completed"]
    clean = tmp_path / "clean.duckdb"
    docmill("ingest", str(inbox), "--db", str(clean))
    assert corpus_checksum(db) == corpus_checksum(clean)


# --- bad inputs of every kind above, through a real run ---------------------------------------

def test_one_ingest_of_every_bad_input_loads_the_good_and_records_the_bad(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "no_uri.warc").write_bytes(warc_bytes("https://port.example/a", None, "https://port.example/c"))
    whole = warc_bytes("https://port.example/d", "https://port.example/e")
    (inbox / "cut.warc").write_bytes(whole[:len(whole) - 200])
    data = (FRENCH * 5).encode("utf-8")
    (inbox / "stray.txt").write_bytes(data[:40] + b"\xff" + data[40:])
    (inbox / "utf16.txt").write_bytes((FRENCH * 5).encode("utf-16-le"))
    (inbox / "deep.html").write_bytes(b"<html><body>" + b"<div>" * 600 + ARTICLE + b"</div>" * 600 + b"</body></html>")
    (inbox / "huge.txt").write_text("word " * (MAX_PARAGRAPH_CHARS // 5 + 10), encoding="utf-8")
    db = tmp_path / "c.duckdb"
    result = docmill("ingest", str(inbox), "--db", str(db))
    assert "Traceback" not in result.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        loaded = con.execute("SELECT regexp_extract(source, '[^/]+$') || coalesce(' ' || locator, ''), invalid_bytes "
                             "FROM documents ORDER BY 1").fetchall()
        failed = con.execute("SELECT regexp_extract(source, '[^/]+$'), stage, error_type FROM failures ORDER BY 1").fetchall()
        complete = dict(con.execute("SELECT regexp_extract(source, '[^/]+$'), complete FROM sources").fetchall())
        run = con.execute("SELECT status FROM runs").fetchall()
    assert loaded == [("cut.warc record 1", 0), ("deep.html", 0), ("no_uri.warc record 1", 0),
                      ("no_uri.warc record 3", 0), ("stray.txt", 1), ("utf16.txt", 0)]
    assert failed == [("cut.warc", "read", "Truncated"), ("huge.txt", "clean", "TooLarge"),
                      ("no_uri.warc", "parse", "MissingTargetURI")]
    assert complete["cut.warc"] is False and complete["no_uri.warc"] is True and run == [("completed",)]
