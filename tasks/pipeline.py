"""The per-document pipeline: normalise, split, label boilerplate, title, language, dedup.

Plain functions over plain records: no Prefect, no database. Worker processes run
``clean_batch``; ``docmill clean`` runs ``clean_document`` directly.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from tasks.boilerplate import Rule, RuleSpec, label_boilerplate, load_rules
from tasks.dedup import FirstSeen, fingerprint, mark_duplicates
from tasks.language import DOCUMENT_SAMPLE_CHARS, detect_languages, init_detector
from tasks.normalize import normalize_text, split_paragraphs
from tasks.reading import UnreadableSource, content_hash, decode, read_source
from tasks.records import KEPT, BatchResult, Document, Failure, Paragraph, SourceRef

TITLE_MAX_CHARS = 200
_NOT_A_HEADLINE_END = re.compile(r"[.,;:…]$")


def clean_paragraphs(text: str, rules: Sequence[Rule]) -> list[Paragraph]:
    """Normalise and split text, and label each paragraph kept or removed by a rule."""
    paragraphs = [Paragraph(position, line) for position, line in enumerate(split_paragraphs(normalize_text(text)))]
    label_boilerplate(paragraphs, rules)
    return paragraphs


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


def clean_document(
    ref: SourceRef, text: str, hash_: str, rules: Sequence[Rule], first_seen: FirstSeen | None = None
) -> Document:
    """Clean one document's text. Duplicates are marked against ``first_seen`` (shared
    across documents by the caller for corpus-wide dedup; by default, this document alone)."""
    paragraphs = clean_paragraphs(text, rules)
    for paragraph in paragraphs:
        paragraph.fingerprint = fingerprint(paragraph.text)
        if paragraph.dup_of_position is not None:
            paragraph.dup_of_doc = ref.doc_id
    document = Document(ref.doc_id, ref.source, hash_, paragraphs, title=pick_title(paragraphs))
    _detect(document)
    mark_duplicates(ref.doc_id, paragraphs, {} if first_seen is None else first_seen)
    return document


def init_worker() -> None:
    """Process-pool initializer: load what every batch needs before the first one arrives."""
    init_detector()
    load_rules()


def clean_batch(
    refs: Sequence[SourceRef],
    known_hashes: Mapping[str, str],
    spec: RuleSpec = RuleSpec(),
    first_seen: FirstSeen | None = None,
) -> BatchResult:
    """Clean a batch of sources. Sources whose bytes match ``known_hashes`` are skipped
    (before any cleaning); unreadable ones become failures and the batch goes on.
    With ``first_seen``, duplicates are marked across the batch, not only within documents."""
    rules = load_rules(spec)
    result = BatchResult()
    for ref in refs:
        try:
            data = read_source(ref)
            hash_ = content_hash(data)
            if known_hashes.get(ref.doc_id) == hash_:
                result.unchanged.append(ref.doc_id)
                continue
            result.documents.append(clean_document(ref, decode(data), hash_, rules, first_seen))
        except UnreadableSource as error:
            result.failures.append(Failure(ref.source, error.stage, "UnreadableSource", str(error)))
        except Exception as error:  # one bad document must not sink its batch
            result.failures.append(Failure(ref.source, "clean", type(error).__name__, str(error)))
    return result
