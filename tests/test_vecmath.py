"""Accuracy and special values of the vectorisable exp and log used by the Numba kernels."""

import os
import subprocess
import sys

import numpy as np
import pytest

from fwdmodels import _vecmath
from fwdmodels._numba import HAVE_NUMBA, njit


@njit(cache=False)
def _apply(func_id, values):
    out = np.empty_like(values)
    for i in range(values.size):
        out[i] = _vecmath.exp(values[i]) if func_id == 0 else _vecmath.log(values[i])
    return out


def _ulps(got, expected):
    return np.abs(got - expected) / np.spacing(np.abs(expected))


def test_exp_within_two_ulp():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-708, 709.7, 20000), rng.uniform(-3, 3, 20000),
                        rng.normal(0, 1e-8, 1000), [0.0, 1.0, -1.0, 709.7, -708.0]])
    assert _ulps(_apply(0, x), np.exp(x)).max() <= 2.0


def test_exp_gives_numpys_subnormal_results_and_overflows_where_numpy_does():
    """Gradual underflow, not a flush to 0: the last rounding lands on NumPy's subnormal."""
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-746.0, -708.0, 20000),
                        [-745.2, -745.13, -745.0, -740.0, -720.0, -708.4, -708.39]])
    got, expected = _apply(0, x), np.exp(x)
    assert (expected[:20000] > 0).any() and (expected[:20000] < 2.2250738585072014e-308).any()
    # one unit of the subnormals' spacing, 5e-324, at most
    assert np.abs(got - expected).max() <= np.spacing(0.0)
    top = np.concatenate([rng.uniform(709.0, 709.78, 2000),
                          np.nextafter(709.782712893384, [-np.inf, np.inf])])
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(np.isinf(_apply(0, top)), np.isinf(np.exp(top)))
        assert _ulps(_apply(0, top[:-1]), np.exp(top[:-1])).max() <= 2.0


LONG_DOUBLE = pytest.mark.skipif(np.finfo(np.longdouble).nmant < 63,
                                 reason="needs a long double wider than float64 for the reference")


def _ulps_long(got, x, func):
    expected = func(x.astype(np.longdouble))
    spacing = np.spacing(np.abs(expected).astype(np.float64)).astype(np.longdouble)
    return np.abs(got.astype(np.longdouble) - expected) / spacing


@LONG_DOUBLE
def test_exp_within_1_1_ulp_of_the_extended_precision_value_where_it_is_hardest():
    """Uniform inputs, and inputs whose reduced result lies just above sqrt(1/2), where
    ``1 + (...)`` rounds at half the result's spacing (the largest errors are there)."""
    rng = np.random.default_rng(2)
    k = rng.integers(-1020, 1020, 1_000_000)
    x = np.concatenate([rng.uniform(-708, 709.7, 200000), rng.uniform(-0.35, 0.35, 200000),
                        (k + 0.5) * np.log(2.0) + rng.uniform(0.0, 0.03, k.size)])
    assert _ulps_long(_apply(0, x), x, np.exp).max() <= 1.1


@LONG_DOUBLE
def test_log_within_one_ulp_of_the_extended_precision_value_where_it_is_hardest():
    """Including arguments just below sqrt(1/2), where e ln 2 and log(m) cancel."""
    rng = np.random.default_rng(4)
    v = np.concatenate([np.exp(rng.uniform(-700, 700, 200000)), rng.uniform(0.7, 1.42, 200000),
                        np.ldexp(rng.uniform(1.38, np.sqrt(2.0), 1_000_000), -1),
                        1.0 + rng.normal(0, 1e-10, 2000), rng.uniform(1e-320, 2e-308, 20000)])
    assert _ulps_long(_apply(1, v), v, np.log).max() <= 1.0


def test_log_within_two_ulp_including_subnormals():
    rng = np.random.default_rng(1)
    v = np.concatenate([np.exp(rng.uniform(-700, 700, 20000)), rng.uniform(0.5, 2.0, 20000),
                        1.0 + rng.normal(0, 1e-10, 1000), [1e-310, 5e-324, 2.0, 0.5]])
    expected = np.log(v)
    assert _ulps(_apply(1, v), expected).max() <= 2.0


def test_special_values():
    exp = _apply(0, np.array([0.0, np.nan, np.inf, -np.inf, 800.0, -800.0, 1e308, -1e308, -np.nan]))
    np.testing.assert_array_equal(exp, [1.0, np.nan, np.inf, 0.0, np.inf, 0.0, np.inf, 0.0, np.nan])
    log = _apply(1, np.array([1.0, 0.0, -1.0, np.nan, np.inf]))
    np.testing.assert_array_equal(log, [0.0, np.nan, np.nan, np.nan, np.inf])


_AS_PYTHON = """
import sys, warnings
import numpy as np
from fwdmodels import _vecmath
x, v = (np.array([float(a) for a in arg.split(",")]) for arg in sys.argv[1:3])
with warnings.catch_warnings():
    warnings.simplefilter("error")
    print(",".join(repr(float(_vecmath.exp(value))) for value in x))
    print(",".join(repr(float(_vecmath.log(value))) for value in v))
"""


def test_run_as_python_the_same_values_and_no_warning_where_exp_overflows():
    """The Python source (numba absent, NUMBA_DISABLE_JIT) given NumPy scalars, as the kernels
    run as Python pass them: the compiled results, and inf without NumPy's overflow warning
    between the largest float's log (709.78) and the clamp (710)."""
    x = np.array([709.79, 709.9, 710.0, 711.0, 1e308, -745.2, -740.0, 0.5, np.nan, -np.inf])
    v = np.array([1e-320, 0.5, 1.0, 2.0, 1e308, np.inf, 0.0, -1.0, np.nan])
    done = subprocess.run([sys.executable, "-c", _AS_PYTHON, ",".join(map(repr, x.tolist())),
                           ",".join(map(repr, v.tolist()))], capture_output=True, text=True,
                          env=dict(os.environ, NUMBA_DISABLE_JIT="1"))
    assert done.returncode == 0, done.stderr
    got_exp, got_log = (np.array([float(a) for a in line.split(",")])
                        for line in done.stdout.split())
    np.testing.assert_array_equal(got_exp, _apply(0, x))
    np.testing.assert_array_equal(got_log, _apply(1, v))
    assert np.isinf(got_exp[:5]).all() and got_exp[5] == 0.0 and got_exp[6] > 0.0


@pytest.mark.skipif(not HAVE_NUMBA, reason="the vectorisation is a property of numba's output")
def test_loops_calling_them_are_vectorised():
    from fwdmodels._numba import JIT_ENABLED

    if not JIT_ENABLED:
        pytest.skip("NUMBA_DISABLE_JIT: nothing is compiled")
    _apply(0, np.ones(4))
    llvm = _apply.inspect_llvm(_apply.signatures[0])
    assert "x double>" in llvm  # a vector type: the loop compiled to SIMD code
