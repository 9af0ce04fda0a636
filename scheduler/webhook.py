"""One POST of JSON to the webhook: bounded in total, whatever the far end does, and logged
without the secrets that webhook URLs carry (user:password, tokens in the path or the query).

A per-read timeout alone does not bound a delivery: a server trickling one byte every few
seconds keeps every read alive forever. So a timer shuts the connection down at the deadline,
which ends whatever read or write is under way.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

logger = logging.getLogger(__name__)

# The whole delivery: connecting, TLS, sending and the answer's status line and headers.
DELIVERY_DEADLINE = 30.0
# Any one socket operation within it.
READ_TIMEOUT = 10.0
DEFAULT_PORTS = {"http": 80, "https": 443}


def redact(url: str) -> str:
    """*url* fit for a log: scheme, host and port; credentials, path and query may be secrets."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        port = ":?"
    hidden = "/…" if parts.path.strip("/") or parts.query or parts.fragment else ""
    return f"{parts.scheme}://{host}{port}{hidden}"


def post_json(url: str, body: Mapping[str, Any], deadline: float = DELIVERY_DEADLINE) -> bool:
    """POST *body* as JSON; True on a 2xx answer within *deadline* seconds.

    Never raises: failures are logged, with the URL redacted. Redirects are not followed.
    """
    shown = redact(url)
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    expired = threading.Event()
    try:
        status = _post(urlsplit(url), data, deadline, expired)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if expired.is_set():
            logger.error("Webhook %s failed: no answer within %.0fs", shown, deadline)
        else:
            logger.error("Webhook %s failed: %s", shown, exc)
        return False
    if not 200 <= status < 300:
        logger.error("Webhook %s failed: it answered %d", shown, status)
        return False
    logger.info("Webhook %s answered %d", shown, status)
    return True


def _post(url: SplitResult, data: bytes, deadline: float, expired: threading.Event) -> int:
    host = url.hostname
    if url.scheme not in DEFAULT_PORTS or not host:
        raise ValueError("not an http(s) URL with a host")
    port = url.port or DEFAULT_PORTS[url.scheme]
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if url.username is not None:
        credentials = f"{unquote(url.username)}:{unquote(url.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    started = time.monotonic()
    raw = socket.create_connection((host, port), timeout=min(READ_TIMEOUT, deadline))
    left = deadline - (time.monotonic() - started)
    with raw, _shut_down_after(raw, left, expired):
        connection: http.client.HTTPConnection
        if url.scheme == "https":
            context = ssl.create_default_context()
            connection = http.client.HTTPSConnection(host, port, context=context)
            # The handshake too runs under the deadline, on the connection made above.
            connection.sock = context.wrap_socket(raw, server_hostname=host)
        else:
            connection = http.client.HTTPConnection(host, port)
            connection.sock = raw
        try:
            connection.request("POST", target, body=data, headers=headers)
            with connection.getresponse() as response:
                return int(response.status)
        finally:
            connection.close()


@contextlib.contextmanager
def _shut_down_after(
    sock: socket.socket, seconds: float, expired: threading.Event
) -> Iterator[None]:
    """Shut *sock* down after *seconds* (setting *expired*) unless the block has ended."""
    # A duplicate descriptor: the TLS wrapper takes over (and detaches) the original.
    watched = sock.dup()

    def cut() -> None:
        expired.set()
        with contextlib.suppress(OSError):
            watched.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(seconds, cut)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        watched.close()
