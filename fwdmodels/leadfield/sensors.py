"""Standard sensor layouts: EEG 10-20 and 10-10 positions on a sphere, and a whole-head MEG helmet.

EEG positions are built from the angular definitions of the 10-20 system (Jasper 1958) and its
10 % extension (Chatrian, Lettich & Nelson 1985; ACNS 1991 nomenclature), following the
construction of Oostenveld & Praamstra (2001) on a sphere:

* the frame has x towards the right ear (RPA), y towards the nasion, z up; nasion, inion and
  the pre-auricular points lie on the equator;
* the midline Nz–Fpz–AFz–Fz–FCz–Cz–CPz–Pz–POz–Oz–Iz divides the sagittal half circle in 10 %
  steps (18°); the ring through Fpz, T7 and Oz lies 10 % (18°) above the equator and carries
  Fp1/2, AF7/8, F7/8, FT7/8, T7/8, TP7/8, P7/8, PO7/8, O1/2 every 18° of azimuth, and the
  equator carries Nz, F9/10, FT9/10, T9/10, TP9/10, P9/10, PO9/10, I1/2, Iz;
* each coronal row (AF, F, FC, C, CP, P, PO) runs along the circle through its left ring
  point, its midline point and its right ring point, divided into equal arcs (quarters; halves
  for AF and PO).

The MEG helmet has sites spread evenly (a Fibonacci lattice) over a spherical cap around the
head; each site has a magnetometer and two orthogonal planar gradiometers, in the manner of the
306-channel Vectorview/TRIUX (102 sites).

References
----------
Oostenveld R, Praamstra P (2001) The five percent electrode system for high-resolution EEG and
ERP measurements. Clin Neurophysiol 112:713–719.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_int
from ..errors import FwdModelsError
from ..units import ureg
from ._inputs import read_positions, read_si_array

__all__ = ["EEGLayout", "MEGHelmet", "eeg_1020", "eeg_1010", "eeg_layout", "meg_helmet",
           "NAMES_1020", "NAMES_1010", "BIOSEMI64"]

_STEP = np.deg2rad(18.0)


def _point(elevation: float, azimuth: float) -> np.ndarray:
    return np.array([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
                     np.sin(elevation)])


def _arc(a: np.ndarray, b: np.ndarray, c: np.ndarray, fraction: float) -> np.ndarray:
    """The point at ``fraction`` of the arc from ``a`` to ``b`` on the circle through a, b, c."""
    normal = np.cross(b - a, c - a)
    normal /= np.linalg.norm(normal)
    centre = np.dot(normal, a) * normal
    u, v = a - centre, b - centre
    w = np.cross(normal, u)
    angle = np.arctan2(np.dot(v, w), np.dot(v, u))
    if angle < 0:  # the arc from a to b that does not pass through c is the other way round
        w, angle = -w, -angle
    return centre + u * np.cos(fraction * angle) + w * np.sin(fraction * angle)


def _positions_1010() -> dict[str, np.ndarray]:
    pos: dict[str, np.ndarray] = {}
    midline = ["Nz", "Fpz", "AFz", "Fz", "FCz", "Cz", "CPz", "Pz", "POz", "Oz", "Iz"]
    for k, name in enumerate(midline):
        alpha = k * _STEP  # from the nasion over the vertex to the inion
        pos[name] = np.array([0.0, np.cos(alpha), np.sin(alpha)])
    left = ["Fp1", "AF7", "F7", "FT7", "T7", "TP7", "P7", "PO7", "O1"]
    right = ["Fp2", "AF8", "F8", "FT8", "T8", "TP8", "P8", "PO8", "O2"]
    left_eq = [None, None, "F9", "FT9", "T9", "TP9", "P9", "PO9", "I1"]
    right_eq = [None, None, "F10", "FT10", "T10", "TP10", "P10", "PO10", "I2"]
    for k in range(9):
        az_left, az_right = np.pi / 2 + (k + 1) * _STEP, np.pi / 2 - (k + 1) * _STEP
        pos[left[k]], pos[right[k]] = _point(_STEP, az_left), _point(_STEP, az_right)
        if left_eq[k]:
            pos[left_eq[k]], pos[right_eq[k]] = _point(0.0, az_left), _point(0.0, az_right)
    rows = {"AF": ("AF7", "AF8", 2), "F": ("F7", "F8", 4), "FC": ("FT7", "FT8", 4),
            "C": ("T7", "T8", 4), "CP": ("TP7", "TP8", 4), "P": ("P7", "P8", 4),
            "PO": ("PO7", "PO8", 2)}
    for prefix, (lname, rname, parts) in rows.items():
        mid = pos[prefix + "z"]
        lpt, rpt = pos[lname], pos[rname]
        for j in range(1, parts):
            # left: from X7 towards Xz the numbers go 5, 3, 1 (or 3 alone for AF, PO)
            odd = 2 * (parts - j) - 1 if parts == 4 else 3
            even = 2 * j if parts == 4 else 4
            pos[f"{prefix}{odd}"] = _arc(lpt, mid, rpt, j / parts)
            pos[f"{prefix}{even}"] = _arc(mid, rpt, lpt, j / parts)
    return {name: p / np.linalg.norm(p) for name, p in pos.items()}


_UNIT_1010 = _positions_1010()

#: The 21 positions of the 10-20 system (T7/T8/P7/P8 are the older T3/T4/T5/T6).
NAMES_1020 = ("Fp1", "Fpz", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8",
              "P7", "P3", "Pz", "P4", "P8", "O1", "Oz", "O2")
#: All 10-10 positions built here (77), front to back.
NAMES_1010 = tuple(sorted(_UNIT_1010, key=lambda n: (-_UNIT_1010[n][1], _UNIT_1010[n][0])))
#: The 64 channels of a BioSemi 64 cap, all 10-10 names.
BIOSEMI64 = (
    "Fp1", "AF7", "AF3", "F1", "F3", "F5", "F7", "FT7", "FC5", "FC3", "FC1", "C1", "C3", "C5",
    "T7", "TP7", "CP5", "CP3", "CP1", "P1", "P3", "P5", "P7", "P9", "PO7", "PO3", "O1", "Iz",
    "Oz", "POz", "Pz", "CPz", "Fpz", "Fp2", "AF8", "AF4", "AFz", "Fz", "F2", "F4", "F6", "F8",
    "FT8", "FC6", "FC4", "FC2", "FCz", "Cz", "C2", "C4", "C6", "T8", "TP8", "CP6", "CP4",
    "CP2", "P2", "P4", "P6", "P8", "P10", "PO8", "PO4", "O2")
_ALIASES = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}


@dataclass(frozen=True)
class EEGLayout:
    """Named EEG electrode positions.

    Attributes
    ----------
    names : tuple of str
        Channel names, in column order.
    positions : pint.Quantity, shape (M, 3)
        Positions in metres (x right, y front, z up), on the sphere of the layout.
    """

    names: tuple
    positions: object

    def __len__(self) -> int:
        return len(self.names)


def eeg_layout(names, radius="9 cm", origin=None) -> EEGLayout:
    """Positions of the given 10-10 names on a sphere.

    Parameters
    ----------
    names : sequence of str
        10-10 names (case-insensitive; T3, T4, T5, T6 are read as T7, T8, P7, P8).
    radius : pint.Quantity or str
        Radius of the sphere (default 9 cm).
    origin : pint.Quantity, shape (3,), optional
        Centre of the sphere (default: the origin).
    """
    r = read_si_array(radius, "radius", "[length]", (0,)).item()
    if not r > 0:
        raise FwdModelsError(f"`radius` must be positive; got {r!r} m")
    centre = np.zeros(3) if origin is None else read_positions(origin, "origin", 1)[0]
    lookup = {k.lower(): k for k in _UNIT_1010}
    lookup.update({k.lower(): v for k, v in _ALIASES.items()})
    canonical = []
    for name in names:
        key = str(name).lower()
        if key not in lookup:
            raise FwdModelsError(f"`names` must be 10-10 electrode names; got {name!r}")
        canonical.append(lookup[key])
    xyz = centre + r * np.array([_UNIT_1010[n] for n in canonical]).reshape(-1, 3)
    return EEGLayout(tuple(canonical), ureg.Quantity(xyz, "m"))


def eeg_1020(radius="9 cm", origin=None) -> EEGLayout:
    """The 21 electrodes of the 10-20 system on a sphere (see :data:`NAMES_1020`)."""
    return eeg_layout(NAMES_1020, radius, origin)


def eeg_1010(radius="9 cm", origin=None) -> EEGLayout:
    """The 77 electrodes of the 10-10 system built here on a sphere (see :data:`NAMES_1010`)."""
    return eeg_layout(NAMES_1010, radius, origin)


@dataclass(frozen=True)
class MEGHelmet:
    """A whole-head MEG helmet: per site a magnetometer and two orthogonal planar gradiometers.

    Attributes
    ----------
    names : tuple of str
        Site names ``"S001"`` ….
    positions : pint.Quantity, shape (S, 3)
        Sensor centres, in metres.
    normals : numpy.ndarray, shape (S, 3)
        Outward unit normals (the field component every sensor of the site measures).
    grad_dirs : numpy.ndarray, shape (S, 2, 3)
        The two gradiometer directions of each site (along θ and φ of the helmet sphere).
    """

    names: tuple
    positions: object
    normals: np.ndarray
    grad_dirs: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    def channel_names(self) -> tuple:
        """306-style channel names: per site ``<site>M``, ``<site>G1``, ``<site>G2``."""
        return tuple(f"{s}{k}" for s in self.names for k in ("M", "G1", "G2"))

    def magnetometers(self):
        """``(positions, normals)`` for :func:`~fwdmodels.leadfield.sphere_meg_leadfield`."""
        return self.positions, self.normals

    def gradiometers(self):
        """``(positions, normals, gradiometer_dir)`` of the 2·S gradiometers (site-major)."""
        pos = np.repeat(self.positions.to("m").magnitude, 2, axis=0)
        return (ureg.Quantity(pos, "m"), np.repeat(self.normals, 2, axis=0),
                self.grad_dirs.reshape(-1, 3))


def meg_helmet(n_sites=102, radius="12 cm", origin=None, coverage_deg=115.0) -> MEGHelmet:
    """A helmet of ``n_sites`` sites spread evenly over a spherical cap around the head.

    Parameters
    ----------
    n_sites : int
        Number of sites (default 102, as the Vectorview; 306 channels in all).
    radius : pint.Quantity or str
        Distance of the sensors from ``origin`` (default 12 cm).
    origin : pint.Quantity, shape (3,), optional
        Centre of the helmet sphere (default: the origin); place it at the head model's centre.
    coverage_deg : float
        Largest polar angle of the cap from +z, in degrees (default 115: below the ears).
    """
    n = check_int(n_sites, "n_sites", 1)
    r = read_si_array(radius, "radius", "[length]", (0,)).item()
    if not r > 0:
        raise FwdModelsError(f"`radius` must be positive; got {r!r} m")
    if not 0.0 < float(coverage_deg) <= 180.0:
        raise FwdModelsError(f"`coverage_deg` must be in (0, 180]; got {coverage_deg!r}")
    centre = np.zeros(3) if origin is None else read_positions(origin, "origin", 1)[0]
    # Fibonacci lattice on the cap: equal areas, so cos θ is evenly spaced.
    k = np.arange(n) + 0.5
    cos_max = np.cos(np.deg2rad(float(coverage_deg)))
    cos_t = 1.0 - (1.0 - cos_max) * k / n
    sin_t = np.sqrt(1.0 - cos_t ** 2)
    phi = np.pi * (3.0 - np.sqrt(5.0)) * k
    normals = np.column_stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t])
    e_theta = np.column_stack([cos_t * np.cos(phi), cos_t * np.sin(phi), -sin_t])
    e_phi = np.column_stack([-np.sin(phi), np.cos(phi), np.zeros(n)])
    grad_dirs = np.stack([e_theta, e_phi], axis=1)
    names = tuple(f"S{i + 1:03d}" for i in range(n))
    return MEGHelmet(names, ureg.Quantity(centre + r * normals, "m"), normals, grad_dirs)
