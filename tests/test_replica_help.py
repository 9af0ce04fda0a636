"""``python -m replica --help`` lists the replica's control endpoints, each of which it answers."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

import replica.server
from replica import ReplicaServer
from tests.conftest import PROJECT_ROOT

ENDPOINT = re.compile(r"\b(GET|POST)\s+/__replica__/(\w+)")


def listed(text: str) -> set[tuple[str, str]]:
    return set(ENDPOINT.findall(text))


def help_text(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "replica", *args, "--help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def status(server: ReplicaServer, method: str, action: str) -> int:
    url = f"{server.base_url(server.sites[0])}/__replica__/{action}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method)) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("args", [(), ("serve",)])
def test_help_lists_every_control_endpoint_the_server_documents(args: tuple[str, ...]) -> None:
    documented = listed(replica.server.__doc__ or "")
    assert len(documented) >= 7
    assert listed(help_text(*args)) >= documented


def test_every_endpoint_the_help_lists_is_answered(server: ReplicaServer) -> None:
    endpoints = listed(help_text())
    assert endpoints
    # Without their parameters some refuse (400), but none is unknown (404).
    statuses = {endpoint: status(server, *endpoint) for endpoint in endpoints}
    assert set(statuses.values()) <= {200, 400}, statuses
    assert status(server, "POST", "no_such_action") == 404
