"""The app on waitress, in a thread of its own: for ``neu-news serve`` and inside the scheduler."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

# waitress ships no type information (typeshed's types-waitress is not installed).
from waitress.server import create_server  # type: ignore[import-untyped]
from waitress.trigger import trigger  # type: ignore[import-untyped]
from waitress.wasyncore import close_all  # type: ignore[import-untyped]

from crawler.branding import Branding
from scheduler.metrics import Metrics
from scheduler.web.app import create_app

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
# Worker threads: a few readers at once; a slow one streaming the feed holds one.
THREADS = 4
# A stop waits this long for requests being answered.
STOP_TIMEOUT = 5.0


class WebServer:
    """A waitress server answering in a daemon thread until ``stop()``."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        # Our own socket map: stop() closes exactly what this server opened.
        self._map: dict[int, Any] = {}
        try:
            self._server = create_server(app, map=self._map, host=host, port=port, threads=THREADS)
        except ValueError as exc:  # waitress's word for a host it cannot resolve
            raise OSError(str(exc)) from None
        # A name with several addresses (localhost: 127.0.0.1 and ::1) gets a socket each.
        listening = getattr(self._server, "effective_listen", None) or [
            (self._server.effective_host, self._server.effective_port)
        ]
        self.host = host
        self.port = int(listening[0][1])
        self._thread = threading.Thread(target=self._server.run, name="web", daemon=True)
        self._thread.start()
        for address, bound in listening:
            logger.info("Serving the status page and feeds on %s", _url(address, bound))

    @property
    def url(self) -> str:
        return _url(self.host, self.port)

    def stop(self) -> None:
        """Stop listening and answering; return once the server's thread has ended."""
        # The loop closes its own sockets (its trigger runs this in its thread): closing them
        # from here would race its poll.
        wakers = [channel for channel in self._map.values() if isinstance(channel, trigger)]
        if wakers:
            wakers[0].pull_trigger(lambda: close_all(self._map))
        self._thread.join(STOP_TIMEOUT)
        self._server.task_dispatcher.shutdown(timeout=STOP_TIMEOUT)


def serve_in_background(
    data_dir: Path,
    host: str,
    port: int,
    branding: Branding | None = None,
    sources_file: Path | None = None,
    metrics: Metrics | None = None,
) -> WebServer:
    """Serve *data_dir*'s page and feeds on host:port (0: a free port, see ``.port``) until
    ``.stop()``. *metrics*: the scheduler's own, for /metrics. Raises OSError when it cannot
    listen, SourcesError for a bad sources file."""
    app = create_app(data_dir, branding=branding, sources_file=sources_file, metrics=metrics)
    return WebServer(app, host, port)


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
