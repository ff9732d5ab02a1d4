"""The embedded default data of ``fwdmodels demo``: a seeded synthetic recording and head.

Nothing is downloaded or shipped as a data file: :func:`synthetic_recording` generates the
neural activity on the fly, identically on every machine for a given seed.

The recording (defaults)
------------------------
* 68 regions (as many as the Desikan-Killiany atlas, but **not** anatomical: their positions
  are spread evenly over two hemispherical shells, 34 on each side, 5.5-7 cm from the centre
  of a spherical head, and mirrored left/right), 60 s sampled every 1 ms.
* A block design: four 8-s task blocks starting at 6, 21, 36 and 51 s (edges smoothed by a
  50-ms raised cosine). The 16 most posterior regions (the "visual" ones) are driven by it
  with amplitude 0.4 (a BOLD response near 2 %).
* Alpha-band oscillations: every region oscillates at its own frequency, drawn uniformly in
  9-11 Hz, with a random phase and a slowly varying amplitude (a positive, low-passed random
  envelope, mean 1). In the task regions alpha is halved during the blocks (the classic
  event-related desynchronisation).
* White noise of standard deviation 0.1.

The activity is dimensionless (a normalised activity): it drives the Balloon-Windkessel model
as it is, and becomes dipole moments through a dipole scale of :data:`DIPOLE_SCALE` per unit
of activity for EEG and MEG. Dipole orientations are random (seeded) mixtures of the radial
and tangential directions, so that MEG (blind to radial dipoles) sees them too.

The head is the three-shell sphere of :data:`HEAD` (brain, skull, scalp radii 8.1, 8.5, 9 cm;
conductivities 0.33, 0.0042, 0.33 S/m), with the 21 electrodes of the 10-20 system and a
helmet of 102 magnetometers 12 cm from the centre (see :mod:`fwdmodels.leadfield.sensors`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validation import check_int
from .errors import FwdModelsError
from .units import to_si, ureg

__all__ = ["Recording", "synthetic_recording", "HEAD",  # noqa: F822  (module __getattr__)
           "DIPOLE_SCALE", "demo_leadfields"]

# The demo's spherical head: shell radii (innermost first) and conductivities; ``HEAD`` gives
# them as Quantities (built on first use, so importing fwdmodels does not load pint's units).
_HEAD = {"radii": ([8.1, 8.5, 9.0], "cm"), "conductivities": ([0.33, 0.0042, 0.33], "S/m")}


def _head() -> dict:
    return {key: ureg.Quantity(np.array(values), unit) for key, (values, unit) in _HEAD.items()}


def __getattr__(name):
    if name == "HEAD":
        return _head()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Dipole moment per unit of activity used by the demo for EEG and MEG.
DIPOLE_SCALE = "20 nA*m"
BLOCK_ONSETS_S = (6.0, 21.0, 36.0, 51.0)
BLOCK_LENGTH_S = 8.0
N_TASK_REGIONS = 16
#: Drive of the task regions during a block (BOLD peaks near 2 %).
TASK_AMPLITUDE = 0.4


@dataclass
class Recording:
    """A synthetic neural recording.

    Attributes
    ----------
    activity : numpy.ndarray, shape (T, N)
        Normalised neural activity, dimensionless, time first.
    dt : pint.Quantity
        Sampling interval.
    positions : pint.Quantity, shape (N, 3)
        Region positions, in metres (x right, y front, z up; the head's centre at 0).
    orientations : numpy.ndarray, shape (N, 3)
        Unit dipole orientations.
    names : tuple of str
        Region names ``"lh-01"`` ... ``"rh-34"``.
    design : numpy.ndarray, shape (T,)
        The block design (0 to 1).
    task_regions : numpy.ndarray of int
        Indices of the regions the design drives.
    seed : int
    """

    activity: np.ndarray
    dt: object
    positions: object
    orientations: np.ndarray
    names: tuple
    design: np.ndarray
    task_regions: np.ndarray
    seed: int
    description: str = field(default="", repr=False)


def _hemisphere_points(n: int, r_min: float, r_max: float) -> np.ndarray:
    """``n`` points spread over the upper hemisphere (x > 0 side), radii in [r_min, r_max]."""
    k = np.arange(n) + 0.5
    cos_t = 1.0 - 1.1 * k / n                      # down to ~6 deg below the equator
    sin_t = np.sqrt(1.0 - cos_t ** 2)
    phi = np.pi * (3.0 - np.sqrt(5.0)) * k
    unit = np.column_stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t])
    unit[:, 0] = np.abs(unit[:, 0]) + 0.15          # right hemisphere, off the midline
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    radius = r_min + (r_max - r_min) * (0.5 + 0.5 * np.cos(3.0 * phi))
    return unit * radius[:, None]


def _envelope(rng, n_times: int, n: int, dt: float, smooth_s: float = 0.5) -> np.ndarray:
    """Positive slowly varying envelopes (mean 1): smoothed noise through an exponential.

    The noise is drawn every 50 ms, smoothed by a Gaussian of ``smooth_s`` seconds and
    interpolated linearly onto the time grid.
    """
    from scipy.ndimage import gaussian_filter1d

    step = 0.05
    n_coarse = int(np.ceil(n_times * dt / step)) + 2
    slow = gaussian_filter1d(rng.standard_normal((n_coarse, n)), smooth_s / step, axis=0,
                             mode="reflect")
    slow /= slow.std(axis=0, keepdims=True)
    t_coarse = np.arange(n_coarse) * step
    t = np.arange(n_times) * dt
    env = np.exp(0.4 * np.column_stack([np.interp(t, t_coarse, slow[:, i])
                                        for i in range(n)]))
    return env / env.mean(axis=0, keepdims=True)


def synthetic_recording(n_regions: int = 68, duration="60 s", dt="1 ms", seed: int = 0):
    """The demo's seeded synthetic recording (see the module documentation).

    Parameters
    ----------
    n_regions : int
        Number of regions (even; half per hemisphere).
    duration : str or pint.Quantity
        Length of the recording.
    dt : str or pint.Quantity
        Sampling interval.
    seed : int
        Seed of the random generator; the same seed gives the same recording everywhere.

    Returns
    -------
    Recording
    """
    n = check_int(n_regions, "n_regions", 2)
    if n % 2:
        raise FwdModelsError(f"`n_regions` must be even (half per hemisphere); got {n}")
    seed = check_int(seed, "seed", 0)
    dt_s = to_si(dt, "dt", "[time]")
    total = to_si(duration, "duration", "[time]")
    if not (dt_s > 0 and total >= dt_s):
        raise FwdModelsError(f"`duration` must be at least one `dt`; got {total!r} s and "
                             f"{dt_s!r} s")
    n_times = int(round(total / dt_s))
    rng = np.random.default_rng(seed)
    t = np.arange(n_times) * dt_s

    half = _hemisphere_points(n // 2, 0.055, 0.070)
    left = half * np.array([-1.0, 1.0, 1.0])
    pos = np.vstack([left, half])
    radial = pos / np.linalg.norm(pos, axis=1, keepdims=True)
    tangent = np.cross(radial, rng.standard_normal((n, 3)))
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    ori = 0.6 * radial + 0.8 * tangent
    ori /= np.linalg.norm(ori, axis=1, keepdims=True)
    names = tuple(f"lh-{i + 1:02d}" for i in range(n // 2)) + \
        tuple(f"rh-{i + 1:02d}" for i in range(n // 2))

    design = np.zeros(n_times)
    ramp = 0.05
    for onset in BLOCK_ONSETS_S:
        up = np.clip((t - onset) / ramp, 0.0, 1.0)
        down = np.clip((onset + BLOCK_LENGTH_S - t) / ramp, 0.0, 1.0)
        design = np.maximum(design, 0.5 - 0.5 * np.cos(np.pi * np.minimum(up, down)))
    task = np.sort(np.argsort(pos[:, 1])[:min(N_TASK_REGIONS, n)])

    freq = rng.uniform(9.0, 11.0, n)
    phase = rng.uniform(0.0, 2.0 * np.pi, n)
    envelope = _envelope(rng, n_times, n, dt_s)
    suppression = np.ones((n_times, n))
    suppression[:, task] -= 0.5 * design[:, None]
    alpha = envelope * suppression * np.sin(2.0 * np.pi * freq * t[:, None] + phase)
    activity = alpha + 0.1 * rng.standard_normal((n_times, n))
    activity[:, task] += TASK_AMPLITUDE * design[:, None]
    return Recording(activity=activity, dt=ureg.Quantity(dt_s, "s"),
                     positions=ureg.Quantity(pos, "m"), orientations=ori, names=names,
                     design=design, task_regions=task, seed=seed,
                     description=__doc__.split("The recording (defaults)")[1].strip())


def demo_leadfields(recording: Recording):
    """The demo's EEG (10-20 cap) and MEG (102 magnetometers) lead fields for ``recording``.

    Returns ``(L_eeg, eeg_names, L_meg, meg_names)``: ``(N, 21)`` in V/(A·m) and ``(N, 102)``
    in T/(A·m), reference at infinity.
    """
    from .leadfield import sphere_eeg_leadfield, sphere_meg_leadfield
    from .leadfield.sensors import eeg_1020, meg_helmet

    head = _head()
    cap = eeg_1020(radius=head["radii"][-1])
    L_eeg = sphere_eeg_leadfield(recording.positions, recording.orientations, cap.positions,
                                 head["radii"], head["conductivities"])
    helmet = meg_helmet(102)
    pos, normals = helmet.magnetometers()
    L_meg = sphere_meg_leadfield(recording.positions, recording.orientations, pos, normals)
    return L_eeg, tuple(cap.names), L_meg, tuple(f"{s}M" for s in helmet.names)
