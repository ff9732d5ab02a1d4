"""Hemodynamics: the Balloon-Windkessel model from neural activity to the BOLD signal."""

from .balloon import BOLDSignal, simulate_bold
from .integrators import TABLEAUX, Tableau
from .params import OBSERVATIONS, BalloonParams
from .presets import PRESETS
from .sampling import sample_tr
from .steady_state import steady_state

__all__ = ["BOLDSignal", "simulate_bold", "BalloonParams", "PRESETS", "OBSERVATIONS",
           "steady_state", "sample_tr", "TABLEAUX", "Tableau"]
