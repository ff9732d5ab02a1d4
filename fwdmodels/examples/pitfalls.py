"""Three pitfalls: inverted kappa and gamma, a start away from rest, decimation to the TR.

Each pitfall is shown against the right way, with its numbers printed.

1. **kappa and gamma inverted.** In Friston et al. (2003) kappa = 0.65 and gamma = 0.41 are
   *rates* (s^-1): the signal decays as exp(-kappa t) and the flow is pulled back with
   gamma. Several public codes read them as *time constants* (kappa = 1/0.65 s^-1), which
   makes the response faster and weaker: the BOLD peak comes earlier and lower.
2. **A start away from rest.** The rest state is x = 0, f = v = q = 1 (BOLD exactly 0).
   brainmass's BOLDSignal starts every state, x included, at 1.0: x = 1 s^-1 is a
   vasodilatory kick, and with no input at all the model answers with a transient response
   that lasts about 17 s. Start at rest (``init="rest"``), or at the steady state of a constant
   input (``init="steady"``), or discard the transient.
3. **TR decimation without averaging.** A scanner gives one volume per TR (here 2 s, so the
   Nyquist frequency is 0.25 Hz). Taking every r-th sample of a finely simulated BOLD signal
   keeps any component above 0.25 Hz, folded to a false low frequency: a 0.45-Hz component
   comes back as a 0.05-Hz (20-s) wave. The hemodynamics damp fast neural activity a lot,
   but not to zero. Averaging over each TR window (``tr_mode="mean"``, a box filter) removes
   most of it.

Run it with ``python -m fwdmodels.examples pitfalls``; it writes ``pitfalls.png`` (the three
pitfalls, one panel each) and ``pitfalls_states.png`` (the states x, f, v, q from rest and
from brainmass's start, with no input).
"""

from pathlib import Path

import numpy as np

TR = "2 s"


def _peak(bold, dt_s):
    """(time, height) of the maximum of a 1-D series whose row n is at (n + 1) dt."""
    k = int(np.argmax(bold))
    return (k + 1) * dt_s, float(bold[k])


def _amplitude(y, t, freq, others):
    """Amplitude of the ``freq`` sinusoid in ``y(t)``, by least squares on sines and cosines
    at ``freq`` and at the ``others`` frequencies (plus a constant)."""
    columns = [np.ones_like(t)]
    for f in (freq, *others):
        columns += [np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)]
    coef = np.linalg.lstsq(np.column_stack(columns), y, rcond=None)[0]
    return float(np.hypot(coef[1], coef[2]))


def inverted_rates():
    """Pitfall 1: the response to a 1-s event, right and with kappa, gamma inverted."""
    from fwdmodels import simulate_bold

    dt_s = 0.01
    z = np.zeros((2000, 1))
    z[:100] = 1.0                                    # z = 1 over the first second
    right = simulate_bold(z, "10 ms", params="friston2003").magnitude[:, 0]
    # The same preset with kappa and gamma read as time constants:
    wrong = simulate_bold(z, "10 ms", params="friston2003",
                          kappa=1 / 0.65, gamma=1 / 0.41).magnitude[:, 0]
    (t_right, h_right), (t_wrong, h_wrong) = _peak(right, dt_s), _peak(wrong, dt_s)
    print("1. kappa, gamma inverted (response to z = 1 for 1 s):")
    print(f"   right  kappa = 0.65 /s, gamma = 0.41 /s:   peak {100 * h_right:.3f} % at "
          f"{t_right:.2f} s")
    print(f"   wrong  kappa = 1/0.65, gamma = 1/0.41 /s:  peak {100 * h_wrong:.3f} % at "
          f"{t_wrong:.2f} s  ({t_right - t_wrong:.2f} s earlier, {h_wrong / h_right:.2f} "
          f"times the height)")
    return z, right, wrong


def start_away_from_rest():
    """Pitfall 2: no input at all, from rest and from brainmass's start (all states 1)."""
    from fwdmodels import simulate_bold

    dt_s = 0.01
    z = np.zeros((3000, 1))                          # 30 s of silence
    rest, rest_states = simulate_bold(z, "10 ms", init="rest", return_states=True)
    ones, ones_states = simulate_bold(z, "10 ms", init="brainmass", return_states=True)
    rest, ones = rest.magnitude[:, 0], ones.magnitude[:, 0]
    big = np.flatnonzero(np.abs(ones) > 0.01 * np.abs(ones).max())
    print("2. start away from rest (no input, 30 s):")
    print(f"   right  init='rest' (x=0, f=v=q=1):      max |BOLD| = {np.abs(rest).max():.3g} %")
    print(f"   wrong  init='brainmass' (x=f=v=q=1):    max |BOLD| = "
          f"{100 * np.abs(ones).max():.3f} %, above 1 % of that until "
          f"t = {(big[-1] + 1) * dt_s:.1f} s")
    return rest, ones, rest_states, ones_states


