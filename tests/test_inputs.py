"""Real-world inputs: HTML pages, JSON Lines, WARC, gzip and zip, incremental re-reads."""
from __future__ import annotations

import gzip
import io
import json
import os
import tomllib
import zipfile
from pathlib import Path

import lxml.etree
import pytest
from trafilatura.utils import load_html
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from storage.corpus import Corpus, LoadCounts
from tasks import html as html_parsing
from tasks.pipeline import clean_batch
from tasks.records import RawRecord
from tasks.sources import ReadOptions, discover, iter_records

from conftest import ROOT, records_of
from test_storage import load

FIXTURES = ROOT / "tests" / "fixtures"
HTML_CASES = tomllib.loads((FIXTURES / "html" / "cases.toml").read_text(encoding="utf-8"))["case"]
BENCHMARK_CASES = tomllib.loads((FIXTURES / "benchmark" / "cases.toml").read_text(encoding="utf-8"))["page"]
WCXB_CASES = tomllib.loads((FIXTURES / "wcxb" / "cases.toml").read_text(encoding="utf-8"))["page"]

ARTICLE = "<p>The harbour reopened on Monday after three weeks of repairs to the main quay and its cranes.</p>"


def page(body: str, title: str = "Harbour news") -> str:
    return f"<!DOCTYPE html><html lang='en'><head><title>{title}</title></head><body><article><h1>{title}</h1>{body}</article></body></html>"


@pytest.mark.parametrize("case", HTML_CASES, ids=lambda c: c["file"])
def test_html_fixture(case: dict):
    [document] = clean_batch(records_of(FIXTURES / "html" / case["file"]), {}).documents
    for snippet in case["must_contain"]:
        assert snippet in document.text, snippet
    for snippet in case["must_not_contain"]:
        assert snippet not in document.text, snippet
    removed_by = {p.removed_by for p in document.paragraphs if p.status == "removed"}
    assert set(case["removed_by"]) <= removed_by
    assert document.extractor == case["extractor"]
    for field in ("title", "site_name", "author", "published", "page_lang", "description"):
        if field in case:
            value = document.title if field == "title" else getattr(document.meta, field)
            assert value == case[field], field


def test_embed_removal_keeps_its_place_and_text():
    [document] = clean_batch(records_of(FIXTURES / "html" / "tweet_embed.html"), {}).documents
    texts = [p.text for p in document.paragraphs]
    tweet = [p for p in document.paragraphs if p.removed_by == "social_embed"]
    assert "Huge night for safer streets" in tweet[0].text and "(@RiversideCycles)" in tweet[-1].text
    before = texts.index(next(t for t in texts if t.startswith("Supporters said the lanes")))
    after = texts.index(next(t for t in texts if t.startswith("Construction is expected")))
    assert before < tweet[0].position <= tweet[-1].position < after


@pytest.mark.parametrize("case", BENCHMARK_CASES, ids=lambda c: c["id"])
def test_benchmark_page(case: dict):
    payload = gzip.decompress((FIXTURES / "benchmark" / f"{case['id']}.html.gz").read_bytes())
    record = RawRecord(case["id"], "file:///benchmark", None, "html", "html", payload)
    record.meta.url = case["url"]
    [document] = clean_batch([record], {}).documents
    for snippet in case["must_contain"]:
        assert snippet in document.text, snippet
    for snippet in case["must_not_contain"]:
        assert snippet not in document.text, snippet


def _squeezed(text: str) -> str:
    return " ".join(text.split()).lower()  # the benchmark's snippets keep the page's spacing and case


@pytest.mark.parametrize("case", WCXB_CASES, ids=lambda c: f"{c['page_type']}-{c['id']}")
def test_page_of_each_kind(case: dict):
    payload = gzip.decompress((FIXTURES / "wcxb" / f"{case['id']}.html.gz").read_bytes())
    record = RawRecord(case["id"], "file:///wcxb", None, "html", "html", payload)
    record.meta.url = case["url"]
    [document] = clean_batch([record], {}).documents
    text = _squeezed(document.text)
    for snippet in case["must_contain"]:
        assert _squeezed(snippet) in text, snippet
    for snippet in case["must_not_contain"]:
        assert _squeezed(snippet) not in text, snippet
    assert document.extractor == case["extractor"]


def _fixture_pages() -> list[bytes]:
    pages = [path.read_bytes() for path in sorted((FIXTURES / "html").glob("*.html"))]
    pages += [gzip.decompress(path.read_bytes()) for path in sorted((FIXTURES / "benchmark").glob("*.html.gz"))]
    return pages


