"""Finding source files and streaming the records inside them.

A source file holds one document (.txt, .md, .html) or many (JSON Lines, WARC, zip), maybe
gzip-compressed. Records are streamed, never the whole archive in memory, so a 10x larger
WARC costs 10x the time, not 10x the memory. A malformed record is a failure for that
record; an unreadable container stops that file (its ``complete`` flag is then False).
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import threading
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from isal import igzip, isal_zlib
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeadersParser, StatusAndHeadersParserException

from tasks.reading import MAX_BYTES, doc_id_for
from tasks.records import BatchResult, Failure, Metadata, RawRecord, Skipped, SourceDone, SourceFile

SUFFIX_FORMATS = {
    ".txt": "txt", ".text": "txt", ".md": "txt",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".warc": "warc", ".arc": "warc",
    ".gz": "gz", ".zip": "zip",
}
FORMATS = ("txt", "html", "jsonl", "warc")
DEFAULT_INCLUDE = tuple(f"*{suffix}" for suffix in SUFFIX_FORMATS)
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_CHUNK = 1 << 20

Item = RawRecord | Failure | Skipped


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How to read sources; the field names say where JSON Lines keep each value."""

    format: str | None = None  # force one format for every file instead of detecting it
    text_field: str = "text"
    html_field: str = "html"
    id_field: str = "id"
    url_field: str = "url"
    title_field: str = "title"
    date_field: str = "date"
    max_record_bytes: int = MAX_BYTES


# --- discovery --------------------------------------------------------------------------------

def discover(
    paths: Iterable[str], include: Iterable[str] = (), exclude: Iterable[str] = ()
) -> tuple[list[SourceFile], list[Failure]]:
    """Files under the given paths, each once, in a stable order.

    Directories are walked recursively (following symlinks, each real directory once, so a
    symlink loop is reported, not followed forever). Files named explicitly are always taken;
    files found in directories must match an ``include`` glob (default: every known
    extension) and no ``exclude`` glob. Globs match the file name or its path below the root.
    """
    include, exclude = tuple(include) or DEFAULT_INCLUDE, tuple(exclude)
    found: dict[str, SourceFile] = {}
    failures: list[Failure] = []
    for given in paths:
        root = Path(given)
        if root.is_dir():
            candidates = _walk(root, include, exclude, failures)
        elif root.is_file():
            candidates = [root]
        else:
            failures.append(Failure(str(given), "discover", "FileNotFoundError", f"no such file or directory: {given}"))
            continue
        for path in candidates:
            source = path.resolve().as_uri()
            found.setdefault(source, SourceFile(source, str(path)))
    return list(found.values()), failures


def _matches(relative: str, patterns: tuple[str, ...]) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(relative, p) for p in patterns)


def _walk(root: Path, include, exclude, failures: list[Failure]) -> list[Path]:
    seen_dirs: set[tuple[int, int]] = set()
    files: list[Path] = []

    def visit(directory: Path) -> None:
        try:
            stat = directory.stat()
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as error:
            failures.append(Failure(str(directory), "discover", type(error).__name__, f"cannot list directory: {error.strerror or error}"))
            return
        if (stat.st_dev, stat.st_ino) in seen_dirs:
            failures.append(Failure(str(directory), "discover", "SymlinkLoop", "directory already visited (symlink loop): skipped"))
            return
        seen_dirs.add((stat.st_dev, stat.st_ino))
        for entry in entries:
            path = Path(entry.path)
            relative = path.relative_to(root).as_posix()
            try:
                is_dir, is_file = entry.is_dir(), entry.is_file()
            except OSError as error:
                failures.append(Failure(str(path), "discover", type(error).__name__, str(error)))
                continue
            if is_dir:
                visit(path)
            elif not is_file:
                if entry.is_symlink():
                    failures.append(Failure(str(path), "discover", "BrokenSymlink", "symlink to nothing"))
            elif _matches(relative, include) and not _matches(relative, exclude):
                files.append(path)

    visit(root)
    return files


class HashStopped(Exception):
    """A file's hash was abandoned (its reader stopped early)."""


def file_hash(path: str, stop: threading.Event | None = None) -> tuple[str, int]:
    """BLAKE2b-128 of a file's bytes and its size, streamed; abandoned once ``stop`` is set."""
    digest, size = hashlib.blake2b(digest_size=16), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            if stop is not None and stop.is_set():
                raise HashStopped(path)
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _stamp(path: str) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_size, status.st_mtime_ns


# --- formats ----------------------------------------------------------------------------------

