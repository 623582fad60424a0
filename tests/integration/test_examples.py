"""The examples in examples/ run against a real mount and say what they
should."""

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

import conftest
from conftest import REPO
from helpers import PYTHON, run

EXAMPLES = REPO / "examples"


def test_shared_counter_sh_on_a_given_mount(mnt):
    r = run(["bash", EXAMPLES / "shared-counter.sh", "4", "50"],
            env={**os.environ, "MNT": mnt}, timeout=120)
    out = r.stdout
    assert f"mmfs mount: {mnt}" in out
    assert "config/color = blue" in out
    assert "config/port = 8080" in out
    assert "status = ready" in out
    assert "counter: 200 (expected 200)" in out
    # It really used the mount.
    assert open(os.path.join(mnt, "shared-counter", "counter")).read() \
        == "200\n"
    assert open(os.path.join(mnt, "shared-counter", "app", "status")).read() \
        == "ready\n"


def test_shared_counter_sh_mounts_its_own(mmfs_bin):
    env = {k: v for k, v in os.environ.items() if k != "MNT"}
    env["MMFS_BIN"] = mmfs_bin
    r = run(["bash", EXAMPLES / "shared-counter.sh", "3", "20"], env=env,
            timeout=120)
    m = re.search(r"mmfs mount: (\S+)", r.stdout)
    assert m, r.stdout
    assert "counter: 60 (expected 60)" in r.stdout
    # It cleaned up after itself.
    assert not os.path.exists(m.group(1))


def parse_share_state(out):
    torn = re.search(r"^torn reads: (\d+)$", out, re.M)
    back = re.search(r"^went backwards: (\d+)$", out, re.M)
    updates = re.search(r"producer: (\d+) updates", out)
    consumers = re.findall(r"^consumer \d+: (\d+) reads", out, re.M)
    assert torn and back and updates and consumers, out
    return (int(torn.group(1)), int(back.group(1)), int(updates.group(1)),
            [int(c) for c in consumers])


