"""The optional-numba shim: the on-disk kernel cache and its invalidation."""

import subprocess
import sys

import pytest

from fwdmodels import _numba

needs_jit = pytest.mark.skipif(not _numba.JIT_ENABLED, reason="kernels are compiled only with "
                                                              "numba and NUMBA_DISABLE_JIT unset")

_PROBE = """
import numpy as np, fwdmodels
from fwdmodels.hemodynamics import _kernels, _split_kernels
fwdmodels.simulate_bold(np.ones((20, 3)), "1 ms", backend="numba")
fwdmodels.simulate_bold(np.ones((20, 3)), "1 ms", backend="numba", method="rk4")
print(sum(_split_kernels._integrate_parallel.stats.cache_hits.values()),
      sum(_kernels._integrate_parallel.stats.cache_hits.values()))
"""


@needs_jit
def test_a_new_process_loads_the_kernels_from_the_disk_cache():
    first = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    second = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    split_hits, fixed_hits = (int(n) for n in second.stdout.split()[-2:])
    assert split_hits >= 1 and fixed_hits >= 1


@needs_jit
def test_cache_is_dropped_when_an_inlined_file_changes(tmp_path):
    kernel = tmp_path / "kern.py"
    dependency = tmp_path / "eqs.py"
    kernel.write_text("x = 1\n")
    dependency.write_text("y = 1\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    entry = cache / "kern.f-10.py311.nbi"
    entry.write_text("index")
    other = cache / "eqs.g-3.py311.nbi"
    other.write_text("index")
    _numba.invalidate_stale_cache(str(kernel), [str(dependency)])   # first time: no stamp yet
    assert not entry.exists() and other.exists()
    entry.write_text("index")
    _numba.invalidate_stale_cache(str(kernel), [str(dependency)])   # nothing changed
    assert entry.exists()
    dependency.write_text("y = 2\n")
    _numba.invalidate_stale_cache(str(kernel), [str(dependency)])   # the dependency changed
    assert not entry.exists() and other.exists()


def test_import_fwdmodels_loads_no_heavy_dependency():
    """``import fwdmodels`` stays light: numba, JAX, matplotlib, MNE, h5py, zarr and the slow
    scipy subpackages are imported only by the functions that need them. (dask is left out:
    pint itself imports it when it is installed.)"""
    code = ("import sys, fwdmodels\n"
            "heavy = ['numba', 'jax', 'matplotlib', 'mne', 'h5py', 'zarr', 'tqdm',\n"
            "         'scipy.integrate', 'scipy.signal', 'scipy.stats', 'brainmass']\n"
            "print(' '.join(m for m in heavy if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
