"""Crash torture: kill -9 library writers and the daemon in the middle of
a write storm, many times, and verify that every operation completed
before each kill survived and the operation in flight is either wholly
there or wholly absent.

Each round mixes two kinds of writers on one arena:
- WORKERS processes through the mount (torture_worker.py; each in its own
  directory, journaling every operation before and after);
- LIB_SLOTS library writers (lib_torture_worker.c, libmmfs in C: set, add
  and append in a directory of their own, and adds to a counter they all
  share; they journal into a shared mapping, so that a kill lands inside
  a library call, often inside the arena mutex).  Each slot's writer is
  killed with SIGKILL at a random instant and replaced at once by a
  successor, which must make progress (the next writer proceeds), and
  which is killed in its turn at the end of the round.
In about half the rounds the daemon is killed too (kill -9 at a random
instant, then remounted, which runs recovery, while the library writers
go on); in the others the mount workers are told to stop (SIGTERM) and
the daemon serves on, repairing after the dead library writers.  After
each round every worker's directory is compared with the model its
journal replays to: the mount workers' through the mount, the library
writers' as a read-only libmmfs handle reads them and as the mount shows
them.  Every CHECK_EVERY rounds, and at the end, the arena is unmounted
and `mmfsctl check` must find it consistent.
"""

import copy
import os
import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

import conftest
import helpers

sys.path.insert(0, str(Path(__file__).parent))
import torture_worker  # noqa: E402

ROUNDS = int(os.environ.get("MMFS_TORTURE_ROUNDS", "50"))
WORKERS = 3
LIB_SLOTS = 2
CHECK_EVERY = 10
WORKER = str(Path(__file__).with_name("torture_worker.py"))
LIB_WORKER = conftest.built_program("lib_torture_worker")
RING_SIZE = 4 << 20             # ring_size=4M: what a ring retains
SUCCESSOR_MIN = 0.1             # seconds a successor writer runs at least
LIB_NICE = 5                    # library writers never pause on their own:
                                # on two cores they would starve the mount
                                # workers and the daemon (and, preempted,
                                # they still stop inside a library call)
PROGRESS = 0.3                  # most that ran this long must have done
                                # something (a first call may take 0.1 s
                                # on a loaded machine: arena on a disk)
SETTLE = 1.0                    # seconds the mount may show a stale value
                                # (the daemon's feed watcher ticks at 0.1)


def read_tree(top):
    """The actual state of one worker directory, shaped like the model."""
    state = {"files": {}, "dirs": set(), "ring": ""}
    for root, dirs, files in os.walk(top):
        rel = os.path.relpath(root, top)
        for d in dirs:
            state["dirs"].add(d if rel == "." else os.path.join(rel, d))
        for f in files:
            path = f if rel == "." else os.path.join(rel, f)
            full = os.path.join(root, f)
            data = Path(full).read_bytes().decode()
            if path == "log.ring":
                state["ring"] = data
                continue
            xattrs = {n: os.getxattr(full, n).decode()
                      for n in os.listxattr(full) if n.startswith("user.k")}
            state["files"][path] = {"data": data, "xattr": xattrs}
    return state


def same(model, actual):
    return (model["files"] == actual["files"] and
            model["dirs"] == actual["dirs"] and
            model["ring"] == actual["ring"])


def describe(model, actual):
    out = []
    for p in sorted(set(model["files"]) | set(actual["files"])):
        m, a = model["files"].get(p), actual["files"].get(p)
        if m != a:
            short = lambda v: None if v is None else \
                {"data": v["data"][:60] + f"...({len(v['data'])})",
                 "xattr": v["xattr"]}
            out.append(f"  {p}: model {short(m)} actual {short(a)}")
    if model["dirs"] != actual["dirs"]:
        out.append(f"  dirs: model {sorted(model['dirs'])} "
                   f"actual {sorted(actual['dirs'])}")
    if model["ring"] != actual["ring"]:
        out.append(f"  ring: model ...{model['ring'][-80:]!r} "
                   f"actual ...{actual['ring'][-80:]!r}")
    return "\n".join(out)