def test_share_state_py_replace_write(mnt):
    d = os.path.join(mnt, "state")
    r = run([PYTHON, EXAMPLES / "share_state.py", d, "--seconds", "2",
             "--consumers", "3"], timeout=120, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    torn, back, updates, consumers = parse_share_state(r.stdout)
    assert torn == 0 and back == 0
    assert updates > 50 and len(consumers) == 3 and min(consumers) > 20, \
        r.stdout
    assert os.path.isfile(os.path.join(d, "state.json"))


def load_share_state():
    """examples/share_state.py as a module: its producer's state and its
    consumers' read."""
    spec = importlib.util.spec_from_file_location(
        "share_state", EXAMPLES / "share_state.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def consumer_sees_torn(data):
    """How share_state.py's consumer judges one read."""
    try:
        json.loads(data)["seq"]
    except (ValueError, KeyError):
        return True
    return False


def test_share_state_py_replace_is_torn_on_tmpfs_not_on_mmfs(mnt, tmpfs_dir):
    """The contrast the example shows, without the race: stop its producer
    in the middle of an update, after open(path, "w") and before the write,
    and read with its consumer.  tmpfs has emptied the file already (a torn
    read); mmfs still shows the previous whole document."""
    ss = load_share_state()
    seen = {}
    for fs, d in (("tmpfs", tmpfs_dir), ("mmfs", mnt)):
        path = os.path.join(d, "state.json")
        with open(path, "w") as f:
            f.write(json.dumps(ss.make_state(0)))
        with open(path, "w") as f:          # the producer's update ...
            seen[fs] = ss.read_value(path)  # ... read half way through
            f.write(json.dumps(ss.make_state(1)))
        assert json.loads(ss.read_value(path))["seq"] == 1, fs
    assert seen["tmpfs"] == b"" and consumer_sees_torn(seen["tmpfs"])
    assert not consumer_sees_torn(seen["mmfs"]), seen["mmfs"][:200]
    assert json.loads(seen["mmfs"])["seq"] == 0


def test_share_state_py_on_tmpfs_reports_what_it_saw(tmpfs_dir, measure):
    """The example itself on tmpfs, as its help suggests, for comparison.
    How many reads land in the window above within a second depends on the
    scheduler (possibly none on a loaded machine), so that count is a
    measurement; what is checked is that the example reports it and exits
    1 exactly when it saw torn reads or values going backwards."""
    r = run([PYTHON, EXAMPLES / "share_state.py", tmpfs_dir, "--seconds",
             "1"], timeout=120, check=False)
    torn, back, updates, consumers = parse_share_state(r.stdout)
    measure("share_state_tmpfs_torn", torn,
            f"share_state.py on tmpfs for 1 s: {torn} torn reads of "
            f"{sum(consumers)}, {updates} updates")
    assert r.returncode == (1 if torn or back else 0), r.stdout + r.stderr
    assert updates > 0 and len(consumers) == 3 and min(consumers) > 0, \
        r.stdout


def test_share_state_py_ring_log(mnt):
    d = os.path.join(mnt, "events")
    r = run([PYTHON, EXAMPLES / "share_state.py", d, "--mode", "ring",
             "--seconds", "2"], timeout=120, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    torn, back, updates, consumers = parse_share_state(r.stdout)
    assert torn == 0 and back == 0 and updates > 50
    assert min(consumers) > 0, r.stdout


def test_ring_tail_sh_follows_a_wrapping_ring(mnt):
    r = run(["bash", EXAMPLES / "ring-tail.sh", "400"],
            env={**os.environ, "MNT": mnt}, timeout=120)
    assert "capacity: 4096 bytes" in r.stdout
    m = re.search(r"logged 400 records; the ring retains (\d+); "
                  r"tail -f printed 400 \(400 distinct\)", r.stdout)
    assert m, r.stdout
    assert int(m.group(1)) < 200, "the ring should have wrapped"
    assert "every record exactly once" in r.stdout


def test_wait_for_change_sh_hands_work_back_and_forth(mnt):
    r = run(["bash", EXAMPLES / "wait-for-change.sh", "40"],
            env={**os.environ, "MNT": mnt}, timeout=120)
    assert "round 3: 3 squared is 9" in r.stdout
    assert "40 rounds, every answer right" in r.stdout
    d = os.path.join(mnt, "wait-for-change")
    # The last answer and the stop request are really in the mount.
    assert open(os.path.join(d, "result")).read() == "1600\n"
    assert open(os.path.join(d, "job")).read() == "stop\n"
    # Neither inotifywait is left behind (the script kills them on its
    # way out; give the signals a moment).
    pattern = f"inotifywait -m -e close_write --format %f {d}"
    for _ in range(50):
        left = run(["pgrep", "-f", pattern], check=False).stdout
        if not left:
            break
        time.sleep(0.1)
    assert left == "", left


def test_wait_for_change_sh_mounts_its_own(mmfs_bin):
    env = {k: v for k, v in os.environ.items() if k != "MNT"}
    env["MMFS_BIN"] = mmfs_bin
    r = run(["bash", EXAMPLES / "wait-for-change.sh", "5"], env=env,
            timeout=120)
    m = re.search(r"mmfs mount: (\S+)", r.stdout)
    assert m and "5 rounds, every answer right" in r.stdout, r.stdout
    assert not os.path.exists(m.group(1))


def test_poll_wait_py_wakes_on_each_change(mnt):
    """poll-wait.py sleeps in its asyncio loop until a variable or a ring
    changes; each change is one line.  Every change is made by another
    process once the line of the previous one is out."""
    var, log = os.path.join(mnt, "var"), os.path.join(mnt, "log.ring")
    with open(var, "w") as f:
        f.write("1\n")
    run(["sh", "-c", f"echo old >> {log}"])
    proc = subprocess.Popen([PYTHON, EXAMPLES / "poll-wait.py", "--changes",
                             "5", var, log], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout.readline() == f"{var} = 1\n"
        assert proc.stdout.readline() == "watching 2 file(s)\n"
        steps = [
            (f"echo 2 > {var}", f"{var} = 2"),
            (f"echo new >> {log}", f"{log} + new"),
            (f"echo 3 > {var}.tmp && mv {var}.tmp {var}", f"{var} = 3"),
            (f"touch {var}", f"{var} = 3"),
            (f"rm {var}", f"{var} removed"),
        ]
        for cmd, line in steps:
            run(["sh", "-c", cmd])
            assert proc.stdout.readline() == line + "\n", cmd
        out, err = proc.communicate(timeout=60)
    finally:
        watchdog.cancel()
        proc.kill()
    assert proc.returncode == 0, err
    assert out == ""


@pytest.mark.parametrize("args", [
    ["shared-counter.sh", "4", "x"],
    ["shared-counter.sh", "0"],
    ["ring-tail.sh", "many"],
    ["wait-for-change.sh", "-3"],
    ["wait-for-change.sh", "07"],
])
def test_examples_refuse_a_bad_count_before_mounting(tmp_path, args):
    """MMFS_BIN is a stand-in that notes being run: the script must refuse
    before it.  (Comparing /proc/self/mounts before and after would see
    the mounts of tests that run beside this one.)"""
    called = tmp_path / "mount.mmfs-was-run"
    fake = tmp_path / "mount.mmfs"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {called}\nexit 1\n")
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "MNT"}
    env["MMFS_BIN"] = str(fake)
    r = run(["bash", EXAMPLES / args[0], *args[1:]], env=env, check=False)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and "positive integer" in r.stderr
    assert r.stdout == ""
    assert not called.exists(), called.read_text()


# -- libmmfs's examples (C ones built by meson in <build>/examples) ---------


def example_bin(name):
    """A C example meson built beside the mount.mmfs under test."""
    build = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(conftest.binary_path()))))
    path = os.path.join(build, "examples", name)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} missing: build it (ninja -C {build})",
                    pytrace=False)
    return path


