"""Switchable server faults: what the live sites do on a bad day, on demand.

A :class:`ReplicaServer` given a :class:`FaultConfig` (or a new one through its ``faults``
attribute, or ``POST /__replica__/faults?…``) answers some requests wrongly:

* ``"500"``, ``"502"``, ``"503"``: that status with nginx's small HTML body;
* ``"slow"``: the right answer, after ``slow_seconds``;
* ``"reset"``: no answer, the connection closed with SO_LINGER 0 so the client gets a RST;
* ``"truncate"``: the right headers (full Content-Length), half the body, then close;
* ``"redirect_loop"``: 302 to the same URL with ``replica_loop=1`` added, which 302s back;
* ``"404"``: the site's 404 page (meant for listed articles; never for /robots.txt);
* ``"robots_error"``: 500 for ``/robots.txt`` (only ever picked for that path).

With ``rate > 0`` each request (control paths ``/__replica__/*`` excepted) gets a fault with
probability *rate*, its kind drawn from *kinds* (those that apply to the path) by an RNG seeded
with *seed*: the n-th request a server answers gets the same decision in every run. ``paths``
pins a kind to a path, always: keys are an absolute URL (one site), a path with its query, or
a path (any query), tried in that order. Without a config, or with rate 0 and no pins, nothing
changes.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs

from replica.response import Response
from replica.routes import not_found

TRANSIENT_KINDS: tuple[str, ...] = ("500", "502", "503", "slow", "reset", "truncate")
FAULT_KINDS: tuple[str, ...] = (*TRANSIENT_KINDS, "redirect_loop", "404", "robots_error")
ROBOTS_PATH = "/robots.txt"
LOOP_PARAM = "replica_loop=1"

_REASONS = {
    404: "Not Found",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
}
_STATUS = {"500": 500, "502": 502, "503": 503, "404": 404, "robots_error": 500}


@dataclass(frozen=True)
class FaultConfig:
    """Which faults a server injects (see the module docstring). Immutable: swap the whole
    config to change it."""

    rate: float = 0.0
    kinds: tuple[str, ...] = TRANSIENT_KINDS
    paths: Mapping[str, str] = field(default_factory=dict)
    seed: int = 0
    slow_seconds: float = 3.0

    def __post_init__(self) -> None:
        # Copies, so that a caller changing its dict cannot change a running server's faults.
        object.__setattr__(self, "kinds", tuple(self.kinds))
        object.__setattr__(self, "paths", MappingProxyType(dict(self.paths)))
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be within [0, 1], not {self.rate}")
        if self.rate > 0 and not self.kinds:
            raise ValueError("a fault rate needs at least one kind")
        if self.slow_seconds < 0:
            raise ValueError("slow_seconds must be >= 0")
        for kind in (*self.kinds, *self.paths.values()):
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}; kinds are {', '.join(FAULT_KINDS)}")
        for key, kind in self.paths.items():
            if kind == "robots_error" and not key.partition("?")[0].endswith(ROBOTS_PATH):
                raise ValueError(f"robots_error is for {ROBOTS_PATH}, not {key!r}")

    @property
    def active(self) -> bool:
        return self.rate > 0 or bool(self.paths)

    def as_json(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "kinds": list(self.kinds),
            "paths": dict(self.paths),
            "seed": self.seed,
            "slow_seconds": self.slow_seconds,
        }

    @classmethod
    def from_query(cls, query: str) -> FaultConfig:
        """``rate=0.1&kinds=500,503&seed=1&slow=0.5&pin=503:/ddyw.htm`` (``pin`` repeats);
        anything left out takes its default. Raises ValueError."""
        params = parse_qs(query, keep_blank_values=True)

        def last(name: str) -> str | None:
            values = params.get(name)
            return values[-1] if values else None

        kinds = last("kinds")
        return cls(
            rate=float(last("rate") or 0),
            kinds=tuple(k for k in kinds.split(",") if k) if kinds else TRANSIENT_KINDS,
            paths=parse_pins(params.get("pin", [])),
            seed=int(last("seed") or 0),
            slow_seconds=float(last("slow") or 3.0),
        )


def parse_pins(pins: Iterable[str]) -> dict[str, str]:
    """``KIND:PATH`` strings -> {PATH: KIND}. Raises ValueError."""
    out: dict[str, str] = {}
    for pin in pins:
        kind, sep, path = pin.partition(":")
        if not sep or not path:
            raise ValueError(f"a pin is KIND:PATH, not {pin!r}")
        out[path] = kind
    return out


def applies(kind: str, path: str) -> bool:
    """Whether a randomly drawn *kind* makes sense for *path*."""
    if kind == "robots_error":
        return path == ROBOTS_PATH
    if kind == "404":
        return path != ROBOTS_PATH  # a missing robots.txt means "allow all", not a failure
    return True


class FaultInjector:
    """Decides the fault of each request for one config. Thread-safe."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._lock = threading.Lock()

    def pick(self, url: str, target: str) -> str | None:
        """The fault for a request of *target* (path and query) at absolute *url*, or None."""
        config = self.config
        path = target.partition("?")[0]
        for key in (url, target, path):
            pinned = config.paths.get(key)
            if pinned is not None:
                return pinned
        if config.rate <= 0:
            return None
        with self._lock:
            # Always two draws, so one request's path never shifts the next one's decision.
            roll, choice = self._rng.random(), self._rng.random()
        if roll >= config.rate:
            return None
        usable = [kind for kind in config.kinds if applies(kind, path)]
        return usable[int(choice * len(usable))] if usable else None


def error_response(kind: str) -> Response | None:
    """The answer of a status fault (5xx, 404, robots_error), or None for other kinds."""
    status = _STATUS.get(kind)
    if status is None:
        return None
    if kind == "404":
        return not_found()  # the site's own 404 page, as for any missing page
    title = f"{status} {_REASONS[status]}"
    body = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    return Response(status, body.encode(), [("Content-Type", "text/html")])


def loop_partner(target: str) -> str:
    """Where a redirect_loop sends *target*: the same with ``replica_loop=1`` added."""
    path, sep, query = target.partition("?")
    return f"{path}?{query}&{LOOP_PARAM}" if sep and query else f"{path}?{LOOP_PARAM}"


def loop_origin(target: str) -> str | None:
    """The target a loop partner sends back to, or None if *target* is no loop partner."""
    path, _, query = target.partition("?")
    params = query.split("&")
    if LOOP_PARAM not in params:
        return None
    rest = "&".join(p for p in params if p != LOOP_PARAM)
    return f"{path}?{rest}" if rest else path