def format_of(name: str, head: bytes) -> str:
    """The format of a file or archive member, by its extension, else by its first bytes."""
    known = SUFFIX_FORMATS.get(Path(name).suffix.lower())
    if known:
        return known
    if head.startswith(b"\x1f\x8b"):
        return "gz"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"WARC/"):
        return "warc"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith(b"{"):
        return "jsonl"
    if stripped.startswith((b"<!doctype html", b"<html")) or b"<html" in stripped[:1024]:
        return "html"
    return "txt"


# --- records ----------------------------------------------------------------------------------

def _resolve_format(name: str, head: bytes, options: ReadOptions) -> str:
    """Containers are always recognised; --format decides what is inside them."""
    detected = format_of(name, head)
    return detected if detected in ("gz", "zip") or options.format is None else options.format


def iter_records(file: SourceFile, options: ReadOptions = ReadOptions(), fmt: str | None = None) -> Iterator[Item]:
    """Every record of a source file, as RawRecord, or Failure (a bad record, or an unreadable
    file: stage 'read', after which nothing more comes), or Skipped. ``fmt``: the file's
    format, when the caller has resolved it already."""
    try:
        with open(file.path, "rb") as stream:
            if fmt is None:
                fmt = _resolve_format(file.path, stream.read(2048), options)
                stream.seek(0)
            yield from _records(stream, fmt, file.path, file.source, None, "", options)
    except OSError as error:
        yield _unreadable(file, error)
    except Exception as error:  # a reader library's own bug on odd input: this file fails, not the run
        yield Failure(file.source, "read", type(error).__name__, f"unreadable file (reading stopped here): {error}")


def _unreadable(file: SourceFile, error: OSError) -> Failure:
    return Failure(file.source, "read", type(error).__name__, f"cannot read file: {error.strerror or error}")


def _records(
    stream: IO[bytes], fmt: str, name: str, source: str, locator: str | None, prefix: str,
    options: ReadOptions, compressed: bool = False,
) -> Iterator[Item]:
    """Records of one stream; ``prefix`` names the containers around it ("zip/")."""
    label = f"{prefix}{fmt}.gz" if compressed else f"{prefix}{fmt}"
    try:
        if fmt == "gz":
            # ISA-L's inflate: a third of zlib's time, and most of reading a .warc.gz.
            with igzip.GzipFile(fileobj=stream) as inner:
                inner_name = name[:-3] if name.lower().endswith(".gz") else name
                inner_format = _resolve_format(inner_name, inner.peek(2048)[:2048], options)
                yield from _records(inner, inner_format, inner_name, source, locator, prefix, options, compressed=True)
        elif fmt == "zip":
            yield from _zip(stream, source, locator, f"{label}/", options)
        elif fmt == "jsonl":
            yield from _jsonl(stream, source, locator, label, options)
        elif fmt == "warc":
            yield from _warc(stream, source, locator, label, options)
        else:
            yield from _single(stream, fmt, source, locator, label, options)
    except (OSError, EOFError, zlib.error, isal_zlib.error, zipfile.BadZipFile, ArchiveLoadFailed) as error:
        where = f" ({locator})" if locator else ""
        yield Failure(source, "read", type(error).__name__, f"unreadable {label}{where}: {error}")


def _identity(source: str, locator: str | None) -> str:
    return doc_id_for(f"{source}#{locator}" if locator else source)


def _single(stream: IO[bytes], fmt: str, source: str, locator: str | None, chain: str, options: ReadOptions) -> Iterator[Item]:
    payload = stream.read(options.max_record_bytes + 1)
    if len(payload) > options.max_record_bytes:
        yield Failure(source, "parse", "TooLarge", f"{locator or 'file'}: larger than {options.max_record_bytes} bytes")
        return
    kind = "html" if fmt == "html" else "text"
    yield RawRecord(_identity(source, locator), source, locator, kind, chain, payload)


def _zip(stream: IO[bytes], source: str, locator: str | None, prefix: str, options: ReadOptions) -> Iterator[Item]:
    with zipfile.ZipFile(stream) as archive:
        for member in archive.infolist():
            if member.is_dir():
                continue
            where = f"{locator}/{member.filename}" if locator else f"member {member.filename}"
            with archive.open(member) as inner:
                fmt = _resolve_format(member.filename, inner.read(2048), options)
            with archive.open(member) as inner:
                yield from _records(inner, fmt, member.filename, source, where, prefix, options)


