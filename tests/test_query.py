"""Ad-hoc SQL and search over an ingested corpus: `docmill query`, `search`, `stats`,
`export`, `reindex`, the views, the README's cookbook and the official `duckdb` shell,
on real DuckDB files, with the CLI run as a process."""
from __future__ import annotations

import gzip
import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from storage.corpus import Corpus
from storage.query import Column, connect, render_table, run_query
from storage.search import highlight, rebuild_index, snippet
from tasks.reading import doc_id_for

from conftest import ROOT, SAMPLES
from test_cli import docmill
from test_storage import load, write_docs

# samples/001_…: "Sergueï Choïgou en Iran pour réaffirmer le soutien de Moscou"; its id derives
# from the file's URI, so from where this checkout lives.
CHOIGOU_DOC = doc_id_for((SAMPLES / "001_1169cbb8d4b3db09.txt").resolve().as_uri())


def ingest(db: Path, *paths, run_id: str = "run") -> None:
    """What `docmill ingest` leaves behind, without Prefect: the corpus, then its search index."""
    with Corpus(db) as corpus:
        load(corpus, paths or [SAMPLES], run_id)
    rebuild_index(db)


@pytest.fixture(scope="module")
def samples_db(tmp_path_factory) -> Path:
    """The samples ingested once, for the tests that only read."""
    db = tmp_path_factory.mktemp("samples") / "corpus.duckdb"
    ingest(db)
    return db


def rows(db: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params).fetchall()


