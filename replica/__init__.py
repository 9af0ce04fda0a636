"""A generated, deterministic replica of the NEU news sites, served over real HTTP.

The live sites are unreachable from development machines, so every test and benchmark crawls
this replica instead: three NEU-like sites (a VSB news site in Chinese, a VSB English site and
a WebPlus college sub-site) with their ground truth. See ``build_replica`` and
``ReplicaServer``.

Opt-in trouble, off by default: server faults (``ReplicaServer(replica, FaultConfig(...))``,
:mod:`replica.faults`), bad pages (``build_replica(bad_pages=True)``, :mod:`replica.badpages`)
and hostile links (``build_replica(hostile=True)``, :mod:`replica.hostile`).

Layers, each importing only from the layers before it (no cycles, not even through imports
inside functions): the leaf modules (:mod:`replica.text`, :mod:`replica.theme`,
:mod:`replica.response`); the model (:mod:`replica.model`); the templates
(:mod:`replica.common`, :mod:`replica.vsb`, :mod:`replica.webplus`); the extras
(:mod:`replica.badpages`, :mod:`replica.hostile`) and the ground truth (:mod:`replica.truth`);
the public :class:`Replica` and :func:`build_replica` (:mod:`replica.build`); routing, faults
and the server (:mod:`replica.routes`, :mod:`replica.faults`, :mod:`replica.server`).
"""

from replica.build import Replica, build_replica
from replica.faults import FAULT_KINDS, TRANSIENT_KINDS, FaultConfig
from replica.hostile import HOSTILE_KINDS
from replica.model import BAD_KINDS, UNEXTRACTABLE, Article, Attachment, Column, Site
from replica.server import LoggedRequest, ReplicaServer
from replica.theme import Theme, get_theme

__all__ = [
    "BAD_KINDS",
    "FAULT_KINDS",
    "HOSTILE_KINDS",
    "TRANSIENT_KINDS",
    "UNEXTRACTABLE",
    "Article",
    "Attachment",
    "Column",
    "FaultConfig",
    "LoggedRequest",
    "Replica",
    "ReplicaServer",
    "Site",
    "Theme",
    "bad_pages",
    "build_replica",
    "get_theme",
    "hostile_links",
]


def bad_pages(server: ReplicaServer) -> dict[str, str]:
    """URL -> kind of every bad page the running *server* serves (see Replica.bad_pages)."""
    return server.replica.bad_pages(server)


def hostile_links(server: ReplicaServer) -> dict[str, str]:
    """URL -> kind of every hostile list link of *server* (see Replica.hostile_links)."""
    return server.replica.hostile_links(server)