def _lines(stream: IO[bytes], limit: int) -> Iterator[bytes | None]:
    """The stream's lines, or None for a line longer than ``limit`` bytes, which is skipped
    unread: a single line (a 2 GiB one in a small .jsonl.gz) must not be read whole."""
    while line := stream.readline(limit + 1):
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        while (rest := stream.readline(_CHUNK)) and not rest.endswith(b"\n"):
            pass
        yield None


def _jsonl(stream: IO[bytes], source: str, locator: str | None, chain: str, options: ReadOptions) -> Iterator[Item]:
    prefix = f"{locator} " if locator else ""
    for number, line in enumerate(_lines(stream, options.max_record_bytes), start=1):
        where = f"{prefix}line {number}"
        if line is None:
            yield Failure(source, "parse", "TooLarge", f"{where}: longer than {options.max_record_bytes} bytes: skipped")
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            yield Failure(source, "parse", type(error).__name__, f"{where}: not valid JSON: {error}")
            continue
        if not isinstance(record, dict):
            yield Failure(source, "parse", "NotAnObject", f"{where}: a JSON {type(record).__name__}, not an object")
            continue
        yield _jsonl_record(record, source, where, chain, options)


def _field(record: dict, name: str) -> str | None:
    value = record.get(name)
    return None if value is None or value == "" else str(value)


def _jsonl_record(record: dict, source: str, where: str, chain: str, options: ReadOptions) -> RawRecord | Failure:
    html, text = record.get(options.html_field), record.get(options.text_field)
    body, kind = (html, "html") if isinstance(html, str) and html.strip() else (text, "text")
    if not isinstance(body, str):
        fields = f"'{options.text_field}' or '{options.html_field}'"
        return Failure(source, "parse", "MissingText", f"{where}: no string field {fields}")
    if len(body) > options.max_record_bytes:
        return Failure(source, "parse", "TooLarge", f"{where}: larger than {options.max_record_bytes} characters")
    url, record_id = _field(record, options.url_field), _field(record, options.id_field)
    identity = url or (f"{source}#id={record_id}" if record_id else f"{source}#{where}")
    meta = Metadata(url=url, title=_field(record, options.title_field), published=_field(record, options.date_field))
    return RawRecord(doc_id_for(identity), source, where, kind, chain, body, meta)


_HTTP_HEADERS = StatusAndHeadersParser(ArcWarcRecordLoader.HTTP_TYPES, verify=False)


def _warc(stream: IO[bytes], source: str, locator: str | None, chain: str, options: ReadOptions) -> Iterator[Item]:
    prefix = f"{locator} " if locator else ""
    # Records are parsed here, not by warcio (no_record_parse): warcio's own parsing fails
    # inside its iterator on a response without WARC-Target-URI, which ends the whole file.
    for number, record in enumerate(ArchiveIterator(stream, no_record_parse=True), start=1):
        where = f"{prefix}record {number}"
        if record.rec_type != "response":
            yield Skipped(source, where, f"{record.rec_type} record")
            continue
        url = record.rec_headers.get_header("uri" if record.format == "arc" else "WARC-Target-URI")
        if not url:
            yield Failure(source, "parse", "MissingTargetURI", f"{where}: response record without WARC-Target-URI")
            continue
        if url.lower().startswith(("http:", "https:")):
            try:
                record.http_headers = _HTTP_HEADERS.parse(record.raw_stream)
            except (StatusAndHeadersParserException, EOFError, ValueError) as error:
                yield _truncated(record, source, where) or Failure(
                    source, "parse", "BadHttpHeaders", f"{where}: unreadable HTTP headers: {error}")
                continue
        content_type = (record.http_headers.get_header("Content-Type") or "") if record.http_headers else ""
        status = record.http_headers.get_statuscode() if record.http_headers else "200"
        media = content_type.split(";")[0].strip().lower()
        payload, skip = b"", None
        if media not in (*_HTML_TYPES, "text/plain"):
            skip = Skipped(source, where, f"response of type {media or 'unknown'}")
        elif not str(status).startswith("2"):
            skip = Skipped(source, where, f"HTTP status {status}")
        else:
            payload = record.content_stream().read(options.max_record_bytes + 1)
        truncated = _truncated(record, source, where)
        if truncated:
            yield truncated
            return
        if skip is not None:
            yield skip
            continue
        if len(payload) > options.max_record_bytes:
            yield Failure(source, "parse", "TooLarge", f"{where}: larger than {options.max_record_bytes} bytes")
            continue
        meta = Metadata(url=url, fetched_at=record.rec_headers.get_header("WARC-Date"))
        kind = "text" if media == "text/plain" else "html"
        yield RawRecord(doc_id_for(url), source, where, kind, chain, payload, meta)


