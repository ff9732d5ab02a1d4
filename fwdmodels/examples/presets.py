"""The BOLD response to a 4-s block of activity under each parameter preset.

The Balloon-Windkessel model (Friston et al. 2000, 2003) turns a neural drive z(t) into the
BOLD signal in two stages. The hemodynamic states follow

    dx/dt = z - kappa x - gamma (f - 1)     vasodilatory signal x (1/s)
    df/dt = x                               blood inflow f (1 at rest)
    tau dv/dt = f - v^(1/alpha)             venous volume v
    tau dq/dt = f E(f)/rho - v^(1/alpha) q/v    deoxyhemoglobin q, E(f) = 1 - (1 - rho)^(1/f)

and the BOLD signal is read from v and q, y = V0 (k1 (1 - q) + k2 (1 - q/v) + k3 (1 - v)).
The presets (``fwdmodels.hemodynamics.PRESETS``) differ in the rates (kappa, gamma, tau...)
and in the observation equation: the "classic" k1 = 7 rho, k2 = 2, k3 = 2 rho - 0.2, or the
"revised" coefficients of Stephan et al. (2007), computed from the field strength (nu0, r0)
and the echo time. Here every preset gets the same input: z = 1 for 4 s from t = 1 s.

Run it with ``python -m fwdmodels.examples presets``; it prints, per preset, when the
response peaks (seconds after the block's onset), how high, and the depth of the
post-stimulus undershoot, and it writes ``presets.png``.
"""

from pathlib import Path

import numpy as np

DT = "10 ms"            # the integration step: every dt is written with its unit
DT_S = 0.01             # ... and the same step as a number of seconds, for our own arrays
ONSET_S = 1.0           # the block starts at 1 s,
BLOCK_S = 4.0           # lasts 4 s,
AMPLITUDE = 1.0         # with the neural drive z = 1 (a normalised activity),
DURATION_S = 30.0       # and we follow the response for 30 s.


def boxcar() -> np.ndarray:
    """The neural input, shape (T, 1): z[m] is held over [m dt, (m + 1) dt)."""
    t = np.arange(round(DURATION_S / DT_S)) * DT_S
    on = (t >= ONSET_S - 1e-9) & (t < ONSET_S + BLOCK_S - 1e-9)
    return (AMPLITUDE * on)[:, None]


def peak(bold: np.ndarray) -> tuple[float, float, float]:
    """(peak time after onset in s, peak height, undershoot depth) of a 1-D BOLD series.

    Row n of a simulation is the state at t = (n + 1) dt, hence the "+ 1".
    """
    k = int(np.argmax(bold))
    return (k + 1) * DT_S - ONSET_S, float(bold[k]), float(bold.min())


#: Echo time for the 7-T preset drawn next to it: the revised presets keep TE = 40 ms,
#: a 1.5-T echo time; at 7 T shorter echo times are the rule.
TE_7T = "25 ms"


def high_field(params: dict) -> bool:
    """Whether a preset is for 3 T or 7 T: its revised coefficients have a frequency offset
    nu0 of 84.8 Hz (3 T) or 197.9 Hz (7 T), against 40.3 Hz at 1.5 T."""
    return params.get("nu0", 0.0) > 50.0


def main(outdir=".") -> list[Path]:
    from fwdmodels.hemodynamics import PRESETS, BalloonParams, simulate_bold
    from fwdmodels.plotting import add_note, new_figure, place_legend, plot_bold, save_figure

    z = boxcar()
    print(f"BOLD response to z = {AMPLITUDE:g} for {BLOCK_S:g} s (onset at {ONSET_S:g} s), "
          f"RK4 at dt = {DT}")
    print(f"{'preset':<16}{'observation':<13}{'peak time (s)':>14}{'peak (%)':>10}"
          f"{'undershoot (%)':>16}")
    responses = {}
    for name in PRESETS:
        # One call per preset: the whole (T, 1) series, started at rest (BOLD = 0).
        bold = simulate_bold(z, DT, params=name).magnitude[:, 0]
        responses[name] = bold
        t_peak, height, low = peak(bold)
        print(f"{name:<16}{PRESETS[name]['observation']:<13}{t_peak:>14.2f}"
              f"{100 * height:>10.3f}{100 * low:>16.3f}")
    # The revised BOLD signal grows with the echo time; the presets keep TE = 40 ms.
    short_te = BalloonParams.preset("stephan2007_7T", TE=TE_7T)
    bold_te = simulate_bold(z, DT, params=short_te).magnitude[:, 0]
    print(f"stephan2007_7T with TE = {TE_7T} instead of 40 ms: peak "
          f"{100 * peak(bold_te)[1]:.3f} %")

    # Two panels, each on its own scale: the realistic 1.5-T / classic presets, and the
    # high-field ones whose TE of 40 ms makes them far larger. (plot_bold shows %.)
    fig = new_figure((13, 5), "the presets example")
    fig.suptitle(f"BOLD response to a {BLOCK_S:g}-s block: every preset peaks 5-6 s after the "
                 "onset; the heights differ")
    left, right = fig.subplots(1, 2)
    names = list(PRESETS)
    colour = {name: f"C{k}" for k, name in enumerate(names)}
    for ax, group, title in (
            (left, [n for n in names if not high_field(PRESETS[n])],
             "Classic coefficients and 1.5 T"),
            (right, [n for n in names if high_field(PRESETS[n])],
             "3 T and 7 T, all with TE = 40 ms")):
        labels = [f"{n} (= friston2003, dashed)" if n == "friston2000" else n for n in group]
        plot_bold(np.column_stack([responses[n] for n in group]), DT, labels=labels,
                  design=z[:, 0], ax=ax, title=title)
        for line, name in zip(ax.get_lines()[1:], group):
            line.set(color=colour[name], lw=2)
            if name == "friston2000":       # the same values as friston2003: dashed on top
                line.set(ls=(0, (4, 3)), color="k", zorder=3)
            elif name == "friston2003":     # ... of a wider line, which shows around it
                line.set(lw=4)
    right.plot((np.arange(z.shape[0]) + 1) * DT_S, 100 * bold_te, color=colour["stephan2007_7T"],
               ls=(0, (4, 3)), lw=2, label=f"stephan2007_7T, TE = {TE_7T}")
    for ax in (left, right):
        place_legend(ax)                    # again, with the colours and the extra curve
    add_note(right, "The presets keep TE = 40 ms, a 1.5-T echo time;\n"
                    f"the signal grows with TE (dashed: TE = {TE_7T})",
             where=("center right", "upper right"))
    return [save_figure(fig, Path(outdir) / "presets.png")]


if __name__ == "__main__":
    main()
