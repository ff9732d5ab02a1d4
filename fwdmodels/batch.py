"""``fwdmodels batch`` lives in :mod:`fwdmodels.cli.batch`; its names stay importable here for
``benchmarks/batch_scaling.py``, which drives it as the command does."""

from .cli.batch import (FORMATS, _client, _plan, add_parser, collect_inputs,  # noqa: F401
                        process_file, run)

__all__ = ["add_parser", "run", "process_file", "collect_inputs", "FORMATS"]
