"""Atomic output files: write to a temporary file in the destination directory, then rename.

A run that is interrupted (Ctrl-C, SIGTERM, SIGHUP, a full disk) leaves neither a half-written
output nor a change to an existing file: the temporary file is removed and the destination is
only ever touched by :func:`os.replace` (or :func:`os.link`, which also refuses to overwrite).

A process killed outright (SIGKILL, a power cut, or a signal whose action is to end the
process arriving while another thread writes) cannot clean up. Its temporary files are named
``.<output name>.<host>-<process id>.<random>.fwdmodels-part[...]``, and the next run that
writes into the same folder removes those of its own host whose process is gone
(:func:`remove_stale_parts`). A Zarr store being replaced is first moved aside, into
``.<output name>.<host>-<process id>.<random>.fwdmodels-old``; if the process was killed
before the new store took its place (the new one is still a part file of that process), the
next run moves the old one back, and otherwise removes it. Nothing else is ever touched
(files of other hosts, of live processes, or of any other name).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

from .. import _stop
from ..errors import FwdModelsError

__all__ = ["check_output_path", "atomic_path", "TEMP_SUFFIX", "OLD_SUFFIX", "temp_prefix",
           "remove_stale_parts", "check_free_space"]

#: Suffix of the temporary files written next to an output while it is produced.
TEMP_SUFFIX = ".fwdmodels-part"
#: Suffix of the folder an existing Zarr store is moved into while a new one replaces it.
OLD_SUFFIX = ".fwdmodels-old"
_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"
#: ``.NAME.HOST-PID.RANDOM``, RANDOM as :mod:`tempfile` makes it: 8 characters of [a-z0-9_].
_OURS = r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9]+)-(?P<pid>[0-9]+)\.[a-z0-9_]{8}"
#: A temporary file or directory of fwdmodels: ``.NAME.HOST-PID.RANDOM.fwdmodels-part...``.
_PART = re.compile(_OURS + re.escape(TEMP_SUFFIX) + r"(?:_raw\.fif)?$")
#: An old store moved aside: ``.NAME.HOST-PID.RANDOM.fwdmodels-old``, holding ``store``.
_OLD = re.compile(_OURS + re.escape(OLD_SUFFIX) + "$")
_CLEANED: set = set()


def temp_prefix(path: Path) -> str:
    """Prefix of the temporary files of ``path`` made by this process (see the module notes)."""
    return f".{path.name}.{_HOST}-{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):   # someone else's, or not a pid here
        return True
    return True


def remove_stale_parts(directory) -> list:
    """Remove the temporary files that killed fwdmodels runs of this host left in ``directory``.

    Only names of the fwdmodels patterns (see the module notes) whose host is this one and
    whose process id is not running are touched: a temporary file or folder is removed; an
    old Zarr store moved aside is moved back to its name if nothing took its place, and
    removed otherwise. Each directory is looked at once per process. Returns the paths
    removed (or moved back).
    """
    directory = Path(directory)
    key = os.path.realpath(directory)
    if key in _CLEANED:
        return []
    _CLEANED.add(key)
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    # the new stores that killed replacements never moved in: (name, pid) of each part
    unmoved = {(m["name"], m["pid"]) for m in map(_PART.match, (e.name for e in entries)) if m}
    for entry in entries:
        match = _PART.match(entry.name) or _OLD.match(entry.name)
        if match is None or match["host"] != _HOST or _alive(int(match["pid"])):
            continue
        try:
            if entry.name.endswith(OLD_SUFFIX):
                back = (match["name"], match["pid"]) in unmoved
                _put_back_or_remove(Path(entry.path), directory / match["name"], back)
            elif entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:          # gone meanwhile, or not ours to remove: leave it
            continue
        removed.append(Path(entry.path))
    return removed


def _put_back_or_remove(aside: Path, destination: Path, back: bool) -> None:
    """An old store that a killed replacement left ``aside``: back at ``destination`` when
    the replacement's new store is still a part file (``back``: it never got there) and
    nothing is at ``destination``; else removed (the new store got there, whatever became of
    it since)."""
    store = aside / "store"
    if back and os.path.isdir(store) and not os.path.lexists(destination):
        os.rename(store, destination)
    shutil.rmtree(aside)


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def check_free_space(path, nbytes: int, margin: int = 1 << 20) -> None:
    """Raise unless the folder of output ``path`` has room for ``nbytes`` (plus ``margin``).

    Made before any work starts, for outputs whose size is known in advance; when the free
    space cannot be read, nothing is said (the write itself will tell).
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        return
    if nbytes + margin > free:
        raise FwdModelsError(f"output '{path}' needs about {_size(nbytes)} but its folder "
                             f"'{directory}' has {_size(free)} free; free some space or choose "
                             f"another place")


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
                             f"`output` path")
    for source in inputs:
        if source is not None and path.exists() and _same_file(path, Path(source)):
            raise FwdModelsError(f"output '{path}' is the input file; choose another output "
                                 f"name (inputs are never overwritten)")
    if path.exists() and not force:
        raise FwdModelsError(f"output '{path}' already exists; pass `force=True` to overwrite "
                             f"it (or choose another name)")
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

    If the block raises (including KeyboardInterrupt), or the command line recorded a stop
    signal during it (:mod:`fwdmodels._stop`), the temporary file is deleted and ``path`` is
    left as it was. A stop signal that arrives while the file is being moved into place is
    held until the move is complete, then raised: ``path`` is whole or as it was, and the
    command line lists it as written. Without ``force``, an output that appeared meanwhile is
    not overwritten.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    remove_stale_parts(directory)
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=suffix, dir=directory)
    except OSError as exc:
        raise FwdModelsError(f"cannot write in output directory '{directory}' "
                             f"({exc.strerror}); choose another `output` path") from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        _stop.check()                # a stop whose exception was lost still discards the file
        os.chmod(tmp, 0o666 & ~_umask())
        with _stop.held():           # a stop during the move is raised once it is complete
            if force:
                os.replace(tmp, path)
            else:
                _move_no_clobber(tmp, path)
            _stop.wrote(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _move_no_clobber(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)          # fails if path exists: no race with another writer
    except FileExistsError:
        raise FwdModelsError(f"output '{path}' already exists; pass `force=True` to overwrite "
                             f"it (or choose another name)") from None
    except OSError:                 # no hard links on this file system
        if path.exists():
            raise FwdModelsError(f"output '{path}' already exists; pass `force=True` to "
                                 f"overwrite it (or choose another name)") from None
        os.replace(tmp, path)
        return
    with contextlib.suppress(OSError):  # the output is whole; a name left behind is a part
        tmp.unlink()                    # file, removed by a later run
