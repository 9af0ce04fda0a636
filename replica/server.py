"""HTTP servers for the replica: one ``ThreadingHTTPServer`` per site on 127.0.0.1, free ports.

Every request is answered from the replica's current state (see :mod:`replica.routes`) and
logged in :attr:`ReplicaServer.request_log`, except the control endpoints under
``/__replica__/``:

* ``POST /__replica__/publish?column=<slug>&n=<k>`` publishes k articles in that column of the
  site it is sent to and returns the new URLs (JSON list, newest first);
* ``GET /__replica__/expected`` returns ``expected_records`` (JSON object);
* ``POST /__replica__/break?kind=no_links|no_dates`` and ``POST /__replica__/fix`` change the
  layout of the site they are sent to;
* ``POST /__replica__/move?column=<slug>&to=<path>&status=404|410`` moves that column's list
  pages of the site it is sent to (see :meth:`Replica.move_column`) and returns the old path;
* ``POST /__replica__/faults?rate=0.1&kinds=500,503&seed=1`` replaces the fault config of the
  whole server (``rate=0`` turns faults off; see :meth:`FaultConfig.from_query`), and
  ``GET /__replica__/faults`` shows it.

Faults (:mod:`replica.faults`) are injected here, around the routes; every injected fault is
logged with the request.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import socketserver
import struct
import sys
import threading
import time
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs

from replica.build import Replica
from replica.faults import FaultConfig, FaultInjector, error_response, loop_origin, loop_partner
from replica.hostile import TrapServer
from replica.response import Response
from replica.routes import redirect, respond

CONTROL_PREFIX = "/__replica__/"
NO_RESPONSE = 0  # the logged status of a request answered by a connection reset
# SO_LINGER on with a zero timeout: close() sends RST at once instead of a FIN.
_LINGER_RESET = struct.pack("ii", 1, 0)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoggedRequest:
    """One request a site answered: site name (``news``…), method, path with query, status
    (0 when a fault reset the connection), the request headers, the injected fault kind and
    when the request arrived (``time.time()``: politeness shows in the gaps per site)."""

    site: str
    method: str
    path: str
    status: int
    headers: dict[str, str]
    fault: str | None = None
    at: float = 0.0


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: ReplicaServer, site: str, host: str) -> None:
        self.owner = owner
        self.site_name = site
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self.in_flight = 0  # requests being answered now
        self.most_in_flight = 0  # the most answered at once so far
        super().__init__((host, 0), _Handler)

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Around the answer to one request: counts the requests answered at once."""
        with self._conns_lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._conns_lock:
                self.in_flight -= 1

    def server_bind(self) -> None:
        # HTTPServer's asks the resolver for the address's name (socket.getfqdn), which takes
        # tens of milliseconds on an address of 127/8 other than 127.0.0.1: a fleet's hundreds
        # of sites would take seconds to start. The name is not used.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

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
    _arrived = 0.0  # when the request being served arrived (time.time())

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
        self._arrived = time.time()
        with self._site_server.answering():
            self._answer(method)

    def _answer(self, method: str) -> None:
        srv = self._site_server
        owner = srv.owner
        if self.path.startswith(CONTROL_PREFIX):
            self._send(owner._control(srv.site_name, method, self.path), method)
            return
        fault = owner._fault_for(srv.site_name, self.path)
        if fault == "reset":
            self._log(method, NO_RESPONSE, fault)
            self._reset()
            return
        if fault == "slow" and owner._stopping.wait(owner._slow_seconds()):
            self.close_connection = True  # the server is stopping: answer nothing
            return
        response = self._fault_response(fault)
        if response is None:
            response = self._response(method)
        self._log(method, response.status, fault)
        self._send(response, method, truncate=fault == "truncate")

    def _response(self, method: str) -> Response:
        srv = self._site_server
        owner = srv.owner
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            return respond(
                owner.replica, srv.site_name, method, self.path, headers, trap=owner.trap_url
            )
        except Exception:  # a bug in a template must not hang the client
            import traceback

            traceback.print_exc()
            return Response(500, b"internal error\n", [("Content-Type", "text/plain")])

    def _fault_response(self, fault: str | None) -> Response | None:
        """The answer a fault replaces the page with, if it does (slow/truncate keep it)."""
        if fault != "redirect_loop":
            return error_response(fault) if fault is not None else None
        origin = loop_origin(self.path)
        target = origin if origin is not None else loop_partner(self.path)
        return redirect(self._site_server.owner.base_url(self._site_server.site_name) + target)

    def _log(self, method: str, status: int, fault: str | None) -> None:
        srv = self._site_server
        entry = LoggedRequest(
            srv.site_name, method, self.path, status, dict(self.headers), fault, self._arrived
        )
        srv.owner._record(entry)

    def _reset(self) -> None:
        """Close the connection with a RST and no response."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        # rfile holds a reference to the socket: the close only happens once it is closed too.
        self.rfile.close()
        self.connection.close()

    def _send(self, response: Response, method: str, *, truncate: bool = False) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if response.status != 304:
            self.send_header("Content-Length", str(response.length))
        self.end_headers()
        if truncate:
            # The client waits for the rest that Content-Length promised, then sees the close.
            self.close_connection = True
        if method == "HEAD" or response.status in (204, 304):
            return
        limit = response.length // 2 if truncate else response.length
        if response.stream is None:
            self.wfile.write(response.body[:limit])
            return
        for chunk in response.stream.chunks():
            if limit <= 0:
                break
            self.wfile.write(chunk[:limit])
            limit -= len(chunk)


class ReplicaServer:
    """Serves every site of a :class:`Replica` (or those in *sites*), each on its own free port
    of *host* (127.0.0.1).

    *poll_interval* is how often each site's thread looks whether to stop: a fleet of hundreds
    of servers polls less often (see :mod:`replica.fleet`).

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        replica: Replica,
        faults: FaultConfig | None = None,
        host: str = "127.0.0.1",
        *,
        sites: Iterable[str] | None = None,
        poll_interval: float = 0.05,
    ) -> None:
        self.replica = replica
        self.host = host
        self.served = list(replica.sites) if sites is None else list(sites)
        for name in self.served:
            replica.site(name)  # raises KeyError for an unknown site
        self.poll_interval = poll_interval
        self._servers: dict[str, _SiteServer] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._log_lock = threading.Lock()
        self._entries: list[LoggedRequest] = []
        self._faults_lock = threading.Lock()
        self._injector: FaultInjector | None = None
        self._fault_config: FaultConfig | None = None
        self.faults = faults
        self._stopping = threading.Event()  # ends the waits of slow faults at stop()
        self._trap: TrapServer | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> ReplicaServer:
        if self._servers:
            return self
        self._stopping.clear()
        try:
            if self._needs_trap():
                self._trap = TrapServer(self.host).start()
            for name in self.served:
                srv = _SiteServer(self, name, self.host)
                self._servers[name] = srv
                thread = threading.Thread(
                    target=srv.serve_forever,
                    kwargs={"poll_interval": self.poll_interval},
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
        self._stopping.set()
        for name, srv in list(self._servers.items()):
            thread = self._threads.pop(name, None)
            if thread is not None and thread.is_alive():
                srv.shutdown()
            srv.close_connections()
            srv.server_close()
            if thread is not None:
                thread.join(timeout=5)
        self._servers.clear()
        if self._trap is not None:
            self._trap.stop()
            self._trap = None

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

    # ------------------------------------------------------------------ trap (hostile links)

    def _needs_trap(self) -> bool:
        with self.replica.lock:
            return any(r.trap for s in self.replica.sites.values() for r in s.redirects.values())

    @property
    def trap_url(self) -> str | None:
        """``http://127.0.0.1:PORT`` of the trap listener (None unless the replica has
        hostile links and the server runs)."""
        return self._trap.base_url if self._trap is not None else None

    @property
    def trap_hits(self) -> list[str]:
        """Every URL requested from the trap listener so far (it should stay empty)."""
        return self._trap.hits if self._trap is not None else []

    # ------------------------------------------------------------------ faults

    @property
    def faults(self) -> FaultConfig | None:
        """The fault config (None: no faults). Assign a new one at any time: requests from
        then on use it, with its RNG started afresh from its seed."""
        return self._fault_config

    @faults.setter
    def faults(self, config: FaultConfig | None) -> None:
        # Handlers read _injector once per request: swapping the reference is the atomic part.
        injector = FaultInjector(config) if config is not None and config.active else None
        with self._faults_lock:
            self._injector = injector
            self._fault_config = config
        if config is not None:
            logger.info("replica faults now %r", config)

    def _slow_seconds(self) -> float:
        config = self._fault_config
        return config.slow_seconds if config is not None else FaultConfig().slow_seconds

    def _fault_for(self, site: str, target: str) -> str | None:
        """The fault of this request: loop partners always bounce back, whatever the config."""
        if loop_origin(target) is not None:
            return "redirect_loop"
        injector = self._injector
        if injector is None:
            return None
        return injector.pick(self.base_url(site) + target, target)

    # ------------------------------------------------------------------ request log

    @property
    def request_log(self) -> list[LoggedRequest]:
        """A snapshot of the requests answered so far (control endpoints excluded)."""
        with self._log_lock:
            return list(self._entries)

    def clear_log(self) -> None:
        with self._log_lock:
            self._entries.clear()
        for srv in self._servers.values():
            with srv._conns_lock:
                srv.most_in_flight = srv.in_flight

    def most_in_flight(self, site: str) -> int:
        """The most requests *site* answered at once since it started or the log was cleared
        (control endpoints included)."""
        return self._servers[site].most_in_flight

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
            if action == "move" and method == "POST":
                status = int(params.get("status", "404"))
                old = self.replica.move_column(
                    site, params.get("column", ""), params.get("to", ""), status=status
                )
                return _json(200, {"site": site, "from": old, "to": params.get("to")})
            if action == "fix" and method == "POST":
                self.replica.fix_layout(site)
                return _json(200, {"site": site, "broken": None})
            if action == "faults" and method == "POST":
                self.faults = FaultConfig.from_query(query)
                return _json(200, self._faults_json())
            if action == "faults" and method in ("GET", "HEAD"):
                return _json(200, self._faults_json())
        except (KeyError, ValueError) as exc:
            return _json(400, {"error": str(exc)})
        return _json(404, {"error": f"no control action {method} {action!r}"})

    def _faults_json(self) -> dict[str, object]:
        return (self._fault_config or FaultConfig()).as_json()


def _json(status: int, value: object) -> Response:
    body = json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")
    return Response(status, body, [("Content-Type", "application/json; charset=utf-8")])
