"""Meta lines read by their text labels: ``编辑: 白一含 更新日期: 2024-09-15``.

Labels often run into the previous value (``Edited By:Lei Chang, Yuhui WangResource: 新闻网``),
so a value is everything up to the next known label or the end of the line.
"""

from __future__ import annotations

from collections.abc import Iterable

from crawler.extract.selectors import (
    LABEL_FIELD,
    LABEL_RE,
    MAX_LABEL_VALUE_LENGTH,
    NAME_SEPARATOR_RE,
)

VALUE_STRIP = " \t[]【】()（）|/:：,，;；"


def read_labels(lines: Iterable[str]) -> dict[str, str]:
    """The first non-empty value of each labelled field (authors, editors, origin, published)."""
    values: dict[str, str] = {}
    for line in lines:
        matches = list(LABEL_RE.finditer(line))
        for index, match in enumerate(matches):
            field = LABEL_FIELD[match["label"].lower()]
            if field is None or field in values:
                continue
            end = matches[index + 1].start() if index + 1 < len(matches) else len(line)
            value = line[match.end() : end].strip(VALUE_STRIP)
            if value and len(value) <= MAX_LABEL_VALUE_LENGTH:
                values[field] = value
    return values


def has_label(line: str) -> bool:
    """Whether *line* carries any known meta label."""
    return LABEL_RE.search(line) is not None


def split_names(value: str | None) -> list[str]:
    """Names separated by ``,`` ``、`` ``，`` ``;`` (and their full-width forms)."""
    if not value:
        return []
    return [name for name in NAME_SEPARATOR_RE.split(value) if name.strip(VALUE_STRIP)]
