"""Hemodynamics: the Balloon-Windkessel model from neural activity to the BOLD signal."""

from .balloon import BOLDSignal, simulate_bold
from .hrf import (balloon_kernel, balloon_linear_system, convolve_hrf, gamma_hrf, glover_hrf,
                  kernel_times, spm_hrf, spm_hrf_bin_average, volterra_kernel)
from .integrators import TABLEAUX, Tableau
from .params import OBSERVATIONS, BalloonParams
from .plan import BOLDPlan, make_plan
from .presets import PRESETS
from .sampling import sample_tr
from .steady_state import steady_state

__all__ = ["BOLDSignal", "simulate_bold", "BOLDPlan", "make_plan", "BalloonParams", "PRESETS",
           "OBSERVATIONS",
           "steady_state", "sample_tr", "TABLEAUX", "Tableau", "balloon_kernel",
           "balloon_linear_system", "volterra_kernel", "spm_hrf", "spm_hrf_bin_average",
           "glover_hrf", "gamma_hrf",
           "convolve_hrf", "kernel_times"]