def tr_decimation():
    """Pitfall 3: a slow (0.02 Hz) and a fast (0.45 Hz) neural rhythm, BOLD at TR = 2 s."""
    from fwdmodels import simulate_bold

    dt_s, tr_s, slow, fast = 0.05, 2.0, 0.02, 0.45
    t = np.arange(round(240 / dt_s)) * dt_s          # 240 s of input, 50 ms apart
    z = (0.05 * np.sin(2 * np.pi * slow * t) + 2.0 * np.sin(2 * np.pi * fast * t))[:, None]
    fine = simulate_bold(z, "50 ms").magnitude[:, 0]                         # every 50 ms
    sampled = simulate_bold(z, "50 ms", tr=TR).magnitude[:, 0]               # every TR
    averaged = simulate_bold(z, "50 ms", tr=TR, tr_mode="mean").magnitude[:, 0]
    alias = abs(fast - round(fast * tr_s) / tr_s)                           # 0.05 Hz
    # Measure each component after the first 40 s (the start from rest has died out).
    t_fine, t_tr = (np.arange(fine.size) + 1) * dt_s, (np.arange(sampled.size) + 1) * tr_s
    kf, kt = t_fine > 40, t_tr > 40
    a_slow = _amplitude(fine[kf], t_fine[kf], slow, (alias, fast))
    a_fast = _amplitude(fine[kf], t_fine[kf], fast, (slow, alias))
    a_true = _amplitude(fine[kf], t_fine[kf], alias, (slow, fast))
    a_sampled = _amplitude(sampled[kt], t_tr[kt], alias, (slow,))
    a_mean = _amplitude(averaged[kt], t_tr[kt], alias, (slow,))
    print(f"3. TR decimation (z = 0.05 sin(2 pi {slow} t) + 2 sin(2 pi {fast} t), TR = {TR}, "
          f"Nyquist {1 / (2 * tr_s):g} Hz):")
    print(f"   in the BOLD signal: {slow} Hz {100 * a_slow:.3f} %, {fast} Hz "
          f"{100 * a_fast:.3f} %, {alias:.2f} Hz {100 * a_true:.1e} %")
    print(f"   wrong  every {TR} (tr_mode='sample'): a false {alias:.2f}-Hz wave of "
          f"{100 * a_sampled:.3f} % ({a_sampled / a_slow:.0%} of the real slow wave)")
    print(f"   right  mean of each TR (tr_mode='mean'): {100 * a_mean:.3f} % "
          f"({a_mean / a_sampled:.0%} of the sampled alias)")
    return z, fine, sampled, averaged


def main(outdir=".") -> list[Path]:
    from fwdmodels.plotting import new_figure, place_legend, plot_bold, plot_states, save_figure

    z1, right, wrong = inverted_rates()
    rest, ones, rest_states, ones_states = start_away_from_rest()
    z3, fine, sampled, averaged = tr_decimation()

    # One colour code in every panel: the right way in blue, the wrong way in red.
    fig = new_figure((11, 11), "the pitfalls example")
    fig.suptitle("Three pitfalls: the wrong way (red) against the right way (blue)")
    ax1, ax2, ax3 = fig.subplots(3, 1)
    plot_bold(np.column_stack([right, wrong]), "10 ms", design=z1[:, 0], ax=ax1,
              labels=["right: kappa = 0.65 /s, gamma = 0.41 /s",
                      "wrong: kappa = 1/0.65 /s, gamma = 1/0.41 /s"],
              title="1. kappa and gamma inverted: an earlier, lower peak")
    plot_bold(np.column_stack([rest, ones]), "10 ms", ax=ax2,
              labels=["right: start at rest (x = 0, f = v = q = 1)",
                      "wrong: start at x = f = v = q = 1 (brainmass)"],
              title="2. No input, two starts: a whole response from a start away from rest")
    for ax in (ax1, ax2):
        right_line, wrong_line = ax.get_lines()[1:3]
        right_line.set(color="C0", lw=2)
        wrong_line.set(color="C3", lw=2)
        place_legend(ax)                    # again, with the colours
    # Panel 3: two minutes after the first 40 s (the start from rest has died out) of the
    # signal every 50 ms, one sample every TR, and the mean of each TR.
    t0, t1 = 40.0, 160.0
    plot_bold(fine, "50 ms", ax=ax3, labels=["BOLD every 50 ms"],
              title="3. TR = 2 s: one sample per TR aliases the fast rhythm; "
                    "the mean of each TR does not")
    ax3.get_lines()[1].set(color="0.6", lw=0.8)                  # the fine signal in grey
    t_tr = (np.arange(sampled.size) + 1) * 2.0
    ax3.plot(t_tr, 100 * sampled, color="C3", lw=1.6, marker="o", ms=4,
             label="wrong: one sample every TR, a false 20-s wave")
    ax3.plot(t_tr, 100 * averaged, color="C0", lw=2.2, label="right: mean of each TR")
    shown = 100 * fine[round(t0 / 0.05):round(t1 / 0.05)]
    low, high = shown.min(), shown.max()
    ax3.set(xlim=(t0, t1), ylim=(low - 0.1 * (high - low), high + 0.6 * (high - low)))
    place_legend(ax3)                       # in the room left above the data
    paths = [save_figure(fig, Path(outdir) / "pitfalls.png")]

    # The states behind pitfall 2: from rest nothing moves; from x = 1 everything does.
    moving = np.flatnonzero(np.abs(ones) > 0.01 * np.abs(ones).max())
    states = plot_states(rest_states, "10 ms", label="start at rest", color="C0", lw=2,
                         title="No input: from rest nothing moves; from x = f = v = q = 1 "
                               f"every state swings for about {(moving[-1] + 1) * 0.01:.0f} s")
    plot_states(ones_states, "10 ms", label="start at x = f = v = q = 1 (brainmass)",
                axes=states.axes, color="C3", lw=2)
    paths.append(save_figure(states, Path(outdir) / "pitfalls_states.png"))
    return paths


if __name__ == "__main__":
    main()
