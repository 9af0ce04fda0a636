"""Opening the data directory's files without following symbolic links.

A link planted in place of the feed, the lock or the state would have every crawl write through
it to whatever it points at (truncate it, append to it); such a file is refused instead.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


class DataDirError(RuntimeError):
    """The data directory cannot be used; the message is one line for the user."""


def open_no_link(path: Path, flags: int, mode: int = 0o644) -> int:
    """``os.open`` of *path*, refused with ``DataDirError`` if *path* is a symbolic link."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise link_refused(path) from None
        raise


def refuse_links(*paths: Path) -> None:
    """Raise ``DataDirError`` if any of *paths* is a symbolic link (for files that others open,
    such as SQLite's, where no O_NOFOLLOW can be asked for)."""
    for path in paths:
        if path.is_symlink():
            raise link_refused(path)


def link_refused(path: Path) -> DataDirError:
    return DataDirError(
        f"{path} is a symbolic link: not followed (writing through it would change its "
        "target); put the file itself there"
    )
