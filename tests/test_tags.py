"""Quality signals and personal-data spans in the database: loaded with their documents,
replaced and deleted with them, and read through the threshold views."""
from __future__ import annotations

import json
import re

from flows.report import summary_rows
from storage.corpus import Corpus
from storage.stats import corpus_stats

from conftest import ROOT
from test_cli import docmill
from test_storage import load, write_docs

ARTICLE = [
    "Council approves the new bridge",
    "The regional council voted on Tuesday to close the old bridge over the river for repairs, and the "
    "work is expected to last until the spring of next year.",
    "Traffic will be sent through the northern bypass, which the council widened last summer with the "
    "help of a grant from the state and the support of local businesses.",
    "Residents who have questions can write to the council at bridge@council.example.org or call "
    "+44 20 7946 0958 during office hours, and the engineers will answer them in person.",
]
SPAM = ["Lorem ipsum dolor sit amet {placeholder}", "Lorem ipsum dolor sit amet {placeholder}", "click here"]


def _rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_signals_and_spans_are_loaded_replaced_and_deleted_with_their_documents(tmp_path):
    folder = tmp_path / "in"
    write_docs(folder, {"article.txt": ARTICLE, "spam.txt": SPAM})
    feed = folder / "feed.jsonl"
    feed.write_text(json.dumps({"id": "a", "text": "Write to a@example.com."}) + "\n"
                    + json.dumps({"id": "b", "text": "Call 555-867-5309."}) + "\n", encoding="utf-8")
    with Corpus(tmp_path / "c.duckdb") as corpus:
        load(corpus, [folder], "first")
        con = corpus.con
        assert _rows(con, "SELECT count(*) FROM document_quality") == [(4,)]
        words = _rows(con, "SELECT q.word_count FROM document_quality q JOIN documents d USING (doc_id) "
                           "WHERE d.source LIKE '%spam.txt'")
        assert words == [(14,)]  # six words twice ("{placeholder}" is one), "click here"
        spans = _rows(con, "SELECT p.kind, substr(t.text, p.start + 1, p.\"end\" - p.start) FROM pii p "
                           "JOIN paragraphs t USING (doc_id, position) ORDER BY ALL")
        assert spans == [("email", "a@example.com"), ("email", "bridge@council.example.org"),
                         ("phone", "+44 20 7946 0958"), ("phone", "555-867-5309")]

        write_docs(folder, {"article.txt": ARTICLE[:3]})  # the contact paragraph goes
        feed.write_text(json.dumps({"id": "a", "text": "Write to a@example.com."}) + "\n", encoding="utf-8")
        load(corpus, [folder], "second")  # record b is deleted with its document
        assert _rows(con, "SELECT kind FROM pii") == [("email",)]
        assert _rows(con, "SELECT count(*) FROM document_quality") == [(3,)]
        assert _rows(con, "SELECT count(*) FROM document_quality SEMI JOIN documents USING (doc_id)") == [(3,)]
        assert _rows(con, "SELECT q.word_count FROM document_quality q JOIN documents d USING (doc_id) "
                          "WHERE d.source LIKE '%article.txt'") == [(sum(len(p.split()) for p in ARTICLE[:3]),)]


def test_the_views_say_which_rules_a_document_fails(tmp_path):
    folder = tmp_path / "in"
    write_docs(folder, {"article.txt": ARTICLE, "spam.txt": SPAM})
    with Corpus(tmp_path / "c.duckdb") as corpus:
        load(corpus, [folder], "run")
        con = corpus.con
        failed = _rows(con, "SELECT regexp_extract(d.source, '(\\w+)\\.txt', 1), g.rule FROM gopher_quality g "
                            "JOIN documents d USING (doc_id) ORDER BY ALL")
        assert ("spam", "word_count_below_50") in failed and ("spam", "duplicate_line_share_above_0.3") in failed
        assert {name for name, _ in failed} == {"spam"}
        c4 = _rows(con, "SELECT regexp_extract(d.source, '(\\w+)\\.txt', 1), c.rule, c.value FROM c4_quality c "
                        "JOIN documents d USING (doc_id) ORDER BY ALL")
        assert c4 == [("spam", "curly_bracket", 4.0), ("spam", "lorem_ipsum", 2.0), ("spam", "sentences_below_3", 0.0)]
        kept = _rows(con, "SELECT regexp_extract(source, '(\\w+)\\.txt', 1) FROM quality_documents")
        assert kept == [("article",)]
        assert _rows(con, "SELECT kind, spans, documents FROM pii_by_kind") == [("email", 1, 1), ("phone", 1, 1)]


def test_the_run_summary_and_stats_count_failing_documents_and_personal_data(tmp_path):
    folder = tmp_path / "in"
    write_docs(folder, {"article.txt": ARTICLE, "spam.txt": SPAM})
    with Corpus(tmp_path / "c.duckdb") as corpus:
        load(corpus, [folder], "run")
        summary = corpus.run_summary("run")
    assert summary["quality"] == {"gopher": 1, "c4": 1} and summary["pii"] == {"email": 1, "phone": 1}
    rows = summary_rows(summary)
    assert {"metric": "documents failing gopher", "value": "1"} in rows
    assert {"metric": "personal data spans", "value": "2"} in rows
    assert {"metric": "personal data email", "value": "1"} in rows
    out = corpus_stats(tmp_path / "c.duckdb")
    assert re.search(r"│ gopher +│ word_count_below_50 +│ +1 │", out)
    assert re.search(r"│ c4 +│ lorem_ipsum +│ +1 │", out)
    assert re.search(r"│ email +│ +1 │ +1 │", out)


def test_export_redact_masks_personal_data_in_the_final_text_only(tmp_path):
    contact = "Write to jane@example.com or call 555-867-5309, or jane@example.com again."
    write_docs(tmp_path / "in", {"a.txt": [ARTICLE[1], contact, ARTICLE[2], contact]})
    db = tmp_path / "c.duckdb"
    with Corpus(db) as corpus:
        load(corpus, [tmp_path / "in"], "run")
        stored = corpus.con.execute("SELECT text FROM documents").fetchone()[0]
    docmill("export", "--db", str(db), "--redact", str(tmp_path / "out.jsonl"))
    docmill("export", "--db", str(db), str(tmp_path / "plain.jsonl"))
    masked = "Write to [email] or call [phone], or [email] again."
    (record,) = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    # the document repeats its contact paragraph: both copies are in its text, both masked
    assert record["text"] == stored.replace(contact, masked) and stored.count(contact) == 2
    assert json.loads((tmp_path / "plain.jsonl").read_text(encoding="utf-8"))["text"] == stored


def test_the_readme_queries_answer(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quality signals and personal data", 1)[1].split("\n## ", 1)[0]
    statements = re.findall(r"```sql\n(.*?)```", section, re.S)
    assert len(statements) == 2
    write_docs(tmp_path / "in", {"article.txt": ARTICLE, "spam.txt": SPAM})
    with Corpus(tmp_path / "c.duckdb") as corpus:
        load(corpus, [tmp_path / "in"], "run")
        answers = [corpus.con.execute(sql).fetchall() for sql in statements]
    assert ("word_count_below_50", 1, 14.0) in answers[0]
    assert sorted(kind for _, kind, _ in answers[1]) == ["email", "phone"]
