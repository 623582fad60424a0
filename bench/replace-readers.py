#!/usr/bin/env python3
"""bench/replace-readers.py DIR [SECONDS] -- why cat must reach the daemon.

One writer replaces DIR/var as `echo v > var` does (open O_TRUNC, one
write, close), alternating a 10-byte and a 3000-byte value, while three
readers open it, read it and close it: first with O_RDONLY (mmfs serves
such opens with direct I/O, every read reaches the daemon), then with
O_RDWR (served from the kernel's page cache, as any cat would be if the
daemon let the kernel cache reads).  Prints the reads and how many saw an
empty or mixed value.  On mmfs the first count is 0 and the second is not:
after an O_TRUNC open the kernel sets its cached size to 0 before the
daemon has seen a byte, so page-cache readers see an empty file.
"""

import multiprocessing
import os
import sys
import time

SMALL = b"small-val\n"
LARGE = b"L" * 2999 + b"\n"


def writer(path, secs):
    end, n = time.monotonic() + secs, 0
    while time.monotonic() < end:
        with open(path, "wb") as f:
            f.write(SMALL if n % 2 else LARGE)
        n += 1


def reader(path, secs, flags, results):
    end, reads, bad = time.monotonic() + secs, 0, 0
    while time.monotonic() < end:
        fd = os.open(path, flags)
        data = os.read(fd, 8192)
        os.close(fd)
        reads += 1
        bad += data not in (SMALL, LARGE)
    results.put((reads, bad))


def run(path, secs, flags):
    with open(path, "wb") as f:
        f.write(LARGE)
    results = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=reader,
                                     args=(path, secs, flags, results))
             for _ in range(3)]
    procs.append(multiprocessing.Process(target=writer, args=(path, secs)))
    for p in procs:
        p.start()
    counts = [results.get() for _ in range(3)]
    for p in procs:
        p.join()
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip().splitlines()[0])
    path = os.path.join(sys.argv[1], "var")
    secs = float(sys.argv[2]) if len(sys.argv) == 3 else 4.0
    for name, flags in (("O_RDONLY", os.O_RDONLY), ("O_RDWR", os.O_RDWR)):
        reads, bad = run(path, secs, flags)
        print(f"{name} readers: {reads} reads, {bad} empty or mixed")
    os.unlink(path)


if __name__ == "__main__":
    main()
