"""Results as MNE-Python Raw objects and xarray DataArrays, checked with MNE and xarray
themselves: values, times, names, positions, units, and the EEG reference as MNE marks it."""

import sys
import warnings

import matplotlib
import mne  # in the test extra: these tests run in CI, never skip
import numpy as np
import pytest
import xarray as xr

import fwdmodels
from fwdmodels import FwdModelsError, cli
from fwdmodels.errors import MissingDependencyError
from fwdmodels.io.export import to_raw, to_xarray
from fwdmodels.make_leadfield import sphere_leadfield

matplotlib.use("Agg")
ureg = fwdmodels.ureg
T, DT = 400, 0.002


@pytest.fixture(scope="module")
def eeg():
    lf = sphere_leadfield("eeg_1020")
    z = np.random.default_rng(3).standard_normal((T, 68))
    model = fwdmodels.EEGLeadFieldModel(68, 21, lf.L, sensor_unit="uV")
    return lf, z, model(z)


@pytest.fixture(scope="module")
def meg():
    lf = sphere_leadfield("neuromag306", channels="grad", accuracy="point")
    z = np.random.default_rng(4).standard_normal((T, 68))
    return lf, z, fwdmodels.MEGLeadFieldModel(68, 204, lf.L)(z)


def _in_si(y, si):
    return y.to(si).magnitude


# ------------------------------------------------------------------ MNE
def test_eeg_raw_values_times_and_montage(eeg):
    lf, _, y = eeg
    raw = to_raw(y, f"{DT} s", leadfield=lf)
    assert isinstance(raw, mne.io.RawArray)
    np.testing.assert_array_equal(raw.get_data(), _in_si(y, "V").T)
    assert raw.info["sfreq"] == 1 / DT and raw.first_samp == 1
    np.testing.assert_allclose(raw.times + raw.first_time, DT * np.arange(1, T + 1), rtol=1e-12)
    assert raw.ch_names == list(lf.sensor_names)
    assert raw.get_channel_types() == ["eeg"] * 21
    assert {ch["unit"] for ch in raw.info["chs"]} == {mne.io.constants.FIFF.FIFF_UNIT_V}
    pos = raw.get_montage().get_positions()
    assert pos["coord_frame"] == "head"
    np.testing.assert_allclose(np.array([pos["ch_pos"][n] for n in raw.ch_names]),
                               lf.sensor_positions, atol=1e-12)
    raw.plot_sensors(show=False)
    raw.compute_psd(verbose="error").plot_topomap(show=False)
    matplotlib.pyplot.close("all")


def test_average_reference_is_what_mne_makes_of_it(eeg):
    """The model's average reference, marked on the Raw, equals MNE's own: the reference-free
    data given MNE's average-reference projector and applied."""
    lf, z, _ = eeg
    free = fwdmodels.EEGLeadFieldModel(68, 21, lf.L)(z)
    avg = fwdmodels.EEGLeadFieldModel(68, 21, lf.L, reference="average")(z)
    ours = to_raw(avg, f"{DT} s", leadfield=lf, reference="average")
    theirs = to_raw(free, f"{DT} s", leadfield=lf)
    assert theirs.info["projs"] == [] and not theirs.info["custom_ref_applied"]
    theirs.set_eeg_reference("average", projection=True, verbose="error")
    theirs.apply_proj(verbose="error")
    np.testing.assert_allclose(ours.get_data(), theirs.get_data(), rtol=0,
                               atol=1e-12 * np.abs(theirs.get_data()).max())
    (p_ours,), (p_theirs,) = ours.info["projs"], theirs.info["projs"]
    assert p_ours["desc"] == p_theirs["desc"] == "Average EEG reference"
    assert p_ours["active"] and p_theirs["active"]
    np.testing.assert_allclose(p_ours["data"]["data"], p_theirs["data"]["data"])
    assert ours.info["custom_ref_applied"] == theirs.info["custom_ref_applied"] == 0
    with pytest.warns(RuntimeWarning, match="average reference projection was already added"):
        ours.copy().set_eeg_reference("average", projection=True, verbose="warning")
    before = ours.get_data()
    np.testing.assert_allclose(ours.copy().apply_proj(verbose="error").get_data(), before,
                               rtol=0, atol=1e-12 * np.abs(before).max())