# journal -> (lines replayed, completed, model, pending): each round
# replays only what the journal gained (it only grows).
_replayed = {}


def replay_more(journal, lines):
    """The model and in-flight op of the whole journal, and how many of
    its operations completed."""
    n, completed, model, pending = _replayed.get(
        journal, (0, 0, torture_worker.new_state(), None))
    model, pending = torture_worker.replay(lines[n:], model, pending)
    completed += sum(1 for line in lines[n:] if line == "E")
    _replayed[journal] = (len(lines), completed, model, pending)
    return model, pending, completed


def with_verdict(model, pending, verdict):
    """The model after the in-flight op's verdict (a copy)."""
    return torture_worker.replay([verdict], copy.deepcopy(model),
                                 pending)[0]


def verify_worker(top, journal):
    """Compare a worker's directory with its journal; resolve the op that
    was in flight.  Returns how many operations completed so far."""
    lines = Path(journal).read_text().splitlines()
    model, pending, completed = replay_more(journal, lines)
    actual = read_tree(top)
    if pending is None:
        assert same(model, actual), \
            f"{top} differs from its journal:\n{describe(model, actual)}"
        return completed
    verdict = None
    for candidate in ("R0", "R1", "RC"):
        if candidate == "RC" and (pending["op"] != "write" or
                                  pending["path"] in model["files"]):
            continue        # only a new file can exist empty
        if same(with_verdict(model, pending, candidate), actual):
            verdict = candidate
            break
    if verdict is None:
        after = with_verdict(model, pending, "R1")
        brief = {k: (v if len(str(v)) < 80 else f"{str(v)[:60]}...")
                 for k, v in pending.items()}
        pytest.fail(f"{top}: in-flight {brief} is neither absent nor "
                    f"whole:\n{describe(after, actual)}")
    with open(journal, "a") as f:
        f.write(verdict + "\n")
    return completed


