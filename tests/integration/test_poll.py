"""poll(2), select(2) and epoll on mmfs files (mmfs(7), POLL).

A variable always reports POLLIN|POLLOUT, and POLLPRI|POLLERR once it
changed after the handle last read it from offset 0 (or, before that,
after the open): sysfs's convention.  A ring handle reports POLLIN while
records lie past where its last read ended.  A file that lost its last
name reports POLLHUP.

The waiters are other processes (poll_waiter.py: Python's select.poll and
select.epoll, level- and edge-triggered; pollwait.c: C), and so are the
writers (sh, echo, truncate, touch, mv, rm, python).  A waiter proves it
slept by first timing out (SLEEP) with nothing changed; then it waits
with no timeout (LONG), which only a wake can end.  (A poll that times out
looks at its files once more before it returns, so a bounded wait would
also end well without any wake.)  Nothing asserts a speed:
test_wake_latency prints one.
"""

import json
import os
import queue
import select
import signal
import statistics
import subprocess
import threading

import pytest

from helpers import HERE, PYTHON, run

SLEEP = 0.3    # seconds: a wait that must time out, nothing having changed
LONG = float("inf")    # a wait that only a wake ends
LINE_TIMEOUT = 60      # seconds for a waiter's next line
POLL_WAITER = os.path.join(HERE, "poll_waiter.py")
WAITERS = ["py-poll", "py-epoll", "py-epoll-et", "c-poll"]

READY = select.POLLIN | select.POLLOUT | select.POLLRDNORM | \
    select.POLLWRNORM
CHANGED = select.POLLPRI | select.POLLERR
ASK_ALL = READY | select.POLLPRI


@pytest.fixture(scope="session")
def pollwait(tmp_path_factory):
    """pollwait.c, built with cc for this run."""
    out = str(tmp_path_factory.mktemp("pollwait") / "pollwait")
    run(["cc", "-std=c17", "-O2", "-Wall", "-Wextra", "-Werror", "-o", out,
         os.path.join(HERE, "pollwait.c")])
    return out


class Waiter:
    """A waiter process (poll_waiter.py or pollwait wait): next() is its
    next line, parsed, once it has said "ready"."""

    def __init__(self, argv):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        first = self._line()
        assert first == "ready", f"{argv}: {first!r}"

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _line(self):
        try:
            line = self.lines.get(timeout=LINE_TIMEOUT)
        except queue.Empty:
            line = None
        if line is None:
            self.proc.kill()
            raise AssertionError(f"{self.argv}: no line; stderr: "
                                 f"{self.proc.stderr.read()}")
        return line

    def next(self):
        """(events, data) of the next wait: sorted names, bytes read."""
        r = json.loads(self._line())
        return sorted(r["events"]), bytes.fromhex(r["data"])

    def finish(self):
        assert self.proc.wait(timeout=LINE_TIMEOUT) == 0, \
            self.proc.stderr.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def waiter(pollwait):
    """waiter(kind, path, timeouts, events="pri", mode="ro") -> Waiter,
    ready: it has opened and read path and is about to wait, once per
    timeout (seconds).  kind is one of WAITERS."""
    started = []

    def start(kind, path, timeouts, events="pri", mode="ro"):
        if kind == "c-poll":
            argv = [pollwait, "wait", path, events, mode] + \
                [str(int(t * 1000) if t != LONG else -1) for t in timeouts]
        else:
            argv = [PYTHON, POLL_WAITER, path, kind[len("py-"):], events,
                    mode] + [str(t) for t in timeouts]
        w = Waiter(argv)
        started.append(w)
        return w

    yield start
    for w in started:
        w.kill()


def sh(cmd):
    """Run a shell command: a writer in another process."""
    run(["sh", "-c", cmd])


def put(path, data):
    with open(path, "wb") as f:
        f.write(data)


def revents(fd, events=ASK_ALL):
    """What poll(2) reports on fd right now (timeout 0)."""
    p = select.poll()
    p.register(fd, events)
    got = p.poll(0)
    return got[0][1] if got else 0


NOTHING = ([], b"")
WOKEN = ["ERR", "PRI"]       # asked for POLLPRI: POLLERR comes with it


@pytest.mark.parametrize("kind", WAITERS)
def test_waiter_sleeps_until_another_process_writes(mnt, waiter, kind):
    """The sysfs cycle: read, poll, woken by a write, seek to 0 and read,
    and the next poll sleeps until the next write."""
    var = os.path.join(mnt, "var")
    put(var, b"1\n")
    w = waiter(kind, var, [SLEEP, LONG, SLEEP, LONG])
    assert w.next() == NOTHING
    sh(f"echo 2 > {var}")
    assert w.next() == (WOKEN, b"2\n")
    assert w.next() == NOTHING
    put(var, b"three")
    assert w.next() == (WOKEN, b"three")
    w.finish()


