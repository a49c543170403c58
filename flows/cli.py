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


def _input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--include", action="append", default=[], metavar="GLOB",
                        help="files to take from directories (default: every known format); may be repeated")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="files to leave out; may be repeated")
    parser.add_argument("--format", choices=("txt", "html", "jsonl", "warc"),
                        help="read every file as this format instead of detecting it (inside gzip/zip too)")
    parser.add_argument("--text-field", default="text", help="JSON Lines field with plain text (default: %(default)s)")
    parser.add_argument("--html-field", default="html", help="JSON Lines field with HTML (default: %(default)s)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="docmill", description="Clean, language-tag, deduplicate and load documents.")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="run the ingest flow into a DuckDB file")
    ingest.add_argument("sources", nargs="+",
                        help="files or directories: text, Markdown, HTML, JSON Lines, WARC, gzip or zip of them")
    ingest.add_argument("--db", default="docmill.duckdb", help="DuckDB file (default: %(default)s)")
    ingest.add_argument("--batch-size", type=int, default=200, help="documents per task run (default: %(default)s)")
    ingest.add_argument("--workers", type=int, default=None, help="cleaning processes (default: one per core)")
    ingest.add_argument("--force", action="store_true", help="re-process sources whose bytes have not changed")
    ingest.add_argument("--verbose", action="store_true", help="show Prefect's per-task log lines")
    _rule_options(ingest)
    _input_options(ingest)

    clean = commands.add_parser("clean", help="clean files and print the result; no database, no Prefect")
    clean.add_argument("files", nargs="+", help="files or directories, of any input kind")
    output = clean.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object per document (JSON Lines)")
    output.add_argument("--explain", action="store_true", help="every paragraph with its fate and rule")
    _rule_options(clean)
    _input_options(clean)

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
            rules=args.rules, disable_rules=args.disable_rule, force=args.force, include=args.include,
            exclude=args.exclude, format=args.format, text_field=args.text_field, html_field=args.html_field,
        )
    except RuleError as error:
        print(f"docmill: {error}", file=sys.stderr)
        return 2
    print(format_summary(summary))
    return 0


def _read_options(args: argparse.Namespace):
    from tasks.sources import ReadOptions

    return ReadOptions(format=args.format, text_field=args.text_field, html_field=args.html_field)


def _clean(args: argparse.Namespace) -> int:
    from tasks.boilerplate import RuleError, RuleSpec, load_rules
    from tasks.pipeline import clean_batch
    from tasks.sources import discover, plan_batches

    spec = RuleSpec(tuple(args.rules), tuple(args.disable_rule))
    try:
        load_rules(spec)
    except RuleError as error:
        print(f"docmill: {error}", file=sys.stderr)
        return 2
    files, failures = discover(args.files, args.include, args.exclude)
    paths = {file.source: file.path for file in files}
    first_seen: dict = {}
    names: dict[str, str] = {}  # doc_id -> how to name it, for duplicates pointing back
    for failure in failures:
        _report(failure, failure.source, args.json)
    failed = bool(failures)
    for plan in plan_batches(files, _read_options(args), {}, batch_size=100):
        result = clean_batch(plan.records, {}, spec, first_seen)
        for failure in plan.failures + result.failures:
            _report(failure, paths.get(failure.source, failure.source), args.json)
            failed = True
        for doc in result.documents:
            _print_document(doc, paths.get(doc.source, doc.source), args, names)
    return 1 if failed else 0


def _report(failure, path: str, as_json: bool) -> None:
    print(f"docmill: {path}: [{failure.stage}] {failure.message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"file": path, "error": {"stage": failure.stage, "message": failure.message}}, ensure_ascii=False))


def _print_document(doc, path: str, args: argparse.Namespace, names: dict[str, str]) -> None:
    names[doc.doc_id] = f"{path} ({doc.locator})" if doc.locator else path
    if args.json:
        print(json.dumps(_as_json(doc, path, names), ensure_ascii=False))
    elif args.explain:
        print(_explain(doc, names))
    else:
        print(doc.text, end="\n\n")


def _as_json(doc, path: str, names: dict[str, str]) -> dict:
    """The `docmill clean --json` contract (documented in the README)."""
    meta = doc.meta
    return {
        "file": path,
        "locator": doc.locator,
        "doc_id": doc.doc_id,
        "format": doc.format,
        "extractor": doc.extractor,
        "url": meta.url,
        "title": doc.title,
        "author": meta.author,
        "published": meta.published,
        "site_name": meta.site_name,
        "page_lang": meta.page_lang,
        "fetched_at": meta.fetched_at,
        "lang": doc.lang,
        "lang_prob": doc.lang_prob,
        "paragraphs": [
            {
                "position": p.position,
                "text": p.text,
                "status": p.status,
                "removed_by": p.removed_by,
                "dup_of": None if p.dup_of_position is None
                else {"doc_id": p.dup_of_doc, "file": names.get(p.dup_of_doc), "position": p.dup_of_position},
                "lang": p.lang,
            }
            for p in doc.paragraphs
        ],
    }


def _explain(doc, names: dict[str, str]) -> str:
    lines = [f"== {names[doc.doc_id]}  title={doc.title!r}  lang={doc.lang}  extractor={doc.extractor}"]
    for p in doc.paragraphs:
        fate = p.removed_by if p.status == "removed" else p.status
        where = ""
        if p.dup_of_position is not None:
            where = f" of #{p.dup_of_position}" + ("" if p.dup_of_doc == doc.doc_id else f" in {names.get(p.dup_of_doc, p.dup_of_doc)}")
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