def cat(path):
    return run(["cat", path]).stdout


def ask(port, line):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(line.encode() + b"\n")
        return s.makefile().readline()


def test_prefork_counter_c_counts_every_request(mnt):
    """4 workers serve 200 requests from 8 clients; each request gets its
    own number from mmfs_add; an admin's cat sees the counters grow while
    they serve and the exact totals afterwards."""
    server = subprocess.Popen([example_bin("prefork_counter"), mnt, "4"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    watchdog = threading.Timer(120, server.kill)
    watchdog.start()
    try:
        first = server.stdout.readline()
        m = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+) with 4 workers\n",
                         first)
        assert m, first + server.stderr.read()
        port = int(m.group(1))
        total = os.path.join(mnt, "prefork", "requests")
        assert cat(total) == "0\n"
        answers, seen = [], []

        def client():
            for _ in range(25):
                answers.append(ask(port, "hello"))

        clients = [threading.Thread(target=client) for _ in range(8)]
        for c in clients:
            c.start()
        while any(c.is_alive() for c in clients):
            seen.append(int(cat(total)))        # the admin, meanwhile
        for c in clients:
            c.join()
        assert seen == sorted(seen), "a counter went backwards"
        numbers = []
        for a in answers:
            m = re.fullmatch(r"request (\d+) served by worker ([1-4])\n", a)
            assert m, a
            numbers.append(int(m.group(1)))
        assert sorted(numbers) == list(range(1, 201)), "lost or twice"
        assert cat(total) == "200\n"
        per_worker = [int(cat(os.path.join(mnt, "prefork", f"worker-{w}",
                                           "requests"))) for w in (1, 2, 3, 4)]
        assert sum(per_worker) == 200
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    finally:
        watchdog.cancel()
        server.kill()
    assert server.returncode == 0, out + err
    for w, n in enumerate(per_worker, 1):
        assert f"worker {w}: {n} requests\n" in out, out
    assert out.endswith("total: 200 requests (workers' sum 200)\n"), out


