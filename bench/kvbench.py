#!/usr/bin/env python3
"""kvbench.py -- Python's m.get against open(p, 'rb').read() (issue 14).

    kvbench.py [-t SECS] [-s BYTES] MMFS_DIR TMPFS_DIR

Times, in one process and interleaved, the two ways a Python program
reads a whole small value: mmfs's binding (python/mmfs, over libmmfs:
m.get(name) on the arena MMFS_DIR serves) and a plain file on tmpfs
(open(path, 'rb').read() of a file in TMPFS_DIR).  Both values are -s
bytes (default 100), written first (m.set; open 'wb').  The SECS
(default 1) are cut into 20 slices, alternating the two ways, so that
both see the same load; each slice starts with a short untimed warm-up.

Prints kvbench's format, which bench/run reads; the backend is the last
part of the metric's name:

    RESULT py-get-mmfs <ops/s> ops/s
    RESULT py-get-tmpfs <ops/s> ops/s

Each read value is compared with what was written (a mismatch fails).
Needs the binding importable (bench/run sets MMFS_LIBRARY and PYTHONPATH
to the build's libmmfs.so and python/).  Not a test: bench/run --only kv
runs it.
"""

import argparse
import os
import sys
import time

import mmfs

NAME = "kvbench.pyget"
SLICES = 20
CHECK_EVERY = 64            # reads between two looks at the clock


def run_for(fn, secs):
    """Call fn in batches of CHECK_EVERY until secs have passed: (calls,
    seconds taken)."""
    n = 0
    t0 = time.perf_counter()
    t = t0
    while t - t0 < secs:
        for _ in range(CHECK_EVERY):
            fn()
        n += CHECK_EVERY
        t = time.perf_counter()
    return n, t - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-t", type=float, default=1.0, dest="secs")
    ap.add_argument("-s", type=int, default=100, dest="size")
    ap.add_argument("mmfs_dir")
    ap.add_argument("tmpfs_dir")
    a = ap.parse_args()
    if a.secs <= 0 or not 1 <= a.size <= 4096:
        ap.error("SECS > 0 and 1 <= BYTES <= 4096")

    value = (b"kvbench " + b"." * a.size)[:a.size - 1] + b"\n"
    m = mmfs.attach(a.mmfs_dir)
    m.set(NAME, value)
    path = os.path.join(a.tmpfs_dir, NAME)
    with open(path, "wb") as f:
        f.write(value)

    def mmfs_get():
        if m.get(NAME) != value:
            raise SystemExit("kvbench.py: m.get gave another value")

    def tmpfs_read():
        with open(path, "rb") as f:
            if f.read() != value:
                raise SystemExit("kvbench.py: read gave another value")

    ways = [("mmfs", mmfs_get), ("tmpfs", tmpfs_read)]
    done = {w: [0, 0.0] for w, _ in ways}
    part = a.secs / (SLICES * len(ways))
    for i in range(SLICES):
        # alternate which way goes first, too
        for w, fn in (ways if i % 2 == 0 else ways[::-1]):
            run_for(fn, min(part / 10, 0.005))
            n, took = run_for(fn, part)
            done[w][0] += n
            done[w][1] += took
    for w, _ in ways:
        n, took = done[w]
        print(f"RESULT py-get-{w} {n / took:.6g} ops/s", flush=True)
    os.unlink(path)
    m.detach()
    return 0


if __name__ == "__main__":
    sys.exit(main())
