"""A DNS resolver for test crawls (``-s TWISTED_DNS_RESOLVER=tests.resolver.LoopbackResolver``):
loopback names resolve, every other name fails as an unknown host does, and no DNS server is
ever asked, so a test of a DNS failure never touches the network."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any, Self, cast

from twisted.internet import defer
from twisted.internet.base import ThreadedResolver
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolverSimple

LOCALHOST = "127.0.0.1"


def loopback_address(name: str) -> str | None:
    """The IPv4 address of *name* if it is a loopback one (``localhost``, ``127.x.y.z``)."""
    if name == "localhost" or name.endswith(".localhost"):
        return LOCALHOST
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
    return name if address.version == 4 and address.is_loopback else None


class LoopbackResolver(ThreadedResolver):
    """Resolves loopback names only, without a system call; any other name is a DNS failure.

    A ThreadedResolver only for its IResolverSimple declaration (the reactor takes nothing
    else): its one method is replaced, so its threads and gethostbyname are never used."""

    def __init__(self, reactor: Any) -> None:
        super().__init__(reactor)

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> Self:
        return cls(reactor)

    def install_on_reactor(self) -> None:
        # A zope interface declaration, which mypy does not see.
        self.reactor.installResolver(cast(IResolverSimple, self))

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        address = loopback_address(name)
        if address is None:
            return defer.fail(DNSLookupError(f"no such host (test resolver): {name}"))
        return defer.succeed(address)
