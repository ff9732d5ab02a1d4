"""Block means of the input alias a rhythm that fits the step; x and f solved exactly do not.

A fast way to integrate the Balloon model is to take long steps (20 ms) and, since the
neural drive ``z`` changes faster than that, to feed each step the mean of ``z`` over it (the
"block-mean" scheme). It keeps the integral of ``z`` over every step, and looks harmless. It
is not, for an input that oscillates in step with the steps.

The input reaches the hemodynamics through its running integral ``R(t) = int_0^t z``: the
vasodilatory signal x is a leaky ``R``, and the inflow f integrates x. For a sine switched on
at ``t = 0``, ``z = A sin(w t)``::

    R(t) = A/w - (A/w) cos(w t)

a constant ``A/w`` (the net push of the first half-cycle: the same as an impulse of area
``A/w`` at the switch-on) plus an oscillation at ``w``. The hemodynamics respond to the
impulse and filter out the oscillation (40 Hz is far above their ~0.1-Hz pass band). The
block-mean scheme sees ``R`` only at the step ends, and there the oscillation is *aliased*:
when a step holds a whole number of periods, every step end falls at the same phase,
``cos(w t) = 1``, the oscillation folds to the constant ``-A/w`` and cancels the impulse.
``R`` is 0 at every step end, all block means are 0, and the impulse is lost. When the step
does not fit the period, the oscillation folds to a non-zero frequency (40 Hz sampled every
20 ms reads as 10 Hz), which the hemodynamics still filter out, and the impulse survives.

Three 40-s signals at 0.1 ms show it, each against RK4 at the input step (the reference):

1. a block design (10 s on, 10 s off) times ``1 + sin(2 pi 40 Hz t)``: a 40-Hz rhythm, period
   25 ms, switched on and off at zero crossings (impulses of +-1/w = 4 ms x 1);
2. 5-ms bursts of ``z = 3`` at the end of every 25-ms window: the drive comes 10 ms later
   in each window than its block means say;
3. ``2000 sin(2 pi 100 Hz t)``: zero mean, period 10 ms, its 20-ms block means exactly 0, so
   the block-mean BOLD is flat, while the true input gave x a kick of ``A/w = 3.2 /s`` (as
   much as ``z = 1`` held for 3.2 s).

The split method (``simulate_bold``'s default, :mod:`fwdmodels.hemodynamics.split`) takes
the same long steps for v and q, but solves the linear (x, f) part exactly for the input held
over each 0.1-ms sample: ``R`` is followed at every sample and nothing is sampled at the
step. v and q see the input only through f, which is smooth.

Run it with ``python -m fwdmodels.examples aliasing``; it prints the largest BOLD error of
each scheme over each signal's range, for steps of 20, 25 and 50 ms (the block-mean error is
large where the step fits the signal's period), and writes ``aliasing.png``: per signal, the
three BOLD curves at a 50-ms step (which fits all three), the error over time (log scale),
and the largest error per step as bars.
"""

from pathlib import Path

import numpy as np

DT = "0.1 ms"
DT_S = 1e-4
T = 400_000                               # 40 s of input
STEPS = (200, 250, 500)                   # steps of 20, 25 and 50 ms, in input samples
SHOWN = 500                               # the step drawn over time: 50 ms fits all three
NAMES = ("40-Hz rhythm in 10-s blocks", "5-ms bursts every 25 ms",
         "zero-mean 100-Hz sine, amplitude 2000")


