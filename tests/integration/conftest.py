"""Fixtures for the mmfs integration tests.

The binary is $MMFS_BIN, or <repo>/build/src/fs/mount.mmfs.  A missing
binary fails every test that needs it (it is a build bug, not a reason to
skip).

`mmfs` is a factory: `m = mmfs(arena=None, opts=(), foreground=True)` mounts
an arena (default: a fresh one in the test's tmp_path) at a private mount
point and returns a Mount with .mnt, .arena, .proc, .stderr, .umount(),
.kill9() and .remount().  Every mount gets `-o size=64M` unless the test
gives a size.  At teardown every mount is unmounted (fusermount3 -u, then
-uz), its daemon waited for and killed if need be; then the test FAILS if a
daemon's stderr shows an error or sanitizer report, or if a daemon died
during the test without being told to.
"""

import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import helpers

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "build" / "src" / "fs" / "mount.mmfs"
BAD_STDERR = ("ERROR", "AddressSanitizer", "runtime error:", "LeakSanitizer")
MOUNT_TIMEOUT = 10.0
DEFAULT_SIZE = "64M"

# Lines that tests want shown at the end of the run (with or without -s).
MEASUREMENTS = []

# MMFS_VALGRIND=1: every daemon the mmfs fixture starts runs under valgrind's
# memcheck, logging to <tmp_path>/valgrind-<mountpoint>-<pid>.log; the test
# fails if a log reports an error (a definite leak counts as one).  Leaks are
# checked for foreground daemons only: the parent that a background mount
# leaves behind exits (_exit in fuse_daemonize) with the arena still mapped,
# and memcheck's leak scan of that sparse mapping takes minutes (and reports
# the parent's strings as lost).  Everything is slower under valgrind, so the
# timeouts for mounting and exiting grow.
VALGRIND = os.environ.get("MMFS_VALGRIND", "") not in ("", "0")
if VALGRIND:
    MOUNT_TIMEOUT = 60.0
# A daemon flushes an on-disk arena (msync, fdatasync) before it exits,
# which a loaded disk can stretch to seconds: a hang is what outlasts this.
EXIT_TIMEOUT = 60 if VALGRIND else 30
VALGRIND_ERRORS = re.compile(
    r"ERROR SUMMARY: [1-9]|Invalid (read|write|free)|uninitialised|"
    r"Syscall param|Mismatched free|overlap|definitely lost in|"
    r"Process terminating with default action")


def valgrind_argv(logdir, mnt, foreground):
    """The valgrind command that MMFS_VALGRIND puts before the daemon's."""
    if not VALGRIND:
        return []
    log = os.path.join(str(logdir),
                       f"valgrind-{os.path.basename(mnt)}-%p.log")
    return ["valgrind", "--error-exitcode=99", "--num-callers=30",
            "--leak-check=full" if foreground else "--leak-check=no",
            "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite", f"--log-file={log}"]


def valgrind_reports(logdir, mnt):
    """[(path, text)] of the valgrind logs of the daemons of mnt that
    report an error."""
    found = []
    pattern = os.path.join(str(logdir),
                           f"valgrind-{os.path.basename(mnt)}-*.log")
    for p in sorted(glob.glob(pattern)):
        try:
            text = Path(p).read_text(errors="replace")
        except OSError:
            continue
        if VALGRIND_ERRORS.search(text):
            found.append((p, text))
    return found


def sanitizer_logs(pids):
    """Sanitizer reports written to files (ASAN_OPTIONS/UBSAN_OPTIONS/
    TSAN_OPTIONS log_path=P writes P.PID) by the given daemon pids:
    [(path, text)]."""
    found = []
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
        for opt in os.environ.get(var, "").split(":"):
            if opt.startswith("log_path="):
                base = opt[len("log_path="):]
                for pid in pids:
                    for p in glob.glob(f"{base}.{pid}*"):
                        try:
                            text = Path(p).read_text(errors="replace")
                        except OSError:
                            continue
                        if text.strip():
                            found.append((p, text))
    return found


def binary_path():
    return os.environ.get("MMFS_BIN") or str(DEFAULT_BIN)


def mmfsctl_path():
    """$MMFSCTL_BIN, else the mmfsctl of the build that made the
    mount.mmfs under test (build-ci/, build-asan/, ...)."""
    env = os.environ.get("MMFSCTL_BIN")
    if env:
        return env
    fs_dir = os.path.dirname(os.path.abspath(binary_path()))
    return os.path.join(os.path.dirname(fs_dir), "tools", "mmfsctl")


