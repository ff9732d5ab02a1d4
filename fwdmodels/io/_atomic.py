"""Atomic output files: write to a temporary file in the destination directory, then rename.

A run that is interrupted (Ctrl-C, a crash, a full disk) leaves neither a half-written output
nor a change to an existing file: the temporary file is removed and the destination is only
ever touched by :func:`os.replace` (or :func:`os.link`, which also refuses to overwrite).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ..errors import FwdModelsError

__all__ = ["check_output_path", "atomic_path", "TEMP_SUFFIX"]

#: Suffix of the temporary files written next to an output while it is produced.
TEMP_SUFFIX = ".fwdmodels-part"


def check_output_path(path, force: bool = False, inputs=()) -> Path:
    """Return ``path`` as a Path if an output may be written there; raise otherwise.

    The checks (made before any work starts): the directory exists and is writable, the path
    is not a directory, it is none of ``inputs``, and it does not exist unless ``force``.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir() and path.suffix.lower() != ".zarr":      # a Zarr store is a directory
        raise FwdModelsError(f"output '{path}' is a directory; give a file name such as "
                             f"'{path / 'out.npz'}'")
    if not directory.is_dir():
        raise FwdModelsError(f"output directory '{directory}' does not exist; create it first "
                             f"(mkdir -p '{directory}')")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise FwdModelsError(f"output directory '{directory}' is not writable; choose another "
                             f"place with -o")
    for source in inputs:
        if source is not None and path.exists() and _same_file(path, Path(source)):
            raise FwdModelsError(f"output '{path}' is the input file; choose another output "
                                 f"name (inputs are never overwritten)")
    if path.exists() and not force:
        raise FwdModelsError(f"output '{path}' already exists; pass --force to overwrite it "
                             f"(or choose another name)")
    return path


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, force: bool = False, suffix: str = TEMP_SUFFIX):
    """Yield a temporary path next to ``path``; on success move it to ``path``.

    The temporary name ends with ``suffix`` (a writer may need its own ending: MNE-Python's
    Raw files must end with ``raw.fif``).

    If the block raises (including KeyboardInterrupt), the temporary file is deleted and
    ``path`` is left as it was. Without ``force``, an output that appeared meanwhile is not
    overwritten.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=directory)
    except OSError as exc:
        raise FwdModelsError(f"cannot write in output directory '{directory}' "
                             f"({exc.strerror}); choose another place with -o") from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        if force:
            os.replace(tmp, path)
        else:
            _move_no_clobber(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _move_no_clobber(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)          # fails if path exists: no race with another writer
    except FileExistsError:
        raise FwdModelsError(f"output '{path}' already exists; pass --force to overwrite it "
                             f"(or choose another name)") from None
    except OSError:                 # no hard links on this file system
        if path.exists():
            raise FwdModelsError(f"output '{path}' already exists; pass --force to overwrite "
                                 f"it (or choose another name)") from None
        os.replace(tmp, path)
        return
    tmp.unlink()
