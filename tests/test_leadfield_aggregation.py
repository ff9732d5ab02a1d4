"""Vertex-to-region aggregation: orientation, parcellation, areas, mean (the default) and sum,
and sign flips against MNE-Python's own ``label_sign_flip``."""

import mne  # in the test extra
import numpy as np
import pytest

from fwdmodels import FwdModelsError, ureg
from fwdmodels.leadfield import (fixed_orientation, parcellation_matrix, region_leadfield,
                                 sign_flips)
from fwdmodels.leadfield.aggregation import describe_reduction

V, M = 9, 4


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    free = rng.normal(size=(3 * V, M))                 # interleaved x, y, z per vertex
    normals = rng.normal(size=(V, 3))
    normals /= np.linalg.norm(normals, axis=1)[:, None]
    labels = np.array([0, 0, 0, 1, 1, -1, 2, 2, 2])
    return free, normals, labels


def test_fixed_orientation_loop(data):
    free, normals, _ = data
    out = fixed_orientation(free * ureg("V/(A*m)"), normals)
    assert out.units == ureg("V/(A*m)").units
    for v in range(V):
        expected = sum(normals[v, k] * free[3 * v + k] for k in range(3))
        np.testing.assert_allclose(out.m[v], expected, rtol=1e-12)


def test_default_is_the_mean_and_sum_is_an_option(data):
    free, normals, labels = data
    fixed = fixed_orientation(free, normals)
    one_hot = parcellation_matrix(labels, V)
    assert one_hot.shape == (3, V) and one_hot[:, 5].sum() == 0
    default = region_leadfield(free, labels, normals=normals)
    np.testing.assert_allclose(default, region_leadfield(fixed, one_hot, reduce="mean"),
                               rtol=1e-12)
    total = region_leadfield(free, labels, normals=normals, reduce="sum")
    for r in range(3):
        np.testing.assert_allclose(default[r], fixed[labels == r].mean(0), rtol=1e-12)
        np.testing.assert_allclose(total[r], fixed[labels == r].sum(0), rtol=1e-12)


def test_mean_does_not_grow_with_the_vertex_count():
    """The same field sampled by 2 or by 50 vertices gives the same region lead field."""
    row = np.array([1.0, -2.0, 3.0])
    for n in (2, 50):
        L = np.tile(row, (n, 1)) * ureg("V/(A*m)")
        np.testing.assert_allclose(region_leadfield(L, np.zeros(n, int)).m, [row], rtol=1e-12)
        assert region_leadfield(L, np.zeros(n, int), reduce="sum").m[0, 0] == pytest.approx(n)


def test_area_weighted_mean_and_sum(data):
    free, normals, labels = data
    fixed = fixed_orientation(free, normals)
    areas = np.arange(1.0, V + 1)
    mean = region_leadfield(fixed, labels, areas=areas)
    weighted_sum = region_leadfield(fixed, labels, areas=areas, reduce="sum")
    for r in range(3):
        w = areas[labels == r]
        np.testing.assert_allclose(mean[r], (w[:, None] * fixed[labels == r]).sum(0) / w.sum(),
                                   rtol=1e-12)
        np.testing.assert_allclose(weighted_sum[r], (w[:, None] * fixed[labels == r]).sum(0),
                                   rtol=1e-12)
    # only ratios of areas matter for the mean
    np.testing.assert_allclose(region_leadfield(fixed, labels, areas=1e-6 * areas), mean,
                               rtol=1e-12)


def test_soft_parcellation(data):
    free, normals, _ = data
    fixed = fixed_orientation(free, normals)
    soft = np.random.default_rng(1).uniform(size=(2, V))
    np.testing.assert_allclose(region_leadfield(fixed, soft, reduce="sum"), soft @ fixed,
                               rtol=1e-12)
    np.testing.assert_allclose(region_leadfield(fixed, soft),
                               soft @ fixed / soft.sum(1)[:, None], rtol=1e-12)


def test_describe_reduction_states_the_choice():
    assert describe_reduction("mean").startswith("mean: ")
    assert "equally" in describe_reduction("mean")
    assert "patch areas" in describe_reduction("mean", "patch areas")
    assert describe_reduction("sum", sign_flip=True).startswith("sum: ")
    assert "label_sign_flip" in describe_reduction("sum", sign_flip=True)


