"""Every stored page parses to the JSON beside it (regenerate with `make golden`) and says where
it comes from. The JSON is the parser's own reviewed output: it pins behaviour, not truth."""

from __future__ import annotations

import json

import pytest

from tests.golden import expected_path, golden_pages, manifest, parse_golden

PAGES = golden_pages()
PROVENANCE = ("reproduces", "made", "references", "invented")


@pytest.mark.parametrize("name", sorted(PAGES))
def test_golden_page(name: str) -> None:
    expected = json.loads(expected_path(name).read_text(encoding="utf-8"))
    assert parse_golden(name, PAGES[name]) == expected


def test_every_stored_page_is_in_the_manifest() -> None:
    stored = {path.stem for path in expected_path("x").parent.glob("*.html")}
    assert stored == set(PAGES)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_page_says_where_it_comes_from(name: str) -> None:
    entry = manifest()[name]
    assert set(entry) == {"url", *PROVENANCE}, name
    for key in ("reproduces", "made", "invented"):
        assert isinstance(entry[key], str) and entry[key].strip(), f"{name}: {key}"
    references = entry["references"]
    assert isinstance(references, list) and references, f"{name}: references"
    assert all(isinstance(ref, str) and ref.strip() for ref in references), name
