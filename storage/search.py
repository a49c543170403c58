"""Full-text search: the BM25 index (DuckDB's fts extension) over kept paragraphs, its
rebuild, and searching it.

The index lives in the database file: a table ``search_paragraphs`` (a snapshot of the
kept, non-duplicate paragraphs with a one-column key ``doc_id:position``) and the schema
``fts_main_search_paragraphs`` that ``PRAGMA create_fts_index`` builds from it. DuckDB's fts
index is not incremental, so it is rebuilt whole, by a read-write connection, after an
ingest that changed documents or on ``docmill reindex``; any read-only connection can search.

One language-neutral index serves every language: words are lower-cased, accents stripped
("choigou" finds "Choïgou"), any Unicode letter or digit counts (Cyrillic, Greek, Arabic
script, digits), and there is no stemmer and no stop-word list. A stemmer is per language,
and one index has one: applied to the whole corpus, or to a query whose language is
unknown, it conflates words of other languages. BM25's weighting already makes frequent
words count little. The cost: a search for "réaffirme" does not find "réaffirmer";
give both forms.
"""
from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from storage.query import DEFAULT_WAIT, QueryError, connect, fts_extension_path, lang_filter, truncate

INDEX_SCHEMA = "fts_main_search_paragraphs"
_BUILT_AT = "search_index_built_at"  # docmill_meta key
# The index is rebuilt whole after each run that changed documents. Left to DuckDB's default
# (80% of the machine), building it held memory in proportion to the corpus: 478 MiB at
# 211,000 paragraphs, 1.7 GiB at 845,000. Capped, DuckDB spills what does not fit: 163 and
# 196 MiB, and no slower (6.0 s against 7.7 at 845,000).
INDEX_MEMORY_LIMIT = "64MB"

# Everything but Unicode letters and digits separates words; accents are stripped before.
_INDEX_OPTIONS = r"""stemmer = 'none', stopwords = 'none', ignore = '(\.|[^\p{L}\p{N}])+',
                     strip_accents = 1, lower = 1, overwrite = 1"""
_WORD = re.compile(r"[^\W_]+")  # the same words, found in Python for highlighting


class SearchError(QueryError):
    """Search cannot run: no index, or no fts extension."""


@dataclass(frozen=True)
class IndexBuild:
    paragraphs: int
    seconds: float


@dataclass(frozen=True)
class Hit:
    doc_id: str
    position: int
    score: float
    lang: str
    text: str
    title: str | None
    source: str
    url: str | None


@dataclass(frozen=True)
class SearchResult:
    terms: list[str]  # the query's words as the index sees them (folded)
    hits: list[Hit]
    stale: bool  # documents changed since the index was built


@dataclass(frozen=True)
class IndexState:
    paragraphs: int
    built_at: str | None
    stale: bool  # a run changed documents after the index was built (its rebuild failed)


def _require_fts() -> None:
    if fts_extension_path() is None:
        raise SearchError(
            f"the DuckDB fts extension is not installed: pip install duckdb-extension-fts=={duckdb.__version__}"
        )


def rebuild_index(db: str | Path, *, wait: float = DEFAULT_WAIT) -> IndexBuild:
    """Rebuild the search index of ``db`` from its kept paragraphs, in one transaction.

    A paragraph's language is its own, or its document's when too short to judge."""
    _require_fts()
    if not Path(db).exists():
        raise SearchError(f"no database at {db} (run `docmill ingest` first)")
    started = time.perf_counter()
    with connect(db, read_only=False, wait=wait) as con:
        con.execute(f"SET memory_limit = '{INDEX_MEMORY_LIMIT}'")
        # The index is checkpointed when this commits or closes: as by the writer, without
        # merging row groups. (Imported here: searching needs none of the writer's modules.)
        from storage.corpus import MAX_VACUUM_TASKS

        con.execute(f"SET max_vacuum_tasks = {MAX_VACUUM_TASKS}")
        try:
            paragraphs = _build_index(con)
        except duckdb.Error as error:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass  # a failed COMMIT has rolled back already
            raise SearchError(f"search index not rebuilt: {error}") from None
    return IndexBuild(paragraphs, time.perf_counter() - started)


def _build_index(con: duckdb.DuckDBPyConnection) -> int:
    """Build the index in one transaction; the number of paragraphs it holds."""
    con.execute("BEGIN")
    con.execute(
        """
        CREATE OR REPLACE TABLE search_paragraphs AS
        SELECT p.doc_id || ':' || p.position AS id, p.doc_id, p.position,
               CASE WHEN p.lang = 'und' THEN d.lang ELSE p.lang END AS lang, p.text
        FROM paragraphs p JOIN documents d USING (doc_id)
        WHERE p.status = 'kept'
        ORDER BY d.seq, p.position
        """
    )
    con.execute(f"PRAGMA create_fts_index('search_paragraphs', 'id', 'text', {_INDEX_OPTIONS})")
    con.execute("INSERT OR REPLACE INTO docmill_meta VALUES (?, now()::VARCHAR)", [_BUILT_AT])
    paragraphs = con.execute("SELECT count(*) FROM search_paragraphs").fetchone()[0]
    con.execute("COMMIT")
    return paragraphs