def check_arena(arena):
    tool = conftest.mmfsctl_path()
    assert os.access(tool, os.X_OK), f"mmfsctl not built at {tool}"
    r = subprocess.run([tool, "check", str(arena)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, f"mmfsctl check failed:\n{r.stdout}{r.stderr}"


# ---- library writers -----------------------------------------------------

REC = struct.Struct("<BBBBi")   # lib_torture_worker.c's struct rec
BEGUN, ENDED, FAILED = 1, 2, 3
OP_SET, OP_ADD, OP_APPEND = 1, 2, 3
SHARED = 255
ABSENT, EMPTY = "absent", "empty"


def read_journal(path):
    """[(state, op, key, arg)] of every operation that began: records
    are filled in order, so the first with state 0 ends them.  A writer
    killed before it made its journal began none."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    lo, hi = 0, len(data) // REC.size       # binary search: state != 0
    while lo < hi:
        mid = (lo + hi) // 2
        if data[mid * REC.size]:
            lo = mid + 1
        else:
            hi = mid
    return [r[:3] + r[4:] for r in REC.iter_unpack(data[:lo * REC.size])]


def value_text(seq, length):
    head = f"{seq}:"
    return head + chr(97 + seq % 26) * (length - len(head))


def parse_value(data):
    """(seq, len) of a value lib_torture_worker made, EMPTY, or None."""
    if not data:
        return EMPTY
    text = data.decode(errors="replace")
    head = text.split(":", 1)[0]
    if not head.isdigit() or value_text(int(head), len(text)) != text:
        return None
    return (int(head), len(text))


def counter_value(text):
    return 0 if text in (ABSENT, EMPTY) else text


def retained(records):
    """The records a ring of RING_SIZE bytes keeps of these: the newest
    whole ones that fit."""
    total, keep = 0, 0
    for _, length in reversed(records):
        if total + length > RING_SIZE:
            break
        total += length
        keep += 1
    return records[len(records) - keep:]


class Candidates:
    """What one slot's directory may hold after the operations a round's
    writers journaled: every completed one, and each one in flight at a
    kill either done or not (or only its file created: an empty value)."""

    def __init__(self, slot):
        self.keys = {k: {v} for k, v in slot.keys.items()}
        self.counters = {k: {v} for k, v in slot.counters.items()}
        self.rings = [[]]               # records appended, per choice
        self.shared_done = self.shared_maybe = 0

    def apply(self, op, key, arg, seq, certain):
        if op == OP_SET:
            old = self.keys.get(key, {ABSENT})
            new = {(seq, arg)}
            self.keys[key] = new if certain else \
                old | new | ({EMPTY} if ABSENT in old else set())
        elif op == OP_ADD and key == SHARED:
            if certain:
                self.shared_done += 1
            else:
                self.shared_maybe += 1
        elif op == OP_ADD:
            old = self.counters.get(key, {ABSENT})
            new = {counter_value(v) + arg for v in old}
            self.counters[key] = new if certain else \
                old | new | ({EMPTY} if ABSENT in old else set())
        else:
            grown = [r + [(seq, arg)] for r in self.rings]
            self.rings = grown if certain else self.rings + grown


class LibSlot:
    """A directory L<i> of the arena, the library writers that take turns
    at it, and the model of what they committed."""

    spawned = 0                         # writers so far, all slots

    def __init__(self, i, tmp_path):
        self.dir = f"L{i}"
        self.tmp = tmp_path
        self.keys = {}                  # k -> (seq, len) or EMPTY
        self.counters = {}              # k -> int or EMPTY
        self.ring = []                  # [(seq, len)] retained
        self.writers = []               # this round's: [proc, base, ...]

    def spawn(self, arena):
        LibSlot.spawned += 1
        base = 1 + LibSlot.spawned * 65536
        journal = self.tmp / f"lib-journal-{LibSlot.spawned}"
        log = open(self.tmp / f"lib-worker-{LibSlot.spawned}.log", "wb")
        proc = subprocess.Popen([LIB_WORKER, "run", arena, self.dir,
                                 str(journal), str(base)],
                                stdout=log, stderr=log)
        os.setpriority(os.PRIO_PROCESS, proc.pid, LIB_NICE)
        log.close()
        self.writers.append({"proc": proc, "base": base, "journal": journal,
                             "log": log.name, "start": time.monotonic()})

    def kill(self):
        """SIGKILL the running writer (it has not exited: a worker never
        ends on its own)."""
        w = self.writers[-1]
        assert w["proc"].poll() is None, \
            f"library writer exited {w['proc'].returncode}:\n" + \
            Path(w["log"]).read_text()
        w["proc"].send_signal(signal.SIGKILL)
        w["proc"].wait(timeout=30)
        w["lived"] = time.monotonic() - w["start"]

    def candidates(self, stats):
        """This round's candidates; checks that no operation failed, and
        counts the writers that ran PROGRESS seconds and those of them
        that got something done."""
        c = Candidates(self)
        for w in self.writers:
            recs = read_journal(w["journal"])
            done = sum(1 for r in recs if r[0] == ENDED)
            assert not any(r[0] == FAILED for r in recs), \
                f"a library call failed:\n{Path(w['log']).read_text()}"
            if w["lived"] >= PROGRESS:
                stats["writers"] += 1
                stats["writers that wrote"] += done > 0
            for i, (state, op, key, arg) in enumerate(recs):
                assert state == ENDED or i == len(recs) - 1, \
                    "a writer went on past an operation that did not end"
                c.apply(op, key, arg, w["base"] + i, state == ENDED)
            stats["lib ops"] += done
            stats["lib kills"] += 1
            stats["lib kills in a call"] += bool(recs) and \
                recs[-1][0] == BEGUN
        self.writers = []
        return c

    def settle(self, c, actual, where):
        """Check actual (parse_dump's) against the candidates and make it
        the model."""
        for k in set(c.keys) | set(actual["keys"]):
            got = actual["keys"].get(k, ABSENT)
            assert got in c.keys.get(k, {ABSENT}), \
                f"{where} {self.dir}/k{k}: {got}, expected one of " \
                f"{sorted(map(str, c.keys.get(k, {ABSENT})))}"
        for k in set(c.counters) | set(actual["counters"]):
            got = actual["counters"].get(k, ABSENT)
            assert got in c.counters.get(k, {ABSENT}), \
                f"{where} {self.dir}/c{k}: {got}, expected one of " \
                f"{sorted(map(str, c.counters.get(k, {ABSENT})))}"
        rings = [retained(self.ring + r) for r in c.rings]
        assert [s for s, _ in actual["ring"]] in \
            [[s for s, _ in r] for r in rings], \
            f"{where} {self.dir}/log.ring: ...{actual['ring'][-5:]}, " \
            f"expected ...{rings[-1][-5:]} ({len(rings)} choices)"
        self.keys = dict(actual["keys"])
        self.counters = dict(actual["counters"])
        self.ring = next(r for r in rings if [s for s, _ in r] ==
                         [s for s, _ in actual["ring"]])


def parse_dump(text):
    """{dir: {"keys", "counters", "ring"}}, shared from a dump."""
    dirs, shared, cur = {}, ABSENT, None
    for line in text.splitlines():
        f = line.split()
        assert "error" not in f and "bad" not in f, f"dump: {line}"
        if f[0] == "dir":
            cur = dirs[f[1]] = {"keys": {}, "counters": {}, "ring": []}
        elif f[0] == "set":
            cur["keys"][int(f[1])] = EMPTY if f[2] == EMPTY else \
                (int(f[2]), int(f[3]))
        elif f[0] == "add":
            cur["counters"][int(f[1])] = EMPTY if f[2] == EMPTY else \
                int(f[2])
        elif f[0] == "ring":
            cur["ring"] = [(int(x), None) for x in f[1:]]
        elif f[0] == "shared":
            shared = int(f[1])
    return dirs, shared


def mount_view(m, slot):
    """What the mount shows of a slot's directory, shaped as parse_dump."""
    top = Path(m.path(slot.dir))
    view = {"keys": {}, "counters": {}, "ring": []}
    for k in range(8):
        p = top / f"k{k}"
        if p.exists():
            view["keys"][k] = parse_value(p.read_bytes())
    for k in range(4):
        p = top / f"c{k}"
        if p.exists():
            text = p.read_text().strip()
            view["counters"][k] = int(text) if text else EMPTY
    p = top / "log.ring"
    if p.exists():
        for line in p.read_bytes().decode().splitlines():
            view["ring"].append((int(line[1:].split(";")[0]), None))
    return view


def verify_lib(m, slots, shared, stats):
    """Settle every slot against what a read-only handle reads, then
    check that the mount shows the same (within SETTLE seconds)."""
    cands = [s.candidates(stats) for s in slots]
    out = subprocess.run([LIB_WORKER, "dump", m.arena] +
                         [s.dir for s in slots], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out
    dirs, total = parse_dump(out.stdout)
    done = sum(c.shared_done for c in cands)
    maybe = sum(c.shared_maybe for c in cands)
    assert shared["total"] + done <= total <= shared["total"] + done + \
        maybe, f"libshared/total {total}: expected {shared['total']} + " \
        f"{done} + up to {maybe} in flight"
    shared["total"] = total
    for slot, c in zip(slots, cands):
        slot.settle(c, dirs[slot.dir], "library")
    deadline = time.monotonic() + SETTLE
    want = ([dirs[s.dir] for s in slots], total)
    while True:
        view = ([mount_view(m, s) for s in slots],
                int(Path(m.path("libshared", "total")).read_text()))
        if view == want or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert view == want, f"the mount shows {view}, libmmfs {want}"


def sleep_until(t):
    left = t - time.monotonic()
    if left > 0:
        time.sleep(left)


def wait_worker(m, p):
    """Wait for worker p to exit 0; if it hangs, report where it and the
    daemon wait."""
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        locks = helpers.arena_lock_holders(m.arena)
        where = helpers.thread_waiting(f"/proc/{p.pid}")
        daemon = helpers.threads_waiting(m.pid)
        p.kill()
        raise AssertionError(f"a worker hung: {where}\ndaemon: {daemon}"
                             f"\nlocks: {locks}")
    assert rc == 0, "a worker failed"


def run_round(m, rng, tops, journals, slots):
    """One round (see the top of this file); True if the daemon died."""
    kill_daemon = rng.random() < 0.5
    length = rng.uniform(0.25, 0.6)
    # the workers start with SIGTERM blocked, and unblock it once they
    # have a handler (the end of a round may come before); no preexec_fn:
    # Python then spawns with vfork, not a fork of this big process
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        procs = [subprocess.Popen([sys.executable, WORKER, tops[i],
                                   str(journals[i]),
                                   str(rng.randrange(1 << 30))])
                 for i in range(WORKERS)]
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    for s in slots:
        s.spawn(m.arena)
    events = [(rng.uniform(0.01, length - SUCCESSOR_MIN), s) for s in slots]
    if kill_daemon:
        events.append((rng.uniform(0.02, length), None))
    t0 = time.monotonic()
    for when, slot in sorted(events, key=lambda e: e[0]):
        sleep_until(t0 + when)
        if slot is not None:
            slot.kill()
            slot.spawn(m.arena)         # the next writer, at once
            continue
        m.kill9()                       # the library writers go on
        for p in procs:
            wait_worker(m, p)
        m.remount()                     # with the library writers in
    sleep_until(t0 + length)
    for s in slots:
        s.kill()
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)   # finish the op in flight
    for p in procs:
        wait_worker(m, p)
    return kill_daemon


@pytest.mark.long
def test_kill9_storm(tmpfs_dir, mmfs, tmp_path):
    """See the top of this file."""
    rng = random.Random(int(os.environ.get("MMFS_TORTURE_SEED", "1234")))
    assert os.access(LIB_WORKER, os.X_OK), f"{LIB_WORKER} not built"
    # The arena lives in /dev/shm, mmfs's default: on disk, each unmount's
    # flush of up to 256 MiB took over 30 s while other jobs loaded it.
    m = mmfs(arena=Path(tmpfs_dir) / "arena", opts=["ring_size=4M"],
             size="256M")
    tops = [m.path(f"w{i}") for i in range(WORKERS)]
    journals = [tmp_path / f"journal{i}" for i in range(WORKERS)]
    slots = [LibSlot(i, tmp_path) for i in range(LIB_SLOTS)]
    for t in tops + [m.path(s.dir) for s in slots] + [m.path("libshared")]:
        os.mkdir(t)
    Path(m.path("libshared", "total")).write_text("0\n")
    shared = {"total": 0}
    stats = {"lib ops": 0, "lib kills": 0, "lib kills in a call": 0,
             "daemon kills": 0, "writers": 0, "writers that wrote": 0}
    verified = 0
    for rnd in range(ROUNDS):
        stats["daemon kills"] += run_round(m, rng, tops, journals, slots)
        helpers.run(["stat", m.mnt], timeout=10)    # serving, no hang
        verified = sum(verify_worker(top, journal)
                       for top, journal in zip(tops, journals))
        verify_lib(m, slots, shared, stats)
        # and the next writer proceeds, whatever the kills left
        add = helpers.run([LIB_WORKER, "add", m.arena, "libshared/next"],
                          timeout=30)
        assert add.stdout == f"{rnd + 1}\n", add
        if (rnd + 1) % CHECK_EVERY == 0:
            m.umount()
            check_arena(m.arena)
            m.start()
    m.umount()
    check_arena(m.arena)
    line = (f"torture: {ROUNDS} rounds, {stats['daemon kills']} daemon "
            f"kills, {stats['lib kills']} library writer kills "
            f"({stats['lib kills in a call']} inside a library call; "
            f"{stats['writers that wrote']} of {stats['writers']} writers "
            f"that ran {PROGRESS}s wrote); verified {verified} mount "
            f"operations and {stats['lib ops']} library operations")
    print(line)
    conftest.MEASUREMENTS.append(line)
    assert verified > ROUNDS * WORKERS, "the workers did almost nothing"
    assert stats["lib ops"] > ROUNDS * LIB_SLOTS, \
        "the library writers did almost nothing"
    assert stats["lib kills in a call"] * 4 >= stats["lib kills"], \
        "most library kills missed the library: the torture is toothless"
    assert stats["writers that wrote"] * 2 >= stats["writers"], \
        "most library writers got nothing done: stalled after the kills?"
