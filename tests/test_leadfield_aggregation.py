"""Vertex-to-region aggregation: orientation, parcellation, areas, mean/sum, sign flips."""

import numpy as np
import pytest

from fwdmodels import FwdModelsError, ureg
from fwdmodels.leadfield import (fixed_orientation, parcellation_matrix, region_leadfield,
                                 sign_flips)

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


def test_labels_equal_one_hot_and_sum_mean(data):
    free, normals, labels = data
    fixed = fixed_orientation(free, normals)
    one_hot = parcellation_matrix(labels, V)
    assert one_hot.shape == (3, V) and one_hot[:, 5].sum() == 0
    total = region_leadfield(free, labels, normals=normals)
    np.testing.assert_allclose(total, region_leadfield(fixed, one_hot), rtol=1e-12)
    for r in range(3):
        np.testing.assert_allclose(total[r], fixed[labels == r].sum(0), rtol=1e-12)
    areas = np.arange(1.0, V + 1)
    mean = region_leadfield(fixed, labels, areas=areas, reduce="mean")
    for r in range(3):
        w = areas[labels == r]
        np.testing.assert_allclose(mean[r], (w[:, None] * fixed[labels == r]).sum(0) / w.sum(),
                                   rtol=1e-12)


def test_soft_parcellation(data):
    free, normals, _ = data
    fixed = fixed_orientation(free, normals)
    soft = np.random.default_rng(1).uniform(size=(2, V))
    np.testing.assert_allclose(region_leadfield(fixed, soft), soft @ fixed, rtol=1e-12)


def test_sign_flip_keeps_opposite_walls_from_cancelling():
    normals = np.array([[0, 0, 1.0], [0, 0, -1.0], [0, 0.1, 0.99]])
    L = np.array([[1.0, 2.0], [-1.0, -2.0], [1.0, 2.0]])     # fixed, along each normal
    labels = np.array([0, 0, 0])
    flips = sign_flips(normals, parcellation_matrix(labels, 3))
    np.testing.assert_array_equal(flips, [[1, -1, 1]])
    np.testing.assert_allclose(region_leadfield(L, labels, normals=normals, sign_flip=True),
                               [[3.0, 6.0]])
    np.testing.assert_allclose(region_leadfield(L, labels), [[1.0, 2.0]])


def test_errors(data):
    free, normals, labels = data
    with pytest.raises(FwdModelsError, match=r"`normals` must be given for a free-orientation "
                                             r"`L_vertex`"):
        region_leadfield(free.reshape(V, 3, M), labels)
    with pytest.raises(FwdModelsError, match=r"`parcellation` as labels must be 9 integers"):
        region_leadfield(free, labels[:4], normals=normals)
    with pytest.raises(FwdModelsError, match=r"`reduce` must be one of 'sum', 'mean'; got 'max'"):
        region_leadfield(free, labels, normals=normals, reduce="max")
    with pytest.raises(FwdModelsError, match=r"`L_free` must have 3V rows"):
        fixed_orientation(free[:-1], normals)
    with pytest.raises(FwdModelsError, match=r"`sign_flip` needs `normals`"):
        region_leadfield(fixed_orientation(free, normals), labels, sign_flip=True)