def test_handover_c_hands_values_back_and_forth(mnt):
    """The consumer sleeps in mmfs_wait; a job written through the mount
    with echo wakes it too, then the producer's 300 rounds."""
    consumer = subprocess.Popen([example_bin("handover"), mnt, "consume"],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(120, consumer.kill)
    watchdog.start()
    try:
        assert consumer.stdout.readline() == "consumer ready\n"
        d = os.path.join(mnt, "handover")
        run(["sh", "-c", 'echo "shell 7" > "$1/job"', "sh", d])
        deadline = time.monotonic() + 10
        while cat(os.path.join(d, "result")) != "shell 7 49\n":
            assert time.monotonic() < deadline, "no answer to the shell"
            time.sleep(0.01)
        r = run([example_bin("handover"), mnt, "produce", "300"],
                timeout=120)
        out, err = consumer.communicate(timeout=60)
    finally:
        watchdog.cancel()
        consumer.kill()
    assert "round 3: 3 squared is 9\n" in r.stdout
    m = re.search(r"^300 hand-overs, every answer right; round trip median "
                  r"(\d+) us$", r.stdout, re.M)
    assert m, r.stdout
    assert consumer.returncode == 0 and out == \
        "consumer: 301 jobs\n", out + err
    assert cat(os.path.join(d, "job")) == "stop\n"
    assert re.fullmatch(r"p\d+ 300 90000\n", cat(os.path.join(d, "result")))


def test_handover_c_producer_may_start_first(mnt):
    """A "stop" and a result left by an earlier run mislead neither; the
    producer sets its first job before any consumer waits."""
    d = os.path.join(mnt, "handover")
    os.mkdir(d)
    run(["sh", "-c", 'echo stop > "$1/job"; echo "p1 1 1" > "$1/result"',
         "sh", d])
    producer = subprocess.Popen([example_bin("handover"), mnt, "produce",
                                 "20"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    consumer = subprocess.Popen([example_bin("handover"), mnt, "consume"],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    try:
        out, err = producer.communicate(timeout=60)
        cout, cerr = consumer.communicate(timeout=60)
    finally:
        producer.kill()
        consumer.kill()
    assert producer.returncode == 0, out + err
    assert "20 hand-overs, every answer right" in out
    assert consumer.returncode == 0, cout + cerr
    assert cout == "consumer ready\nconsumer: 20 jobs\n", cout


def check_lib_workers(out, workers, events):
    for w in range(1, workers + 1):
        assert f"worker {w}: {events} events\n" in out, out
    total = workers * events
    assert f"events: {total} (expected {total})\n" in out, out
    logged = workers * (events // 10)
    assert f"log: {logged} records of this run, in order for every " \
        f"worker\n" in out, out
    assert re.search(r"^the main process woke \d+ times$", out, re.M), out


def test_lib_workers_py_on_a_mount(mnt, libmmfs):
    r = run([PYTHON, EXAMPLES / "lib_workers.py", mnt, "--workers", "4",
             "--events", "500"], env=libmmfs, timeout=120, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    check_lib_workers(r.stdout, 4, 500)
    d = os.path.join(mnt, "lib-workers")
    assert cat(os.path.join(d, "events")) == "2000\n"
    for w in range(1, 5):
        assert cat(os.path.join(d, f"worker-{w}")) == "500\n"
    # The log, read through the mount by grep: 50 records per worker.
    log = run(["grep", "-c", " worker 3 event ",
               os.path.join(d, "log.ring")]).stdout
    assert log == "50\n"
    # A second run starts its counters from zero and skips the first
    # run's records.
    r = run([PYTHON, EXAMPLES / "lib_workers.py", mnt, "--workers", "2",
             "--events", "30"], env=libmmfs, timeout=120, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    check_lib_workers(r.stdout, 2, 30)


def test_lib_workers_py_makes_an_arena_that_mounts(mmfs, libmmfs, tmp_path):
    """--create: no mount at all; then the arena mounts and cat reads what
    the workers counted."""
    arena = tmp_path / "made-by-the-library"
    r = run([PYTHON, EXAMPLES / "lib_workers.py", str(arena), "--create",
             "--workers", "3", "--events", "100"], env=libmmfs, timeout=120,
            check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    check_lib_workers(r.stdout, 3, 100)
    assert oct(os.stat(arena).st_mode & 0o777) == "0o600"
    m = mmfs(arena=arena)
    assert cat(m.path("lib-workers", "events")) == "300\n"


def test_lib_workers_py_says_why_it_cannot_attach(libmmfs, tmp_path):
    r = run([PYTHON, EXAMPLES / "lib_workers.py", str(tmp_path / "none")],
            env=libmmfs, check=False)
    assert r.returncode == 1
    assert "No such file or directory" in r.stderr and r.stdout == ""


@pytest.mark.parametrize("args", [
    ["handover"], ["handover", "/", "eat"], ["handover", "/", "produce", "0"],
    ["handover", "/", "consume", "1"], ["prefork_counter"],
    ["prefork_counter", "/", "0"], ["prefork_counter", "/", "65"],
])
def test_c_examples_refuse_bad_usage(args):
    r = run([example_bin(args[0]), *args[1:]], check=False)
    assert r.returncode == 2 and r.stderr.startswith("usage: ") and \
        r.stdout == "", r
