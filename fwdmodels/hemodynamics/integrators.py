"""Explicit Runge-Kutta schemes as data (Butcher tableaux) and one NumPy step function.

The neural drive is held constant over each step, so the nodes ``c`` of a tableau play no
role in the hemodynamic system; they are kept for the tableau's invariants (the row sums of
``A`` equal ``c``). ``"heun"`` is exactly::

    k1 = F(y),  k2 = F(y + dt k1),  y_next = y + dt/2 (k1 + k2)

the scheme of brainmass's ``BOLDSignal`` (``ode_rk2_step``), so the two can be compared step
by step.
"""

from __future__ import annotations

from dataclasses import dataclass


from .equations import rhs

__all__ = ["Tableau", "TABLEAUX", "METHOD_CODES", "rk_step"]


@dataclass(frozen=True)
class Tableau:
    """An explicit Runge-Kutta method: stage matrix ``A``, weights ``b``, nodes ``c``, order."""

    A: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    c: tuple[float, ...]
    order: int


TABLEAUX = {
    "euler": Tableau(A=((0.0,),), b=(1.0,), c=(0.0,), order=1),
    "heun": Tableau(A=((0.0, 0.0), (1.0, 0.0)), b=(0.5, 0.5), c=(0.0, 1.0), order=2),
    "rk4": Tableau(
        A=((0.0, 0.0, 0.0, 0.0), (0.5, 0.0, 0.0, 0.0), (0.0, 0.5, 0.0, 0.0), (0.0, 0.0, 1.0, 0.0)),
        b=(1 / 6, 1 / 3, 1 / 3, 1 / 6), c=(0.0, 0.5, 0.5, 1.0), order=4),
}

#: Integer codes the Numba kernels use for the fixed-step methods.
METHOD_CODES = {"euler": 0, "heun": 1, "rk4": 2}


def rk_step(y, z, dt: float, p, tableau: Tableau):
    """Advance the state ``y = (x, f, v, q)`` by one step of ``dt`` seconds with input ``z``.

    Works on scalars or on arrays of regions; returns a new tuple and leaves ``y`` unchanged.
    """
    stages = []
    for i, row in enumerate(tableau.A):
        yi = list(y)
        for j in range(i):
            if row[j] != 0.0:
                yi = [yk + dt * row[j] * kk for yk, kk in zip(yi, stages[j])]
        stages.append(rhs(*yi, z, p))
    out = list(y)
    for bi, k in zip(tableau.b, stages):
        out = [yk + dt * bi * kk for yk, kk in zip(out, k)]
    return tuple(out)
