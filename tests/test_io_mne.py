"""MNE-Python files: region lead fields from a real forward solution, Raw .fif outputs.

The forward solutions are computed here (no download): a sphere head model, a discrete source
space with given normals, EEG electrodes of the standard 10-20 montage that MNE ships, and
magnetometers plus gradiometers placed around the head (as in test_leadfield_headmodels).
"""

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import mne  # in the test extra: these tests run in CI, never skip
import numpy as np
import pytest

import fwdmodels
from fwdmodels import FwdModelsError, cli, pipeline
from fwdmodels import io as fio
from fwdmodels.errors import MissingDependencyError
from fwdmodels.io import mne as fmne
from fwdmodels.leadfield import forward as lfwd

from test_leadfield_headmodels import _unit_rows

EEG_NAMES = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7",
             "P3", "Pz", "P4", "P8", "O1", "O2"]
N_SRC, N_MEG = 12, 7
LABELS = np.array([0, 0, 1, 1, 1, 2, 2, 3, 3, 3, -1, 0])     # 4 regions, one vertex in none
R = 4


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "fwdmodels", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def tree(path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in Path(path).iterdir()}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    mne.set_log_level("error")
    d = tmp_path_factory.mktemp("mne")
    rng = np.random.default_rng(4)
    names, types, locs = [], [], []
    for i, u in enumerate(_unit_rows(rng, N_MEG, True)):
        ex = np.cross([0, 0, 1.0], u)
        ex /= np.linalg.norm(ex)
        ey = np.cross(u, ex)
        for kind in ("mag", "grad"):
            names.append(f"{kind.upper()}{i:02d}")
            types.append(kind)
            locs.append(np.r_[0.12 * u + [0, 0, 0.04], ex, ey, u])
    info = mne.create_info(names + EEG_NAMES, 1000.0, types + ["eeg"] * len(EEG_NAMES))
    info.set_montage(mne.channels.make_standard_montage("standard_1020"))
    for ch, loc in zip(info["chs"], locs):
        ch["loc"][:] = loc
    info["dev_head_t"] = mne.transforms.Transform("meg", "head")
    sphere = mne.make_sphere_model("auto", "auto", info)
    r0 = np.asarray(sphere["r0"])
    rr = r0 + _unit_rows(rng, N_SRC) * rng.uniform(0.02, 0.06, (N_SRC, 1))
    nn = _unit_rows(rng, N_SRC)
    src = mne.setup_volume_source_space(pos=dict(rr=rr, nn=nn))
    fwd = mne.make_forward_solution(info, None, src, sphere, meg=True, eeg=True)
    mne.write_forward_solution(d / "both-fwd.fif", fwd)
    eeg_only = mne.make_forward_solution(info, None, src, sphere, meg=False, eeg=True)
    mne.write_forward_solution(d / "eeg-fwd.fif", eeg_only)
    np.save(d / "labels.npy", LABELS)
    z = 0.5 + np.random.default_rng(1).standard_normal((700, R))
    np.save(d / "z.npy", z)
    fwd = mne.read_forward_solution(d / "both-fwd.fif")
    stored = fwd["src"][0]["nn"][fwd["src"][0]["vertno"]]          # float32 in the file
    np.testing.assert_allclose(stored, nn, atol=1e-6)
    return dict(dir=d, fwd=fwd, nn=stored, z=z, info=info)


def by_hand(fwd, ch_type, nn, labels, reduce="mean"):
    """Independent region lead field: rows of MNE's (M, 3V) gain, transposed, projected on
    the normals and averaged over each region, with loops."""
    info = fwd["info"]
    rows = [i for i, n in enumerate(fwd["sol"]["row_names"])
            if mne.channel_type(info, info["ch_names"].index(n)) == ch_type]
    G = fwd["sol"]["data"][rows]                      # (M, 3V), MNE's layout
    nn = nn / np.linalg.norm(nn, axis=1)[:, None]      # unit normals (stored as float32)
    out = np.zeros((labels.max() + 1, len(rows)))
    for r in range(out.shape[0]):
        members = [v for v in range(len(labels)) if labels[v] == r]
        for v in members:
            for k in range(3):
                out[r] += nn[v, k] * G[:, 3 * v + k]
        if reduce == "mean":
            out[r] /= len(members)
    return out


