"""Finding sources and turning their bytes into text, or into a clear failure."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import charset_normalizer

from tasks.records import Failure, SourceRef

TEXT_SUFFIXES = (".txt", ".md")
MAX_BYTES = 64 * 1024 * 1024
# Legacy Western text is overwhelmingly windows-1252 (what browsers read "latin-1" as);
# on short texts charset-normalizer often ties it with cp1250 and picks the wrong one.
_PREFERRED_LEGACY = "cp1252"
_CHAOS_TIE = 0.01
_MAX_CONTROL_SHARE = 0.05
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


class UnreadableSource(Exception):
    """A source that is not text we can read; ``stage`` says where it failed."""

    def __init__(self, stage: str, message: str):
        super().__init__(message)
        self.stage = stage


def doc_id_for(uri: str) -> str:
    """A stable 16-hex-digit document id derived from the source URI."""
    return hashlib.blake2b(uri.encode("utf-8"), digest_size=8).hexdigest()


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def source_ref(path: Path) -> SourceRef:
    uri = path.resolve().as_uri()
    return SourceRef(doc_id=doc_id_for(uri), source=uri, path=str(path))


def discover(paths: Iterable[str], suffixes: tuple[str, ...] = TEXT_SUFFIXES) -> tuple[list[SourceRef], list[Failure]]:
    """Every file with a known suffix under the given files and directories, sorted, each once."""
    found: dict[str, SourceRef] = {}
    failures: list[Failure] = []
    for given in paths:
        root = Path(given)
        if root.is_file():
            candidates = [root]
        elif root.is_dir():
            candidates = sorted(p for p in _walk(root, failures) if p.suffix.lower() in suffixes)
        else:
            failures.append(Failure(str(given), "discover", "FileNotFoundError", f"no such file or directory: {given}"))
            continue
        for path in candidates:
            ref = source_ref(path)
            found.setdefault(ref.doc_id, ref)
    return list(found.values()), failures


def _walk(root: Path, failures: list[Failure]) -> Iterable[Path]:
    def report(error: OSError) -> None:
        failures.append(Failure(str(error.filename or root), "discover", type(error).__name__, str(error)))

    for directory, _, files in os.walk(root, onerror=report):
        for name in files:
            yield Path(directory, name)


def decode(data: bytes) -> str:
    """Decode bytes as UTF-8, else as the most plausible legacy encoding.

    Raises UnreadableSource for empty, binary or undecodable content.
    """
    if not data.strip():
        raise UnreadableSource("read", "empty file: no text to ingest")
    if b"\x00" in data[:65536] and not data.startswith(_BOMS):
        raise UnreadableSource("decode", "binary content (NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = _decode_legacy(data)
    controls = sum(1 for char in text[:65536] if ord(char) < 32 and char not in "\t\n\r\f")
    if controls > _MAX_CONTROL_SHARE * min(len(text), 65536):
        raise UnreadableSource("decode", f"binary content ({controls} control characters), not text")
    return text


def _decode_legacy(data: bytes) -> str:
    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        raise UnreadableSource("decode", "not UTF-8 and no plausible text encoding found (binary?)")
    preferred = next((m for m in matches if m.encoding == _PREFERRED_LEGACY), None)
    if preferred is not None and preferred.chaos <= best.chaos + _CHAOS_TIE:
        best = preferred
    return str(best)


def read_source(ref: SourceRef, max_bytes: int = MAX_BYTES) -> bytes:
    try:
        size = os.path.getsize(ref.path)
        if size > max_bytes:
            raise UnreadableSource("read", f"file too large: {size} bytes, limit {max_bytes}")
        with open(ref.path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise UnreadableSource("read", f"{type(error).__name__}: {error.strerror or error}") from None
