"""Ad-hoc SQL over a docmill database, read-only: a query can never modify the corpus.

Also the connection every reader uses (``connect``: lock retry, the fts extension loaded
from its wheel) and the terminal table renderer shared by ``docmill query`` and ``stats``.
"""
from __future__ import annotations

import csv
import json
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import util
from pathlib import Path
from typing import TextIO

import duckdb

from storage.lock import DatabaseBusy, open_with_retry

DEFAULT_WAIT = 10.0  # seconds to wait for a writer to release the file
DEFAULT_WIDTH = 60  # characters a table cell shows before "…"
DEFAULT_MAX_ROWS = 100  # rows a table shows
_FETCH = 2048  # rows per fetch when streaming a result
_NUMERIC = {"tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint", "usmallint", "uinteger",
            "ubigint", "uhugeint", "float", "double", "decimal"}


class QueryError(RuntimeError):
    """A query that could not run; the message is DuckDB's, for the person who wrote it."""


def fts_extension_path() -> Path | None:
    """The fts extension shipped by the ``duckdb-extension-fts`` wheel for this duckdb, if installed.

    Loaded by path: extensions cannot be downloaded at run time on many hosts."""
    spec = util.find_spec("duckdb_extension_fts")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "extensions" / f"v{duckdb.__version__}" / "fts.duckdb_extension"
    return path if path.is_file() else None


def connect(db: str | Path, *, read_only: bool = True, wait: float = DEFAULT_WAIT,
            sandboxed: bool = False, allowed_paths: Sequence[str] = ()) -> duckdb.DuckDBPyConnection:
    """Open ``db``, retrying with backoff for up to ``wait`` seconds while another process
    holds it (DuckDB allows one writing process, or any number of reading ones). The fts
    extension is loaded when its wheel is installed, so full-text search works in SQL too.

    ``sandboxed`` (for SQL a user wrote): DuckDB itself then refuses every file but the
    corpus (no reading, writing, attaching or loading extensions: enable_external_access),
    and any change of settings (lock_configuration); the fts extension is loaded before.
    ``allowed_paths``: the files it may still read or write (an export's output)."""
    if read_only and not Path(db).exists():
        raise QueryError(f"no database at {db} (run `docmill ingest` first)")
    con = _open(db, read_only, wait)
    extension = fts_extension_path()
    if extension is not None:
        con.execute(f"LOAD '{extension}'")
    if sandboxed:
        if allowed_paths:
            con.execute("SET allowed_paths = ?", [list(allowed_paths)])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    return con


def lang_filter(column: str) -> str:
    """SQL that holds when ``column``'s language is one of the list parameter ``$langs``, or
    ``$langs`` is empty. A primary subtag matches its regional codes: stored Chinese is
    ``zh-cn`` or ``zh-tw`` (langdetect's), which ``zh`` should find; ``zh-tw`` finds only itself.
    Codes compare case-insensitively, as language tags do."""
    codes = "list_transform($langs, lambda code: lower(code))"
    return (f"(len($langs) = 0 OR list_contains({codes}, lower({column}))"
            f" OR list_contains({codes}, split_part(lower({column}), '-', 1)))")


def _open(db: str | Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    def opener() -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(db), read_only=read_only, config={"autoinstall_known_extensions": False})

    try:
        return open_with_retry(db, opener, wait)
    except DatabaseBusy as busy:
        raise QueryError(f"{busy} (--wait SECONDS waits longer)") from None
    except duckdb.Error as error:
        raise QueryError(str(error)) from None


def _sql_error(error: duckdb.Error) -> QueryError:
    message = str(error)
    if "read-only mode" in message:
        message += "\n(docmill opens the corpus read-only for queries: they can never modify it)"
    elif "disabled by configuration" in message or "configuration has been locked" in message:
        message += "\n(queries read the corpus only; `docmill export` writes files)"
    return QueryError(message)


# --- tables for the terminal ------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # as SQL names it, lower case; '' for a computed display column
    numeric: bool = False  # right-aligned


def columns_of(result: duckdb.DuckDBPyConnection) -> list[Column]:
    """The columns of the result ``result`` (a connection that has just executed a query) holds."""
    return [Column(name, str(kind).lower(), kind.id in _NUMERIC) for name, kind, *_ in result.description]


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: wide East Asian characters count two, combining marks none."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def truncate(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal columns, ending in "…" if it was cut."""
    if display_width(text) <= width:
        return text
    kept, used = [], 0
    for char in text:
        used += display_width(char)
        if used > width - 1:
            break
        kept.append(char)
    return "".join(kept) + "…"


