"""Webhook deliveries against real servers on 127.0.0.1: a total deadline whatever the server
trickles, secrets kept out of the logs, an outbox that retries until delivered, once."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.outbox import OUTBOX_DIR, Courier, Outbox
from scheduler.webhook import post_json, redact
from tests.test_scheduler_e2e import free_port, wait_until
from tests.test_scheduler_health import Receiver

BODY = {"id": "20261201T000000.000Z-news-alert", "event": "alert", "text": "x"}


class Trickler:
    """A webhook on 127.0.0.1 that answers one byte every *pause* seconds, forever: each read
    gets a byte well within any per-read timeout, and the answer never ends."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.closing = threading.Event()
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._trickle, args=(connection,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _trickle(self, connection: socket.socket) -> None:
        answer = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"." * 100_000
        with connection:
            for byte in answer:
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return  # the client gave up
                if self.closing.wait(self.pause):
                    return

    def close(self) -> None:
        self.closing.set()
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() under way
        self.listener.close()
        for thread in self.threads:
            thread.join(timeout=10)


@pytest.fixture
def trickler() -> Iterator[Trickler]:
    server = Trickler(pause=1.0)
    yield server
    server.close()


def test_a_trickling_webhook_is_cut_off_at_the_deadline(
    trickler: Trickler, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    assert post_json(trickler.url, BODY, deadline=2.0) is False
    took = time.monotonic() - started
    assert trickler.connections == 1
    assert "no answer within 2s" in caplog.text
    print(f"a webhook trickling one byte a second was cut off after {took:.1f}s")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example.com/services/T0/B0/SECRET", "https://hooks.example.com/…"),
        ("https://oapi.example.com/robot/send?access_token=SECRET", "https://oapi.example.com/…"),
        ("http://user:SECRET@127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://[::1]:9/hook#SECRET", "http://[::1]:9/…"),
        ("http://host:SECRET/", "http://host:?"),
    ],
)
def test_redacted_urls_keep_the_host_and_lose_the_secrets(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_no_secret_reaches_the_log_and_credentials_are_sent_as_basic_auth(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = receiver.server.server_port
    url = f"http://bot:S3CRET-PASS@127.0.0.1:{port}/hook/S3CRET-PATH?token=S3CRET-TOKEN"
    assert post_json(url, BODY) is True
    dead = f"http://bot:S3CRET-PASS@127.0.0.1:{free_port()}/hook?token=S3CRET-TOKEN"
    assert post_json(dead, BODY, deadline=5) is False
    assert receiver.bodies == [BODY]
    assert receiver.authorizations == ["Basic " + base64.b64encode(b"bot:S3CRET-PASS").decode()]
    assert f"Webhook http://127.0.0.1:{port}/… answered 204" in caplog.text
    assert "failed" in caplog.text
    assert "S3CRET" not in caplog.text


def test_a_webhook_that_is_down_gets_the_message_once_it_is_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    courier = Courier(
        Outbox(tmp_path), f"http://127.0.0.1:{port}/hook", first_retry=0.2, longest_retry=0.5
    )
    courier.start()
    courier.send(BODY["id"], BODY)
    wait_until(lambda: caplog.text.count("next attempt in") >= 3, 30, "three failed attempts")
    receiver = Receiver(port)
    try:
        wait_until(lambda: courier.outbox.names() == [], 30, "delivery")
        courier.close(timeout=10)
    finally:
        receiver.close()
    assert receiver.bodies == [BODY]
    waits = [
        record.getMessage().rpartition(" ")[2]
        for record in caplog.records
        if "next attempt in" in record.getMessage()
    ]
    assert waits[:3] == ["0.2s", "0.4s", "0.5s"]  # doubling, up to the longest wait


def test_the_outbox_outlives_the_scheduler_and_each_message_is_sent_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    down = Courier(Outbox(tmp_path), f"http://127.0.0.1:{free_port()}/hook")
    down.start()
    down.send(BODY["id"], BODY)
    down.close(timeout=10)
    assert (tmp_path / OUTBOX_DIR / f"{BODY['id']}.json").exists()
    for _restart in range(2):
        up = Courier(Outbox(tmp_path), receiver.url)
        up.start()
        up.close(timeout=10)
    assert receiver.bodies == [BODY]
    assert Outbox(tmp_path).names() == []


def test_an_unreadable_message_is_set_aside_and_the_rest_delivered(
    tmp_path: Path, receiver: Receiver
) -> None:
    outbox = Outbox(tmp_path)
    outbox.put("b", BODY)
    (outbox.path / "a.json").write_text("{hand-edited")
    courier = Courier(outbox, receiver.url)
    courier.start()
    courier.close(timeout=10)
    assert receiver.bodies == [BODY]
    assert sorted(path.name for path in outbox.path.iterdir()) == ["a.json.unreadable"]


def test_a_deleted_outbox_is_made_again(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    outbox.put("a", BODY)
    (outbox.path / "a.json").unlink()
    outbox.path.rmdir()
    outbox.put("b", BODY)
    assert outbox.names() == ["b"]
    assert json.loads((outbox.path / "b.json").read_text()) == BODY


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()
