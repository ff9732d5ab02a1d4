"""Region lead-field files and ``fwdmodels leadfield``: each kind is built, written, read back,
used by ``fwdmodels eeg|meg --leadfield FILE`` alone, and its Raw output carries sensors that
MNE-Python plots and from which MNE's own forward solution gives the same lead field."""

import json

import matplotlib
import mne  # in the test extra: these tests run in CI, never skip
import numpy as np
import pytest

import fwdmodels
from fwdmodels import FwdModelsError, cli, pipeline
from fwdmodels.demo import run_demo
from fwdmodels import io as fio
from fwdmodels import make_leadfield as mk
from fwdmodels.io import leadfield_file as lff
from fwdmodels.leadfield import forward as lfwd

from test_io_mne import setup  # noqa: F401  (a forward solution made with MNE)

matplotlib.use("Agg")
ureg = fwdmodels.ureg
T = 300


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    d = tmp_path_factory.mktemp("lf")
    z = np.random.default_rng(0).standard_normal((T, 68))
    np.save(d / "sim.npy", z)
    return d, z


def _main(*argv):
    return cli.main([str(a) for a in argv])


def _mne_fixed(info, lf, sphere, meg):
    """MNE-Python's forward for the info's sensors at the file's dipoles, projected on their
    orientations: (R, M) in the channel order of the info."""
    src = mne.setup_volume_source_space(pos=dict(rr=lf.region_positions,
                                                 nn=lf.region_orientations), verbose="error")
    fwd = mne.make_forward_solution(info, None, src, sphere, meg=meg, eeg=not meg,
                                    verbose="error")
    G = fwd["sol"]["data"].reshape(len(fwd["sol"]["row_names"]), -1, 3)      # (M, R, 3)
    L = np.einsum("mrk,rk->rm", G, lf.region_orientations)
    order = [fwd["sol"]["row_names"].index(n) for n in info["ch_names"]]
    return L[:, order]


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


# ------------------------------------------------------------------ the file format
def _eeg_file():
    cap = fwdmodels.leadfield.sensors.eeg_1020()
    L = np.random.default_rng(1).standard_normal((3, 21)) * ureg("V/(A*m)")
    return lff.RegionLeadField(L=L, ch_type="eeg", sensor_names=cap.names,
                               sensor_positions=cap.positions.to("m").magnitude,
                               region_names=("a", "b", "c"), head_model={"kind": "test"},
                               aggregation="mean", source="test",
                               inputs=[{"role": "x", "name": "none"}])


@pytest.mark.parametrize("suffix", [".npz", ".h5"])
def test_file_round_trip_keeps_everything(tmp_path, suffix):
    lf = _eeg_file()
    path = lff.write_leadfield_file(tmp_path / f"lf{suffix}", lf)
    assert lff.is_leadfield_file(path)
    back = lff.read_leadfield_file(path)
    np.testing.assert_array_equal(back.L.magnitude, lf.L.magnitude)
    assert back.L.units == lf.L.units and back.ch_type == "eeg"
    assert back.sensor_names == lf.sensor_names and back.region_names == ("a", "b", "c")
    np.testing.assert_array_equal(back.sensor_positions, lf.sensor_positions)
    assert back.head_model == {"kind": "test"} and back.aggregation == "mean"
    assert back.inputs == [{"role": "x", "name": "none"}]
    assert back.metadata["fwdmodels_version"] == fwdmodels.__version__
    # the plain readers see the lead field as the file's data array, with its unit
    L, info = fio.load(path)
    np.testing.assert_array_equal(L, lf.L.magnitude)
    assert info["unit"] == "V / A / m"
    if suffix == ".npz":                     # nothing pickled
        with np.load(path, allow_pickle=False) as data:
            assert str(data["format"]) == "fwdmodels-leadfield"
    with pytest.raises(FwdModelsError, match="already exists"):
        lff.write_leadfield_file(path, lf)


def test_plain_files_are_not_leadfield_files(tmp_path):
    np.savez(tmp_path / "a.npz", L=np.ones((2, 3)), unit="V/(A*m)")
    np.save(tmp_path / "a.npy", np.ones((2, 3)))
    assert not lff.is_leadfield_file(tmp_path / "a.npz")
    assert not lff.is_leadfield_file(tmp_path / "a.npy")
    assert not lff.is_leadfield_file(tmp_path / "missing.npz")


