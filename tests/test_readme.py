"""The README's Python examples run as written (in order, in a scratch directory).

The lead-field examples load ``leadfield_eeg.npy`` (90, 64) and ``leadfield_meg.npy``
(90, 306); they are made here. The "Cross-checking brainmass" section is run by
``tests/test_crossval.py``.
"""

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.rst"
SKIPPED_SECTIONS = {"Cross-checking brainmass"}


def _python_blocks():
    lines = README.read_text(encoding="utf-8").splitlines()
    blocks, section, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        underline = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if line.strip() and len(set(underline)) == 1 and underline[0] in "=-" and \
                len(underline) >= len(line.strip()):
            section = line.strip()
        if line.strip() == ".. code-block:: python":
            i += 2
            body = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                body.append(lines[i][4:])
                i += 1
            blocks.append((section, "\n".join(body)))
            continue
        i += 1
    return blocks


def test_readme_has_the_examples():
    sections = {s for s, _ in _python_blocks()}
    assert {"fMRI BOLD: the Balloon-Windkessel model", "EEG and MEG lead fields",
            "Sphere head models"} <= sections


def test_readme_python_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    np.save("leadfield_eeg.npy", rng.standard_normal((90, 64)) * 1e-3)
    np.save("leadfield_meg.npy", rng.standard_normal((90, 306)))
    namespace = {}
    for section, code in _python_blocks():
        if section in SKIPPED_SECTIONS:
            continue
        try:
            exec(compile(code, f"README.rst ({section})", "exec"), namespace)
        except Exception as exc:  # name the block that failed
            pytest.fail(f"README example in section {section!r} failed: {exc!r}\n{code}")
    # the step-by-step loop equals the offline run, as the README says
    np.testing.assert_array_equal(namespace["signal"], namespace["bold"].magnitude)
