"""The package itself: ``import fwdmodels`` loads no optional extra, and the submodules that
need one (``distributed``: dask; ``plotting``: matplotlib) are attributes loaded on first
access (PEP 562)."""

import subprocess
import sys

import pytest

#: Optional extras that ``import fwdmodels`` must not import.
EXTRAS = ("dask", "distributed", "zarr", "numba", "matplotlib", "h5py", "mne", "xarray", "jax",
          "brainunit", "brainmass", "tqdm", "tvb")


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_loads_no_extra_and_distributed_is_lazy():
    """pint itself imports ``dask.base`` when dask is installed (pint.compat), before any
    line of fwdmodels runs: the test counts what ``import fwdmodels`` adds beyond ``import
    pint``, and ``dask.array`` (which nothing but a dask computation needs) not at all."""
    pytest.importorskip("dask")
    out = _run(
        "import sys, pint\n"
        "before = set(sys.modules)\n"
        "import fwdmodels\n"
        "added = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        f"print(sorted(added & set({EXTRAS!r})), 'dask.array' in sys.modules)\n"
        "print('fwdmodels.distributed' in sys.modules, 'distributed' in dir(fwdmodels),"
        " 'distributed' in fwdmodels.__all__)\n"
        "d = fwdmodels.distributed\n"
        "print(d is sys.modules['fwdmodels.distributed'], 'dask.array' in sys.modules)\n"
        "import numpy as np, dask.array as da\n"
        "m = fwdmodels.MEGLeadFieldModel(2, 3, np.ones((2, 3)) * fwdmodels.ureg('fT/(nA*m)'))\n"
        "print(d.apply_leadfield(m, da.ones((4, 2), chunks=2)).compute().tolist())\n"
        "from fwdmodels import distributed\n"
        "print(distributed is d)\n")
    lines = out.splitlines()
    assert lines[0] == "[] False"
    assert lines[1] == "False True True"
    assert lines[2] == "True False"                 # the module itself imports no dask
    assert lines[3] == str([[2.0] * 3] * 4)
    assert lines[4] == "True"


def test_plotting_is_lazy_too_and_unknown_names_raise():
    out = _run(
        "import sys, fwdmodels\n"
        "print('fwdmodels.plotting' in sys.modules, 'plotting' in dir(fwdmodels))\n"
        "p = fwdmodels.plotting\n"
        "print(p.__name__, 'matplotlib' in sys.modules)\n"
        "try:\n"
        "    fwdmodels.no_such_name\n"
        "except AttributeError as e:\n"
        "    print(e)\n")
    assert out.splitlines() == ["False True", "fwdmodels.plotting False",
                                "module 'fwdmodels' has no attribute 'no_such_name'"]
