"""A job's sources as sites, the unit of work of a broker: sources whose hosts overlap are one
site (one crawl at a time keeps its politeness), and a site's sources as a TOML text of their
own, which is how a worker that shares no disk with the scheduler gets them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.commandline import ConfigError
from crawler.sources import DEFAULT_SOURCES_FILE, Source, host_groups, host_name
from crawler.tomlfile import read_toml


@dataclass(frozen=True)
class Site:
    """Sources crawled together: *name* is the least of their hosts, as ``host:port`` where
    a source names a port (unique, as sites share no host name); *hosts* their host names
    (sorted), each of which the site's lease holds."""

    name: str
    sources: tuple[str, ...]
    hosts: tuple[str, ...]


def group_sites(sources: Sequence[Source]) -> list[Site]:
    """*sources* as sites: ``host_groups``, which groups by host name whatever the port, as
    Scrapy's politeness goes; in the order of each site's first source."""
    return [
        Site(
            min(host for source in group for host in source.hosts),
            tuple(source.name for source in group),
            tuple(sorted({host_name(host) for source in group for host in source.hosts})),
        )
        for group in host_groups(sources)
    ]


def source_tables(sources_file: Path | None, names: Sequence[str]) -> list[dict[str, Any]]:
    """The ``[[sources]]`` tables of *names*, as written in the file (the shipped one if None);
    ConfigError if one is not there (the file changed since its sources were read)."""
    path = sources_file or DEFAULT_SOURCES_FILE
    data = read_toml(path, "sources file", ConfigError)
    by_name = {table.get("name"): table for table in data.get("sources", [])}
    if missing := [name for name in names if name not in by_name]:
        raise ConfigError(f"{path}: no source {missing[0]!r}: was the file changed just now?")
    return [by_name[name] for name in names]


def sources_toml(tables: Iterable[Mapping[str, Any]]) -> str:
    """*tables* as a sources file: strings, integers, booleans and lists of them, which is all
    a sources table holds (a JSON string is a valid TOML basic string)."""
    return "".join(
        "[[sources]]\n"
        + "".join(f"{key} = {_toml_value(value)}\n" for key, value in table.items())
        + "\n"
        for table in tables
    )


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"not a sources file value: {value!r}")