def test_fiff_codes_are_mne_constants():
    F = mne.io.constants.FIFF
    codes = lff.FIFF_CODES
    assert codes["kind"] == {"eeg": F.FIFFV_EEG_CH, "mag": F.FIFFV_MEG_CH,
                             "grad": F.FIFFV_MEG_CH}
    assert codes["unit"] == {"eeg": F.FIFF_UNIT_V, "mag": F.FIFF_UNIT_T,
                             "grad": F.FIFF_UNIT_T_M}
    assert codes["coord_frame"] == {"meg": F.FIFFV_COORD_DEVICE, "head": F.FIFFV_COORD_HEAD}
    assert codes["coil_eeg"] == F.FIFFV_COIL_EEG


@pytest.mark.parametrize("change, pattern", [
    (dict(L=np.ones((3, 21)) * ureg("T/(A*m)")), r"`L` of eeg channels must be in a unit "
                                                  r"of V/\(A\*m\); got T / A / m"),
    (dict(L=np.ones((3, 21))), "`L` must be a pint Quantity"),
    (dict(L=np.full((3, 21), np.nan) * ureg("V/(A*m)")), "`L` must be finite; got nan at "
                                                          "region 0, sensor 0"),
    (dict(sensor_names=("a",) * 21), r"`sensor_names` must be distinct.*'a' twice"),
    (dict(sensor_names=("a", "b")), r"`sensor_names` must have 21 entries .* got 2"),
    (dict(region_names=("a", "b")), r"`region_names` must have 3 entries"),
    (dict(sensor_positions=np.ones((20, 3))), r"`sensor_positions` must be a finite \(21, 3"),
    (dict(sensor_orientations=np.ones((21, 3))), "`sensor_orientations` describes MEG coils"),
    (dict(ch_type="planar"), "`ch_type` must be 'eeg', 'mag' or 'grad'; got 'planar'"),
])
def test_inconsistent_leadfields_are_refused_naming_the_argument(change, pattern):
    lf = _eeg_file()
    fields = {k: getattr(lf, k) for k in ("L", "ch_type", "sensor_names", "sensor_positions",
                                          "region_names")}
    with pytest.raises(FwdModelsError, match=pattern):
        lff.RegionLeadField(**{**fields, **change})


def test_meg_positions_need_their_coil_frames():
    with pytest.raises(FwdModelsError, match="need `sensor_orientations`"):
        lff.RegionLeadField(L=np.ones((2, 3)) * ureg("T/(A*m)"), ch_type="mag",
                            sensor_names=("a", "b", "c"), sensor_positions=np.ones((3, 3)),
                            coord_frame="meg")


def test_corrupt_and_newer_files(tmp_path):
    path = lff.write_leadfield_file(tmp_path / "lf.npz", _eeg_file())
    with np.load(path, allow_pickle=False) as data:
        items = {k: data[k] for k in data.files}
    np.savez(tmp_path / "new.npz", **{**items, "format_version": np.int64(99)})
    with pytest.raises(FwdModelsError, match="format version 99, newer"):
        lff.read_leadfield_file(tmp_path / "new.npz")
    np.savez(tmp_path / "noL.npz", **{k: v for k, v in items.items() if k != "L"})
    with pytest.raises(FwdModelsError, match="has no 'L' entry"):
        lff.read_leadfield_file(tmp_path / "noL.npz")
    (tmp_path / "cut.npz").write_bytes(path.read_bytes()[:200])
    assert not lff.is_leadfield_file(tmp_path / "cut.npz")


# ------------------------------------------------------------------ the sphere builder
def test_sphere_eeg_is_the_head_model_of_the_demo_regions():
    lf = mk.sphere_leadfield("eeg_1010")
    rec = fwdmodels.datasets.synthetic_recording(duration="1 s")
    head = fwdmodels.datasets.HEAD
    cap = fwdmodels.leadfield.sensors.eeg_1010(radius=head["radii"][-1])
    expected = fwdmodels.leadfield.sphere_eeg_leadfield(rec.positions, rec.orientations,
                                                        cap.positions, head["radii"],
                                                        head["conductivities"])
    np.testing.assert_allclose(lf.L.to("V/(A*m)").magnitude, expected.to("V/(A*m)").magnitude,
                               rtol=1e-14)
    assert lf.sensor_names == cap.names and len(lf.sensor_names) == 87
    assert lf.region_names == rec.names
    np.testing.assert_allclose(lf.sensor_positions, cap.positions.to("m").magnitude)
    assert lf.head_model["radii_m"] == [0.081, 0.085, 0.09]
    assert lf.head_model["conductivities_S_per_m"] == [0.33, 0.0042, 0.33]


