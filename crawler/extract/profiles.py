"""The CMS families as data: one ``Profile`` per family, and nothing family-specific elsewhere.

A profile says how to recognise the family's pages (fingerprints in the raw HTML), which URLs are
its article pages, where its pager and content container stand, which part of an article page is
the article's own, and which text labels its meta lines use. Supporting a third family (Hanweb
JCMS, say) is one more ``Profile`` in ``PROFILES`` plus stored pages that pin it. A source may
extend its family's profile (``Profile.extended``): another container, another article URL shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cache

from lxml import etree

from crawler.extract.selectors import CHINESE_UNIVERSITY_LABELS, Vocabulary

EXSLT = {"re": "http://exslt.org/regular-expressions"}


@cache
def compiled(xpath: str) -> etree.XPath:
    """*xpath* compiled once (EXSLT regular expressions allowed: ``re:test``): the profiles'
    and the sources' few expressions, used on every page."""
    return etree.XPath(xpath, namespaces=EXSLT)


def _has_class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


@dataclass(frozen=True)
class Profile:
    """What is the same on every site of one CMS family."""

    name: str
    # Substrings of the raw HTML that only this family's pages carry.
    fingerprints: tuple[str, ...]
    # Article page URLs (path and query), mobile copies included.
    article_urls: tuple[re.Pattern[str], ...]
    # The content container, most specific first. Of nested matches the innermost is the body.
    containers: tuple[str, ...]
    # From the container up to the part of the page that is the article's own (title, meta,
    # body, attachments), where attachment links are looked for; None: the container itself.
    article_scope: str | None = None
    # The pager of a list page.
    pagers: tuple[str, ...] = ()
    # Home page paths, from which column list pages are discovered.
    home_paths: frozenset[str] = frozenset({"", "/"})
    # Image paths of the CMS's own icons (file types beside a download link): not content.
    icons: re.Pattern[str] | None = None
    labels: Vocabulary = field(default=CHINESE_UNIVERSITY_LABELS)

    def extended(
        self, *, container: str | None = None, article_url: re.Pattern[str] | None = None
    ) -> Profile:
        """This profile with a source's own container and article URL shape tried first (this
        very profile when the source adds neither)."""
        if container is None and article_url is None:
            return self
        return replace(
            self,
            containers=(container, *self.containers) if container else self.containers,
            article_urls=(article_url, *self.article_urls) if article_url else self.article_urls,
        )

    def __reduce__(self) -> str | tuple[object, ...]:
        # Sent to the extraction workers with every page: a registered profile goes by its
        # name (a few bytes), not as 4 kB of selectors and vocabulary.
        if PROFILES.get(self.name) is self:
            return registered, (self.name,)
        return super().__reduce__()

    def is_article_url(self, url_path_and_query: str) -> bool:
        return any(pattern.search(url_path_and_query) for pattern in self.article_urls)


VSB = Profile(
    name="vsb",
    fingerprints=(
        "Visual SiteBuilder",
        "_sitegray",
        "/system/resource/js/",
        "_newscontent_fromname",
        "v_news_content",
        "vsb_content",
        "pb_sys_common",
    ),
    article_urls=(
        # /info/1002/12345.htm, also under a sub-site folder (/dswcdbdh/info/1141/1.htm) and as
        # saved by website copiers (.html)
        re.compile(r"/info/\d+/\d+\.html?$"),
        # the dynamic view of the same article
        re.compile(r"content\.jsp\?.*\bwbnewsid=\d+"),
    ),
    containers=(
        f"//div[{_has_class('v_news_content')}]",
        # the body holder, when a template dropped the container's class; per-template suffixes
        "//div[starts-with(@id, 'vsb_content')]",
    ),
    # The article form: "_newscontent_fromname" in today's templates, "form<N>a" in older ones.
    article_scope=(
        "ancestor::form[@name = '_newscontent_fromname' or re:test(@name, '^form[0-9]+a$')][1]"
    ),
    pagers=(
        f"//div[{_has_class('pb_sys_common')}]",
        "//*[starts-with(@id, 'fanye')]",
    ),
    home_paths=frozenset({"", "/", "/index.htm", "/index.html", "/index.jsp"}),
    icons=re.compile(r"/system/resource/images/"),
)

WEBPLUS = Profile(
    name="webplus",
    fingerprints=(
        "/_css/_system/system.css",
        "sudy-wp-siteId",
        "wp_articlecontent",
        "wp_paging",
        'frag="窗口',
        "portletmode=",
    ),
    article_urls=(
        # /2021/0511/c1234a56789/page.htm, /5c/0d/c1234a56789/page.htm (hashed folders),
        # pagem.htm (the mobile copy), page.psp (the dynamic view)
        re.compile(r"/c\d+a\d+/pagem?\.(?:html?|psp)$"),
    ),
    containers=(f"//div[{_has_class('wp_articlecontent')}]",),
    pagers=(f"//ul[{_has_class('wp_paging')}]",),
    home_paths=frozenset({"", "/", "/main.htm", "/main.psp", "/index.htm", "/index.html"}),
    # the editor's file-type icons
    icons=re.compile(r"/_ueditor/themes/"),
)

PROFILES: dict[str, Profile] = {profile.name: profile for profile in (VSB, WEBPLUS)}


def registered(name: str) -> Profile:
    """The registered profile *name* (how a registered profile is unpickled)."""
    return PROFILES[name]


def detect_family(html: str) -> Profile | None:
    """The family whose fingerprints the page carries most, or None when it carries none."""
    scores = {
        profile.name: sum(marker in html for marker in profile.fingerprints)
        for profile in PROFILES.values()
    }
    best = max(scores, key=scores.__getitem__)
    return PROFILES[best] if scores[best] else None


def is_icon(url_path: str) -> bool:
    """Whether an image path is one of a CMS's own icons rather than content."""
    return any(p.icons.search(url_path) for p in PROFILES.values() if p.icons is not None)


def ordered(first: Profile | None) -> tuple[Profile, ...]:
    """Every profile, *first* (the page's own family, maybe a source's extension) first."""
    if first is None:
        return tuple(PROFILES.values())
    return (first, *(profile for profile in PROFILES.values() if profile.name != first.name))
