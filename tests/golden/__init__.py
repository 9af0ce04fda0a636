"""Golden pages: stored article pages with the parser's own output beside them (README.md)."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from crawler.extract.article import parse_article

GOLDEN_DIR = Path(__file__).parent
PAGES_DIR = GOLDEN_DIR / "pages"


def manifest() -> dict[str, dict[str, Any]]:
    """Name -> manifest entry (URL and provenance) of every stored page."""
    return tomllib.loads((GOLDEN_DIR / "manifest.toml").read_text(encoding="utf-8"))


def golden_pages() -> dict[str, str]:
    """Name -> URL of every stored page."""
    return {name: entry["url"] for name, entry in manifest().items()}


def parse_golden(name: str, url: str) -> dict[str, Any]:
    html = (PAGES_DIR / f"{name}.html").read_text(encoding="utf-8")
    parsed = parse_article(html, url)
    if parsed is None:
        raise ValueError(f"golden page {name} is not an HTML page")
    return dataclasses.asdict(parsed)


def expected_path(name: str) -> Path:
    return PAGES_DIR / f"{name}.json"