# ------------------------------------------------------------------ reading forward solutions
@pytest.mark.parametrize("modality, ch_type, unit", [("eeg", "eeg", "V/(A*m)"),
                                                     ("meg", "mag", "T/(A*m)"),
                                                     ("meg", "grad", "T/(m*A*m)")])
def test_region_leadfield_equals_hand_computation(setup, modality, ch_type, unit):
    path = setup["dir"] / "both-fwd.fif"
    choice = ch_type if modality == "meg" else None
    lf = lfwd.read_forward_leadfield(path, setup["dir"] / "labels.npy", modality=modality,
                                     meg_channels=choice)
    expected = by_hand(setup["fwd"], ch_type, setup["nn"], LABELS)
    assert lf.L.shape == (R, expected.shape[1]) and lf.ch_type == ch_type
    assert lf.L.units == fwdmodels.ureg(unit).units
    np.testing.assert_allclose(lf.L.magnitude, expected, rtol=1e-12,
                               atol=1e-12 * np.abs(expected).max())
    summed = lfwd.read_forward_leadfield(path, LABELS, modality=modality, meg_channels=choice,
                                         reduce="sum")
    np.testing.assert_allclose(summed.L.magnitude,
                               by_hand(setup["fwd"], ch_type, setup["nn"], LABELS, "sum"),
                               rtol=1e-12, atol=1e-12 * np.abs(expected).max())
    names = [n for n in setup["fwd"]["sol"]["row_names"] if n.startswith(
        {"eeg": ("F", "T", "C", "P", "O"), "mag": ("MAG",), "grad": ("GRAD",)}[ch_type])]
    assert lf.ch_names == names


def test_mne_fixed_orientation_and_surface_frames_agree(setup):
    """MNE's own fixed-orientation forward, and a free one in local (surface) frames, give
    the region lead field of the projection on the normals."""
    fwd = setup["fwd"]
    ours = lfwd.read_forward_leadfield(fwd, LABELS).L.magnitude
    fixed = mne.convert_forward_solution(fwd, surf_ori=True, force_fixed=True, copy=True)
    assert fixed["sol"]["data"].shape[1] == N_SRC
    local = mne.convert_forward_solution(fwd, surf_ori=True, copy=True)
    for other in (fixed, local):
        got = lfwd.read_forward_leadfield(other, LABELS).L.magnitude
        # MNE keeps a converted gain matrix in float32
        np.testing.assert_allclose(got, ours, rtol=0, atol=1e-6 * np.abs(ours).max())


def test_membership_matrix_normals_and_no_parcellation(setup):
    fwd = setup["fwd"]
    m = np.zeros((R, N_SRC))
    m[LABELS[LABELS >= 0], np.nonzero(LABELS >= 0)[0]] = 1.0
    a = lfwd.read_forward_leadfield(fwd, m).L.magnitude
    b = lfwd.read_forward_leadfield(fwd, LABELS).L.magnitude
    np.testing.assert_allclose(a, b, rtol=1e-13)
    each = lfwd.read_forward_leadfield(fwd).L.magnitude            # one region per source
    assert each.shape[0] == N_SRC
    np.testing.assert_allclose(each[[0, 1, 11]].mean(axis=0), b[0], rtol=1e-12)
    z_axis = lfwd.read_forward_leadfield(fwd, LABELS, normals=np.tile([0, 0, 1.0], (N_SRC, 1)))
    np.testing.assert_allclose(z_axis.L.magnitude, by_hand(fwd, "eeg", np.tile(
        [0, 0, 1.0], (N_SRC, 1)), LABELS), rtol=1e-12, atol=1e-12 * np.abs(b).max())


def test_aggregation_default_is_the_mean_and_stated(setup):
    """The forward's regions default to the mean (as region_leadfield and the command line),
    and the details say so; sum stays available."""
    fwd = setup["fwd"]
    lf = lfwd.read_forward_leadfield(fwd, LABELS)
    assert lf.details["reduce"] == "mean"
    assert lf.details["aggregation"].startswith("mean: ") and "equally" in \
        lf.details["aggregation"]          # a discrete source space has no areas
    summed = lfwd.read_forward_leadfield(fwd, LABELS, reduce="sum", sign_flip=True)
    assert summed.details["aggregation"].startswith("sum: ")
    assert "label_sign_flip" in summed.details["aggregation"]


