"""neurolib's own models with ``run(bold=True)`` against ``like="neurolib"``: its FitzHugh-Nagumo
(x * 50 into BOLD), Hopf ((x + 1) * 4) and Wilson-Cowan models, whole runs and chunkwise runs
with ``append_outputs=True``, in Python and on the command line.

neurolib comes with the test extra and is imported at the top on purpose.
"""

import logging

import numpy as np
import pytest
from neurolib.models.fhn import FHNModel
from neurolib.models.hopf import HopfModel
from neurolib.models.wc import WCModel

from fwdmodels.cli import main
from fwdmodels.hemodynamics.conventions import simulate_bold_like

logging.getLogger().setLevel(logging.ERROR)
CMAT = np.array([[0.0, 0.6, 0.2], [0.6, 0.0, 0.4], [0.2, 0.4, 0.0]])
DMAT = np.array([[0.0, 20.0, 30.0], [20.0, 0.0, 25.0], [30.0, 25.0, 0.0]])


def _model(cls, seconds=6.0):
    model = cls(Cmat=CMAT, Dmat=DMAT, seed=0)
    model.params["duration"] = seconds * 1000.0
    return model


def _close(ours, theirs, rel=1e-12):
    err = np.abs(np.asarray(ours) - theirs).max()
    assert err <= rel * np.abs(theirs).max(), err


@pytest.mark.parametrize("cls, like, output", [(FHNModel, "neurolib:fhn", "x"),
                                               (HopfModel, "neurolib:hopf", "x"),
                                               (WCModel, "neurolib:wc", "exc")])
def test_model_run_with_bold(cls, like, output):
    model = _model(cls)
    model.run(bold=True)
    theirs = model.BOLD.BOLD
    ours, t = simulate_bold_like(like, getattr(model, output), f"{model.params['dt']} ms",
                                 tr="2 s", time_axis=1, return_times=True)
    assert ours.shape == theirs.T.shape == (3, 3)
    _close(ours.magnitude, theirs.T)
    np.testing.assert_allclose(t * 1e3, np.asarray(model.BOLD.t_BOLD) + model.params["dt"])


def test_chunkwise_run_with_append_outputs():
    model = _model(FHNModel, 8.0)
    model.run(chunkwise=True, chunksize=20000, bold=True, append_outputs=True)
    theirs = model.BOLD.BOLD
    ours = simulate_bold_like("neurolib:fhn", model.x, "0.1 ms", tr="2 s", time_axis=1)
    assert theirs.shape == (3, 4)
    _close(ours.magnitude.T, theirs)


def test_chunkwise_run_without_append_keeps_only_the_last_chunk():
    """neurolib's pitfall: without append_outputs, model.x holds only the last chunk (its
    BOLD keeps every chunk's samples): the whole series needs append_outputs=True."""
    model = _model(FHNModel, 8.0)
    model.run(chunkwise=True, chunksize=20000, bold=True)
    assert model.x.shape[1] == 20000 and model.BOLD.BOLD.shape == (3, 4)
    whole = _model(FHNModel, 8.0)
    whole.run(chunkwise=True, chunksize=20000, bold=True, append_outputs=True)
    assert whole.x.shape[1] == 80000
    np.testing.assert_array_equal(model.x, whole.x[:, -20000:])
    ours = simulate_bold_like("neurolib:fhn", whole.x, "0.1 ms", tr="2 s", time_axis=1)
    _close(ours.magnitude.T, model.BOLD.BOLD)


def test_command_line_like_neurolib(tmp_path):
    model = _model(FHNModel)
    model.run(bold=True)
    np.savez(tmp_path / "nl.npz", x=model.x, dt=model.params["dt"], dt_unit="ms")
    out = tmp_path / "bold.npz"
    assert main(["bold", str(tmp_path / "nl.npz"), "--key", "x", "--time-axis", "1", "-o",
                 str(out), "--tr", "2s", "--like", "neurolib:fhn", "-q"]) == 0
    _close(np.load(out)["bold"].T, model.BOLD.BOLD)
    plain = tmp_path / "plain.npz"              # fwdmodels' own conventions differ visibly
    assert main(["bold", str(tmp_path / "nl.npz"), "--key", "x", "--time-axis", "1", "-o",
                 str(plain), "--tr", "2s", "-q"]) == 0
    assert np.abs(np.load(plain)["bold"].T - model.BOLD.BOLD).max() > \
        1e-3 * np.abs(model.BOLD.BOLD).max()
