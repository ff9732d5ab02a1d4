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
temporary name; or, replacing a Zarr store, two renames). :func:`held` holds the stop signals
meanwhile, in the command line and in any other program that calls fwdmodels from its main
thread: a signal that arrives in the middle is delivered, to whatever handler was there, once
the move is complete, so that an output is either whole or as it was, never half moved (what
a process killed in the middle leaves is undone by the next run: see
:mod:`fwdmodels.io._atomic`). The outputs moved into place during a command are listed
(:func:`wrote`, :func:`written`) so that the command line can say which were written before
a stop.

The command line calls :func:`begin` and :func:`end` around a command: both forget a recorded
stop, and outputs are listed only between them.
"""

from __future__ import annotations

import contextlib
import signal
import threading

__all__ = ["begin", "end", "request", "requested", "clear", "check", "held", "call_each",
           "STOP_SIGNALS", "wrote", "written"]

#: The signals that stop a run: Ctrl-C, SIGTERM, and SIGHUP (the terminal or ssh session
#: closed), those of them this system has.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))

_signal: int | None = None
_active = False
_written: list[str] = []


def begin() -> None:
    """Start a command: forget any earlier stop and outputs, and start keeping track."""
    global _active
    clear()
    _active = True


def end() -> None:
    """End a command: forget its stop and its outputs."""
    global _active
    _active = False
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


@contextlib.contextmanager
def held():
    """Hold the stop signals while the block runs; deliver those that came once it is done.

    In the main thread, each stop signal that is not ignored gets a handler that only notes
    it; when the block ends, however it ends, the handlers that were there are put back and
    each signal noted is raised again, every one of them even if the handler of an earlier
    one raised, so that each has the effect it would have had: an exception from a Python
    handler (``KeyboardInterrupt``), the end of the process for one whose action is the
    default. A stop recorded before the block (:func:`request`) is raised at once, before
    the block starts.

    Python runs signal handlers in the main thread only, so a block run in another thread
    is not interrupted by an exception; but a signal whose action is to end the process ends
    it whichever thread runs, and nothing can be held from another thread (nor in a
    sub-interpreter). The writers that move outputs in several steps therefore also leave
    what a killed process needs to be undone by the next run (see
    :func:`fwdmodels.io._atomic.remove_stale_parts`).
    """
    check()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    saved: dict = {}
    done = []

    def note(signum, frame):
        if not done:
            if signum not in came:
                came.append(signum)
            return
        # the block has ended but this handler is still in place (a signal's exception cut
        # the putting back short): put the one that was there back, and give it the signal
        signal.signal(signum, saved[signum])
        signal.raise_signal(signum)

    try:
        for sig in STOP_SIGNALS:
            handler = signal.getsignal(sig)
            if handler in (signal.SIG_IGN, None):
                continue
            saved[sig] = handler     # kept before the swap: a signal right after it loses none
            try:
                signal.signal(sig, note)
            except ValueError:       # a sub-interpreter: signals are not ours to handle
                del saved[sig]
                break
        yield
    finally:
        try:
            call_each(signal.signal, list(saved.items()))
        finally:
            done.append(True)        # from here on, a handler left in place passes it on
            call_each(signal.raise_signal, [(sig,) for sig in came])
    check()


def call_each(call, arguments: list) -> None:
    """``call(*a)`` for each ``a`` of ``arguments``, every one even if an earlier one raised
    (a signal's exception, say); an exception is raised again once all were called (the
    last one, with the earlier ones as its context)."""
    if arguments:
        try:
            call(*arguments[0])
        finally:
            call_each(call, arguments[1:])


def wrote(path) -> None:
    """List ``path`` as an output moved into place, whole, during the current command."""
    if _active:
        _written.append(str(path))


def written() -> list[str]:
    """The outputs moved into place during the current command, in order."""
    return list(_written)
