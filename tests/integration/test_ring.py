"""Ring logs (*.ring): fixed-size cyclic files that behave like log files.

Driven with the real tools a log file is used with: echo >>, cat, grep,
wc -l, less, tail -n, tail -f and tail -F (GNU tail polls FUSE files with
fstat, so st_size must grow and reads must resume where tail left off),
plus Python for concurrency and the overtaken reader.
"""

import errno
import os
import re
import subprocess
import sys
import time

import pytest

import helpers

CAPACITY_XATTR = "user.mmfs.capacity"


def append(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        assert os.write(fd, text.encode()) == len(text.encode())
    finally:
        os.close(fd)


def records(text):
    """The lines of a ring's content; the last must be complete."""
    assert text == "" or text.endswith("\n"), f"partial last record: {text[-60:]!r}"
    return text.splitlines()


def seqs(lines, prefix="rec "):
    out = []
    for line in lines:
        m = re.fullmatch(re.escape(prefix) + r"(\d+) x*", line)
        assert m, f"not a whole record: {line!r}"
        out.append(int(m.group(1)))
    return out


def set_capacity(path, value):
    helpers.run(["setfattr", "-n", CAPACITY_XATTR, "-v", str(value), path])


def capacity(path):
    return int(os.getxattr(path, CAPACITY_XATTR))


def test_echo_append_cat_grep_wc(mnt):
    p = os.path.join(mnt, "app.ring")
    for i in range(100):
        helpers.run(["bash", "-c", f'echo "rec {i} xx" >> "$1"', "sh", p])
    assert seqs(records(open(p).read())) == list(range(100))
    assert helpers.run(["cat", p]).stdout.count("\n") == 100
    assert helpers.run(["wc", "-l", p]).stdout.split()[0] == "100"
    assert helpers.run(["grep", "-c", "rec 4", p]).stdout.strip() == "11"
    assert helpers.run(["less", "-FX", p]).stdout.splitlines()[-1] == "rec 99 xx"
    assert capacity(p) == 1 << 20
    assert os.stat(p).st_size == sum(len(f"rec {i} xx\n") for i in range(100))


def test_ring_keeps_newest_whole_records_and_never_grows(mmfs):
    m = mmfs(opts=["ring_size=4096"])
    p = m.path("small.ring")
    arena_before = os.stat(m.arena).st_blocks
    total = 0
    for i in range(20000):
        line = f"rec {i} " + "x" * (i % 37) + "\n"
        append(p, line)
        total += len(line)
    text = open(p).read()
    got = seqs(records(text))
    assert got == list(range(got[0], 20000)), "gaps or disorder in the retained records"
    assert len(text) <= 4096 and len(text) > 4096 - 50
    assert os.stat(p).st_size == total, "st_size is the log's total length"
    # writing 20000 records did not grow the arena
    assert os.stat(m.arena).st_blocks - arena_before < 64
    st = os.statvfs(m.mnt)
    assert (st.f_blocks - st.f_bfree) * st.f_frsize < 2 << 20


def test_tail_n_within_retained_lines(mmfs):
    m = mmfs(opts=["ring_size=8192"])
    p = m.path("t.ring")
    for i in range(5000):
        append(p, f"rec {i} xxxx\n")
    out = helpers.run(["tail", "-n", "25", p]).stdout
    assert seqs(records(out)) == list(range(4975, 5000))
    out = helpers.run(["tail", "-c", "13", p]).stdout
    assert out == "rec 4999 xxxx\n"[-13:]


@pytest.mark.parametrize("follow", ["-f", "-F"])
def test_tail_follow_prints_every_record_once_across_wraps(mmfs, follow):
    """tail -f / -F sees each new record exactly once while the ring wraps
    many times (the writer stays within what tail reads per poll)."""
    m = mmfs(opts=["ring_size=2048"])
    p = m.path("f.ring")
    for i in range(30):
        append(p, f"rec {i} xxxxxxxxxxxxxxxxxxxx\n")
    tail = subprocess.Popen(["tail", follow, "-s", "0.05", "-n", "5", p],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(0.5)
    record_len = len("rec 100 xxxxxxxxxxxxxxxxxxxx\n")
    n = 30 + 6 * 2048 // record_len          # more than 6 wraps
    for i in range(30, n):
        append(p, f"rec {i} xxxxxxxxxxxxxxxxxxxx\n")
        time.sleep(0.004)
    time.sleep(1.0)
    tail.terminate()
    out, err = tail.communicate(timeout=10)
    got = seqs(records(out))
    assert got == list(range(25, n)), \
        f"tail {follow}: missing or repeated records: {err}"
    assert "truncated" not in err


def test_reader_overtaken_mid_read_skips_whole_records(mmfs):
    m = mmfs(opts=["ring_size=1024"])
    p = m.path("o.ring")
    for i in range(40):
        append(p, f"rec {i} xxxxxxxxxx\n")
    fd = os.open(p, os.O_RDONLY)
    try:
        first = os.read(fd, 50).decode()     # less than a record boundary
        got = seqs(records(first))
        for i in range(40, 400):             # the writer laps the reader
            append(p, f"rec {i} xxxxxxxxxx\n")
        rest = ""
        while True:
            chunk = os.read(fd, 37).decode()
            if not chunk:
                break
            assert chunk.endswith("\n"), f"partial record {chunk!r}"
            rest += chunk
        got += seqs(records(rest))
    finally:
        os.close(fd)
    assert got == sorted(set(got)), "a record was repeated or reordered"
    assert got[-1] == 399
    skipped_to = got[len(seqs(records(first)))]
    assert skipped_to > 300, "the reader did not skip the evicted records"


def test_concurrent_writers_never_interleave(mmfs):
    m = mmfs()
    p = m.path("c.ring")
    code = ("import os,sys\n"
            "p, k = sys.argv[1], sys.argv[2]\n"
            "fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT)\n"
            "for i in range(3000):\n"
            "    os.write(fd, f'w{k} {i} '.encode() + b'y' * (i % 50) + b'\\n')\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, p, str(k)])
             for k in range(4)]
    for pr in procs:
        assert pr.wait(timeout=120) == 0
    per = {k: [] for k in range(4)}
    for line in records(open(p).read()):
        mt = re.fullmatch(r"w(\d) (\d+) (y*)", line)
        assert mt, f"interleaved or partial record: {line!r}"
        k, i = int(mt.group(1)), int(mt.group(2))
        assert len(mt.group(3)) == i % 50
        per[k].append(i)
    for k in range(4):
        assert per[k] == list(range(3000)), f"writer {k}'s records"


def test_capacity_xattr_and_clear(mmfs):
    m = mmfs()
    p = m.path("x.ring")
    for i in range(1000):
        append(p, f"rec {i} xxxxxxxx\n")
    out = helpers.run(["getfattr", "-n", CAPACITY_XATTR, "--only-values",
                       p]).stdout
    assert out == str(1 << 20)
    assert CAPACITY_XATTR in helpers.run(["getfattr", "-d", p]).stdout
    set_capacity(p, 4096)
    assert capacity(p) == 4096
    got = seqs(records(open(p).read()))
    assert got == list(range(got[0], 1000)) and got[0] > 700
    for bad in ("abc", "10", "0", "-5", "99999999999999"):
        r = helpers.run(["setfattr", "-n", CAPACITY_XATTR, "-v", bad, p],
                        check=False)
        assert r.returncode != 0, f"capacity {bad} accepted"
    assert capacity(p) == 4096
    helpers.run(["bash", "-c", ': > "$1"', "sh", p])
    assert open(p).read() == "" and os.stat(p).st_size == 0
    append(p, "rec 1 xx\n")
    assert open(p).read() == "rec 1 xx\n"
    # a record larger than the capacity is refused whole
    with pytest.raises(OSError) as e:
        append(p, "z" * 5000)
    assert e.value.errno == 27   # EFBIG
    assert open(p).read() == "rec 1 xx\n"
    # the capacity is a property of rings only
    q = m.path("plain")
    append(q, "x")
    r = helpers.run(["setfattr", "-n", CAPACITY_XATTR, "-v", "4096", q],
                    check=False)
    assert r.returncode != 0


def test_capacity_value_is_plain_decimal_text(mmfs):
    """user.mmfs.capacity takes exactly the text getxattr gives: decimal
    digits, nothing before or after them (no sign, space, newline, suffix,
    other base or NUL), and no number past the ring limit."""
    m = mmfs()
    p = m.path("x.ring")
    open(p, "w").close()
    os.setxattr(p, CAPACITY_XATTR, b"0004096")
    assert capacity(p) == 4096
    os.setxattr(p, CAPACITY_XATTR, b"64")
    assert capacity(p) == 64
    os.setxattr(p, CAPACITY_XATTR, b"8192")
    for bad in (b"", b" 4096", b"4096 ", b"4096\n", b"+4096", b"-4096",
                b"0x1000", b"4K", b"4096abc", b"4096\0", b"4096\0junk",
                b"\x004096", b"63", b"18446744073709551615",
                b"18446744073709551616", b"9" * 40):
        try:
            os.setxattr(p, CAPACITY_XATTR, bad)
        except OSError as e:
            assert e.errno == errno.EINVAL, f"capacity {bad!r}: {e}"
        else:
            pytest.fail(f"capacity {bad!r} accepted")
        assert capacity(p) == 8192, f"capacity {bad!r} changed it"


def test_rings_persist_across_remount_and_kill9(mmfs):
    m = mmfs(opts=["ring_size=4096"])
    p = m.path("p.ring")
    for i in range(500):
        append(p, f"rec {i} xxxx\n")
    before = open(p).read()
    m.remount()
    assert open(p).read() == before
    assert capacity(p) == 4096
    for i in range(500, 600):
        append(p, f"rec {i} xxxx\n")
    before = open(p).read()
    m.kill9()
    m.remount()
    assert open(p).read() == before
    assert seqs(records(before))[-1] == 599
