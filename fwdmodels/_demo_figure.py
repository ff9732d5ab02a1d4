"""The summary figure of the demo (:func:`fwdmodels.demo.run_demo`): BOLD, EEG and MEG time
courses and the sensors' spectra (needs matplotlib, the ``plot`` extra)."""

from __future__ import annotations

import numpy as np

from .plotting import new_figure, place_legend, save_figure
from .plotting._layout import labelled, round_step

__all__ = ["summary_figure", "DEFAULT_TITLE"]

DEFAULT_TITLE = ("BOLD follows the task blocks; EEG and MEG carry the alpha rhythm of the "
                 "spectra")


def summary_figure(path, *, bold, bold_dt: float, eeg, meg, sensor_dt: float,
                   eeg_names=(), meg_names=(), design=None, design_dt: float | None = None,
                   bold_regions=None, window_s: float = 3.0, eeg_unit="µV", meg_unit="fT",
                   title: str = DEFAULT_TITLE):
    """Write a PNG of BOLD, EEG and MEG time courses and the sensors' spectra.

    Parameters
    ----------
    path : path
        PNG to write (atomically).
    bold : ndarray, shape (T_bold, N)
        BOLD signal (dimensionless; shown in %), sampled every ``bold_dt`` seconds; row n is
        at t = (n + 1) bold_dt.
    eeg, meg : ndarray, shape (T, M)
        Sensor signals in ``eeg_unit`` and ``meg_unit``, sampled every ``sensor_dt`` seconds.
    design : ndarray, optional
        The block design to shade behind the BOLD traces (sampled every ``design_dt`` s).
    bold_regions : sequence of int, optional
        Regions to plot (default: the first four).
    window_s : float
        Seconds of EEG and MEG shown (from the start of the first task block if ``design``).
    title : str
        The figure's one-line title.

    Returns
    -------
    pathlib.Path
        The path written. The EEG and MEG panels stack five channels, each trace offset by
        a round amount (given in the y label), the channel names as y tick labels; the
        spectra are Hann-windowed periodograms of 2-s segments averaged over segments and
        channels, normalised to a peak of 1; the legends are placed off the data.
    """
    fig = new_figure((12, 8), "the summary figure")
    ax = fig.subplot_mosaic([["bold", "bold"], ["eeg", "meg"], ["psd", "psd"]])
    fig.suptitle(title)
    _bold_panel(ax["bold"], bold, bold_dt, design, design_dt, bold_regions)
    start = 0
    if design is not None and design_dt:
        onset = np.flatnonzero(design > 0)
        start = int(max(0.0, onset[0] * design_dt - window_s / 2) / sensor_dt) if onset.size else 0
    stop = min(eeg.shape[0], start + int(window_s / sensor_dt))
    for key, data, names, unit in (("eeg", eeg, eeg_names, eeg_unit),
                                   ("meg", meg, meg_names, meg_unit)):
        _sensor_panel(ax[key], data, names, unit, key.upper(), sensor_dt, start, stop)
    _spectra_panel(ax["psd"], {"EEG": eeg, "MEG": meg}, sensor_dt)
    return save_figure(fig, path)


def _bold_panel(ax, bold, bold_dt: float, design, design_dt, bold_regions) -> None:
    t_bold = (np.arange(bold.shape[0]) + 1) * bold_dt
    regions = list(bold_regions) if bold_regions is not None else list(range(min(4, bold.shape[1])))
    if design is not None:
        t_design = np.arange(design.shape[0]) * design_dt
        top = 100 * float(np.max(bold[:, regions])) if bold.size else 1.0
        ax.fill_between(t_design, 0, top * design, color="0.9", label="task blocks")
    for r in regions:
        ax.plot(t_bold, 100 * bold[:, r], lw=1.6, label=f"region {r}")
    ax.set(xlabel="time (s)", ylabel="BOLD (%)",
           title="fMRI BOLD (Balloon-Windkessel), one sample per TR")
    place_legend(ax)


def _sensor_panel(ax, data, names, unit: str, kind: str, sensor_dt: float, start: int,
                  stop: int) -> None:
    t = np.arange(start, stop) * sensor_dt
    picks = np.linspace(0, data.shape[1] - 1, min(5, data.shape[1])).astype(int)
    spacing = round_step(4 * float(np.std(data[start:stop])) or 1.0, 1)
    for k, c in enumerate(picks):
        ax.plot(t, data[start:stop, c] - k * spacing, lw=0.7)
    ax.set_yticks(-spacing * np.arange(len(picks)),
                  [names[c] if len(names) > c else f"ch {c}" for c in picks])
    ax.set(xlabel="time (s)", ylabel=f"channel ({spacing:g} {unit} apart)",
           title=f"{kind}: {data.shape[1]} channels ({len(picks)} shown)")


def _spectra_panel(ax, signals: dict, sensor_dt: float) -> None:
    for label, data in signals.items():
        seg = min(data.shape[0], int(2.0 / sensor_dt))
        n_seg = data.shape[0] // seg
        if n_seg == 0:
            continue
        x = data[: n_seg * seg].reshape(n_seg, seg, -1)
        x = x - x.mean(axis=1, keepdims=True)
        windowed = x * np.hanning(seg)[None, :, None]
        spec = (np.abs(np.fft.rfft(windowed, axis=1)) ** 2).mean(axis=(0, 2))
        freqs = np.fft.rfftfreq(seg, sensor_dt)
        keep = (freqs > 0) & (freqs <= 40)
        ax.semilogy(freqs[keep], spec[keep] / spec[keep].max(), lw=1.6, label=label)
    ax.set(xlabel="frequency (Hz)", ylabel=labelled("power", "peak = 1"),
           title="Sensor spectra, averaged over channels (2-s Hann windows)")
    place_legend(ax)