def test_sphere_options_and_sources_from_a_file(tmp_path):
    rng = np.random.default_rng(2)
    pos = rng.uniform(-40, 40, (5, 3))                     # mm
    ori = rng.standard_normal((5, 3))
    np.savez(tmp_path / "src.npz", positions=pos, positions_unit="mm", orientations=ori,
             names=np.array(list("vwxyz")))
    lf = mk.sphere_leadfield("eeg_1020", sources=tmp_path / "src.npz", radii="9 cm",
                             conductivities="0.33 S/m")
    expected = fwdmodels.leadfield.sphere_eeg_leadfield(
        pos * ureg.mm, ori, fwdmodels.leadfield.sensors.eeg_1020().positions, [9] * ureg.cm,
        [0.33] * ureg("S/m"))
    np.testing.assert_allclose(lf.L.magnitude, expected.to("V/(A*m)").magnitude, rtol=1e-14)
    assert lf.region_names == tuple("vwxyz")
    assert lf.inputs[0]["role"] == "sources" and len(lf.inputs[0]["sha256"]) == 64
    np.testing.assert_allclose(lf.region_positions, pos / 1000)
    with pytest.raises(FwdModelsError, match="`radii` must be numbers followed by one unit"):
        mk.sphere_leadfield(radii="8 9")
    with pytest.raises(FwdModelsError, match="`channels` must be 'mag' or 'grad' for the "
                                             "helmet 'neuromag306'"):
        mk.sphere_leadfield("neuromag306")
    with pytest.raises(FwdModelsError, match="`sensors` must be one of eeg_1020"):
        mk.sphere_leadfield("eeg_1030")
    np.savez(tmp_path / "bare.npz", positions=pos, orientations=ori)
    with pytest.raises(FwdModelsError, match="needs 'positions' with its unit"):
        mk.sphere_leadfield(sources=tmp_path / "bare.npz")


@pytest.mark.parametrize("channels", ["mag", "grad"])
def test_sphere_meg_coils_are_the_helmets(channels):
    lf = mk.sphere_leadfield("neuromag306", channels=channels, accuracy="normal")
    helmet = fwdmodels.leadfield.sensors.neuromag306()
    rec = fwdmodels.datasets.synthetic_recording(duration="1 s")
    expected = helmet.leadfields(rec.positions, rec.orientations, accuracy="normal")[channels]
    np.testing.assert_allclose(lf.L.magnitude, expected.magnitude, rtol=1e-14)
    n = 102 if channels == "mag" else 204
    assert lf.shape == (68, n) and lf.coord_frame == "meg"
    assert set(lf.coil_types) == {3024 if channels == "mag" else 3012}
    frames = np.stack([lf.coil_ex, lf.coil_ey, lf.sensor_orientations], axis=1)
    np.testing.assert_allclose(frames @ frames.transpose(0, 2, 1), np.tile(np.eye(3), (n, 1, 1)),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(frames), 1.0, atol=1e-12)     # right-handed


# ------------------------------------------------------------------ the command and MNE
KINDS = [("eeg", ["sphere", "--sensors", "eeg_1020", "--radii", "9 cm", "--conductivities",
                  "0.33 S/m"]),
         ("eeg", ["sphere", "--sensors", "eeg_1005"]),
         ("eeg", ["sphere", "--sensors", "biosemi64"]),
         ("meg", ["sphere", "--sensors", "neuromag306", "--channels", "mag"]),
         ("meg", ["sphere", "--sensors", "neuromag306", "--channels", "grad"])]


@pytest.mark.parametrize("modality, build", KINDS, ids=lambda x: "-".join(x)
                         if isinstance(x, list) else x)
