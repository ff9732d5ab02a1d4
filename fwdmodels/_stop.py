"""A stop asked for by a signal, remembered until the command that caught it ends.

Python turns a signal into an exception (``KeyboardInterrupt``) at the next instruction of
the main thread. When that instruction belongs to a finaliser or a weak-reference callback,
which the garbage collector runs at arbitrary points, the exception is reported as "ignored"
and lost, and the run would go on to write its output as if nothing had happened. The
command line's handlers (:mod:`fwdmodels.cli`) therefore also record the stop here, and the
code that loops over chunks and moves outputs into place calls :func:`check`: a lost
exception is raised again at the next chunk, and an output is never renamed into place after
a stop.

Moving an output into place takes more than one system call (a hard link, then removing the
temporary name; or, replacing a Zarr store, two renames). A stop that arrives in the middle
is held (:func:`held`) until the move is complete and raised then, so that an output is
either whole or absent, never half moved; the outputs completed are listed
(:func:`wrote`, :func:`written`) so that the command line can say which were written before
the stop.

All of this is active only between :func:`begin` and :func:`end`, which the command line
calls around a command; a library call outside it is unaffected.
"""

from __future__ import annotations

import contextlib

__all__ = ["begin", "end", "request", "requested", "clear", "check", "held", "holding",
           "wrote", "written"]

_signal: int | None = None
_active = False
_holds = 0
_written: list[str] = []


def begin() -> None:
    """Start a command: forget any earlier stop and outputs, and start keeping track."""
    global _active, _holds
    clear()
    _holds = 0
    _active = True


def end() -> None:
    """End a command: forget its stop and its outputs."""
    global _active, _holds
    _active = False
    _holds = 0
    clear()


def request(signum: int) -> None:
    """Record that signal ``signum`` asked the run to stop."""
    global _signal
    _signal = int(signum)


def requested() -> int | None:
    """The signal that asked the run to stop, or None."""
    return _signal


def clear() -> None:
    """Forget a recorded stop and the outputs listed."""
    global _signal
    _signal = None
    _written.clear()


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a stop was recorded."""
    if _signal is not None:
        raise KeyboardInterrupt(f"stopped by signal {_signal}")


def holding() -> bool:
    """Whether a stop signal should be recorded only, not raised (inside :func:`held`)."""
    return _active and _holds > 0


@contextlib.contextmanager
def held():
    """Hold a stop signal while the block runs, then raise it (see the module notes).

    A stop recorded before the block is raised at once, before the block starts.
    """
    global _holds
    check()
    _holds += 1
    try:
        yield
    finally:
        _holds -= 1
    check()


def wrote(path) -> None:
    """List ``path`` as an output moved into place, whole, during the current command."""
    if _active:
        _written.append(str(path))


def written() -> list[str]:
    """The outputs moved into place during the current command, in order."""
    return list(_written)
