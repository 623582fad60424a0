"""Guarantee 4: flock(2) and fcntl(2) locks coordinate processes.

Four processes each add 1 to a counter file 200 times under a lock; the
counter must end at exactly 800.  Without the lock increments get lost,
which the control test shows (so the workload really races)."""

import fcntl
import os
import subprocess
import time


from helpers import run, spawn_worker, worker_result

PROCS, N = 4, 200


def run_counter(path, worker):
    with open(path, "w") as f:
        f.write("0\n")
    procs = [spawn_worker(worker, path, N) for _ in range(PROCS)]
    for p in procs:
        worker_result(p, timeout=120)
    with open(path) as f:
        return int(f.read())


def test_flock_counter(mnt):
    assert run_counter(os.path.join(mnt, "counter"), "counter-flock") \
        == PROCS * N


def test_fcntl_lockf_counter(mnt):
    assert run_counter(os.path.join(mnt, "counter"), "counter-lockf") \
        == PROCS * N


def test_flock1_shell_counter(mnt):
    """The shell idiom: flock(1) around cat / echo >."""
    counter = os.path.join(mnt, "shcounter")
    with open(counter, "w") as f:
        f.write("0\n")
    body = (f'for i in $(seq 50); do flock "{counter}" '
            f'sh -c \'n=$(cat "{counter}"); echo $((n+1)) > "{counter}"\'; '
            f'done')
    procs = [subprocess.Popen(["sh", "-c", body]) for _ in range(4)]
    for p in procs:
        assert p.wait(timeout=120) == 0
    assert open(counter).read() == "200\n"


def test_locks_conflict_between_processes(mnt):
    p = os.path.join(mnt, "lockme")
    open(p, "w").close()
    fd = os.open(p, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        r = run(["flock", "-n", p, "true"], check=False)
        assert r.returncode != 0, "flock -n got a lock that is held"
        fcntl.flock(fd, fcntl.LOCK_UN)
        run(["flock", "-n", p, "true"])
        fcntl.lockf(fd, fcntl.LOCK_EX)
        probe = ("import fcntl, os, sys\n"
                 "fd = os.open(sys.argv[1], os.O_RDWR)\n"
                 "try:\n"
                 "    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
                 "    print('got')\n"
                 "except OSError:\n"
                 "    print('busy')\n")
        r = run(["/usr/bin/python3", "-c", probe, p])
        assert r.stdout.strip() == "busy"
        fcntl.lockf(fd, fcntl.LOCK_UN)
        r = run(["/usr/bin/python3", "-c", probe, p])
        assert r.stdout.strip() == "got"
    finally:
        os.close(fd)


def test_unlocked_control_loses_increments(tmpfs_dir, measure):
    """Control: the same read-modify-write without locks loses updates
    (here on tmpfs, to keep the mmfs run short), so the locked tests above
    would catch locks that do not exclude."""
    path = os.path.join(tmpfs_dir, "c")
    with open(path, "w") as f:
        f.write("%08d" % 0)
    # Fixed-width values through one O_RDWR descriptor: no lock, so
    # concurrent read-modify-write steps overwrite each other's increments.
    loops = 50_000
    body = ("import os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR)\n"
            "while time.time() < float(sys.argv[2]):\n"   # start together
            "    pass\n"
            f"for _ in range({loops}):\n"
            "    n = int(os.pread(fd, 8, 0))\n"
            "    os.pwrite(fd, b'%08d' % (n + 1), 0)\n")
    start = time.time() + 0.5
    procs = [subprocess.Popen(["/usr/bin/python3", "-c", body, path,
                               str(start)])
             for _ in range(PROCS)]
    for p in procs:
        assert p.wait(timeout=120) == 0
    final = int(open(path).read())
    measure("unlocked_counter", final,
            f"unlocked counter on tmpfs: {final} of {PROCS * loops}")
    assert 0 < final < PROCS * loops
