"""EEG and MEG lead fields: models, references, noise, vertex-to-region aggregation, head models.

Everything here is reachable as ``fwdmodels.leadfield.<name>`` after ``import fwdmodels``.
"""

from . import aggregation, coils, headmodels, noise, reference, sensors
from .aggregation import fixed_orientation, parcellation_matrix, region_leadfield, sign_flips
from .headmodels import multishell_coefficients, sphere_eeg_leadfield, sphere_meg_leadfield
from .model import EEGLeadFieldModel, LeadFieldModel, MEGLeadFieldModel
from .noise import draw_noise, noise_factor, read_noise_cov
from .reference import apply_reference, reference_matrix
from .sensors import (EEGLayout, MEGHelmet, eeg_1005, eeg_1010, eeg_1020, eeg_layout, meg_helmet,
                      neuromag306)

__all__ = [
    "LeadFieldModel", "EEGLeadFieldModel", "MEGLeadFieldModel",
    "sphere_meg_leadfield", "sphere_eeg_leadfield", "multishell_coefficients",
    "fixed_orientation", "parcellation_matrix", "region_leadfield", "sign_flips",
    "reference_matrix", "apply_reference", "read_noise_cov", "noise_factor", "draw_noise",
    "EEGLayout", "MEGHelmet", "eeg_1020", "eeg_1010", "eeg_1005", "eeg_layout", "meg_helmet",
    "neuromag306", "sensors", "headmodels", "noise", "reference", "aggregation", "coils",
]
