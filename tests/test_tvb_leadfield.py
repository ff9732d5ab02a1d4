"""Vertex lead fields reduced to regions (any file, NaN sensor policies) and TVB's default
subject as a region lead field, checked against TVB's own EEG and MEG monitors and, for the
unit of TVB's projections, against fwdmodels' sphere models on the same geometry.
"""

import json
import logging
import warnings

import numpy as np
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from tvb.datatypes import region_mapping as tvb_region_mapping
    from tvb.simulator import lab as tvb

from fwdmodels import ureg
from fwdmodels.cli import main
from fwdmodels.errors import FwdModelsError
from fwdmodels.leadfield.aggregation import nan_sensors, reduce_vertex_leadfield
from fwdmodels.leadfield.tvb import tvb_default_leadfield, unit_evidence
from fwdmodels.leadfield.vertex import read_vertex_leadfield

logging.getLogger("tvb").setLevel(logging.ERROR)


# --------------------------------------------------------------------------- NaN policies
def _vertex_lf(seed=0):
    rng = np.random.default_rng(seed)
    L = rng.standard_normal((10, 5))
    L[:, 1] = np.nan                      # a sensor without values (TVB's NaN rows)
    L[3, 4] = np.inf                      # and one with a single bad value
    return L


def test_nan_policies():
    L = _vertex_lf()
    dropped, kept, note = nan_sensors(L, "drop", list("abcde"))
    assert kept.tolist() == [0, 2, 3] and np.array_equal(dropped, L[:, [0, 2, 3]])
    assert "dropped" in note and "b, e" in note
    zeroed, kept, note = nan_sensors(L, "zero")
    assert kept.tolist() == [0, 1, 2, 3, 4] and np.all(zeroed[:, 1] == 0) and zeroed[3, 4] == 0
    assert zeroed[2, 4] == L[2, 4] and "set to 0" in note
    with pytest.raises(FwdModelsError, match="2 of 5 sensors.*nan_sensors='drop'"):
        nan_sensors(L, "refuse")
    with pytest.raises(FwdModelsError, match="nan_sensors"):
        nan_sensors(L, "ignore")
    clean, kept, note = nan_sensors(np.ones((2, 3)))
    assert note is None and kept.tolist() == [0, 1, 2]


def test_reduce_vertex_leadfield_mean_and_sum_by_hand():
    L = _vertex_lf()
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, -1])
    for reduce in ("mean", "sum"):
        out, kept, notes = reduce_vertex_leadfield(ureg.Quantity(L, "V/(A*m)"), labels,
                                                   reduce=reduce)
        assert str(out.units) == "volt / ampere / meter" and out.shape == (3, 3)
        for r in range(3):
            rows = L[labels == r][:, kept]
            expected = rows.mean(axis=0) if reduce == "mean" else rows.sum(axis=0)
            np.testing.assert_allclose(out.magnitude[r], expected, rtol=1e-14)
        assert notes[0].startswith(reduce) and "dropped" in notes[1]


@pytest.mark.parametrize("stored", ["vs", "sv"])
def test_any_file_on_the_command_line(tmp_path, stored):
    rng = np.random.default_rng(1)
    L = rng.standard_normal((12, 4))
    labels = np.repeat([0, 1, 2], 4)
    np.save(tmp_path / "L.npy", L if stored == "vs" else L.T)
    np.save(tmp_path / "labels.npy", labels)
    z = rng.standard_normal((100, 3))
    np.save(tmp_path / "z.npy", z)
    out = tmp_path / "eeg.npz"
    assert main(["eeg", str(tmp_path / "z.npy"), "--dt", "1ms", "--leadfield",
                 str(tmp_path / "L.npy"), "--leadfield-unit", "V/(A*m)", "--parcellation",
                 str(tmp_path / "labels.npy"), "--reduce", "sum", "-o", str(out), "-q"]) == 0
    region = np.stack([L[labels == r].sum(axis=0) for r in range(3)])
    np.testing.assert_allclose(np.load(out)["eeg"], z @ region * 1e-9, rtol=1e-12)
    meta = json.loads(str(np.load(out)["metadata"]))
    assert meta["parameters"]["leadfield"]["details"]["reduce"] == "sum"


def test_region_file_input_mismatch_is_refused(tmp_path):
    np.save(tmp_path / "L.npy", np.ones((5, 4)))
    with pytest.raises(FwdModelsError, match="`parcellation` has 12 vertices"):
        read_vertex_leadfield(tmp_path / "L.npy", "eeg", parcellation=np.zeros(12, int),
                              unit="V/(A*m)")
    with pytest.raises(FwdModelsError, match="has no unit"):
        read_vertex_leadfield(tmp_path / "L.npy", "eeg", parcellation=np.zeros(5, int))


