"""Ad-hoc SQL over a docmill database, read-only: a query can never modify the corpus."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TextIO

import duckdb


class QueryError(RuntimeError):
    """A query that could not run; the message is DuckDB's, for the person who wrote it."""


def run_query(db: str | Path, sql: str, output_format: str, out: TextIO) -> None:
    """Run ``sql`` on a read-only connection and write the result as a table, CSV or JSON Lines."""
    if not Path(db).exists():
        raise QueryError(f"no database at {db} (run `docmill ingest` first)")
    try:
        with duckdb.connect(str(db), read_only=True) as con:
            relation = con.sql(sql)
            if relation is None:
                return
            if output_format == "table":
                out.write(str(relation))
                return
            columns, rows = relation.columns, relation.fetchall()
    except duckdb.Error as error:
        raise QueryError(str(error)) from None
    if output_format == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        for row in rows:
            out.write(json.dumps(dict(zip(columns, row)), ensure_ascii=False, default=str) + "\n")
