#!/usr/bin/env python3
"""lib_workers.py -- Python processes share counters and a log at memory speed.

Usage:
    python3 examples/lib_workers.py PATH [--workers N] [--events M] [--create]

PATH is an mmfs mount point, a directory in one, or an arena file (with
--create, a missing arena file is made: no mount is needed then).  It uses
the `mmfs` module, libmmfs's Python binding (mmfs(3), PYTHON), which
`meson install` installs; in the source tree run it with
MMFS_LIBRARY=build/src/lib/libmmfs.so PYTHONPATH=python.

N worker processes (default 4) record M events each (default 1000).  For
every event a worker adds 1 to two counters, atomically, without a lock of
its own:

    PATH/lib-workers/events          all events of all workers
    PATH/lib-workers/worker-I        worker I's events

and every tenth event it appends one record, a line "RUN worker I event
K", to the ring log PATH/lib-workers/log.ring.  Meanwhile the main process
follows the total without polling: it reads the counter with its version
and sleeps in Arena.wait until the version changes.  When the workers are
done it reads the log's records, oldest first, and checks that every
worker's records came in order.

Through a mount, anyone can watch the same files:
    cat /mnt/shm/lib-workers/events; tail -f /mnt/shm/lib-workers/log.ring

Prints one line per worker, then "events: T (expected T)", the number of
the log's records of this run and how many times the main process woke;
exits 0 only if the counts are exact and the log in order.
"""

import argparse
import multiprocessing
import os
import sys

import mmfs

DIR = "lib-workers"
EVENTS = f"{DIR}/events"
LOG = f"{DIR}/log.ring"
LOG_EVERY = 10


def worker(path, i, events, run):
    """Record events; every worker attaches itself."""
    with mmfs.attach(path) as arena:
        for k in range(1, events + 1):
            arena.add(EVENTS, 1)
            arena.add(f"{DIR}/worker-{i}", 1)
            if k % LOG_EVERY == 0:
                arena.append(LOG, f"{run} worker {i} event {k}\n")


def follow(arena, expected):
    """Sleep until the total reaches expected; return the wakes."""
    value, version = arena.get_versioned(EVENTS)
    wakes = 0
    while int(value) < expected:
        if not arena.wait(EVENTS, version, timeout=30):
            raise TimeoutError(f"{EVENTS} stuck at {int(value)}")
        value, version = arena.get_versioned(EVENTS)
        wakes += 1
    return wakes


def check_log(arena, run, workers, events):
    """The records of this run (earlier runs' may be there too): every
    worker's, in order.  Returns (records, problems)."""
    last = {i: 0 for i in range(1, workers + 1)}
    count, problems = 0, []
    for record in arena.records(LOG):
        fields = record.decode().split()
        if fields[0] != run:
            continue
        i, k = int(fields[2]), int(fields[4])
        if k != last[i] + LOG_EVERY:
            problems.append(f"worker {i}: event {k} after {last[i]}")
        last[i] = k
        count += 1
    for i, k in last.items():
        if k != events - events % LOG_EVERY:
            problems.append(f"worker {i}: last logged event {k}")
    return count, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("path")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--create", action="store_true",
                    help="PATH is an arena file: make it if missing")
    args = ap.parse_args()
    if args.workers < 1 or args.events < 1:
        ap.error("--workers and --events must be positive")

    try:
        arena = mmfs.attach(args.path, create=args.create)
    except OSError as e:
        sys.exit(f"lib_workers.py: {e}")
    run = f"run{os.getpid()}"
    arena.set(EVENTS, "0\n")
    for i in range(1, args.workers + 1):
        arena.set(f"{DIR}/worker-{i}", "0\n")

    procs = [multiprocessing.Process(target=worker,
                                     args=(args.path, i, args.events, run))
             for i in range(1, args.workers + 1)]
    for p in procs:
        p.start()
    expected = args.workers * args.events
    try:
        wakes = follow(arena, expected)
    finally:
        for p in procs:
            p.join()
    ok = all(p.exitcode == 0 for p in procs)

    total = 0
    for i in range(1, args.workers + 1):
        n = int(arena.get(f"{DIR}/worker-{i}"))
        total += n
        print(f"worker {i}: {n} events")
        ok = ok and n == args.events
    events = int(arena.get(EVENTS))
    print(f"events: {events} (expected {expected})")
    records, problems = check_log(arena, run, args.workers, args.events)
    print(f"log: {records} records of this run, "
          f"{'in order for every worker' if not problems else 'WRONG'}")
    for p in problems:
        print(f"  {p}")
    print(f"the main process woke {wakes} times")
    arena.detach()
    return 0 if ok and events == expected == total and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