def _truncated(record, source: str, where: str) -> Failure | None:
    """A read failure if the record's block ends before its Content-Length: the file was cut
    short (a crawl still being written, a partial copy), so this is its last record."""
    raw = record.raw_stream
    while raw.read(_CHUNK):
        pass
    if isinstance(raw, LimitReader) and raw.limit > 0:
        return Failure(source, "read", "Truncated",
                       f"{where}: truncated: the file ends {raw.limit} bytes before the record's end")
    return None


# --- batches ----------------------------------------------------------------------------------

@dataclass(slots=True)
class PlannedBatch:
    """Records to clean together, with what reading them found on the way."""

    records: list[RawRecord] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skipped: int = 0
    sources_done: list[SourceDone] = field(default_factory=list)
    unchanged_sources: list[str] = field(default_factory=list)
    payload_bytes: int = 0

    def __bool__(self) -> bool:
        return bool(self.records or self.failures or self.skipped or self.sources_done or self.unchanged_sources)

    def attach(self, cleaned: BatchResult) -> BatchResult:
        """The cleaned batch plus what reading its records found: read failures, skipped
        records, the files it completes and the files skipped unread."""
        cleaned.failures = self.failures + cleaned.failures
        cleaned.skipped += self.skipped
        cleaned.sources_done = self.sources_done
        cleaned.unchanged_sources = self.unchanged_sources
        return cleaned


# Some 190 pages of HTML, a few seconds of work on two cores.
MAX_BATCH_BYTES = 32 * 1024 * 1024


def plan_batches(
    files: Iterable[SourceFile],
    options: ReadOptions,
    known_sources: Mapping[str, str],
    batch_size: int,
    max_batch_bytes: int = MAX_BATCH_BYTES,
) -> Iterator[PlannedBatch]:
    """Stream the records of every file into batches of at most ``batch_size`` records (or
    ``max_batch_bytes`` of payload). The first batches are smaller (an eighth of that, then
    doubling), so that the workers get their first pages while the rest of a full batch is
    still being read. A file whose bytes hash as in ``known_sources`` is not read at all;
    any other file is hashed in a thread while its records are read, rather than in a pass
    of its own before the first batch (1.2 GB of WARC: over a second of idle workers). A
    file's SourceDone travels in the batch holding its last record or a later one, so it is
    loaded after all of the file's documents."""
    batch = PlannedBatch()
    bytes_cap = max(1, max_batch_bytes // 8)
    hasher = ThreadPoolExecutor(1, thread_name_prefix="docmill-file-hash")
    stop = threading.Event()
    try:
        for file in files:
            stop = threading.Event()
            try:
                before = _stamp(file.path)
                hashing = hasher.submit(file_hash, file.path, stop)
                with open(file.path, "rb") as handle:
                    fmt = _resolve_format(file.path, handle.read(2048), options)
                if file.source in known_sources and known_sources[file.source] == hashing.result()[0]:
                    batch.unchanged_sources.append(file.source)
                    continue
            except OSError as error:
                stop.set()
                batch.failures.append(_unreadable(file, error))
                continue
            complete = True
            for item in iter_records(file, options, fmt):
                if isinstance(item, RawRecord):
                    batch.records.append(item)
                    batch.payload_bytes += len(item.payload)
                elif isinstance(item, Skipped):
                    batch.skipped += 1
                else:
                    batch.failures.append(item)
                    complete = complete and item.stage != "read"
                if len(batch.records) >= batch_size or batch.payload_bytes >= bytes_cap:
                    yield batch
                    batch = PlannedBatch()
                    bytes_cap = min(2 * bytes_cap, max_batch_bytes)
            try:
                hash_, size = hashing.result()
                # Written to while read: the hash may cover bytes the reader never saw, so the
                # file is recorded incomplete, to be read again, rather than unchanged.
                changed = size != before[0] or _stamp(file.path) != before
            except OSError as error:
                if complete:  # else its read failure is already recorded
                    batch.failures.append(Failure(
                        file.source, "read", type(error).__name__,
                        f"read, but could not be hashed, so it will be read again: {error.strerror or error}",
                    ))
                continue
            batch.sources_done.append(SourceDone(file.source, hash_, size, fmt, complete and not changed))
    finally:
        # Closed early (an interrupted run): abandon the hash rather than wait for a whole file.
        stop.set()
        hasher.shutdown(wait=False, cancel_futures=True)
    if batch:
        yield batch
