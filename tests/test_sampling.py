"""Tests of TR sampling: the ratio check and the two reductions."""

import numpy as np
import pytest

from fwdmodels.errors import FwdModelsError
from fwdmodels.hemodynamics.sampling import sample_tr, tr_ratio


def test_ratio_accepts_whole_multiples_despite_rounding():
    assert tr_ratio("0.7 s", 0.1e-3) == (pytest.approx(0.7), 7000)
    assert tr_ratio("2 s", 1e-3)[1] == 2000


@pytest.mark.parametrize("tr, message", [
    ("1.5 ms", r"`tr` must be a whole multiple of dt; got tr = 0.0015 s and dt = 0.001 s"),
    ("0.5 ms", r"`tr` must be a whole multiple of dt"),
    ("-2 s", r"`tr` must be positive; got -2.0 s"),
    ("2 V", r"`tr` must have the dimension \[time\]"),
])
def test_ratio_errors(tr, message):
    with pytest.raises(FwdModelsError, match=message):
        tr_ratio(tr, 1e-3)


def test_sample_and_mean():
    signal = np.arange(10.0)[:, None] * np.array([1.0, -1.0])
    np.testing.assert_array_equal(sample_tr(signal, 3, "sample"), signal[[2, 5, 8]])
    np.testing.assert_array_equal(sample_tr(signal, 3, "mean"), signal[[1, 4, 7]])
    batch = np.stack([signal, 2 * signal])
    np.testing.assert_array_equal(sample_tr(batch, 5)[1], 2 * signal[[4, 9]])