def signals() -> np.ndarray:
    """The three inputs as the columns of a (T, 3) array, sample n held over
    [n dt, (n + 1) dt) with dt = 0.1 ms (phases from whole sample counts, so that a 40-Hz
    period is exactly 250 samples and a 100-Hz period 100)."""
    n = np.arange(T)
    on = (n // 100_000) % 2 == 0                               # 10 s on, 10 s off
    rhythm = on * (1.0 + np.sin(2 * np.pi * n / 250))          # 40 Hz
    bursts = np.where(n % 250 >= 200, 3.0, 0.0)                # last 5 ms of every 25 ms
    sine = 2000.0 * np.sin(2 * np.pi * n / 100)                # 100 Hz
    return np.column_stack([rhythm, bursts, sine])


def block_mean_bold(z: np.ndarray, r: int) -> np.ndarray:
    """The block-mean scheme (not in the library, since it aliases): the mean of ``z`` over
    each block of ``r`` samples, then RK4 at the block length. Row k is at t = (k + 1) r dt."""
    from fwdmodels import simulate_bold

    means = z[: len(z) // r * r].reshape(-1, r, z.shape[1]).mean(axis=1)
    return simulate_bold(means, f"{r * DT_S * 1e3:g} ms", method="rk4").magnitude


def compare(z: np.ndarray):
    """BOLD of the reference, and of both schemes at each step of :data:`STEPS`, with the
    largest error of each over each signal's range (block means compared at the block ends,
    the split method at every sample)."""
    from fwdmodels import simulate_bold

    reference = simulate_bold(z, DT, method="rk4").magnitude        # RK4 at 0.1 ms
    span = np.ptp(reference, axis=0)
    runs, errors = {}, {}
    for r in STEPS:
        block = block_mean_bold(z, r)
        split = simulate_bold(z, DT, hemo_dt=f"{r * DT_S * 1e3:g} ms").magnitude
        runs[r] = (block, split)
        errors["block mean", r] = np.abs(block - reference[r - 1::r]).max(axis=0) / span
        errors["split", r] = np.abs(split - reference).max(axis=0) / span
    return reference, runs, errors


def report(z, reference, errors):
    """Print the table of errors, and the impulse the 100-Hz sine carries."""
    ms = [f"{r * DT_S * 1e3:g} ms" for r in STEPS]
    print("Largest |BOLD error| / BOLD range, against RK4 at the input step (0.1 ms), 40 s:")
    print(f"{'':40}{'block mean, then RK4':^27}   {'split (x, f exact)':^27}")
    print(f"{'signal':<40}" + "".join(f"{m:>9}" for m in ms) + "   "
          + "".join(f"{m:>9}" for m in ms) + f"{'range (%)':>11}")
    for i, name in enumerate(NAMES):
        row = "".join(f"{errors['block mean', r][i]:>9.1e}" for r in STEPS) + "   " \
            + "".join(f"{errors['split', r][i]:>9.1e}" for r in STEPS)
        print(f"{i + 1}. {name:<37}{row}{100 * np.ptp(reference[:, i]):>11.3f}")
    running = np.cumsum(z[:, 2]) * DT_S                 # R(t) of the sine, at sample ends
    print(f"The 100-Hz sine: its running integral R averages {running.mean():.3f} (A/w = "
          f"{2000 / (2 * np.pi * 100):.3f}), but at every 20-ms step end R is 0 to rounding "
          f"(|R| <= {np.abs(running[199::200]).max():.0e}), and so is every 20-ms block mean "
          f"(<= {np.abs(z[:, 2].reshape(-1, 200).mean(axis=1)).max():.0e})")


def main(outdir=".") -> list[Path]:
    from matplotlib.ticker import FixedLocator

    from fwdmodels.plotting import new_figure, place_legend, save_figure

    z = signals()
    reference, runs, errors = compare(z)
    report(z, reference, errors)

    block, split = runs[SHOWN]
    t_fine = (np.arange(T) + 1) * DT_S
    t_step = (np.arange(len(block)) + 1) * SHOWN * DT_S
    every = 100                                          # draw the fine curves every 10 ms
    fig = new_figure((16, 11.5), "the aliasing example")
    fig.suptitle("A block mean over steps that fit the rhythm loses the drive; x and f "
                 "solved at each input sample keep it")
    axes = fig.subplots(3, 3, gridspec_kw={"width_ratios": (1.25, 1.25, 1)})
    for i, (left, middle, right) in enumerate(axes):
        # Left: the three BOLD curves, the split one dashed over the reference.
        left.plot(t_fine[::every], 100 * reference[::every, i], color="0.55", lw=4,
                  label="RK4 at 0.1 ms (reference)")
        left.plot(t_step, 100 * block[:, i], color="C3", lw=1.5, label="block mean, 50 ms")
        left.plot(t_fine[::every], 100 * split[::every, i], color="k", lw=1.5,
                  ls=(0, (4, 3)), label="split, 50 ms")
        left.set(xlabel="time (s)", ylabel="BOLD (%)", title=f"{i + 1}. {NAMES[i]}")
        # Middle: the error over time, at the 50-ms step ends.
        span = np.ptp(reference[:, i])
        at_ends = reference[SHOWN - 1::SHOWN, i]
        middle.semilogy(t_step, np.abs(block[:, i] - at_ends) / span, color="C3", lw=1.5,
                        label="block mean")
        middle.semilogy(t_step, np.abs(split[SHOWN - 1::SHOWN, i] - at_ends) / span,
                        color="C0", lw=1.5, label="split")
        middle.set(xlabel="time (s)", ylabel="|error| (fraction of range)",
                   title=f"{i + 1}. error at the 50-ms step ends", ylim=(1e-12, 1))
        # Right: the largest error for each step, both schemes.
        x = np.arange(len(STEPS))
        for k, (scheme, color) in enumerate((("block mean", "C3"), ("split", "C0"))):
            right.bar(x + (k - 0.5) * 0.38, [errors[scheme, r][i] for r in STEPS], 0.38,
                      color=color, label=scheme)
        right.set_yscale("log")
        right.set(xticks=x, xticklabels=[f"{r * DT_S * 1e3:g}" for r in STEPS],
                  xlabel="step (ms)", ylabel="largest error (fraction of range)",
                  title=f"{i + 1}. largest error per step", ylim=(1e-12, 1))
    # One legend per column, where the curves leave room (the bursts' BOLD settles low).
    for ax in axes[:, 1:].ravel():                   # every other decade, and only those shown
        ax.yaxis.set_major_locator(FixedLocator(10.0 ** np.arange(-12, 1, 2)))
    for ax in (axes[1][0], axes[0][1], axes[0][2]):
        place_legend(ax, where=("lower right", "upper right", "center right"))
    return [save_figure(fig, Path(outdir) / "aliasing.png")]


if __name__ == "__main__":
    main()
