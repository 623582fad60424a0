"""The Python binding (python/mmfs, mmfs(3) PYTHON) through a real mount.

Each test runs its Python in processes of its own, with the `libmmfs`
fixture's environment (the pytest process may use a sanitized build,
which Python cannot load); what they do is checked through the mount
with cat and system calls.
- attach: a mount point, a directory in one (names relative to it), an
  arena file made with create=True and no daemon; a mount point from a
  process whose heap is not fresh (a multiprocessing worker).
- get: values past the first 4096-byte buffer (the ERANGE retry), 1 MiB,
  and values that change size while being read; set: str and bytes.
- add returns ints and raises OSError(EINVAL) on a non-number.
- wait: True/False, float timeouts, woken by another process; versions.
- records: iterates, stops, grows its buffer, and with timeout=None
  blocks until another process appends.
- every failure is an OSError (subclass) with the right errno; detach
  and the context manager.
"""

import json
import os
import subprocess
import time

import conftest
from helpers import PYTHON, run

PRELUDE = "import errno, json, os, sys, time, mmfs\n"


def py(env, code, *args, timeout=60):
    """Run code (after PRELUDE) in a new Python; its stdout."""
    return run([PYTHON, "-c", PRELUDE + code, *map(str, args)], env=env,
               timeout=timeout).stdout


def py_json(env, code, *args, timeout=60):
    return json.loads(py(env, code, *args, timeout=timeout))


