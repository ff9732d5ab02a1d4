"""Figures (behind the ``plot`` extra): the summary figure of ``fwdmodels demo``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import MissingDependencyError

__all__ = ["summary_figure"]


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError("matplotlib", "plot", "the summary figure") from None
    return Figure, FigureCanvasAgg


def summary_figure(path, *, bold, bold_dt: float, eeg, meg, sensor_dt: float,
                   eeg_names=(), meg_names=(), design=None, design_dt: float | None = None,
                   bold_regions=None, window_s: float = 3.0, eeg_unit="µV", meg_unit="fT"):
    """Write a PNG of BOLD, EEG and MEG time courses and the sensors' spectra.

    Parameters
    ----------
    path : path
        PNG to write (atomically).
    bold : ndarray, shape (T_bold, N)
        BOLD signal (dimensionless; shown in %), sampled every ``bold_dt`` seconds.
    eeg, meg : ndarray, shape (T, M)
        Sensor signals in ``eeg_unit`` and ``meg_unit``, sampled every ``sensor_dt`` seconds.
    design : ndarray, optional
        The block design to shade behind the BOLD traces (sampled every ``design_dt``).
    bold_regions : sequence of int, optional
        Regions to plot (default: the first four).
    window_s : float
        Seconds of EEG and MEG shown (from the start of the first task block if ``design``).
    """
    from .io import atomic_path

    Figure, FigureCanvasAgg = _matplotlib()
    fig = Figure(figsize=(11, 7.5), layout="constrained")
    canvas = FigureCanvasAgg(fig)
    ax = fig.subplot_mosaic([["bold", "bold"], ["eeg", "meg"], ["psd", "psd"]])
    t_bold = (np.arange(bold.shape[0]) + 1) * bold_dt
    regions = list(bold_regions) if bold_regions is not None else list(range(min(4, bold.shape[1])))
    if design is not None:
        t_design = np.arange(design.shape[0]) * design_dt
        top = 100 * float(np.max(bold[:, regions])) if bold.size else 1.0
        ax["bold"].fill_between(t_design, 0, top * design, color="0.9", label="task blocks")
    for r in regions:
        ax["bold"].plot(t_bold, 100 * bold[:, r], lw=1.2, label=f"region {r}")
    ax["bold"].set(xlabel="time (s)", ylabel="BOLD (%)", title="fMRI BOLD (Balloon-Windkessel)")
    ax["bold"].legend(loc="upper right", fontsize="small", ncol=5)
    start = 0
    if design is not None and design_dt:
        onset = np.flatnonzero(design > 0)
        start = int(max(0.0, onset[0] * design_dt - window_s / 2) / sensor_dt) if onset.size else 0
    stop = min(eeg.shape[0], start + int(window_s / sensor_dt))
    t = np.arange(start, stop) * sensor_dt
    for key, data, names, unit, title in (("eeg", eeg, eeg_names, eeg_unit, "EEG"),
                                          ("meg", meg, meg_names, meg_unit, "MEG")):
        picks = np.linspace(0, data.shape[1] - 1, min(5, data.shape[1])).astype(int)
        spread = 4 * float(np.std(data[start:stop])) or 1.0
        for k, c in enumerate(picks):
            label = names[c] if len(names) > c else f"ch {c}"
            ax[key].plot(t, data[start:stop, c] - k * spread, lw=0.6, label=label)
        ax[key].set(xlabel="time (s)", ylabel=f"{title} ({unit}), offset",
                    title=f"{title}: {data.shape[1]} channels (5 shown)")
        ax[key].legend(loc="upper right", fontsize="x-small")
    for data, label in ((eeg, "EEG"), (meg, "MEG")):
        seg = min(data.shape[0], int(2.0 / sensor_dt))
        n_seg = data.shape[0] // seg
        if n_seg == 0:
            continue
        x = data[: n_seg * seg].reshape(n_seg, seg, -1)
        x = x - x.mean(axis=1, keepdims=True)
        spec = (np.abs(np.fft.rfft(x * np.hanning(seg)[None, :, None], axis=1)) ** 2).mean(axis=(0, 2))
        freqs = np.fft.rfftfreq(seg, sensor_dt)
        keep = (freqs > 0) & (freqs <= 40)
        ax["psd"].semilogy(freqs[keep], spec[keep] / spec[keep].max(), label=label)
    ax["psd"].set(xlabel="frequency (Hz)", ylabel="power (normalised)",
                  title="Sensor spectra (alpha peak near 10 Hz)")
    ax["psd"].legend()
    path = Path(path)
    with atomic_path(path, force=True) as tmp:
        with open(tmp, "wb") as fh:
            canvas.print_png(fh)
    return path
