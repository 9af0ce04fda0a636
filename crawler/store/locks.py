"""Exclusive, non-blocking lock files naming their holder's pid; released when the process ends.

A data directory has two: the crawl's and the scheduler's."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from crawler.store.files import DataDirError as DataDirError
from crawler.store.files import open_no_link


class LockHeld(RuntimeError):
    """Another process holds the lock."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is held by pid {holder}")
        self.path = path
        self.holder = holder


def hold_lock(path: Path) -> int:
    """Take the lock at *path* now or raise ``LockHeld``; returns the descriptor that holds it.

    A symbolic link at *path* is refused (``DataDirError``): its target would get our pid."""
    fd = open_no_link(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise LockHeld(path, holder) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def lock_holder(path: Path) -> str | None:
    """The pid written in the lock at *path* while a process holds it; None when none does.

    A lock file whose process is gone is no lock (the kernel let go of it with the process),
    whatever pid it still names. Looks only: takes the lock for an instant if it is free,
    writes nothing, creates nothing."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(fd)
    finally:
        os.close(fd)
    return None


def _holder(fd: int) -> str:
    return os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"


def lock_data_dir(data_dir: Path, lock_file: str, holder: str, advice: str) -> int:
    """Create *data_dir* if its parent exists and take its *lock_file*, or raise ``DataDirError``
    naming the *holder* that has it; returns the descriptor that holds the lock."""
    try:
        data_dir.mkdir(exist_ok=True)
    except FileNotFoundError:
        raise DataDirError(f"data directory {data_dir}: its parent does not exist") from None
    except OSError as exc:
        raise DataDirError(f"data directory {data_dir} cannot be created: {exc.strerror}") from None
    try:
        return hold_lock(data_dir / lock_file)
    except LockHeld as held:
        raise DataDirError(
            f"{holder} (pid {held.holder}) is using data directory {data_dir}; {advice}"
        ) from None
    except OSError as exc:
        raise DataDirError(f"data directory {data_dir} is not writable: {exc.strerror}") from None
