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
]