def test_area_weighted_mean_with_given_or_source_space_areas(setup, monkeypatch):
    fwd = setup["fwd"]
    areas = np.random.default_rng(3).uniform(0.5, 2.0, N_SRC)
    unweighted = by_hand(fwd, "eeg", setup["nn"], LABELS, "sum")      # per-vertex rows summed
    expected = np.zeros_like(unweighted)
    single = lfwd.read_forward_leadfield(fwd, reduce="sum").L.magnitude   # one row per vertex
    for r in range(R):
        members = LABELS == r
        expected[r] = (areas[members, None] * single[members]).sum(0) / areas[members].sum()
    given = lfwd.read_forward_leadfield(fwd, LABELS, areas=areas)
    np.testing.assert_allclose(given.L.magnitude, expected, rtol=1e-12)
    assert "areas (given)" in given.details["aggregation"]
    monkeypatch.setattr(lfwd, "source_areas", lambda src: areas)
    from_src = lfwd.read_forward_leadfield(fwd, LABELS)
    np.testing.assert_allclose(from_src.L.magnitude, expected, rtol=1e-12)
    assert "patch areas" in from_src.details["aggregation"]


def test_forward_reduction_lives_in_leadfield_not_in_io():
    """The reduction to regions is lead-field work: io.mne only reads forwards."""
    for name in ("read_forward_leadfield", "source_areas", "ForwardLeadField",
                 "region_leadfield"):
        assert hasattr(lfwd, name) or name == "region_leadfield"
        assert not hasattr(fmne, name)


def test_source_areas_are_mne_patch_areas():
    """A cortical source space on an icosahedron: each used vertex's patch area, summed by
    loops over the triangles, and all patches together make the whole surface."""
    from mne.source_space._source_space import _add_patch_info
    from mne.surface import _get_ico_surface

    ico = _get_ico_surface(2)                       # 162 vertices, ico-1 ones (42) first
    rr, tris = ico["rr"] * 0.07, ico["tris"]
    vertno = np.arange(42)
    nearest = np.argmin(np.linalg.norm(rr[:, None] - rr[None, vertno], axis=2), axis=1)
    s = dict(type="surf", rr=rr, tris=tris, vertno=vertno, nearest=vertno[nearest])
    _add_patch_info(s)                              # MNE's own patch bookkeeping
    got = lfwd.source_areas([s])
    expected = np.zeros(42)
    total = 0.0
    for a, b, c in tris:
        area = 0.5 * np.linalg.norm(np.cross(rr[b] - rr[a], rr[c] - rr[a]))
        total += area
        for v in (a, b, c):
            expected[nearest[v]] += area / 3
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got.sum() == pytest.approx(total, rel=1e-12)
    assert lfwd.source_areas([dict(s, pinfo=None)]) is None
    assert lfwd.source_areas([dict(type="discrete", vertno=vertno)]) is None


def test_labels_to_membership():
    lh = mne.Label(np.array([3, 5, 9]), hemi="lh", name="a-lh")
    rh = mne.Label(np.array([2, 4]), hemi="rh", name="a-rh")
    both = lh + rh                                          # a BiHemiLabel
    src = [{"id": 101, "vertno": np.array([1, 3, 5, 7])}, {"id": 102, "vertno": np.array([2, 8])}]
    m, names = lfwd._label_membership([lh, both], src, 6, "the forward")
    np.testing.assert_array_equal(m, [[0, 1, 1, 0, 0, 0], [0, 1, 1, 0, 1, 0]])
    assert names == ["a-lh", both.name]
    empty = mne.Label(np.array([100]), hemi="lh", name="tiny-lh")
    with pytest.raises(FwdModelsError, match="'tiny-lh' contains no source vertex"):
        lfwd._label_membership([empty], src, 6, "the forward")
    with pytest.raises(FwdModelsError, match="no cortical surface source space"):
        lfwd._label_membership([lh], [{"id": 0, "vertno": np.arange(6)}], 6, "the forward")


