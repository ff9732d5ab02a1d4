"""Tests of fwdmodels.plotting: each function returns a Figure whose artists hold the data
given (in the unit asked for), the projection of sensor layouts, the error naming the ``plot``
extra when matplotlib is missing, and that no pyplot global state is touched."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

import fwdmodels  # noqa: E402
from fwdmodels import plotting  # noqa: E402
from fwdmodels.errors import FwdModelsError, MissingDependencyError  # noqa: E402
from fwdmodels.leadfield import sensors  # noqa: E402


@pytest.fixture(scope="module")
def run():
    z = np.zeros((1500, 2))
    z[100:300] = [1.0, 0.5]
    bold, states = fwdmodels.simulate_bold(z, "10 ms", return_states=True)
    return z, bold, states


# ------------------------------------------------------------------------- BOLD
def test_plot_bold_lines_hold_the_data_at_the_time_convention(run):
    z, bold, _ = run
    fig = plotting.plot_bold(bold, "10 ms", labels=["task", "half"])
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    lines = [l for l in ax.get_lines() if l.get_label() in ("task", "half")]
    assert [l.get_label() for l in lines] == ["task", "half"]
    for c, line in enumerate(lines):
        np.testing.assert_allclose(line.get_xdata(), (np.arange(1500) + 1) * 0.01)
        np.testing.assert_allclose(line.get_ydata(), 100 * bold.magnitude[:, c])  # percent
    assert ax.get_ylabel() == "BOLD (%)"


def test_plot_bold_marks_tr_samples_and_means(run):
    z, bold, _ = run
    b = bold.magnitude
    for mode, expected in (("sample", b[199::200, 0]),
                           ("mean", b[:1400].reshape(7, 200, 2).mean(axis=1)[:, 0])):
        fig = plotting.plot_bold(bold, "10 ms", tr="2 s", tr_mode=mode, regions=[0],
                                 unit="dimensionless")
        (ax,) = fig.axes
        markers = [l for l in ax.get_lines() if l.get_linestyle() == "None"]
        assert len(markers) == 1 and markers[0].get_marker() == "o"
        np.testing.assert_allclose(markers[0].get_xdata(), 2.0 * (np.arange(7) + 1))
        np.testing.assert_allclose(markers[0].get_ydata(), expected)


def test_plot_bold_shades_design_and_draws_into_given_axes(run):
    z, bold, _ = run
    outer = plotting.plot_bold(bold[:, 0], "10 ms")       # a 1-D signal is one column
    fig = plotting.new_figure((4, 3), "test")
    ax = fig.add_subplot()
    assert plotting.plot_bold(bold, "10 ms", design=z[:, 0], ax=ax) is fig
    (span,) = ax.patches                                 # one "on" interval, [1 s, 3 s)
    x0, _, x1, _ = span.get_path().transformed(span.get_patch_transform()).get_extents().extents
    assert (x0, x1) == pytest.approx((1.0, 3.0))
    assert len(outer.axes[0].get_lines()) == 2           # the zero line and the signal


def test_plot_bold_refuses_unitless_dt_and_non_multiple_tr(run):
    _, bold, _ = run
    with pytest.raises(FwdModelsError, match="unit"):
        plotting.plot_bold(bold, 0.01)
    with pytest.raises(FwdModelsError, match="whole multiple"):
        plotting.plot_bold(bold, "10 ms", tr="25 ms")
    with pytest.raises(FwdModelsError, match="dimensionless"):
        plotting.plot_bold(bold.magnitude * fwdmodels.ureg.V, "10 ms")


# ------------------------------------------------------------------------- states
def test_plot_states_four_panels_with_rest_lines_and_overlay(run):
    _, _, states = run
    fig = plotting.plot_states(states, "10 ms", regions=[1], label="rest")
    assert len(fig.axes) == 4
    for ax, key, rest in zip(fig.axes, "xfvq", (0.0, 1.0, 1.0, 1.0)):
        assert ax.get_title().startswith(f"{key}:")
        rest_line, data = ax.get_lines()
        assert set(rest_line.get_ydata()) == {rest}
        np.testing.assert_allclose(data.get_ydata(), states[key][:, 1])
        np.testing.assert_allclose(data.get_xdata(), (np.arange(1500) + 1) * 0.01)
    again = plotting.plot_states(states, "10 ms", label="again", axes=fig.axes, ls="--",
                                 regions=[1])
    assert again is fig and all(len(ax.get_lines()) == 3 for ax in fig.axes)
    with pytest.raises(FwdModelsError, match="'x', 'f', 'v', 'q'"):
        plotting.plot_states({"x": states["x"]}, "10 ms")


# ------------------------------------------------------------------------- sensors
def test_project_layout_is_azimuthal_equidistant():
    lay = sensors.eeg_layout(["Cz", "Fpz", "Oz", "T7", "T8", "Nz"])
    xy = plotting.project_layout(lay)
    step = np.deg2rad(18)
    expected = [[0, 0], [0, 4 * step], [0, -4 * step], [-4 * step, 0], [4 * step, 0],
                [0, np.pi / 2]]
    np.testing.assert_allclose(xy, expected, atol=1e-12)
    # distance from the centre is the polar angle, whatever the radius and origin
    shifted = sensors.eeg_layout(["Cz", "Fpz"], radius="7 cm",
                                 origin=[0, 0, 0.01] * fwdmodels.ureg.m)

    centre = [0, 0, 1.0] * fwdmodels.ureg.cm
    np.testing.assert_allclose(plotting.project_layout(shifted, origin=centre), expected[:2],
                               atol=1e-12)
    with pytest.raises(FwdModelsError, match="unit"):
        plotting.project_layout(np.ones((3, 3)))


@pytest.mark.parametrize("kind", ["eeg", "meg"])
def test_plot_topography_dots_hold_values_at_projected_positions(kind):
    layout = sensors.eeg_1020() if kind == "eeg" else sensors.meg_helmet(40)
    rng = np.random.default_rng(1)
    values = rng.normal(size=len(layout)) * fwdmodels.ureg("V" if kind == "eeg" else "T")
    unit = "uV" if kind == "eeg" else "fT"
    fig = plotting.plot_topography(values, layout, unit=unit, names=True, title=kind)
    ax = fig.axes[0]
    dots = ax.collections[0]
    np.testing.assert_allclose(dots.get_offsets(), plotting.project_layout(layout))
    np.testing.assert_allclose(dots.get_array(), values.to(unit).magnitude)
    assert dots.norm.vmin == -dots.norm.vmax == -np.abs(values.to(unit).magnitude).max()
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() in ("µV", "fT")   # colour bar
    assert len(ax.texts) == len(layout) and ax.get_title() == kind
    assert len(ax.collections) > 1                        # filled contours


def test_plot_topography_shared_scale_and_checks():
    layout = sensors.eeg_1020()
    fig = plotting.plot_topography(np.zeros(21), layout, vmax=2.0, contours=False,
                                   colorbar=False)
    assert len(fig.axes) == 1 and len(fig.axes[0].collections) == 1
    assert fig.axes[0].collections[0].norm.vmax == 2.0
    with pytest.raises(FwdModelsError, match="one value per sensor"):
        plotting.plot_topography(np.zeros(20), layout)
    helmet = sensors.meg_helmet(10)
    with pytest.raises(FwdModelsError, match="magnetometers"):
        plotting.plot_topography(np.zeros(30), helmet)
    with pytest.raises(FwdModelsError, match="finite"):
        plotting.plot_topography(np.full(21, np.nan), layout)


# ------------------------------------------------------------------------- lead field
def test_plot_leadfield_image_is_the_matrix_in_the_unit_asked():
    L = np.random.default_rng(2).normal(size=(6, 21)) * fwdmodels.ureg("V/(A*m)")
    fig = plotting.plot_leadfield(L, unit="uV/(nA*m)", sensor_names=sensors.NAMES_1020,
                                  source_names=[f"s{i}" for i in range(6)])
    ax, cbar = fig.axes
    (image,) = ax.images
    np.testing.assert_allclose(image.get_array(), L.to("uV/(nA*m)").magnitude)
    assert image.norm.vmin == -image.norm.vmax
    assert [t.get_text() for t in ax.get_xticklabels()] == list(sensors.NAMES_1020)
    assert "nA" in cbar.get_ylabel()
    model = fwdmodels.leadfield.EEGLeadFieldModel(6, 21, L)
    np.testing.assert_allclose(plotting.plot_leadfield(model).axes[0].images[0].get_array(),
                               L.magnitude)
    with pytest.raises(FwdModelsError, match="matrix"):
        plotting.plot_leadfield(np.zeros(3))


# ------------------------------------------------------------------------- infrastructure
def test_save_figure_writes_png(tmp_path, run):
    _, bold, _ = run
    path = plotting.save_figure(plotting.plot_bold(bold, "10 ms"), tmp_path / "bold.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plotting.save_figure(plotting.plot_bold(bold, "10 ms"), path)     # replaced, atomically
    assert [p.name for p in tmp_path.iterdir()] == ["bold.png"]


def test_no_pyplot_state_is_created(run):
    _, bold, _ = run
    plotting.plot_bold(bold, "10 ms")
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []


@pytest.mark.parametrize("call", [
    lambda: plotting.plot_bold(np.zeros((5, 1)), "1 s"),
    lambda: plotting.plot_states({k: np.ones(5) for k in "xfvq"}, "1 s"),
    lambda: plotting.plot_topography(np.zeros(21), sensors.eeg_1020()),
    lambda: plotting.plot_leadfield(np.zeros((2, 3))),
])
def test_missing_matplotlib_names_the_plot_extra(monkeypatch, call):
    for name in ("matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)      # import now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"fwdmodels\[plot\]") as info:
        call()
    assert info.value.extra == "plot" and info.value.package == "matplotlib"
