"""The replica's state: sites, columns and articles, and the mutations tests apply between crawls.

The model is the single source of truth. Pages are rendered from it at each request (see
:mod:`replica.routes`) and the ground truth (:mod:`replica.truth`) is computed from it, so a
mutation is visible to the next request and to the next ``expected_records`` call at once.

This module is the bottom of the package: it imports only the word lists (:mod:`replica.text`)
and the theme type (:mod:`replica.theme`). The renderers, the opt-in extras and the ground
truth import it, never the other way round; :mod:`replica.build` puts them together into the
public :class:`~replica.build.Replica`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol, get_args

from replica import text
from replica.theme import Theme

CST = dt.timezone(dt.timedelta(hours=8))
Cms = Literal["vsb", "webplus"]
LayoutKind = Literal["no_links", "no_dates"]
LAYOUT_KINDS: tuple[LayoutKind, ...] = ("no_links", "no_dates")
# How a column pages: the CMS's pager, no pager at all (one page), or a pager without end.
# Only the VSB templates render the last two (the extra columns live on the news site).
PagerKind = Literal["normal", "none", "endless"]

# Built dates are spread over this range; publish() adds days after the newest.
FIRST_DAY = dt.date(2016, 1, 1)
LAST_DAY = dt.date(2026, 8, 31)
# The logical clock behind Last-Modified of edits and layout changes starts here.
CLOCK_START = dt.datetime(2026, 9, 1, 9, 0, tzinfo=CST)

# The kinds of bad page (opt-in; replica.badpages serves each). Kind data lives here, with the
# model that marks articles with it, so that neither the model nor the ground truth needs the
# bad-page renderer.
BadKind = Literal[
    "empty",
    "binary",
    "gbk_meta",
    "gbk_wrong_header",
    "gb2312",
    "huge",
    "nested",
    "no_date",
    "no_title",
    "no_container",
]
BAD_KINDS: tuple[BadKind, ...] = get_args(BadKind)
# Bad pages with no content to extract: the ground truth does not expect them at all.
UNEXTRACTABLE: frozenset[BadKind] = frozenset({"empty", "binary", "huge"})

# Templates that real VSB sites of other universities use (opt-in; replica.realworld serves
# each): the older table template, content divs a template never closes (nested, or flat)
# with prev/next and 【关闭】 inside, headings in the body, labels that are never a value
# (录入员, 审核, 发布者), an empty label followed by a counter, a byline closing the body, and a
# body that is nothing but its attachment.
TemplateKind = Literal[
    "old_table",
    "unclosed_nested",
    "unclosed_flat",
    "headings",
    "unknown_labels",
    "empty_counter",
    "byline",
    "attachment_only",
]
TEMPLATE_KINDS: tuple[TemplateKind, ...] = get_args(TemplateKind)


class BaseURLs(Protocol):
    """Anything that knows each site's base URL (a running :class:`ReplicaServer`)."""

    def base_url(self, site: str) -> str: ...


@dataclass(frozen=True)
class Attachment:
    """A downloadable file of an article.

    ``path`` is root-relative (for VSB it is the ``download.jsp`` URL with its query).
    ``player`` marks a WebPlus ``div.wp_pdf_player`` instead of a link; its name is then the
    file name at the end of the path.
    """

    path: str
    name: str
    content_type: str
    player: bool = False


