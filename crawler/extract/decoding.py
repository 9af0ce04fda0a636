"""Bytes to a parsed HTML tree, for pages that lie about their encoding or are not HTML at all.

Scrapy trusts the HTTP charset over the page's ``<meta>``; NEU-like servers sometimes send
``charset=utf-8`` for GBK pages. Here a declared encoding is used only if the body decodes with
it, so a page whose header lies is read with the encoding its ``<meta>`` gives.
"""

from __future__ import annotations

import re

from lxml import etree
from lxml import html as lxml_html
from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

# Control characters other than tab/newline/return: text pages have almost none.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")
MAX_CONTROL_RATIO = 0.01
# libxml2 drops everything nested deeper than 256 elements; runs of the same opening or closing
# tag this long only come from broken or hostile pages, and collapsing them keeps the content.
NESTING_RUN = 64
OPEN_RUN_RE = re.compile(rf"(<([a-zA-Z][\w-]*)\b[^<>]*>\s*)(?:<\2\b[^<>]*>\s*){{{NESTING_RUN},}}")
CLOSE_RUN_RE = re.compile(rf"(</([a-zA-Z][\w-]*)\s*>\s*)(?:</\2\s*>\s*){{{NESTING_RUN},}}")


def _html_parser() -> lxml_html.HTMLParser:
    """lxml.html's parser with its element classes looked up in C: lxml.html's own lookup is
    a Python call for every element the code touches, and picks form classes (``FormElement``,
    ``InputElement``…) that nothing here uses; every element is an ``HtmlElement`` all the same."""
    parser = lxml_html.HTMLParser()
    parser.set_element_class_lookup(
        etree.ElementDefaultClassLookup(
            element=lxml_html.HtmlElement,
            comment=lxml_html.HtmlComment,
            pi=lxml_html.HtmlProcessingInstruction,
            entity=lxml_html.HtmlEntity,
        )
    )
    return parser


HTML_PARSER = _html_parser()


def decode_html(body: bytes, content_type: str | None) -> str:
    """The page's text, decoded with the first declared encoding that fits the bytes."""
    bom_encoding, bom = read_bom(body)
    if bom_encoding and bom:
        return body[len(bom) :].decode(bom_encoding, errors="replace")
    candidates = [
        http_content_type_encoding(content_type) if content_type else None,
        html_body_declared_encoding(body),
        "utf-8",
        "gb18030",
    ]
    for name in candidates:
        encoding = resolve_encoding(name) if name else None
        if encoding:
            try:
                return body.decode(encoding)
            except (UnicodeDecodeError, LookupError):
                continue
    return body.decode("utf-8", errors="replace")


def looks_like_text(text: str) -> bool:
    """False for binary bytes served as text/html."""
    sample = text[:65536]
    if CONTROL_RE.search(sample) is None:  # most pages: no need to count
        return True
    return len(CONTROL_RE.findall(sample)) <= MAX_CONTROL_RATIO * max(len(sample), 1)


def load_html(text: str) -> lxml_html.HtmlElement | None:
    """The document tree of *text*, or None when it is empty or not HTML."""
    if not text.strip() or not looks_like_text(text):
        return None
    if OPEN_RUN_RE.search(text):
        text = CLOSE_RUN_RE.sub(r"\1", OPEN_RUN_RE.sub(r"\1", text))
    try:
        return lxml_html.document_fromstring(text, parser=HTML_PARSER)
    except (etree.ParserError, ValueError):
        return None
