"""The ``docmill`` command line.

Prefect and DuckDB are imported only by the commands that need them, so ``docmill clean``
answers in about a second.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

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
    ingest.add_argument("--wait", type=float, default=600, metavar="SECONDS",
                        help="how long to wait for another run (or program) writing the database (default: %(default)s)")
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
    _database_options(query)
    query.add_argument("--format", choices=("table", "csv", "json", "parquet"), default="table",
                       help="json is JSON Lines; parquet needs --output (default: %(default)s)")
    query.add_argument("--output", "-o", metavar="FILE", help="write the result here instead of standard output")
    query.add_argument("--width", type=int, default=60, metavar="N",
                       help="characters a table cell shows before it is cut with … (default: %(default)s)")
    query.add_argument("--full", action="store_true", help="show whole cells, never cut")
    query.add_argument("--max-rows", type=int, default=100, metavar="N",
                       help="rows a table shows, 0 for all (default: %(default)s)")

    search = commands.add_parser("search", help="BM25 full-text search over kept paragraphs")
    search.add_argument("terms", nargs="+", help="words to look for (case and accents do not matter)")
    _database_options(search)
    search.add_argument("--lang", action="append", default=[], metavar="CODE",
                        help="only paragraphs in this language (ISO 639-1; zh: zh-cn and zh-tw); may be repeated")
    search.add_argument("--limit", type=int, default=20, help="hits to show (default: %(default)s)")
    search.add_argument("--all", action="store_true", help="only paragraphs with every word (default: any, best first)")
    search.add_argument("--documents", action="store_true", help="one hit per document: its best paragraph")
    search.add_argument("--full", action="store_true", help="show whole paragraphs, not an excerpt")
    search.add_argument("--json", action="store_true", help="one JSON object per hit (JSON Lines)")

    stats = commands.add_parser("stats", help="the corpus at a glance")
    _database_options(stats)

    export = commands.add_parser("export", help="write the clean corpus, one row per document")
    export.add_argument("out", metavar="OUT", help="file to write (a .gz name compresses JSON Lines)")
    _database_options(export)
    export.add_argument("--format", choices=("parquet", "jsonl"), help="default: from OUT's name")
    export.add_argument("--lang", action="append", default=[], metavar="CODE",
                        help="only documents in this language (zh: zh-cn and zh-tw); may be repeated")
    export.add_argument("--where", metavar="SQL",
                        help="only documents meeting this SQL condition on clean_documents' columns")
    export.add_argument("--redact", action="store_true",
                        help="mask personal data (e-mail, phone, IP, card numbers) in the text as [kind]")

    reindex = commands.add_parser("reindex", help="rebuild the full-text search index")
    _database_options(reindex)
    _operations_parsers(commands)
    return parser


def _database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default="docmill.duckdb", help="DuckDB file (default: %(default)s)")
    parser.add_argument("--wait", type=float, default=10.0, metavar="SECONDS",
                        help="how long to retry while another process holds the file (default: %(default)s)")


def _operations_parsers(commands) -> None:
    server = commands.add_parser("server", help="a local Prefect server with its UI, in the background")
    server.add_argument("action", choices=("start", "stop", "status"))
    server.add_argument("--port", type=int, default=4200)
    server.add_argument("--state", default=".state", help="folder for its PREFECT_HOME, PID and log (default: %(default)s)")

    serve = commands.add_parser("serve", help="run a deployment's schedule in this process (no worker needed)")
    serve.add_argument("deployment", nargs="?", default="nightly", help="a deployment of deployments/prefect.yaml")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"ingest": _ingest, "clean": _clean, "query": _query, "search": _search, "stats": _stats,
                "export": _export, "reindex": _reindex, "server": _server, "serve": _serve}
    return commands[args.command](args)


def _ingest(args: argparse.Namespace) -> int:
    from flows.server import apply_prefect_defaults, start_temporary_server

    apply_prefect_defaults()
    if not args.verbose:
        os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL", "WARNING")
    import signal

    from prefect.exceptions import TerminationSignal

    from flows.ingest import ingest, workers_started_early
    from flows.report import format_summary
    from tasks.boilerplate import RuleError, RuleSpec, load_rules

    # SIGTERM as Ctrl-C: the run closes as interrupted, the workers and Prefect's temporary
    # server stop (atexit), rather than the process ending on the spot.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        load_rules(RuleSpec(tuple(args.rules), tuple(args.disable_rule)))  # fail before Prefect starts
        with workers_started_early(args.workers, args.sources):
            start_temporary_server()
            state = ingest(
                sources=list(args.sources), db=args.db, batch_size=args.batch_size, workers=args.workers,
                rules=args.rules, disable_rules=args.disable_rule, force=args.force, include=args.include,
                exclude=args.exclude, format=args.format, text_field=args.text_field, html_field=args.html_field,
                lock_timeout=args.wait, return_state=True,
            )
    except RuleError as error:
        print(f"docmill: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, TerminationSignal):
        print("docmill: interrupted: the run is recorded as interrupted; run the same command again to go on",
              file=sys.stderr)
        _exit_now(130)
    if not state.is_completed():
        print(f"docmill: {state.message}", file=sys.stderr)
        return 3
    print(format_summary(state.result()))
    return 0


def _exit_now(status: int) -> None:
    """Stop Prefect's temporary server and leave without Prefect's exit handlers: they
    would retry, for minutes, to send events to a server that Ctrl-C (sent to the whole
    process group) has already stopped. The run's own bookkeeping is done by now."""
    from flows.server import stop_temporary_server

    stop_temporary_server()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


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
    # One record a batch: a batch's read failures come before its record, so the output keeps input order.
    for plan in plan_batches(files, _read_options(args), {}, batch_size=1):
        result = clean_batch(plan.records, {}, spec, first_seen)
        for failure in plan.failures + result.failures:
            _report(failure, paths.get(failure.source, failure.source), args.json)
            failed = True
        for doc in result.documents:
            _print_document(doc, paths.get(doc.source, doc.source), args, names)
            if doc.invalid_bytes:
                print(f"docmill: {paths.get(doc.source, doc.source)}: [decode] warning: {doc.invalid_bytes} "
                      "invalid UTF-8 bytes replaced by U+FFFD", file=sys.stderr)
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
                "dup_kind": p.dup_kind,
                "similarity": p.similarity,
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


