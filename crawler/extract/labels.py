"""Meta lines read by their text labels: ``编辑: 白一含 更新日期: 2024-09-15``.

Labels often run into the previous value (``Edited By:Lei Chang, Yuhui WangResource: 新闻网``),
so a value is everything up to the next label, known or not (``联系人：``), or the end of the
line. A value that is itself a label (``来源： 点击：``) is no value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crawler.extract.selectors import (
    CHINESE_UNIVERSITY_LABELS,
    MAX_LABEL_VALUE_LENGTH,
    NAME_SEPARATOR_RE,
    SEPARATOR_RE,
    UNKNOWN_LABEL_RE,
    Vocabulary,
)

VALUE_STRIP = " \t[]【】()（）|/:：,，;；"


@dataclass(frozen=True)
class LabelMatch:
    start: int  # where the label begins
    end: int  # just after its separator
    field: str | None  # None: a label that is never a value


def find_labels(line: str, vocabulary: Vocabulary = CHINESE_UNIVERSITY_LABELS) -> list[LabelMatch]:
    """The known labels in *line*, in order: at each separator, the longest label before it."""
    found: list[LabelMatch] = []
    for separator in SEPARATOR_RE.finditer(line):
        end = len(line[: separator.start()].rstrip())
        label = vocabulary.label_before(line, end, separator.group())
        if label is not None and (not found or label[0] >= found[-1].end):
            found.append(LabelMatch(label[0], separator.end(), label[1]))
    return found


def read_labels(
    lines: Iterable[str],
    vocabulary: Vocabulary = CHINESE_UNIVERSITY_LABELS,
    *,
    fields: Iterable[str] | None = None,
    leading: bool = False,
) -> dict[str, str]:
    """The first non-empty value of each labelled field (authors, editors, origin, published);
    only *fields* if given; with *leading*, only of labels that open their line (a byline)."""
    wanted = set(fields) if fields is not None else None
    values: dict[str, str] = {}
    for line in lines:
        if leading:
            line = line.lstrip(VALUE_STRIP)
        matches = find_labels(line, vocabulary)
        if leading:
            matches = matches[:1] if matches and matches[0].start == 0 else []
        for index, match in enumerate(matches):
            field = match.field
            if field is None or field in values or (wanted is not None and field not in wanted):
                continue
            end = matches[index + 1].start if index + 1 < len(matches) else len(line)
            value = _value(line[match.end : end], vocabulary)
            if value:
                values[field] = value
    return values


def _value(text: str, vocabulary: Vocabulary) -> str | None:
    """A label's value: up to an unknown label; None when empty, too long, or itself a label."""
    unknown = UNKNOWN_LABEL_RE.search(text)
    value = (text[: unknown.start()] if unknown else text).strip(VALUE_STRIP)
    if not value or len(value) > MAX_LABEL_VALUE_LENGTH or vocabulary.leading.match(value):
        return None
    return value


def has_label(line: str, vocabulary: Vocabulary = CHINESE_UNIVERSITY_LABELS) -> bool:
    """Whether *line* carries any known meta label."""
    return bool(find_labels(line, vocabulary))


def split_names(value: str | None) -> list[str]:
    """Names separated by ``,`` ``、`` ``，`` ``;`` (and their full-width forms)."""
    if not value:
        return []
    return [name for name in NAME_SEPARATOR_RE.split(value) if name.strip(VALUE_STRIP)]
