"""Every stored page parses to the expected JSON beside it (regenerate with `make golden`)."""

from __future__ import annotations

import json

import pytest

from tests.golden import expected_path, golden_pages, parse_golden

PAGES = golden_pages()


@pytest.mark.parametrize("name", sorted(PAGES))
def test_golden_page(name: str) -> None:
    expected = json.loads(expected_path(name).read_text(encoding="utf-8"))
    assert parse_golden(name, PAGES[name]) == expected


def test_every_stored_page_is_in_the_manifest() -> None:
    stored = {path.stem for path in expected_path("x").parent.glob("*.html")}
    assert stored == set(PAGES)
