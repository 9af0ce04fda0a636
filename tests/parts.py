"""Parts of the test environment that live outside the project, and what to do without them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Real pages of other universities' sites, with hand-made gold: read in place, never copied
# (they are not ours to redistribute). NEU_REAL_PAGES points elsewhere.
REAL_PAGES = Path(os.environ.get("NEU_REAL_PAGES", PROJECT_ROOT.parent / "shared" / "real-pages"))


def missing(reason: str) -> None:
    """Skip the test for *reason* on a user's machine; fail it in CI, which has every part."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI must have it)")
    pytest.skip(reason)
