"""Tests of the teaching examples (fwdmodels.examples): each runs headless (the plotting
functions use the Agg canvas, no display) in a temporary directory and writes its PNG(s);
``python -m fwdmodels.examples`` lists them and refuses an unknown name with exit status 2;
the numbers ``presets`` prints agree with an independent computation."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import fwdmodels  # noqa: E402
from fwdmodels import examples  # noqa: E402
from test_plotting import legibility_problems  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
FIGURES = {
    "presets": ["presets.png"],
    "pitfalls": ["pitfalls.png", "pitfalls_states.png"],
    "linear_vs_nonlinear": ["linear_vs_nonlinear.png"],
    "aliasing": ["aliasing.png"],
    "sphere_dipole": ["sphere_dipole.png", "sphere_dipole_leadfield.png"],
    "crossval_jax": ["crossval_jax.png"],
}


def _module(*args, cwd=None):
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "fwdmodels.examples", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """``ran(name)``: (paths, {file name: the Figure drawn into it}, printed text) of one run
    of an example, each example run once. The figures are caught as the Agg canvas prints
    them, whatever the example calls to save them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    cache = {}

    def get(name):
        if name == "crossval_jax":
            pytest.importorskip("brainmass")
        if name not in cache:
            drawn, original = [], FigureCanvasAgg.print_png

            @functools.wraps(original)        # savefig reads the signature
            def catch(self, *args, **kwargs):
                if self.figure not in drawn:    # (Agg may print through here twice)
                    drawn.append(self.figure)
                return original(self, *args, **kwargs)

            buffer = io.StringIO()
            with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(buffer):
                mp.setattr(FigureCanvasAgg, "print_png", catch)
                paths = examples.run(name, tmp_path_factory.mktemp(name) / "figures")
            assert len(drawn) == len(paths)
            cache[name] = (paths, {p.name: fig for p, fig in zip(paths, drawn)},
                           buffer.getvalue())
        return cache[name]

    return get


def test_every_example_has_a_figure_list():
    assert set(FIGURES) == set(examples.EXAMPLES)


@pytest.mark.parametrize("name", examples.EXAMPLES)
def test_example_runs_headless_and_writes_its_figures(name, ran):
    paths, _, out = ran(name)
    outdir = paths[0].parent                            # created by run()
    assert outdir.name == "figures"
    assert sorted(p.name for p in paths) == sorted(FIGURES[name])
    assert sorted(p.name for p in outdir.iterdir()) == sorted(FIGURES[name])  # no temp files
    for path in paths:
        assert path.read_bytes()[:8] == PNG and path.stat().st_size > 10_000
    assert out.strip(), f"{name} printed nothing"
    if name == "crossval_jax":
        assert "explained by: q/rho in k2" in out
    if name == "sphere_dipole":
        radial = re.search(r"radial dipole.*MEG max \|B\| = (\S+)", out).group(1)
        assert "10⁻" in radial                          # no field, to rounding
    if name == "linear_vs_nonlinear":
        slope = float(re.search(r"slope .*: ([\d.]+)", out).group(1))
        assert slope == pytest.approx(1.0, abs=0.05)   # the gap is first order in z


@pytest.mark.parametrize("name", examples.EXAMPLES)
def test_example_figures_are_legible(name, ran):
    """Every teaching figure, artist by artist: no legend or note over data, no text over
    another, no line hidden under an identical one, round ticks, a unit on every axis and
    colour bar, a one-line title, nothing under 10 pt (see test_plotting)."""
    _, figures, _ = ran(name)
    for file, fig in figures.items():
        problems = legibility_problems(fig, title_words=5)
        assert not problems, f"{file}:\n" + "\n".join(problems)


def _axes_with(fig, *texts):
    return [ax for ax in fig.axes if all(t in ax.get_title() for t in texts)]


def test_presets_figure_separates_high_field_and_states_the_te_caveat(ran):
    from fwdmodels.hemodynamics import PRESETS

    _, figures, _ = ran("presets")
    fig = figures["presets.png"]
    where = {}
    for ax in fig.axes:
        for line in ax.lines:
            where.setdefault(line.get_label().split(" ")[0], (ax, line))   # name (note)
    assert set(PRESETS) <= set(where)
    # friston2000 has the values of friston2003: drawn so that both show, and said so
    (ax03, l03), (ax00, l00) = where["friston2003"], where["friston2000"]
    np.testing.assert_array_equal(l00.get_ydata(), l03.get_ydata())
    assert l00.get_linestyle() != l03.get_linestyle() and l00.get_zorder() >= l03.get_zorder()
    legend = [t.get_text() for t in ax00.get_legend().get_texts()]
    assert any("friston2000" in t and "friston2003" in t for t in legend), legend
    # the 7 T curve (and the other high-field ones) on their own axes, the realistic ones
    # filling theirs: the 1.5-T curves reach at least half of their axes' height
    high = {n for n, p in PRESETS.items() if p.get("nu0", 0) > 50}
    assert high and all(where[n][0] is not ax03 for n in high)
    low = [n for n in PRESETS if n not in high]
    top = max(np.max(where[n][1].get_ydata()) for n in low)
    assert all(where[n][0] is ax03 for n in low) and top > 0.5 * ax03.get_ylim()[1]
    # the echo-time caveat is written on the figure, next to the high-field curves
    notes = [a.txt._text.get_text() for a in where["stephan2007_7T"][0].artists]
    assert any("TE = 40 ms" in n for n in notes), notes