_TRICKY_PAGES = [
    b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
    b"<html><body><p>Strict doctype, stripped by trafilatura's repair.</p></body></html>",
    b"<html><body><p>A control\x07character and a \xef\xbf\xbe noncharacter.</p></body></html>",
    "<html><body><p>Caf\u00e9 in Latin-1.</p></body></html>".encode("latin-1"),
    b"<html/>\n<body><p>Self-closed root.</p></body>",
    b"<p>Just a fragment.</p>",
    b"",
    gzip.compress(b"<html><body><p>Compressed page.</p></body></html>"),
    "<html><head><meta charset='utf-8'></head><body><p>\u00c9t\u00e9 \u2014 \u65e5\u672c</p></body></html>".encode(),
]


@pytest.mark.parametrize("payload", _fixture_pages() + _TRICKY_PAGES)
def test_fast_parse_builds_the_tree_trafilatura_would(payload: bytes):
    """The bytes fast path (tasks.html._parse_utf8) against trafilatura's load_html: the same
    tree, or no answer, leaving the page to load_html."""
    fast = html_parsing._parse_utf8(payload)
    if fast is None:
        return
    slow = load_html(payload)
    assert slow is not None
    assert lxml.etree.tostring(fast) == lxml.etree.tostring(slow)


def test_fast_parse_answers_for_clean_utf8_pages():
    assert all(html_parsing._parse_utf8(page) is not None for page in _fixture_pages())
    assert [html_parsing._parse_utf8(page) is not None for page in _TRICKY_PAGES] == [
        True, False, False, False, False, False, False, True,
    ]


def test_jsonl_lines_become_documents_and_a_broken_line_a_failure(tmp_path):
    path = tmp_path / "export.jsonl"
    lines = [
        {"id": "a1", "url": "https://news.example/a1", "title": "First", "date": "2024-05-01",
         "text": "The first story of the export is long enough to be a real paragraph of news."},
        "{not json",
        {"id": "a2", "html": page(ARTICLE)},
        ["not", "an", "object"],
        {"id": "a3", "body": "no text field"},
    ]
    path.write_text("\n".join(l if isinstance(l, str) else json.dumps(l) for l in lines) + "\n", encoding="utf-8")
    [file], _ = discover([str(path)])
    items = list(iter_records(file))
    failures = [item for item in items if not isinstance(item, RawRecord)]
    assert [f.message.split(":")[0] for f in failures] == ["line 2", "line 4", "line 5"]
    assert all(f.stage == "parse" for f in failures)
    result = clean_batch([item for item in items if isinstance(item, RawRecord)], {})
    first, second = result.documents
    assert (first.locator, first.meta.url, first.title, first.meta.published) == (
        "line 1", "https://news.example/a1", "First", "2024-05-01")
    assert second.extractor == "trafilatura" and "The harbour reopened on Monday" in second.text


def test_jsonl_field_names_are_configurable(tmp_path):
    path = tmp_path / "custom.jsonl"
    path.write_text(json.dumps({"content": "A paragraph of content that lives in a field called content."}) + "\n")
    [record] = [r for f in discover([str(path)])[0] for r in iter_records(f, ReadOptions(text_field="content"))]
    assert record.payload.startswith("A paragraph of content")


def write_warc(path: Path) -> None:
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)

        def response(url: str, content_type: str, body: bytes, status: str = "200 OK") -> None:
            headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=headers))

        writer.write_record(writer.create_warc_record("https://port.example/one", "request",
                                                      payload=io.BytesIO(b"GET /one HTTP/1.1\r\n\r\n")))
        response("https://port.example/one", "text/html; charset=utf-8", page(ARTICLE, "One").encode())
        response("https://port.example/logo.png", "image/png", b"\x89PNG\r\n\x1a\n")
        response("https://port.example/two", "text/html", page(
            "<p>Ferries to the islands will run twice a day from June, the port authority announced on Friday.</p>", "Two"
        ).encode())
        response("https://port.example/gone", "text/html", b"<html><body>Not found</body></html>", "404 Not Found")


def test_warc_responses_become_documents_and_the_rest_is_skipped(tmp_path):
    write_warc(tmp_path / "crawl.warc.gz")
    [file], _ = discover([str(tmp_path)])
    items = list(iter_records(file))
    records = [item for item in items if isinstance(item, RawRecord)]
    skipped = [item.reason for item in items if type(item).__name__ == "Skipped"]
    assert [r.meta.url for r in records] == ["https://port.example/one", "https://port.example/two"]
    assert skipped == ["request record", "response of type image/png", "HTTP status 404"]
    assert all(r.meta.fetched_at and r.format == "warc.gz" for r in records)
    docs = clean_batch(records, {}).documents
    assert "The harbour reopened" in docs[0].text and "Ferries to the islands" in docs[1].text


