"""Turning bytes into text, or into a clear failure; stable document identities."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import charset_normalizer

from tasks.language import detect_language

MAX_BYTES = 64 * 1024 * 1024
# The legacy (pre-Unicode) code page each language was usually written in. On short texts
# charset-normalizer cannot tell cp1252 from cp1250 or cp1257 (French read as "coūte ą"),
# but the language shows through the few wrong letters, and names the code page to use.
_LEGACY_CODE_PAGES = {
    **dict.fromkeys("en fr de es it pt nl sv da no fi is ca eu gl af sq id ms sw".split(), "cp1252"),
    **dict.fromkeys("pl cs sk hu hr sl ro".split(), "cp1250"),
    **dict.fromkeys("ru uk bg mk".split(), "cp1251"),
    "el": "cp1253", "tr": "cp1254", "he": "cp1255", "ar": "cp1256", "fa": "cp1256", "ur": "cp1256",
    **dict.fromkeys("lt lv et".split(), "cp1257"),
    "vi": "cp1258", "th": "cp874",
}
_CONFIDENT = 0.8
_C1_CONTROLS = re.compile("[\x80-\x9f]")
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0e-\x1f]")
_MAX_CONTROL_SHARE = 0.05
# Byte-order marks, longest first (the UTF-32 LE mark begins with the UTF-16 LE one).
_BOMS = {
    b"\xff\xfe\x00\x00": "utf-32", b"\x00\x00\xfe\xff": "utf-32",
    b"\xef\xbb\xbf": "utf-8-sig", b"\xff\xfe": "utf-16", b"\xfe\xff": "utf-16",
}


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


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    invalid_bytes: int = 0  # bytes that were not valid UTF-8, each replaced by U+FFFD


_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20)])


def reject_binary(data: bytes) -> None:
    """Raise UnreadableSource for bytes that are no text docmill reads (random bytes named
    .html, say): NUL bytes outside UTF-16, or more control bytes than text ever has. For
    payloads another library decodes (HTML), which would turn such bytes into garbage text."""
    head = data[:65536]
    if any(head.startswith(bom) for bom in _BOMS):
        return
    if b"\x00" in head and _utf16_without_bom(head) is None:
        raise UnreadableSource("decode", "binary content (NUL bytes), not text")
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if controls > _MAX_CONTROL_SHARE * len(head):
        raise UnreadableSource("decode", f"binary content ({controls} control bytes), not text")


def decode(data: bytes) -> str:
    return decode_counted(data).text


def decode_counted(data: bytes) -> Decoded:
    """Decode bytes as UTF-8 (a few invalid bytes replaced and counted), UTF-16 (with or
    without a byte-order mark), else as the most plausible legacy encoding.

    Raises UnreadableSource for empty, binary or undecodable content.
    """
    if not data.strip():
        raise UnreadableSource("read", "empty file: no text to ingest")
    bom = next((bom for bom in _BOMS if data.startswith(bom)), None)
    encoding = _BOMS.get(bom, "utf-8")
    if bom is None and b"\x00" in data[:65536]:
        encoding = _utf16_without_bom(data[:65536])
        if encoding is None:
            raise UnreadableSource("decode", "binary content (NUL bytes), not text")
    invalid = 0
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        if encoding != "utf-8":
            raise UnreadableSource("decode", f"broken {encoding}: invalid bytes where its text should be") from None
        text, invalid = _mostly_utf8(data)
        if text is None:
            text, invalid = _decode_legacy(data), 0
    head = text[:65536]
    controls = len(_CONTROL_CHARS.findall(head))
    if controls > _MAX_CONTROL_SHARE * len(head):
        raise UnreadableSource("decode", f"binary content ({controls} control characters), not text")
    return Decoded(text, invalid)


# UTF-16 text without a byte-order mark: mostly Latin letters, each with a NUL byte on the
# same side of every pair. Binary data has its NULs on both sides.
_UTF16_NUL_SIDE = 0.05
_UTF16_OTHER_SIDE = 0.02
_UTF16_MIN_SPACES = 0.03


def _utf16_without_bom(head: bytes) -> str | None:
    even, odd = head[0::2].count(0), head[1::2].count(0)
    pairs = len(head) // 2 or 1
    for nuls, others, encoding in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if nuls > _UTF16_NUL_SIDE * pairs and others <= _UTF16_OTHER_SIDE * pairs:
            text = head[:len(head) // 2 * 2].decode(encoding, "replace")
            # Words are separated: a run of one repeated non-space pair is not text.
            if sum(char.isspace() for char in text) >= _UTF16_MIN_SPACES * len(text):
                return encoding
    return None


_INVALID_UTF8 = re.compile("[\udc80-\udcff]")
_NON_ASCII = re.compile("[^\x00-\x7f\udc80-\udcff]")


def _mostly_utf8(data: bytes) -> tuple[str | None, int]:
    """UTF-8 with its invalid bytes replaced, and their number, when the valid multi-byte
    characters outnumber them: a stray byte in a UTF-8 file. Read as a legacy code page,
    every other accented letter of the file would turn to mojibake. None otherwise: a
    legacy file's accented letters are all invalid UTF-8."""
    escaped = data.decode("utf-8", "surrogateescape")
    invalid = len(_INVALID_UTF8.findall(escaped))
    if len(_NON_ASCII.findall(escaped)) < invalid:
        return None, 0
    return _INVALID_UTF8.sub("\ufffd", escaped), invalid


def _decode_legacy(data: bytes) -> str:
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise UnreadableSource("decode", "not UTF-8 and no plausible text encoding found (binary?)")
    text = str(best)
    lang, prob = detect_language(text)
    code_page = _LEGACY_CODE_PAGES.get(lang)
    if code_page is None or code_page == best.encoding or prob < _CONFIDENT:
        return text
    try:
        by_language = data.decode(code_page)
    except UnicodeDecodeError:
        return text
    return text if _C1_CONTROLS.search(by_language) else by_language