def test_pitfalls_figure_uses_real_time_in_the_third_panel(ran):
    _, figures, _ = ran("pitfalls")
    (ax3,) = _axes_with(figures["pitfalls.png"], "3.")
    assert ax3.get_xlabel() == "time (s)"
    lo, hi = ax3.get_xlim()
    assert 30 <= lo and hi <= 170                       # the window after the first 40 s


def test_sphere_dipole_radial_meg_panel_says_the_field_is_zero(ran):
    _, figures, out = ran("sphere_dipole")
    (ax,) = _axes_with(figures["sphere_dipole.png"], "MEG", "radial")
    notes = " ".join(a.txt._text.get_text() for a in ax.artists)
    assert "zero" in notes and "rounding" in notes, notes
    printed = re.search(r"radial dipole.*MEG max \|B\| = (\S+ fT)", out).group(1)
    assert printed in notes                               # the number the example printed


def test_pitfalls_numbers_point_the_right_way(capsys):
    from fwdmodels.examples import pitfalls

    z, right, wrong = pitfalls.inverted_rates()
    assert np.argmax(wrong) < np.argmax(right) and wrong.max() < right.max()
    rest, ones, *_ = pitfalls.start_away_from_rest()
    assert np.all(rest == 0.0) and np.abs(ones).max() > 0.01
    _, fine, sampled, averaged = pitfalls.tr_decimation()
    out = capsys.readouterr().out
    alias = [float(x) for x in re.findall(r"(?:wave of |tr_mode='mean'\): )([\d.]+) %", out)]
    assert len(alias) == 2 and alias[1] < 0.2 * alias[0]   # averaging removes most of it


def test_presets_prints_peaks_computed_independently(ran):
    presets_out = ran("presets")[2]
    rows = {m.group(1): (float(m.group(2)), float(m.group(3)))
            for m in re.finditer(r"^(\w+)\s+(?:classic|revised)\s+([-\d.]+)\s+([-\d.]+)",
                                 presets_out, flags=re.M)}
    assert set(rows) == set(fwdmodels.hemodynamics.PRESETS)
    # Independently: the same 4-s block of z = 1 from t = 1 s, integrated with Heun at a
    # finer step (5 ms) by the NumPy stepper, peak time from t = (n + 1) dt.
    dt = 0.005
    z = np.zeros((6000, 1))
    z[200:1000] = 1.0
    for name, (t_peak, height) in rows.items():
        bold = fwdmodels.simulate_bold(z, "5 ms", params=name, method="heun",
                                       backend="numpy").magnitude[:, 0]
        k = int(np.argmax(bold))
        assert t_peak == pytest.approx((k + 1) * dt - 1.0, abs=0.011), name
        assert height == pytest.approx(100 * bold[k], rel=2e-3, abs=1e-3), name
    # the printed numbers are not all alike: the presets differ
    assert len({h for _, h in rows.values()}) >= 5


def test_listing_one_example_per_line_name_first():
    done = _module()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(examples.EXAMPLES)
    for line, name in zip(lines, examples.EXAMPLES):
        description = line[len(name):].strip()
        assert description and description == examples.describe(name)


