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