def cell(value: object) -> str:
    """A value as one line of a table cell, written the way SQL writes it."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(cell(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"'{key}': {cell(item)}" for key, item in value.items()) + "}"
    return str(value).replace("\r\n", "↵").replace("\n", "↵").replace("\t", " ")


def render_table(columns: Sequence[Column], rows: Iterable[Sequence], *, width: int = DEFAULT_WIDTH,
                 full: bool = False, types: bool = True, footer: str = "") -> str:
    """A boxed table, one line per row: names (and ``types``) on top, numbers right-aligned,
    cells cut to ``width`` columns with "…" unless ``full``."""
    texts = [[cell(value) if full else truncate(cell(value), width) for value in row] for row in rows]
    heads = [[c.name, c.type] if types else [c.name] for c in columns]
    widths = [max(display_width(text) for text in heads[i] + [row[i] for row in texts]) for i in range(len(columns))]

    def line(left: str, fill: str, middle: str, right: str) -> str:
        return left + middle.join(fill * (w + 2) for w in widths) + right

    def row_line(values: Sequence[str], align: Sequence[str]) -> str:
        padded = (_pad(value, w, a) for value, w, a in zip(values, widths, align))
        return "│ " + " │ ".join(padded) + " │"

    centred = ["^"] * len(columns)
    lines = [line("┌", "─", "┬", "┐"), row_line([c.name for c in columns], centred)]
    if types:
        lines.append(row_line([c.type for c in columns], centred))
    lines.append(line("├", "─", "┼", "┤"))
    lines += [row_line(row, [">" if c.numeric else "<" for c in columns]) for row in texts]
    lines.append(line("└", "─", "┴", "┘"))
    return "\n".join(lines + ([footer] if footer else [])) + "\n"


def _pad(text: str, width: int, align: str) -> str:
    space = width - display_width(text)
    left = {"<": 0, ">": space, "^": space // 2}[align]
    return " " * left + text + " " * (space - left)


# --- running a query --------------------------------------------------------------------


def run_query(db: str | Path, sql: str, output_format: str, out: TextIO, *, wait: float = DEFAULT_WAIT,
              width: int = DEFAULT_WIDTH, full: bool = False, max_rows: int = DEFAULT_MAX_ROWS) -> None:
    """Run ``sql`` on a read-only connection and write the result to ``out`` as a table,
    CSV or JSON Lines. CSV and JSON stream; a table shows at most ``max_rows`` rows (0: all)."""
    writers = {"table": lambda r: out.write(_table(r, width, full, max_rows)),
               "csv": lambda r: _write_csv(r, out), "json": lambda r: _write_json(r, out)}
    if output_format not in writers:
        raise QueryError(f"unknown format {output_format!r}: use one of {', '.join(writers)}, or write_parquet")
    with connect(db, wait=wait, sandboxed=True) as con:
        _execute(con, sql, writers[output_format])


def write_parquet(db: str | Path, sql: str, path: str | Path, *, wait: float = DEFAULT_WAIT) -> None:
    """Run ``sql`` read-only and stream its result into a Parquet file."""
    import pyarrow.parquet as pq

    def write(result: duckdb.DuckDBPyConnection) -> None:
        batches = result.fetch_record_batch(64 * _FETCH)
        with pq.ParquetWriter(str(path), batches.schema, compression="zstd") as writer:
            for batch in batches:
                writer.write_batch(batch)

    with connect(db, wait=wait, sandboxed=True) as con:
        _execute(con, sql, write)


def statement_count(sql: str) -> int:
    """How many statements ``sql`` holds, by DuckDB's tokenizer: semicolons outside strings
    and comments with something after them. (Not extract_statements: it counts a PIVOT as two.)"""
    data = sql.encode("utf-8")
    semicolon = [kind == duckdb.token_type.operator and data[start:start + 1] == b";"
                 for start, kind in duckdb.tokenize(sql)]
    return sum(1 for i, is_semicolon in enumerate(semicolon)
               if not is_semicolon and (i + 1 == len(semicolon) or semicolon[i + 1]))


def _execute(con: duckdb.DuckDBPyConnection, sql: str, write: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
    """Execute ``sql``, one statement, and hand the result to ``write``.

    ``execute`` rather than ``sql``: its errors carry the position (LINE 1: ... ^)."""
    try:
        statements = statement_count(sql)
        if statements != 1:
            raise QueryError(f"one SQL statement per query, not {statements}")
        result = con.execute(sql)
        if result.description is None:
            raise QueryError("the statement returned no result")
        write(result)
    except duckdb.Error as error:
        raise _sql_error(error) from None


def _table(result: duckdb.DuckDBPyConnection, width: int, full: bool, max_rows: int) -> str:
    rows = result.fetchmany(max_rows) if max_rows else result.fetchall()
    total = len(rows) + sum(len(batch) for batch in _batches(result))
    shown = "" if total == len(rows) else f" ({len(rows)} shown; --max-rows 0 shows all)"
    return render_table(columns_of(result), rows, width=width, full=full,
                        footer=f"{total} row{'s' * (total != 1)}{shown}")


def _batches(result: duckdb.DuckDBPyConnection) -> Iterable[list[tuple]]:
    while batch := result.fetchmany(_FETCH):
        yield batch


def _write_csv(result: duckdb.DuckDBPyConnection, out: TextIO) -> None:
    """CSV with a header; NULL is an empty field, a list or struct is JSON (parseable anywhere)."""
    writer = csv.writer(out)
    writer.writerow([name for name, *_ in result.description])
    for batch in _batches(result):
        writer.writerows([_csv_value(value) for value in row] for row in batch)


def _csv_value(value: object) -> object:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=_json_value)
    return value


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def _write_json(result: duckdb.DuckDBPyConnection, out: TextIO) -> None:
    columns = [name for name, *_ in result.description]
    for batch in _batches(result):
        for row in batch:
            out.write(json.dumps(dict(zip(columns, row)), ensure_ascii=False, default=_json_value) + "\n")
