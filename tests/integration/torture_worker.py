"""One writer of the crash torture test (test_torture.py).

    torture_worker.py DIR JOURNAL SEED

Runs a random storm of file-system operations inside DIR (its own
subdirectory of an mmfs mount) until an operation fails because the daemon
was killed, or until SIGTERM (the test's way to end a round in which the
daemon lives on): then it finishes the operation in flight and exits.
Before each operation it appends "B <json>" to JOURNAL and after it
succeeded "E", both with unbuffered writes, so the test knows which
operations completed before the kill and which one was in flight.

An operation refused for a reason other than a dead daemon (the
namespace holds what an earlier round's in-flight operation left) is
logged "F" and has no effect.  After each round the test appends a
verdict after an unfinished "B": "R1" it happened, "R0" it did not, "RC"
only its open(O_CREAT) happened (a new, empty file: that is a system call
of its own).  replay() is the model both sides use.
"""

import errno
import json
import os
import random
import signal
import sys


def main():
    top, journal_path, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(seed)
    journal = os.open(journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                      0o644)
    state = load_state(journal_path)
    counter = state["counter"]

    def log(line):
        os.write(journal, (line + "\n").encode())

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    # the test starts us with SIGTERM blocked: one sent before the handler
    # was there is delivered now
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    while not stop:
        counter += 1
        op = choose(rng, state, counter)
        log("B " + json.dumps(op))
        try:
            perform(top, op)
        except OSError as e:
            if e.errno in (errno.ENOTCONN, errno.ECONNABORTED) or \
                    not os.path.isdir(top):
                return 0
            log("F")
            continue
        log("E")
        apply(state, op)
    return 0


def new_state():
    return {"files": {}, "dirs": set(), "ring": "", "counter": 0}


def replay(lines, state=None, pending=None):
    """(state, pending): the model after every resolved operation of the
    journal, and the operation still in flight at its end (or None).  With
    state (changed in place) and pending, it goes on from them: lines are
    the journal's lines after those."""
    if state is None:
        state = new_state()
    for line in lines:
        if line.startswith("B "):
            pending = json.loads(line[2:])
            state["counter"] = pending["n"]
        elif line in ("E", "R1") and pending is not None:
            apply(state, pending)
            pending = None
        elif line == "RC" and pending is not None:
            apply(state, dict(pending, data=""))
            pending = None
        elif line in ("F", "R0"):
            pending = None
    return state, pending


def load_state(journal_path):
    try:
        lines = open(journal_path).read().splitlines()
    except FileNotFoundError:
        return new_state()
    state, pending = replay(lines)
    assert pending is None, "the test resolves in-flight ops between rounds"
    return state


def choose(rng, state, n):
    files = sorted(state["files"])
    dirs = sorted(state["dirs"])
    kind = rng.choice(["write", "write", "write", "append", "rename",
                       "unlink", "mkdir", "rmdir", "ring", "ring",
                       "xattr", "big"])
    name = f"f{rng.randrange(12)}"
    if kind in ("write", "big"):
        where = rng.choice([""] + dirs)
        size = rng.randrange(40000, 90000) if kind == "big" else \
            rng.choice([1, 10, 100, 3000])
        return {"n": n, "op": "write", "path": os.path.join(where, name),
                "data": f"{n}:".ljust(size, chr(97 + n % 26))}
    if kind == "append" and files:
        return {"n": n, "op": "append", "path": rng.choice(files),
                "data": f"+{n};"}
    if kind == "rename" and files:
        return {"n": n, "op": "rename", "path": rng.choice(files),
                "dst": os.path.join(rng.choice([""] + dirs), name)}
    if kind == "unlink" and files:
        return {"n": n, "op": "unlink", "path": rng.choice(files)}
    free = [d for d in (f"d{i}" for i in range(4)) if d not in dirs]
    if kind == "mkdir" and free:
        return {"n": n, "op": "mkdir", "path": rng.choice(free)}
    empty = [d for d in dirs
             if not any(f.startswith(d + "/") for f in files)]
    if kind == "rmdir" and empty:
        return {"n": n, "op": "rmdir", "path": rng.choice(empty)}
    if kind == "xattr" and files:
        return {"n": n, "op": "xattr", "path": rng.choice(files),
                "name": f"user.k{rng.randrange(3)}", "value": f"v{n}"}
    return {"n": n, "op": "ring", "path": "log.ring", "data": f"rec {n}\n"}


def perform(top, op):
    """Do op; OSError from a dead daemon ends the worker.  Operations that
    the model says are invalid are not chosen, but the namespace may hold
    leftovers of an in-flight op from an earlier round: refuse softly."""
    p = os.path.join(top, op["path"])
    kind = op["op"]
    if kind == "write":
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, op["data"].encode())
        finally:
            os.close(fd)
    elif kind in ("append", "ring"):
        fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, op["data"].encode())
        finally:
            os.close(fd)
    elif kind == "rename":
        os.rename(p, os.path.join(top, op["dst"]))
    elif kind == "unlink":
        os.unlink(p)
    elif kind == "mkdir":
        os.mkdir(p)
    elif kind == "rmdir":
        os.rmdir(p)
    elif kind == "xattr":
        os.setxattr(p, op["name"], op["value"].encode())


def apply(state, op):
    """The model: what a completed op leaves behind (see test_torture)."""
    files, dirs = state["files"], state["dirs"]
    kind, path = op["op"], op["path"]
    if kind == "write":
        old = files.get(path, {"data": "", "xattr": {}})
        files[path] = {"data": op["data"], "xattr": old["xattr"]}
    elif kind == "append":
        files[path]["data"] += op["data"]
    elif kind == "rename":
        files[op["dst"]] = files.pop(path)
    elif kind == "unlink":
        files.pop(path, None)
    elif kind == "mkdir":
        dirs.add(path)
    elif kind == "rmdir":
        dirs.discard(path)
    elif kind == "ring":
        state["ring"] += op["data"]
    elif kind == "xattr":
        files[path]["xattr"][op["name"]] = op["value"]


if __name__ == "__main__":
    sys.exit(main())
