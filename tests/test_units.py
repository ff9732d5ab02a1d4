"""Tests of fwdmodels.units: the registry, parsing, refusal of bare numbers, brainunit adapter."""

import numpy as np
import pint
import pytest

import fwdmodels
from fwdmodels.errors import FwdModelsError
from fwdmodels.units import as_quantity, from_brainunit, parse_unit, to_si, ureg


def test_registry_is_pints_application_registry():
    assert fwdmodels.ureg is pint.get_application_registry()
    q = pint.Quantity(2.0, "ms") + 1 * fwdmodels.ureg.ms
    assert q.to("ms").magnitude == pytest.approx(3.0)


@pytest.mark.parametrize("value, seconds", [
    ("1 ms", 1e-3), ("0.1ms", 1e-4), ("2 s", 2.0), (5 * ureg.us, 5e-6),
    (pint.Quantity(0.5, "minute"), 30.0),
])
def test_time_quantities_to_seconds(value, seconds):
    assert to_si(value, "dt", "[time]") == pytest.approx(seconds, rel=1e-15)


@pytest.mark.parametrize("value", [0.001, 1, np.float64(0.1), np.array([1.0])])
def test_bare_number_refused_with_example(value):
    with pytest.raises(FwdModelsError, match=r"`dt` must carry a unit; got .* \(no unit\). "
                                             r"Write it as '1 ms' or `1 \* fwdmodels.ureg.ms`"):
        to_si(value, "dt", "[time]")


def test_wrong_dimension_named():
    with pytest.raises(FwdModelsError, match=r"`dt` must have the dimension \[time\]; got 1 m"):
        to_si("1 m", "dt", "[time]")


def test_unparsable_string_named():
    with pytest.raises(FwdModelsError, match=r"`tr` could not be read as a quantity: '2 parsecs"):
        as_quantity("2 parsecs of", "tr", "[time]")


def test_parse_unit():
    assert parse_unit("uV") == ureg.microvolt
    assert parse_unit(ureg.fT) == ureg.femtotesla
    with pytest.raises(FwdModelsError, match="`sensor_unit` must be a unit"):
        parse_unit("not_a_unit", "sensor_unit")
    with pytest.raises(FwdModelsError, match="`unit` must be a unit"):
        parse_unit(3.0)


class _FakeDim:
    def __init__(self, dims):
        self._dims = np.array(dims)


class _FakeUnit:
    """The attributes of a brainunit Unit that the adapter reads."""

    __module__ = "saiunit._base"

    def __init__(self, dims, scale, dispname, factor=1.0):
        self.dim = _FakeDim(dims)
        self.scale = scale
        self.base = 10.0
        self.factor = factor
        self.dispname = dispname


class _FakeQuantity:
    __module__ = "saiunit._base"

    def __init__(self, mantissa, unit):
        self.mantissa = mantissa
        self.unit = unit


def test_brainunit_adapter_by_name_and_by_dimension():
    # nA*m/mV: named, converted by name
    unit = _FakeUnit([-1, -1, 3, 2, 0, 0, 0], -6, "m * nA / mV")
    q = from_brainunit(_FakeQuantity(np.array([1.5], dtype=np.float32), unit))
    assert q.magnitude.dtype == np.float32
    assert q.to("A*m/V").magnitude[0] == pytest.approx(1.5e-6, rel=1e-6)
    # a name pint does not know: falls back to the SI dimension and scale
    odd = _FakeUnit([1, 0, 0, 1, 0, 0, 0], -9, "weird_name", factor=2.0)
    q = from_brainunit(_FakeQuantity(np.array([3.0]), odd))
    assert q.to("A*m").magnitude[0] == pytest.approx(6e-9, rel=1e-12)
    # a time quantity is accepted where a unit is required
    assert to_si(_FakeQuantity(2.0, _FakeUnit([0, 0, 1, 0, 0, 0, 0], -3, "ms")), "dt",
                 "[time]") == pytest.approx(2e-3)


