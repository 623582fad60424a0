"""Guarantees 1 and 2: what concurrent readers can see of writes.

1. A single write(2) is atomic for readers that open O_RDONLY, read once
   and close: they see all of it or none of it.
2. Replacing a value the way every language does (O_TRUNC, one write,
   close) never shows readers an empty or mixed value on mmfs.  The same
   workload on tmpfs shows how often plain file systems do.
"""

import os
import subprocess

import pytest

from helpers import (LARGE_VALUE, SMALL_VALUE, pattern, spawn_worker,
                     worker_result)

READERS = 3


# 1020 KiB (255 pages) is the largest write the kernel sends as ONE request
# whatever the alignment of the writer's buffer (max_pages is 256); mmfs(7)
# promises 1 MiB.
@pytest.mark.parametrize("size", [4097, 65536, 255 * 4096, 1 << 20],
                         ids=["4097B", "64KiB", "1020KiB", "1MiB-page-aligned"])
def test_single_write_is_atomic_for_readers(mnt, measure, size):
    p = os.path.join(mnt, "var")
    with open(p, "wb") as f:
        f.write(pattern(25, size))
    # Rounds of 1.5 s until readers raced enough writes (a loaded machine
    # needs more than one): the test means something only then.
    writes = reads = bad = distinct = 0
    samples = []
    for _ in range(6):
        writer = spawn_worker("pwrite-writer", p, size, 1.5)
        readers = [spawn_worker("pwrite-reader", p, size, 1.5)
                   for _ in range(READERS)]
        w = worker_result(writer)
        rs = [worker_result(r) for r in readers]
        writes += w["writes"]
        reads += sum(r["reads"] for r in rs)
        bad += sum(r["bad"] for r in rs)
        distinct = max([distinct] + [r["distinct"] for r in rs])
        samples += [s for r in rs for s in r["samples"]]
        if writes >= 20 and reads >= 60:
            break
    measure(f"atomic_write_{size}_bad", bad,
            f"single write of {size} B: {writes} writes, {reads} reads,"
            f" {bad} torn, {distinct} distinct values seen")
    assert bad == 0, samples[:5]
    assert writes >= 20 and reads >= 60, (writes, reads)
    assert distinct >= 3, "readers never saw the value change"


def replace_workload(d, seconds=3.0):
    """1 writer alternating SMALL_VALUE / LARGE_VALUE by open(p, "w").write,
    READERS readers doing open/read/close; returns the counts."""
    p = os.path.join(d, "var")
    with open(p, "w") as f:
        f.write(SMALL_VALUE.decode())
    writer = spawn_worker("replace-writer", p, seconds)
    readers = [spawn_worker("replace-reader", p, seconds)
               for _ in range(READERS)]
    w = worker_result(writer)
    rs = [worker_result(r) for r in readers]
    total = {k: sum(r[k] for r in rs)
             for k in ("reads", "small", "large", "empty", "mixed")}
    total["writes"] = w["writes"]
    total["samples"] = [s for r in rs for s in r["samples"]][:5]
    total["bad"] = total["empty"] + total["mixed"]
    total["fraction"] = total["bad"] / max(1, total["reads"])
    return total


def describe(fs, t):
    return (f"replace-write on {fs}: {t['writes']} writes, {t['reads']} reads:"
            f" {t['small']} small, {t['large']} large, {t['empty']} empty,"
            f" {t['mixed']} mixed -> bad fraction {t['fraction']:.3f}")


def test_replace_write_is_never_seen_empty_or_mixed(mnt, tmpfs_dir, measure):
    tmpfs = replace_workload(tmpfs_dir)
    measure("tmpfs_bad_fraction", round(tmpfs["fraction"], 4),
            describe("tmpfs", tmpfs))
    mmfs = replace_workload(mnt)
    measure("mmfs_bad_fraction", round(mmfs["fraction"], 4),
            describe("mmfs", mmfs))
    assert mmfs["bad"] == 0, mmfs["samples"]
    assert mmfs["writes"] >= 50 and mmfs["reads"] >= 150, mmfs
    assert mmfs["small"] > 0 and mmfs["large"] > 0, \
        "readers never saw both values"
    # On tmpfs the same workload reliably goes wrong (O_TRUNC empties the
    # file before the write); that it does shows the workload races.
    assert tmpfs["bad"] > 0, describe("tmpfs", tmpfs)


def test_deferred_truncate_survives_dup_and_close(mnt):
    """The shell's `echo v > var` opens var with O_TRUNC, dup2()s it onto
    stdout and closes the original descriptor before writing: that close
    (a FUSE FLUSH) must not apply the deferred truncation."""
    p = os.path.join(mnt, "var")
    with open(p, "w") as f:
        f.write("old\n")
    fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
    try:
        assert open(p).read() == "old\n"
        os.close(os.dup(fd))
        assert open(p).read() == "old\n", \
            "closing a dup of an O_TRUNC descriptor emptied the file"
        os.write(fd, b"new\n")
    finally:
        os.close(fd)
    assert open(p).read() == "new\n"
    # Nothing written at all: the truncation happens at the last close.
    fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
    os.close(os.dup(fd))
    os.close(fd)
    assert open(p).read() == ""


def test_shell_echo_replace_is_never_seen_empty(mnt, measure):
    """`echo v > var` from a shell loop, readers in Python."""
    p = os.path.join(mnt, "var")
    with open(p, "w") as f:
        f.write(SMALL_VALUE.decode())
    small = SMALL_VALUE.decode().rstrip("\n")
    large = LARGE_VALUE.decode().rstrip("\n")
    script = (f"SECONDS=0; n=0; "
              f"while [ \"$SECONDS\" -lt 3 ]; do "
              f'echo {small} > "$1"; echo {large} > "$1"; n=$((n+2)); done; '
              f'echo "{{\\"writes\\": $n}}"')
    writer = subprocess.Popen(["bash", "-c", script, "bash", p],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    readers = [spawn_worker("replace-reader", p, 2.5) for _ in range(READERS)]
    rs = [worker_result(r) for r in readers]
    w = worker_result(writer)
    bad = sum(r["empty"] + r["mixed"] for r in rs)
    reads = sum(r["reads"] for r in rs)
    measure("shell_echo_bad", bad,
            f"echo > var on mmfs: {w['writes']} writes, {reads} reads, "
            f"{bad} empty or mixed")
    assert bad == 0, [r["samples"] for r in rs]
    assert sum(r["small"] for r in rs) and sum(r["large"] for r in rs)
