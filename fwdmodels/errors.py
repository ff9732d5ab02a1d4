"""The exception family of fwdmodels.

Every error that a user's input can cause is a :class:`FwdModelsError`. Its message names the
argument, the rule it broke and the value that was given, so that the command-line interface
can print it as one line and exit with status 2.
"""

from __future__ import annotations

import importlib

__all__ = ["FwdModelsError", "DomainError", "MissingDependencyError", "optional_import"]


class FwdModelsError(ValueError):
    """An input or a configuration that fwdmodels cannot accept."""


class DomainError(FwdModelsError):
    """A simulated state left the domain where the model is defined (or became non-finite).

    Attributes
    ----------
    time_index : int
        Index of the first output row that is invalid.
    region : int
        Flat index of the first region (column) where it happened.
    """

    def __init__(self, message: str, time_index: int, region: int):
        super().__init__(message)
        self.time_index = time_index
        self.region = region


class MissingDependencyError(ImportError):
    """An optional dependency is needed for the requested feature but is not installed."""

    def __init__(self, package: str, extra: str, feature: str):
        super().__init__(
            f"{feature} needs the optional package {package!r}; install it with "
            f"`pip install \"fwdmodels[{extra}]\"`."
        )
        self.package = package
        self.extra = extra


def optional_import(module: str, extra: str, feature: str):
    """Import an optional dependency, or raise :class:`MissingDependencyError` naming the extra.

    ``module`` may be a submodule (``"dask.array"``); the package named is its top level.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(module.split(".")[0], extra, feature) from None
