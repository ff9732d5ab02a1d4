"""Standard sensor layouts: EEG 10-20, 10-10 and 10-05 positions on a sphere, and a whole-head
MEG helmet with magnetometers and planar gradiometers (306 channels, as the Neuromag/Elekta
Vectorview).

EEG positions are the standard ones (Oostenveld & Praamstra 2001): the positions of the 10-05
system on the MNI Colin27 head distributed with FieldTrip and MNE-Python (MNE's
``colin27_1005`` montage, formerly ``standard_1005``), as directions from the centre of the
sphere fitted to them (see :mod:`fwdmodels.leadfield._standard_1005`), placed on a sphere of
the radius asked for. The frame is MNE-Python's head frame: x towards the right pre-auricular
point, y towards the nasion, z up. The table is part of fwdmodels (mne is not needed); the
tests check it against ``mne.channels.make_standard_montage``. On the fitted sphere T7 and T8
are 169° apart and Cz lies 7° in front of the top: a real head, not an idealised one.

The MEG helmet has sites spread evenly (a Fibonacci lattice) over a spherical cap around the
head; each site has a magnetometer and two orthogonal planar gradiometers, in the manner of the
306-channel Vectorview/TRIUX (102 sites); see :class:`MEGHelmet`.

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
from ._standard_1005 import directions

__all__ = ["EEGLayout", "MEGHelmet", "eeg_1020", "eeg_1010", "eeg_1005", "eeg_layout",
           "meg_helmet", "neuromag306", "NAMES_1020", "NAMES_1010", "NAMES_1005", "BIOSEMI64"]

_UNIT = {name: np.array(v) / np.linalg.norm(v) for name, v in directions().items()}
#: Positions that are not points of the 10-05 grid: mastoids and earlobes.
_EXTRA = ("M1", "M2", "A1", "A2")
#: The 21 positions of the 10-20 system (T7/T8/P7/P8 are the older T3/T4/T5/T6).
NAMES_1020 = ("Fp1", "Fpz", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8",
              "P7", "P3", "Pz", "P4", "P8", "O1", "Oz", "O2")
#: The 87 positions of the 10-10 system (MNE's 10-10 set and Nz), front to back.
NAMES_1010 = ("Nz",) + tuple(n for n in _UNIT if not n.endswith("h") and n != "Nz"
                             and n not in _EXTRA and not n.startswith(
                                 ("AFp", "AFF", "FFC", "FFT", "FCC", "FTT", "CCP", "TTP",
                                  "CPP", "TPP", "PPO", "POO", "OI")))
#: All 336 positions of the 10-05 system in the table, front to back (10-10 ones included).
NAMES_1005 = ("Nz",) + tuple(n for n in _UNIT if n != "Nz" and n not in _EXTRA)
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
    """Positions of the given standard electrode names on a sphere.

    Parameters
    ----------
    names : sequence of str
        10-20, 10-10 or 10-05 names, or M1, M2, A1, A2 (case-insensitive; T3, T4, T5, T6 are
        read as T7, T8, P7, P8).
    radius : pint.Quantity or str
        Radius of the sphere (default 9 cm).
    origin : pint.Quantity, shape (3,), optional
        Centre of the sphere (default: the origin).
    """
    r = read_si_array(radius, "radius", "[length]", (0,)).item()
    if not r > 0:
        raise FwdModelsError(f"`radius` must be positive; got {r!r} m")
    centre = np.zeros(3) if origin is None else read_positions(origin, "origin", 1)[0]
    lookup = {k.lower(): k for k in _UNIT}
    lookup.update({k.lower(): v for k, v in _ALIASES.items()})
    canonical = []
    for name in names:
        key = str(name).lower()
        if key not in lookup:
            raise FwdModelsError(f"`names` must be standard 10-20/10-10/10-05 electrode names "
                                 f"(or M1, M2, A1, A2); got {name!r}")
        canonical.append(lookup[key])
    xyz = centre + r * np.array([_UNIT[n] for n in canonical]).reshape(-1, 3)
    return EEGLayout(tuple(canonical), ureg.Quantity(xyz, "m"))


def eeg_1020(radius="9 cm", origin=None) -> EEGLayout:
    """The 21 electrodes of the 10-20 system on a sphere (see :data:`NAMES_1020`)."""
    return eeg_layout(NAMES_1020, radius, origin)


def eeg_1010(radius="9 cm", origin=None) -> EEGLayout:
    """The 87 electrodes of the 10-10 system on a sphere (see :data:`NAMES_1010`)."""
    return eeg_layout(NAMES_1010, radius, origin)


def eeg_1005(radius="9 cm", origin=None) -> EEGLayout:
    """The 336 electrodes of the 10-05 system on a sphere (see :data:`NAMES_1005`)."""
    return eeg_layout(NAMES_1005, radius, origin)


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

    def mag_names(self) -> tuple:
        """Names of the S magnetometers, ``<site>M``."""
        return tuple(f"{s}M" for s in self.names)

    def grad_names(self) -> tuple:
        """Names of the 2·S gradiometers, ``<site>G1``, ``<site>G2`` (site-major)."""
        return tuple(f"{s}{k}" for s in self.names for k in ("G1", "G2"))

    def leadfields(self, src_pos, src_ori, origin=None, *, accuracy="accurate") -> dict:
        """The whole helmet's lead fields: ``{"mag": (R, S), "grad": (R, 2·S)}`` Quantities.

        Magnetometers in T/(A·m) and gradiometers in T/(m·A·m) (their units differ, so they
        are two matrices, in the order of :meth:`mag_names` and :meth:`grad_names`), from
        :func:`~fwdmodels.leadfield.sphere_meg_leadfield` with Vectorview coils integrated
        at ``accuracy``; each magnetometer's square is aligned with the site's first
        gradiometer direction. ``src_ori`` None gives (R, 3, ·) free orientations.
        """
        from .headmodels import sphere_meg_leadfield

        pos, nrm = self.magnetometers()
        mag = sphere_meg_leadfield(src_pos, src_ori, pos, nrm, origin, accuracy=accuracy,
                                   coil_x=self.grad_dirs[:, 0])
        gpos, gnrm, gdir = self.gradiometers()
        grad = sphere_meg_leadfield(src_pos, src_ori, gpos, gnrm, origin,
                                    gradiometer_dir=gdir, accuracy=accuracy)
        return {"mag": mag, "grad": grad}


def neuromag306(radius="12 cm", origin=None) -> MEGHelmet:
    """A 306-channel Neuromag-like helmet: 102 sites, each a magnetometer and two orthogonal
    planar gradiometers (102 + 204 channels), as the Elekta/Neuromag Vectorview and TRIUX.

    The sites are spread evenly (not at the Vectorview's own positions); the coils are the
    Vectorview's (see :mod:`fwdmodels.leadfield.coils`). :meth:`MEGHelmet.leadfields` gives
    the two lead fields; :func:`meg_helmet` the same layout with another number of sites.
    """
    return meg_helmet(102, radius, origin)


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
