"""The article parser: HTML string in, ``ParsedArticle`` out. Pure: no Scrapy, no I/O.

One parser for the article pages of every CMS family, each field a small method. It reads the
content container its family's profile names (:mod:`crawler.extract.profiles`: VSB
``div.v_news_content``, WebPlus ``div.wp_articlecontent``…), the title and meta line by position
and text label around it (:mod:`crawler.extract.selectors`), and says in
``ParsedArticle.parser`` which profile's container it read (``"generic"`` when the page has
none). The golden pages (``tests/golden``) and the real pages of other universities
(``tests/test_real_pages.py``) pin its output; when a site changes its templates, add stored
pages of the new layout and make this parser read both.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from configparser import ConfigParser
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cached_property
from urllib.parse import unquote, urlsplit

import trafilatura
from lxml import etree
from lxml import html as lxml_html
from trafilatura.settings import MIN_DUPLICATE_LENGTH, Extractor, use_config

from crawler.extract import selectors
from crawler.extract.blocks import Block, page_blocks
from crawler.extract.dates import parse_date
from crawler.extract.decoding import load_html
from crawler.extract.labels import has_label, read_labels, split_names
from crawler.extract.profiles import (
    PROFILES,
    Profile,
    compiled,
    detect_family,
    is_icon,
    ordered,
)
from crawler.extract.selectors import Vocabulary
from crawler.extract.urls import absolute_link, is_document
from crawler.text import normalize_space

# How many blocks around the content container may hold the meta line.
META_WINDOW = 6
# A block that is a date on its own ("2023年4月7日 10:30") is short; a longer one is prose.
MAX_BARE_DATE_BLOCK = 40
# Without a content container, fewer paragraph characters than this are not an article body.
MIN_FALLBACK_BODY = 100
MIN_TITLE_LENGTH = 4
MAX_TITLE_LENGTH = 300
IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "gif", "bmp", "webp", "svg"})
# ``ParsedArticle.parser`` of a page without a CMS container (densest paragraphs or whole page).
GENERIC = "generic"


def _trafilatura_config() -> ConfigParser:
    config = use_config()
    # Scoped to a content container, every paragraph counts: keep short bodies, no timeouts.
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "1")
    config.set("DEFAULT", "MIN_OUTPUT_SIZE", "1")
    return config


TRAFILATURA_CONFIG = _trafilatura_config()
# trafilatura's options, built once: built per call, they read the configuration each time.
# A content container: every paragraph is the body's (favour recall), repeats included.
CONTAINER_OPTIONS = Extractor(config=TRAFILATURA_CONFIG, recall=True, comments=False, dedup=False)
# A page without one: trafilatura's own search for the body.
PAGE_OPTIONS = Extractor(config=TRAFILATURA_CONFIG, comments=False)


@dataclass
class ParsedArticle:
    """What an article page itself says; the spider adds where it was found."""

    title: str | None
    published: str | None
    authors: list[str]
    editors: list[str]
    origin: str | None
    text: str | None
    images: list[str]
    attachments: list[dict[str, str]]
    # Whose content container was read: a profile's name ("vsb", "webplus"), or "generic" when
    # the page has none.
    parser: str


def detect_cms(html: str) -> str | None:
    """The CMS family (a profile's name) from the page's own fingerprints, or None."""
    family = detect_family(html)
    return family.name if family else None


def parse_article(
    html: str, url: str, cms: str | None = None, profile: Profile | None = None
) -> ParsedArticle | None:
    """Parse an article page; None if it is no HTML. *profile* (a source's own, extended) is
    tried first; else the page's fingerprints say whose containers to look for first, and *cms*
    (the source's hint) stands in when the page has none."""
    tree = load_html(html)
    if tree is None:
        return None
    first = profile or detect_family(html) or (PROFILES.get(cms) if cms else None)
    return ArticleParser(tree, url, first).parse()


class ArticleParser:
    """Any article page of a known CMS family: its content container, title and meta by
    position and label."""

    def __init__(
        self, tree: lxml_html.HtmlElement, url: str, profile: Profile | None = None
    ) -> None:
        self.url = url
        self.tree = tree
        # The page's own profile (a source's, its fingerprints', or the source's hint) first.
        self.profiles = ordered(profile)

    def parse(self) -> ParsedArticle:
        return ParsedArticle(
            title=self.title(),
            published=self.published(),
            authors=split_names(self.labels.get("authors")),
            editors=split_names(self.labels.get("editors")),
            origin=self.labels.get("origin"),
            text=self.text(),
            images=self.images(),
            attachments=self.attachments,
            parser=self.cms_match[0].name if self.cms_match else GENERIC,
        )

    # -- structure -------------------------------------------------------------------------------

    @cached_property
    def cms_match(self) -> tuple[Profile, lxml_html.HtmlElement] | None:
        """The CMS content container and its family, or None when the page has none."""
        for profile in self.profiles:
            for xpath in profile.containers:
                found = elements(self.tree, xpath)
                if found:
                    return profile, innermost(found)
        return None

    @cached_property
    def cms_container(self) -> lxml_html.HtmlElement | None:
        """The CMS's own content container, or None when the page has none."""
        return self.cms_match[1] if self.cms_match else None

    @cached_property
    def container(self) -> lxml_html.HtmlElement | None:
        """The element holding the body: the CMS's container, else the one whose paragraphs
        hold the most text, else None (then trafilatura reads the whole page)."""
        if self.cms_container is not None:
            return self.cms_container
        return densest_paragraphs(self.tree)

    @cached_property
    def scope(self) -> lxml_html.HtmlElement:
        """The article's own part of the page (its profile's article scope, e.g. VSB's article
        form), else the container."""
        if self.container is None:
            return self.tree
        # Without a CMS container, any family's article scope around the densest paragraphs.
        for profile in (self.cms_match[0],) if self.cms_match else self.profiles:
            found = elements(self.container, profile.article_scope) if profile.article_scope else []
            if found:
                return found[0]
        return self.container

    @cached_property
    def blocks(self) -> tuple[list[Block], list[Block]]:
        """Visible text blocks before and after the content container."""
        body = self.tree.find("body")
        found = page_blocks(
            body if body is not None else self.tree, self.container, after_limit=META_WINDOW
        )
        return found.before, found.after

    @cached_property
    def head_title(self) -> str:
        return normalize_space(self.tree.findtext(".//title"))

    @cached_property
    def title_index(self) -> int | None:
        """Index of the title's block among the blocks before the container."""
        before = self.blocks[0]
        sized = [
            index
            for index, block in enumerate(before)
            if not block.is_link and MIN_TITLE_LENGTH <= len(block.text) <= MAX_TITLE_LENGTH
        ]

        def may_be_title(index: int) -> bool:
            text = before[index].text
            return not has_label(text) and not selectors.BREADCRUMB_RE.search(text)

        # <title> first, the cheapest test: most pages end the search there.
        in_head = [i for i in sized if self._is_head_title(before[i].text) and may_be_title(i)]
        if not in_head and self.container_lines and self._is_head_title(self.container_lines[0]):
            # A single-page column: its title is <title>'s and the body's first line, and what
            # stands before the body is the site's (a sidebar's heading).
            return None
        if in_head:
            return max(in_head, key=lambda index: (len(before[index].text), index))
        if self.container is None:
            return None
        candidates = [index for index in sized if may_be_title(index)]
        # Without <title> to confirm it, a title stands after the breadcrumb, if there is one:
        # what comes before (column name, navigation) is the site's, not the article's.
        breadcrumbs = [
            i for i, block in enumerate(before) if selectors.BREADCRUMB_RE.search(block.text)
        ]
        if breadcrumbs:
            candidates = [index for index in candidates if index > breadcrumbs[-1]]
        headings = [index for index in candidates if before[index].is_heading]
        if headings:
            return headings[-1]
        return self._block_before_meta(candidates)

    def _is_head_title(self, text: str) -> bool:
        """Whether <title> is *text*, maybe with a site name before or after it."""
        head = self.head_title
        if head == text:
            return True
        if head.startswith(text):
            return selectors.TITLE_SEPARATOR_RE.match(head[len(text) :]) is not None
        if head.endswith(text):
            return selectors.TITLE_SEPARATOR_AT_END_RE.search(head[: -len(text)]) is not None
        return False

    def _block_before_meta(self, candidates: list[int]) -> int | None:
        before = self.blocks[0]
        window_start = max(0, len(before) - META_WINDOW)
        for index in range(window_start, len(before)):
            if has_label(before[index].text):
                earlier = [candidate for candidate in candidates if candidate < index]
                return earlier[-1] if earlier else None
        return None

    @cached_property
    def meta_blocks(self) -> list[Block]:
        """Blocks between the title and the container, where the meta line stands."""
        before = self.blocks[0]
        if self.title_index is not None:
            region = before[self.title_index + 1 :]
            return region[:META_WINDOW] if self.container is None else region
        return [] if self.container is None else before[-META_WINDOW:]

    @cached_property
    def trailing_blocks(self) -> list[Block]:
        """The first blocks after the container: some templates put the meta line there."""
        return [block for block in self.blocks[1][:META_WINDOW] if not block.is_link]

    @cached_property
    def vocabulary(self) -> Vocabulary:
        return self.cms_match[0].labels if self.cms_match else self.profiles[0].labels

    @cached_property
    def labels(self) -> dict[str, str]:
        """The meta line's labelled values: between title and container, else just after the
        container, else (people and origin only) a byline closing the body."""
        lines = [block.text for block in self.meta_blocks if not block.is_link]
        found = read_labels(lines, self.vocabulary)
        trailing = read_labels((block.text for block in self.trailing_blocks), self.vocabulary)
        byline = read_labels(
            self.byline_lines, self.vocabulary, fields=selectors.BYLINE_FIELDS, leading=True
        )
        for fallback in (trailing, byline):
            for key, value in fallback.items():
                found.setdefault(key, value)
        return found

    @cached_property
    def container_lines(self) -> list[str]:
        """The body's paragraphs as read from the CMS container ([] when the page has none)."""
        return self.paragraphs if self.cms_container is not None else []

    @cached_property
    def byline_lines(self) -> list[str]:
        """The last lines of the body, where ``本文作者：…`` or ``文章来源：…`` may stand."""
        return self.container_lines[-selectors.BYLINE_WINDOW :]

    # -- fields ----------------------------------------------------------------------------------

    def title(self) -> str | None:
        if self.title_index is not None:
            return self.blocks[0][self.title_index].text
        parts = selectors.TITLE_SEPARATOR_RE.split(self.head_title)
        if len(parts) > 1:
            return max(parts[:-1], key=len) or None
        return self.head_title or None

    def published(self) -> str | None:
        labelled = parse_date(self.labels.get("published"))
        if labelled:
            return labelled
        for block in self.meta_blocks:
            if not block.is_link and len(block.text) <= MAX_BARE_DATE_BLOCK:
                bare = parse_date(block.text)
                if bare:
                    return bare
        return None

    def text(self) -> str | None:
        text = "\n\n".join(self.paragraphs) or None
        return None if text and self._only_attachment_names(text) else text

    @cached_property
    def paragraphs(self) -> list[str]:
        """The body's paragraphs, whitespace-normalised, from the container (else the page)."""
        if self.container is None:
            extracted = trafilatura.extract(self.tree, options=PAGE_OPTIONS)
        else:
            body = copy.deepcopy(self.container)
            content = body.text_content()
            if any(hint in content for hint in selectors.ARTICLE_END_HINTS):
                cut_after_article(body)
            # Inside the container links are content ("报名表.docx"), not navigation: keep them
            # from trafilatura's link-density filter by keeping only their text.
            etree.strip_tags(body, "a")
            # trafilatura drops headings outside a body it recognises, and elements whose class
            # or id looks like a page's boilerplate (``md-heading``); in a container both are
            # the body's own (``Aims and Scope``).
            for heading in body.iter(*selectors.HEADING_TAGS):
                heading.tag = "p"
            etree.strip_attributes(body, *selectors.LAYOUT_ATTRIBUTES)
            extracted = trafilatura.extract(body, options=CONTAINER_OPTIONS)
            if extracted:
                return restore_repeats(lines_of(extracted), page_blocks(body).before)
            container_blocks = page_blocks(self.container)
            extracted = "\n".join(block.text for block in container_blocks.before)
        return lines_of(extracted)

    def _only_attachment_names(self, text: str) -> bool:
        """Whether *text* holds nothing but the names of the article's attachments: a page whose
        content is a download link has no text body."""
        if not self.attachments:
            return False
        for attachment in self.attachments:
            text = text.replace(attachment["name"], "")
        return not selectors.LETTER_RE.search(selectors.ATTACHMENT_WORDS_RE.sub("", text))

    def images(self) -> list[str]:
        if self.container is None:
            return []
        urls: list[str] = []
        for image in self.container.iter("img"):
            url = next(
                (
                    link
                    for name in selectors.IMAGE_SOURCE_ATTRIBUTES
                    if (link := absolute_link(self.url, image.get(name)))
                ),
                None,
            )
            if url and url not in urls and not is_icon(urlsplit(url).path):
                urls.append(url)
        return urls

    @cached_property
    def attachments(self) -> list[dict[str, str]]:
        if self.container is None:
            return []
        found: dict[str, str] = {}
        for element in elements(self.scope, selectors.ATTACHMENT_CANDIDATES):
            href = element.get("href") if element.tag == "a" else None
            url = absolute_link(self.url, href or element.get(selectors.PDF_PLAYER_ATTRIBUTE))
            if not url or url in found or not is_document(url) or _is_image(url):
                continue
            name = normalize_space(element.text_content()) if href else ""
            found[url] = name or normalize_space(element.get("title")) or _file_name(url)
        return [{"url": url, "name": name} for url, name in found.items()]


def lines_of(extracted: str | None) -> list[str]:
    """The non-blank lines of trafilatura's text, whitespace-normalised."""
    lines = (normalize_space(line) for line in (extracted or "").splitlines())
    return [line for line in lines if line]


def restore_repeats(lines: list[str], blocks: list[Block]) -> list[str]:
    """*lines* (trafilatura's text of a content container) with the container's paragraphs
    (*blocks*) that it dropped only for repeating text it had taken already, put back where
    they stand. Inside a container a repeat is the article's: a paragraph that quotes part of
    an earlier one, two attachments of one name. trafilatura drops such an element whatever
    ``dedup`` says: one whose text equals an earlier one's, or is longer than
    ``MIN_DUPLICATE_LENGTH`` and within one."""
    texts = [block.text for block in blocks]
    seen: set[str] = set()
    seen_text = ""
    for text in texts:
        if _repeats(text, seen, seen_text):
            break
        seen.add(text)
        seen_text += "\n" + text
    else:
        return lines
    restored: list[str] = []
    matcher = SequenceMatcher(None, texts, lines, autojunk=False)
    for tag, start, end, line_start, line_end in matcher.get_opcodes():
        if tag == "delete":
            for text in texts[start:end]:
                if _repeats(text, restored, "\n".join(restored)):
                    restored.append(text)
        restored += lines[line_start:line_end]
    return restored


def _repeats(text: str, taken: Collection[str], taken_text: str) -> bool:
    """Whether trafilatura drops *text* as a repeat of the paragraphs *taken* before it (all
    of them in *taken_text*, one a line)."""
    return text in taken or (len(text) > MIN_DUPLICATE_LENGTH and text in taken_text)


def elements(node: lxml_html.HtmlElement, xpath: str) -> list[lxml_html.HtmlElement]:
    """The elements an element-selecting *xpath* (EXSLT regular expressions allowed: ``re:``)
    finds from *node*, in document order."""
    found = compiled(xpath)(node)
    if not isinstance(found, list):
        return []
    return [item for item in found if isinstance(item, lxml_html.HtmlElement)]


def cut_after_article(body: lxml_html.HtmlElement) -> None:
    """Drop what follows the article inside *body* (a copy of its container): a template that
    never closes its divs puts the prev/next links and 【关闭】 there. A button line before any
    text is dropped on its own. Only an element holding nothing but such a line is cut at, so
    no article text goes with it."""
    seen_text = False
    for block in page_blocks(body).before:
        if not ends_article(block):
            seen_text = True
        elif block.element is not body and _holds_only(block.element, block.text):
            if seen_text:
                remove_from(block.element, body)
                return
            drop(block.element)


def ends_article(block: Block) -> bool:
    """Whether *block* is a prev/next line (mostly a link, or short: ``上一篇：没有了``) or a row
    of buttons (【关闭】【打印】), not a paragraph that opens with ``Next:``."""
    if selectors.BUTTONS_RE.match(block.text):
        return True
    return bool(selectors.PREV_NEXT_RE.match(block.text)) and (
        block.is_link or len(block.text) <= selectors.MAX_BARE_PREV_NEXT
    )


def _holds_only(element: lxml_html.HtmlElement, line: str) -> bool:
    return normalize_space(element.text_content()) == line


def remove_from(element: lxml_html.HtmlElement, root: lxml_html.HtmlElement) -> None:
    """Remove *element* and everything after it, up to the end of *root*."""
    node = element
    while node is not root:
        parent = node.getparent()
        if parent is None:
            return
        for sibling in list(node.itersiblings()):
            parent.remove(sibling)
        node.tail = None
        node = parent
    drop(element)


def drop(element: lxml_html.HtmlElement) -> None:
    """Remove *element* and its text, keeping the text that follows it."""
    parent = element.getparent()
    if parent is not None:
        element.drop_tree()


def innermost(found: list[lxml_html.HtmlElement]) -> lxml_html.HtmlElement:
    """The container: a template that never closes its container puts a second one (the real
    one) inside the first, with only prev/next, buttons and links around it; a container that
    holds text of its own around a nested one (a pasted block with the same class) is the
    body itself."""
    outer = found[0]
    inner = next((other for other in found[1:] if outer in other.iterancestors()), None)
    if inner is None:
        return outer
    around = page_blocks(outer, inner)
    if all(
        block.is_link or ends_article(block) or selectors.ATTACHMENT_LINE_RE.match(block.text)
        for block in [*around.before, *around.after]
    ):
        return innermost([inner, *(other for other in found if inner in other.iterancestors())])
    return outer


def densest_paragraphs(tree: lxml_html.HtmlElement) -> lxml_html.HtmlElement | None:
    """The element whose own <p> children hold the most text, if they hold enough to be a body."""
    scores: dict[lxml_html.HtmlElement, int] = {}
    for paragraph in tree.iter("p"):
        parent = paragraph.getparent()
        if parent is None or paragraph.xpath("ancestor::a"):
            continue
        text = normalize_space(paragraph.text_content())
        links = sum(len(normalize_space(a.text_content())) for a in paragraph.iter("a"))
        if links * 2 < len(text):
            scores[parent] = scores.get(parent, 0) + len(text)
    if not scores:
        return None
    best = max(scores, key=scores.__getitem__)
    return best if scores[best] >= MIN_FALLBACK_BODY else None


def _is_image(url: str) -> bool:
    return urlsplit(url).path.rsplit(".", 1)[-1].lower() in IMAGE_EXTENSIONS


def _file_name(url: str) -> str:
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
