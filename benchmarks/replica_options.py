"""The replica's size on the command line of a benchmark section run on its own (``python -m
benchmarks.cpu``…): the same options, defaults and checks as ``python -m benchmarks``."""

from __future__ import annotations

import argparse


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} is less than 1")
    return number


def replica_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """A parser with the replica's options: ``--seed``, ``--articles-per-column``,
    ``--page-size``."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--seed", type=int, default=0, help="replica seed (default 0)")
    parser.add_argument(
        "--articles-per-column",
        type=positive,
        default=715,
        help="replica size: 7 columns of this many articles (default 715: 5,004 articles)",
    )
    parser.add_argument("--page-size", type=positive, default=10, help="articles per list page")
    return parser
