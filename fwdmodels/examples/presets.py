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


def main(outdir=".") -> list[Path]:
    from fwdmodels.hemodynamics import PRESETS, simulate_bold
    from fwdmodels.plotting import plot_bold, save_figure

    z = boxcar()
    print(f"BOLD response to z = {AMPLITUDE:g} for {BLOCK_S:g} s (onset at {ONSET_S:g} s), "
          f"RK4 at dt = {DT}")
    print(f"{'preset':<16}{'observation':<13}{'peak time (s)':>14}{'peak (%)':>10}"
          f"{'undershoot (%)':>16}")
    responses = []
    for name in PRESETS:
        # One call per preset: the whole (T, 1) series, started at rest (BOLD = 0).
        bold = simulate_bold(z, DT, params=name).magnitude[:, 0]
        responses.append(bold)
        t_peak, height, low = peak(bold)
        print(f"{name:<16}{PRESETS[name]['observation']:<13}{t_peak:>14.2f}"
              f"{100 * height:>10.3f}{100 * low:>16.3f}")

    # All presets on one axes; the block is shaded. (plot_bold shows the fraction in %.)
    fig = plot_bold(np.column_stack(responses), DT, labels=list(PRESETS), design=z[:, 0],
                    title=f"BOLD response to a {BLOCK_S:g}-s block under each preset")
    return [save_figure(fig, Path(outdir) / "presets.png")]


if __name__ == "__main__":
    main()
