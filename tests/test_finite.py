"""The compiled finiteness check that ``check_finite`` runs first on large arrays."""

import numpy as np
import pytest

from fwdmodels import _validation
from fwdmodels._finite import LANES, all_finite
from fwdmodels._numba import JIT_ENABLED
from fwdmodels.errors import FwdModelsError
from fwdmodels.hemodynamics import simulate_bold

BAD = (np.nan, np.inf, -np.inf)


@pytest.mark.parametrize("size", [1, LANES - 1, LANES, 5 * LANES + 3, 1000])
def test_every_position_and_kind_of_non_finite_value_is_found(size):
    base = np.random.default_rng(0).standard_normal(size)
    assert all_finite(base)
    for k in range(size):  # every lane, the first and last rows, and the tail past the lanes
        for bad in BAD:
            a = base.copy()
            a[k] = bad
            assert not all_finite(a), (k, bad)


def test_extreme_finite_values_are_finite():
    # sums that could overflow if the values themselves were added; subnormals; signed zeros
    big = np.finfo(np.float64).max
    a = np.array([big, big, -big, 5e-324, -5e-324, 0.0, -0.0] * 40).reshape(28, 10)
    assert all_finite(a) and np.isfinite(a).all()


@pytest.mark.parametrize("threads", [1, 2])
def test_blocks_of_a_threaded_run_each_see_their_rows(threads, monkeypatch):
    from fwdmodels import _finite
    monkeypatch.setattr(_finite, "get_num_threads", lambda: threads)
    n_rows = 101
    for row in (0, n_rows // 2, n_rows // 2 + 1, n_rows - 1):
        a = np.ones((n_rows, LANES))
        a[row, 3] = np.nan
        assert not all_finite(a)


@pytest.mark.skipif(not JIT_ENABLED, reason="the compiled check runs only when numba compiles")
def test_large_input_is_checked_by_the_compiled_kernel_and_names_the_first_bad_sample(
        monkeypatch):
    calls = []
    real = _validation.compiled_all_finite
    monkeypatch.setattr(_validation, "compiled_all_finite",
                        lambda a: calls.append(a.size) or real(a))
    z = np.zeros((_validation.FAST_FINITE_MIN // 4 + 7, 4))
    z[-3, 2] = np.inf
    z[-1, 0] = np.nan
    with pytest.raises(FwdModelsError, match=r"`z` must be finite; found inf at time index "
                                             rf"{z.shape[0] - 3}, region 2"):
        simulate_bold(z, "1 ms")
    assert calls == [z.size]
    assert real(np.zeros((_validation.FAST_FINITE_MIN, 1)))          # ran, found all finite
    assert not real(np.zeros((_validation.FAST_FINITE_MIN, 2))[:, 0])  # not contiguous: not run