def built_program(name):
    """A program of tests/integration/meson.build, from the build that
    made the mount.mmfs under test."""
    fs_dir = os.path.dirname(os.path.abspath(binary_path()))
    build = os.path.dirname(os.path.dirname(fs_dir))
    return os.path.join(build, "tests", "integration", name)


def _sanitized(lib):
    """Does the shared library need a sanitizer's runtime (ASan, TSan)?
    Python cannot load such a library."""
    try:
        out = subprocess.run(["ldd", lib], capture_output=True, text=True,
                             timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return True
    return "libasan" in out or "libtsan" in out


def libmmfs_path():
    """$MMFS_LIBRARY, else the libmmfs of the build under test, else (that
    build is sanitized: Python cannot load it) a plain build's: the C API
    runs under the sanitizers in the unit tests (test_lib.c)."""
    env = os.environ.get("MMFS_LIBRARY")
    if env:
        return env
    fs_dir = os.path.dirname(os.path.abspath(binary_path()))
    own = os.path.join(os.path.dirname(fs_dir), "lib", "libmmfs.so")
    for lib in [own] + [str(REPO / d / "src" / "lib" / "libmmfs.so")
                        for d in ("build-ci", "build")]:
        if os.path.exists(lib) and not _sanitized(lib):
            return lib
    return None


@pytest.fixture(scope="session")
def libmmfs():
    """The environment for Python programs that import mmfs (the binding
    in python/, over libmmfs_path())."""
    lib = libmmfs_path()
    if lib is None:
        pytest.fail("no unsanitized libmmfs.so: build one (meson, ninja) "
                    "or set MMFS_LIBRARY", pytrace=False)
    env = dict(os.environ, MMFS_LIBRARY=lib,
               PYTHONPATH=str(REPO / "python"))
    return env


@pytest.fixture(scope="session")
def mmfs_bin():
    path = binary_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"mount.mmfs not found or not executable at {path}: "
                    f"build it (meson setup build && ninja -C build) or set "
                    f"MMFS_BIN", pytrace=False)
    return path


def new_mountpoint():
    """A private, empty mount point that every user may traverse (the
    permission tests run commands as another user)."""
    d = tempfile.mkdtemp(prefix="mmfs-mnt-", dir="/tmp")
    os.chmod(d, 0o755)
    return d