# --------------------------------------------------------------------------- TVB's monitors
def _tvb_monitor_gain(kind, n_regions):
    """The (sensors, regions) gain TVB's EEG/MEG monitor builds for its default subject."""
    conn = tvb.connectivity.Connectivity.from_file(f"connectivity_{n_regions}.zip")
    rm = tvb_region_mapping.RegionMapping.from_file(f"regionMapping_16k_{n_regions}.txt")
    monitor = (tvb.monitors.EEG if kind == "eeg" else tvb.monitors.MEG).from_file(
        region_mapping=rm, period=1.0)
    sim = tvb.simulator.Simulator(connectivity=conn, monitors=(monitor,),
                                  simulation_length=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.configure()
    return monitor.gain, monitor


@pytest.mark.parametrize("kind", ["eeg", "meg"])
def test_default_subject_with_sum_and_zero_is_tvbs_monitor_gain(kind):
    gain, _ = _tvb_monitor_gain(kind, 76)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lf = tvb_default_leadfield(kind, 76, reduce="sum", nan_sensors="zero")
    assert lf.L.shape == gain.T.shape
    assert np.abs(lf.L.magnitude - gain.T).max() <= 1e-13 * np.abs(gain).max()


def test_default_subject_defaults_drop_nan_sensors_and_take_the_mean():
    with pytest.warns(UserWarning, match="2 of 65 sensors.*dropped them \\(IO1, IO2\\)"):
        lf = tvb_default_leadfield("eeg", 76)
    assert lf.L.shape == (76, 63) and lf.ch_type == "eeg"
    assert str(lf.L.units) == "volt / ampere / meter" and "IO1" not in lf.sensor_names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summed = tvb_default_leadfield("eeg", 76, reduce="sum")
    counts = np.bincount(np.loadtxt(_mapping_path(76), dtype=int)[:16384], minlength=76)
    np.testing.assert_allclose(lf.L.magnitude * counts[:, None], summed.L.magnitude,
                               rtol=1e-12)


def _mapping_path(n):
    from fwdmodels.io.tvb import tvb_data_path

    return tvb_data_path(f"tvb:regionMapping/regionMapping_16k_{n}.txt")


def test_192_regions_subcortical_rows():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lf = tvb_default_leadfield("meg", 192)
    said = " ".join(str(w.message) for w in caught)
    assert "116 of 192 regions have no cortical vertex" in said and "28 of 276" in said
    assert lf.L.shape == (192, 248) and str(lf.L.units) == "tesla / ampere / meter"
    zero = np.all(lf.L.magnitude == 0, axis=1)
    assert zero.sum() == 116 and lf.region_names[int(np.argmax(zero))] == "lAD"
    with pytest.raises(FwdModelsError, match="subcortical='zero'"):
        tvb_default_leadfield("eeg", 192, subcortical="refuse")
    with pytest.raises(FwdModelsError, match="76 or 192"):
        tvb_default_leadfield("eeg", 68)


def test_eeg_on_the_command_line_equals_tvbs_eeg_monitor(tmp_path):
    """TVB's EEG monitor (sum, NaN zeroed, its average reference) against fwdmodels eeg on
    TVB's TemporalAverage output of the same run, with the TVB-compatible options."""
    conn = tvb.connectivity.Connectivity.from_file("connectivity_76.zip")
    rm = tvb_region_mapping.RegionMapping.from_file("regionMapping_16k_76.txt")
    eeg = tvb.monitors.EEG.from_file(region_mapping=rm, period=4.0, reference="average")
    eeg.obsnoise = None                   # TVB adds observation noise unless told not to
    avg = tvb.monitors.TemporalAverage(period=4.0)
    sim = tvb.simulator.Simulator(
        model=tvb.models.Generic2dOscillator(), connectivity=conn,
        coupling=tvb.coupling.Linear(a=np.array([0.0152])),
        integrator=tvb.integrators.HeunDeterministic(dt=0.5), monitors=(avg, eeg),
        simulation_length=400.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.configure()
        (_, source), (_, sensors) = sim.run()
    np.save(tmp_path / "v.npy", source[:, 0, :, 0])
    out = tmp_path / "eeg.npz"
    assert main(["eeg", str(tmp_path / "v.npy"), "--dt", "4ms", "--leadfield", "tvb:eeg:76",
                 "--reduce", "sum", "--nan-sensors", "zero", "--reference", "average",
                 "--dipole-scale", "1 A*m", "-o", str(out), "-q"]) == 0
    ours, theirs = np.load(out)["eeg"], sensors[:, 0, :, 0]
    assert ours.shape == theirs.shape == (100, 65)
    assert np.abs(ours - theirs).max() <= 1e-13 * np.abs(theirs).max()


# --------------------------------------------------------------------------- the unit
def test_unit_of_tvbs_eeg_projection_is_volt_per_ampere_metre():
    figures = unit_evidence("eeg", vertex_step=16)
    assert figures["corr"] > 0.85                  # the same geometry, independently
    assert 0.1 < figures["scale"] < 1.0            # V/(A*m); other prefixes are 1000x away


def test_unit_of_tvbs_meg_projection_from_magnitudes():
    figures = unit_evidence("meg", vertex_step=16)
    assert 0.7 < figures["median_ratio"] < 1.4 and 0.7 < figures["p99_ratio"] < 1.4


def test_a_vertex_file_unit_and_the_given_unit_must_agree(tmp_path):
    np.savez(tmp_path / "L.npz", L=np.ones((5, 4)), unit="V/(A*m)")
    parcellation = np.array([0, 0, 1, 1, 2])
    L, _ = read_vertex_leadfield(tmp_path / "L.npz", "eeg", parcellation=parcellation,
                                 unit="V/(m*A)")               # the same unit, written otherwise
    assert L.units == ureg.Unit("V/(A*m)") and L.shape == (3, 4)
    for other in ("uV/(nA*m)", "T/(A*m)"):                    # another factor; another dimension
        with pytest.raises(FwdModelsError, match=r"`unit` .* conflicts with the unit"):
            read_vertex_leadfield(tmp_path / "L.npz", "eeg", parcellation=parcellation,
                                  unit=other)
