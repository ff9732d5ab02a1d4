"""fwdmodels: neuroimaging forward models (fMRI BOLD, EEG, MEG) with physical units.

The NumPy/SciPy reference for the forward models of brainmass, with optional Numba kernels.

>>> import numpy as np, fwdmodels
>>> z = np.zeros((2000, 4)); z[100:600] = 1.0          # a 0.5-s boxcar, 4 regions
>>> bold = fwdmodels.simulate_bold(z, dt="1 ms")       # (2000, 4), dimensionless
"""

__version__ = "0.1.0"

from .errors import DomainError, FwdModelsError, MissingDependencyError
from .hemodynamics import BalloonParams, BOLDSignal, simulate_bold, steady_state
from . import crossval, datasets, io, leadfield, pipeline
from .leadfield import EEGLeadFieldModel, LeadFieldModel, MEGLeadFieldModel
from .units import ureg

#: Submodules loaded on first access (PEP 562), so that ``import fwdmodels`` stays light:
#: ``fwdmodels.distributed`` (dask) and ``fwdmodels.plotting`` (matplotlib) import their
#: extras only inside the functions that need them.
_LAZY_SUBMODULES = ("distributed", "plotting")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")   # binds fwdmodels.<name> too
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))


__all__ = [
    "__version__",
    "ureg",
    "FwdModelsError",
    "DomainError",
    "MissingDependencyError",
    "BalloonParams",
    "BOLDSignal",
    "simulate_bold",
    "steady_state",
    "LeadFieldModel",
    "EEGLeadFieldModel",
    "MEGLeadFieldModel",
    "crossval",
    "datasets",
    "io",
    "leadfield",
    "pipeline",
    "distributed",
    "plotting",
]