@dataclass(eq=False)
class Article:
    """One article page. Mutable only through :class:`ReplicaModel` methods."""

    id: int
    site: str
    language: str  # language the body was generated in (a repost keeps its original's)
    column: str  # slug of the column whose id is in the URL (its "home" column)
    path: str  # root-relative URL path
    title: str
    date: dt.date  # the date the site displays (and sorts by)
    time: dt.time  # the time of day; shown only by some WebPlus meta forms
    show_date: bool  # False: the page shows no date at all
    created: dt.date  # WebPlus: the date in the URL, sometimes a few days before ``date``
    authors: list[str]
    editors: list[str]
    origin: str | None
    separator: str  # between several names
    meta_form: int  # which meta line form the page uses (per CMS/language)
    images: list[str]  # root-relative image paths, in document order
    image_slots: list[int]  # image i follows paragraph min(slot, last)
    attachments: list[Attachment]
    body_seed: int
    body_cn_date: bool  # one paragraph carries a 年月日 date (not the article's)
    body_iso_date: bool  # one paragraph carries a bare YYYY-MM-DD date (not the article's)
    trailing_break: bool  # body ends with an empty <p><br></p>
    seq: int  # creation order, breaks ties when sorting
    modified: dt.datetime
    version: int = 1
    repost_of: int | None = None
    bad: BadKind | None = None  # a kind of BAD_KINDS: the page is served broken
    template: TemplateKind | None = None  # a kind of TEMPLATE_KINDS: served in that template
    _paragraphs: list[str] | None = field(default=None, repr=False)

    @property
    def paragraphs(self) -> list[str]:
        """The body paragraphs (generated on first use, then kept)."""
        if self._paragraphs is None:
            self._paragraphs = text.paragraphs(
                self.body_seed,
                self.language,
                self.date,
                cn_date=self.body_cn_date,
                iso_date=self.body_iso_date,
            )
        return self._paragraphs

    def sort_key(self) -> tuple[dt.date, dt.time, int]:
        return (self.date, self.time, self.seq)

    def rewrite_body(self, paragraphs: list[str]) -> None:
        """Give the article these body paragraphs (the opt-in extras shape their articles)."""
        self._paragraphs = list(paragraphs)


