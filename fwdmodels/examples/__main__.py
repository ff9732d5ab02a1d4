"""``python -m fwdmodels.examples [NAME] [-o DIR]``: run a teaching example, or list them.

Exit status 0 on success; 2 for an unknown name or a missing optional dependency, reported as
one line on stderr.
"""

from __future__ import annotations

import argparse
import sys

from . import EXAMPLES, describe, run
from ..errors import FwdModelsError, MissingDependencyError

PROG = "python -m fwdmodels.examples"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Run a teaching example: it prints its numbers and saves its "
                               "figure(s) as PNG. Without NAME, list the examples.")
    parser.add_argument("name", nargs="?", metavar="NAME", help="the example to run")
    parser.add_argument("-o", "--outdir", default=".", metavar="DIR",
                        help="directory for the figures (default: the current directory)")
    args = parser.parse_args(argv)
    if args.name is None:
        width = max(map(len, EXAMPLES))
        for name in EXAMPLES:
            print(f"{name:<{width}}  {describe(name)}")
        return 0
    if args.name not in EXAMPLES:
        print(f"{PROG}: error: no example named {args.name!r}; choose one of: "
              f"{', '.join(EXAMPLES)}", file=sys.stderr)
        return 2
    try:
        paths = run(args.name, args.outdir)
    except (FwdModelsError, MissingDependencyError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
