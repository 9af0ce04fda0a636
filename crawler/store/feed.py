"""The append-only JSON Lines feed: whole lines only, written once, durable before they count."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)

# The feed's file name inside a data directory.
FEED_FILE = "articles.jsonl"
READ_CHUNK = 1 << 16


def encode_line(record: Mapping[str, Any]) -> bytes:
    """One feed line: compact UTF-8 JSON, Chinese as characters, ending in a newline."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    return (text + "\n").encode("utf-8")


def cut_torn_tail(path: Path) -> int:
    """Truncate a last line left without its newline by a crash; return the bytes removed."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    if size == 0:
        return 0
    with path.open("rb+") as file:
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
    with partial.open("wb") as file:
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


def parse_line(line: bytes, offset: int, path: Path | None = None) -> dict[str, Any] | None:
    """The JSON object on one feed line, or None (logged) if the line is not one."""
    if line.isspace():
        return None
    try:
        value = json.loads(line.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError alike
        logger.warning("Skipping a bad feed line at offset %d of %s: %s", offset, path, exc)
        return None
    if not isinstance(value, dict):
        logger.warning("Skipping a feed line at offset %d of %s: not an object", offset, path)
        return None
    return value


def iter_lines_from(path: Path, offset: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """The records on complete lines after byte *offset*, each with the offset just past it."""
    with path.open("rb") as file:
        file.seek(offset)
        for start, line in complete_lines(file, offset):
            record = parse_line(line, start, path)
            if record is not None:
                yield start + len(line), record


class FeedWriter:
    """Appends lines to the feed; ``sync`` makes everything appended so far durable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
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

    def sync(self) -> None:
        if self.unsynced:
            os.fsync(self.fd)
            self.unsynced = False

    def close(self) -> None:
        self.sync()
        os.close(self.fd)
