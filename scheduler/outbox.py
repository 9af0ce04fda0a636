"""Alerts that arrive: each message waits in ``<data-dir>/outbox/`` until the webhook takes it.

A message is written (atomically) before its first attempt and deleted when the webhook answers
2xx, so neither a webhook that is down nor a restart of the scheduler loses it, and none is sent
again once taken. A courier thread of its own delivers them: a slow webhook holds up no crawl,
no schedule and no shutdown. Failed deliveries are retried with a doubling backoff; a restart
retries at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crawler.store.feed import write_atomically
from scheduler.webhook import DELIVERY_DEADLINE, post_json, redact

logger = logging.getLogger(__name__)

OUTBOX_DIR = "outbox"
MESSAGE_SUFFIX = ".json"
# Kept aside, not retried: a message file that is no longer JSON (edited by hand, say).
UNREADABLE_SUFFIX = ".unreadable"
FIRST_RETRY = 10.0  # seconds after the first failure
LONGEST_RETRY = 600.0


class Outbox:
    """The undelivered messages, one file each, named so that they sort oldest first."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / OUTBOX_DIR

    def put(self, name: str, body: Mapping[str, Any]) -> None:
        # Recreated if it was deleted: a missing directory must not cost an alert.
        self.path.mkdir(exist_ok=True)
        data = json.dumps(body, ensure_ascii=False, indent=1) + "\n"
        write_atomically(self.path / f"{name}{MESSAGE_SUFFIX}", data.encode("utf-8"))

    def names(self) -> list[str]:
        """The messages waiting, oldest first."""
        if not self.path.is_dir():
            return []
        return sorted(
            path.name.removesuffix(MESSAGE_SUFFIX)
            for path in self.path.iterdir()
            if path.name.endswith(MESSAGE_SUFFIX)
        )

    def read(self, name: str) -> dict[str, Any] | None:
        """The message *name*, or None if it is gone or unreadable (then set aside, logged)."""
        path = self.path / f"{name}{MESSAGE_SUFFIX}"
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            body = exc
        if isinstance(body, dict):
            return body
        logger.error("Outbox message %s is unreadable (%s): set aside, not sent", path, body)
        path.replace(path.with_name(path.name + UNREADABLE_SUFFIX))
        return None

    def remove(self, name: str) -> None:
        (self.path / f"{name}{MESSAGE_SUFFIX}").unlink(missing_ok=True)


class Courier:
    """Delivers the outbox to *url* on a thread of its own, until closed."""

    def __init__(
        self,
        outbox: Outbox,
        url: str,
        *,
        first_retry: float = FIRST_RETRY,
        longest_retry: float = LONGEST_RETRY,
        deadline: float = DELIVERY_DEADLINE,
    ) -> None:
        self.outbox = outbox
        self.url = url
        self.first_retry = first_retry
        self.longest_retry = longest_retry
        self.deadline = deadline
        # Per message that failed: when to try again, and the wait after the next failure.
        self.retries: dict[str, tuple[float, float]] = {}
        self.kick = threading.Event()
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._deliver, name="webhook courier", daemon=True)

    def start(self) -> None:
        """Begin with what an earlier run left undelivered."""
        waiting = len(self.outbox.names())
        if waiting:
            logger.info("%d undelivered message(s) in %s: sending them", waiting, self.outbox.path)
        self.thread.start()

    def send(self, name: str, body: Mapping[str, Any]) -> None:
        """Keep the message in the outbox and have it delivered as soon as may be."""
        self.outbox.put(name, body)
        self.kick.set()

    def close(self, timeout: float) -> None:
        """Deliver what is due now, for at most *timeout* seconds; what is left stays queued."""
        self.closing.set()
        self.kick.set()
        self.thread.join(timeout)
        left = self.outbox.names()
        if left:
            logger.warning(
                "%d message(s) for webhook %s left in %s: sent when the scheduler next starts",
                len(left),
                redact(self.url),
                self.outbox.path,
            )

    def _deliver(self) -> None:
        while True:
            self.kick.clear()
            wait = self._deliver_due()
            if self.closing.is_set():
                return
            self.kick.wait(wait)

    def _deliver_due(self) -> float | None:
        """Try each message that is due; the seconds until the next retry (None: no retry)."""
        for name in self.outbox.names():
            retry_at, _ = self.retries.get(name, (0.0, 0.0))
            if retry_at > time.monotonic():
                continue
            body = self.outbox.read(name)
            if body is not None and not post_json(self.url, body, self.deadline):
                self._retry_later(name)
                continue
            self.outbox.remove(name)
            self.retries.pop(name, None)
        if not self.retries:
            return None
        return max(0.0, min(at for at, _ in self.retries.values()) - time.monotonic())

    def _retry_later(self, name: str) -> None:
        _, delay = self.retries.get(name, (0.0, self.first_retry))
        self.retries[name] = (time.monotonic() + delay, min(2 * delay, self.longest_retry))
        logger.warning("Webhook message %s: next attempt in %.1fs", name, delay)
