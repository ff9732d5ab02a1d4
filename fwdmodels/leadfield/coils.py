"""MEG sensor coils integrated as MNE-Python integrates them: points, weights, accuracy.

A coil is measured as a weighted sum of the field component along the coil's normal at a few
integration points, ``Σ_i w_i B(r_i)·n``. The points are given in the coil's frame
(x = ``ex``, y = ``ey``, z = ``ez`` = the normal; origin at the coil centre) and placed in the
head frame as ``r_i = r0 + x_i ex + y_i ey + z_i ez``. Three accuracies, as MNE-Python's:

* ``"accurate"`` (the default, and what ``mne.make_forward_solution`` uses): 16 points per
  magnetometer, 8 per planar gradiometer;
* ``"normal"``: 4 points per coil;
* ``"point"``: a magnetometer is its centre; a planar gradiometer two points ±8.4 mm along
  ``ex`` (weights ±1/16.8 mm, so the result is a gradient in T/m).

Except for the point magnetometer, every point lies 0.3 mm along the normal (``z = 3e-4 m``):
the coils' offset from the sensor position of the Vectorview's channel information.

The two coils are the Elekta/Neuromag Vectorview's: the magnetometer "T3" (coil type 3024, a
21.0 mm square) and the planar gradiometer "T1" (coil type 3012, 26.39 mm, baseline 16.8 mm).
Their points and weights are transcribed from the coil definition file ``coil_def.dat``
(M. Hämäläinen, MGH/Martinos Center) shipped with MNE-Python (``mne/data/coil_def.dat``),
weights as printed there (59.5238 for 1/0.0168 m); the tests compare them with that file and
with MNE-Python's forward solution.

References
----------
Hämäläinen MS, MNE software: ``coil_def.dat``, coil definitions of the MNE-C and MNE-Python
packages (format: class, id, accuracy, number of points, size, baseline; then per point
weight, x, y, z, nx, ny, nz in m).
"""

from __future__ import annotations

import numpy as np

from .._validation import check_option
from ..errors import FwdModelsError

__all__ = ["ACCURACIES", "COIL_TYPES", "coil_definition", "coil_frames", "integration_points"]

#: Accuracies, MNE-Python's names; "accurate", the default, is make_forward_solution's.
ACCURACIES = ("accurate", "normal", "point")
#: MNE/FIFF coil type of each kind of sensor.
COIL_TYPES = {"mag": 3024, "grad": 3012}

# (weight, x, y, z) per point, in m; every normal is (0, 0, 1). From coil_def.dat.
_DEFS = {
    ("grad", "point"): """
        59.5238  8.400e-03  0.000e+00 3.000e-04
       -59.5238 -8.400e-03  0.000e+00 3.000e-04""",
    ("grad", "normal"): """
        29.7619  8.400e-03  6.713e-03 3.000e-04
        29.7619  8.400e-03 -6.713e-03 3.000e-04
       -29.7619 -8.400e-03  6.713e-03 3.000e-04
       -29.7619 -8.400e-03 -6.713e-03 3.000e-04""",
    ("grad", "accurate"): """
        14.9858  1.079e-02  6.713e-03 3.000e-04
        14.9858  5.891e-03  6.713e-03 3.000e-04
        14.9858  5.891e-03 -6.713e-03 3.000e-04
        14.9858  1.079e-02 -6.713e-03 3.000e-04
       -14.9858 -1.079e-02  6.713e-03 3.000e-04
       -14.9858 -5.891e-03  6.713e-03 3.000e-04
       -14.9858 -5.891e-03 -6.713e-03 3.000e-04
       -14.9858 -1.079e-02 -6.713e-03 3.000e-04""",
    ("mag", "point"): """
         1.0000  0.000e+00  0.000e+00 0.000e+00""",
    ("mag", "normal"): """
         0.2500 -5.250e-03 -5.250e-03 3.000e-04
         0.2500 -5.250e-03  5.250e-03 3.000e-04
         0.2500  5.250e-03 -5.250e-03 3.000e-04
         0.2500  5.250e-03  5.250e-03 3.000e-04""",
    ("mag", "accurate"): "\n".join(
        f"0.0625 {x:.3e} {y:.3e} 3.000e-04"
        for x in (-7.875e-3, -2.625e-3, 2.625e-3, 7.875e-3)
        for y in (-7.875e-3, -2.625e-3, 2.625e-3, 7.875e-3)),
}


def coil_definition(kind: str, accuracy: str) -> tuple[np.ndarray, np.ndarray]:
    """``(weights (n,), points (n, 3))`` of a ``"mag"`` or ``"grad"`` coil, in its frame (m)."""
    check_option(kind, "kind", tuple(COIL_TYPES))
    check_option(accuracy, "accuracy", ACCURACIES)
    rows = np.array([[float(v) for v in line.split()]
                     for line in _DEFS[kind, accuracy].strip().splitlines()])
    return rows[:, 0].copy(), rows[:, 1:4].copy()


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def coil_frames(normals: np.ndarray, x_axes: np.ndarray | None, name: str) -> tuple:
    """``(ex, ey, ez)`` per coil, each (M, 3), orthonormal and right-handed.

    ``x_axes`` is projected on the plane of the coil (normal ``ez``) and normalised; None
    chooses, for each coil, the direction of steepest descent on the helmet: ``−z`` made
    perpendicular to the normal (``e_θ`` of a sphere about the origin; ``+x`` for a coil
    whose normal is ±z).
    """
    ez = _unit(np.asarray(normals, dtype=float))
    if x_axes is None:
        down = np.array([0.0, 0.0, -1.0])
        ex = down - (ez @ down)[:, None] * ez
        flat = np.linalg.norm(ex, axis=1) < 1e-9
        ex[flat] = [1.0, 0.0, 0.0]
    else:
        ex = np.asarray(x_axes, dtype=float)
        ex = ex - np.sum(ex * ez, axis=1, keepdims=True) * ez
    length = np.linalg.norm(ex, axis=1)
    if np.any(length < 1e-6):
        worst = int(np.argmin(length))
        raise FwdModelsError(f"`{name}` must not be parallel to the coil normal "
                             f"(`sensor_ori`); row {worst} is")
    ex = ex / length[:, None]
    return ex, np.cross(ez, ex), ez


def integration_points(positions: np.ndarray, frames: tuple, kind: str, accuracy: str):
    """Integration points of M coils: ``(points (M, n, 3), weights (n,))`` in the head frame.

    The field component along each coil's normal at ``points[m]``, weighted by ``weights``
    and summed, is the coil's signal (T for magnetometers, T/m for planar gradiometers).
    """
    w, local = coil_definition(kind, accuracy)
    ex, ey, ez = frames
    points = (positions[:, None, :] + local[None, :, 0:1] * ex[:, None, :]
              + local[None, :, 1:2] * ey[:, None, :] + local[None, :, 2:3] * ez[:, None, :])
    return points, w
