"""A process that waits on an mmfs file with Python's select module, for
test_poll.py.

    python3 poll_waiter.py PATH API pri|in ro|rw TIMEOUT...

API is poll (select.poll), epoll (select.epoll, level-triggered) or
epoll-et (edge-triggered).  It opens PATH (O_RDONLY or O_RDWR) and reads
it as its kind wants (a variable from offset 0, a ring to its end), prints
"ready", then waits once per TIMEOUT (seconds, or "inf": until woken) for
POLLPRI (pri) or POLLIN (in) and prints one line per wait, as pollwait.c
does:
{"events": [NAMES], "data": "HEX"}, data being what it read after a wait
that returned events (a variable: seek to 0 and read; a ring: read on to
the end).
"""

import json
import os
import select
import sys

# epoll's EPOLLIN ... EPOLLHUP are the same bits.
NAMES = [(select.POLLIN, "IN"), (select.POLLPRI, "PRI"),
         (select.POLLOUT, "OUT"), (select.POLLERR, "ERR"),
         (select.POLLHUP, "HUP"), (select.POLLNVAL, "NVAL")]


def read_value(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 65536)


def read_ring(fd):
    data = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return data
        data += chunk


class Waiter:
    """One wait at a time on fd with the chosen API: wait(seconds) ->
    revents (0 on timeout)."""

    def __init__(self, fd, api, events):
        self.fd = fd
        if api == "poll":
            self.poller = select.poll()
            self.poller.register(fd, events)
            self.ms = True
        else:
            self.poller = select.epoll()
            self.poller.register(fd, events | (select.EPOLLET
                                               if api == "epoll-et" else 0))
            self.ms = False

    def wait(self, seconds):
        if seconds == float("inf"):
            got = self.poller.poll(-1)
        else:
            got = self.poller.poll(seconds * 1000 if self.ms else seconds)
        return got[0][1] if got else 0


def main(argv):
    path, api, kind, mode = argv[1:5]
    timeouts = [float(t) for t in argv[5:]]
    ring = kind == "in"
    fd = os.open(path, os.O_RDWR if mode == "rw" else os.O_RDONLY)
    read = read_ring if ring else read_value
    read(fd)
    waiter = Waiter(fd, api, select.POLLIN if ring else select.POLLPRI)
    print("ready", flush=True)
    for seconds in timeouts:
        revents = waiter.wait(seconds)
        data = read(fd) if revents else b""
        print(json.dumps({"events": [n for b, n in NAMES if revents & b],
                          "data": data.hex()}), flush=True)
    os.close(fd)


if __name__ == "__main__":
    main(sys.argv)
