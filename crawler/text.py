"""Text normalisation shared by extraction and by the store's content hashes (stdlib only)."""

from __future__ import annotations

import re

# Spaces that str.split() does not split on (it splits on every other kind, NBSP and the
# ideographic space included): zero-width space and BOM.
INVISIBLE_SPACES = ("\u200b", "\ufeff")
# What a page's text may hold but a record's must not: C0 controls but tab and newline, DEL and
# the C1 controls (a terminal obeys them), and the bidi embeddings, overrides and isolates
# (U+202A-202E, U+2066-2069) that make a title read backwards on screen.
UNSAFE_CHARACTERS_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Surrogates on their own are no character: UTF-8 cannot encode them, so a line holding one
# could not be written or read back.
LONE_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Longer than any real headline (the replicas' longest is under 100 characters).
TITLE_MAX_CHARACTERS = 300


def normalize_space(text: str | None) -> str:
    """Collapse every run of whitespace (NBSP, ideographic and zero-width spaces included) into
    one space, none at either end."""
    if not text:
        return ""
    # split() and join() rather than a regular expression: three times faster, and extraction
    # normalises every block, link and line of every page.
    for space in INVISIBLE_SPACES:
        text = text.replace(space, " ")
    return " ".join(text.split())


def valid_unicode(text: str) -> str:
    """*text* with each lone surrogate replaced by U+FFFD, so that it encodes as UTF-8."""
    return LONE_SURROGATE_RE.sub("\ufffd", text)


def clean_text(text: str | None, max_characters: int | None = None) -> str | None:
    """*text* safe to store and show: valid Unicode, without control characters (tab and
    newline kept) or bidi overrides, cut to *max_characters*; None if nothing is left."""
    if text is None:
        return None
    cleaned = UNSAFE_CHARACTERS_RE.sub("", valid_unicode(text))
    if max_characters is not None:
        cleaned = cleaned[:max_characters].rstrip()
    return cleaned or None
