"""Regenerate the expected JSON of every golden page: ``python -m tests.golden``."""

from __future__ import annotations

import json

from tests.golden import expected_path, golden_pages, parse_golden


def main() -> None:
    for name, url in golden_pages().items():
        parsed = parse_golden(name, url)
        text = json.dumps(parsed, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        path = expected_path(name)
        changed = not path.exists() or path.read_text(encoding="utf-8") != text
        path.write_text(text, encoding="utf-8")
        print(f"{'updated ' if changed else 'same    '} {path}")


if __name__ == "__main__":
    main()
