"""The ``fwdmodels`` command (also ``python -m fwdmodels``): a thin layer over
:mod:`fwdmodels.pipeline`, :mod:`fwdmodels.demo` and :mod:`fwdmodels.io`, and the only part of
fwdmodels that knows option flags.

Modules: :mod:`~fwdmodels.cli.parser` (the parser), :mod:`~fwdmodels.cli.argtypes` (argparse
types), :mod:`~fwdmodels.cli.flags` (Python argument names in messages written as flags), and
one module per command family: :mod:`~fwdmodels.cli.bold`, :mod:`~fwdmodels.cli.sensors` (eeg,
meg), :mod:`~fwdmodels.cli.info`, :mod:`~fwdmodels.cli.demo`, :mod:`~fwdmodels.cli.leadfield`,
:mod:`~fwdmodels.cli.crossval`, :mod:`~fwdmodels.cli.batch`.

Exit status: 0 on success; 2 for a user mistake (a bad option, an unreadable or corrupt file,
an output that exists...), reported as one line on stderr; 130 when interrupted (Ctrl-C,
SIGTERM, or SIGHUP when the terminal or ssh session closes); 141 (128 + SIGPIPE, as the shell
reports any command whose reader went away) when standard output is a pipe closed early, as
in ``fwdmodels info FILE | head -1``, without a message; 1 for an internal error (a bug:
please report it; ``--debug`` shows the traceback), and for ``crossval`` and ``batch``, "ran,
but the answer is no". Whatever the outcome, nothing is left half-written and the input files
are never modified. Python warnings are printed as one line each after a successful run
(``fwdmodels bold: warning: ...``), and dropped after an error, whose own line says what went
wrong.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
import warnings

from .. import _stop
from ..errors import FwdModelsError, MissingDependencyError
from .flags import command_parsers, flag_table, to_flags
from .parser import EXIT_USER, build_parser

__all__ = ["main", "build_parser"]

ISSUES_URL = "the fwdmodels issue tracker"
EXIT_BUG, EXIT_INTERRUPTED = 1, 130
#: A closed pipe on standard output (``| head``): 128 + SIGPIPE, what a shell reports for
#: ``cat`` or ``ls`` in its place.
EXIT_PIPE = 128 + int(getattr(signal, "SIGPIPE", 13))


def _one_line(text) -> str:
    return " ".join(str(text).split())


def _on_stop_signal(signum, frame):
    # Recorded as well as raised: an exception raised while a finaliser or a weak-reference
    # callback runs is lost, and the recorded stop raises it again at the next chunk and
    # before an output is moved into place (fwdmodels._stop).
    _stop.request(signum)
    raise KeyboardInterrupt


def _catch_stop_signals(previous: dict | None = None) -> dict:
    """Handle Ctrl-C and the stop signals, each only where it has its default action: one
    that is ignored stays ignored (Ctrl-C in a background job, SIGHUP under ``nohup``), and
    one with a handler of its caller's keeps it. Each handler replaced goes into ``previous``
    as it is replaced (so a signal arriving meanwhile loses none of them); return it."""
    previous = {} if previous is None else previous
    for sig in _stop.STOP_SIGNALS:            # SIGTERM and SIGHUP stop a run as Ctrl-C does
        default = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
        try:
            if signal.getsignal(sig) is default:
                previous[sig] = default      # kept before the swap: a signal right after it
                signal.signal(sig, _on_stop_signal)   # still finds it to put back
        except ValueError:                   # not in the main thread
            previous.pop(sig, None)
            break
    return previous


def _restore_signals(previous: dict) -> None:
    """Put back the handlers ``_catch_stop_signals`` replaced, every one even if a signal's
    exception comes meanwhile, then forget any recorded stop."""
    try:
        _stop.call_each(signal.signal, list(previous.items()))
    finally:
        _stop.end()


def _what_was_written(command: str, before: str = "the stop", shown: int = 5) -> str:
    """The end of the message of a command that stopped early (interrupted, or a disk error):
    which outputs were written whole ``before`` that, and that the inputs are unchanged."""
    done = _stop.written()
    names = ", ".join(f"'{p}'" for p in done[:shown])
    more = f" and {len(done) - shown} more" if len(done) > shown else ""
    if command == "batch":          # its workers write, and some may finish meanwhile
        said = (f"written in full before {before}: {names}{more}" if done else
                f"no output was reported written before {before}")
        return said + ("; files being processed at that moment may also have been finished "
                       "by their workers (an output that exists is whole); the inputs are "
                       "unchanged")
    said = (f"written in full before {before}: {names}{more}; nothing else was written" if done
            else "no output was written")
    return said + " and the inputs are unchanged"


def _stdout_closed() -> bool:
    """Whether standard output is a pipe whose reader has gone (poll reports an error on its
    writing end); if so, point it at the null device, so that Python's own flush at exit has
    nothing to complain about. Where poll is missing (Windows), a broken pipe is taken to be
    standard output's: output files are regular files, which never report one."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return False
    try:
        import select

        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        if not any(ev & select.POLLERR for _, ev in poller.poll(0)):
            return False
    except (AttributeError, OSError, ValueError):
        pass
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass
    return True


def _print_warnings(prog, caught, flags: dict) -> None:
    seen = set()
    for w in caught:
        line = f"{prog}: warning: {to_flags(_one_line(w.message), flags)}"
        if line not in seen:
            seen.add(line)
            print(line, file=sys.stderr)


def _internal_error(prog: str, exc: Exception, debug: bool) -> int:
    """A bug of ours: a short message, the traceback only on request."""
    from .. import __version__

    if debug:
        traceback.print_exc()
    print(f"{prog}: internal error: {type(exc).__name__}: {_one_line(exc)}. This is a bug "
          f"in fwdmodels {__version__}; please report it on {ISSUES_URL} with the command "
          f"you ran" + ("" if debug else " and the output of --debug"), file=sys.stderr)
    return EXIT_BUG


def _os_error(prog: str, command: str, exc: OSError) -> int:
    """Disk full, a file vanished, an I/O error; or the reader of standard output went away."""
    if isinstance(exc, BrokenPipeError) and _stdout_closed():
        return EXIT_PIPE                 # the reader has all it wanted: end quietly
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    print(f"{prog}: error: {exc.strerror or _one_line(exc)}{where}; "
          f"{_what_was_written(command, 'the error')}; check the disk and the paths",
          file=sys.stderr)
    return EXIT_USER


def main(argv=None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"fwdmodels {args.command}"
    flags = flag_table(command_parsers(parser, args))
    _stop.begin()                            # nothing recorded before this command counts
    previous = {}
    try:
        _catch_stop_signals(previous)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            status = args.run(args)
            sys.stdout.flush()               # a closed pipe shows here, not at exit
        _print_warnings(prog, caught, flags)
        return status
    except (FwdModelsError, MissingDependencyError) as exc:
        print(f"{prog}: error: {to_flags(_one_line(exc), flags)}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; {_what_was_written(args.command)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError:
        print(f"{prog}: error: out of memory; use a smaller --chunk-size", file=sys.stderr)
        return EXIT_USER
    except OSError as exc:
        return _os_error(prog, args.command, exc)
    except Exception as exc:  # a bug of ours
        return _internal_error(prog, exc, getattr(args, "debug", False))
    finally:
        try:
            _restore_signals(previous)
        except KeyboardInterrupt:            # a stop as the command ended: its outputs are
            print(f"{prog}: interrupted as it ended; its outputs are whole",   # whole, but a
                  file=sys.stderr)                         # caller must still see the stop
            return EXIT_INTERRUPTED  # noqa: B012
