"""The optional-numba shim: the on-disk kernel cache and its invalidation."""

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

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
    cache = _numba.cache_dir(str(kernel))     # beside it, or under NUMBA_CACHE_DIR when set
    cache.mkdir(parents=True, exist_ok=True)
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


_WHERE = """
import sys
sys.path.insert(0, sys.argv[1])
import kern
from fwdmodels import _numba
kern.f(1.0)
print(_numba.cache_dir(kern.__file__))
_numba.invalidate_stale_cache(kern.__file__, [sys.argv[2]])
"""


@needs_jit
def test_the_cache_is_dropped_where_numba_keeps_it_with_numba_cache_dir(tmp_path):
    """With NUMBA_CACHE_DIR set, Numba caches outside the source tree: the invalidation looks
    there (a kernel whose inlined file changed would otherwise keep its old code). Where Numba
    put its index is found on disk, after real cached compilations in new processes."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "kern.py").write_text("from numba import njit\n\n\n@njit(cache=True)\n"
                                 "def f(x):\n    return x + 1.0\n")
    dependency = tmp_path / "eqs.py"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))

    def run(dependency_text):
        """Compile or load f, then invalidate; the cache directory fwdmodels names."""
        dependency.write_text(dependency_text)
        done = subprocess.run([sys.executable, "-c", _WHERE, str(src), str(dependency)],
                              env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return Path(done.stdout.split()[-1])

    named = run("y = 1\n")          # no stamp yet: the index just written is dropped
    stamps = list((tmp_path / "cache").rglob("kern.deps-stamp"))
    assert len(stamps) == 1 and stamps[0].parent == named
    assert not list(named.glob("kern.f-*.nbi"))
    assert not list(src.rglob("*.nbi"))                   # nothing cached beside the source
    run("y = 1\n")                  # compiled again; nothing changed: kept
    assert len(list(named.glob("kern.f-*.nbi"))) == 1
    run("y = 2\n")                  # the dependency changed: dropped
    assert not list(named.glob("kern.f-*.nbi"))


#: The modules that compile with Numba's on-disk cache.
KERNEL_MODULES = ["fwdmodels._vecmath", "fwdmodels._finite",
                  "fwdmodels.hemodynamics._kernels", "fwdmodels.hemodynamics._split_pass",
                  "fwdmodels.hemodynamics._split_kernels",
                  "fwdmodels.hemodynamics._conventions_kernels"]
PACKAGE = Path(_numba.__file__).parent


def _imported_by(module_name):
    """The fwdmodels modules ``module_name``'s source imports at its top level, read from the
    source text (not from the imported module)."""
    path = Path(importlib.util.find_spec(module_name).origin)
    package = module_name.rsplit(".", 1)[0]
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[:len(base) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            if target.split(".")[0] != "fwdmodels":
                continue
            for alias in node.names:          # a submodule imported by name, or the module's
                sub = f"{target}.{alias.name}"
                is_module = hasattr(importlib.import_module(target), "__path__") and \
                    importlib.util.find_spec(sub) is not None
                found.add(sub if is_module else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "fwdmodels"}


@pytest.mark.parametrize("module_name", KERNEL_MODULES)
def test_a_kernel_cache_depends_on_every_fwdmodels_module_it_imports(module_name):
    """A change to any module a kernel module imports, directly or through another, drops
    its cached kernels: the helper that sets the compiler options lives in ``_kernels.py``,
    which the split kernels import, and a cache checked against a hand-written list without
    it kept running kernels compiled with the old options."""
    importlib.import_module(module_name)
    closure, todo = set(), [module_name]
    while todo:
        for name in _imported_by(todo.pop()) - closure:
            closure.add(name)
            todo.append(name)
    closure.discard(module_name)
    expected = {str(Path(importlib.util.find_spec(name).origin).resolve()) for name in closure
                if name != "fwdmodels"}
    assert expected                                       # every kernel module imports _numba
    found = {str(Path(file).resolve()) for file in _numba.fwdmodels_dependencies(module_name)}
    assert expected <= found, sorted(expected - found)


@needs_jit
@pytest.mark.parametrize("module_name", KERNEL_MODULES)
def test_only_functions_whose_code_is_guarded_are_cached_on_their_own(module_name):
    """Numba files a cached function under the module its code comes from. The helpers the
    kernels compile from the formulas of ``forcing.py``, ``split.py`` and ``equations.py``
    would be filed there, beyond the dependency stamp of the kernel module that sets their
    compiler options, and a kernel compiled later would link their old code (this kept the
    split method's per-step work out of the vectorised loops after an options change). So a
    compiled function with a cache of its own must come from a kernel module's file."""
    from numba.core.caching import NullCache
    from numba.core.registry import CPUDispatcher

    module = importlib.import_module(module_name)
    guarded = {str(Path(importlib.util.find_spec(name).origin).resolve())
               for name in KERNEL_MODULES}
    dispatchers = [value for value in vars(module).values() if isinstance(value, CPUDispatcher)]
    assert dispatchers
    for dispatcher in dispatchers:
        source = str(Path(dispatcher.py_func.__code__.co_filename).resolve())
        if not isinstance(dispatcher._cache, NullCache):
            assert source in guarded, (dispatcher.py_func.__name__, source)


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
