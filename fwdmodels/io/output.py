"""Results written block by block and moved into place atomically: the base of every output.

:class:`OutputFile` is filled block by block (``write``) and appears at its path only when
the block that fills it ends without an error::

    with OutputFile("bold.npz", "bold", (T, N), metadata=meta) as out:
        for start in range(0, T, 1000):
            out.write(start, block)            # rows start:start+len(block)

``OutputFile(path, ...)`` gives the subclass that writes the format of ``path``'s ending:
``.npz``, ``.h5`` and ``.mat`` (:mod:`fwdmodels.io.writers`), ``.zarr``
(:mod:`fwdmodels.io.zarr`). MNE-Python's Raw ``.fif`` (:mod:`fwdmodels.io.mne_raw`) is made
by name, as it takes the sensors too. :func:`save` writes a whole array at once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import FwdModelsError
from ._atomic import TEMP_SUFFIX, atomic_path, check_free_space, check_output_path
from .metadata import dumps

__all__ = ["OutputFile", "save", "OUTPUT_FORMATS", "output_format"]

#: The endings ``OutputFile(path, ...)`` writes, in the order messages list them.
OUTPUT_FORMATS = (".npz", ".h5", ".hdf5", ".mat", ".zarr")


def output_format(path, extra=()) -> str:
    """The output format from the extension (``extra`` allows e.g. ``.fif``)."""
    suffix = Path(path).suffix.lower()
    allowed = OUTPUT_FORMATS + tuple(extra)
    if suffix not in allowed:
        raise FwdModelsError(f"output '{path}' has the extension {suffix or '(none)'!r}; "
                             f"fwdmodels writes {', '.join(allowed)} (add one to the name)")
    return suffix


class OutputFile:
    """An output written block by block and moved into place atomically (see module notes).

    Parameters
    ----------
    path : str or path-like
        Destination (``.npz``, ``.h5``, ``.hdf5``, ``.mat``, ``.zarr``).
    name : str
        Name of the data array in the file (``"bold"``, ``"eeg"``, ``"meg"``).
    shape : tuple of int
        Shape of the whole array, time first along ``time_axis`` (``-2``).
    metadata : dict
        Written with the data (see :func:`fwdmodels.io.metadata.build_metadata`).
    dtype : numpy dtype
        float64 (default) or float32.
    force : bool
        Overwrite an existing file.
    extra : dict of str to ndarray, optional
        Small arrays written next to the data (e.g. channel positions).

    Subclasses
    ----------
    One subclass writes one format. It names the endings it writes in its class statement,
    ``class NpzOutputFile(OutputFile, suffixes=(".npz",))``, which registers it: calling
    ``OutputFile(path, ...)`` gives the subclass registered for ``path``'s ending among
    :data:`OUTPUT_FORMATS`. A subclass implements:

    _open(self)
        Start the file at the temporary path ``self._tmp``.
    write(self, start, block, batch=None)
        Store ``block`` (rows, M) at time rows ``start:start + rows`` (of ``batch`` for a
        3-D output).
    _finish(self)
        Complete the file at ``self._tmp`` (metadata, ``self.extra``); it is then renamed to
        ``self.path``. What it raises discards the output.
    _abort(self)
        Release what ``_open`` took, after an error (best effort, never raises); the
        temporary file is then removed.

    and may override:

    _check(self)
        Refuse early, before any work, what the format cannot hold or write (a size limit, a
        missing library). The base checks the ending; the free space is checked after it
        when ``checks_space`` is true.
    _stored_text(array)
        A static method: a text array (names) as the format keeps text (default fixed-width
        Unicode).
    _atomic(self)
        The context that yields the temporary path and renames it into place on success
        (default: :func:`fwdmodels.io.atomic_path` with ``temp_suffix``).
    temp_suffix, checks_space
        Class attributes: the temporary file's ending; whether the size is known in advance
        (uncompressed) so that the free space can be checked.
    """

    #: Ending -> subclass, filled by each subclass's class statement.
    _formats: dict = {}
    suffixes: tuple = ()
    #: Ending of the temporary file (a subclass may need its own, see fwdmodels.io.mne_raw).
    temp_suffix = TEMP_SUFFIX
    checks_space = True

    def __init_subclass__(cls, suffixes=(), **kwargs):
        super().__init_subclass__(**kwargs)
        cls.suffixes = tuple(suffixes)
        for suffix in cls.suffixes:
            OutputFile._formats[suffix] = cls

    def __new__(cls, path, *args, **kwargs):
        if cls is OutputFile:
            cls = OutputFile._formats[output_format(path)]
        return super().__new__(cls)

    def __init__(self, path, name: str, shape, *, metadata: dict, dtype=np.float64,
                 force: bool = False, extra: dict | None = None):
        self.path = check_output_path(path, force)
        self.suffix = self.path.suffix.lower()
        self.name, self.shape, self.dtype = name, tuple(int(s) for s in shape), np.dtype(dtype)
        self.metadata, self.force = metadata, force
        self.extra = {k: _extra_value(v, self._stored_text) for k, v in (extra or {}).items()}
        self._check()
        if self.checks_space:
            check_free_space(self.path, self.nbytes)
        self._ctx = None

    @property
    def nbytes(self) -> int:
        """Bytes of the data array."""
        return int(np.prod(self.shape)) * self.dtype.itemsize

    # ------------------------------------------------------------------ hooks
    def _check(self) -> None:
        output_format(self.path, self.suffixes)
        if self.suffix not in self.suffixes:
            raise FwdModelsError(f"`path` of a {type(self).__name__} must end in "
                                 f"{' or '.join(self.suffixes)}; got '{self.path}'")

    @staticmethod
    def _stored_text(array: np.ndarray) -> np.ndarray:
        return array.astype(str)

    def _atomic(self):
        """The context that gives a temporary path and renames it into place on success."""
        return atomic_path(self.path, self.force, self.temp_suffix)

    def _open(self):
        raise NotImplementedError

    def write(self, start: int, block: np.ndarray, batch: int | None = None) -> None:
        """Write ``block`` (rows, M) at time rows ``start:start+rows`` (of ``batch`` if 3-D)."""
        raise NotImplementedError

    def _finish(self):
        raise NotImplementedError

    def _abort(self):
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    def _flat(self) -> dict:
        """The metadata as flat entries: ``unit``, ``metadata`` (JSON), ``dt``, ``dt_unit``."""
        meta = self.metadata
        flat = {"unit": str(meta.get("unit", "")), "metadata": dumps(meta)}
        if meta.get("dt") is not None:
            flat.update(dt=float(meta["dt"]), dt_unit=str(meta.get("dt_unit", "s")))
        return flat

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self):
        self._ctx = self._atomic()
        self._tmp = self._ctx.__enter__()
        try:
            self._open()
        except BaseException as exc:
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self._finish()
            else:
                self._abort()
        except BaseException as err:         # finishing failed: no output, and say so
            self._abort()
            self._ctx.__exit__(type(err), err, err.__traceback__)
            raise
        return self._ctx.__exit__(exc_type, exc, tb)


def _extra_value(value, stored_text) -> np.ndarray:
    """An extra array as its format stores it: text (names) through the format's
    ``stored_text``, numbers as they are."""
    array = np.asarray(value)
    if array.dtype.kind not in "UOT" or (array.dtype.kind == "O" and not all(
            isinstance(v, str) for v in array.ravel())):
        return array
    return stored_text(array)


def save(path, name: str, array, *, metadata: dict, force: bool = False,
         extra: dict | None = None) -> Path:
    """Write a whole time-first array with its metadata, atomically; return the path."""
    array = np.asarray(array)
    with OutputFile(path, name, array.shape, metadata=metadata, dtype=array.dtype,
                    force=force, extra=extra) as out:
        if array.ndim == 3:
            for b in range(array.shape[0]):
                out.write(0, array[b], batch=b)
        else:
            out.write(0, array)
    return Path(path)
