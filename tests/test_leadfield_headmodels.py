"""Sphere head models: physics checks, loop oracles (tests/naive.py) and MNE-Python's output."""

import os

import numpy as np
import pytest

import fwdmodels
from fwdmodels import FwdModelsError, ureg
from fwdmodels.leadfield import sphere_eeg_leadfield, sphere_meg_leadfield

import naive

SIG = ureg("S/m")
RADII_4 = [0.081, 0.0828, 0.0873, 0.09]       # MNE's default relative radii x 9 cm
SIGMAS_4 = [0.33, 1.0, 0.004, 0.33]            # brain, CSF, skull, scalp


def _unit_rows(rng, n, upper=False):
    v = rng.normal(size=(n, 3))
    if upper:
        v[:, 2] = np.abs(v[:, 2])
    return v / np.linalg.norm(v, axis=1)[:, None]


def _sources(rng, n, rmax):
    return _unit_rows(rng, n) * rng.uniform(0.1, 0.95, (n, 1)) * rmax


def test_reachable_after_import():
    assert fwdmodels.leadfield.sphere_meg_leadfield is sphere_meg_leadfield
    assert fwdmodels.leadfield.sphere_eeg_leadfield is sphere_eeg_leadfield


def test_radial_dipole_gives_no_meg():
    rng = np.random.default_rng(0)
    src = _sources(rng, 5, 0.07)
    sens = _unit_rows(rng, 20, True) * 0.12
    radial = src / np.linalg.norm(src, axis=1)[:, None]
    L = sphere_meg_leadfield(src * ureg.m, radial, sens * ureg.m, _unit_rows(rng, 20))
    tangential = sphere_meg_leadfield(src * ureg.m, np.cross(radial, [0, 0, 1.0]), sens * ureg.m,
                                      _unit_rows(rng, 20))
    assert np.abs(L.magnitude).max() < 1e-12 * np.abs(tangential.magnitude).max()


def test_meg_matches_naive_sarvas_loop_and_units():
    rng = np.random.default_rng(1)
    src, ori = _sources(rng, 4, 0.07), _unit_rows(rng, 4)
    sens, nrm = _unit_rows(rng, 6, True) * 0.11, _unit_rows(rng, 6)
    origin = np.array([0.001, -0.002, 0.03])
    L = sphere_meg_leadfield((src + origin) * 1000 * ureg.mm, ori, (sens + origin) * ureg.m, nrm,
                             origin * ureg.m, accuracy="point")     # the point magnetometer
    assert L.units == ureg("T/(A*m)").units
    ref = np.array([[naive.sarvas_field(s, q, r, e, fwdmodels.leadfield.headmodels._MU0_4PI)
                     for r, e in zip(sens, nrm)] for s, q in zip(src, ori)])
    np.testing.assert_allclose(L.magnitude, ref, rtol=1e-12, atol=1e-14 * np.abs(ref).max())


