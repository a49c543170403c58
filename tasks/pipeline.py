"""The per-document pipeline: extract, normalise, split, label boilerplate, title,
language, fingerprint and dedup.

Plain functions over plain records: no Prefect, no database. Worker processes run
``clean_batch``; ``docmill clean`` runs it directly.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from tasks.boilerplate import Rule, RuleSpec, label_boilerplate, load_rules
from tasks.dedup import FirstSeen, mark_duplicates, repeated_document, sign_paragraphs
from tasks.html import NoContent, extract_html
from tasks.language import DOCUMENT_SAMPLE_CHARS, detect_languages, init_detector
from tasks.normalize import normalize_text, split_paragraphs
from tasks.pii import find_pii
from tasks.quality import quality_signals
from tasks.reading import Decoded, UnreadableSource, content_hash, decode_counted, reject_binary
from tasks.records import KEPT, REMOVED, BatchResult, Document, Extractor, Failure, Metadata, Paragraph, RawRecord

TITLE_MAX_CHARS = 200
# Bounds on what reaches the database, whatever the input: a load holds its documents'
# text several times over (records, Arrow, DuckDB), and the search index its paragraphs.
MAX_DOCUMENT_CHARS = 10_000_000
MAX_PARAGRAPH_CHARS = 1_000_000


_NOT_A_HEADLINE_END = re.compile(r"[.,;:…]$")


class TooLarge(Exception):
    """A document, or a paragraph of it, longer than the caps above."""


def clean_paragraphs(text: str, rules: Sequence[Rule], markup: Sequence[tuple[str, str]] = ()) -> list[Paragraph]:
    """Normalise and split text, and label each paragraph kept or removed by a rule.

    ``markup`` lists (rule, text) of the page's boilerplate elements (tasks/html.py): a
    paragraph that is part of one's text is removed by its rule.
    """
    paragraphs = [Paragraph(position, item) for position, item in enumerate(split_paragraphs(normalize_text(text)))]
    if markup:
        _label_markup(paragraphs, markup)
    label_boilerplate(paragraphs, rules)
    return paragraphs


def _squeezed(text: str) -> str:
    # without whitespace: an extractor and itertext() space inline elements differently
    return "".join(text.split()).casefold()


def _label_markup(paragraphs: Sequence[Paragraph], markup: Sequence[tuple[str, str]]) -> None:
    elements = [(rule, _squeezed(text)) for rule, text in markup]
    for paragraph in paragraphs:
        squeezed = _squeezed(paragraph.text)
        if not any(char.isalnum() for char in squeezed):
            continue
        rule = next((rule for rule, element in elements if squeezed in element), None)
        if rule is not None:
            paragraph.status, paragraph.removed_by = REMOVED, rule


def pick_title(paragraphs: Sequence[Paragraph]) -> str | None:
    """The first kept paragraph, when it reads as a headline: short, no closing punctuation."""
    first = next((p.text for p in paragraphs if p.status == KEPT), None)
    if first is None or len(first) > TITLE_MAX_CHARS or _NOT_A_HEADLINE_END.search(first):
        return None
    return first if any(char.isalpha() for char in first) else None


def _detect(document: Document) -> None:
    kept = [p for p in document.paragraphs if p.status == KEPT]
    sample = "\n".join(p.text for p in kept)[:DOCUMENT_SAMPLE_CHARS]
    guesses = detect_languages([sample, *(p.text for p in kept)])
    document.lang, document.lang_prob = guesses[0]
    for paragraph, (lang, prob) in zip(kept, guesses[1:]):
        paragraph.lang, paragraph.lang_prob = lang, prob


def _merge(container: Metadata, page: Metadata) -> Metadata:
    """What the container says (a JSONL field, a WARC header) wins over what the page says."""
    return Metadata(**{
        name: getattr(container, name) or getattr(page, name) for name in Metadata.__dataclass_fields__
    })


def _payload_hash(record: RawRecord) -> str:
    payload = record.payload
    return content_hash(payload.encode("utf-8") if isinstance(payload, str) else payload)


def clean_record(
    record: RawRecord, rules: Sequence[Rule], first_seen: FirstSeen | None = None, resolve: bool = True
) -> Document:
    """Turn one raw record into a cleaned document. Duplicates are marked against
    ``first_seen`` (shared across documents by the caller; by default, this document alone),
    unless ``resolve`` is false: paragraphs are then only signed, for a caller that resolves
    them itself. Raises UnreadableSource or NoContent."""
    payload, hash_ = record.payload, _payload_hash(record)
    meta, extractor, markup, invalid_bytes = record.meta, Extractor.PLAIN, (), 0
    if record.kind == "html":
        if isinstance(payload, bytes):
            reject_binary(payload)
        extraction = extract_html(payload, record.meta.url, rules)
        text, markup, extractor = extraction.text, extraction.markup, extraction.extractor
        meta = _merge(record.meta, extraction.meta)
    else:
        decoded = Decoded(payload) if isinstance(payload, str) else decode_counted(payload)
        text, invalid_bytes = decoded.text, decoded.invalid_bytes
    if len(text) > MAX_DOCUMENT_CHARS:
        raise TooLarge(f"{len(text):,} characters of text, over the {MAX_DOCUMENT_CHARS:,} a document may hold")
    paragraphs = clean_paragraphs(text, rules, markup)
    longest = max(paragraphs, key=lambda p: len(p.text), default=None)
    if longest is not None and len(longest.text) > MAX_PARAGRAPH_CHARS:
        raise TooLarge(f"paragraph {longest.position} has {len(longest.text):,} characters, over the "
                       f"{MAX_PARAGRAPH_CHARS:,} a paragraph may hold")
    sign_paragraphs(paragraphs)
    for paragraph in paragraphs:
        if paragraph.dup_of_position is not None:
            paragraph.dup_of_doc = record.doc_id
    document = Document(
        record.doc_id, record.source, hash_, paragraphs, title=meta.title or pick_title(paragraphs),
        locator=record.locator, format=record.format, extractor=extractor, meta=meta, invalid_bytes=invalid_bytes,
    )
    _detect(document)
    document.quality = quality_signals([p.text for p in paragraphs if p.status != REMOVED], document.lang)
    document.pii = find_pii((p.position, p.text) for p in paragraphs)
    if resolve:
        mark_duplicates(record.doc_id, paragraphs, {} if first_seen is None else first_seen)
        document.dup_of_doc = repeated_document(paragraphs)
    return document


def init_worker() -> None:
    """Process-pool initializer: load what every batch needs before the first one arrives."""
    init_detector()
    load_rules()


def clean_batch(
    records: Sequence[RawRecord],
    known_hashes: Mapping[str, str],
    spec: RuleSpec = RuleSpec(),
    first_seen: FirstSeen | None = None,
    resolve: bool = True,
) -> BatchResult:
    """Clean a batch of records. Records whose content hash is in ``known_hashes`` are
    skipped before any work; unreadable ones become failures and the batch goes on.
    With ``first_seen``, duplicates are marked across the batch, not only within documents;
    without ``resolve``, not at all (see clean_record)."""
    rules = load_rules(spec)
    result = BatchResult()
    for record in records:
        try:
            if known_hashes and known_hashes.get(record.doc_id) == _payload_hash(record):
                result.unchanged.append(record.doc_id)
                continue
            result.documents.append(clean_record(record, rules, first_seen, resolve))
        except UnreadableSource as error:
            result.failures.append(_failure(record, error.stage, "UnreadableSource", str(error)))
        except NoContent as error:
            result.failures.append(_failure(record, "extract", "NoContent", str(error)))
        except TooLarge as error:
            result.failures.append(_failure(record, "clean", "TooLarge", str(error)))
        except Exception as error:  # one bad document must not sink its batch
            result.failures.append(_failure(record, "clean", type(error).__name__, str(error)))
    return result


def _failure(record: RawRecord, stage: str, error_type: str, message: str) -> Failure:
    where = f"{record.locator}: " if record.locator else ""
    return Failure(record.source, stage, error_type, where + message)
