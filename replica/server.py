"""HTTP servers for the replica: one ``ThreadingHTTPServer`` per site on 127.0.0.1, free ports.

Every request is answered from the replica's current state (see :mod:`replica.routes`) and
logged in :attr:`ReplicaServer.request_log`, except the control endpoints under
``/__replica__/``:

* ``POST /__replica__/publish?column=<slug>&n=<k>`` publishes k articles in that column of the
  site it is sent to and returns the new URLs (JSON list, newest first);
* ``GET /__replica__/expected`` returns ``expected_records`` (JSON object);
* ``POST /__replica__/break?kind=no_links|no_dates`` and ``POST /__replica__/fix`` change the
  layout of the site they are sent to.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import types
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs

from replica.model import Replica
from replica.routes import Response, respond

CONTROL_PREFIX = "/__replica__/"


@dataclass(frozen=True)
class LoggedRequest:
    """One request a site answered: site name (``news``…), method, path with query, status and
    the request headers."""

    site: str
    method: str
    path: str
    status: int
    headers: dict[str, str]


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: ReplicaServer, site: str, host: str) -> None:
        self.owner = owner
        self.site_name = site
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__((host, 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End idle keep-alive connections so their handler threads finish."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # client went away, or we closed it while stopping
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    timeout = 30  # idle keep-alive connections end after this many seconds

    @property
    def _site_server(self) -> _SiteServer:
        return cast(_SiteServer, self.server)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log replaces stderr logging

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._serve("POST")

    def _serve(self, method: str) -> None:
        srv = self._site_server
        owner = srv.owner
        if self.path.startswith(CONTROL_PREFIX):
            self._send(owner._control(srv.site_name, method, self.path), method)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            response = respond(owner.replica, srv.site_name, method, self.path, headers)
        except Exception:  # a bug in a template must not hang the client
            import traceback

            traceback.print_exc()
            response = Response(500, b"internal error\n", [("Content-Type", "text/plain")])
        owner._record(
            LoggedRequest(srv.site_name, method, self.path, response.status, dict(self.headers))
        )
        self._send(response, method)

    def _send(self, response: Response, method: str) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if response.status != 304:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if method != "HEAD" and response.status not in (204, 304):
            self.wfile.write(response.body)


class ReplicaServer:
    """Serves every site of a :class:`Replica`, each on its own free port of 127.0.0.1.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, replica: Replica, host: str = "127.0.0.1") -> None:
        self.replica = replica
        self.host = host
        self._servers: dict[str, _SiteServer] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._log_lock = threading.Lock()
        self._entries: list[LoggedRequest] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> ReplicaServer:
        if self._servers:
            return self
        try:
            for name in self.replica.sites:
                srv = _SiteServer(self, name, self.host)
                self._servers[name] = srv
                thread = threading.Thread(
                    target=srv.serve_forever,
                    kwargs={"poll_interval": 0.05},
                    name=f"replica-{name}",
                    daemon=True,
                )
                self._threads[name] = thread
                thread.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every site: no thread or port is left behind. Safe to call twice."""
        for name, srv in list(self._servers.items()):
            thread = self._threads.pop(name, None)
            if thread is not None and thread.is_alive():
                srv.shutdown()
            srv.close_connections()
            srv.server_close()
            if thread is not None:
                thread.join(timeout=5)
        self._servers.clear()

    def __enter__(self) -> ReplicaServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses

    def port(self, site: str) -> int:
        try:
            srv = self._servers[site]
        except KeyError:
            raise KeyError(f"site {site!r} is not being served") from None
        return int(srv.server_address[1])

    def netloc(self, site: str) -> str:
        return f"{self.host}:{self.port(site)}"

    def base_url(self, site: str) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://{self.netloc(site)}"

    @property
    def sites(self) -> list[str]:
        return list(self._servers)

    # ------------------------------------------------------------------ request log

    @property
    def request_log(self) -> list[LoggedRequest]:
        """A snapshot of the requests answered so far (control endpoints excluded)."""
        with self._log_lock:
            return list(self._entries)

    def clear_log(self) -> None:
        with self._log_lock:
            self._entries.clear()

    def _record(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            self._entries.append(entry)

    # ------------------------------------------------------------------ control endpoints

    def _control(self, site: str, method: str, target: str) -> Response:
        path, _, query = target.partition("?")
        action = path.removeprefix(CONTROL_PREFIX)
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        try:
            if action == "expected" and method in ("GET", "HEAD"):
                return _json(200, self.replica.expected_records(self))
            if action == "publish" and method == "POST":
                column = params.get("column", "")
                n = int(params.get("n", "1"))
                new = self.replica.publish(site, column, n)
                base = self.base_url(site)
                return _json(200, [base + a.path for a in new])
            if action == "break" and method == "POST":
                self.replica.break_layout(site, params.get("kind", ""))
                return _json(200, {"site": site, "broken": params.get("kind")})
            if action == "fix" and method == "POST":
                self.replica.fix_layout(site)
                return _json(200, {"site": site, "broken": None})
        except (KeyError, ValueError) as exc:
            return _json(400, {"error": str(exc)})
        return _json(404, {"error": f"no control action {method} {action!r}"})


def _json(status: int, value: object) -> Response:
    body = json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")
    return Response(status, body, [("Content-Type", "application/json; charset=utf-8")])
