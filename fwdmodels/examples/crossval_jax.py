"""Cross-checking a JAX result: brainmass's BOLDSignal against fwdmodels, and naming the difference.

brainmass (JAX) implements the same Balloon-Windkessel model. To check a JAX result number by
number, run fwdmodels with the *same scheme*: Heun's method (``method="heun"``) at the same
dt, from the same start (``init="brainmass"``: brainmass starts x, f, v, q all at 1.0). Then
everything but rounding should agree, and a difference has a cause.

``fwdmodels.crossval.diagnose_bold`` compares the two and, when they disagree, recomputes
fwdmodels' result under each known cause (and combinations of them): q/rho in place of q/v
in the k2 term of the BOLD equation, a start away from rest, kappa and gamma inverted, dt off
by 1000 or 10, another integration scheme. It names the one that brings agreement. Here the
states x, f, v, q agree to ~1e-16 and only BOLD differs: brainmass's ``bold()`` writes
k2 (1 - q/rho) where the model has k2 (1 - q/v) (so its BOLD at rest is not 0 but
-V0 k2 (1/rho - 1), about -7.8 %).

This example needs the ``crossval`` extra (brainmass and JAX); it runs brainmass for 20 s at
dt = 10 ms in float64, prints the report and writes ``crossval_jax.png`` (BOLD of both, and
fwdmodels' BOLD recomputed with q/rho, which lies on brainmass's; below, the largest
difference of each state).
"""

from pathlib import Path

import numpy as np

DT_S = 0.01            # brainmass reads dt as a bare number of seconds
T, N = 2000, 2         # 20 s, two regions


def neural_input(seed: int = 0) -> np.ndarray:
    """A block (z = 1 from 1 s to 5 s) plus a little noise, shape (T, N)."""
    rng = np.random.default_rng(seed)
    z = np.zeros((T, N))
    z[100:500] = 1.0
    return z + 0.1 * rng.random((T, N))


def run_brainmass(z: np.ndarray) -> dict:
    """brainmass.BOLDSignal over ``z``: ``update`` then ``bold()`` at each step, in float64."""
    from fwdmodels.crossval.bold import BrainmassBOLD

    return BrainmassBOLD(z.shape[1], f"{DT_S!r} s", precision=64)(z)


def main(outdir=".") -> list[Path]:
    from fwdmodels import simulate_bold
    from fwdmodels.crossval import brainmass_bold, diagnose_bold
    from fwdmodels.plotting import new_figure, place_legend, plot_bold, save_figure

    z = neural_input()
    reference = run_brainmass(z)                                  # the JAX result

    # Same scheme, same dt, same start: only a real difference can remain.
    report = diagnose_bold(z, "10 ms", reference, method="heun", init="brainmass")
    print(report)
    print("explained by:", ", ".join(report.explanations) or "nothing (no known cause)")

    # The figure: brainmass's BOLD, fwdmodels' BOLD, and fwdmodels' states put through
    # brainmass's BOLD equation (q/rho), which lands on brainmass's curve.
    bold, states = simulate_bold(z, "10 ms", method="heun", init="brainmass",
                                 return_states=True)
    fig = new_figure((11, 7.5), "the crossval_jax example")
    fig.suptitle("brainmass against fwdmodels: the states agree to rounding, BOLD differs by "
                 "q/rho in k2")
    top, bottom = fig.subplots(2, 1, height_ratios=[2, 1])
    plot_bold(np.column_stack([reference["bold"][:, 0], bold.magnitude[:, 0],
                               brainmass_bold(states)[:, 0]]), "10 ms", design=z[:, 0] > 0.5,
              labels=["brainmass bold()", "fwdmodels (q/v)", "fwdmodels states, q/rho"],
              ax=top, title="BOLD of region 0: brainmass vs fwdmodels (Heun, dt = 10 ms)")
    for line in top.get_lines()[1:3]:
        line.set(lw=3)
    top.get_lines()[-1].set(ls=(0, (4, 3)), color="k", lw=2)   # q/rho: dashed, on top
    place_legend(top)                                          # again, with the styles
    gaps = [max(float(np.abs(reference[k] - states[k]).max()), 1e-18) for k in "xfvq"]
    bottom.bar(list("xfvq"), gaps, color="C0")
    top_decade = max(-12, int(np.ceil(np.log10(max(gaps)))) + 1)   # no bar cut off
    bottom.set(yscale="log", ylim=(1e-18, 10.0 ** top_decade),
               xlabel="state (x in 1/s; f, v, q normalised)",
               ylabel="max |difference| (state unit)",
               title="The states agree to rounding (float64 epsilon is 2.2e-16)")
    # decades inside the limits only: a tick beyond them would be drawn off the axes
    bottom.set_yticks(10.0 ** np.arange(-18, top_decade + 1, 2))
    bottom.minorticks_off()
    return [save_figure(fig, Path(outdir) / "crossval_jax.png")]


if __name__ == "__main__":
    main()
