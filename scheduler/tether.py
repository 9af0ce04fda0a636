"""``python -m scheduler.tether PID -- COMMAND...``: become COMMAND, killed when PID, the parent
that started it, ends (Linux; elsewhere it only execs COMMAND).

A crawl runs in a session of its own, so that a Ctrl-C in the terminal reaches the scheduler
only; no signal of the scheduler's session reaches it either. Killed -9, a scheduler would leave
its crawl running on, holding the data directory's lock, and the next scheduler's first run would
fail against every source. The parent-death signal, set here and kept across exec, kills the
crawl with its scheduler (the feed survives kill -9 by design). The kernel sends it when the
*thread* that started the child ends: the scheduler starts each crawl from the thread that waits
for it. Stdlib only, and little of it: it runs before every crawl.
"""

from __future__ import annotations

import os
import sys

from crawler.processes import die_with_parent

USAGE = "usage: python -m scheduler.tether PID -- COMMAND..."


def main(argv: list[str]) -> int:
    if len(argv) < 3 or not argv[0].isdigit() or argv[1] != "--":
        print(USAGE, file=sys.stderr)
        return 2
    parent, command = int(argv[0]), argv[2:]
    die_with_parent()
    if os.getppid() != parent:
        # The parent died before the signal was armed: nothing would stop the crawl.
        return 1
    os.execv(command[0], command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