def test_planar_gradiometer_point_accuracy_is_two_points_at_the_coil_offset():
    """MNE's 'point' gradiometer: B·n at ±8.4 mm along the gradiometer direction, both 0.3 mm
    along the normal, differenced over 16.8 mm (coil_def.dat's weight 59.5238 = 1/0.0168
    rounded to 6 digits), each point by the loop oracle."""
    rng = np.random.default_rng(2)
    src, ori = _sources(rng, 3, 0.06), _unit_rows(rng, 3)
    sens = _unit_rows(rng, 5, True) * 0.12
    nrm = sens / 0.12
    g = np.cross(nrm, [0, 0, 1.0])
    g /= np.linalg.norm(g, axis=1)[:, None]
    grad = sphere_meg_leadfield(src * ureg.m, ori, sens * ureg.m, nrm, gradiometer_dir=g,
                                accuracy="point")
    assert grad.units == ureg("T/(m*A*m)").units
    mu = fwdmodels.leadfield.headmodels._MU0_4PI
    ref = np.array([[(naive.sarvas_field(s, q, r + 0.0084 * e + 3e-4 * n, n, mu)
                      - naive.sarvas_field(s, q, r - 0.0084 * e + 3e-4 * n, n, mu)) * 59.5238
                     for r, n, e in zip(sens, nrm, g)] for s, q in zip(src, ori)])
    np.testing.assert_allclose(grad.m, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    no_offset = np.array([[(naive.sarvas_field(s, q, r + 0.0084 * e, n, mu)
                            - naive.sarvas_field(s, q, r - 0.0084 * e, n, mu)) / 0.0168
                           for r, n, e in zip(sens, nrm, g)] for s, q in zip(src, ori)])
    assert _rel(grad.m, no_offset) > 1e-3          # the 0.3 mm offset matters at this level


def test_coil_integration_options_and_errors():
    rng = np.random.default_rng(5)
    src = _sources(rng, 2, 0.06) * ureg.m
    sens = _unit_rows(rng, 3, True) * 0.12
    nrm = sens / 0.12
    g = np.cross(nrm, [0, 0, 1.0])
    by = {acc: sphere_meg_leadfield(src, None, sens * ureg.m, nrm, accuracy=acc).m
          for acc in ("point", "normal", "accurate")}
    np.testing.assert_array_equal(sphere_meg_leadfield(src, None, sens * ureg.m, nrm).m,
                                  by["accurate"])           # the default: make_forward_solution's
    assert 1e-4 < _rel(by["normal"], by["point"]) < 0.1
    assert _rel(by["accurate"], by["normal"]) < _rel(by["normal"], by["point"])
    with pytest.raises(FwdModelsError, match=r"`baseline` is set by the coil definition"):
        sphere_meg_leadfield(src, None, sens * ureg.m, nrm, gradiometer_dir=g,
                             baseline="16.8 mm")
    with pytest.raises(FwdModelsError, match=r"`accuracy` must be one of 'accurate', 'normal', "
                                             r"'point'; got 'high'"):
        sphere_meg_leadfield(src, None, sens * ureg.m, nrm, accuracy="high")
    with pytest.raises(FwdModelsError, match=r"`gradiometer_dir` must not be parallel to the "
                                             r"coil normal"):
        sphere_meg_leadfield(src, None, sens * ureg.m, nrm, gradiometer_dir=nrm)
    with pytest.raises(FwdModelsError, match=r"`coil_x` is a magnetometer's axis"):
        sphere_meg_leadfield(src, None, sens * ureg.m, nrm, gradiometer_dir=g, coil_x=g)


def test_meg_magnitude_tens_of_ft():
    # 10 nA·m tangential at 4.5 cm depth-radius, sensor 12 cm from the centre, above it.
    L = sphere_meg_leadfield([0, 0, 0.045] * ureg.m, [[1.0, 0, 0]],
                             [[0, 0.03, 0.1162]] * ureg.m, [[0, 0.03, 0.1162]])
    b = (L * 10 * ureg("nA*m")).to("fT").magnitude
    assert 5 < abs(b[0, 0]) < 500


def test_eeg_closed_form_equals_series_and_naive_loop():
    rng = np.random.default_rng(3)
    src, el = _sources(rng, 6, 0.08), _unit_rows(rng, 9) * 0.09
    closed = sphere_eeg_leadfield(src * ureg.m, None, el * ureg.m, [0.09] * ureg.m, [0.33] * SIG)
    series = sphere_eeg_leadfield(src * ureg.m, None, el * ureg.m, [0.09] * ureg.m, [0.33] * SIG,
                                  method="series")
    assert closed.units == ureg("V/(A*m)").units and closed.shape == (6, 3, 9)
    np.testing.assert_allclose(series.m, closed.m, rtol=0, atol=1e-11 * np.abs(closed.m).max())
    ref = np.array([[[naive.multishell_potential(s, q, e, [0.09], [0.33], 600) for e in el]
                     for q in np.eye(3)] for s in src[:2]])
    np.testing.assert_allclose(closed.m[:2], ref, rtol=0, atol=1e-9 * np.abs(ref).max())


def test_multishell_equal_conductivities_is_homogeneous():
    rng = np.random.default_rng(4)
    src, el = _sources(rng, 5, 0.08), _unit_rows(rng, 7) * 0.09
    homog = sphere_eeg_leadfield(src * ureg.m, None, el * ureg.m, [0.09] * ureg.m, [0.33] * SIG)
    multi = sphere_eeg_leadfield(src * ureg.m, None, el * ureg.m, RADII_4 * ureg.m,
                                 [0.33] * 4 * SIG)
    np.testing.assert_allclose(multi.m, homog.m, rtol=0, atol=1e-11 * np.abs(homog.m).max())


def test_multishell_matches_naive_series_loop():
    rng = np.random.default_rng(5)
    src, el = _sources(rng, 3, 0.075), _unit_rows(rng, 4) * 0.09
    L = sphere_eeg_leadfield(src * ureg.cm * 100, None, el * ureg.m, RADII_4 * ureg.m,
                             SIGMAS_4 * SIG)
    ref = np.array([[[naive.multishell_potential(s, q, e, RADII_4, SIGMAS_4, 400) for e in el]
                     for q in np.eye(3)] for s in src])
    np.testing.assert_allclose(L.m, ref, rtol=0, atol=1e-10 * np.abs(ref).max())


def test_dipole_at_centre_is_three_times_infinite_medium():
    rng = np.random.default_rng(6)
    el = _unit_rows(rng, 10) * 0.09
    q = np.array([0.3, -0.5, 0.8])
    L = sphere_eeg_leadfield([[0, 0, 1e-12]] * ureg.m, q[None], el * ureg.m, [0.09] * ureg.m,
                             [0.33] * SIG).m[0]
    inf = np.array([naive.infinite_medium_potential([0, 0, 0], q / np.linalg.norm(q), e, 0.33)
                    for e in el])
    np.testing.assert_allclose(L, 3 * inf, rtol=1e-9)


def test_eeg_magnitude_microvolts():
    # 10 nA·m tangential at 4.5 cm from the centre, four-shell head of radius 9 cm.
    el = fwdmodels.leadfield.eeg_1020(radius="9 cm").positions
    L = sphere_eeg_leadfield([0, 0, 0.045] * ureg.m, [[1.0, 0, 0]], el, RADII_4 * ureg.m,
                             SIGMAS_4 * SIG)
    v = (L * 10 * ureg("nA*m")).to("uV").magnitude
    assert 0.05 < np.abs(v).max() < 20


def test_eeg_errors():
    el = [[0, 0, 0.09]] * ureg.m
    with pytest.raises(FwdModelsError, match=r"`src_pos` must carry a unit; got .* \(no unit\)"):
        sphere_eeg_leadfield([[0, 0, 0.05]], None, el, [0.09] * ureg.m, [0.33] * SIG)
    with pytest.raises(FwdModelsError, match=r"`src_pos` must lie inside the innermost sphere"):
        sphere_eeg_leadfield([[0, 0, 0.085]] * ureg.m, None, el, RADII_4 * ureg.m,
                             SIGMAS_4 * SIG)
    with pytest.raises(FwdModelsError, match=r"`elec_pos` must lie on the outer sphere"):
        sphere_eeg_leadfield([[0, 0, 0.05]] * ureg.m, None, [[0, 0, 0.2]] * ureg.m,
                             [0.09] * ureg.m, [0.33] * SIG)
    with pytest.raises(FwdModelsError, match=r"`conductivities` must have the dimension"):
        sphere_eeg_leadfield([[0, 0, 0.05]] * ureg.m, None, el, [0.09] * ureg.m, [0.33] * ureg.m)
    with pytest.raises(FwdModelsError, match=r"`radii` must be positive and strictly increasing"):
        sphere_eeg_leadfield([[0, 0, 0.05]] * ureg.m, None, el, [0.09, 0.08] * ureg.m,
                             [0.33, 0.33] * SIG)
    with pytest.raises(FwdModelsError, match=r"`max_terms` must be larger: .* did not converge"):
        sphere_eeg_leadfield([[0, 0, 0.0809]] * ureg.m, None, el, RADII_4 * ureg.m,
                             SIGMAS_4 * SIG, max_terms=50)
    with pytest.raises(FwdModelsError, match=r"`sensor_pos` must lie farther from `origin`"):
        sphere_meg_leadfield([[0, 0, 0.05]] * ureg.m, None, [[0, 0, 0.04]] * ureg.m, [[0, 0, 1]])


# ------------------------------------------------------------------ MNE-Python comparison
def _coil_points(mne, coil_id, accuracy):
    """Integration points of one coil from the coil_def.dat that MNE-Python ships."""
    path = os.path.join(os.path.dirname(mne.__file__), "data", "coil_def.dat")
    lines = [ln for ln in open(path).read().splitlines() if ln.strip() and ln[0] != "#"]
    i = 0
    while i < len(lines):
        head = lines[i].split()
        n = int(head[3])
        if int(head[1]) == coil_id and int(head[2]) == accuracy:
            return np.array([[float(v) for v in ln.split()] for ln in lines[i + 1:i + 1 + n]])
        i += 1 + n
    raise LookupError(coil_id)


@pytest.fixture(scope="module")
def mne_setup():
    mne = pytest.importorskip("mne")
    mne.set_log_level("error")
    rng = np.random.default_rng(11)
    r0 = np.array([0.0, 0.0, 0.04])
    src = r0 + _sources(rng, 6, 0.075)
    n_meg, n_eeg = 8, 10
    dirs = _unit_rows(rng, n_meg, True)
    names, types, locs = [], [], []
    for i, d in enumerate(dirs):
        ex = np.cross([0, 0, 1.0], d)
        ex /= np.linalg.norm(ex)
        ey = np.cross(d, ex)
        for kind in ("mag", "grad"):
            names.append(f"{kind}{i}")
            types.append(kind)
            locs.append(np.r_[r0 + 0.12 * d, ex, ey, d])
    el = _unit_rows(rng, n_eeg, True)
    for i, e in enumerate(el):
        names.append(f"E{i}")
        types.append("eeg")
        locs.append(np.r_[r0 + 0.09 * e, np.zeros(9)])
    info = mne.create_info(names, 1000.0, types)
    with info._unlock():
        for ch, loc in zip(info["chs"], locs):
            ch["loc"][:] = loc
        info["dev_head_t"] = mne.transforms.Transform("meg", "head")
    space = mne.setup_volume_source_space(pos=dict(rr=src, nn=np.tile([0, 0, 1.0], (6, 1))))

    def forward(sphere, meg=True):
        fwd = mne.make_forward_solution(info, None, space, sphere, meg=meg, eeg=True)
        rows = fwd["sol"]["row_names"]
        data = fwd["sol"]["data"].reshape(len(rows), 6, 3).transpose(1, 2, 0)  # (R, 3, M)
        return {name: data[..., rows.index(name)] for name in rows}

    return dict(mne=mne, r0=r0, src=src, locs=locs, el=el, n_meg=n_meg, n_eeg=n_eeg,
                forward=forward, info=info)


def _stack(fwd, prefix, n):
    return np.stack([fwd[f"{prefix}{i}"] for i in range(n)], axis=-1)


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def test_meg_agrees_with_mne_and_ignores_conductivities(mne_setup):
    s = mne_setup
    mne, r0 = s["mne"], s["r0"]
    models = [mne.make_sphere_model(r0=r0, head_radius=0.09),
              mne.make_sphere_model(r0=r0, head_radius=0.09, relative_radii=(0.9, 1.0),
                                    sigmas=(0.33, 0.33))]
    for sphere in models:
        fwd = s["forward"](sphere)
        for kind, coil, k0 in (("mag", 3024, 0), ("grad", 3012, 1)):
            # integrate our point field over the coil's 'accurate' integration points
            pts = _coil_points(mne, coil, 2)
            ours = []
            for i in range(s["n_meg"]):
                loc = s["locs"][2 * i + k0]
                ex, ey, ez = loc[3:6], loc[6:9], loc[9:12]
                p = loc[:3] + pts[:, 1:2] * ex + pts[:, 2:3] * ey + pts[:, 3:4] * ez
                n = pts[:, 4:5] * ex + pts[:, 5:6] * ey + pts[:, 6:7] * ez
                b = sphere_meg_leadfield(s["src"] * ureg.m, None, p * ureg.m, n, r0 * ureg.m,
                                         accuracy="point")
                ours.append(b.m @ pts[:, 0])
            assert _rel(np.stack(ours, -1), _stack(fwd, kind, s["n_meg"])) <= 1e-6


def test_coil_definitions_are_mne_coil_def_dat():
    mne = pytest.importorskip("mne")
    from fwdmodels.leadfield.coils import COIL_TYPES, coil_definition

    for kind, coil in COIL_TYPES.items():
        for k, acc in enumerate(("point", "normal", "accurate")):
            pts = _coil_points(mne, coil, k)
            w, local = coil_definition(kind, acc)
            np.testing.assert_array_equal(w, pts[:, 0])
            np.testing.assert_array_equal(local, pts[:, 1:4])
            np.testing.assert_array_equal(pts[:, 4:7], np.tile([0, 0, 1.0], (len(w), 1)))


@pytest.mark.parametrize("accuracy", ["point", "normal", "accurate"])
def test_meg_forward_equals_mne_for_each_coil_accuracy(mne_setup, accuracy):
    """MNE-Python's own sphere forward for the same Vectorview coils (3024 magnetometers and
    3012 planar gradiometers with the same ex, ey, ez): MNE's coil set at each accuracy with
    its sphere field kernel, and make_forward_solution itself (which integrates 'accurate').
    The issue's limit is 0.1 %."""
    from mne.forward._compute_forward import _sphere_field
    from mne.forward._make_forward import _create_meg_coils

    s = mne_setup
    mne, r0 = s["mne"], s["r0"]
    sphere = mne.make_sphere_model(r0=r0, head_radius=0.09)
    meg = [ch for ch in s["info"]["chs"] if ch["ch_name"][0] in "mg"]
    B = _sphere_field(s["src"], _create_meg_coils(meg, accuracy), sphere)
    data = B.reshape(len(s["src"]), 3, -1)
    references = [{ch["ch_name"]: data[..., i] for i, ch in enumerate(meg)}]
    if accuracy == "accurate":
        references.append(s["forward"](sphere))
    for kind, k0 in (("mag", 0), ("grad", 1)):
        locs = np.array([s["locs"][2 * i + k0] for i in range(s["n_meg"])])
        axes = {"gradiometer_dir" if kind == "grad" else "coil_x": locs[:, 3:6]}
        ours = sphere_meg_leadfield(s["src"] * ureg.m, None, locs[:, :3] * ureg.m,
                                    locs[:, 9:12], r0 * ureg.m, accuracy=accuracy, **axes).m
        for fwd in references:
            assert _rel(ours, _stack(fwd, kind, s["n_meg"])) <= 1e-6   # 1e-4 %; mu0: 5e-10


def test_homogeneous_eeg_agrees_with_mne(mne_setup):
    s = mne_setup
    mne, r0 = s["mne"], s["r0"]
    el = (r0 + 0.09 * s["el"]) * ureg.m
    ours = sphere_eeg_leadfield(s["src"] * ureg.m, None, el, [0.09] * ureg.m, [0.33] * SIG,
                                r0 * ureg.m).m
    sphere = mne.make_sphere_model(r0=r0, head_radius=0.09, relative_radii=(0.9, 1.0),
                                   sigmas=(0.33, 0.33))
    fitted = _stack(s["forward"](sphere, meg=False), "E", s["n_eeg"])
    # MNE always fits Berg-Scherg equivalent dipoles; for equal conductivities the fit is
    # exact up to its optimiser's resolution (mu_1 = 0.999998).
    assert _rel(ours, fitted) <= 1e-5
    # MNE's own sphere-potential kernel with the one exact equivalent dipole (mu = 1,
    # lambda = 1/sigma) is the homogeneous sphere itself:
    sphere["mu"], sphere["lambda"] = np.array([1.0]), np.array([1.0 / 0.33])
    exact = _stack(s["forward"](sphere, meg=False), "E", s["n_eeg"])
    assert _rel(ours, exact) <= 1e-6


def test_multishell_eeg_within_berg_scherg_error(mne_setup):
    s = mne_setup
    mne, r0 = s["mne"], s["r0"]
    el = (r0 + 0.09 * s["el"]) * ureg.m
    ours = sphere_eeg_leadfield(s["src"] * ureg.m, None, el, RADII_4 * ureg.m, SIGMAS_4 * SIG,
                                r0 * ureg.m).m
    mne_fwd = _stack(s["forward"](mne.make_sphere_model(r0=r0, head_radius=0.09), meg=False),
                     "E", s["n_eeg"])
    # Berg-Scherg three-dipole approximation: observed ~9e-4 of the largest value here.
    assert _rel(ours, mne_fwd) <= 5e-3