class Mount:
    """One mmfs mount: an arena served at a mount point by a daemon."""

    def __init__(self, binary, arena, mnt, opts, foreground, logdir,
                 pass_arena=True):
        self.binary = binary
        self.arena = str(arena) if arena is not None else None
        self.mnt = mnt
        self.opts = list(opts)
        self.foreground = foreground
        self.pass_arena = pass_arena
        self.logdir = Path(logdir)
        self.proc = None          # Popen of a foreground daemon
        self.pid = None           # the daemon's pid (either kind)
        self.pids = []            # every daemon this mount started
        self.binary_args = []     # extra flags, e.g. ["-d"]
        self.logs = []            # one stderr file per start
        self.returncodes = []     # exit codes of foreground daemons
        self.unexpected = []      # daemons that died on their own
        self._expect_exit = False

    # -- the daemon's command line and output ------------------------------

    def argv(self, opts=None):
        opts = self.opts if opts is None else opts
        args = valgrind_argv(self.logdir, self.mnt, self.foreground) + \
            [self.binary] + list(self.binary_args)
        if self.foreground:
            args.append("-f")
        if opts:
            args += ["-o", ",".join(opts)]
        if self.pass_arena:
            args.append(self.arena)
        args.append(self.mnt)
        return args

    @property
    def stderr(self):
        """Everything the daemon(s) of this mount wrote on stderr/stdout."""
        out = []
        for p in self.logs:
            try:
                out.append(Path(p).read_text(errors="replace"))
            except OSError:
                pass
        return "".join(out)

    # -- mounting ----------------------------------------------------------

    def start(self):
        log = self.logdir / f"daemon-{os.path.basename(self.mnt)}-{len(self.logs)}.log"
        self.logs.append(log)
        self._expect_exit = False
        with open(log, "wb") as out:
            if self.foreground:
                self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                             stdout=out, stderr=out)
                self.pid = self.proc.pid
                self.pids.append(self.pid)
                self._wait_mounted()
            else:
                # mount.mmfs returns once mounted; its daemon lives on.
                self.proc = None
                res = subprocess.run(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=out, timeout=30)
                self.start_returncode = res.returncode
                self.ready_at_return = os.path.ismount(self.mnt)
                if res.returncode != 0:
                    self._expect_exit = True
                    pytest.fail(f"{' '.join(self.argv())} exited "
                                f"{res.returncode}:\n{self.stderr}")
                pids = helpers.wait_for(
                    lambda: helpers.pids_of(self.binary, self.mnt), 5)
                self.pid = pids[0] if pids else None
                self.pids += pids[:1]
                self._wait_mounted()
        return self

    def _wait_mounted(self):
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                self.returncodes.append(self.proc.returncode)
                self.proc = None
                self._expect_exit = True      # reported here, not again
                pytest.fail(f"mount.mmfs exited {self.returncodes[-1]} "
                            f"before mounting {self.mnt}:\n{self.stderr}")
            if os.path.ismount(self.mnt):
                return
            time.sleep(0.02)
        self._expect_exit = True
        pytest.fail(f"{self.mnt} not mounted after {MOUNT_TIMEOUT}s:\n"
                    f"{self.stderr}")

    @property
    def mounted(self):
        return helpers.mounted(self.mnt)

    def alive(self):
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and helpers.pid_alive(self.pid)

    def _note_death(self):
        """Record a daemon that died while nobody told it to."""
        if self.pid is not None and not self._expect_exit and not self.alive():
            rc = self.proc.returncode if self.proc is not None else "?"
            self.unexpected.append(f"daemon {self.pid} of {self.mnt} died "
                                   f"during the test (exit {rc})")
            self._expect_exit = True

    def _wait_exit(self, timeout):
        """Wait for the daemon to exit; return its exit code (None if it
        was a background daemon, False if it did not exit)."""
        if self.proc is not None:
            try:
                rc = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return False
            self.returncodes.append(rc)
            self.proc = None
            return rc
        if self.pid is None:
            return None
        if helpers.wait_for(lambda: not helpers.pid_alive(self.pid), timeout):
            return None
        return False

    def expect_exit(self):
        """The test itself ends the daemon (unmounting it behind the Mount's
        back): its exit is not a death to report."""
        self._note_death()
        self._expect_exit = True

    def umount(self, how="fusermount", check=True):
        """Unmount (fusermount3 -u, or umount(8) with how="umount") and wait
        for the daemon to exit.  With check, assert that both worked and the
        foreground daemon exited 0; return the exit code."""
        self._note_death()
        self._expect_exit = True
        res = None
        if self.mounted:
            cmd = ["umount", self.mnt] if how == "umount" else \
                ["fusermount3", "-u", self.mnt]
            res = subprocess.run(cmd, capture_output=True, text=True,
                                 timeout=30)
            if res.returncode != 0 and not check:
                subprocess.run(["fusermount3", "-u", "-z", self.mnt],
                               capture_output=True, timeout=30)
        rc = self._wait_exit(EXIT_TIMEOUT)
        where = ""
        if rc is False:
            where = helpers.threads_waiting(self.pid) + "\nlocks: " + \
                helpers.arena_lock_holders(self.arena)
            self._kill()
        if check:
            assert res is None or res.returncode == 0, \
                f"{res.args} failed: {res.stderr}"
            assert rc is not False, \
                f"daemon did not exit within {EXIT_TIMEOUT} s of unmount " \
                f"(its threads: {where}):\n{self.stderr}"
            assert rc in (0, None), \
                f"daemon exited {rc} after unmount:\n{self.stderr}"
            assert not self.mounted
        return rc

    def _kill(self):
        if self.pid is not None and self.alive():
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._wait_exit(EXIT_TIMEOUT)

    def kill9(self, lazy_umount=True):
        """SIGKILL the daemon; then (by default) fusermount3 -u -z the dead
        mount, as an administrator would."""
        self._note_death()
        assert self.alive(), "kill9: the daemon is not running"
        self._expect_exit = True
        os.kill(self.pid, signal.SIGKILL)
        rc = self._wait_exit(EXIT_TIMEOUT)
        assert rc is not False, "daemon survived SIGKILL?"
        if lazy_umount and self.mounted:
            helpers.run(["fusermount3", "-u", "-z", self.mnt])

    def remount(self, opts=None):
        """Unmount if mounted (a dead mount lazily), then mount the same
        arena at the same place again, with new options if given."""
        if self.alive():
            self.umount()
        elif self.mounted:
            helpers.run(["fusermount3", "-u", "-z", self.mnt])
        if opts is not None:
            self.opts = list(opts)
        return self.start()

    def cleanup(self):
        """Best-effort teardown: unmount, wait, kill."""
        self._note_death()
        self._expect_exit = True
        if self.mounted:
            r = subprocess.run(["fusermount3", "-u", self.mnt],
                               capture_output=True, timeout=30)
            if r.returncode != 0:
                subprocess.run(["fusermount3", "-u", "-z", self.mnt],
                               capture_output=True, timeout=30)
        if self._wait_exit(EXIT_TIMEOUT) is False:
            self._kill()
        if self.mounted:
            subprocess.run(["umount", "-l", self.mnt], capture_output=True,
                           timeout=30)

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def __repr__(self):
        return f"<Mount {self.arena} on {self.mnt}>"


