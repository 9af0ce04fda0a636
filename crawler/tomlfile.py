"""TOML configuration files read with one-line errors: the sources file and the schedule file.

Stdlib only. Every message names the file (and the table) so that the user can find the problem.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from pathlib import Path
from typing import Any


def read_toml(file: Path, what: str, error: type[ValueError]) -> dict[str, Any]:
    """The tables of a TOML file, or *error* with one line naming the file and the problem."""
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{file}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{file}: cannot read {what}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{file}: not valid TOML: {exc}") from None


def check_keys(
    label: str,
    table: dict[str, Any],
    allowed: Collection[str],
    error: type[ValueError],
    required: Collection[str] = (),
) -> None:
    """Raise *error* ("<label>: missing key 'k'" / "unknown key 'k'") for the first key of *table*
    that is required but absent, or present but not *allowed*."""
    for key in sorted(set(required) - set(table)):
        raise error(f"{label}: missing key {key!r}")
    for key in sorted(set(table) - set(allowed) - set(required)):
        raise error(f"{label}: unknown key {key!r}")