def test_registry_is_loaded_at_import_for_threads():
    """pint's lazy first load is not thread-safe; importing fwdmodels loads the registry, so
    threads (dask workers) that use units at once all see the full set of definitions."""
    import subprocess
    import sys

    code = ("import pint, fwdmodels\n"
            "from concurrent.futures import ThreadPoolExecutor\n"
            "print(type(pint.get_application_registry().get()).__name__)\n"
            "with ThreadPoolExecutor(8) as pool:\n"
            "    got = list(pool.map(lambda i: fwdmodels.units.to_si('1 ms', 'dt', '[time]'),\n"
            "                        range(64)))\n"
            "print(set(got))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["UnitRegistry", "{0.001}"]


# ------------------------------------------------------------------ hostile quantity texts
def test_quantity_text_length_bounded_before_parsing():
    import time

    from fwdmodels.units import MAX_TEXT

    for text in ("1" * 100_000 + " s", "1e-3 " + "m" * 5000, " " * (MAX_TEXT + 1) + "1 s"):
        start = time.perf_counter()
        with pytest.raises(FwdModelsError, match=rf"`dt` must be a quantity text of at most "
                                                 rf"{MAX_TEXT} characters .*; got "
                                                 rf"{len(text)} characters"):
            as_quantity(text, "dt", "[time]")
        assert time.perf_counter() - start < 0.5
    with pytest.raises(FwdModelsError, match=r"`sensor_unit` must be a quantity text of at most"):
        parse_unit("u" * 10_000 + "V", "sensor_unit")
    # the longest text a user could mean is still read
    assert to_si("0.00010000000000000000208166817117216851 s", "dt", "[time]") == 1e-4


@pytest.mark.parametrize("value", ["inf s", "-inf ms", "nan s", pint.Quantity(np.inf, "s"),
                                   pint.Quantity(float("nan"), "ms"), "1e400 s"])
def test_non_finite_quantity_refused(value):
    with pytest.raises(FwdModelsError, match=r"`tr` must be finite; got (-?inf|nan) m?s"):
        as_quantity(value, "tr", "[time]")


@pytest.mark.parametrize("text", ["1e-30 s", "1e-7 ms", "-1e-12 s", "0.5 ns"])
def test_absurdly_short_time_refused_naming_the_unit(text):
    with pytest.raises(FwdModelsError, match=r"`dt` must be at least 1e-09 s \(1 ns\) in "
                                             r"magnitude.*Check its unit"):
        to_si(text, "dt", "[time]")


def test_shortest_times_and_arrays_still_accepted():
    assert to_si("1 ns", "dt", "[time]") == pytest.approx(1e-9)
    assert to_si("0 s", "dt", "[time]") == 0.0            # the caller says "must be positive"
    assert to_si("1e-30 m", "x", "[length]") == pytest.approx(1e-30)   # only times are bounded
    arr = as_quantity(pint.Quantity(np.array([np.nan, 1e-30]), "s"), "t", "[time]")
    assert np.isnan(arr.magnitude[0])                      # arrays are checked by their users


def test_file_dt_text_bounded_and_checked():
    from fwdmodels.io.metadata import parse_time

    with pytest.raises(FwdModelsError, match=r"the dt must be a text of at most 256 characters"):
        parse_time("1" * 100_000 + " ms", None, "the dt")
    with pytest.raises(FwdModelsError, match=r"the dt must be a text of at most 256"):
        parse_time(1.0, "m" * 1000 + "s", "the dt")
    with pytest.raises(FwdModelsError, match=r"the dt must be at least 1e-09 s \(1 ns\); got "
                                             r"1e-30 s"):
        parse_time("1e-30 s", None, "the dt")
    with pytest.raises(FwdModelsError, match=r"the dt must be positive and finite; got inf s"):
        parse_time(float("inf"), "s", "the dt")
