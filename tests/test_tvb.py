"""TVB's own files (fwdmodels.io.tvb): time-series H5 files as TVB writes them (two written by
tvb-framework itself, tests/data/make_tvb_files.py), and tvb-data's connectivities, surfaces,
region mappings, sensors and projections compared with tvb-library's own readers.

tvb-library and tvb-data come with the test extra and are imported at the top on purpose.
"""

import json
import logging
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from tvb.analyzers.fmri_balloon import BalloonModel
    from tvb.datatypes import connectivity as tvb_connectivity
    from tvb.datatypes import projections as tvb_projections
    from tvb.datatypes import region_mapping as tvb_region_mapping
    from tvb.datatypes import sensors as tvb_sensors
    from tvb.datatypes import surfaces as tvb_surfaces
    from tvb.datatypes.time_series import TimeSeries

from fwdmodels.cli import main
from fwdmodels.errors import FwdModelsError
from fwdmodels.io import describe, open_input
from fwdmodels.io import tvb as ftvb

logging.getLogger("tvb").setLevel(logging.ERROR)
DATA = Path(__file__).parent / "data"
G2D, RSFHN = DATA / "tvb_g2d.h5", DATA / "tvb_rsfhn.h5"


def _raw(path):
    with h5py.File(path, "r") as f:
        return f["data"][()], dict(f.attrs)


# --------------------------------------------------------------------------- time series
def test_time_series_written_by_tvb():
    data, attrs = _raw(G2D)
    assert attrs["TVB_written_by"].endswith("TimeSeriesRegionH5")
    with pytest.raises(FwdModelsError, match="several arrays.*'V'.*'W'"):
        open_input(G2D)
    for key, s in (("V", 0), ("W", 1), ("0", 0), ("1", 1), ("W:0", 1)):
        with open_input(G2D, key=key) as a:
            assert a.shape == (600, 4) and a.dt.to("ms").magnitude == 5.0
            np.testing.assert_array_equal(a.read_all(), data[:, s, :, 0])
            assert a.region_names == ("lA1", "lV1", "rA1", "rV1")
    ts = ftvb.read_time_series(G2D, state="W")
    assert ts.state_variable == "W" and ts.state_variables == ("V", "W")
    np.testing.assert_array_equal(ts.data, data[:, 1, :, 0])


def test_time_series_with_modes_written_by_tvb():
    data, _ = _raw(RSFHN)
    assert data.shape == (40, 2, 4, 3)
    with open_input(RSFHN, key="alpha:2") as a:
        np.testing.assert_array_equal(a.read_all(), data[:, 1, :, 2])
    with open_input(RSFHN, key="0:1") as a:
        assert a.key == "xi:1"
    with pytest.raises(FwdModelsError, match="'xi' is not in.*'xi:0'"):
        open_input(RSFHN, key="xi")
    ts = ftvb.read_time_series(RSFHN, state=1, mode=0)
    np.testing.assert_array_equal(ts.data, data[:, 1, :, 0])


def test_info_shows_dt_and_the_arrays(capsys):
    d = describe(G2D)
    assert d["dt"] == "5.0 ms" and "TVB_sample_period" in d["dt_source"]
    assert {a["name"] for a in d["arrays"]} >= {"V", "W"}
    assert main(["info", str(G2D)]) == 0
    out = capsys.readouterr().out
    assert "dt: 5.0 ms" in out and "V " in out


def _h5_like_tvb(path, data, dt=0.5, unit="ms", states=("V",), regions=None, as_bytes=False):
    """A TimeSeriesRegion file laid out as TVB 2.x writes it (h5py, no TVB code)."""
    text = (lambda s: np.bytes_(s)) if as_bytes else str
    with h5py.File(path, "w") as f:
        f["data"] = data
        f["time"] = np.arange(data.shape[0]) * dt
        f.attrs["TVB_sample_period"] = dt
        f.attrs["TVB_sample_period_unit"] = text(unit)
        f.attrs["TVB_labels_ordering"] = text(json.dumps(["Time", "State Variable", "Region",
                                                          "Mode"]))
        dims = {"State Variable": list(states)}
        if regions:
            dims["Region"] = list(regions)
        f.attrs["TVB_labels_dimensions"] = text(json.dumps(dims))
        f.attrs["TVB_written_by"] = text("tvb.adapters.datatypes.h5.time_series_h5."
                                         "TimeSeriesRegionH5")


@pytest.mark.parametrize("as_bytes", [False, True])
def test_h5_built_as_tvb_writes_it(tmp_path, as_bytes):
    z = np.random.default_rng(0).random((50, 1, 3, 1))
    _h5_like_tvb(tmp_path / "ts.h5", z, regions=["a", "b", "c"], as_bytes=as_bytes)
    with open_input(tmp_path / "ts.h5") as a:          # one state, one mode: no key needed
        assert a.key == "V" and a.dt.to("s").magnitude == 5e-4
        assert a.region_names == ("a", "b", "c")
        np.testing.assert_array_equal(a.read(10, 20), z[10:20, 0, :, 0])
    with open_input(tmp_path / "ts.h5", key="data") as a:
        assert a.key == "V"


def test_labels_of_the_wrong_length_are_not_used(tmp_path):
    z = np.zeros((10, 2, 3, 1))
    _h5_like_tvb(tmp_path / "ts.h5", z, states=("V",), regions=["a", "b"])
    with open_input(tmp_path / "ts.h5", key="1") as a:
        assert a.key == "1" and a.region_names is None


