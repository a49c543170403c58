"""``docmill export``: the clean corpus, one row per document with its final text and
metadata (the ``clean_documents`` view), written by DuckDB's COPY, which streams: memory
does not grow with the corpus."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from storage.query import DEFAULT_WAIT, QueryError, connect, lang_filter

# A name ending in .gz (out.jsonl.gz) is compressed by DuckDB.
FORMATS = {"parquet": "FORMAT parquet, COMPRESSION zstd", "jsonl": "FORMAT json"}
SUFFIXES = {".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


def format_for(path: str | Path) -> str | None:
    """The export format a file name implies (``corpus.jsonl.gz`` is jsonl), if any."""
    return SUFFIXES.get(Path(Path(path).name.removesuffix(".gz")).suffix)


def export_corpus(db: str | Path, out: str | Path, output_format: str, *, langs: Sequence[str] = (),
                  where: str | None = None, redact: bool = False, wait: float = DEFAULT_WAIT) -> int:
    """Write the documents of ``clean_documents`` in the given languages (all if none) that
    satisfy the SQL condition ``where`` to ``out``, with their personal data masked if
    ``redact`` (the ``redacted_texts`` view); return how many were written."""
    if output_format not in FORMATS:
        raise QueryError(f"unknown export format {output_format!r}: use one of {', '.join(FORMATS)}")
    condition = f" AND ({where})" if where else ""
    target = str(out).replace("'", "''")
    documents = ("(SELECT c.* REPLACE (coalesce(r.text, c.text) AS text) "
                 "FROM clean_documents c LEFT JOIN redacted_texts r USING (doc_id))" if redact else "clean_documents")
    # The --where condition is SQL from the command line: it may read the corpus, and the
    # connection may write ``out``, nothing else.
    # Over an existing file, COPY writes tmp_<name> beside it and renames it into place.
    staging = Path(out).with_name(f"tmp_{Path(out).name}")
    with connect(db, wait=wait, sandboxed=True, allowed_paths=[str(out), str(staging)]) as con:
        try:
            return con.execute(
                f"""
                COPY (SELECT * FROM {documents} WHERE {lang_filter('lang')}{condition})
                TO '{target}' ({FORMATS[output_format]})
                """,
                {"langs": list(langs)},
            ).fetchone()[0]
        except duckdb.Error as error:
            raise QueryError(str(error)) from None
