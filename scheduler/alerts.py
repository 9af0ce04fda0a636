"""Alerts and recoveries: logged, and POSTed as JSON to a webhook when one is configured.

The notices of one run go out together, one message per kind, so a site-wide break (or an
outage) that takes down many sources at once is one message, not a storm. A webhook that
fails is logged and forgotten: the log line is the alert of record, and the scheduler goes on.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import urllib.request
from collections.abc import Sequence
from typing import Any

from scheduler.health import ALERT, Notice

logger = logging.getLogger(__name__)

SERVICE = "neu-news"
WEBHOOK_TIMEOUT = 10.0


def payload(kind: str, notices: Sequence[Notice], run_id: str, when: str) -> dict[str, Any]:
    """The webhook body; ``text`` reads on its own (chat webhooks show just that)."""
    return {
        "event": kind,
        "service": SERVICE,
        "host": socket.gethostname(),
        "run_id": run_id,
        "time": when,
        "text": summary(kind, notices),
        "sources": [notice.to_json() for notice in notices],
    }


def summary(kind: str, notices: Sequence[Notice]) -> str:
    if kind == ALERT:
        parts = [f"{n.source} {n.status} ({'; '.join(n.problems)})" for n in notices]
        runs = min(notice.runs for notice in notices)
        return (
            f"{SERVICE}: {len(notices)} source(s) unhealthy for at least {runs} consecutive "
            f"runs: {', '.join(parts)}"
        )
    parts = [f"{n.source} (after {n.runs} runs)" for n in notices]
    return f"{SERVICE}: {len(notices)} source(s) healthy again: {', '.join(parts)}"


def notify(notices: Sequence[Notice], run_id: str, when: str, webhook: str | None) -> None:
    """Log and send the notices of one run: one message per kind."""
    for kind in sorted({notice.kind for notice in notices}):
        body = payload(kind, [n for n in notices if n.kind == kind], run_id, when)
        if kind == ALERT:
            logger.error("ALERT %s", body["text"])
        else:
            logger.warning("RECOVERY %s", body["text"])
        if webhook:
            post_json(webhook, body)


def post_json(url: str, body: dict[str, Any], timeout: float = WEBHOOK_TIMEOUT) -> bool:
    """POST *body* as JSON; True on a 2xx answer. Never raises: failures are logged."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = int(response.status)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        logger.error("Webhook %s failed: %s", url, exc)
        return False
    logger.info("Webhook %s answered %d", url, status)
    return True