def test_each_handle_has_its_own_last_read(mnt):
    var = os.path.join(mnt, "var")
    put(var, b"old\n")
    a = os.open(var, os.O_RDONLY)
    b = os.open(var, os.O_RDONLY)
    unread = os.open(var, os.O_RDONLY)
    try:
        os.read(a, 100)
        os.read(b, 100)
        assert revents(a) == READY
        assert revents(unread) == READY
        sh(f"echo new > {var}")
        late = os.open(var, os.O_RDONLY)
        assert revents(a) == READY | CHANGED
        assert revents(b) == READY | CHANGED
        assert revents(unread) == READY | CHANGED, "changed since the open"
        assert revents(late) == READY, "opened after the change"
        assert os.pread(a, 100, 0) == b"new\n"
        assert revents(a) == READY
        assert revents(b) == READY | CHANGED, "b has not read it yet"
        # A read elsewhere than where the last one ended starts a new
        # pass at the newest value (mmfs(7), one version per open), but
        # only a read from offset 0 counts as having read it anew.
        assert os.pread(b, 100, 2) == b"w\n"
        assert revents(b) == READY | CHANGED
        assert os.pread(b, 100, 0) == b"new\n"
        assert revents(b) == READY
        # Asking for POLLIN alone still tells of the change (POLLERR).
        put(var, b"newer\n")
        assert revents(b, select.POLLIN) == select.POLLIN | select.POLLERR
        os.close(late)
    finally:
        for fd in (a, b, unread):
            os.close(fd)


CHANGES = {
    "replace": "echo v2 > {var}",
    "append": "echo more >> {var}",
    "truncate": "truncate -s 2 {var}",
    "empty by open O_TRUNC alone": ": > {var}",
    "touch": "touch {var}",
    "pwrite through O_RDWR": PYTHON + " -c \"import os; "
    "os.pwrite(os.open('{var}', os.O_RDWR), b'X', 1)\"",
    "fallocate past the end": "fallocate -l 100 {var}",
    "fallocate, keeping the size": "fallocate -n -l 100000 {var}",
    "punch a hole": "fallocate -p -o 1 -l 2 {var}",
}


@pytest.mark.parametrize("change", CHANGES)
def test_every_kind_of_change_wakes(mnt, waiter, change):
    var = os.path.join(mnt, "var")
    put(var, b"value\n")
    w = waiter("py-poll", var, [SLEEP, LONG, SLEEP])
    assert w.next() == NOTHING
    sh(CHANGES[change].format(var=var))
    with open(var, "rb") as f:
        now = f.read()
    assert w.next() == (WOKEN, now)
    assert w.next() == NOTHING
    w.finish()


def test_rdwr_handle_polls_too(mnt, waiter):
    """An O_RDWR handle reads through the page cache, yet polls the
    daemon; a direct-I/O write drops the cache, so its next read from 0
    reaches the daemon and counts."""
    var = os.path.join(mnt, "var")
    put(var, b"1\n")
    w = waiter("py-poll", var, [SLEEP, LONG, SLEEP], mode="rw")
    assert w.next() == NOTHING
    sh(f"echo 2 > {var}")
    assert w.next() == (WOKEN, b"2\n")
    assert w.next() == NOTHING
    w.finish()


@pytest.mark.parametrize("how", ["rename over it", "unlink"])
def test_losing_the_last_name_wakes_with_pollhup(mnt, waiter, how):
    """POLLHUP: the open file has no name left (its value was replaced by
    rename, or removed); the waiter must open the name again."""
    var = os.path.join(mnt, "var")
    put(var, b"old\n")
    w = waiter("py-poll", var, [SLEEP, LONG])
    assert w.next() == NOTHING
    if how == "unlink":
        sh(f"rm {var}")
    else:
        put(var + ".tmp", b"new\n")
        sh(f"mv {var}.tmp {var}")
    assert w.next() == (["HUP"], b"old\n")
    w.finish()
    if how != "unlink":
        with open(var, "rb") as f:
            assert f.read() == b"new\n"


