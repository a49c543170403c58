"""HTML to text: trafilatura for the main content and metadata, checked against the page's
own visible text; and the page's known boilerplate markup (social embeds, search forms,
share bars, cookie and newsletter boxes) found, so that what of it survives extraction is
recorded as removals.

trafilatura's fast pass serves most pages. Where it keeps a small share of the page's visible
text, its full pass (with readability and jusText as second opinions) runs; where that too
keeps a small share of the page's main region (listings, collections, service pages, forums
whose posts it takes for comments), the region's text is kept instead (tasks/page_text.py).

The page is extracted as it is, untouched, so that docmill never gets less of it than bare
trafilatura would (taking elements out first moves trafilatura's choice of the main block);
the extracted paragraphs that come from a matched element are then labelled with its rule
(tasks/pipeline.py), in place.
"""
from __future__ import annotations

import re
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import lxml.etree
import lxml.html
import trafilatura
from htmldate import find_date
from trafilatura.metadata import (
    examine_meta, extract_meta_json, extract_sitename, extract_title, extract_url,
)
from trafilatura.utils import load_html

from tasks.boilerplate import MarkupMatcher, Rule, combined_pattern
from tasks.normalize import normalize_text
from tasks.page_text import page_text
from tasks.records import Extractor, Metadata

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# The fast pass missed the content when it kept less than this share of the page's visible
# text: the full pass's second opinions then earn their cost (most articles stay on the fast pass).
FULL_PASS_BELOW_SHARE = 0.3
# ... but a page that declares itself an article has long surroundings (related stories), and
# the full pass's second opinions take them in: only well below that share.
ARTICLE_FULL_PASS_BELOW_SHARE = 0.2
# trafilatura missed the content when it kept less than this share of the page's main region:
# on listings, collections and service pages it keeps one block of many; the region is kept instead.
PAGE_TEXT_BELOW_SHARE = 0.3


class NoContent(ValueError):
    """Neither extractor found any text in the page."""


@dataclass(slots=True)
class Extraction:
    text: str  # one block per line
    markup: list[tuple[str, str]] = field(default_factory=list)  # (rule, text) of each boilerplate element found
    extractor: Extractor = Extractor.TRAFILATURA
    meta: Metadata = field(default_factory=Metadata)


# trafilatura's parser settings, but every element an HtmlElement by a lookup in C: lxml.html's
# own lookup calls Python for every element object trafilatura touches (~0.3 ms a page).
# huge_tree: libxml2 otherwise stops at 256 levels of nesting and drops the text below
# (generated pages nest that deep); with it, at 2,048. Here only, load_html keeps its limit.
_PARSER = lxml.html.HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True,
                               remove_pis=True, huge_tree=True)
_PARSER.set_element_class_lookup(lxml.etree.ElementDefaultClassLookup(
    element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment, pi=lxml.html.HtmlProcessingInstruction,
    entity=lxml.html.HtmlEntity,
))
# What trafilatura's load_html strips or rewrites before parsing (utils.INVALID_XML_CHARS,
# DOCTYPE_TAG, FAULTY_HTML; also U+FFFE and U+FFFF), spelled for bytes, so that clean UTF-8 skips its decode-and-scan.
_XML_INVALID_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_DOCTYPE_TAG = re.compile(rb"^< ?! ?DOCTYPE[^>]*/[^<>]*>", re.IGNORECASE)
_SELF_CLOSED_HTML = re.compile(rb"<html.*/>$", re.IGNORECASE)


def _parse_utf8(payload: bytes) -> lxml.html.HtmlElement | None:
    """The tree trafilatura's load_html would build from clean UTF-8 bytes, built from the
    bytes themselves; None where load_html must decide (another charset, compressed bytes,
    characters it strips, a self-closed <html/>, or a parse it would retry)."""
    head = payload[:50].lower()  # what load_html checks: its first 50 characters, lowercased
    if (payload[:2] == b"\x1f\x8b" or not head.isascii() or len(payload.translate(None, _XML_INVALID_BYTES)) != len(payload)
            or any(_SELF_CLOSED_HTML.search(line) for line in payload[:4096].splitlines()[:4])):
        return None
    if not payload.isascii():
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if "\ufffe" in text or "\uffff" in text:
            return None
    if b"doctype" in head:
        first_line, _, rest = payload.partition(b"\n")
        payload = _DOCTYPE_TAG.sub(b"", first_line, count=1) + b"\n" + rest
    try:
        tree = lxml.html.fromstring(payload, parser=_PARSER)
    except Exception:
        return None
    if tree is None or len(tree) < 1:
        return None
    return None if b"html" not in head and len(tree) < 2 else tree


