#!/usr/bin/env python3
"""poll-wait.py -- an asyncio program that wakes when variables change.

Usage:
    python3 examples/poll-wait.py [--changes N] PATH...

Prints "PATH = VALUE" for each variable PATH on an mmfs mount, then one
such line every time another process changes one of them (echo 7 > PATH,
any program's write), and "PATH + RECORD" for every new record of a ring
log (a PATH ending in ".ring"; its existing records are skipped).  Stops
after N changes (default: never); nothing is read while nothing changes.

How (mmfs(7), POLL): mmfs follows the convention of sysfs attributes.
poll(2) on an open variable reports POLLPRI once the value has changed
since the descriptor last read it from offset 0, and a ring reports
POLLIN while records lie past the descriptor's last read.  asyncio's
add_reader only watches for readability, which a regular file always has,
so each file gets an epoll set of its own that waits for EPOLLPRI (a ring:
EPOLLIN), and the loop watches that set's descriptor, which becomes
readable when the file has news.

A variable replaced by rename (write a temporary file, then mv it over the
name) or removed reports POLLHUP: the program opens the name again, or
stops watching it if it is gone.
"""

import argparse
import asyncio
import os
import select
import sys

MAX_VALUE = 1 << 20


class Watch:
    """One file, open and read, whose changes call report(path, line)."""

    def __init__(self, loop, path, report):
        self.loop, self.path, self.report = loop, path, report
        self.ring = path.endswith(".ring")
        value = self.open()
        if not self.ring:
            self.report(self.path, f"= {value}", initial=True)

    def open(self):
        """Open the file, read it, and have the loop watch it."""
        self.fd = os.open(self.path, os.O_RDONLY)
        self.epoll = select.epoll()
        self.epoll.register(self.fd,
                            select.EPOLLIN if self.ring else select.EPOLLPRI)
        news = self.read()
        self.loop.add_reader(self.epoll.fileno(), self.ready)
        return news

    def read(self):
        """A variable's value (read from offset 0: seen), or a ring's new
        records (read to the end)."""
        if not self.ring:
            data = os.pread(self.fd, MAX_VALUE, 0)
            return data.decode(errors="replace").rstrip("\n")
        records = []
        while chunk := os.read(self.fd, MAX_VALUE):
            records += chunk.decode(errors="replace").splitlines()
        return records

    def ready(self):
        events = sum(ev for _, ev in self.epoll.poll(0))
        if events & select.EPOLLHUP:
            self.reopen()
        elif self.ring and events:
            for record in self.read():
                self.report(self.path, f"+ {record}")
        elif events:
            self.report(self.path, f"= {self.read()}")

    def reopen(self):
        """The name leads to another file now, or nowhere.  For a moment
        after the rename or unlink it may still lead to the old file, which
        reports POLLHUP again at once: then try again."""
        self.close()
        try:
            value = self.open()
        except FileNotFoundError:
            self.report(self.path, "removed")
            return
        if any(ev & select.EPOLLHUP for _, ev in self.epoll.poll(0)):
            self.close()
            self.loop.call_later(0.001, self.reopen)
        elif not self.ring:
            self.report(self.path, f"= {value}")

    def close(self):
        if self.fd is None:
            return
        self.loop.remove_reader(self.epoll.fileno())
        self.epoll.close()
        os.close(self.fd)
        self.fd = None


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+", metavar="PATH")
    ap.add_argument("--changes", type=int, default=0,
                    help="stop after this many changes (default: never)")
    args = ap.parse_args()
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    seen = 0

    def report(path, line, initial=False):
        nonlocal seen
        print(f"{path} {line}", flush=True)
        if not initial:
            seen += 1
            if seen == args.changes and not done.done():
                done.set_result(None)

    watches = [Watch(loop, p, report) for p in args.paths]
    print(f"watching {len(watches)} file(s)", flush=True)
    await done
    for w in watches:
        w.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
