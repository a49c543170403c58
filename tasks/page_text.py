"""The page's own visible text, as a reader scrolling it sees it: the body without scripts,
styles and the page's frame (navigation, header, footer, forms, asides), one block per line;
and the page's main region (``<main>``, ``role="main"``, a ``#main`` or ``#content`` container)
where it marks one.

It is what docmill compares trafilatura's extraction with (an extraction that keeps a small
share of the page missed it), and the text docmill keeps where trafilatura misses the page's
content: listings, collections and service pages whose content is not an article.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import lxml.etree
import lxml.html

# Not text a reader sees, or the page's frame rather than its content.
INVISIBLE_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "object", "head")
FRAME_TAGS = ("nav", "header", "footer", "aside")
# A form is a frame (search, sign-in, newsletter) unless it holds this share of the page's text:
# ASP.NET pages and forum software wrap the whole content in one.
FORM_FRAME_MAX_SHARE = 0.2
BLOCK_TAGS = ("p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "table", "tr", "td",
              "th", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "br", "hr", "figure", "figcaption")
_MAIN_REGION = lxml.etree.XPath(
    "//main | //*[@role='main'] | //*[@id='main' or @id='content' or @id='main-content' or @id='maincontent'"
    " or @id='primary']"
)
# A marked region with less of the page's text than this is a widget (a search box's
# results, a cookie dialog), not the page's content.
MAIN_REGION_MIN_SHARE = 0.3


@dataclass(frozen=True, slots=True)
class PageText:
    whole: str  # the body's visible text, one block per line
    main: str  # the main region's, or the whole text where the page marks none


def _lines(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _strip_small_forms(page: lxml.html.HtmlElement) -> None:
    forms = page.xpath("//form[not(ancestor::form)]")
    if not forms:
        return
    total = len(page.text_content())
    for form in forms:
        if len(form.text_content()) < FORM_FRAME_MAX_SHARE * total:
            form.drop_tree()


def page_text(tree: lxml.html.HtmlElement) -> PageText:
    """The visible text of the page and of its main region; ``tree`` is left as it was."""
    page = copy.deepcopy(tree)
    lxml.etree.strip_elements(page, *INVISIBLE_TAGS, *FRAME_TAGS, with_tail=False)
    _strip_small_forms(page)
    for element in page.iter(*BLOCK_TAGS):  # a line break on both sides of every block
        element.text = "\n" + (element.text or "")
        element.tail = "\n" + (element.tail or "")
    body = page.find("body")
    whole = _lines((body if body is not None else page).text_content())
    for region in _MAIN_REGION(page):
        main = _lines(region.text_content())
        if len(main) >= MAIN_REGION_MIN_SHARE * len(whole):
            return PageText(whole, main)
    return PageText(whole, whole)
