"""HTML to text: trafilatura for the main content and metadata, BeautifulSoup where it
finds nothing, and known boilerplate markup (social embeds, search forms, share bars,
cookie and newsletter boxes) taken out before extraction and recorded as removals.

A removed element is replaced by a marker paragraph, so its removal keeps its place
among the paragraphs when the extractor keeps the marker (it is in the main content);
otherwise the removal is listed after the text.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import lxml.etree
import lxml.html
import trafilatura
from bs4 import BeautifulSoup

from tasks.boilerplate import Rule
from tasks.normalize import normalize_text
from tasks.records import Metadata

MARKER = "docmillremovedmarker"
_MARKER_RE = re.compile(rf"{MARKER}(\d+)")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# Not text a reader sees, or the page's frame rather than its content.
_INVISIBLE_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "object", "head")
_FRAME_TAGS = ("nav", "header", "footer", "form", "aside")
_BLOCK_TAGS = ("p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "table", "tr",
               "td", "th", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "br", "hr", "figure",
               "figcaption")


class NoContent(ValueError):
    """Neither extractor found any text in the page."""


@dataclass(slots=True)
class Extraction:
    text: str  # one block per line; removed markup stands as MARKER<n> lines
    removed: list[tuple[str, str]] = field(default_factory=list)  # (rule, text) per marker number
    extractor: str = "trafilatura"
    meta: Metadata = field(default_factory=Metadata)


def _parse(payload: bytes | str) -> lxml.html.HtmlElement:
    try:
        return lxml.html.document_fromstring(payload)
    except (lxml.etree.ParserError, ValueError) as error:
        raise NoContent(f"not parseable as HTML: {error}") from None


def _element_text(element: lxml.html.HtmlElement) -> str:
    """The element's text; for an element without text (an iframe), its tag and source."""
    text = " ".join(normalize_text(" ".join(element.itertext())).split())
    if text:
        return text
    source = element.get("src") or element.get("data-src") or element.get("class") or ""
    return f"<{element.tag} {source}>".replace(" >", ">")


def _remove_markup(tree: lxml.html.HtmlElement, rules: Sequence[Rule]) -> list[tuple[str, str]]:
    """Replace elements matched by the rules' markup selectors with marker paragraphs."""
    removed: list[tuple[str, str]] = []
    for rule in rules:
        for selector in rule.markup:
            for element in selector(tree):
                parent = element.getparent()
                if parent is None or not isinstance(element.tag, str):
                    continue
                text = _element_text(element)
                if len(text) > rule.markup_max_chars:
                    continue
                marker = lxml.html.Element("p")
                marker.text, marker.tail = f"{MARKER}{len(removed)}", element.tail
                parent.replace(element, marker)
                removed.append((rule.name, text))
    return removed


def _visible_text(tree: lxml.html.HtmlElement) -> str:
    """The page's visible text, one block per line, without scripts, navigation or forms."""
    soup = BeautifulSoup(lxml.html.tostring(tree, encoding="unicode"), "lxml")
    for tag in soup.find_all((*_INVISIBLE_TAGS, *_FRAME_TAGS)):
        tag.decompose()
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    return soup.get_text()


def _iso_date(value: str | None) -> str | None:
    match = _ISO_DATE.match(value or "")
    return match.group(0) if match else None


def extract_html(payload: bytes | str, url: str | None, rules: Sequence[Rule]) -> Extraction:
    """Main text and metadata of an HTML page. Raises NoContent if there is no text at all."""
    tree = _parse(payload)
    page_lang = tree.get("lang") or None
    markup_rules = [rule for rule in rules if rule.markup]
    removed = _remove_markup(tree, markup_rules)
    document = trafilatura.bare_extraction(
        tree, url=url, with_metadata=True, include_comments=False, include_tables=True
    )
    meta = Metadata(url=url, page_lang=page_lang)
    if document is not None:
        meta = Metadata(
            url=url or document.url, title=document.title, author=document.author,
            published=_iso_date(document.date), site_name=document.sitename,
            description=document.description, page_lang=page_lang,
        )
    if document is not None and (document.text or "").strip():
        return Extraction(document.text, removed, "trafilatura", meta)
    fallback_tree = _parse(payload)
    removed = _remove_markup(fallback_tree, markup_rules)
    text = _visible_text(fallback_tree)
    if not _MARKER_RE.sub("", text).strip():
        raise NoContent("no text found in the page (trafilatura and BeautifulSoup both came back empty)")
    return Extraction(text, removed, "beautifulsoup", meta)


def split_markers(paragraphs: list[str]) -> tuple[list[str | int], list[int]]:
    """Paragraph texts with marker paragraphs turned into their marker numbers, and the
    markers that ended up inside a paragraph (stripped from it) or nowhere."""
    result: list[str | int] = []
    placed: set[int] = set()
    for text in paragraphs:
        match = _MARKER_RE.fullmatch(text)
        if match:
            result.append(int(match.group(1)))
            placed.add(int(match.group(1)))
            continue
        stripped = " ".join(_MARKER_RE.sub(" ", text).split())
        if stripped:
            result.append(stripped)
    return result, sorted(placed)
