"""The append-only JSON Lines feed: whole lines only, written once, durable before they count."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from crawler.store.files import open_no_link
from crawler.text import valid_unicode

logger = logging.getLogger(__name__)

# The feed's file name inside a data directory.
FEED_FILE = "articles.jsonl"
READ_CHUNK = 1 << 16
# A JSON escape of a surrogate (\\ud800-\\udfff): a pair is one character, one alone is none.
SURROGATE_ESCAPE_RE = re.compile(rb"\\u[dD][89a-fA-F]")


class UnreadableLine(ValueError):
    """A complete feed line that holds no record."""


@dataclass
class BadLines:
    """How many complete lines a reader read past because they hold no record."""

    count: int = 0


def encode_line(record: Mapping[str, Any]) -> bytes:
    """One feed line: compact UTF-8 JSON, Chinese as characters, ending in a newline. A lone
    surrogate, which UTF-8 cannot carry, is written as U+FFFD."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: rare, so looked for only when one is there
        return valid_unicode(text).encode("utf-8")


def cut_torn_tail(path: Path) -> int:
    """Truncate a last line left without its newline by a crash; return the bytes removed."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    if size == 0:
        return 0
    with os.fdopen(open_no_link(path, os.O_RDWR), "rb+") as file:
        end = end_of_complete_lines(file)
        if end < size:
            file.truncate(end)
            file.flush()
            os.fsync(file.fileno())
            logger.warning("Cut a torn last line (%d bytes) off %s", size - end, path)
        return size - end


def end_of_complete_lines(handle: IO[bytes]) -> int:
    """The offset just past the file's last newline (0 if it has none), read backwards."""
    position = handle.seek(0, os.SEEK_END)
    while position > 0:
        step = min(READ_CHUNK, position)
        position -= step
        handle.seek(position)
        newline = handle.read(step).rfind(b"\n")
        if newline >= 0:
            return position + newline + 1
    return 0


def write_atomically(path: Path, data: bytes) -> None:
    """Replace *path* with *data* durably: a crash leaves the old file or the new one, whole."""
    partial = path.with_name(path.name + ".part")
    with os.fdopen(open_no_link(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    partial.replace(path)


def complete_lines(handle: IO[bytes], offset: int = 0) -> Iterator[tuple[int, bytes]]:
    """(offset, line) for each complete line from the handle's position, stopping before a torn
    last line."""
    for line in handle:
        if not line.endswith(b"\n"):
            return
        yield offset, line
        offset += len(line)


def read_record(line: bytes) -> dict[str, Any] | None:
    """The JSON object on one complete feed line; None if the line is blank.

    Raises ``UnreadableLine`` if the line is not UTF-8 JSON, not an object, or holds a lone
    surrogate (``"\\ud800"``: no UTF-8 text can carry it, so no reader could pass it on)."""
    if line.isspace():
        return None
    try:
        value = json.loads(line.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError alike
        raise UnreadableLine(str(exc)) from None
    if not isinstance(value, dict):
        raise UnreadableLine("not an object")
    if b"\\u" in line and SURROGATE_ESCAPE_RE.search(line) and _lone_surrogate(value):
        raise UnreadableLine("a lone surrogate, which is no text")
    return value


def _lone_surrogate(value: dict[str, Any]) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_line(
    line: bytes,
    offset: int,
    path: Path | None = None,
    number: int | None = None,
    bad: BadLines | None = None,
) -> dict[str, Any] | None:
    """The JSON object on one feed line, or None if the line holds none: logged with its line
    *number* if known and its offset, and counted in *bad*."""
    try:
        return read_record(line)
    except UnreadableLine as exc:
        where = f"line {number} (offset {offset})" if number else f"offset {offset}"
        logger.warning("Skipping a bad feed line at %s of %s: %s", where, path, exc)
        if bad is not None:
            bad.count += 1
        return None


MAX_VERSION = 2**63 - 1


def id_version(record: Mapping[str, Any]) -> tuple[str, int] | None:
    """The record's (id, version), or None if either is missing or mistyped."""
    article_id, version = record.get("id"), record.get("version")
    if not isinstance(article_id, str) or not isinstance(version, int) or isinstance(version, bool):
        return None
    # SQLite keeps 64-bit integers: a larger one in a hand-edited line is no version.
    return (article_id, version) if 1 <= version <= MAX_VERSION else None


@dataclass(frozen=True)
class FeedStamp:
    """Which file the feed is and how it last changed: the state records it with each commit,
    and a feed that still shows it on open holds exactly what the state was committed with."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, stat: os.stat_result) -> FeedStamp:
        return cls(stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def same_file(self, other: FeedStamp) -> bool:
        return (self.device, self.inode) == (other.device, other.inode)


class FeedWriter:
    """Appends lines to the feed; ``sync`` makes everything appended so far durable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = open_no_link(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        self.size = os.fstat(self.fd).st_size
        self.unsynced = False

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as one line, in a single write() so no reader sees half of it."""
        line = encode_line(record)
        written = os.write(self.fd, line)
        if written != len(line):
            # A short write (disk full): remove the partial line so the feed stays whole.
            os.ftruncate(self.fd, self.size)
            raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")
        self.size += written
        self.unsynced = True

    def stamp(self) -> FeedStamp:
        return FeedStamp.of(os.fstat(self.fd))

    def sync(self) -> None:
        if self.unsynced:
            os.fsync(self.fd)
            self.unsynced = False

    def close(self) -> None:
        self.sync()
        os.close(self.fd)
