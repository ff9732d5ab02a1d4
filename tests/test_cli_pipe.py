"""The command line and a closed pipe: ``fwdmodels info FILE | head -1`` ends quietly."""

import subprocess
import sys

import numpy as np
import pytest


@pytest.fixture
def many_arrays(tmp_path):
    """An .npz whose description is far longer than a pipe's buffer (64 KiB on Linux)."""
    path = tmp_path / "many.npz"
    np.savez(path, **{f"array_{i:05d}": np.zeros((2, 3)) for i in range(3000)})
    return path


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_closed_pipe_ends_quietly_with_the_sigpipe_status(many_arrays, extra):
    proc = subprocess.Popen([sys.executable, "-m", "fwdmodels", "info", str(many_arrays),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()          # as `head -1`: one line, then the pipe closes
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 128 + 13, err      # 141, as the shell reports `cat`
    assert first.strip() and err == ""


def test_full_output_still_exits_0(many_arrays):
    done = subprocess.run([sys.executable, "-m", "fwdmodels", "info", str(many_arrays)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == ""
    assert len(done.stdout.splitlines()) > 3000


def test_a_full_disk_is_still_an_error(many_arrays):
    """A write error that is not a closed pipe keeps its one-line message and status 2."""
    done = subprocess.run(f"{sys.executable} -m fwdmodels info {many_arrays} > /dev/full",
                          shell=True, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("fwdmodels info: error: No space left on device")
