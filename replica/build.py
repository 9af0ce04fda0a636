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


class Replica(ReplicaModel):
    """Three generated NEU-like sites and their ground truth. Thread-safe.

    *bad_pages*, *hostile* and *real_world* add the opt-in columns; they are generated after
    the base sites from an RNG of their own, so the base sites are the same with or without
    them.
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
