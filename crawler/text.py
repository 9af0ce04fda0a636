"""Text normalisation shared by extraction and by the store's content hashes (stdlib only)."""

from __future__ import annotations

import re

WHITESPACE_RE = re.compile(r"[\s\u00a0\u3000\u200b\ufeff]+")


def normalize_space(text: str | None) -> str:
    """Collapse every run of whitespace (NBSP, ideographic space included) into one space."""
    return WHITESPACE_RE.sub(" ", text or "").strip()
