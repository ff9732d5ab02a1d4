"""A stop asked for by a signal, remembered until the command that caught it ends.

Python turns a signal into an exception (``KeyboardInterrupt``) at the next instruction of
the main thread. When that instruction belongs to a finaliser or a weak-reference callback,
which the garbage collector runs at arbitrary points, the exception is reported as "ignored"
and lost, and the run would go on to write its output as if nothing had happened. The
command line's handlers (:mod:`fwdmodels.cli`) therefore also record the stop here, and the
code that loops over chunks and moves outputs into place calls :func:`check`: a lost
exception is raised again at the next chunk, and an output is never renamed into place after
a stop. Outside the command line nothing sets the flag and :func:`check` does nothing.
"""

from __future__ import annotations

__all__ = ["request", "requested", "clear", "check"]

_signal: int | None = None


def request(signum: int) -> None:
    """Record that signal ``signum`` asked the run to stop."""
    global _signal
    _signal = int(signum)


def requested() -> int | None:
    """The signal that asked the run to stop, or None."""
    return _signal


def clear() -> None:
    """Forget a recorded stop (the command that caught it has ended)."""
    global _signal
    _signal = None


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a stop was recorded."""
    if _signal is not None:
        raise KeyboardInterrupt(f"stopped by signal {_signal}")