def test_channel_reference_is_marked_custom_as_mne_does(eeg):
    lf, z, _ = eeg
    y = fwdmodels.EEGLeadFieldModel(68, 21, lf.L, reference=10)(z)       # Cz
    ours = to_raw(y, f"{DT} s", leadfield=lf, reference=10)
    theirs = to_raw(fwdmodels.EEGLeadFieldModel(68, 21, lf.L)(z), f"{DT} s", leadfield=lf)
    mne.set_eeg_reference(theirs, ["Cz"], copy=False, verbose="error")
    np.testing.assert_allclose(ours.get_data(), theirs.get_data(), rtol=0,
                               atol=1e-12 * np.abs(theirs.get_data()).max())
    assert ours.info["custom_ref_applied"] == theirs.info["custom_ref_applied"] == \
        mne.io.constants.FIFF.FIFFV_MNE_CUSTOM_REF_ON
    assert ours.info["projs"] == []


@pytest.mark.parametrize("reference, projs, custom", [("average", 1, 0), ("3", 0, 1),
                                                      ("none", 0, 0)])
def test_command_line_raw_marks_the_reference(tmp_path, eeg, reference, projs, custom):
    lf, z, _ = eeg
    from fwdmodels.io.leadfield_file import write_leadfield_file

    write_leadfield_file(tmp_path / "lf.h5", lf)
    np.save(tmp_path / "z.npy", z)
    assert cli.main(["eeg", str(tmp_path / "z.npy"), "--dt", "2ms", "--leadfield",
                     str(tmp_path / "lf.h5"), "--reference", reference, "-o",
                     str(tmp_path / "x_raw.fif"), "-q"]) == 0
    raw = mne.io.read_raw_fif(tmp_path / "x_raw.fif", verbose="error")
    assert len(raw.info["projs"]) == projs and bool(raw.info["custom_ref_applied"]) == custom
    if projs:
        assert raw.info["projs"][0]["active"]
        assert raw.info["projs"][0]["desc"] == "Average EEG reference"


def test_meg_raw_has_the_coil_frames(meg):
    lf, _, y = meg
    raw = to_raw(y, f"{DT} s", leadfield=lf)
    np.testing.assert_array_equal(raw.get_data(), _in_si(y, "T/m").T)
    assert raw.get_channel_types() == ["grad"] * 204
    assert len(mne.pick_types(raw.info, meg="grad")) == 204
    for ch, loc in zip(raw.info["chs"], lf.locs()):
        np.testing.assert_array_equal(ch["loc"], loc)
        assert ch["coil_type"] == mne.io.constants.FIFF.FIFFV_COIL_VV_PLANAR_T1
        assert ch["coord_frame"] == mne.io.constants.FIFF.FIFFV_COORD_DEVICE
    np.testing.assert_array_equal(raw.info["dev_head_t"]["trans"], np.eye(4))
    raw.plot_sensors(show=False)
    matplotlib.pyplot.close("all")


def test_bold_raw_is_unitless_misc_channels():
    z = 0.2 + 0.1 * np.random.default_rng(5).standard_normal((T, 3))
    bold = fwdmodels.simulate_bold(z, "2 ms")
    raw = to_raw(bold, "2 ms", names=["V1", "V2", "MT"])
    np.testing.assert_array_equal(raw.get_data(), bold.magnitude.T)
    assert raw.get_channel_types() == ["misc"] * 3 and raw.ch_names == ["V1", "V2", "MT"]
    assert {ch["unit"] for ch in raw.info["chs"]} == {mne.io.constants.FIFF.FIFF_UNIT_NONE}


@pytest.mark.parametrize("suffix", [".npz", ".h5", ".mat", ".zarr"])
def test_output_files_convert_as_the_results_in_memory(tmp_path, meg, suffix):
    lf, z, y = meg
    from fwdmodels.io.leadfield_file import write_leadfield_file

    write_leadfield_file(tmp_path / "lf.npz", lf)
    np.save(tmp_path / "z.npy", z)
    out = tmp_path / f"meg{suffix}"
    assert cli.main(["meg", str(tmp_path / "z.npy"), "--dt", "2ms", "--leadfield",
                     str(tmp_path / "lf.npz"), "-o", str(out), "-q"]) == 0
    from_file, in_memory = to_raw(out), to_raw(y, "2 ms", leadfield=lf)
    np.testing.assert_allclose(from_file.get_data(), in_memory.get_data(), rtol=1e-13,
                               atol=1e-13 * np.abs(in_memory.get_data()).max())
    assert from_file.ch_names == in_memory.ch_names and from_file.first_samp == 1
    for a, b in zip(from_file.info["chs"], in_memory.info["chs"]):
        np.testing.assert_array_equal(a["loc"], b["loc"])
        assert a["coil_type"] == b["coil_type"] and a["coord_frame"] == b["coord_frame"]
    da = to_xarray(out)
    assert da.dims == ("time", "channel") and list(da.channel.values) == list(lf.sensor_names)
    np.testing.assert_array_equal(da.x.values, lf.sensor_positions[:, 0])
    assert da.attrs["units"] == "fT / cm" and da.attrs["modality"] == "meg"


