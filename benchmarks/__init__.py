"""Benchmarks of the NEU news crawler against a large local replica: ``make bench``.

They report figures side by side with a baseline and say whether each target is met; they are
not tests and never fail on a missed target. See ``benchmarks/README.md``.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = Path(__file__).resolve().parent / "results.json"