def test_sign_flip_keeps_opposite_walls_from_cancelling():
    normals = np.array([[0, 0, 1.0], [0, 0, -1.0], [0, 0.1, 0.99]])
    L = np.array([[1.0, 2.0], [-1.0, -2.0], [1.0, 2.0]])     # fixed, along each normal
    labels = np.array([0, 0, 0])
    flips = sign_flips(normals, parcellation_matrix(labels, 3))
    np.testing.assert_array_equal(flips, [[1, -1, 1]])
    np.testing.assert_allclose(region_leadfield(L, labels, normals=normals, sign_flip=True,
                                                reduce="sum"), [[3.0, 6.0]])
    np.testing.assert_allclose(region_leadfield(L, labels, normals=normals, sign_flip=True),
                               [[1.0, 2.0]])
    np.testing.assert_allclose(region_leadfield(L, labels), [[1.0 / 3, 2.0 / 3]])


def _random_source_space(rng, n):
    src = []
    for _ in range(2):
        nn = rng.normal(size=(n, 3))
        nn[:, 2] += rng.normal()                           # a dominant direction, or not
        src.append(dict(vertno=np.sort(rng.choice(3 * n, n, replace=False)),
                        nn=np.zeros((3 * n, 3))))
        src[-1]["nn"][src[-1]["vertno"]] = nn / np.linalg.norm(nn, axis=1)[:, None]
    return src


def test_sign_flips_equal_mne_label_sign_flip_on_random_regions():
    """MNE's own function is the oracle: 600 random regions (left, right, both hemispheres)
    of random sizes on random normals, including the near-balanced cases where a majority
    vote and MNE's mean-of-dot-products rule disagree."""
    rng = np.random.default_rng(12)
    n = 300
    src = _random_source_space(rng, n)
    normals = np.concatenate([s["nn"][s["vertno"]] for s in src])      # lh then rh
    differs_from_majority = 0
    for trial in range(600):
        hemi = ("lh", "rh", "both")[trial % 3]
        picks = {h: np.sort(rng.choice(n, int(rng.integers(2, 40)), replace=False))
                 for h in ("lh", "rh")}
        labels = {h: mne.Label(src[k]["vertno"][picks[h]], hemi=h)
                  for k, h in enumerate(("lh", "rh"))}
        label = labels["lh"] + labels["rh"] if hemi == "both" else labels[hemi]
        expected = mne.label_sign_flip(label, src)
        members = np.zeros((1, 2 * n))
        if hemi in ("lh", "both"):
            members[0, picks["lh"]] = 1.0
        if hemi in ("rh", "both"):
            members[0, n + picks["rh"]] = rng.uniform(0.2, 1.0, len(picks["rh"]))  # soft
        got = sign_flips(normals, members)[0, members[0] > 0]
        np.testing.assert_array_equal(got, expected)
        majority = np.sign(got.sum()) if got.sum() else 1.0
        differs_from_majority += majority < 0
    assert differs_from_majority > 0   # the cases the old majority rule got wrong occurred


def test_errors(data):
    free, normals, labels = data
    with pytest.raises(FwdModelsError, match=r"`normals` must be given for a free-orientation "
                                             r"`L_vertex`"):
        region_leadfield(free.reshape(V, 3, M), labels)
    with pytest.raises(FwdModelsError, match=r"`parcellation` as labels must be 9 integers"):
        region_leadfield(free, labels[:4], normals=normals)
    with pytest.raises(FwdModelsError, match=r"`reduce` must be one of 'mean', 'sum'; got 'max'"):
        region_leadfield(free, labels, normals=normals, reduce="max")
    with pytest.raises(FwdModelsError, match=r"`L_free` must have 3V rows"):
        fixed_orientation(free[:-1], normals)
    with pytest.raises(FwdModelsError, match=r"`sign_flip` needs `normals`"):
        region_leadfield(fixed_orientation(free, normals), labels, sign_flip=True)
    with pytest.raises(FwdModelsError, match=r"`areas` must be 9 finite non-negative values"):
        region_leadfield(fixed_orientation(free, normals), labels, areas=np.full(V, np.nan))
