"""``python -m scheduler.web``: the same as ``neu-news serve``."""

import sys

from scheduler.web.cli import serve_main

if __name__ == "__main__":
    raise SystemExit(serve_main(sys.argv[1:]))