def _parse(payload: bytes | str) -> lxml.html.HtmlElement:
    """Parse as trafilatura itself would (its charset detection and repairs), so that handing
    it a tree extracts the same text as handing it the page. A bare fragment (a JSONL
    'html' field) is wrapped in a document first."""
    tree = _parse_utf8(payload) if isinstance(payload, bytes) else None
    if tree is None:
        tree = load_html(payload)
    if tree is None:
        text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else payload
        tree = load_html(f"<html><body><div>{text}</div></body></html>")
    if tree is None:
        raise NoContent("not parseable as HTML")
    return tree


def _element_text(element: lxml.html.HtmlElement) -> str:
    return " ".join(normalize_text(" ".join(element.itertext())).split())


class _MarkupIndex:
    """The rules' markup matchers by attribute, with one combined pattern per attribute, so
    that the usual case, an attribute value none of whose tokens a rule wants, costs one
    regex search per token, or one dict lookup for a value seen before (class names repeat
    within and across pages)."""

    _MAX_REMEMBERED_VALUES = 100_000

    def __init__(self, rules: tuple[Rule, ...]):
        self.pairs: dict[str, list[tuple[MarkupMatcher, Rule]]] = {}
        for rule in rules:
            for matcher in rule.markup:
                for attr in matcher.attrs:
                    self.pairs.setdefault(attr, []).append((matcher, rule))
        self.combined = {
            attr: combined_pattern([m.pattern for m, _ in pairs])
            for attr, pairs in self.pairs.items()
        }
        self.wanted: dict[str, dict[str, tuple[str, ...]]] = {attr: {} for attr in self.pairs}
        self.remembered = 0

    def wanted_tokens(self, attr: str, value: str) -> tuple[str, ...]:
        """The tokens of an attribute value that some rule's pattern matches."""
        known = self.wanted[attr]
        tokens = known.get(value)
        if tokens is None:
            if self.remembered >= self._MAX_REMEMBERED_VALUES:
                for values in self.wanted.values():
                    values.clear()
                self.remembered = 0
            pattern = self.combined[attr]
            tokens = known[value] = tuple(token for token in value.split() if pattern.search(token))
            self.remembered += 1
        return tokens


def _attributes(tree: lxml.html.HtmlElement, names: Container[str]) -> Iterator[tuple[lxml.html.HtmlElement, str, str]]:
    """(element, attribute, value) for the named attributes, in document order."""
    for element in tree.iter(lxml.etree.Element):
        for attr, value in element.items():
            if attr in names:
                yield element, attr, value


@lru_cache(maxsize=8)
def _markup_index(rules: tuple[Rule, ...]) -> _MarkupIndex:
    return _MarkupIndex(rules)


def _matched_elements(tree: lxml.html.HtmlElement, rules: tuple[Rule, ...]) -> list[tuple[lxml.html.HtmlElement, Rule]]:
    """Elements matched by a markup rule, in document order, each once: one pass over the
    elements and the attributes some rule looks at, token by token. (An XPath union of those
    attributes walks the tree once per attribute: about 0.9 ms a page of bench/extraction.py,
    against 0.6 for this walk, whose element objects come from a lookup in C, see _PARSER.)"""
    index = _markup_index(rules)
    if not index.pairs:
        return []
    found: dict[int, tuple[lxml.html.HtmlElement, Rule]] = {}
    for element, attr, value in _attributes(tree, index.pairs):
        tokens = index.wanted_tokens(attr, value)
        if not tokens:
            continue
        for token in tokens:
            for matcher, rule in index.pairs[attr]:
                if (matcher.tags is None or element.tag in matcher.tags) and matcher.pattern.search(token):
                    target = element if matcher.up is None else next(element.iterancestors(matcher.up), None)
                    if target is not None:
                        found.setdefault(id(target), (target, rule))
                    break
    return list(found.values())