@pytest.mark.parametrize("suffix", [".npz", ".h5"])
def test_leadfield_command_then_raw_that_mne_plots_and_recomputes(sim, tmp_path, modality,
                                                                  build, suffix, capsys):
    d, z = sim
    lf_path = tmp_path / f"lf{suffix}"
    assert _main("leadfield", *build, "-o", lf_path) == 0
    assert capsys.readouterr().out.startswith(f"wrote {lf_path}: L (68, ")
    lf = lff.read_leadfield_file(lf_path)
    raw_path = tmp_path / "x_raw.fif"
    assert _main(modality, d / "sim.npy", "--dt", "1ms", "--leadfield", lf_path,
                 "-o", raw_path, "-q") == 0                    # nothing but the file
    raw = mne.io.read_raw_fif(raw_path, preload=True, verbose="error")
    assert raw.ch_names == list(lf.sensor_names)
    assert set(raw.get_channel_types()) == {lf.ch_type}
    expected = pipeline.leadfield_model(modality, lf.L)(z)
    si = {"eeg": "V", "mag": "T", "grad": "T/m"}[lf.ch_type]
    np.testing.assert_allclose(raw.get_data(), expected.to(si).magnitude.T, rtol=1e-12,
                               atol=1e-12 * np.abs(expected.to(si).magnitude).max())
    raw.plot_sensors(show=False)
    if lf.ch_type != "grad":      # MNE maps Vectorview gradiometers by Vectorview names only
        raw.compute_psd(verbose="error").plot_topomap(show=False)
    matplotlib.pyplot.close("all")
    if modality == "eeg":
        assert raw.get_montage() is not None
        np.testing.assert_allclose(np.array(list(raw.get_montage().get_positions()["ch_pos"]
                                                 .values())), lf.sensor_positions, atol=1e-12)
        if lf.head_model["radii_m"] == [0.09]:
            sphere = mne.make_sphere_model(r0=(0, 0, 0), head_radius=0.09,
                                           relative_radii=(0.9, 1.0), sigmas=(0.33, 0.33),
                                           verbose="error")
            sphere["mu"], sphere["lambda"] = np.array([1.0]), np.array([1.0 / 0.33])
            assert _rel(lf.L.magnitude, _mne_fixed(raw.info, lf, sphere, False)) <= 1e-6
    else:
        sphere = mne.make_sphere_model(r0=(0, 0, 0), head_radius=None, verbose="error")
        assert _rel(lf.L.magnitude, _mne_fixed(raw.info, lf, sphere, True)) <= 1e-6
    out = tmp_path / f"x{suffix}"
    assert _main(modality, d / "sim.npy", "--dt", "1ms", "--leadfield", lf_path, "-o",
                 out, "-q") == 0
    _, info = fio.load(out)
    params = info["metadata"]["parameters"]
    assert params["sensors"]["names"] == list(lf.sensor_names)
    assert params["sensors"]["regions"] == list(lf.region_names)
    assert params["leadfield"]["head_model"] == lf.head_model


def test_leadfield_list_and_errors(tmp_path, capsys):
    assert _main("leadfield", "--list") == 0
    out = capsys.readouterr().out
    for name in ("sphere", "mne", "eeg_1020", "eeg_1010", "eeg_1005", "biosemi64",
                 "neuromag306"):
        assert f"  {name} " in out
    assert _main("leadfield", "sphere", "--sensors", "neuromag306", "-o", tmp_path / "a.npz") \
        == 2
    err = capsys.readouterr().err
    assert err.startswith("fwdmodels leadfield: error: --channels must be 'mag' or 'grad'")
    assert _main("leadfield", "sphere", "-o", tmp_path / "a.txt") == 2
    assert "must end in .npz or .h5" in capsys.readouterr().err
    assert _main("leadfield") == 2
    assert "choose a source" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_file_options_that_conflict_are_refused(sim, tmp_path, capsys):
    d, _ = sim
    lf_path = mk.make_leadfield(tmp_path / "lf.npz", "sphere",
                                sensors="neuromag306", channels="mag")
    base = [d / "sim.npy", "--dt", "1ms", "--leadfield", lf_path, "-o", tmp_path / "o.npz"]
    for argv, pattern in (
            (["eeg", *base], "holds mag channels, which are MEG; use fwdmodels meg"),
            (["meg", *base, "--leadfield-unit", "fT/(nA*m)"], "conflicts with the unit"),
            (["meg", *base, "--meg-channels", "grad"], "--meg-channels grad conflicts"),
            (["meg", *base, "--leadfield-key", "sensor_positions"],
             "--leadfield-key does not apply")):
        assert _main(*argv) == 2
        assert pattern in capsys.readouterr().err
    assert _main("meg", *base, "--leadfield-unit", "T/(A*m)", "-q") == 0   # agrees: fine


def test_python_make_leadfield_equals_the_command(tmp_path):
    a = mk.make_leadfield(tmp_path / "a.npz", "sphere", sensors="eeg_1005")
    assert _main("leadfield", "sphere", "--sensors", "eeg_1005", "-o", tmp_path / "b.npz",
                 "-q") == 0
    la, lb = lff.read_leadfield_file(a), lff.read_leadfield_file(tmp_path / "b.npz")
    np.testing.assert_array_equal(la.L.magnitude, lb.L.magnitude)
    assert la.sensor_names == lb.sensor_names and la.head_model == lb.head_model


