"""The ``docmill`` command line.

Prefect and DuckDB are imported only by the commands that need them, so ``docmill clean``
answers in about a second.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

# No network here and no telemetry wanted; the first server-less run migrates a fresh
# SQLite database, which can take longer than Prefect's 20 s default start-up timeout.
PREFECT_DEFAULTS = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600",
}


def _rule_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", action="append", default=[], metavar="FILE",
                        help="extra boilerplate rules (TOML); may be repeated")
    parser.add_argument("--disable-rule", action="append", default=[], metavar="NAME",
                        help="switch a boilerplate rule off; may be repeated")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="docmill", description="Clean, language-tag, deduplicate and load documents.")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="run the ingest flow into a DuckDB file")
    ingest.add_argument("sources", nargs="+", help="files or directories (.txt, .md)")
    ingest.add_argument("--db", default="docmill.duckdb", help="DuckDB file (default: %(default)s)")
    ingest.add_argument("--batch-size", type=int, default=200, help="documents per task run (default: %(default)s)")
    ingest.add_argument("--workers", type=int, default=None, help="cleaning processes (default: one per core)")
    ingest.add_argument("--force", action="store_true", help="re-process sources whose bytes have not changed")
    ingest.add_argument("--verbose", action="store_true", help="show Prefect's per-task log lines")
    _rule_options(ingest)

    clean = commands.add_parser("clean", help="clean files and print the result; no database, no Prefect")
    clean.add_argument("files", nargs="+")
    output = clean.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object per file (JSON Lines)")
    output.add_argument("--explain", action="store_true", help="every paragraph with its fate and rule")
    _rule_options(clean)

    query = commands.add_parser("query", help="run SQL on the database, read-only")
    query.add_argument("sql")
    query.add_argument("--db", default="docmill.duckdb")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return {"ingest": _ingest, "clean": _clean, "query": _query}[args.command](args)


def _ingest(args: argparse.Namespace) -> int:
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if not args.verbose:
        os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL", "WARNING")
    from flows.ingest import ingest
    from flows.report import format_summary
    from tasks.boilerplate import RuleError

    try:
        summary = ingest(
            sources=list(args.sources), db=args.db, batch_size=args.batch_size, workers=args.workers,
            rules=args.rules, disable_rules=args.disable_rule, force=args.force,
        )
    except RuleError as error:
        print(f"docmill: {error}", file=sys.stderr)
        return 2
    print(format_summary(summary))
    return 0


def _clean(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tasks.boilerplate import RuleError, RuleSpec
    from tasks.pipeline import clean_batch
    from tasks.reading import source_ref

    refs = [source_ref(Path(name)) for name in args.files]
    try:
        result = clean_batch(refs, {}, RuleSpec(tuple(args.rules), tuple(args.disable_rule)), first_seen={})
    except RuleError as error:
        print(f"docmill: {error}", file=sys.stderr)
        return 2
    path_of = {ref.doc_id: ref.path for ref in refs}
    documents = {doc.doc_id: doc for doc in result.documents}
    failures = {failure.source: failure for failure in result.failures}
    for ref in refs:
        if ref.source in failures:
            failure = failures[ref.source]
            print(f"docmill: {ref.path}: [{failure.stage}] {failure.message}", file=sys.stderr)
            if args.json:
                print(json.dumps({"file": ref.path, "error": {"stage": failure.stage, "message": failure.message}}))
        elif args.json:
            print(json.dumps(_as_json(documents[ref.doc_id], ref.path, path_of), ensure_ascii=False))
        elif args.explain:
            print(_explain(documents[ref.doc_id], ref.path, path_of))
        else:
            print(documents[ref.doc_id].text, end="\n\n")
    return 1 if result.failures else 0


def _as_json(doc, path: str, path_of: dict[str, str]) -> dict:
    """The `docmill clean --json` contract (documented in the README)."""
    return {
        "file": path,
        "doc_id": doc.doc_id,
        "title": doc.title,
        "lang": doc.lang,
        "lang_prob": doc.lang_prob,
        "paragraphs": [
            {
                "position": p.position,
                "text": p.text,
                "status": p.status,
                "removed_by": p.removed_by,
                "dup_of": None if p.dup_of_position is None
                else {"file": path_of.get(p.dup_of_doc, p.dup_of_doc), "position": p.dup_of_position},
                "lang": p.lang,
            }
            for p in doc.paragraphs
        ],
    }


def _explain(doc, path: str, path_of: dict[str, str]) -> str:
    lines = [f"== {path}  title={doc.title!r}  lang={doc.lang}"]
    for p in doc.paragraphs:
        fate = p.removed_by if p.status == "removed" else p.status
        where = ""
        if p.dup_of_position is not None:
            other = path_of.get(p.dup_of_doc, p.dup_of_doc)
            where = f" of #{p.dup_of_position}" + ("" if p.dup_of_doc == doc.doc_id else f" in {other}")
        lines.append(f"{p.position:>4}  {fate + where:<28} {p.lang:<4} {p.text}")
    return "\n".join(lines)


def _query(args: argparse.Namespace) -> int:
    from storage.query import QueryError, run_query

    try:
        run_query(args.db, args.sql, args.format, sys.stdout)
    except QueryError as error:
        print(f"docmill: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