def test_reading_errors(setup, tmp_path):
    path = setup["dir"] / "both-fwd.fif"
    with pytest.raises(FwdModelsError, match=r"has 11 entries but .* has 12 source vertices"):
        lfwd.read_forward_leadfield(path, LABELS[:11])
    with pytest.raises(FwdModelsError, match=r"choose one with `meg_channels='mag'` or "
                                             r"`meg_channels='grad'`"):
        lfwd.read_forward_leadfield(path, LABELS, modality="meg")
    with pytest.raises(FwdModelsError, match="no magnetometer channels"):
        lfwd.read_forward_leadfield(setup["dir"] / "eeg-fwd.fif", LABELS, modality="meg",
                                    meg_channels="mag")
    with pytest.raises(FwdModelsError, match="`meg_channels` applies to MEG"):
        lfwd.read_forward_leadfield(path, LABELS, meg_channels="mag")
    (tmp_path / "junk-fwd.fif").write_bytes(b"not a fif file at all")
    with pytest.raises(FwdModelsError, match="not a readable MNE-Python forward solution"):
        lfwd.read_forward_leadfield(tmp_path / "junk-fwd.fif", LABELS)
    with pytest.raises(FwdModelsError, match="names no FreeSurfer subject"):
        lfwd.read_forward_leadfield(path, "aparc")
    vol = mne.setup_volume_source_space(pos=20.0, sphere=(0, 0, 0.04, 0.07),
                                        exclude=0.0, mindist=0.0)
    fwd_vol = mne.make_forward_solution(setup["info"], None, vol,
                                        mne.make_sphere_model((0, 0, 0.05), 0.09), meg=False)
    with pytest.raises(FwdModelsError, match="volume source space, whose points have no "
                                             "surface normals"):
        lfwd.read_forward_leadfield(fwd_vol)


def test_missing_mne_names_the_extra(setup, monkeypatch):
    monkeypatch.setitem(sys.modules, "mne", None)
    with pytest.raises(MissingDependencyError, match=r"fwdmodels\[mne\]"):
        pipeline.read_leadfield(setup["dir"] / "both-fwd.fif", "eeg", parcellation=LABELS)


# ------------------------------------------------------------------ the command line
def test_cli_forward_leadfield_equals_python_api(setup, tmp_path):
    d = setup["dir"]
    done = run("eeg", d / "z.npy", "-o", tmp_path / "eeg.npz", "--dt", "1ms", "--leadfield",
               d / "both-fwd.fif", "--parcellation", d / "labels.npy", "--quiet")
    assert done.returncode == 0, done.stderr
    got, info = fio.load(tmp_path / "eeg.npz")
    L = lfwd.read_forward_leadfield(d / "both-fwd.fif", np.load(d / "labels.npy")).L
    expected = fwdmodels.EEGLeadFieldModel(R, L.shape[1], L)(setup["z"])
    assert info["unit"] == "V"
    np.testing.assert_allclose(got, expected.to("V").magnitude, rtol=1e-13,
                               atol=1e-13 * np.abs(expected.magnitude).max())
    lead = info["metadata"]["parameters"]["leadfield"]
    assert lead["unit"] == "V / A / m" and lead["forward"]["channel_type"] == "eeg"
    assert lead["parcellation"]["sha256"] == hashlib.sha256(
        (d / "labels.npy").read_bytes()).hexdigest()


@pytest.mark.parametrize("suffix", [".npz", ".h5", ".mat"])
def test_outputs_from_a_forward_carry_its_channels(setup, tmp_path, suffix):
    """A forward solution given straight to fwdmodels meg: the output records the forward's
    channel names, positions and coil frames, as MNE stores them."""
    d = setup["dir"]
    out = tmp_path / f"meg{suffix}"
    assert cli.main(["meg", str(d / "z.npy"), "-o", str(out), "--dt", "1ms", "--leadfield",
                     str(d / "both-fwd.fif"), "--parcellation", str(d / "labels.npy"),
                     "--meg-channels", "mag", "-q"]) == 0
    raw = fio.to_raw(out)
    fwd_chs = {c["ch_name"]: c for c in setup["fwd"]["info"]["chs"]}
    assert raw.ch_names == [n for n in setup["fwd"]["sol"]["row_names"] if n.startswith("MAG")]
    for ch in raw.info["chs"]:
        np.testing.assert_array_equal(ch["loc"], fwd_chs[ch["ch_name"]]["loc"])
        assert ch["coil_type"] == fwd_chs[ch["ch_name"]]["coil_type"]
    _, info = fio.load(out)
    assert info["metadata"]["parameters"]["sensors"]["channel_type"] == "mag"