def test_a_registered_source_becomes_a_command(tmp_path, capsys, monkeypatch):
    """The hook for other sources: a builder and its options, registered by name."""
    def build(scale=1.0):
        lf = _eeg_file()
        lf.L = lf.L * float(scale)
        return lf

    def options(p):
        p.add_argument("--scale", type=float, default=1.0)

    monkeypatch.setattr(mk, "_SOURCES", dict(mk._SOURCES))
    mk.register_source("toy", build, options, "a toy source")
    assert _main("leadfield", "toy", "--scale", "2", "-o", tmp_path / "t.npz", "-q") == 0
    np.testing.assert_array_equal(lff.read_leadfield_file(tmp_path / "t.npz").L.magnitude,
                                  2 * _eeg_file().L.magnitude)
    assert _main("leadfield", "--list") == 0
    assert "  toy " in capsys.readouterr().out
    with pytest.raises(FwdModelsError, match="`name` must be a lower-case word"):
        mk.register_source("Toy Source", build, options, "")


# ------------------------------------------------------------------ the MNE builder
@pytest.fixture(scope="module")
def forward(setup):  # noqa: F811  (the fixture imported above)
    """The forward solution of test_io_mne (EEG 10-20, magnetometers and gradiometers, 12
    dipoles in 4 labelled regions), written as both-fwd.fif with labels.npy and z.npy."""
    return setup["dir"]


@pytest.mark.parametrize("channels", ["eeg", "mag", "grad"])
def test_mne_source_keeps_the_forwards_channels(forward, tmp_path, channels):
    d = forward
    out = tmp_path / "lf.h5"
    assert _main("leadfield", "mne", d / "both-fwd.fif", "--parcellation", d / "labels.npy",
                 "--channels", channels, "-o", out, "-q") == 0
    lf = lff.read_leadfield_file(out)
    direct = lfwd.read_forward_leadfield(d / "both-fwd.fif", np.load(d / "labels.npy"),
                                         modality="eeg" if channels == "eeg" else "meg",
                                         meg_channels=None if channels == "eeg" else channels)
    np.testing.assert_array_equal(lf.L.magnitude, direct.L.magnitude)
    assert lf.L.units == direct.L.units and lf.sensor_names == tuple(direct.ch_names)
    assert {i["role"] for i in lf.inputs} == {"forward", "parcellation"}
    assert lf.aggregation == direct.details["aggregation"]
    modality = "eeg" if channels == "eeg" else "meg"
    raw_path = tmp_path / "x_raw.fif"
    assert _main(modality, d / "z.npy", "--dt", "1ms", "--leadfield", out, "-o", raw_path,
                 "-q") == 0
    raw = mne.io.read_raw_fif(raw_path, verbose="error")
    fwd_chs = {c["ch_name"]: c for c in mne.read_forward_solution(
        d / "both-fwd.fif", verbose="error")["info"]["chs"]}
    for ch in raw.info["chs"]:
        np.testing.assert_array_equal(ch["loc"][:3], fwd_chs[ch["ch_name"]]["loc"][:3])
        if channels != "eeg":
            np.testing.assert_array_equal(ch["loc"], fwd_chs[ch["ch_name"]]["loc"])
            assert ch["coil_type"] == fwd_chs[ch["ch_name"]]["coil_type"]
    raw.plot_sensors(show=False)
    matplotlib.pyplot.close("all")
    meta = json.loads(raw.info["description"])
    assert meta["parameters"]["leadfield"]["source"] == "mne"


def test_mne_source_needs_a_channel_type_when_there_are_several(forward):
    with pytest.raises(FwdModelsError, match=r"`channels` must say which channels to take: "
                                             r"the forward solution has eeg, grad, mag"):
        mk.forward_leadfield(forward / "both-fwd.fif", np.load(forward / "labels.npy"))


def test_demo_writes_leadfield_files_that_mne_recomputes(tmp_path):
    paths = run_demo(tmp_path / "demo", figure=False)
    rec = fwdmodels.datasets.synthetic_recording()
    L_eeg, eeg_names, L_meg, meg_names = fwdmodels.datasets.demo_leadfields(rec)
    eeg, meg = (lff.read_leadfield_file(paths[k]) for k in ("leadfield_eeg", "leadfield_meg"))
    np.testing.assert_array_equal(eeg.L.magnitude, L_eeg.to("V/(A*m)").magnitude)
    np.testing.assert_array_equal(meg.L.magnitude, L_meg.to("T/(A*m)").magnitude)
    assert eeg.sensor_names == eeg_names and meg.sensor_names == meg_names
    assert eeg.region_names == meg.region_names == rec.names
    raw = fio.to_raw(paths["meg"])                 # names and coil frames from the output
    assert raw.ch_names == list(meg_names)
    sphere = mne.make_sphere_model(r0=(0, 0, 0), head_radius=None, verbose="error")
    assert _rel(meg.L.magnitude, _mne_fixed(raw.info, meg, sphere, True)) <= 1e-6
    assert fio.to_xarray(paths["eeg"]).sel(channel="Cz").attrs["units"] == "uV"
