"""Tests of the teaching examples (fwdmodels.examples): each runs headless (the plotting
functions use the Agg canvas, no display) in a temporary directory and writes its PNG(s);
``python -m fwdmodels.examples`` lists them and refuses an unknown name with exit status 2;
the numbers ``presets`` prints agree with an independent computation."""

from __future__ import annotations

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


def test_every_example_has_a_figure_list():
    assert set(FIGURES) == set(examples.EXAMPLES)


@pytest.mark.parametrize("name", examples.EXAMPLES)
def test_example_runs_headless_and_writes_its_figures(name, tmp_path, capsys):
    if name == "crossval_jax":
        pytest.importorskip("brainmass")
    outdir = tmp_path / "figures"                       # created by run()
    paths = examples.run(name, outdir)
    assert sorted(p.name for p in paths) == sorted(FIGURES[name])
    assert sorted(p.name for p in outdir.iterdir()) == sorted(FIGURES[name])  # no temp files
    for path in paths:
        assert path.read_bytes()[:8] == PNG and path.stat().st_size > 10_000
    out = capsys.readouterr().out
    assert out.strip(), f"{name} printed nothing"
    if name == "crossval_jax":
        assert "explained by: q/rho in k2" in out
    if name == "sphere_dipole":
        radial = re.search(r"radial dipole.*MEG max \|B\| = (\S+)", out).group(1)
        assert "10⁻" in radial                          # no field, to rounding
    if name == "linear_vs_nonlinear":
        slope = float(re.search(r"slope .*: ([\d.]+)", out).group(1))
        assert slope == pytest.approx(1.0, abs=0.05)   # the gap is first order in z


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


def test_presets_prints_peaks_computed_independently(capsys):
    presets_out = _run_presets(capsys)
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


def _run_presets(capsys):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        examples.run("presets", d)
    return capsys.readouterr().out


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