def spawn(env, code, *args):
    return subprocess.Popen([PYTHON, "-c", PRELUDE + code,
                             *map(str, args)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def cat(path):
    return run(["cat", path]).stdout


def test_attach_to_a_mount_point_and_a_directory_in_it(mnt, libmmfs):
    os.makedirs(os.path.join(mnt, "app", "sub"))
    with open(os.path.join(mnt, "app", "sub", "v"), "w") as f:
        f.write("from the mount\n")
    out = py_json(libmmfs, """
top = mmfs.attach(sys.argv[1])
app = mmfs.attach(os.path.join(sys.argv[1], "app"))
res = {"rel": app.get("sub/v").decode(),
       "top": top.get("app/sub/v").decode()}
app.set("new/leaf", "set through app")
res["seen_from_top"] = top.get("app/new/leaf").decode()
try:
    app.get("app/sub/v")        # relative to app: app/app/sub/v
except FileNotFoundError:
    res["outside"] = "ENOENT"
print(json.dumps(res))
""", mnt)
    assert out == {"rel": "from the mount\n", "top": "from the mount\n",
                   "seen_from_top": "set through app", "outside": "ENOENT"}
    assert cat(os.path.join(mnt, "app", "new", "leaf")) == "set through app"
    assert not os.path.exists(os.path.join(mnt, "new"))


def test_attach_to_a_mount_point_from_a_used_heap(mnt, libmmfs):
    """Regression: the prefix of names was read past the end of the mount
    point's path, so a process whose heap had been used (a multiprocessing
    worker of a parent that had attached) put every name under a
    directory named after a stray byte.  The workers leave bytes that are
    not 0 where malloc will put the path, first."""
    out = py(libmmfs, """
import ctypes, multiprocessing
def dirty_heap(path):
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    for size in range(len(path) + 1, len(path) + 9):
        chunks = [libc.malloc(size) for _ in range(16)]
        for c in chunks:
            ctypes.memset(c, ord("q"), size)
        for c in chunks:
            libc.free(c)
def worker(path):
    dirty_heap(path)
    m = mmfs.attach(path)
    m.set("from-worker", "w")
    m.add("count", 1)
parent = mmfs.attach(sys.argv[1])
parent.set("count", "0\\n")
procs = [multiprocessing.Process(target=worker, args=(sys.argv[1],))
         for _ in range(3)]
for p in procs:
    p.start()
for p in procs:
    p.join()
print(parent.get("count").decode(), end="")
""", mnt)
    assert out == "3\n"
    assert sorted(os.listdir(mnt)) == ["count", "from-worker"]
    assert cat(os.path.join(mnt, "from-worker")) == "w"


def test_attach_an_arena_file_with_create_and_no_daemon(libmmfs, tmp_path,
                                                         mmfs):
    arena = tmp_path / "lib.arena"
    out = py_json(libmmfs, """
res = {}
try:
    mmfs.attach(sys.argv[1])
except FileNotFoundError as e:
    res["without_create"] = e.errno
with mmfs.attach(sys.argv[1], create=True) as m:
    m.set("a/b", b"made without a mount\\n")
    res["get"] = m.get("a/b").decode()
with mmfs.attach(sys.argv[1], create=True) as m:   # exists: attached
    res["again"] = m.get("a/b").decode()
print(json.dumps(res))
""", arena)
    assert out == {"without_create": 2, "get": "made without a mount\n",
                   "again": "made without a mount\n"}
    assert os.stat(arena).st_mode & 0o777 == 0o600
    run([conftest.mmfsctl_path(), "check", str(arena)])
    m = mmfs(arena=arena)
    assert cat(m.path("a", "b")) == "made without a mount\n"


def test_get_of_values_past_the_first_buffer(mnt, libmmfs):
    """get starts with 4096 bytes and asks again on ERANGE."""
    sizes = [0, 1, 4095, 4096, 4097, 5000, 65536, 1 << 20]
    for n in sizes:
        with open(os.path.join(mnt, f"v{n}"), "wb") as f:
            f.write(bytes(i % 251 for i in range(n)))   # one write(2)
    out = py_json(libmmfs, """
m = mmfs.attach(sys.argv[1])
res = {}
for n in map(int, sys.argv[2:]):
    data, version = m.get_versioned(f"v{n}")
    assert data == m.get(f"v{n}")
    res[n] = [len(data), data == bytes(i % 251 for i in range(n)),
              version == m.version(f"v{n}")]
print(json.dumps(res))
""", mnt, *sizes)
    assert out == {str(n): [n, True, True] for n in sizes}


def test_get_while_the_value_changes_size(mnt, libmmfs):
    """A setter alternates values of 3000 bytes, 9000 bytes and 1 MiB;
    each get returns one of them whole, whatever size it guessed."""
    values = "[b'a' * 3000, b'b' * 9000, b'c' * (1 << 20)]"
    setter = spawn(libmmfs, f"""
m = mmfs.attach(sys.argv[1])
values = {values}
m.set("v", values[0])
print("ready", flush=True)
k = 0
while not os.path.exists(sys.argv[2]):
    k += 1
    m.set("v", values[k % 3])
""", mnt, os.path.join(mnt, "stop"))
    try:
        assert setter.stdout.readline() == "ready\n"
        out = py_json(libmmfs, f"""
m = mmfs.attach(sys.argv[1])
values = {values}
seen = [values.index(m.get("v")) for _ in range(300)]
print(json.dumps(sorted(set(seen))))
""", mnt, timeout=120)
    finally:
        open(os.path.join(mnt, "stop"), "w").close()
        setter.wait(timeout=60)
    assert setter.returncode == 0, setter.stderr.read()
    assert out and set(out) <= {0, 1, 2}


def test_set_takes_str_and_bytes(mnt, libmmfs):
    assert py(libmmfs, """
m = mmfs.attach(sys.argv[1])
m.set("text", "h\\u00e9llo w\\u00f6rld\\n")
m.set("raw", b"\\x00\\xff\\n")
m.set("buffer", bytearray(b"from a bytearray"))
m.set("empty", "")
try:
    m.set("int", 5)             # not five zero bytes
except TypeError:
    print("TypeError")
""", mnt) == "TypeError\n"
    assert open(os.path.join(mnt, "text"), "rb").read() == \
        "h\u00e9llo w\u00f6rld\n".encode()
    assert open(os.path.join(mnt, "raw"), "rb").read() == b"\x00\xff\n"
    assert cat(os.path.join(mnt, "buffer")) == "from a bytearray"
    assert os.path.getsize(os.path.join(mnt, "empty")) == 0
    assert not os.path.exists(os.path.join(mnt, "int"))


def test_add_returns_ints_and_refuses_a_non_number(mnt, libmmfs):
    with open(os.path.join(mnt, "word"), "w") as f:
        f.write("forty-two\n")
    with open(os.path.join(mnt, "spaced"), "w") as f:
        f.write("  41 \n")
    out = py_json(libmmfs, """
m = mmfs.attach(sys.argv[1])
res = {"new": m.add("n"), "five": m.add("n", 4), "down": m.add("n", -10),
       "spaced": m.add("spaced", 1)}
res["types"] = sorted({type(v).__name__ for v in res.values()})
for name, delta in (("word", 1), ("n", -2**63)):   # -5 - 2**63
    try:
        m.add(name, delta)
    except OSError as e:
        res[name] = [type(e).__name__, errno.errorcode[e.errno], e.filename]
print(json.dumps(res))
""", mnt)
    assert out == {"new": 1, "five": 5, "down": -5, "spaced": 42,
                   "types": ["int"],
                   "word": ["OSError", "EINVAL", "word"],
                   "n": ["OSError", "ERANGE", "n"]}
    assert cat(os.path.join(mnt, "n")) == "-5\n"
    assert cat(os.path.join(mnt, "word")) == "forty-two\n"


def test_versions_change_at_each_commit(mnt, libmmfs):
    out = py_json(libmmfs, """
m = mmfs.attach(sys.argv[1])
m.set("v", "1")
a = m.version("v")
b = m.version("v")
m.set("v", "1")                  # the same bytes: a commit all the same
c = m.version("v")
m.add("c", 1)
d = m.version("c")
m.add("c", 0)
e = m.version("c")
os.utime(os.path.join(sys.argv[1], "v"))   # times are not the value
f = m.version("v")
print(json.dumps([a == b, a != c, d != e, c == f,
                  all(isinstance(x, int) for x in (a, c, d, e, f))]))
""", mnt)
    assert out == [True, True, True, True, True]


WAITER = """
m = mmfs.attach(sys.argv[1])
v = m.version("flag")
print("waiting", flush=True)
t0 = time.monotonic()
woke = m.wait("flag", v, timeout=None if sys.argv[2] == "none"
              else float(sys.argv[2]))
print(json.dumps({"woke": woke, "s": time.monotonic() - t0,
                  "value": m.get("flag").decode()}))
"""


def test_wait_returns_true_or_false_with_float_timeouts(mnt, libmmfs):
    with open(os.path.join(mnt, "flag"), "w") as f:
        f.write("0\n")
    out = py_json(libmmfs, """
m = mmfs.attach(sys.argv[1])
v = m.version("flag")
res = {}
t0 = time.monotonic()
res["timeout"] = [m.wait("flag", v, timeout=0.25), time.monotonic() - t0]
t0 = time.monotonic()
res["zero"] = [m.wait("flag", v, timeout=0), time.monotonic() - t0]
t0 = time.monotonic()
res["differs"] = [m.wait("flag", v + 1, timeout=5.5),
                  time.monotonic() - t0]
try:
    m.wait("flag", v, timeout=-1)
except ValueError:
    res["negative"] = "ValueError"
print(json.dumps(res))
""", mnt)
    assert out["timeout"][0] is False and 0.24 <= out["timeout"][1] < 5
    assert out["zero"][0] is False and out["zero"][1] < 1
    assert out["differs"][0] is True and out["differs"][1] < 1
    assert out["negative"] == "ValueError"


def test_wait_is_woken_by_a_library_set_and_by_the_mount(mnt, libmmfs):
    with open(os.path.join(mnt, "flag"), "w") as f:
        f.write("0\n")
    for how, timeout in (("library", "7.5"), ("mount", "none")):
        w = spawn(libmmfs, WAITER, mnt, timeout)
        try:
            assert w.stdout.readline() == "waiting\n"
            time.sleep(0.2)
            if how == "library":
                py(libmmfs, "mmfs.attach(sys.argv[1]).set('flag', '1\\n')",
                   mnt)
            else:
                run(["sh", "-c", 'echo 2 > "$1"', "sh",
                     os.path.join(mnt, "flag")])
            out = json.loads(w.stdout.readline())
        finally:
            w.kill()
            w.wait()
        assert out["woke"] is True, (how, out)
        assert out["value"] == ("1\n" if how == "library" else "2\n")
        assert 0.15 < out["s"] < 7, (how, out)


def test_records_iterate_grow_and_stop(mnt, libmmfs):
    big = 10000                      # past the iterator's 4096-byte buffer
    out = py_json(libmmfs, """
m = mmfs.attach(sys.argv[1])
for rec in (b"one", b"x" * int(sys.argv[2]), "three\\n"):
    m.append("log.ring", rec)
res = {"all": [len(r) for r in m.records("log.ring")]}
t0 = time.monotonic()
res["waited"] = [len(list(m.records("log.ring", timeout=0.3))),
                 time.monotonic() - t0]
r = m.records("log.ring")
first = next(r)
m.append("log.ring", b"four")
res["live"] = [first.decode()] + [x.decode()[:5] for x in r]
print(json.dumps(res))
""", mnt, big)
    assert out["all"] == [3, big, 6]
    assert out["waited"][0] == 3 and 0.29 <= out["waited"][1] < 5
    assert out["live"] == ["one", "xxxxx", "three", "four"]
    assert open(os.path.join(mnt, "log.ring"), "rb").read() == \
        b"one" + b"x" * big + b"three\nfour"


def test_records_without_timeout_block_until_another_process_appends(
        mnt, libmmfs):
    reader = spawn(libmmfs, """
m = mmfs.attach(sys.argv[1])
m.append("events.ring", b"first\\n")
print("reading", flush=True)
t0 = time.monotonic()
for rec in m.records("events.ring", timeout=None):
    print(json.dumps([rec.decode(), time.monotonic() - t0]), flush=True)
    if rec == b"last\\n":
        break
""", mnt)
    try:
        assert reader.stdout.readline() == "reading\n"
        assert json.loads(reader.stdout.readline())[0] == "first\n"
        time.sleep(0.3)
        py(libmmfs, "mmfs.attach(sys.argv[1]).append('events.ring', "
           "b'from another process\\n')", mnt)
        rec, t = json.loads(reader.stdout.readline())
        assert rec == "from another process\n" and t >= 0.25
        run(["sh", "-c", 'echo last >> "$1"', "sh",
             os.path.join(mnt, "events.ring")])      # through the mount
        assert json.loads(reader.stdout.readline())[0] == "last\n"
        assert reader.wait(timeout=30) == 0
    finally:
        reader.kill()
        reader.wait()


FAILURES = """
m = mmfs.attach(sys.argv[1])
ro = mmfs.attach(sys.argv[1], readonly=True)
res = {}
def check(label, f, *args):
    try:
        f(*args)
        res[label] = "no error"
    except OSError as e:
        res[label] = [type(e).__name__, errno.errorcode.get(e.errno),
                      e.filename]
m.set("file", "1\\n")
os.mkdir(os.path.join(sys.argv[1], "dir"))
m.append("log.ring", b"r")
check("attach missing", mmfs.attach, os.path.join(sys.argv[1], "nope",
                                                  "x"))
check("attach not mmfs", mmfs.attach, "/proc")
check("get missing", m.get, "missing")
check("get dir", m.get, "dir")
check("get ring", m.get, "log.ring")
check("get dotdot", m.get, "dir/../file")
check("set dir", m.set, "dir", "x")
check("set under a file", m.set, "file/x", "x")
check("wait missing", m.wait, "missing", 0, 0.1)
check("version missing", m.version, "missing")
check("append to a file", m.append, "file", b"x")
check("append missing", m.append, "missing", b"x")
check("records missing", m.records, "missing.ring")
check("ro set", ro.set, "file", "2")
check("ro add", ro.add, "file", 1)
check("ro append", ro.append, "log.ring", b"x")
res["ro records"] = len(list(ro.records("log.ring")))
res["ro get"] = ro.get("file").decode()
res["ro wait"] = ro.wait("file", ro.version("file"), timeout=0.05)
res["all OSError"] = all(isinstance(v, list) for v in res.values()
                         if not isinstance(v, (str, int)))
print(json.dumps(res))
"""


def test_every_failure_is_an_oserror_with_its_errno(mnt, libmmfs):
    out = py_json(libmmfs, FAILURES, mnt)
    nope = os.path.join(mnt, "nope", "x")
    assert out == {
        "attach missing": ["FileNotFoundError", "ENOENT", nope],
        "attach not mmfs": ["OSError", "EINVAL", "/proc"],
        "get missing": ["FileNotFoundError", "ENOENT", "missing"],
        "get dir": ["IsADirectoryError", "EISDIR", "dir"],
        "get ring": ["OSError", "EINVAL", "log.ring"],
        "get dotdot": ["OSError", "EINVAL", "dir/../file"],
        "set dir": ["FileExistsError", "EEXIST", "dir"],
        "set under a file": ["NotADirectoryError", "ENOTDIR", "file/x"],
        "wait missing": ["FileNotFoundError", "ENOENT", "missing"],
        "version missing": ["FileNotFoundError", "ENOENT", "missing"],
        "append to a file": ["OSError", "EINVAL", "file"],
        "append missing": ["FileNotFoundError", "ENOENT", "missing"],
        "records missing": ["FileNotFoundError", "ENOENT",
                            "missing.ring"],
        "ro set": ["OSError", "EROFS", "file"],
        "ro add": ["OSError", "EROFS", "file"],
        "ro append": ["OSError", "EROFS", "log.ring"],
        "ro records": 1,             # read-only handles read rings
        "ro get": "1\n",
        "ro wait": False,
        "all OSError": True,
    }
    assert cat(os.path.join(mnt, "file")) == "1\n"


def test_attach_without_permission_is_a_permission_error(mmfs, libmmfs,
                                                         tmp_path):
    """The arena is 0600 root's; another user may use the mount's files
    (allow_other) but not attach, not even read-only."""
    m = mmfs(opts=["allow_other"])
    os.chmod(tmp_path, 0o755)
    with open(m.path("public"), "w") as f:
        f.write("everyone reads this\n")
    code = PRELUDE + """
res = {"cat": open(os.path.join(sys.argv[1], "public")).read()}
for ro in (False, True):
    for target in sys.argv[1:]:
        try:
            mmfs.attach(target, readonly=ro)
            res[f"{target} {ro}"] = "attached"
        except PermissionError as e:
            res[f"{target} {ro}"] = errno.errorcode[e.errno]
print(json.dumps(res))
"""
    out = json.loads(run(["setpriv", "--reuid=12345", "--regid=12345",
                          "--clear-groups", PYTHON, "-c", code, m.mnt,
                          m.arena], env=libmmfs).stdout)
    assert out.pop("cat") == "everyone reads this\n"
    assert set(out.values()) == {"EACCES"}, out


def test_detach_and_the_context_manager(mnt, libmmfs):
    out = py_json(libmmfs, """
res = {}
m = mmfs.attach(sys.argv[1])
m.set("v", "x")
m.append("log.ring", b"r")
records = m.records("log.ring")     # a reader of the arena, left open
m.detach()
m.detach()                          # twice: nothing happens
for label, call in (("get", lambda: m.get("v")),
                    ("set", lambda: m.set("v", "y")),
                    ("records", lambda: m.records("log.ring")),
                    ("open reader", lambda: next(records))):
    try:
        call()
        res[label] = "no error"
    except ValueError as e:
        res[label] = str(e)
with mmfs.attach(sys.argv[1]) as c:
    res["inside"] = c.get("v").decode()
try:
    c.get("v")
except ValueError:
    res["after with"] = "ValueError"
print(json.dumps(res))
""", mnt)
    assert out == {"get": "arena is detached", "set": "arena is detached",
                   "records": "arena is detached",
                   "open reader": "arena is detached", "inside": "x",
                   "after with": "ValueError"}
    assert cat(os.path.join(mnt, "v")) == "x"