def _storage_errors(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a database command; its errors (DuckDB's messages) print as `docmill: ...`, exit status 2."""
    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        from storage.lock import DatabaseBusy
        from storage.query import QueryError

        try:
            return command(args)
        except (QueryError, DatabaseBusy) as error:
            print(f"docmill: {error}", file=sys.stderr)
            return 2
    return run


@_storage_errors
def _query(args: argparse.Namespace) -> int:
    from storage.query import QueryError, run_query, write_parquet

    if args.format == "parquet":
        if not args.output:
            raise QueryError("parquet is binary: name a file with --output FILE")
        write_parquet(args.db, args.sql, args.output, wait=args.wait)
        return 0
    with _output(args.output) as out:
        run_query(args.db, args.sql, args.format, out, wait=args.wait, width=args.width, full=args.full,
                  max_rows=args.max_rows)
    return 0


@contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8", newline="") as out:
        yield out


@_storage_errors
def _search(args: argparse.Namespace) -> int:
    from storage.search import format_hits, search

    result = search(args.db, " ".join(args.terms), langs=args.lang, limit=args.limit, every_word=args.all,
                    per_document=args.documents, wait=args.wait)
    if result.stale:
        print(f"docmill: the search index is older than the corpus: run `docmill reindex --db {args.db}`",
              file=sys.stderr)
    if args.json:
        for hit in result.hits:
            print(json.dumps(vars(hit), ensure_ascii=False))
    else:
        print(format_hits(result, _marker(), width=None if args.full else 300), end="")
    return 0


def _marker() -> Callable[[str], str]:
    """How search shows a matching word: bold on a terminal, **word** in a file or pipe."""
    if sys.stdout.isatty() and "NO_COLOR" not in os.environ:
        return lambda word: f"\x1b[1;33m{word}\x1b[0m"
    return lambda word: f"**{word}**"


@_storage_errors
def _stats(args: argparse.Namespace) -> int:
    from storage.stats import corpus_stats

    print(corpus_stats(args.db, wait=args.wait), end="")
    return 0


@_storage_errors
def _export(args: argparse.Namespace) -> int:
    from storage.export import export_corpus, format_for
    from storage.query import QueryError

    output_format = args.format or format_for(args.out)
    if output_format is None:
        raise QueryError(f"cannot tell the format from the name {args.out!r}: pass --format parquet or jsonl")
    written = export_corpus(args.db, args.out, output_format, langs=args.lang, where=args.where,
                            redact=args.redact, wait=args.wait)
    print(f"{written} documents written to {args.out} ({output_format})")
    return 0


@_storage_errors
def _reindex(args: argparse.Namespace) -> int:
    from storage.lock import writer_lock
    from storage.search import rebuild_index

    with writer_lock(args.db, "reindex", args.wait):  # one writer per database, as for ingest
        built = rebuild_index(args.db, wait=args.wait)
    print(f"search index rebuilt: {built.paragraphs} paragraphs in {built.seconds:.2f} s")
    return 0



def _server(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flows import server

    state = Path(args.state)
    if args.action == "stop":
        print("stopped" if server.stop(state) else "no docmill-started server was running")
        return 0
    running = server.start(state, port=args.port) if args.action == "start" else server.running(state)
    if running is None:
        print("no docmill-started server is running")
        return 1
    print(f"Prefect server (pid {running.pid}) with its UI at {running.ui_url}")
    print(f"  point runs at it:  export PREFECT_API_URL={running.api_url}")
    print(f"  its home and log:  {running.home}  {running.log}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from flows.server import apply_prefect_defaults

    apply_prefect_defaults()
    from flows.serve import serve

    serve(args.deployment)
    return 0

if __name__ == "__main__":
    sys.exit(main())
