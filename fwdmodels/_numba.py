"""Optional Numba: ``njit`` and ``prange`` when numba is installed, pure-Python stand-ins otherwise.

Numba is imported only when this module is, and this module only when a kernel is first
needed, so ``import fwdmodels`` stays fast. Kernels are compiled with ``cache=True``; the
hemodynamic kernels allow the ``contract`` fastmath flag alone (fused multiply-add), none of
the flags that would change how NaN and inf behave.
"""

from __future__ import annotations

import hashlib
import os
import sys
import types
from pathlib import Path

try:  # pragma: no cover - exercised in the CI run without numba
    import numba as _numba
except ImportError:  # pragma: no cover
    _numba = None

__all__ = ["HAVE_NUMBA", "JIT_ENABLED", "njit", "prange", "get_num_threads",
           "invalidate_stale_cache", "cache_dir",
           "fwdmodels_dependencies"]

HAVE_NUMBA = _numba is not None
#: True when kernels are really compiled (numba installed and NUMBA_DISABLE_JIT unset).
JIT_ENABLED = HAVE_NUMBA and os.environ.get("NUMBA_DISABLE_JIT", "0") in ("", "0")


def njit(*args, **kwargs):
    """``numba.njit(cache=True)`` when numba is installed, else the function unchanged."""
    kwargs.setdefault("cache", True)
    if HAVE_NUMBA:
        return _numba.njit(*args, **kwargs)
    if args and callable(args[0]):
        return args[0]
    return lambda func: func


def get_num_threads() -> int:
    """Threads a parallel kernel may use (1 without numba)."""
    return _numba.get_num_threads() if HAVE_NUMBA else 1


prange = _numba.prange if HAVE_NUMBA else range



def cache_dir(kernel_file: str) -> Path:
    """The directory Numba caches the compiled functions of ``kernel_file`` in, as Numba itself
    chooses it: ``NUMBA_CACHE_DIR`` when set, else ``__pycache__`` beside the file when it is
    writable, else a per-user directory. The in-tree ``__pycache__`` if Numba cannot say."""
    try:
        from numba.core.caching import CompileResultCacheImpl

        def probe():  # pragma: no cover - never called; the locators read its file and line
            pass
        probe.__code__ = probe.__code__.replace(co_filename=str(Path(kernel_file).resolve()))
        return Path(CompileResultCacheImpl(probe).locator.get_cache_path())
    except Exception:  # noqa: BLE001 - an older or newer numba: fall back to its default
        return Path(kernel_file).parent / "__pycache__"


def fwdmodels_dependencies(module_name: str) -> list[str]:
    """Source files of the fwdmodels modules that module ``module_name`` uses, directly or
    through one another: each fwdmodels module, function, class or value its namespace holds,
    followed through their modules' namespaces in turn (call it after the module's imports).

    These are the files whose change can change what its kernels compile to (an inlined
    formula, a helper, the compiler options), found from what is imported rather than from a
    list to keep up to date by hand.
    """
    def owner(value):
        name = value.__name__ if isinstance(value, types.ModuleType) else \
            getattr(value, "__module__", None)
        return name if isinstance(name, str) and name.split(".")[0] == "fwdmodels" else None

    seen, todo = {module_name}, [module_name]
    while todo:
        for value in list(vars(sys.modules[todo.pop()]).values()):
            name = owner(value)
            if name is not None and name not in seen and name in sys.modules:
                seen.add(name)
                todo.append(name)
    seen.discard(module_name)
    files = (getattr(sys.modules[name], "__file__", None) for name in sorted(seen))
    return [file for file in files if file]


def invalidate_stale_cache(kernel_file: str, dependencies: list[str]) -> None:
    """Drop the on-disk cache of ``kernel_file``'s kernels when a file they inline changed.

    Numba's cache checks only the source file of the cached function, so a kernel that
    inlines functions from ``dependencies`` would otherwise keep running their old code.
    A stamp holding the hash of those files sits beside the cache, in the directory Numba
    caches the file's functions in (:func:`cache_dir`: ``NUMBA_CACHE_DIR`` included); an
    unwritable cache directory is left alone (Numba then caches elsewhere or not at all).
    """
    if not JIT_ENABLED:
        return
    directory = cache_dir(kernel_file)
    stem = Path(kernel_file).stem
    digest = hashlib.sha256()
    for path in [kernel_file, *dependencies]:
        digest.update(Path(path).read_bytes())
    stamp = directory / f"{stem}.deps-stamp"
    try:
        if stamp.exists() and stamp.read_text() == digest.hexdigest():
            return
        for cached in directory.glob(f"{stem}.*.nb[ic]"):
            cached.unlink()
        directory.mkdir(parents=True, exist_ok=True)
        # written under another name, then renamed: processes starting together (batch
        # workers, parallel test runs) never read a half-written stamp
        part = directory / f"{stem}.deps-stamp.{os.getpid()}.part"
        try:
            part.write_text(digest.hexdigest())
            os.replace(part, stamp)
        finally:
            part.unlink(missing_ok=True)
    except OSError:
        pass
