"""open(2) with O_TMPFILE: libfuse 3.14 has no tmpfile operation, so
mmfs refuses it with EOPNOTSUPP, cleanly: nothing is made, the kernel asks
once per mount and then answers itself, and programs that fall back to a
named temporary file (Python's tempfile) work (mmfs(7), NOT SUPPORTED)."""

import errno
import os
import tempfile

import pytest

from test_coherence import requests


def test_o_tmpfile_is_eopnotsupp(mmfs):
    m = mmfs()
    os.mkdir(m.path("d"))
    used = os.statvfs(m.mnt)
    for flags in (os.O_TMPFILE | os.O_RDWR,
                  os.O_TMPFILE | os.O_WRONLY | os.O_EXCL):
        for where in (m.mnt, m.path("d")):
            with pytest.raises(OSError) as e:
                os.open(where, flags, 0o600)
            assert e.value.errno == errno.EOPNOTSUPP
    assert os.listdir(m.mnt) == ["d"] and os.listdir(m.path("d")) == []
    after = os.statvfs(m.mnt)
    assert after.f_ffree == used.f_ffree          # no inode was made
    # The first refusal came from the daemon; the kernel keeps it.
    assert requests(m.mnt).get("tmpfile", 0) == 1


def test_tempfile_falls_back(mmfs):
    m = mmfs()
    with tempfile.TemporaryFile(dir=m.mnt) as f:
        f.write(b"scratch")
        f.seek(0)
        assert f.read() == b"scratch"
        assert os.listdir(m.mnt) == []            # unlinked at once
    assert os.listdir(m.mnt) == []


def test_o_tmpfile_refused_again_after_remount(mmfs):
    m = mmfs()
    with pytest.raises(OSError) as e:
        os.open(m.mnt, os.O_TMPFILE | os.O_RDWR, 0o600)
    assert e.value.errno == errno.EOPNOTSUPP
    m.remount()
    with pytest.raises(OSError) as e:
        os.open(m.mnt, os.O_TMPFILE | os.O_RDWR, 0o600)
    assert e.value.errno == errno.EOPNOTSUPP
    assert os.listdir(m.mnt) == []