# ------------------------------------------------------------------ xarray
def test_xarray_coordinates_units_and_selection(eeg):
    lf, _, y = eeg
    da = to_xarray(y, f"{DT} s", leadfield=lf)
    assert isinstance(da, xr.DataArray) and da.dims == ("time", "channel")
    assert da.attrs["units"] == "uV" and da.time.attrs["units"] == "s"
    np.testing.assert_allclose(da.time.values, DT * np.arange(1, T + 1), rtol=1e-12)
    np.testing.assert_allclose(da.time.diff("time").values, DT, rtol=1e-9)
    cz = lf.sensor_names.index("Cz")
    np.testing.assert_array_equal(da.sel(channel="Cz").values, y.magnitude[:, cz])
    np.testing.assert_array_equal(da.isel(time=5).values, y.magnitude[5])
    np.testing.assert_array_equal(np.stack([da.x, da.y, da.z], axis=1), lf.sensor_positions)
    window = da.sel(time=slice(0.1, 0.2))
    assert window.sizes["time"] == 51 and float(window.time[0]) == pytest.approx(0.1)


def test_xarray_netcdf_round_trip(tmp_path, eeg):
    lf, _, y = eeg
    da = to_xarray(y, f"{DT} s", leadfield=lf, metadata={"run": "test"})
    da.to_netcdf(tmp_path / "eeg.nc", engine="scipy")
    back = xr.open_dataarray(tmp_path / "eeg.nc", engine="scipy")
    xr.testing.assert_identical(back.load(), da)
    assert '"run": "test"' in back.attrs["fwdmodels_metadata"]
    back.close()


def test_xarray_bold_and_batch():
    z = 0.2 + 0.1 * np.random.default_rng(6).standard_normal((2, T, 3))
    bold = fwdmodels.simulate_bold(z, "2 ms", tr="0.2 s")
    da = to_xarray(bold, "0.2 s", names=["V1", "V2", "MT"], t0="0.2 s")
    assert da.dims == ("batch", "time", "region") and da.sizes["time"] == 4
    np.testing.assert_allclose(da.time.values, [0.2, 0.4, 0.6, 0.8])
    np.testing.assert_array_equal(da.sel(region="MT").values, bold.magnitude[..., 2])
    assert da.attrs["units"] == "dimensionless" and da.attrs["modality"] == "bold"


def test_bad_arguments_are_refused_by_name(eeg, meg, tmp_path):
    lf, _, y = eeg
    with pytest.raises(FwdModelsError, match="`data` has no unit"):
        to_raw(y.magnitude, "1 ms")
    with pytest.raises(FwdModelsError, match="`dt` is needed"):
        to_xarray(y)
    with pytest.raises(FwdModelsError, match="`leadfield` has 204 grad channels but `data` "
                                             "has 21 columns of eeg data"):
        to_raw(y, "1 ms", leadfield=meg[0])
    with pytest.raises(FwdModelsError, match=r"`names` must have 21 entries"):
        to_xarray(y, "1 ms", names=["a"])
    with pytest.raises(FwdModelsError, match="a Raw holds one recording"):
        to_raw(np.stack([y.magnitude] * 2) * y.units, "1 ms")
    with pytest.raises(FwdModelsError, match=r"`data` must be EEG .* got a unit of s"):
        to_raw(np.ones((3, 2)) * ureg.s, "1 ms")
    fwdmodels.io.save(tmp_path / "e.npz", "eeg", y.magnitude, metadata=fwdmodels.io
                      .build_metadata("eeg", "eeg", "uV", ["time", "sensor"], 0.001))
    with pytest.raises(FwdModelsError, match="`dt` comes from the file"):
        to_raw(tmp_path / "e.npz", "1 ms")
    raw = to_raw(tmp_path / "e.npz")                  # a bare file: numbered channels
    assert raw.ch_names[:2] == ["EEG 001", "EEG 002"] and raw.info["sfreq"] == 1000.0


@pytest.mark.parametrize("module, extra, func", [("mne", "mne", to_raw),
                                                 ("xarray", "xarray", to_xarray)])
def test_missing_extra_is_named(eeg, monkeypatch, module, extra, func):
    monkeypatch.setitem(sys.modules, module, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(MissingDependencyError, match=rf"fwdmodels\[{extra}\]"):
            func(eeg[2], "1 ms")
