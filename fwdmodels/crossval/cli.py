"""The ``fwdmodels crossval`` command lives in :mod:`fwdmodels.cli.crossval`; these two names
stay here for :mod:`fwdmodels.crossval`, which exports them."""

from __future__ import annotations

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    """Add the ``crossval`` sub-command to a CLI (see :func:`fwdmodels.cli.crossval.add_parser`)."""
    from ..cli.crossval import add_parser as add

    return add(subparsers)


def run(args) -> int:
    """Run ``fwdmodels crossval`` (see :func:`fwdmodels.cli.crossval.run`)."""
    from ..cli.crossval import run as run_crossval

    return run_crossval(args)
