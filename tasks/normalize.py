"""Unicode and whitespace normalisation, and splitting text into paragraphs."""
from __future__ import annotations

import html
import re
import unicodedata

# Invisible characters that carry no content. Zero-width (non-)joiners are not here:
# they spell words in Persian and Indic scripts and build emoji sequences.
_INVISIBLE = re.compile(
    "[\u00ad\u200b\u2060\ufeff\u200e\u200f\u202a-\u202e\u2066-\u2069"
    # C0/C1 controls except tab and newline, which are whitespace handled below.
    "\x00-\x08\x0b-\x1f\x7f-\x9f]"
)
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
_MAX_PASSES = 8

# A block of hard-wrapped prose: most lines of similar medium length, running on.
_WRAP_MIN, _WRAP_MAX, _WRAP_SPREAD = 40, 100, 30
_LIST_OR_HEADING = re.compile(r"^(?:[#>*+\-•|]|\d+[.)]\s)")
_SENTENCE_END = re.compile(r"[.!?:;…\"»”')\]]$")


def _normalize_once(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    text = html.unescape(text)
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    text = _HORIZONTAL_SPACE.sub(" ", text)
    return "\n".join(line.strip() for line in text.split("\n"))


def normalize_text(text: str) -> str:
    """NFC, HTML entities unescaped, invisible and control characters dropped, spaces collapsed.

    Repeated until stable so that double-escaped entities (``&amp;amp;``) resolve fully
    and normalising normalised text changes nothing.
    """
    for _ in range(_MAX_PASSES):
        normalized = _normalize_once(text)
        if normalized == text:
            break
        text = normalized
    return text


def _is_hard_wrapped(lines: list[str]) -> bool:
    body = lines[:-1]
    if len(lines) < 3 or any(_LIST_OR_HEADING.match(line) for line in lines):
        return False
    lengths = [len(line) for line in body]
    if min(lengths) < _WRAP_MIN or max(lengths) > _WRAP_MAX or max(lengths) - min(lengths) > _WRAP_SPREAD:
        return False
    running_on = sum(1 for line in body if not _SENTENCE_END.search(line))
    return running_on * 2 > len(body)


def split_paragraphs(text: str) -> list[str]:
    """Split normalised text into paragraphs.

    Both conventions occur in the wild (and in the user's samples): one paragraph per
    line, and paragraphs separated by blank lines. Every non-empty line is a paragraph,
    except inside a blank-line-delimited block of hard-wrapped prose, which is re-joined.
    """
    paragraphs: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.split("\n") if line]
        if _is_hard_wrapped(lines):
            paragraphs.append(" ".join(lines))
        else:
            paragraphs.extend(lines)
    return paragraphs
