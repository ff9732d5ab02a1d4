"""Sensor layouts: 10-20/10-10 on a sphere (against MNE-Python's spherical montages) and the
MEG helmet's geometry."""

import os

import numpy as np
import pytest

from fwdmodels import FwdModelsError, ureg
from fwdmodels.leadfield import sensors


def test_1020_and_1010_counts_and_radius():
    lay = sensors.eeg_1020(radius="9 cm")
    assert len(lay) == 21 and lay.names[0] == "Fp1"
    np.testing.assert_allclose(np.linalg.norm(lay.positions.to("m").m, axis=1), 0.09)
    assert len(sensors.eeg_1010()) == 77
    assert set(sensors.BIOSEMI64) <= set(sensors.NAMES_1010) and len(set(sensors.BIOSEMI64)) == 64


def test_angular_definitions():
    p = {n: x for n, x in zip(sensors.NAMES_1010, sensors.eeg_1010(radius=1 * ureg.m)
                              .positions.m)}
    np.testing.assert_allclose(p["Cz"], [0, 0, 1], atol=1e-15)
    np.testing.assert_allclose(p["T7"], [-np.cos(np.pi / 10), 0, np.sin(np.pi / 10)], atol=1e-15)
    # C3 halfway between T7 and Cz on the coronal great circle: 36° from the vertex
    assert np.degrees(np.arccos(p["C3"][2])) == pytest.approx(36.0)
    # left/right mirror symmetry
    np.testing.assert_allclose(p["F3"] * [-1, 1, 1], p["F4"], atol=1e-14)


def test_positions_match_mne_spherical_montage():
    mne = pytest.importorskip("mne")
    path = os.path.join(os.path.dirname(mne.__file__), "channels", "data", "montages",
                        "spherical_1010.tsv")
    rows = [ln.split("\t") for ln in open(path).read().splitlines()[1:]]
    ours = dict(zip(sensors.NAMES_1010, sensors.eeg_1010(radius="1 m").positions.m))
    common = [r for r in rows if r[0] in ours]
    assert len(common) >= 60
    worst = max(np.abs(np.array(r[1:], float) - ours[r[0]]).max() for r in common)
    assert worst < 2e-4   # the file's 4 decimals


def test_layout_errors_and_aliases():
    assert sensors.eeg_layout(["T3", "cz"]).names == ("T7", "Cz")
    with pytest.raises(FwdModelsError, match=r"`names` must be 10-10 electrode names; got 'Xx1'"):
        sensors.eeg_layout(["Xx1"])
    with pytest.raises(FwdModelsError, match=r"`radius` must carry a unit"):
        sensors.eeg_1020(radius=0.09)


def test_meg_helmet_geometry():
    helmet = sensors.meg_helmet(102, radius="12 cm", origin=[0, 0, 0.04] * ureg.m)
    assert len(helmet) == 102 and len(helmet.channel_names()) == 306
    pos = helmet.positions.to("m").m - [0, 0, 0.04]
    np.testing.assert_allclose(np.linalg.norm(pos, axis=1), 0.12)
    g = helmet.grad_dirs
    for k in range(2):   # gradiometers tangential, orthogonal to each other
        np.testing.assert_allclose(np.sum(g[:, k] * helmet.normals, axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(np.sum(g[:, 0] * g[:, 1], axis=1), 0, atol=1e-12)
    d = np.linalg.norm(pos[:, None] - pos[None], axis=2) + np.eye(102)
    assert d.min() > 0.02     # sites spread out (about 3 cm apart)
    gpos, gnrm, gdir = helmet.gradiometers()
    assert gpos.shape == (204, 3) and gdir.shape == (204, 3)
