"""A page as the reader sees it: the visible text blocks, in document order.

Titles and meta lines are found by where they stand (before the content container) and by
their text labels, so the parsers need the page's blocks rather than its class names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree
from lxml import html as lxml_html

from crawler.extract.selectors import BLOCK_TAGS, HEADING_TAGS, NON_CONTENT_TAGS
from crawler.text import normalize_space


@dataclass
class Block:
    """One visual line: the text a block element shows outside its child blocks."""

    element: lxml_html.HtmlElement
    text: str
    link_chars: int = 0

    @property
    def is_heading(self) -> bool:
        return str(self.element.tag) in HEADING_TAGS

    @property
    def is_link(self) -> bool:
        """Mostly link text: a navigation entry, a sidebar item, a previous/next link."""
        return self.link_chars * 2 > len(self.text)


@dataclass
class PageBlocks:
    """Blocks before and after a container element (all of them when there is none)."""

    before: list[Block] = field(default_factory=list)
    after: list[Block] = field(default_factory=list)


def page_blocks(
    root: lxml_html.HtmlElement,
    container: lxml_html.HtmlElement | None = None,
    after_limit: int | None = None,
) -> PageBlocks:
    """Split *root*'s visible text into blocks, skipping *container* and invisible elements;
    stop after *after_limit* blocks past the container (sidebars and footers are long)."""
    walker = _BlockWalker(container, after_limit)
    try:
        walker.walk(root)
        if walker.pieces:
            walker.flush()
    except _Enough:
        pass
    return walker.blocks


class _Enough(Exception):
    """Enough blocks after the container have been read."""


class _BlockWalker:
    def __init__(self, container: lxml_html.HtmlElement | None, after_limit: int | None) -> None:
        self.container = container
        self.after_limit = after_limit
        self.blocks = PageBlocks()
        self.passed_container = False
        self.owners: list[lxml_html.HtmlElement] = []
        self.pieces: list[str] = []
        self.link_chars = 0
        self.link_depth = 0

    def add(self, text: str) -> None:
        self.pieces.append(text)
        if self.link_depth:
            self.link_chars += len(normalize_space(text))

    def flush(self) -> None:
        """End the block being read. Called only with pieces pending: without any, there is no
        block to end (and no link characters counted)."""
        text = normalize_space("".join(self.pieces))
        if text and self.owners:
            target = self.blocks.after if self.passed_container else self.blocks.before
            target.append(Block(self.owners[-1], text, min(self.link_chars, len(text))))
        self.pieces.clear()
        self.link_chars = 0
        if self.passed_container and len(self.blocks.after) == self.after_limit:
            raise _Enough

    def walk(self, root: lxml_html.HtmlElement) -> None:
        # lxml's own walk in document order, one event per element start and end (comments and
        # processing instructions: one event, for their tail): no Python call per element. Tags
        # are compared as they are: the HTML parser writes them in lower case.
        events = etree.iterwalk(root, events=("start", "end", "comment", "pi"))
        container, owners = self.container, self.owners
        for event, element in events:
            if event == "start":
                tag = element.tag
                if element is container or tag in NON_CONTENT_TAGS:
                    events.skip_subtree()
                    continue
                if tag in BLOCK_TAGS:
                    if self.pieces:
                        self.flush()
                    owners.append(element)
                elif tag == "a":
                    self.link_depth += 1
                if text := element.text:
                    self.add(text)
                continue
            if event == "end":
                tag = element.tag
                if element is container:
                    if self.pieces:
                        self.flush()
                    self.passed_container = True
                elif tag in BLOCK_TAGS:
                    if self.pieces:
                        self.flush()
                    owners.pop()
                elif tag == "a":
                    self.link_depth -= 1
            if tail := element.tail:
                self.add(tail)