def test_cli_raw_fif_round_trips_in_si_units(setup, tmp_path):
    d = setup["dir"]
    done = run("meg", d / "z.npy", "-o", tmp_path / "meg_raw.fif", "--dt", "1ms", "--leadfield",
               d / "both-fwd.fif", "--parcellation", d / "labels.npy", "--meg-channels",
               "grad", "--sensor-unit", "fT/cm")
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and "meg_raw.fif" in done.stdout
    assert sorted(os.listdir(tmp_path)) == ["meg_raw.fif"]
    lf = lfwd.read_forward_leadfield(d / "both-fwd.fif", LABELS, modality="meg",
                                     meg_channels="grad")
    y = fwdmodels.MEGLeadFieldModel(R, lf.L.shape[1], lf.L)(setup["z"])
    raw = mne.io.read_raw_fif(tmp_path / "meg_raw.fif", preload=True)
    assert raw.info["sfreq"] == 1000.0 and raw.first_samp == 1
    assert raw.ch_names == lf.ch_names and set(raw.get_channel_types()) == {"grad"}
    np.testing.assert_allclose(raw.get_data(), y.to("T/m").magnitude.T, rtol=1e-13,
                               atol=1e-13 * np.abs(y.to("T/m").magnitude).max())
    fwd_chs = {c["ch_name"]: c for c in setup["fwd"]["info"]["chs"]}
    for ch in raw.info["chs"]:
        np.testing.assert_allclose(ch["loc"], fwd_chs[ch["ch_name"]]["loc"])
        assert ch["coil_type"] == fwd_chs[ch["ch_name"]]["coil_type"]
    meta = json.loads(raw.info["description"])
    assert meta["unit"] == "T/m" and meta["modality"] == "meg"
    assert meta["parameters"]["sensor_unit"] == "fT / cm"
    assert meta["fwdmodels_version"] == fwdmodels.__version__


def test_eeg_raw_from_npy_leadfield_and_api(setup, tmp_path):
    """A Raw output without a forward solution: EEG 001..., data in volts; the Python API."""
    d = setup["dir"]
    L = np.random.default_rng(2).standard_normal((R, 5))
    np.save(tmp_path / "L.npy", L)
    out = pipeline.run_eeg(d / "z.npy", tmp_path / "sim_eeg.fif", leadfield=tmp_path / "L.npy",
                           leadfield_unit="uV/(nA*m)", sensor_unit="uV", reference="average",
                           dt="2 ms")
    raw = mne.io.read_raw_fif(out, preload=True)
    expected = fwdmodels.EEGLeadFieldModel(R, 5, L * fwdmodels.ureg("uV/(nA*m)"),
                                           sensor_unit="uV", reference="average")(setup["z"])
    assert raw.ch_names == [f"EEG {i:03d}" for i in range(1, 6)] and raw.info["sfreq"] == 500.0
    np.testing.assert_allclose(raw.get_data(), expected.to("V").magnitude.T, rtol=1e-12,
                               atol=1e-12 * np.abs(expected.to("V").magnitude).max())


def test_info_describes_raw_and_forward(setup, tmp_path):
    d = setup["dir"]
    lf = d / "both-fwd.fif"
    assert run("eeg", d / "z.npy", "-o", tmp_path / "x_eeg.fif", "--dt", "1ms", "--leadfield",
               lf, "--parcellation", d / "labels.npy", "-q").returncode == 0
    done = run("info", tmp_path / "x_eeg.fif")
    assert done.returncode == 0, done.stderr
    assert "fif (MNE Raw)" in done.stdout and "dt: 0.001 s" in done.stdout
    assert "19 eeg" in done.stdout and "fwdmodels_version" in done.stdout
    assert "(700, 19)" in done.stdout
    done = run("info", lf)
    assert done.returncode == 0, done.stderr
    assert "fif (MNE forward solution)" in done.stdout and "free (x, y, z" in done.stdout
    assert "sources: 12" in done.stdout and "7 mag, 7 grad, 19 eeg" in done.stdout
    assert "dt:" not in done.stdout
    d_json = fio.describe(lf)
    assert {a["name"]: a["unit"] for a in d_json["arrays"]} == {
        "sol (mag)": "T/(A*m)", "sol (grad)": "T/(m*A*m)", "sol (eeg)": "V/(A*m)"}


