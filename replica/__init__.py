"""A generated, deterministic replica of the NEU news sites, served over real HTTP.

The live sites are unreachable from development machines, so every test and benchmark crawls
this replica instead: three NEU-like sites (a VSB news site in Chinese, a VSB English site and
a WebPlus college sub-site) with their ground truth. See ``build_replica`` and
``ReplicaServer``.
"""

from replica.model import Article, Attachment, Column, Replica, Site, build_replica
from replica.server import LoggedRequest, ReplicaServer
from replica.theme import Theme, get_theme

__all__ = [
    "Article",
    "Attachment",
    "Column",
    "LoggedRequest",
    "Replica",
    "ReplicaServer",
    "Site",
    "Theme",
    "build_replica",
    "get_theme",
]