def test_bad_name_exits_2_with_one_line_listing_the_names(tmp_path):
    done = _module("nosuch", "-o", tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    message = done.stderr.strip()
    assert "\n" not in message and "'nosuch'" in message
    assert all(name in message for name in examples.EXAMPLES)
    assert list(tmp_path.iterdir()) == []


def test_command_line_run_writes_into_outdir(tmp_path):
    done = _module("sphere_dipole", "-o", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == FIGURES["sphere_dipole"]
    assert f"wrote {tmp_path / 'out' / 'sphere_dipole.png'}" in done.stdout


def test_missing_matplotlib_is_one_line_naming_the_extra(monkeypatch, tmp_path, capsys):
    from fwdmodels.examples.__main__ import main

    for name in ("matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    assert main(["linear_vs_nonlinear", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and 'fwdmodels[plot]' in err


# ---------------------------------------------------------------------- aliasing
def _aliasing_inputs():
    """The lesson's three inputs, written here from its description (40 s at 0.1 ms): 10-s
    blocks times 1 + sin(2 pi 40 Hz t); 5-ms bursts of 3 ending every 25-ms window; a
    100-Hz sine of amplitude 2000."""
    t = np.arange(400_000) * 1e-4
    blocks = (np.floor(t / 10.0 + 1e-9) % 2 == 0) * (1 + np.sin(2 * np.pi * 40 * t))
    bursts = 3.0 * (np.round(t * 1e4) % 250 >= 200)
    return np.column_stack([blocks, bursts, 2000 * np.sin(2 * np.pi * 100 * t)])


@pytest.fixture(scope="module")
def aliasing_errors():
    """Largest |error| / range of each scheme on each input against RK4 at 0.1 ms, computed
    here: block means (over r samples, then RK4 at r dt) at the block ends; the split
    method at every sample (default hemo_dt, and 25 and 50 ms)."""
    z = _aliasing_inputs()
    reference = fwdmodels.simulate_bold(z, "0.1 ms", method="rk4").magnitude
    span = reference.max(axis=0) - reference.min(axis=0)
    out = {"reference": reference}
    for ms in (20, 25, 50):
        r = ms * 10
        means = z.reshape(-1, r, 3).mean(axis=1)
        block = fwdmodels.simulate_bold(means, f"{ms} ms", method="rk4").magnitude
        out["block mean", ms] = np.abs(block - reference[r - 1::r]).max(axis=0) / span
        split = fwdmodels.simulate_bold(z, "0.1 ms", **({} if ms == 20 else
                                                         {"hemo_dt": f"{ms} ms"})).magnitude
        out["split", ms] = np.abs(split - reference).max(axis=0) / span
    return out


def test_aliasing_physics_block_means_lose_a_fitting_rhythm_split_does_not(aliasing_errors):
    e = aliasing_errors
    # the zero-mean 100-Hz sine: 20-ms block means are 0, the block-mean BOLD flat, wrong
    # by much of the true signal's range
    assert e["block mean", 20][2] >= 0.1 and e["block mean", 50][2] >= 0.1
    # the 40-Hz rhythm (period 25 ms) and the 25-ms bursts: wrong where the step fits
    # them, far less where it does not
    for i in (0, 1):
        assert e["block mean", 25][i] > 1e-4 and e["block mean", 50][i] > 1e-4
        assert e["block mean", 25][i] > 50 * e["block mean", 20][i]
    # the split method: within its promise on every input, at every step
    for ms in (20, 25, 50):
        assert np.all(e["split", ms] <= 1e-6), (ms, e["split", ms])
    assert np.all(e["split", 20] <= 1e-7)                  # the default step, 20 ms


def test_aliasing_the_lost_drive_is_the_sines_impulse(aliasing_errors):
    """The lesson's explanation: a sine switched on at phase 0 acts on the hemodynamics as
    an impulse of area A/w at the switch-on (its running integral averages A/w)."""
    A, w = 2000.0, 2 * np.pi * 100
    z = np.zeros((400_000, 1))
    z[0] = A / w / 1e-4
    impulse = fwdmodels.simulate_bold(z, "0.1 ms", method="rk4").magnitude[:, 0]
    sine = aliasing_errors["reference"][:, 2]
    assert np.abs(impulse - sine).max() < 1e-3 * np.ptp(sine)


def test_aliasing_prints_the_errors_computed_independently(ran, aliasing_errors):
    out = ran("aliasing")[2]
    rows = re.findall(r"^([123])\. .*?((?:\s+\d\.\de[-+]\d\d){6})\s+([\d.]+)\s*$", out,
                      flags=re.M)
    assert [r[0] for r in rows] == ["1", "2", "3"], out
    for number, errors, range_percent in rows:
        i = int(number) - 1
        printed = [float(x) for x in errors.split()]
        ours = [aliasing_errors[scheme, ms][i] for scheme in ("block mean", "split")
                for ms in (20, 25, 50)]
        # block-mean errors to the printed digits; the split ones, near rounding, to order
        np.testing.assert_allclose(printed[:3], ours[:3], rtol=0.06)
        assert all(p <= 1e-6 and q / 30 < p < 30 * q for p, q in zip(printed[3:], ours[3:]))
        assert float(range_percent) == pytest.approx(
            100 * np.ptp(aliasing_errors["reference"][:, i]), rel=1e-3)