# Test mounts serve on several threads unless a test says otherwise,
# whatever this machine's default (half its CPUs): the suite, under
# ThreadSanitizer too, exercises the concurrent daemon.
TEST_THREADS = os.environ.get("MMFS_TEST_THREADS", "4")


def with_size(opts, size=DEFAULT_SIZE):
    opts = list(opts or ())
    if size and not any(o.startswith("size=") for o in opts):
        opts.insert(0, f"size={size}")
    if TEST_THREADS and not any(o.startswith("threads=") for o in opts):
        opts.append(f"threads={TEST_THREADS}")
    return opts


@pytest.fixture
def mmfs(mmfs_bin, tmp_path):
    """Factory: mmfs(arena=None, opts=(), foreground=True, size="64M",
    pass_arena=True) -> Mount (already mounted).  Several mounts per test
    are fine; each has its own mount point."""
    mounts = []
    mountpoints = []

    def factory(arena=None, opts=(), foreground=True, size=DEFAULT_SIZE,
                pass_arena=True, start=True):
        if arena is None and pass_arena:
            arena = tmp_path / f"arena{len(mounts)}"
        mnt = new_mountpoint()
        mountpoints.append(mnt)
        m = Mount(mmfs_bin, arena, mnt, with_size(opts, size), foreground,
                  tmp_path, pass_arena=pass_arena)
        mounts.append(m)
        if start:
            m.start()
        return m

    try:
        yield factory
    finally:
        problems = []
        for m in mounts:
            try:
                m.cleanup()
            except Exception as e:  # keep tearing down the others
                problems.append(f"cleanup of {m} failed: {e!r}")
            problems += m.unexpected
            text = m.stderr
            for bad in BAD_STDERR:
                if bad in text:
                    problems.append(f"daemon stderr of {m} contains {bad!r}:\n"
                                    f"{text[-4000:]}")
                    break
            for path, report in sanitizer_logs(m.pids):
                problems.append(f"sanitizer report {path} from a daemon of "
                                f"{m}:\n{report[:4000]}")
            for path, report in valgrind_reports(m.logdir, m.mnt):
                problems.append(f"valgrind report {path} from a daemon of "
                                f"{m}:\n{report[-6000:]}")
        for d in mountpoints:
            if not helpers.mounted(d):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def mnt(mmfs):
    """A fresh default mount (64 MiB arena); the mount point's path."""
    return mmfs().mnt


@pytest.fixture
def run_mmfs(mmfs_bin, tmp_path):
    """Run mount.mmfs with arguments that should make it fail, with a
    timeout; returns CompletedProcess.  If it mounted something anyway at
    one of the given paths, that is unmounted and the test fails."""
    started = []

    def runner(*args, timeout=20):
        argv = [mmfs_bin] + [str(a) for a in args]
        try:
            res = subprocess.run(argv, stdin=subprocess.DEVNULL,
                                 capture_output=True, text=True,
                                 timeout=timeout)
        except subprocess.TimeoutExpired as e:
            started.append(argv)
            for a in args:
                if isinstance(a, (str, Path)) and helpers.mounted(str(a)):
                    subprocess.run(["fusermount3", "-u", "-z", str(a)],
                                   capture_output=True)
            pytest.fail(f"{argv} did not exit within {timeout}s "
                        f"(stderr so far: {e.stderr!r})")
        for a in args:
            if isinstance(a, (str, Path)) and helpers.mounted(str(a)):
                subprocess.run(["fusermount3", "-u", str(a)],
                               capture_output=True)
                helpers.wait_for(lambda: not helpers.pids_of(mmfs_bin, str(a)),
                                 10)
                pytest.fail(f"{argv} mounted {a} (rc {res.returncode}), "
                            f"expected a refusal; stderr: {res.stderr!r}")
        return res

    return runner


@pytest.fixture
def tmpfs_dir():
    """A scratch directory on tmpfs (/dev/shm), for comparisons."""
    d = tempfile.mkdtemp(prefix="mmfs-tmpfs-", dir="/dev/shm")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def measure(record_property):
    """measure(key, value, text): record a measurement as a JUnit property
    and print it in the run's closing summary."""
    def rec(key, value, text):
        record_property(key, value)
        MEASUREMENTS.append(text)
        print(text)
    return rec


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "long: a long crash or race loop; scripts/test runs it "
        "in the plain and ASan stages only (see its usage)")


def pytest_terminal_summary(terminalreporter):
    if MEASUREMENTS:
        terminalreporter.section("mmfs measurements")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)
