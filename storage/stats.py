"""``docmill stats``: the corpus at a glance, as terminal tables with bar charts, read from
the views of schema.sql on a read-only connection."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from storage.query import DEFAULT_WAIT, Column, columns_of, connect, render_table
from storage.search import index_state

BAR_WIDTH = 24
_EIGHTHS = ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")


@dataclass(frozen=True)
class Section:
    title: str
    sql: str
    bar: str | None = None  # the column charted


SECTIONS = (
    Section("Corpus", """
        SELECT (SELECT count(*) FROM documents) AS documents, (SELECT count(*) FROM clean_documents) AS with_text,
               count(*) AS paragraphs, count(*) FILTER (WHERE status = 'kept') AS kept,
               count(*) FILTER (WHERE status = 'removed') AS removed,
               count(*) FILTER (WHERE status = 'duplicate') AS duplicate,
               (SELECT count(*) FROM sources) AS sources, (SELECT count(*) FROM runs) AS runs,
               (SELECT count(*) FROM failures) AS failures
        FROM paragraphs"""),
    Section("Documents and their kept paragraphs, by language", "SELECT * FROM languages", "documents"),
    Section("Boilerplate removed, by rule", "SELECT rule, paragraphs, documents FROM boilerplate_by_rule",
            "paragraphs"),
    Section("Duplicates, by kind", "SELECT * FROM duplicates_by_kind", "paragraphs"),
    Section("Quality: documents failing each published rule (gopher_quality, c4_quality)", """
        SELECT 'gopher' AS filter, rule, count(*) AS documents FROM gopher_quality GROUP BY ALL
        UNION ALL
        SELECT 'c4', rule, count(*) FROM c4_quality GROUP BY ALL
        ORDER BY documents DESC, filter, rule""", "documents"),
    Section("Personal data, by kind", "SELECT * FROM pii_by_kind", "spans"),
    Section("Runs, by day (latest 14)", """
        SELECT day, runs, failed_runs, documents_new + documents_updated + documents_deleted AS documents_changed,
               documents_failed
        FROM runs_by_day LIMIT 14""", "documents_changed"),
    Section("Failures, by stage", "SELECT stage, failures, sources, example FROM failures_by_stage", "failures"),
    Section("Failing now (latest run that read each source)",
            "SELECT stage, regexp_extract(source, '[^/]+/?$') AS file, message FROM failing_now"),
)


def bar(value: float | None, largest: float | None, width: int = BAR_WIDTH) -> str:
    """A horizontal bar ``value / largest`` of ``width`` characters, in eighths; never empty for a positive value."""
    if not value or not largest:
        return ""
    eighths = max(1, round(8 * width * value / largest))
    return "█" * (eighths // 8) + _EIGHTHS[eighths % 8]


def _section(con: duckdb.DuckDBPyConnection, section: Section, width: int) -> str:
    result = con.execute(section.sql)
    columns, rows = columns_of(result), result.fetchall()
    if not rows:
        return f"{section.title}: none\n"
    if section.bar is not None:
        index = [column.name for column in columns].index(section.bar)
        largest = max(row[index] or 0 for row in rows)
        columns = [*columns, Column("", "")]
        rows = [(*row, bar(row[index], largest)) for row in rows]
    return section.title + "\n" + render_table(columns, rows, width=width, types=False)


def corpus_stats(db: str | Path, *, wait: float = DEFAULT_WAIT, width: int = 48) -> str:
    """Every section, then the state of the search index."""
    with connect(db, wait=wait) as con:
        parts = [_section(con, section, width) for section in SECTIONS]
        state = index_state(con)
    if state is None:
        parts.append("Search index: none (docmill reindex builds it)\n")
    else:
        stale = "; STALE: documents changed since, run docmill reindex" if state.stale else ""
        parts.append(f"Search index: {state.paragraphs} paragraphs, built {state.built_at}{stale}\n")
    return "\n".join(parts)
