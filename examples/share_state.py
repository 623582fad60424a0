#!/usr/bin/env python3
"""share_state.py -- share JSON state between processes through mmfs.

Usage:
    python3 examples/share_state.py DIR [--mode state|ring] [--seconds S]
                                        [--consumers N]

DIR is a directory on an mmfs mount (created if missing).  A producer
process publishes a changing JSON document for S seconds (default 3) while
N consumer processes (default 3) read it, each counting what it saw.

--mode state (the default; no ring log needed)
    The producer publishes the whole state by replacing DIR/state.json the
    way every language does:  open(path, "w").write(json.dumps(state)).
    Consumers open the file, read it with ONE read(2), close it and parse
    it.  On mmfs a replace is atomic for readers, so no consumer ever sees
    an empty or half-written document ("torn reads: 0").  Run the same
    thing in a tmpfs directory (e.g. /dev/shm/x) to see how often an
    ordinary file system shows readers an empty or partial file.

--mode ring
    The producer appends one JSON record per event to DIR/events.ring, a
    ring log (a file whose name ends in ".ring": fixed size, oldest
    records evicted).  Consumers keep the file open and read it
    sequentially; mmfs hands a sequential reader whole records only, so
    every line parses and sequence numbers only go up (a slow consumer may
    skip evicted records).

Why one read(2)?  mmfs makes each write(2) atomic for each read(2).  A
reader that reads in several calls (Python's f.read() keeps reading until
EOF) can combine pieces of two different values on any file system, so a
consumer of a value that changes should read it with a single large read.

Prints one line per consumer and ends with "torn reads: N"; exits 1 if N
is not 0.
"""

import argparse
import json
import multiprocessing as mp
import os
import sys
import time

MAX_VALUE = 1 << 20       # large enough for any state we publish


def make_state(seq):
    """State number seq: a document whose size changes with every update."""
    return {
        "seq": seq,
        "updated": time.time(),
        "status": "busy" if seq % 2 else "idle",
        "workers": [{"id": i, "load": (seq * 31 + i) % 100}
                    for i in range(seq % 40)],
    }


def read_value(path):
    """Read a whole variable with one open/read/close."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, MAX_VALUE)
    finally:
        os.close(fd)


# --- mode state: replace-write ---------------------------------------------

def produce_state(path, seconds):
    seq = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seq += 1
        with open(path, "w") as f:          # O_WRONLY|O_CREAT|O_TRUNC
            f.write(json.dumps(make_state(seq)))
    return seq


def consume_state(path, seconds, out):
    reads = torn = backwards = last = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        data = read_value(path)
        reads += 1
        try:
            seq = json.loads(data)["seq"]
        except (ValueError, KeyError):
            torn += 1                          # empty or half-written
            continue
        if seq < last:
            backwards += 1
        last = seq
    out.put({"reads": reads, "torn": torn, "backwards": backwards,
             "last": last})


# --- mode ring: an append-only log of events ----------------------------------

def produce_ring(path, seconds):
    seq = 0
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seq += 1
        record = json.dumps(make_state(seq)) + "\n"
        os.write(fd, record.encode())        # one write(2) = one record
    os.close(fd)
    return seq


def consume_ring(path, seconds, out):
    reads = torn = backwards = last = records = 0
    fd = os.open(path, os.O_RDONLY)
    deadline = time.monotonic() + seconds + 0.5   # drain after the producer
    while time.monotonic() < deadline:
        data = os.read(fd, 256 * 1024)
        if not data:
            time.sleep(0.005)
            continue
        reads += 1
        if not data.endswith(b"\n"):
            torn += 1                          # a partial record
        for line in data.splitlines():
            try:
                seq = json.loads(line)["seq"]
            except (ValueError, KeyError):
                torn += 1
                continue
            records += 1
            if seq <= last:
                backwards += 1
            last = seq
    os.close(fd)
    out.put({"reads": reads, "records": records, "torn": torn,
             "backwards": backwards, "last": last})


def run_consumer(consume, path, seconds, out):
    """Run a consumer; report its failure instead of dying silently."""
    try:
        consume(path, seconds, out)
    except Exception as e:                     # report, don't hang main()
        out.put({"error": f"{type(e).__name__}: {e}"})


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].split(" -- ")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="a directory on an mmfs mount")
    ap.add_argument("--mode", choices=["state", "ring"], default="state")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--consumers", type=int, default=3)
    args = ap.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    if args.mode == "state":
        path = os.path.join(args.dir, "state.json")
        with open(path, "w") as f:
            f.write(json.dumps(make_state(0)))
        produce, consume = produce_state, consume_state
    else:
        path = os.path.join(args.dir, "events.ring")
        open(path, "w").close()     # creates (or clears) the ring log
        produce, consume = produce_ring, consume_ring

    out = mp.Queue()
    consumers = [mp.Process(target=run_consumer,
                            args=(consume, path, args.seconds, out))
                 for _ in range(args.consumers)]
    for c in consumers:
        c.start()
    try:
        updates = produce(path, args.seconds)
    except OSError as e:
        for c in consumers:
            c.terminate()
        sys.exit(f"share_state.py: the producer failed: {e}")
    results = [out.get(timeout=args.seconds + 60) for _ in consumers]
    for c in consumers:
        c.join()

    print(f"mode: {args.mode}  file: {path}  producer: {updates} updates")
    failed = [r["error"] for r in results if "error" in r]
    for e in failed:
        print(f"a consumer failed: {e}", file=sys.stderr)
    results = [r for r in results if "error" not in r]
    for i, r in enumerate(results, 1):
        extra = f", {r['records']} records" if "records" in r else ""
        print(f"consumer {i}: {r['reads']} reads{extra}, {r['torn']} torn, "
              f"{r['backwards']} went backwards, last seq {r['last']}")
    torn = sum(r["torn"] for r in results)
    backwards = sum(r["backwards"] for r in results)
    print(f"torn reads: {torn}")
    print(f"went backwards: {backwards}")
    return 0 if torn == 0 and backwards == 0 and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