def search(db: str | Path, query: str, *, langs: Sequence[str] = (), limit: int = 20, every_word: bool = False,
           per_document: bool = False, wait: float = DEFAULT_WAIT) -> SearchResult:
    """The ``limit`` best BM25 matches for ``query`` among kept paragraphs: those with any
    of its words (or ``every_word``), optionally only in the given languages; with
    ``per_document``, each document's best paragraph only."""
    _require_fts()
    with connect(db, wait=wait) as con:
        state = index_state(con)
        if state is None:
            raise SearchError(f"{db} has no search index yet: run `docmill reindex --db {db}`")
        terms = con.execute(f"SELECT {INDEX_SCHEMA}.tokenize(?)", [query]).fetchone()[0]
        rows = con.execute(
            f"""
            SELECT s.doc_id, s.position, s.score, s.lang, s.text, d.title, d.source, d.url
            FROM (SELECT *, {INDEX_SCHEMA}.match_bm25(id, $query, conjunctive := $every_word::INTEGER) AS score
                  FROM search_paragraphs) s
                 JOIN documents d USING (doc_id)
            WHERE s.score IS NOT NULL AND {lang_filter('s.lang')}
            QUALIFY NOT $per_document OR row_number() OVER (PARTITION BY s.doc_id ORDER BY s.score DESC) = 1
            ORDER BY s.score DESC, d.seq, s.position
            LIMIT $limit
            """,
            {"query": query, "every_word": every_word, "langs": list(langs), "per_document": per_document,
             "limit": limit},
        ).fetchall()
        return SearchResult(terms, [Hit(*row) for row in rows], state.stale)


def index_state(con: duckdb.DuckDBPyConnection) -> IndexState | None:
    """The search index of the connected database, or None if it has none."""
    built = con.execute(
        "SELECT count(*) > 0 FROM duckdb_tables() WHERE schema_name = ? AND table_name = 'docs'", [INDEX_SCHEMA]
    ).fetchone()[0]
    if not built:
        return None
    return IndexState(*con.execute(
        """
        WITH built AS (SELECT value::TIMESTAMPTZ AS built_at FROM docmill_meta WHERE key = ?)
        SELECT (SELECT count(*) FROM search_paragraphs),
               (SELECT strftime(built_at, '%Y-%m-%d %H:%M:%S %Z') FROM built),
               EXISTS (SELECT 1 FROM runs WHERE documents_new + documents_updated + documents_deleted > 0
                                            AND finished_at > (SELECT built_at FROM built))
        """,
        [_BUILT_AT],
    ).fetchone())


# --- showing hits -----------------------------------------------------------------------


def fold(word: str) -> str:
    """A word as the index stores it: accents stripped, lower case."""
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def highlight(text: str, terms: Sequence[str], mark: Callable[[str], str]) -> str:
    """``text`` with every word that matches a search term wrapped by ``mark``."""
    wanted = set(terms)
    return _WORD.sub(lambda m: mark(m[0]) if fold(m[0]) in wanted else m[0], text)


def snippet(text: str, terms: Sequence[str], width: int) -> str:
    """About ``width`` characters of ``text`` around its first matching word."""
    if len(text) <= width:
        return text
    wanted = set(terms)
    first = next((m.start() for m in _WORD.finditer(text) if fold(m[0]) in wanted), 0)
    start = max(0, min(first - width // 3, len(text) - width))
    start = text.rfind(" ", 0, start) + 1 if start else 0  # begin and end on word boundaries
    end = text.find(" ", start + width)
    end = len(text) if end == -1 else end
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def format_hits(result: SearchResult, mark: Callable[[str], str], *, width: int | None = 300) -> str:
    """Hits for the terminal: rank, title, language, score, where, and the paragraph with
    the matching words marked (cut to about ``width`` characters unless None)."""
    lines = []
    for rank, hit in enumerate(result.hits, 1):
        text = hit.text if width is None else snippet(hit.text, result.terms, width)
        lines += [
            f"{rank:>3}. {truncate(hit.title or '(untitled)', 100)}  [{hit.lang}]  score {hit.score:.2f}",
            f"     {hit.url or hit.source}  ¶{hit.position}",
            f"     {highlight(text, result.terms, mark)}",
            "",
        ]
    if not result.hits:
        lines.append("no matches")
    return "\n".join(lines).rstrip("\n") + "\n"