@dataclass
class Column:
    slug: str
    label: str
    list_path: str  # page 1 of the list
    colid: int  # VSB column id (in /info/<colid>/) or WebPlus column id (c<colid>a…)
    articles: list[Article] = field(default_factory=list)  # newest first
    index: dict[int, int] = field(default_factory=dict)  # article id -> position
    pager: PagerKind = "normal"
    extra_links: list[ExtraLink] = field(default_factory=list)  # listed on page 1, after articles

    def page_count(self, page_size: int) -> int:
        """Number of list pages (at least 1). Without a pager everything is on one page; an
        endless pager counts 1 here, as its end is never reached."""
        if self.pager != "normal":
            return 1
        return max(1, -(-len(self.articles) // page_size))


@dataclass(frozen=True)
class ExtraLink:
    """A list item that is not an article (a hostile link): *href* is root-relative (written
    relative on the page, like the CMS does) or a full URL / scheme link written as is."""

    href: str
    text: str
    date: dt.date
    kind: str


@dataclass(frozen=True)
class Redirect:
    """A path answered with 302 to *target*: a full URL, or a path on the trap listener."""

    target: str
    trap: bool = False


@dataclass
class Site:
    name: str
    cms: Cms
    language: str
    site_title: str  # the suffix of every <title>
    owner: int  # VSB owner id / WebPlus site id
    columns: list[Column]
    broken: set[str] = field(default_factory=set)
    layout_gen: int = 0
    layout_changed: dt.datetime | None = None
    # When its list pages last changed (an article published, edited, reposted or moved, the
    # layout broken or fixed): their Last-Modified.
    changed: dt.datetime = CLOCK_START
    by_path: dict[str, Article] = field(default_factory=dict)
    # served files: path (or "wbfileid=<n>" for VSB downloads) -> (content type, file name)
    files: dict[str, tuple[str, str]] = field(default_factory=dict)
    listed: list[Article] = field(default_factory=list)  # every listed article, once
    redirects: dict[str, Redirect] = field(default_factory=dict)  # path -> where it sends you

    def column(self, slug: str) -> Column:
        for col in self.columns:
            if col.slug == slug:
                return col
        raise KeyError(f"site {self.name!r} has no column {slug!r}")

    def home_column(self, article: Article) -> Column:
        return self.column(article.column)


# The three sites: name -> (cms, language, title suffix, owner, columns).
_SITE_SPECS: tuple[tuple[str, Cms, str, str, int, tuple[tuple[str, str, str, int], ...]], ...] = (
    (
        "news",
        "vsb",
        "zh",
        "东北大学新闻网",
        1234567,
        (
            ("ddyw", "东大要闻", "/ddyw.htm", 1002),
            ("mtdd", "媒体东大", "/mtdd.htm", 1003),
            ("xsdt", "学术动态", "/xsky/xsdt.htm", 1005),
        ),
    ),
    (
        "english",
        "vsb",
        "en",
        "Northeastern University",
        1345678,
        (
            ("focus", "Focus", "/focus.htm", 1018),
            ("research", "Research", "/research.htm", 1020),
        ),
    ),
    (
        "college",
        "webplus",
        "zh",
        "信息科学与工程学院",
        302,
        (
            ("xwdt", "学院新闻", "/xwdt/list.htm", 1234),
            ("tzgg", "通知公告", "/tzgg/list.htm", 1235),
        ),
    ),
)

# Meta line forms per kind of site (see vsb.py / webplus.py for what each looks like).
NEWS_FORMS = 4  # 0 编辑 only, 1 作者/编辑/来源 (ASCII colons), 2 作者/来源 (full-width), 3 none
COLLEGE_FORMS = (
    5  # 0 发布日期:[…], 1 发表时间:年月日, 2 时间: 浏览量, 3 unlabelled + time, 4 run-together
)
COLLEGE_TIME_FORM = 3


class ReplicaModel:
    """Three generated NEU-like sites: their state, queries and mutations. Thread-safe.

    Tests use the subclass :class:`replica.build.Replica` (``build_replica``), which adds the
    opt-in extras and the ground truth.
    """

    def __init__(self, seed: int, articles_per_column: int, page_size: int, theme: Theme) -> None:
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        if articles_per_column < 0:
            raise ValueError("articles_per_column must be >= 0")
        self.seed = seed
        self.articles_per_column = articles_per_column
        self.page_size = page_size
        self.theme = theme
        self.lock = threading.RLock()
        self.sites: dict[str, Site] = {}
        self._rng = random.Random(seed)
        self._ids: set[int] = set()
        self._seq = 0
        self._next_fileid = 40000 + self._rng.randrange(10000)
        self._clock = CLOCK_START
        self._titles: set[str] = set()
        self._college_forms = 0
        self._build()
        # Opt-in extras (add_column, reserve_id) draw from their own RNG, after the build, so
        # the base sites stay byte-identical whether or not extras are added.
        self._extra_rng = random.Random(seed * 7919 + 0xE4)

    # ----------------------------------------------------------------- building

    def _build(self) -> None:
        rng = self._rng
        n = self.articles_per_column
        for name, cms, language, title, owner, cols in _SITE_SPECS:
            site = Site(
                name=name,
                cms=cms,
                language=language,
                site_title=title,
                owner=owner,
                columns=[Column(slug, label, path, colid) for slug, label, path, colid in cols],
            )
            self.sites[name] = site
            for col in site.columns:
                # mtdd lists one ddyw article as well: it gets one own article less.
                own = n - 1 if (name, col.slug) == ("news", "mtdd") and n > 0 else n
                span = (LAST_DAY - FIRST_DAY).days
                days = sorted((rng.randrange(span + 1) for _ in range(own)), reverse=True)
                col.articles = [
                    self._new_article(site, col, FIRST_DAY + dt.timedelta(days=d)) for d in days
                ]
                col.articles.sort(key=Article.sort_key, reverse=True)
        news = self.sites["news"]
        ddyw, mtdd = news.column("ddyw"), news.column("mtdd")
        if ddyw.articles and n > 0:
            shared = ddyw.articles[min(2, len(ddyw.articles) - 1)]
            mtdd.articles.append(shared)
            mtdd.articles.sort(key=Article.sort_key, reverse=True)
        self._reindex()
        for site in self.sites.values():
            site.changed = max((a.modified for a in site.listed), default=CLOCK_START)

    def _new_id(self) -> int:
        while True:
            candidate = self._rng.randrange(100000, 1000000)
            if candidate not in self._ids:
                self._ids.add(candidate)
                return candidate

    def _unique_title(self, site: Site, col: Column, day: dt.date) -> str:
        rng = self._rng
        for _ in range(20):
            if site.language == "en":
                title = text.en_title(rng, day)
            else:
                title = text.zh_title(rng, col.slug, day)
            if title not in self._titles:
                break
        else:
            title = f"{title}（{self._seq}）"
        self._titles.add(title)
        return title

    def _people(self, site: Site, form: int) -> tuple[list[str], list[str], str | None]:
        rng = self._rng
        lang = site.language

        def some(lo: int, hi: int) -> list[str]:
            return text.names(rng, lang, rng.randint(lo, hi))

        if site.name == "news":
            if form == 0:
                return [], some(1, 2), None
            if form == 1:
                return some(1, 1), some(1, 2), rng.choice(text.ZH_ORIGINS)
            if form == 2:
                return some(1, 3), [], rng.choice(text.ZH_ORIGINS)
            return [], [], None
        if site.name == "english":
            if rng.random() < 0.07:
                return [], [], None
            authors = some(1, 1) if rng.random() < 0.4 else []
            editors = some(0, 2) if rng.random() < 0.2 else some(1, 2)
            origin = rng.choice(text.EN_ORIGINS) if rng.random() < 0.85 else None
            return authors, editors, origin
        # college (WebPlus)
        if form == COLLEGE_TIME_FORM:
            return [], [], None
        if form == 4:
            authors = some(1, 1) if rng.random() < 0.4 else []
            return authors, some(1, 2), rng.choice(("NEU", "新闻网", "信息学院"))
        return (some(1, 2) if rng.random() < 0.5 else []), [], None

    def _new_article(
        self,
        site: Site,
        col: Column,
        date: dt.date,
        *,
        title: str | None = None,
        repost_of: Article | None = None,
    ) -> Article:
        rng = self._rng
        self._seq += 1
        art_id = self._new_id()
        created = date
        if site.cms == "webplus":
            if rng.random() < 0.3:
                created = date - dt.timedelta(days=rng.randint(1, 5))
            path = f"/{created.year}/{created:%m%d}/c{col.colid}a{art_id}/page.htm"
        else:
            path = f"/info/{col.colid}/{art_id}.htm"
        if site.name == "news":
            form = rng.choices(range(NEWS_FORMS), weights=(35, 30, 28, 7))[0]
        elif site.name == "college":
            form = self._college_forms % COLLEGE_FORMS
            self._college_forms += 1
        else:
            form = 0
        authors, editors, origin = self._people(site, form)
        show_date = rng.random() >= 1 / 15
        time = dt.time(rng.randint(8, 20), rng.choice((0, 10, 15, 20, 30, 40, 45, 50)))
        n_images = rng.choices((0, 1, 2), weights=(4, 4, 2))[0]
        n_files = rng.choices((0, 1, 2), weights=(6, 3, 1))[0]
        if repost_of is not None:  # the same story: as many images, no attachments
            n_images, n_files = len(repost_of.images), 0
        article = Article(
            id=art_id,
            site=site.name,
            language=repost_of.language if repost_of is not None else site.language,
            column=col.slug,
            path=path,
            title=title if title is not None else self._unique_title(site, col, date),
            date=date,
            time=time,
            show_date=show_date,
            created=created,
            authors=authors,
            editors=editors,
            origin=origin,
            separator=rng.choice(text.NAME_SEPARATORS),
            meta_form=form,
            images=[self._image_path(site) for _ in range(n_images)],
            image_slots=(
                list(repost_of.image_slots)
                if repost_of is not None
                else [rng.randrange(3) for _ in range(n_images)]
            ),
            attachments=[self._attachment(site, date.year) for _ in range(n_files)],
            body_seed=rng.getrandbits(48),
            body_cn_date=not show_date or rng.random() < 0.4,
            body_iso_date=not show_date or rng.random() < 0.4,
            trailing_break=rng.random() < 0.2 and repost_of is None,
            seq=self._seq,
            modified=dt.datetime.combine(date, time, tzinfo=CST),
            repost_of=repost_of.id if repost_of is not None else None,
        )
        if repost_of is not None:
            article._paragraphs = list(repost_of.paragraphs)
        return article

    def _image_path(self, site: Site) -> str:
        rng = self._rng
        if site.cms == "vsb":
            return (
                f"/__local/{rng.randrange(16):X}/{rng.randrange(256):02X}/"
                f"{rng.randrange(256):02X}/{rng.getrandbits(128):032X}_{rng.getrandbits(32):08X}.jpg"
            )
        return (
            f"/_upload/article/images/{rng.randrange(256):02x}/{rng.randrange(256):02x}/"
            f"{rng.getrandbits(112):028x}/{_uuid(rng)}.jpg"
        )

    def _attachment(self, site: Site, year: int) -> Attachment:
        rng = self._rng
        name, ext = text.file_name(rng, site.language, year)
        ctype = text.FILE_TYPES[ext]
        if site.cms == "vsb":
            self._next_fileid += rng.randint(1, 97)
            path = (
                "/system/_content/download.jsp?urltype=news.DownloadAttachUrl"
                f"&owner={site.owner}&wbfileid={self._next_fileid}"
            )
            return Attachment(path, name, ctype)
        folder = (
            f"/_upload/article/files/{rng.randrange(256):02x}/{rng.randrange(256):02x}/"
            f"{rng.getrandbits(112):028x}"
        )
        if ext == "pdf":
            base = f"{_uuid(rng)}.pdf"
            return Attachment(f"{folder}/{base}", base, ctype, player=True)
        return Attachment(f"{folder}/{_uuid(rng)}.{ext}", name, ctype)

    @contextlib.contextmanager
    def _extras_rng(self) -> Iterator[None]:
        """Generate with the extras' RNG, leaving the base RNG where the base build left it."""
        base = self._rng
        self._rng = self._extra_rng
        try:
            yield
        finally:
            self._rng = base

    def add_column(
        self,
        site: str,
        slug: str,
        label: str,
        list_path: str,
        colid: int,
        count: int,
        *,
        pager: PagerKind = "normal",
    ) -> Column:
        """Append a column of *count* generated articles to a site (the opt-in extras)."""
        with self.lock, self._extras_rng():
            s = self.site(site)
            if any(c.slug == slug for c in s.columns):
                raise ValueError(f"site {site!r} already has a column {slug!r}")
            col = Column(slug, label, list_path, colid, pager=pager)
            s.columns.append(col)
            span = (LAST_DAY - FIRST_DAY).days
            days = sorted((self._rng.randrange(span + 1) for _ in range(count)), reverse=True)
            col.articles = [
                self._new_article(s, col, FIRST_DAY + dt.timedelta(days=d)) for d in days
            ]
            col.articles.sort(key=Article.sort_key, reverse=True)
            self._reindex()
            s.changed = max([s.changed, *(a.modified for a in col.articles)])
            return col

    def give_attachment(self, article: Article) -> None:
        """Give *article* an attachment if it has none (the opt-in extras)."""
        with self.lock, self._extras_rng():
            if not article.attachments:
                site = self.site(article.site)
                article.attachments = [self._attachment(site, article.date.year)]
            self._reindex()

    def reserve_id(self) -> int:
        """A fresh article id no article uses (for hostile links shaped like articles)."""
        with self.lock, self._extras_rng():
            return self._new_id()

    def _reindex(self) -> None:
        """Rebuild the lookup tables after any change to the lists."""
        for site in self.sites.values():
            site.by_path = {}
            site.files = {}
            site.listed = []
            seen: set[int] = set()
            for col in site.columns:
                col.index = {a.id: i for i, a in enumerate(col.articles)}
                for article in col.articles:
                    if article.id in seen:
                        continue
                    seen.add(article.id)
                    site.listed.append(article)
                    site.by_path[article.path] = article
                    for image in article.images:
                        site.files[image] = ("image/jpeg", image.rpartition("/")[2])
                        if site.cms == "webplus":
                            orig = original_image(image)
                            site.files[orig] = ("image/jpeg", orig.rpartition("/")[2])
                    for att in article.attachments:
                        site.files[file_key(att.path)] = (att.content_type, att.name)

    def _tick(self) -> dt.datetime:
        self._clock += dt.timedelta(minutes=1)
        return self._clock

    def _touch(self, site: Site) -> dt.datetime:
        """A change of *site*'s pages, now on the logical clock; returns that moment."""
        site.changed = max(self._tick(), site.changed + dt.timedelta(minutes=1))
        return site.changed

    # ----------------------------------------------------------------- queries

    def site(self, name: str) -> Site:
        try:
            return self.sites[name]
        except KeyError:
            raise KeyError(f"no site {name!r}; sites are {', '.join(self.sites)}") from None

    def articles(self, site: str | None = None, column: str | None = None) -> list[Article]:
        """Listed articles (of one site / column), each once, in list order."""
        with self.lock:
            if column is not None:
                if site is None:
                    raise ValueError("column needs a site")
                return list(self.site(site).column(column).articles)
            sites = [self.site(site)] if site is not None else list(self.sites.values())
            return [a for s in sites for a in s.listed]

    def find(self, article_id: int) -> Article:
        with self.lock:
            for s in self.sites.values():
                for a in s.listed:
                    if a.id == article_id:
                        return a
        raise KeyError(article_id)

    def pages(self, site: str, column: str) -> int:
        """Number of list pages of a column (at least 1; see Column.page_count)."""
        with self.lock:
            return self.site(site).column(column).page_count(self.page_size)

    def etag(self, article: Article) -> str:
        site = self.sites[article.site]
        return f'"{article.id:x}-{article.version}-{site.layout_gen}"'

    def last_modified(self, article: Article) -> dt.datetime:
        site = self.sites[article.site]
        if site.layout_changed is not None and site.layout_changed > article.modified:
            return site.layout_changed
        return article.modified

    def date_shown(self, article: Article) -> bool:
        """Whether the article page shows the article's own date right now."""
        return article.show_date and "no_dates" not in self.sites[article.site].broken

    # ----------------------------------------------------------------- mutations

    def publish(
        self, site: str, column: str, n: int = 1, *, day: dt.date | None = None
    ) -> list[Article]:
        """Add *n* new articles to a column, each a day after its newest (or all dated *day*);
        returns them newest first."""
        if n < 0:
            raise ValueError("n must be >= 0")
        with self.lock:
            s = self.site(site)
            col = s.column(column)
            new: list[Article] = []
            top = col.articles[0].date if col.articles else LAST_DAY
            for _ in range(n):
                top = top + dt.timedelta(days=1)
                article = self._new_article(s, col, day or top)
                article.modified = max(article.modified, self._touch(s))
                s.changed = max(s.changed, article.modified)
                new.append(article)
            new.reverse()
            col.articles[0:0] = new
            if day is not None:  # not necessarily the newest: in date order
                col.articles.sort(key=Article.sort_key, reverse=True)
                new.sort(key=Article.sort_key, reverse=True)
            self._reindex()
            return new

    def edit(
        self,
        article: Article,
        title: str | None = None,
        paragraphs: Iterable[str] | None = None,
    ) -> Article:
        """Change an article's title and/or body; its ETag and Last-Modified change."""
        with self.lock:
            if title is not None:
                article.title = title
            if paragraphs is not None:
                article._paragraphs = [str(p) for p in paragraphs]
            article.version += 1
            moment = self._touch(self.sites[article.site])
            article.modified = max(moment, article.modified + dt.timedelta(minutes=1))
            return article

    def repost(self, article: Article, site: str, column: str) -> Article:
        """The same story (title and paragraphs) under a new URL at the top of another column."""
        with self.lock:
            s = self.site(site)
            col = s.column(column)
            top = col.articles[0].date if col.articles else LAST_DAY
            date = max(top + dt.timedelta(days=1), article.date)
            copy = self._new_article(s, col, date, title=article.title, repost_of=article)
            copy.modified = max(copy.modified, self._touch(s))
            col.articles.insert(0, copy)
            col.articles.sort(key=Article.sort_key, reverse=True)
            self._reindex()
            return copy

    def break_layout(self, site: str, kind: str) -> None:
        """``"no_links"``: list pages render no article links; ``"no_dates"``: article pages
        render no date. Undo with :meth:`fix_layout`."""
        if kind not in LAYOUT_KINDS:
            raise ValueError(f"unknown layout break {kind!r}; kinds are {LAYOUT_KINDS}")
        with self.lock:
            s = self.site(site)
            s.broken.add(kind)
            s.layout_gen += 1
            s.layout_changed = self._touch(s)

    def fix_layout(self, site: str) -> None:
        with self.lock:
            s = self.site(site)
            s.broken.clear()
            s.layout_gen += 1
            s.layout_changed = self._touch(s)

    # ----------------------------------------------------------------- extras by URL

    def bad_pages(self, server: BaseURLs) -> dict[str, str]:
        """URL -> kind (``"empty"``, ``"gbk_meta"``…) of every listed bad page."""
        with self.lock:
            return {
                server.base_url(s.name) + a.path: a.bad
                for s in self.sites.values()
                for a in s.listed
                if a.bad is not None
            }

    def hostile_links(self, server: BaseURLs) -> dict[str, str]:
        """URL (as a browser resolves the link) -> kind of every hostile list link."""
        with self.lock:
            out: dict[str, str] = {}
            for s in self.sites.values():
                base = server.base_url(s.name)
                for col in s.columns:
                    for link in col.extra_links:
                        url = base + link.href if link.href.startswith("/") else link.href
                        out[url] = link.kind
            return out


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def original_image(path: str) -> str:
    """WebPlus ``original-src`` of an image: the same name with ``_d``."""
    stem, _, ext = path.rpartition(".")
    return f"{stem}_d.{ext}"


def file_key(path: str) -> str:
    """Key of a served file: its path, or ``wbfileid=<n>`` for VSB downloads."""
    if path.startswith("/system/_content/download.jsp"):
        return "wbfileid=" + path.rpartition("wbfileid=")[2]
    return path
