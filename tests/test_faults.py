"""Hostile inputs and faults (issue 34): each one must cost a failure row, never the run,
the corpus or the machine."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from storage.corpus import Corpus
from tasks.boilerplate import load_rules
from tasks.html import extract_html
from tasks.pipeline import clean_batch
from tasks.reading import Decoded, UnreadableSource, decode, decode_counted
from tasks.records import Failure, RawRecord
from tasks.sources import discover, iter_records

from conftest import records_of
from test_cli import docmill
from test_storage import load

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
