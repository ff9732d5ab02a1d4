"""Linear (kernel convolution) against nonlinear (Balloon ODE) hemodynamics, small to large input.

For a small input the Balloon-Windkessel model is linear: write the states as deviations from
rest, y = (x, f - 1, v - 1, q - 1); to first order dy/dt = A y + B z and BOLD = C y
(``balloon_linear_system``). Its impulse response g(t) = C exp(A t) B is the hemodynamic
response function of the model (``balloon_kernel``), and the BOLD signal is then the input
convolved with it (``convolve_hrf``)::

    bold(t) ~ integral g(s) z(t - s) ds.

The model is not linear: the outflow v^(1/alpha), the extraction E(f) and the ratio q/v bend
the response as the input grows. The linear response is exact to first order, so the
relative gap between the two grows in proportion to the amplitude (gap / amplitude roughly
constant, about 0.85 with the Friston 2003 values): about 1 % at z = 0.01, 9 % at z = 0.1,
and at z = 1 the linear peak is already nearly twice the ODE's, which saturates.

Run it with ``python -m fwdmodels.examples linear_vs_nonlinear``; it prints, for a 2-s block of
each amplitude, both peaks and the relative gap, and writes ``linear_vs_nonlinear.png``
(the two responses for a small and a large block, and the gap against the amplitude).
"""

from pathlib import Path

import numpy as np

DT = "10 ms"
DT_S = 0.01
AMPLITUDES = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


def block(amplitude: float) -> np.ndarray:
    """z = amplitude from 1 s to 3 s, then 0, for 30 s: shape (T, 1)."""
    z = np.zeros((3000, 1))
    z[100:300] = amplitude
    return z


def main(outdir=".") -> list[Path]:
    from fwdmodels import simulate_bold
    from fwdmodels.hemodynamics import balloon_kernel, convolve_hrf
    from fwdmodels.plotting import new_figure, place_legend, plot_bold, save_figure

    # The kernel is made once, on the dt of the input, long enough for g(t) to die out.
    kernel = balloon_kernel("friston2003", dt=DT, duration="30 s")
    print(f"balloon_kernel: {kernel.size} bins of {DT}; its integral (the steady-state gain) "
          f"is {float(kernel.sum().magnitude) * DT_S:.4f} BOLD per unit of z")
    print(f"{'z':>6}{'ODE peak (%)':>14}{'linear peak (%)':>17}{'relative gap':>14}"
          f"{'gap / z':>9}")
    gaps, runs = [], {}
    for a in AMPLITUDES:
        z = block(a)
        nonlinear = simulate_bold(z, DT).magnitude[:, 0]             # the Balloon ODE (RK4)
        linear = convolve_hrf(z, DT, kernel).magnitude[:, 0]         # the kernel, convolved
        gap = np.abs(nonlinear - linear).max() / np.abs(nonlinear).max()
        gaps.append(gap)
        runs[a] = (z, nonlinear, linear)
        print(f"{a:>6g}{100 * nonlinear.max():>14.4f}{100 * linear.max():>17.4f}"
              f"{gap:>14.2%}{gap / a:>9.3f}")
    slope = np.polyfit(np.log(AMPLITUDES[:4]), np.log(gaps[:4]), 1)[0]
    print(f"slope of log(gap) against log(z) for z <= {AMPLITUDES[3]:g}: {slope:.2f} "
          f"(1 means first order)")

    fig = new_figure((13, 4.6), "the linear_vs_nonlinear example")
    fig.suptitle("The kernel matches the Balloon ODE for a small input; the gap grows in "
                 "proportion to the input")
    axes = fig.subplots(1, 3)
    for ax, a in zip(axes[:2], (0.1, 3.0)):
        z, nonlinear, linear = runs[a]
        # The same scale for both: BOLD per unit of z, so a linear system would overlap.
        plot_bold(np.column_stack([nonlinear, linear]) / a, DT, design=z[:, 0], ax=ax,
                  labels=["Balloon ODE", "kernel * z"], title=f"z = {a:g}: BOLD / z")
        ax.get_lines()[2].set(ls=(0, (4, 3)), lw=2)     # the kernel dashed, on top
        ax.get_lines()[1].set(lw=3)
        ax.set_ylabel("BOLD / z (% per unit of z)")
        place_legend(ax)                                # again, with the styles
    percent = 100 * np.asarray(gaps)
    axes[2].loglog(AMPLITUDES, percent, "o-", lw=2, label="max |ODE - kernel| / max |ODE|")
    axes[2].loglog(AMPLITUDES, percent[0] * np.asarray(AMPLITUDES) / AMPLITUDES[0], "k:",
                   lw=2, label="slope 1 (first order)")
    axes[2].set(xlabel="amplitude of z (normalised activity)", ylabel="relative gap (%)",
                title="The gap against the amplitude")
    place_legend(axes[2])
    return [save_figure(fig, Path(outdir) / "linear_vs_nonlinear.png")]


if __name__ == "__main__":
    main()