def query(db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return docmill("query", "--db", str(db), *args, check=check)


# --- docmill query ----------------------------------------------------------------------


def test_writes_through_query_fail_clearly_and_change_nothing(samples_db):
    everything = "SELECT * FROM documents ORDER BY doc_id"
    before = rows(samples_db, everything), rows(samples_db, "SELECT count(*) FROM paragraphs")
    for sql in ("UPDATE documents SET lang = 'xx'", "DELETE FROM paragraphs", "DROP VIEW languages",
                "CREATE TABLE notes AS SELECT 1"):
        result = query(samples_db, sql, check=False)
        assert result.returncode == 2, sql
        assert "read-only" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert (rows(samples_db, everything), rows(samples_db, "SELECT count(*) FROM paragraphs")) == before


def test_sql_errors_are_duckdbs_message_with_the_position(samples_db):
    result = query(samples_db, "SELECT lang FROM documnts", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert 'Table with name documnts does not exist' in result.stderr
    assert "LINE 1: SELECT lang FROM documnts" in result.stderr and "^" in result.stderr


ROUND_TRIP = """
    SELECT d.doc_id, d.title, d.text, d.url, d.lang_prob, d.n_kept, d.published, d.updated_at,
           p.position, p.fingerprint, r.sources
    FROM documents d JOIN paragraphs p USING (doc_id) JOIN runs r USING (run_id)
    ORDER BY d.doc_id, p.position
"""


@pytest.mark.parametrize("output_format, reader", [
    ("csv", "read_csv($path, header = true, columns = $types)"),
    ("json", "read_json($path, columns = $types)"),
    ("parquet", "read_parquet($path)"),
])
def test_each_output_format_round_trips(samples_db, tmp_path, output_format, reader):
    """Multi-line text, quotes, NULLs, doubles, 64-bit unsigned, timestamps and lists come back equal."""
    out = tmp_path / f"result.{output_format}"
    query(samples_db, "--format", output_format, "--output", str(out), ROUND_TRIP)
    with duckdb.connect(str(samples_db), read_only=True) as con:
        original = con.sql(ROUND_TRIP)
        types = {name: str(kind) for name, kind in zip(original.columns, original.types)}
        expected = original.fetchall()
        back = con.execute(f"SELECT * FROM {reader}", {"path": str(out), "types": types}
                           if output_format != "parquet" else {"path": str(out)}).fetchall()
    assert len(expected) == 31 and back == expected


def test_csv_and_json_go_to_standard_output(samples_db):
    csv_out = query(samples_db, "--format", "csv", "SELECT lang, documents FROM languages").stdout
    assert csv_out.splitlines() == ["lang,documents", "fr,2"]
    json_out = query(samples_db, "--format", "json", "SELECT rule, paragraphs FROM boilerplate_by_rule LIMIT 2").stdout
    assert [json.loads(line) for line in json_out.splitlines()] == [
        {"rule": "search_ui", "paragraphs": 2}, {"rule": "social_embed", "paragraphs": 2}]
    parquet = query(samples_db, "--format", "parquet", "SELECT 1", check=False)
    assert parquet.returncode == 2 and "--output FILE" in parquet.stderr


def test_table_shows_types_right_aligns_numbers_and_cuts_long_text(samples_db):
    sql = f"SELECT position, text, lang_prob FROM paragraphs WHERE doc_id = '{CHOIGOU_DOC}' AND position IN (4, 6)"
    lines = query(samples_db, "--width", "30", sql).stdout.splitlines()
    assert re.fullmatch(r"│ position │ +text +│ +lang_prob +│", lines[1])
    assert re.fullmatch(r"│ integer  │ +varchar +│ +double +│", lines[2])
    assert lines[4].startswith("│        4 │ Visant à renforcer les relati… │")
    assert all(len(line) == len(lines[0]) for line in lines[:-1]) and lines[-1] == "2 rows"
    whole = query(samples_db, "--full", sql).stdout
    assert "dans un contexte de tensions accrues avec Israël." in whole
    capped = query(samples_db, "--max-rows", "3", "SELECT * FROM paragraphs").stdout
    assert capped.splitlines()[-1] == "31 rows (3 shown; --max-rows 0 shows all)"


def test_table_renderer_keeps_one_line_per_row():
    columns = [Column("name", "varchar"), Column("n", "bigint", numeric=True), Column("tags", "varchar[]")]
    table = render_table(columns, [("東京タワー\nTokyo", 12345, ["a", None]), ("a\nb", 7, [])], width=6)
    assert table.splitlines()[3:7] == [
        "├─────────┼────────┼───────────┤",
        "│ 東京…   │  12345 │ [a, N…    │",
        "│ a↵b     │      7 │ []        │",
        "└─────────┴────────┴───────────┘",
    ]


def test_a_writer_holding_the_file_makes_readers_wait_then_fail_clearly(samples_db, tmp_path):
    """A real second process holds the database open read-write, as an ingest does."""
    db = tmp_path / "held.duckdb"
    db.write_bytes(samples_db.read_bytes())
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys, time; c = duckdb.connect({str(db)!r}); print('held', flush=True); "
                               "time.sleep(float(sys.argv[1]))", "2.5"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        started = time.monotonic()
        refused = query(db, "--wait", "0.5", "SELECT count(*) FROM documents", check=False)
        assert refused.returncode == 2 and time.monotonic() - started >= 0.5
        assert f"{db} is open in process {holder.pid} (python" in refused.stderr
        assert "Gave up after 0.5 s (--wait SECONDS waits longer)" in refused.stderr
        assert "Traceback" not in refused.stderr
        waited = query(db, "--format", "csv", "--wait", "30", "SELECT count(*) AS n FROM documents")
        assert waited.stdout == "n\n2\n"
    finally:
        holder.wait(timeout=30)


def test_readers_never_load_prefect():
    probe = (
        "import sys; from flows.cli import main; db = sys.argv[1]; "
        "codes = [main(['query', '--db', db, 'SELECT 1']), main(['search', '--db', db, 'x']), "
        "main(['stats', '--db', db]), main(['export', '--db', db, sys.argv[2]])]; "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'); "
        "print(codes, heavy, file=sys.stderr); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", probe, "/nonexistent.duckdb", "/nonexistent.jsonl"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --- search -----------------------------------------------------------------------------


def search(db: Path, *args: str) -> list[dict]:
    out = docmill("search", "--db", str(db), "--json", *args).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_search_finds_a_french_phrase_with_accents(samples_db):
    hits = search(samples_db, "réaffirmer le soutien de Moscou", "--limit", "3")
    assert (hits[0]["doc_id"], hits[0]["position"], hits[0]["lang"]) == (CHOIGOU_DOC, 3, "fr")
    assert hits[0]["title"] == "Sergueï Choïgou en Iran pour réaffirmer le soutien de Moscou"
    assert hits[0]["score"] > hits[1]["score"] > 0 and len(hits) == 3


def test_search_folds_case_and_accents_and_highlights(samples_db):
    assert {h["position"] for h in search(samples_db, "CHOIGOU")} == {3, 6, 8, 9}
    assert search(samples_db, "choïgou") == search(samples_db, "choigou")
    shown = docmill("search", "--db", str(samples_db), "choigou", "téhéran", "--limit", "1").stdout
    assert shown.splitlines() == [
        "  1. Sergueï Choïgou en Iran pour réaffirmer le soutien de Moscou  [fr]  score 1.06",
        f"     file://{SAMPLES}/001_1169cbb8d4b3db09.txt  ¶3",
        "     Sergueï **Choïgou** en Iran pour réaffirmer le soutien de Moscou",
    ]


def test_search_respects_lang_every_word_and_per_document(samples_db):
    assert search(samples_db, "Téhéran", "--lang", "en") == []
    french = search(samples_db, "Téhéran", "--lang", "fr")
    assert french and {h["lang"] for h in french} == {"fr"}
    assert {h["position"] for h in search(samples_db, "réaffirmer", "soutien", "--all")} == {3, 8}
    per_document = search(samples_db, "Israël", "--documents")
    assert sorted(h["doc_id"] for h in per_document) == sorted({h["doc_id"] for h in search(samples_db, "Israël")})
    assert "no matches" in docmill("search", "--db", str(samples_db), "zzyzx").stdout


def test_lang_zh_finds_simplified_and_traditional_chinese(tmp_path):
    """Chinese is stored as langdetect's zh-cn and zh-tw: --lang zh finds both in search and
    export, --lang zh-tw (in any case) only traditional, and a bare prefix is no match (z)."""
    db = tmp_path / "c.duckdb"
    write_docs(tmp_path / "zh", {
        "cn.txt": ["北京是中华人民共和国的首都，也是全国的政治、文化和国际交往中心。联合国教科文组织（UNESCO）把长城列入了世界遗产名录。"],
        "tw.txt": ["臺灣位於東亞，是一個島嶼，首都是臺北市。這裡的夜市和美食非常有名，聯合國教科文組織（UNESCO）的報告也提到了這裡的傳統文化。"],
        "fr.txt": ["L'UNESCO a inscrit la Grande Muraille de Chine au patrimoine mondial de l'humanité en 1987."]})
    ingest(db, tmp_path / "zh")
    assert rows(db, "SELECT lang FROM documents ORDER BY lang") == [("fr",), ("zh-cn",), ("zh-tw",)]

    def langs_found(*codes: str) -> list[str]:
        found = sorted(hit["lang"] for hit in search(db, "UNESCO", *(f"--lang={code}" for code in codes)))
        out = tmp_path / "out.jsonl"
        docmill("export", "--db", str(db), *(f"--lang={code}" for code in codes), str(out))
        assert sorted(json.loads(line)["lang"] for line in out.read_text().splitlines()) == found
        return found

    assert langs_found() == ["fr", "zh-cn", "zh-tw"]
    assert langs_found("zh") == ["zh-cn", "zh-tw"]
    assert langs_found("zh-tw") == langs_found("ZH-TW") == ["zh-tw"]
    assert langs_found("zh-cn", "fr") == ["fr", "zh-cn"]
    assert langs_found("z") == langs_found("cn") == []


def test_search_works_on_a_read_only_connection(samples_db):
    """Another process holds the file read-only, which shuts out every writer: search still answers."""
    with duckdb.connect(str(samples_db), read_only=True):
        assert search(samples_db, "Choïgou", "--limit", "1", "--wait", "0")[0]["position"] == 3
        assert "Search index: 23 paragraphs" in docmill("stats", "--db", str(samples_db), "--wait", "0").stdout


def test_sql_can_search_too(samples_db):
    out = query(samples_db, "--format", "csv", "SELECT doc_id || ':' || position AS id FROM search_paragraphs "
                "WHERE fts_main_search_paragraphs.match_bm25(id, 'choigou') IS NOT NULL ORDER BY ALL").stdout
    assert out.split() == ["id"] + [f"{CHOIGOU_DOC}:{p}" for p in (3, 6, 8, 9)]


def test_search_without_an_index_says_what_to_do(tmp_path):
    with Corpus(tmp_path / "c.duckdb") as corpus:
        load(corpus, [SAMPLES])
    result = docmill("search", "--db", str(tmp_path / "c.duckdb"), "choigou", check=False)
    assert result.returncode == 2 and "no search index yet: run `docmill reindex" in result.stderr
    assert "23 paragraphs" in docmill("reindex", "--db", str(tmp_path / "c.duckdb")).stdout
    assert search(tmp_path / "c.duckdb", "choigou")


def test_a_stale_index_is_reported(tmp_path):
    db = tmp_path / "c.duckdb"
    ingest(db)
    write_docs(tmp_path / "more", {"new.txt": ["Un paragraphe sur la zygomorphie des fleurs, assez long."]})
    with Corpus(db) as corpus:
        load(corpus, [tmp_path / "more"], "second")
    result = docmill("search", "--db", str(db), "zygomorphie", check=False)
    assert "no matches" in result.stdout and "older than the corpus: run `docmill reindex" in result.stderr
    assert "STALE" in docmill("stats", "--db", str(db)).stdout


def write_jsonl(path: Path, texts: dict[str, str]) -> None:
    path.write_text("".join(json.dumps({"id": key, "text": text}) + "\n" for key, text in texts.items()),
                    encoding="utf-8")


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_harness")
def test_the_index_is_fresh_after_each_ingest(tmp_path):
    """The real flow rebuilds the index when a run changes documents: new, updated, deleted."""
    from flows.ingest import ingest as ingest_flow

    inbox, db = tmp_path / "inbox", tmp_path / "corpus.duckdb"
    inbox.mkdir()
    bees = "Les abeilles butinent {} en Provence depuis le début du mois de juin."
    write_jsonl(inbox / "news.jsonl", {"bees": bees.format("la lavande")})
    ingest_flow(sources=[str(inbox)], db=str(db))
    assert [h["text"] for h in search(db, "lavande")] == [bees.format("la lavande")]
    wind = "Le mistral souffle sur la vallée du Rhône depuis trois jours déjà."
    write_jsonl(inbox / "news.jsonl", {"bees": bees.format("le thym"), "wind": wind})
    ingest_flow(sources=[str(inbox)], db=str(db))
    assert search(db, "lavande") == [] and len(search(db, "thym")) == len(search(db, "mistral")) == 1
    write_jsonl(inbox / "news.jsonl", {"bees": bees.format("le thym")})
    summary = ingest_flow(sources=[str(inbox)], db=str(db))
    assert summary["documents_deleted"] == 1 and search(db, "mistral") == []
    assert "STALE" not in docmill("stats", "--db", str(db)).stdout


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_harness")
def test_a_failed_index_rebuild_leaves_the_run_completed(tmp_path):
    """Search is secondary: here a view squats the index table's name, so the rebuild fails."""
    from flows.ingest import ingest as ingest_flow

    db = tmp_path / "corpus.duckdb"
    with Corpus(db) as corpus:
        corpus.con.execute("CREATE VIEW search_paragraphs AS SELECT 1 AS squatter")
    summary = ingest_flow(sources=[str(SAMPLES)], db=str(db))
    assert (summary["status"], summary["documents_new"]) == ("completed", 2)
    assert rows(db, "SELECT status FROM runs") == [("completed",)]
    result = docmill("search", "--db", str(db), "choigou", check=False)
    assert result.returncode == 2 and "no search index yet" in result.stderr


def test_highlight_and_snippet():
    mark = "<{}>".format
    assert highlight("Sergueï Choïgou, l’Iran et l'ÉTAT-major", ["choigou", "iran", "etat"], mark) == \
        "Sergueï <Choïgou>, l’<Iran> et l'<ÉTAT>-major"
    text = "début " + "mot " * 100 + "cible " + "fin " * 100
    cut = snippet(text, ["cible"], 60)
    assert cut.startswith("…mot") and cut.endswith("…") and "cible" in cut and len(cut) < 70
    assert snippet("court", ["x"], 60) == "court"


# --- stats, export, views ---------------------------------------------------------------


def test_stats_on_the_samples(samples_db):
    out = docmill("stats", "--db", str(samples_db)).stdout
    for title in ("Corpus", "Documents and their kept paragraphs, by language", "Boilerplate removed, by rule",
                  "Duplicates, by kind: none", "Runs, by day", "Failures, by stage: none",
                  "Search index: 23 paragraphs"):
        assert title in out, title
    assert re.search(r"│ search_ui +│ +2 │ +1 │ █{24} │", out)
    assert re.search(r"│ author_bio +│ +1 │ +1 │ █{12} +│", out)
    assert re.search(r"│ +2 │ +2 │ +31 │ +23 │ +8 │ +0 │ +2 │ +1 │ +0 │", out)


def test_export_parquet_and_jsonl(samples_db, tmp_path):
    assert docmill("export", "--db", str(samples_db), str(tmp_path / "all.parquet")).stdout == \
        f"2 documents written to {tmp_path / 'all.parquet'} (parquet)\n"
    exported = rows(samples_db, "SELECT * FROM read_parquet(?) ORDER BY doc_id", [str(tmp_path / "all.parquet")])
    assert exported == rows(samples_db, "SELECT * FROM clean_documents ORDER BY doc_id")
    docmill("export", "--db", str(samples_db), "--where", "title ILIKE '%choïgou%'", str(tmp_path / "one.jsonl.gz"))
    with gzip.open(tmp_path / "one.jsonl.gz", "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    assert [(r["doc_id"], r["lang"], r["text"][:15]) for r in records] == [(CHOIGOU_DOC, "fr", "Sergueï Choïgou")]
    docmill("export", "--db", str(samples_db), "--format", "jsonl", "--lang", "de", "--lang", "en", str(tmp_path / "x"))
    assert (tmp_path / "x").read_text() == ""
    bad = docmill("export", "--db", str(samples_db), "--where", "nope = 1", str(tmp_path / "y.parquet"), check=False)
    assert bad.returncode == 2 and 'Referenced column "nope" not found' in bad.stderr


WIRE = "L'agence rapporte que les négociations reprendront à Genève la semaine prochaine, selon un diplomate."


@pytest.fixture(scope="module")
def rich_db(tmp_path_factory) -> Path:
    """The samples plus pages of a site sharing a wire paragraph, one in English, one
    quoting English, one all boilerplate and copy, and a file that fails: something for
    every view and cookbook question."""
    folder = tmp_path_factory.mktemp("rich")
    quote = "“We will not give up on these talks,” the minister told reporters."
    lines = [{"url": "https://www.example.org/a",
              "text": f"Premier article sur la météo en montagne cet été, un été très chaud.\n{quote}\n{WIRE}"},
             {"url": "https://www.example.org/b",
              "text": f"Second article sur les marchés agricoles de la région.\n{WIRE}"},
             {"url": "https://www.example.org/c",
              "text": "The negotiations in Geneva are expected to resume next week, diplomats said on Monday.\n"
                      "Both delegations have asked for more time to consult their governments before then.\n"
                      f"{WIRE}"},
             {"url": "https://www.example.org/d", "text": f"Rechercher\n{WIRE}\nPartager sur Facebook"}]
    (folder / "pages.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    (folder / "broken.txt").write_bytes(b"\x00\x01" * 50)
    db = folder / "c.duckdb"
    ingest(db, SAMPLES, folder)
    return db


def test_views_answer_the_obvious_questions(rich_db):
    db = rich_db
    assert rows(db, "SELECT site, documents, removed_paragraphs, usual_lang FROM sites") == [
        (f"file://{SAMPLES}", 2, 8, "fr"), ("example.org", 4, 2, "fr")]
    assert rows(db, "SELECT d.doc_id FROM document_sites d JOIN sites s USING (site) WHERE d.lang <> s.usual_lang") == \
        rows(db, "SELECT doc_id FROM documents WHERE url = 'https://www.example.org/c'")
    assert rows(db, "SELECT text, copies, documents FROM repeated_paragraphs") == [(WIRE, 4, 4)]
    assert rows(db, "SELECT rule, lang, paragraphs, documents FROM boilerplate_by_rule_and_language "
                    "WHERE rule IN ('search_ui', 'share_follow')") == [("search_ui", "fr", 3, 2),
                                                                      ("share_follow", "fr", 1, 1)]
    assert rows(db, "SELECT runs, documents_new, documents_failed FROM runs_by_day") == [(1, 6, 1)]
    assert rows(db, "SELECT stage, failures, sources FROM failures_by_stage") == [("decode", 1, 1)]
    assert rows(db, "SELECT dup_kind, paragraphs, across_documents FROM duplicates_by_kind") == [("exact", 3, 3)]


# --- real clients -----------------------------------------------------------------------


def test_the_official_duckdb_shell_reads_the_database(samples_db):
    shell = Path(sys.executable).with_name("duckdb")
    assert shell.exists(), "the duckdb shell comes with the test extras: pip install duckdb-cli==1.5.5"
    assert subprocess.run([str(shell), "--version"], capture_output=True, text=True).stdout.startswith(
        f"v{duckdb.__version__}")
    out = subprocess.run([str(shell), "-readonly", "-csv", str(samples_db), "-c",
                          "SELECT rule, paragraphs FROM boilerplate_by_rule ORDER BY rule"],
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["rule,paragraphs", "author_bio,1", "caption_credit,1", "navigation,1",
                                "search_ui,2", "social_embed,2", "truncated_repeat,1"]
    from storage.query import fts_extension_path

    searched = subprocess.run([str(shell), "-readonly", "-csv", str(samples_db), "-c", f"LOAD '{fts_extension_path()}'",
                               "-c", "SELECT position FROM search_paragraphs WHERE "
                                     "fts_main_search_paragraphs.match_bm25(id, 'réaffirmer') IS NOT NULL ORDER BY 1"],
                              capture_output=True, text=True, check=True).stdout
    assert searched.split() == ["position", "3", "8"]


def cookbook() -> list[str]:
    """Every SQL statement of the README's "Querying and search" section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Querying and search", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, re.S)
    # Split by hand: duckdb.extract_statements counts bytes where Python counts characters.
    statements = [piece for block in blocks for piece in re.split(r";\s*$", block, flags=re.M)]
    return [statement.strip() for statement in statements if re.search(r"^[^-\s]", statement, re.M)]


def test_every_cookbook_query_runs(rich_db):
    statements = cookbook()
    assert len(statements) >= 12
    unanswered = []
    for sql in statements:
        out = io.StringIO()
        run_query(rich_db, sql, "json", out)
        if not out.getvalue():
            unanswered.append(sql)
    assert unanswered == [], unanswered


def test_python_clients_read_it_as_is(samples_db):
    with connect(samples_db) as con:
        assert con.sql("SELECT * FROM languages").fetchall() == [("fr", 2, 23)]
        table = con.sql("SELECT doc_id, text FROM clean_documents ORDER BY doc_id").to_arrow_table()
    assert table.num_rows == 2 and table.column_names == ["doc_id", "text"]