def _errors(d, tmp):
    np.save(tmp / "short.npy", LABELS[:11])
    np.save(tmp / "three.npy", np.minimum(LABELS, 2))
    np.save(tmp / "L.npy", np.ones((R, 3)))
    np.save(tmp / "batch.npy", np.ones((2, 50, R)))
    fwd = d / "both-fwd.fif"
    base = [d / "z.npy", "--dt", "1ms", "--leadfield", fwd]
    return [
        ("parcellation length", ["eeg", *base, "-o", tmp / "a.npz", "--parcellation",
                                 tmp / "short.npy"],
         r"has 11 entries but .* has 12 source vertices; give one region index per source"),
        ("mixed MEG types", ["meg", *base, "-o", tmp / "a.npz", "--parcellation",
                             d / "labels.npy"], r"choose one with --meg-channels mag or"),
        ("non-raw fif name", ["eeg", *base, "-o", tmp / "out.fif", "--parcellation",
                              d / "labels.npy"],
         r"end the name with _raw.fif, -raw.fif, _eeg.fif or _meg.fif, e.g. '.*out_raw.fif'"),
        ("region count", ["eeg", *base, "-o", tmp / "a.npz", "--parcellation",
                          tmp / "three.npy"], r"has 3 regions .* pass a --parcellation with 4"),
        ("no parcellation", ["eeg", *base, "-o", tmp / "a.npz"],
         r"12 regions \(12 sources and no parcellation\)"),
        ("parcellation with npy", ["eeg", d / "z.npy", "--dt", "1ms", "--leadfield",
                                   tmp / "L.npy", "--leadfield-unit", "V/(A*m)", "-o",
                                   tmp / "a.npz", "--parcellation", d / "labels.npy"],
         r"--parcellation has 12 vertices but lead field .* neither axis has 12"),
        ("unit conflict", ["eeg", *base, "-o", tmp / "a.npz", "--parcellation",
                           d / "labels.npy", "--leadfield-unit", "uV/(nA*m)"],
         r"conflicts with the unit V / A / m of the forward solution"),
        ("batch to fif", ["eeg", tmp / "batch.npy", "--dt", "1ms", "--leadfield", tmp / "L.npy",
                          "--leadfield-unit", "V/(A*m)", "-o", tmp / "b_raw.fif"],
         r"a Raw .fif holds one recording, but the input is a batch of 2"),
        ("bold to fif", ["bold", d / "z.npy", "--dt", "1ms", "-o", tmp / "b_raw.fif"],
         r"fwdmodels writes .npz"),
    ]


def test_errors_exit_2_one_line_nothing_written(setup, tmp_path, capsys):
    cases = _errors(setup["dir"], tmp_path)
    before, before_shared = tree(tmp_path), tree(setup["dir"])
    for name, args, pattern in cases:
        status = cli.main([str(a) for a in args])
        err = capsys.readouterr().err
        assert status == 2, (name, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err, (name, err)
        assert re.search(pattern, lines[0]), (name, lines[0])
        assert tree(tmp_path) == before and tree(setup["dir"]) == before_shared, name
    done = run(*cases[1][1])                       # the same, through the real command
    assert done.returncode == 2 and "--meg-channels" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_failed_raw_write_leaves_nothing(setup, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mne.io.RawArray, "save", broken)
    with pytest.raises(OSError):
        pipeline.run_eeg(setup["dir"] / "z.npy", tmp_path / "x_raw.fif",
                         leadfield=setup["dir"] / "both-fwd.fif", parcellation=LABELS, dt="1 ms")
    assert os.listdir(tmp_path) == []
    (tmp_path / "old_raw.fif").write_bytes(b"previous")
    with pytest.raises(FwdModelsError, match="already exists; pass `force=True`"):
        pipeline.run_eeg(setup["dir"] / "z.npy", tmp_path / "old_raw.fif",
                         leadfield=setup["dir"] / "both-fwd.fif", parcellation=LABELS, dt="1 ms")
    assert (tmp_path / "old_raw.fif").read_bytes() == b"previous"
