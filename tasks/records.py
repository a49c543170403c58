"""Plain records passed between the pipeline's stages.

They are dataclasses, not ORM rows or Prefect objects, so the core can be tested
without a database or an orchestrator and the records pickle cheaply between processes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

KEPT = "kept"
REMOVED = "removed"
DUPLICATE = "duplicate"

UNDETERMINED = "und"


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

    @property
    def is_output(self) -> bool:
        return self.status == KEPT


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

    @property
    def text(self) -> str:
        """The document's final text: kept, non-duplicate paragraphs, blank-line separated."""
        return "\n\n".join(p.text for p in self.paragraphs if p.is_output)


@dataclass(frozen=True, slots=True)
class Failure:
    """A source that could not be processed, with a message a person can act on."""

    source: str
    stage: str
    error_type: str
    message: str


@dataclass(frozen=True, slots=True)
class SourceRef:
    """A source to read: where it is and the stable id of the document it yields."""

    doc_id: str
    source: str
    path: str


@dataclass(slots=True)
class BatchResult:
    """What cleaning one batch of sources produced."""

    documents: list[Document] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
