"""Plain records passed between the pipeline's stages.

They are dataclasses, not ORM rows or Prefect objects, so the core can be tested
without a database or an orchestrator and the records pickle cheaply between processes.
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass, field, fields
from enum import StrEnum
from operator import attrgetter

from tasks.pii import PiiSpan
from tasks.quality import QualitySignals

KEPT = "kept"
REMOVED = "removed"
DUPLICATE = "duplicate"
# How a duplicate repeats its original (Paragraph.dup_kind); tasks/dedup.py has the tiers.
EXACT, TEASER, NEAR = "exact", "teaser", "near"

UNDETERMINED = "und"


class Extractor(StrEnum):
    """What turned a document's payload into text (documents.extractor)."""

    PLAIN = "plain"  # text as it came
    TRAFILATURA = "trafilatura"  # trafilatura's fast pass
    TRAFILATURA_FULL = "trafilatura_full"  # its full pass: the fast one kept little of the page
    PAGE_TEXT = "page_text"  # the page's visible main region: trafilatura kept little of it


@dataclass(slots=True)
class Paragraph:
    """One paragraph of a document and its fate."""

    position: int
    text: str
    status: str = KEPT
    removed_by: str | None = None
    dup_of_doc: str | None = None
    dup_of_position: int | None = None
    lang: str = UNDETERMINED
    lang_prob: float | None = None
    # 64-bit fingerprint of the normalised text; None when too short to take part in dedup.
    fingerprint: int | None = None
    dup_kind: str | None = None  # how a duplicate repeats its original: exact | teaser | near
    similarity: float | None = None  # how alike a duplicate and its original are (1.0 for exact)
    # What the teaser and near-duplicate tiers look paragraphs up by (tasks/dedup.py):
    prefix_fingerprint: int | None = None  # hash of the normalised text's first 40 characters
    long_prefix_fingerprint: int | None = None  # of its first 80 characters
    bands: array | None = None  # MinHash LSH band keys, array('Q'); None when too short
    # The normalised text dedup compares (tasks/dedup.py content_key), kept from signing so
    # that the writer does not compute it again; not stored.
    key: str | None = None

    def __reduce__(self):
        # A slots dataclass pickles through a Python loop over its fields on both sides;
        # the constructor's arguments take half the time. Every paragraph crosses from a
        # cleaning process to the flow's (bench/extraction.py: 116,000 of them, 1.9 s -> 1.0 s).
        return Paragraph, _paragraph_fields(self)


_paragraph_fields = attrgetter(*(f.name for f in fields(Paragraph)))


def in_final_text(paragraph: Paragraph, doc_id: str) -> bool:
    """Whether a paragraph of document ``doc_id`` is part of its final text (Document.text;
    storage/corpus.py says the same in SQL)."""
    if paragraph.status == KEPT:
        return True
    return paragraph.status == DUPLICATE and paragraph.dup_of_doc == doc_id and paragraph.dup_kind != TEASER


@dataclass(slots=True)
class Metadata:
    """What is known about a document besides its text: from its container (JSONL fields,
    WARC headers) and from the page itself (trafilatura's metadata)."""

    url: str | None = None
    title: str | None = None
    author: str | None = None
    published: str | None = None  # ISO date, YYYY-MM-DD
    site_name: str | None = None
    description: str | None = None
    page_lang: str | None = None  # the language the page declares (<html lang>)
    fetched_at: str | None = None  # ISO timestamp of the fetch (WARC-Date)


@dataclass(slots=True)
class RawRecord:
    """One document's raw content, as found in a source file."""

    doc_id: str
    source: str  # URI of the file it came from
    locator: str | None  # where in the file: "line 12", "record 3", "member a.html"
    kind: str  # "text" or "html": how to turn the payload into text
    format: str  # the container chain, e.g. "warc.gz", "zip/jsonl", "txt"
    payload: bytes | str
    meta: Metadata = field(default_factory=Metadata)


@dataclass(slots=True)
class Document:
    """A cleaned document, ready to load."""

    doc_id: str
    source: str
    content_hash: str
    paragraphs: list[Paragraph]
    title: str | None = None
    lang: str = UNDETERMINED
    lang_prob: float | None = None
    locator: str | None = None
    format: str = "txt"
    extractor: Extractor = Extractor.PLAIN
    meta: Metadata = field(default_factory=Metadata)
    dup_of_doc: str | None = None  # the document it repeats, when all its kept paragraphs are duplicates
    invalid_bytes: int = 0  # bytes of its UTF-8 source that were invalid, replaced by U+FFFD
    quality: QualitySignals | None = None  # of its text that is not boilerplate (tasks/quality.py)
    pii: list[PiiSpan] = field(default_factory=list)  # personal data found in its paragraphs (tasks/pii.py)

    @property
    def text(self) -> str:
        """The document's final text, blank-line separated: its kept paragraphs, and those it
        repeats itself (an interview asks each guest the same question, a meal plan repeats
        its daily steps: the repeat is marked, the text stays as written); without
        boilerplate, teasers, or paragraphs first seen in another document."""
        return "\n\n".join(p.text for p in self.paragraphs if in_final_text(p, self.doc_id))


@dataclass(frozen=True, slots=True)
class Failure:
    """A source that could not be processed, with a message a person can act on."""

    source: str
    stage: str
    error_type: str
    message: str


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file to read: its URI (the ``source`` of everything it yields) and its path."""

    source: str
    path: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record deliberately not ingested (a WARC request, an image response), counted."""

    source: str
    locator: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class SourceDone:
    """A source file read to its end (or as far as it could be), for the ``sources`` table."""

    source: str
    content_hash: str
    size: int
    format: str
    complete: bool  # False if reading stopped at an error: its old documents are kept


@dataclass(slots=True)
class BatchResult:
    """What cleaning one batch of sources produced."""

    documents: list[Document] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: int = 0
    sources_done: list[SourceDone] = field(default_factory=list)
    unchanged_sources: list[str] = field(default_factory=list)  # files skipped unread

    def extend(self, later: BatchResult) -> None:
        """Append a later batch, to load both in one transaction."""
        self.documents += later.documents
        self.failures += later.failures
        self.unchanged += later.unchanged
        self.skipped += later.skipped
        self.sources_done += later.sources_done
        self.unchanged_sources += later.unchanged_sources

    @property
    def paragraph_count(self) -> int:
        return sum(len(document.paragraphs) for document in self.documents)

    @property
    def character_count(self) -> int:
        """The length of its paragraphs' texts, together."""
        return sum(len(paragraph.text) for document in self.documents for paragraph in document.paragraphs)
