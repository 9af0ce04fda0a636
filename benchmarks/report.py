"""Result rows, the printed table and the JSON file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Row:
    """One measure: our figure next to its baseline, and whether it meets its target.

    ``met`` is None for figures reported without a target.
    """

    measure: str
    ours: float | None
    baseline: float | None
    unit: str
    target: str
    met: bool | None
    baseline_name: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.baseline:
            return None
        return self.ours / self.baseline

    def as_json(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "ours": self.ours,
            "baseline": self.baseline,
            "baseline_name": self.baseline_name,
            "unit": self.unit,
            "ratio": self.ratio,
            "target": self.target,
            "met": self.met,
        }


HEADER = ("measure", "ours", "baseline", "ratio", "target", "met?")


def format_table(rows: Sequence[Row]) -> str:
    """A plain-text table, one line per row, columns padded to their widest cell."""
    cells = [HEADER, *(_cells(row) for row in rows)]
    widths = [max(_width(line[column]) for line in cells) for column in range(len(HEADER))]
    lines = [_join(line, widths) for line in cells]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def write_results(path: Path, payload: dict[str, Any]) -> None:
    text = json.dumps(payload, ensure_ascii=False, indent=1, default=str)
    path.write_text(text + "\n", encoding="utf-8")


def _cells(row: Row) -> tuple[str, ...]:
    baseline = _number(row.baseline, row.unit)
    if row.baseline_name and row.baseline is not None:
        baseline = f"{baseline} ({row.baseline_name})"
    ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
    met = {True: "yes", False: "NO", None: "-"}[row.met]
    return (row.measure, _number(row.ours, row.unit), baseline, ratio, row.target, met)


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if value == int(value) and abs(value) >= 10:
        text = f"{int(value):,}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3f}"
    return f"{text} {unit}".strip()


def _width(text: str) -> int:
    # CJK characters take two terminal columns.
    return sum(2 if ord(char) > 0x2E80 else 1 for char in text)


def _join(cells: Sequence[str], widths: Sequence[int]) -> str:
    padded = [
        cell + " " * (width - _width(cell)) for cell, width in zip(cells, widths, strict=True)
    ]
    return " | ".join(padded).rstrip()
