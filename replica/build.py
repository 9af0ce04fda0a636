"""The public :class:`Replica`: the model with its opt-in extras and its ground truth.

The top of the generation side of the package: it imports the model, the extras
(:mod:`replica.badpages`, :mod:`replica.hostile`) and the ground truth (:mod:`replica.truth`),
and nothing of the package imports it but the server and the package's entry points.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from replica import truth
from replica.badpages import add_bad_columns
from replica.hostile import add_hostile_columns
from replica.model import BaseURLs, ReplicaModel
from replica.realworld import add_real_world_column
from replica.theme import Theme, get_theme

# What a moved column's old list page answers: the site's 404 page, or 410 Gone.
GONE_STATUSES = (404, 410)
HOME_PATHS = frozenset({"/", "/index.htm"})


class Replica(ReplicaModel):
    """Three generated NEU-like sites and their ground truth. Thread-safe.

    *bad_pages*, *hostile* and *real_world* add the opt-in columns; they are generated after
    the base sites from an RNG of their own, so the base sites are the same with or without
    them.
    :meth:`move_column` moves a column's list pages to another URL.
    """

    def __init__(
        self,
        seed: int,
        articles_per_column: int,
        page_size: int,
        theme: Theme,
        *,
        bad_pages: bool = False,
        hostile: bool = False,
        real_world: bool = False,
    ) -> None:
        super().__init__(seed, articles_per_column, page_size, theme)
        if bad_pages:
            add_bad_columns(self)
        if hostile:
            add_hostile_columns(self)
        if real_world:
            add_real_world_column(self)
        # site -> old list path of a moved column -> the status it answers
        self.moved_from: dict[str, dict[str, int]] = {}

    def move_column(self, site: str, column: str, new_path: str, *, status: int = 404) -> str:
        """Serve a column's list pages at *new_path* from now on, as a redesign does: the home
        page and every menu link there under the same label, its articles where they were.
        Its old first list page answers *status* (404 or 410), its other old pages 404.
        Returns the old path."""
        if status not in GONE_STATUSES:
            raise ValueError(f"a moved column's old page answers 404 or 410, not {status}")
        with self.lock:
            s = self.site(site)
            col = s.column(column)
            taken = {c.list_path for c in s.columns} | set(s.by_path) | HOME_PATHS
            if not new_path.startswith("/") or not new_path.endswith(".htm") or new_path in taken:
                raise ValueError(f"column {column!r} cannot move to {new_path!r}")
            old = col.list_path
            col.list_path = new_path
            gone = self.moved_from.setdefault(site, {})
            gone.pop(new_path, None)
            gone[old] = status
            self._touch(s)  # its menus link the new path
            return old

    def gone_status(self, site: str, path: str) -> int | None:
        """The status *path* answers as a moved column's old list page, or None."""
        with self.lock:
            return self.moved_from.get(site, {}).get(path)

    def expected_records(self, server: BaseURLs) -> dict[str, dict[str, Any]]:
        """What a perfect crawler extracts from every listed article, keyed by absolute URL."""
        return truth.expected_records(self, server)

    def write_sources(
        self,
        path: str | Path,
        server: BaseURLs,
        home: bool = False,
        sites: Iterable[str] | None = None,
    ) -> Path:
        """Write a TOML sources file for the crawler (one table per column, or per site)."""
        return truth.write_sources(self, path, server, home=home, sites=sites)


def build_replica(
    seed: int = 0,
    articles_per_column: int = 25,
    page_size: int = 10,
    theme: str = "default",
    *,
    bad_pages: bool = False,
    hostile: bool = False,
    real_world: bool = False,
) -> Replica:
    """Generate the replica sites (deterministic for a given seed and arguments).

    *bad_pages* adds the news columns ``bad`` and ``nopager`` (see :mod:`replica.badpages`),
    *hostile* the columns ``hostile`` and ``endless`` (see :mod:`replica.hostile`), *real_world*
    the column ``real`` (see :mod:`replica.realworld`). All are off by default, and then nothing
    the replica serves changes.
    """
    return Replica(
        seed,
        articles_per_column,
        page_size,
        get_theme(theme),
        bad_pages=bad_pages,
        hostile=hostile,
        real_world=real_world,
    )
