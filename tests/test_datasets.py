"""fwdmodels.datasets: the demo's synthetic recording is seeded, documented and as described."""

import numpy as np
import pytest

from fwdmodels import FwdModelsError, datasets


@pytest.fixture(scope="module")
def rec():
    return datasets.synthetic_recording()


def test_defaults_match_the_documentation(rec):
    assert rec.activity.shape == (60000, 68)
    assert rec.dt.to("ms").magnitude == pytest.approx(1.0)
    assert rec.positions.shape == (68, 3) and len(rec.names) == 68
    assert rec.names[0] == "lh-01" and rec.names[-1] == "rh-34"
    np.testing.assert_allclose(np.linalg.norm(rec.orientations, axis=1), 1.0)
    r = np.linalg.norm(rec.positions.to("cm").magnitude, axis=1)
    assert r.min() >= 5.5 - 1e-9 and r.max() <= 7.0 + 1e-9     # inside the 8.1-cm brain
    x = rec.positions.magnitude[:, 0]
    assert np.all(x[:34] < 0) and np.all(x[34:] > 0)


def test_seeded_and_reproducible(rec):
    again = datasets.synthetic_recording()
    np.testing.assert_array_equal(again.activity, rec.activity)
    other = datasets.synthetic_recording(seed=1)
    assert not np.array_equal(other.activity, rec.activity)


def test_block_design(rec):
    t = np.arange(rec.design.size) * 1e-3
    on = rec.design > 0.5
    for onset in datasets.BLOCK_ONSETS_S:
        inside = (t > onset + 0.1) & (t < onset + datasets.BLOCK_LENGTH_S - 0.1)
        assert on[inside].all()
    assert on.mean() == pytest.approx(4 * 8 / 60, abs=0.01)
    # task regions are the most posterior (smallest y) and follow the design
    y = rec.positions.magnitude[:, 1]
    assert set(rec.task_regions) == set(np.argsort(y)[:16])
    task = rec.activity[:, rec.task_regions].mean(axis=1)
    rest = np.delete(rec.activity, rec.task_regions, axis=1).mean(axis=1)
    assert task[on].mean() - task[~on].mean() == pytest.approx(datasets.TASK_AMPLITUDE, abs=0.05)
    assert abs(rest[on].mean() - rest[~on].mean()) < 0.05


def test_alpha_peak_and_desynchronisation(rec):
    x = rec.activity - rec.activity.mean(axis=0)
    spec = np.abs(np.fft.rfft(x, axis=0)) ** 2
    freqs = np.fft.rfftfreq(x.shape[0], 1e-3)
    peak = freqs[np.argmax(spec[1:].mean(axis=1)) + 1]
    assert 9.0 <= peak <= 11.0
    on = rec.design > 0.99
    band = lambda seg: np.std(seg - seg.mean(axis=0))                      # noqa: E731
    other = np.delete(np.arange(68), rec.task_regions)
    task = rec.task_regions
    task_ratio = band(rec.activity[on][:, task]) / band(rec.activity[~on][:, task])
    other_ratio = band(rec.activity[on][:, other]) / band(rec.activity[~on][:, other])
    assert task_ratio < 0.8 * other_ratio                                  # alpha halved in task


def test_small_custom_recording_and_checks():
    small = datasets.synthetic_recording(n_regions=4, duration="2 s", dt="2 ms", seed=3)
    assert small.activity.shape == (1000, 4)
    with pytest.raises(FwdModelsError, match="`n_regions` must be even"):
        datasets.synthetic_recording(n_regions=5)
    with pytest.raises(FwdModelsError, match="`dt` must carry a unit"):
        datasets.synthetic_recording(dt=0.001)


def test_demo_leadfields(rec):
    L_eeg, eeg_names, L_meg, meg_names = datasets.demo_leadfields(rec)
    assert L_eeg.shape == (68, 21)
    assert L_eeg.check("[mass] * [length] / [current] ** 2 / [time] ** 3")
    assert L_meg.shape == (68, 102) and len(meg_names) == 102 and "Cz" in eeg_names
    scale = 20e-9
    eeg_uv = (rec.activity * scale) @ L_eeg.to("V/(A*m)").magnitude * 1e6
    meg_ft = (rec.activity * scale) @ L_meg.to("T/(A*m)").magnitude * 1e15
    assert 1 < eeg_uv.std() < 100                      # microvolts on the scalp
    assert 10 < meg_ft.std() < 3000                    # tens to thousands of fT
