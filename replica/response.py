"""What a route answers: status, headers and a body held in memory or produced lazily."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Stream:
    """A body too big to hold: *length* bytes, produced lazily by *chunks* at send time."""

    length: int
    chunks: Callable[[], Iterator[bytes]]


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    stream: Stream | None = None  # when set, it is the body (and ``body`` is empty)

    @property
    def length(self) -> int:
        return self.stream.length if self.stream is not None else len(self.body)
