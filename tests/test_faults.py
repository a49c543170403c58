"""Hostile inputs and faults (issue 34): each one must cost a failure row, never the run,
the corpus or the machine."""
from __future__ import annotations

import io
import json
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tasks.records import Failure, RawRecord
from tasks.sources import discover, iter_records

from test_cli import docmill

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
