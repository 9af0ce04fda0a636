"""Alerts and recoveries: logged, and POSTed as JSON to a webhook when one is configured.

The notices of one run go out together, one message per kind, so a site-wide break (or an
outage) that takes down many sources at once is one message, not a storm. Messages for the
webhook go through the outbox (scheduler.outbox): retried until delivered, across restarts.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from typing import Any

from scheduler.health import ALERT, Notice
from scheduler.outbox import Courier

logger = logging.getLogger(__name__)

SERVICE = "neu-news"


def message_id(kind: str, run_id: str) -> str:
    """``20261128T143915.123Z-news-alert``: names the outbox file, and lets a receiver that
    saw it already (a delivery whose answer was lost is sent again) drop the copy."""
    return f"{run_id}-{kind}"


def payload(kind: str, notices: Sequence[Notice], run_id: str, when: str) -> dict[str, Any]:
    """The webhook body; ``text`` reads on its own (chat webhooks show just that)."""
    return {
        "id": message_id(kind, run_id),
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


def notify(notices: Sequence[Notice], run_id: str, when: str, courier: Courier | None) -> None:
    """Log the notices of one run and hand them to the *courier*: one message per kind."""
    for kind in sorted({notice.kind for notice in notices}):
        body = payload(kind, [n for n in notices if n.kind == kind], run_id, when)
        if kind == ALERT:
            logger.error("ALERT %s", body["text"])
        else:
            logger.warning("RECOVERY %s", body["text"])
        if courier is not None:
            courier.send(body["id"], body)
