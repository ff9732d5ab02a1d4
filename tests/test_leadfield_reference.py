"""References: average, channel, matrix; refused for MEG."""

import numpy as np
import pytest

from fwdmodels import FwdModelsError
from fwdmodels.leadfield.reference import apply_reference, reference_matrix


def test_none_is_identity():
    y = np.arange(6.0).reshape(2, 3)
    assert reference_matrix(None, 3) is None
    assert apply_reference(y, None) is y


def test_average_reference():
    y = np.random.default_rng(0).normal(size=(10, 4))
    out = apply_reference(y, reference_matrix("average", 4))
    np.testing.assert_allclose(out, y - y.mean(axis=1, keepdims=True), atol=1e-14)
    np.testing.assert_allclose(out.sum(axis=1), 0, atol=1e-13)


def test_channel_reference_loop():
    y = np.random.default_rng(1).normal(size=(5, 4))
    out = apply_reference(y, reference_matrix(1, 4))
    for t in range(5):
        for m in range(4):
            assert out[t, m] == pytest.approx(y[t, m] - y[t, 1], abs=1e-14)


def test_matrix_reference_is_column_convention():
    a = np.array([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0], [0.0, 0.0, 1.0]])   # bipolar pairs
    y = np.random.default_rng(2).normal(size=(4, 3))
    out = apply_reference(y, reference_matrix(a, 3))
    np.testing.assert_allclose(out, (a @ y.T).T, atol=1e-14)


def test_errors_named():
    with pytest.raises(FwdModelsError, match=r"`reference` 'average' is for EEG"):
        reference_matrix("average", 3, "meg")
    with pytest.raises(FwdModelsError, match=r"`reference` as a channel index is for EEG"):
        reference_matrix(0, 3, "meg")
    with pytest.raises(FwdModelsError, match=r"`reference` must be None, 'average', a channel "
                                             r"index or an \(3, 3\) matrix; got 'avg'"):
        reference_matrix("avg", 3)
    with pytest.raises(FwdModelsError, match=r"`reference` as a channel index must lie in "
                                             r"\[0, 3\); got 5"):
        reference_matrix(5, 3)
    for k in (-1, -3, 3):     # [0, M): no counting from the end
        with pytest.raises(FwdModelsError, match=r"`reference` as a channel index must lie in "
                                                 rf"\[0, 3\); got {k}"):
            reference_matrix(k, 3)
    for flag in (True, False, np.bool_(True)):
        with pytest.raises(FwdModelsError, match=r"`reference` must be None, 'average', a "
                                                 r"channel index .* not a bool; got "
                                                 r"reference=(np.)?(True|False)"):
            reference_matrix(flag, 3)
    assert reference_matrix(np.int64(2), 3)[2, 2] == 0.0
    with pytest.raises(FwdModelsError, match=r"`reference` as a matrix must have shape \(3, 3\);"
                                             r" got shape \(2, 2\)"):
        reference_matrix(np.eye(2), 3)
