"""The docmill command line, run as a user runs it: as a process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLES

DOCMILL = [sys.executable, "-m", "flows.cli"]


def docmill(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run docmill; ``env`` entries set to None are removed from the environment."""
    environment = {**os.environ, **(env or {})}
    environment = {name: value for name, value in environment.items() if value is not None}
    result = subprocess.run([*DOCMILL, *args], cwd=ROOT, capture_output=True, text=True, env=environment, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_clean_json_contract():
    out = docmill("clean", "--json", *map(str, sorted(SAMPLES.glob("*.txt")))).stdout
    records = [json.loads(line) for line in out.splitlines()]
    assert [Path(r["file"]).name for r in records] == ["000_747d8f32a30fbfc0.txt", "001_1169cbb8d4b3db09.txt"]
    second = records[1]
    assert set(second) == {"file", "locator", "doc_id", "format", "extractor", "url", "title", "author", "published",
                           "site_name", "page_lang", "fetched_at", "lang", "lang_prob", "paragraphs"}
    assert second["lang"] == "fr" and second["title"].startswith("Sergueï Choïgou")
    last = second["paragraphs"][-1]
    assert set(last) == {"position", "text", "status", "removed_by", "dup_of", "dup_kind", "similarity", "lang"}
    assert (last["status"], last["removed_by"]) == ("removed", "truncated_repeat")
    assert last["dup_of"] == {"doc_id": second["doc_id"], "file": second["file"], "position": 6}


def test_clean_explain_and_plain_text():
    explained = docmill("clean", "--explain", str(SAMPLES / "001_1169cbb8d4b3db09.txt")).stdout
    assert "search_ui" in explained and "truncated_repeat of #6" in explained
    plain = docmill("clean", str(SAMPLES / "001_1169cbb8d4b3db09.txt")).stdout
    assert "Rechercher" not in plain and "Photo AFP" not in plain
    assert plain.startswith("Sergueï Choïgou en Iran pour réaffirmer le soutien de Moscou\n\n")


def test_clean_reports_unreadable_files(tmp_path):
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\x00\xff" * 100)
    result = docmill("clean", "--json", str(binary), str(SAMPLES / "000_747d8f32a30fbfc0.txt"), check=False)
    assert result.returncode == 1
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first == {"file": str(binary), "error": {"stage": "decode", "message": "binary content (NUL bytes), not text"}}
    assert second["lang"] == "fr"
    assert "blob.txt: [decode] binary content" in result.stderr


def test_bad_rule_file_is_a_clear_error(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text("[[rule]]\nname = 'oops'\npatterns = ['(']\n", encoding="utf-8")
    result = docmill("clean", "--rules", str(rules), str(SAMPLES / "000_747d8f32a30fbfc0.txt"), check=False)
    assert result.returncode == 2 and "rule 'oops': bad pattern" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.prefect
def test_ingest_then_query_in_serverless_mode(tmp_path):
    """No Prefect server configured: the flow runs on Prefect's ephemeral server, started
    from a fresh PREFECT_HOME as on a new machine."""
    env = {"PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_API_URL": None}
    db = tmp_path / "corpus.duckdb"
    result = docmill("ingest", str(SAMPLES), "--db", str(db), env=env)
    assert "documents new                       2" in result.stdout
    assert "removed by truncated_repeat         1" in result.stdout
    assert "Traceback" not in result.stderr and "Error" not in result.stderr
    out = docmill("query", "--db", str(db), "--format", "json",
                  "SELECT lang, count(*) AS n FROM documents GROUP BY ALL").stdout
    assert [json.loads(line) for line in out.splitlines()] == [{"lang": "fr", "n": 2}]
    table = docmill("query", "--db", str(db), "SELECT rule, paragraphs FROM boilerplate_by_rule").stdout
    assert "truncated_repeat" in table and "search_ui" in table


def test_query_errors_are_messages_not_tracebacks(tmp_path):
    missing = docmill("query", "--db", str(tmp_path / "none.duckdb"), "SELECT 1", check=False)
    assert missing.returncode == 2 and "no database at" in missing.stderr
    from storage.corpus import Corpus

    Corpus(tmp_path / "c.duckdb").close()
    bad = docmill("query", "--db", str(tmp_path / "c.duckdb"), "SELEC 1", check=False)
    assert bad.returncode == 2 and "syntax error" in bad.stderr and "Traceback" not in bad.stderr
    write = docmill("query", "--db", str(tmp_path / "c.duckdb"), "DELETE FROM documents", check=False)
    assert write.returncode == 2 and "read-only" in write.stderr


def test_clean_reads_warc_records(tmp_path):
    from test_inputs import write_warc

    write_warc(tmp_path / "crawl.warc.gz")
    out = docmill("clean", "--json", str(tmp_path / "crawl.warc.gz")).stdout
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["locator"], r["url"], r["extractor"]) for r in records] == [
        ("record 2", "https://port.example/one", "trafilatura"),
        ("record 4", "https://port.example/two", "trafilatura"),
    ]


def test_clean_json_keeps_input_order_with_errors_in_place(tmp_path):
    lines = [
        {"text": "The first record is a short but complete paragraph about river levels in spring."},
        "{not json",
        {"text": "The third record talks about the harvest, which came early this year in the valley."},
        {"no_text_here": 1},
        {"text": "The fifth record closes the file with a note on the weather for the coming week."},
    ]
    (tmp_path / "a.jsonl").write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("A second file, cleaned after every record of the first.\n", encoding="utf-8")
    result = docmill("clean", "--json", str(tmp_path / "a.jsonl"), str(tmp_path / "b.txt"), check=False)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [("error" if "error" in r else r["locator"] or Path(r["file"]).name) for r in records]
    assert kinds == ["line 1", "error", "line 3", "error", "line 5", "b.txt"]
    assert result.returncode == 1
