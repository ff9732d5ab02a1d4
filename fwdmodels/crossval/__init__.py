r"""Cross-validation against the JAX implementation (brainmass): compare, then diagnose.

:func:`compare` puts two results side by side, quantity by quantity, and returns a
:class:`Report`: the largest absolute and relative error, where the first sample out of
tolerance is (time index, channel), and pass or fail. ``print(report)`` shows a text table;
``report.as_dict()`` is JSON-serialisable.

When the two disagree, :func:`diagnose_bold`, :func:`diagnose_leadfield` and
:func:`diagnose_noise` recompute fwdmodels' output under each known cause of disagreement
(and, for BOLD, under combinations of them) and name the one that brings agreement:

* BOLD: ``q/rho`` in place of ``q/v`` in the k2 term of the observation (brainmass's
  ``bold()``); a start from x = f = v = q = 1 (brainmass's initial state) instead of rest, or
  the reverse; kappa and gamma inverted (1/0.65 s^-1, 1/0.41 s^-1); a time step off by a factor
  of 1000 or 10 (dt in ms read as s); another integration scheme.
* Lead fields: a power-of-ten unit factor (V against mV, T against fT, brainmass's fixed
  1 nA·m/mV scale applied to a bare input); a transposed lead field (square L), or an
  ``(M, R)`` lead field reshaped to ``(R, M)`` instead of transposed.
* Noise: drawn as ``z·Lc`` (covariance ``Lcᵀ·Lc``, brainmass) instead of ``z·Lcᵀ`` (``C``),
  judged from the sample covariance of noise-only outputs.

Inputs may be NumPy or JAX arrays, pint or brainunit Quantities (converted to the reference's
unit), dicts of them, ``.npz`` files opened with :func:`numpy.load`, or the ``(bold, states)``
pair that ``simulate_bold(..., return_states=True)`` returns.

Tolerances: a sample agrees when ``|candidate - reference| <= atol + rtol * |reference|``.
By default ``rtol`` is 1e-9 when both sides are float64 and 1e-4 when either is float32, and
``atol`` is ``rtol`` times the largest magnitude of that quantity in the reference, so that a
signal that crosses zero (BOLD) is not failed on its zero crossings. An explicit ``atol`` is
in the reference's unit (a Quantity is converted to it).

The command ``fwdmodels crossval bold|eeg|meg ...`` (:mod:`fwdmodels.cli.crossval`) prints
the report and exits 0 when the two agree, 1 when they do not.
"""

from .bold import BrainmassBOLD, brainmass_bold, diagnose_bold
from .leadfield import diagnose_leadfield, diagnose_noise
from .report import Diagnosis, Report, Row, Trial, compare

__all__ = ["compare", "Report", "Row", "Diagnosis", "Trial", "diagnose_bold",
           "diagnose_leadfield", "diagnose_noise", "brainmass_bold", "BrainmassBOLD"]