def _boilerplate_markup(tree: lxml.html.HtmlElement, rules: Sequence[Rule]) -> list[tuple[str, str]]:
    """(rule, text) of the outermost elements matched by the rules' markup that have text,
    up to the rule's size limit."""
    found: list[tuple[str, str]] = []
    taken: set[int] = set()
    for element, rule in _matched_elements(tree, tuple(rules)):
        if any(id(ancestor) in taken for ancestor in element.iterancestors()):
            continue  # inside an element already found
        text = _element_text(element)
        if text and len(text) <= rule.markup_max_chars:
            taken.add(id(element))
            found.append((rule.name, text))
    return found


# og:type and JSON-LD @type values (lower-cased) of pages whose content trafilatura is made for:
# one article, or one product whose description is short by nature. Their surroundings are
# long (related stories, recommendations), so a short extraction is not a missed one.
_ARTICLE_TYPES = frozenset({"article", "newsarticle", "blogposting", "reportagenewsarticle", "analysisnewsarticle",
                            "opinionnewsarticle", "og:article"})


_ARTICLES = lxml.etree.XPath("count(//article)")


@dataclass(frozen=True, slots=True)
class _PageMeta:
    meta: Metadata
    page_type: str  # og:type or JSON-LD @type, lower-cased
    one_article_element: bool  # the markup says so too: listings and threads hold many <article>s

    @property
    def is_article(self) -> bool:
        return self.page_type in _ARTICLE_TYPES or self.one_article_element

    @property
    def trusts_trafilatura(self) -> bool:
        """The page says it is one article or one product (_ARTICLE_TYPES)."""
        return self.is_article or ("product" in self.page_type and "group" not in self.page_type)


def _page_metadata(tree: lxml.html.HtmlElement, url: str | None) -> _PageMeta:
    """Title, author, date, canonical URL, site name and description, by trafilatura's own
    metadata functions, without what costs most for least: categories, tags and license
    (docmill does not keep them), the search for a byline in the page body (authors come
    from meta tags and JSON-LD), and htmldate's extensive date search."""
    found = examine_meta(tree)
    try:
        found = extract_meta_json(tree, found)
    except Exception:  # trafilatura's JSON-LD reader fails on some malformed pages
        pass
    page_url = found.url or extract_url(tree, url)
    author = found.author if found.author and " " in found.author else None
    meta = Metadata(
        url=url or page_url,
        title=found.title or extract_title(tree),
        author=author,
        published=_iso_date(find_date(tree, url=page_url, original_date=True, extensive_search=False)),
        site_name=(found.sitename or extract_sitename(tree) or "").lstrip("@") or None,
        description=found.description,
        page_lang=tree.get("lang") or None,
    )
    return _PageMeta(meta, (found.pagetype or "").strip().lower(), _ARTICLES(tree) == 1)


def _iso_date(value: str | None) -> str | None:
    match = _ISO_DATE.match(value or "")
    return match.group(0) if match else None


def _trafilatura(tree: lxml.html.HtmlElement, url: str | None, fast: bool) -> str:
    document = trafilatura.bare_extraction(tree, url=url, fast=fast, include_comments=False, include_tables=True)
    return (document.text or "").strip() if document is not None else ""


def extract_html(payload: bytes | str, url: str | None, rules: Sequence[Rule]) -> Extraction:
    """Main text and metadata of an HTML page. Raises NoContent if there is no text at all."""
    tree = _parse(payload)
    page_meta = _page_metadata(tree, url)
    markup = _boilerplate_markup(tree, [rule for rule in rules if rule.markup])
    page = page_text(tree)
    text, extractor = _trafilatura(tree, url, fast=True), Extractor.TRAFILATURA
    full_pass_below = ARTICLE_FULL_PASS_BELOW_SHARE if page_meta.is_article else FULL_PASS_BELOW_SHARE
    if len(text) < full_pass_below * len(page.whole):
        # the fast pass consumed its tree (trafilatura prunes it): the full pass gets a fresh one
        text, extractor = _trafilatura(_parse(payload), url, fast=False), Extractor.TRAFILATURA_FULL
    if not text or (len(text) < PAGE_TEXT_BELOW_SHARE * len(page.main) and not page_meta.trusts_trafilatura):
        text, extractor = page.main, Extractor.PAGE_TEXT
    if not text:
        raise NoContent("no text found in the page (neither trafilatura nor the page's visible text has any)")
    return Extraction(text, markup, extractor, page_meta.meta)