@pytest.mark.parametrize("kind", ["py-poll", "py-epoll", "c-poll"])
def test_ring_waiter_woken_by_append_and_clear(mnt, waiter, kind):
    log = os.path.join(mnt, "log.ring")
    sh(f"echo one >> {log}; echo two >> {log}")
    w = waiter(kind, log, [SLEEP, LONG, SLEEP, LONG], events="in")
    assert w.next() == NOTHING, "it read every record before waiting"
    sh(f"echo rec >> {log}")
    assert w.next() == (["IN"], b"rec\n")
    assert w.next() == NOTHING
    # Cleared under it: its place is past the end (POLLPRI, which it did
    # not ask for, and POLLERR, which poll always reports).
    sh(f": > {log}")
    assert w.next() == (["ERR"], b"")
    w.finish()


def test_ring_readiness_follows_the_reader(mnt):
    log = os.path.join(mnt, "log.ring")
    sh(f"echo a >> {log}")
    out = select.POLLOUT | select.POLLWRNORM
    readable = out | select.POLLIN | select.POLLRDNORM
    fd = os.open(log, os.O_RDONLY)
    try:
        assert revents(fd) == readable, "nothing read yet"
        assert os.read(fd, 100) == b"a\n"
        assert revents(fd) == out
        sh(f"echo b >> {log}")
        assert revents(fd) == readable
        assert os.read(fd, 100) == b"b\n"
        assert revents(fd) == out
        # Cleared: the reader's position is past the end.
        sh(f": > {log}")
        assert revents(fd) == out | CHANGED
        os.lseek(fd, 0, os.SEEK_SET)
        assert os.read(fd, 100) == b""
        assert revents(fd) == out
        sh(f"echo c >> {log}")
        assert revents(fd) == readable
        assert os.read(fd, 100) == b"c\n"
    finally:
        os.close(fd)


def test_every_waiter_of_a_file_wakes(mnt, waiter):
    var = os.path.join(mnt, "var")
    other = os.path.join(mnt, "other")
    put(var, b"1\n")
    put(other, b"x\n")
    ws = [waiter(kind, var, [SLEEP, LONG]) for kind in WAITERS]
    bystander = waiter("py-poll", other, [SLEEP, 2 * SLEEP])
    for w in ws + [bystander]:
        assert w.next() == NOTHING
    sh(f"echo 2 > {var}")
    for w in ws:
        assert w.next() == (WOKEN, b"2\n")
        w.finish()
    assert bystander.next() == NOTHING
    bystander.finish()


def test_a_poller_that_dies_leaves_the_others_waiting(mmfs, waiter):
    """A waiter killed while it sleeps releases its handle with a poll
    handle queued; the daemon destroys it (the ASan and valgrind runs
    fail on a leak), and a second waiter is still woken."""
    m = mmfs()
    var = m.path("var")
    put(var, b"1\n")
    doomed = waiter("py-poll", var, [SLEEP, LONG])
    survivor = waiter("c-poll", var, [SLEEP, LONG])
    assert doomed.next() == NOTHING
    assert survivor.next() == NOTHING
    doomed.proc.send_signal(signal.SIGKILL)
    doomed.proc.wait()
    sh(f"echo 2 > {var}")
    assert survivor.next() == (WOKEN, b"2\n")
    survivor.finish()
    # Another sleeper killed, with no write after it: unmount must free it.
    doomed = waiter("py-epoll", var, [SLEEP, LONG])
    assert doomed.next() == NOTHING
    doomed.kill()
    m.umount()


def test_wake_latency(mnt, pollwait, measure):
    """Two processes hand a number back and forth 200 times, each sleeping
    in poll for the other's replace: every round must arrive, in order."""
    d = os.path.join(mnt, "pingpong")
    os.mkdir(d)
    put(os.path.join(d, "ping"), b"-\n")
    put(os.path.join(d, "pong"), b"-\n")
    rounds = 200
    r = run([pollwait, "pingpong", d, str(rounds)], timeout=120)
    samples = {"wake_ns": [], "round_ns": []}    # both sides print wake_ns
    for line in r.stdout.splitlines():
        key, *values = line.split()
        samples[key] += [int(v) for v in values]
    wake, trip = sorted(samples["wake_ns"]), sorted(samples["round_ns"])
    assert len(wake) == 2 * rounds and len(trip) == rounds, r.stdout

    def us(v, q):
        return v[min(len(v) - 1, int(q * len(v)))] / 1000

    med, p99 = statistics.median(wake) / 1000, us(wake, 0.99)
    measure("poll_wake_median_us", med,
            f"poll: replace to wake in another process, {len(wake)} "
            f"samples: median {med:.1f} us, p99 {p99:.1f} us")
    med, p99 = statistics.median(trip) / 1000, us(trip, 0.99)
    measure("poll_round_trip_median_us", med,
            f"poll: ping-pong round trip, {len(trip)} rounds: "
            f"median {med:.1f} us, p99 {p99:.1f} us")
