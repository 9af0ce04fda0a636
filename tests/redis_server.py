"""A real ``redis-server`` for the scale-out tests: on a free port of 127.0.0.1, its files in the
test's own directory, the append-only file on and fsynced at every write (what the README asks
of a production Redis: an acknowledged write survives a restart).

``make install`` installs Debian's ``redis-server``; without it the tests that need one skip
(fail in CI, see ``tests.parts.missing``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.parts import missing

START_SECONDS = 10.0
# The password of `protected_redis`: tests look for it in every output, log and argv.
PASSWORD = "pw-Zq81-never-logged"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One ``redis-server`` process; :meth:`restart` stops it (SIGTERM, as a service manager
    does) and starts it again on the same port with the same files."""

    def __init__(self, directory: Path, password: str | None = None) -> None:
        self.directory = directory
        self.password = password
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            missing("redis-server is not installed (make install installs it)")
        assert binary is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        if self.password:
            argv += ["--requirepass", self.password]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        self._wait_ready()
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=START_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        client = self.client()
        try:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    log = (self.directory / "redis.log").read_text(errors="replace")
                    raise RuntimeError(f"redis-server exited {self.process.returncode}: {log}")
                try:
                    # Loading the append-only file answers LOADING: not ready yet.
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.BusyLoadingError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server not ready after {START_SECONDS}s")
                time.sleep(0.05)
        finally:
            client.close()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def protected_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A real ``redis-server`` that asks for :data:`PASSWORD`."""
    server = RedisServer(tmp_path / "redis-pw", password=PASSWORD).start()
    try:
        yield server
    finally:
        server.stop()