def test_gzip_and_zip_containers(tmp_path):
    line = json.dumps({"text": "A story that travelled inside a gzip-compressed JSON Lines file."})
    with gzip.open(tmp_path / "day.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write(line + "\n")
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w") as archive:
        archive.writestr("pages/a.html", page(ARTICLE))
        archive.writestr("notes/b.txt", "A plain text note kept inside a zip archive, long enough to count.")
        archive.writestr("feeds/c.jsonl", line + "\n")
    records = records_of(tmp_path)
    assert sorted((r.format, r.locator) for r in records) == [
        ("jsonl.gz", "line 1"),
        ("zip/html", "member pages/a.html"),
        ("zip/jsonl", "member feeds/c.jsonl line 1"),
        ("zip/txt", "member notes/b.txt"),
    ]
    assert len({r.doc_id for r in records}) == 4


def test_corrupt_container_is_a_read_failure(tmp_path):
    (tmp_path / "broken.warc.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"garbage" * 10)
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    items = [item for f in discover([str(tmp_path)])[0] for item in iter_records(f)]
    assert [(item.stage, type(item).__name__) for item in items] == [("read", "Failure"), ("read", "Failure")]


def test_format_is_detected_by_content_or_forced(tmp_path):
    (tmp_path / "page.dat").write_text(page(ARTICLE))
    (tmp_path / "lines.dat").write_text(json.dumps({"text": "detected as JSON Lines by its first byte"}) + "\n")
    files, _ = discover([str(tmp_path / "page.dat"), str(tmp_path / "lines.dat")])
    assert [next(iter_records(f)).kind for f in files] == ["html", "text"]
    forced = next(iter_records(files[0], ReadOptions(format="txt")))
    assert forced.kind == "text" and forced.format == "txt"


def test_include_exclude_and_symlink_loops(tmp_path):
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "a.txt").write_text("a")
    (tmp_path / "keep" / "b.html").write_text("b")
    (tmp_path / "keep" / "drafts").mkdir()
    (tmp_path / "keep" / "drafts" / "c.txt").write_text("c")
    os.symlink(tmp_path / "keep", tmp_path / "keep" / "loop")
    files, failures = discover([str(tmp_path / "keep")], include=["*.txt"], exclude=["drafts/*"])
    assert [Path(f.path).name for f in files] == ["a.txt"]
    assert [f.error_type for f in failures] == ["SymlinkLoop"]


def test_changed_source_is_replaced_unchanged_skipped_and_lost_records_deleted(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    feed = inbox / "feed.jsonl"
    stories = {f"s{i}": f"Story number {i} from the wire, with enough words to be a paragraph." for i in range(3)}
    feed.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in stories.items()))
    (inbox / "note.txt").write_text("A note that never changes between the two runs of the ingest.")
    with Corpus(tmp_path / "c.duckdb") as corpus:
        assert load(corpus, [inbox], "first") == LoadCounts(documents_new=4)
        del stories["s1"]
        stories["s2"] = "Story number 2, corrected: the wire sent a new version of this paragraph."
        feed.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in stories.items()))
        assert load(corpus, [inbox], "second") == LoadCounts(
            documents_updated=1, documents_unchanged=2, documents_deleted=1)
        texts = dict(corpus.con.execute("SELECT locator, text FROM documents WHERE source LIKE '%feed.jsonl'").fetchall())
        assert texts == {"line 1": stories["s0"], "line 2": stories["s2"]}
        assert corpus.con.execute("SELECT count(*) FROM paragraphs WHERE text LIKE 'Story number 1%'").fetchone() == (0,)
        assert load(corpus, [inbox], "third") == LoadCounts(documents_unchanged=3)


def test_random_bytes_named_html_are_a_failure_not_a_document(tmp_path):
    rng = __import__("random").Random(7)
    noise = bytes(rng.randrange(256) for _ in range(4000))
    without_nul = noise.replace(b"\x00", b"\x01")
    (tmp_path / "noise.html").write_bytes(noise)
    (tmp_path / "noise_without_nul.html").write_bytes(without_nul)
    result = clean_batch(records_of(tmp_path / "noise.html") + records_of(tmp_path / "noise_without_nul.html"), {})
    assert not result.documents
    assert [(f.stage, f.message.split(" (")[0]) for f in result.failures] == [("decode", "binary content")] * 2
