"""An arena of format version 1 (tests/unit/data/v1-arena, written by a
version-1 mount.mmfs) through the real programs: a read-only mount and
mmfsctl refuse it and say how to upgrade; a read-write mount without room
for the upgrade refuses it and names size=; one with room upgrades it,
says so, and lists every directory in the order version 1 did."""

import os
import shutil
from pathlib import Path

import helpers
from conftest import mmfsctl_path

DATA = Path(__file__).resolve().parents[1] / "unit" / "data"


def one_line(res):
    assert res.returncode == 1, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


def test_version_1_arena_is_upgraded_by_a_read_write_mount(mmfs, run_mmfs,
                                                           tmp_path):
    arena = tmp_path / "v1.arena"
    shutil.copyfile(DATA / "v1-arena", arena)
    before = helpers.sha256_file(arena)
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)

    line = one_line(run_mmfs("-f", "-o", "ro", arena, mnt))
    assert "version 1" in line and "read-write mount" in line, line
    line = one_line(helpers.run([mmfsctl_path(), "stat", str(arena)],
                                check=False))
    assert "version 1" in line and "read-write mount" in line, line
    assert helpers.sha256_file(arena) == before, "a refusal changed it"

    # Its 64 KiB cap leaves 4.5 KiB, the upgrade needs about 6 KiB.
    line = one_line(run_mmfs("-f", arena, mnt))
    assert "no room to upgrade" in line and "size=" in line, line
    assert not helpers.mounted(mnt)

    m = mmfs(arena=arena, size="1M")
    assert "upgraded from arena format version 1 to 2" in m.stderr
    listing = helpers.run(["ls", "-U", m.path("list")]).stdout
    assert listing == (DATA / "v1-arena.list").read_text()
    assert open(m.path("list", "entry-2")).read() == "value 2\n"
    assert os.readlink(m.path("list", "symlink")) == "../sub/deep"
    m.umount()
    stat = helpers.run([mmfsctl_path(), "stat", str(arena)]).stdout
    assert "format version: 2" in stat, stat
    m.remount()
    assert m.stderr.count("upgraded") == 1, m.stderr