def test_a_4d_array_without_tvb_attributes_is_refused_with_a_hint(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["data"] = np.zeros((10, 2, 3, 1))
    with pytest.raises(FwdModelsError, match="4-D.*data\\[:, 0, :, 0\\]"):
        open_input(tmp_path / "x.h5")


def test_bold_of_a_tvb_file_like_tvb_equals_tvb(tmp_path):
    """The command line on TVB's own file, against TVB's BalloonModel on the same data."""
    data, _ = _raw(G2D)
    ts = TimeSeries(data=data[:, :1], time=np.arange(600) * 5.0, sample_period=5.0,
                    sample_period_unit="ms")
    ts.configure()
    model = BalloonModel(time_series=ts)
    model.configure()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tvb = model.evaluate().data[:, 0, :, 0]
    out = tmp_path / "bold.npz"
    assert main(["bold", str(G2D), "--key", "V", "-o", str(out), "--like", "tvb", "-q"]) == 0
    ours = np.load(out)["bold"]
    assert np.abs(ours - tvb[1:]).max() <= 1e-12 * np.abs(tvb).max()
    out2 = tmp_path / "bold2.npz"
    assert main(["bold", str(G2D), "--key", "V", "-o", str(out2), "--tr", "1s", "-q"]) == 0
    assert np.load(out2)["bold"].shape == (3, 4)


# --------------------------------------------------------------------------- tvb-data
@pytest.mark.parametrize("n", [66, 68, 76, 96, 192])
def test_connectivity_equals_tvbs_reader(n):
    theirs = tvb_connectivity.Connectivity.from_file(f"connectivity_{n}.zip")
    ours = ftvb.read_connectivity(n)
    assert ours.labels == tuple(theirs.region_labels)
    np.testing.assert_array_equal(ours.centres.to("mm").magnitude, theirs.centres)
    np.testing.assert_array_equal(ours.weights, theirs.weights)
    np.testing.assert_array_equal(ours.tract_lengths.to("mm").magnitude, theirs.tract_lengths)
    for name in ("areas", "orientations", "cortical", "hemispheres"):
        mine = getattr(ours, name)
        other = getattr(theirs, name)
        if mine is None:
            assert other is None or np.size(other) == 0, name
        else:
            np.testing.assert_array_equal(getattr(mine, "magnitude", mine), other)


def test_surface_region_mapping_sensors_projection_equal_tvbs_readers():
    cortex = tvb_surfaces.CorticalSurface.from_file()
    ours = ftvb.read_surface("tvb:surfaceData/cortex_16384.zip")
    np.testing.assert_array_equal(ours.vertices.to("mm").magnitude, cortex.vertices)
    np.testing.assert_array_equal(ours.triangles, cortex.triangles)
    np.testing.assert_allclose(ours.normals, cortex.vertex_normals, atol=1e-6)
    for n in (76, 192):
        rm = tvb_region_mapping.RegionMapping.from_file(f"regionMapping_16k_{n}.txt")
        np.testing.assert_array_equal(
            ftvb.read_region_mapping(f"tvb:regionMapping/regionMapping_16k_{n}.txt"),
            rm.array_data)
    for cls, name, kind in ((tvb_sensors.SensorsEEG, "eeg_brainstorm_65.txt", "eeg"),
                            (tvb_sensors.SensorsMEG, "meg_brainstorm_276.txt", "meg"),
                            (tvb_sensors.SensorsInternal, "seeg_588.txt", "seeg")):
        theirs = cls.from_file(name)
        ours = ftvb.read_sensors(f"tvb:sensors/{name}")
        assert ours.kind == kind and ours.names == tuple(theirs.labels)
        np.testing.assert_array_equal(ours.positions.to("mm").magnitude, theirs.locations)
        if kind == "meg":
            np.testing.assert_array_equal(ours.orientations, theirs.orientations)
    for cls, name in ((tvb_projections.ProjectionSurfaceEEG,
                       "projection_eeg_65_surface_16k.npy"),
                      (tvb_projections.ProjectionSurfaceMEG,
                       "projection_meg_276_surface_16k.npy")):
        theirs = cls.from_file(name).projection_data
        np.testing.assert_array_equal(ftvb.read_projection(f"tvb:projectionMatrix/{name}"),
                                      theirs)
    mat = ftvb.read_projection("tvb:projectionMatrix/projection_eeg_62_surface_16k.mat")
    assert mat.shape == (62, 16384)


def test_tvb_data_paths_and_refusals(tmp_path):
    with pytest.raises(FwdModelsError, match="not a file of tvb-data.*connectivity_76"):
        ftvb.tvb_data_path("tvb:connectivity/nope.zip")
    (tmp_path / "rm.txt").write_text("0 1 2 -1\n")
    with pytest.raises(FwdModelsError, match="indices must lie in"):
        ftvb.read_region_mapping(tmp_path / "rm.txt")
    (tmp_path / "s.txt").write_text("A 1 2 3\nB 1 2\n")
    with pytest.raises(FwdModelsError, match="different lengths"):
        ftvb.read_sensors(tmp_path / "s.txt", "eeg")
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(FwdModelsError, match="not a readable zip"):
        ftvb.read_connectivity(tmp_path / "bad.zip")
