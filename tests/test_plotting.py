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
    step = np.deg2rad(18)
    # an idealised cap (Cz on top, 10-20 steps of 18 degrees): the standard caps are real heads
    s72, c72 = np.sin(4 * step), np.cos(4 * step)
    unit = np.array([[0, 0, 1], [0, s72, c72], [0, -s72, c72], [-s72, 0, c72], [s72, 0, c72],
                     [0, 1, 0]])
    lay = sensors.EEGLayout(("Cz", "Fpz", "Oz", "T7", "T8", "Nz"), unit * fwdmodels.ureg.m)
    xy = plotting.project_layout(lay)
    expected = [[0, 0], [0, 4 * step], [0, -4 * step], [-4 * step, 0], [4 * step, 0],
                [0, np.pi / 2]]
    np.testing.assert_allclose(xy, expected, atol=1e-12)
    # distance from the centre is the polar angle, whatever the radius and origin
    shifted = sensors.EEGLayout(("Cz", "Fpz"), (0.07 * unit[:2] + [0, 0, 0.01]) * fwdmodels.ureg.m)

    centre = [0, 0, 1.0] * fwdmodels.ureg.cm
    np.testing.assert_allclose(plotting.project_layout(shifted, origin=centre), expected[:2],
                               atol=1e-12)
    with pytest.raises(FwdModelsError, match="unit"):
        plotting.project_layout(np.ones((3, 3)))


def _assert_round_symmetric_scale(norm, largest):
    """Colour bins symmetric about 0, of one round width w, the middle one centred on 0
    (edges at odd multiples of w/2), the outermost edge the first at or beyond ``largest``."""
    edges = np.asarray(norm.boundaries)
    np.testing.assert_allclose(edges, -edges[::-1])
    width = np.diff(edges)
    np.testing.assert_allclose(width, width[0])
    mantissa = width[0] / 10 ** np.floor(np.log10(width[0]))
    assert any(np.isclose(mantissa, m) for m in (1.0, 1.25, 2.0, 2.5, 5.0)), width[0]
    np.testing.assert_allclose(edges / (width[0] / 2) % 2, 1.0)
    assert edges[-1] - width[0] < largest <= edges[-1] or largest == edges[-1] == width[0] / 2


@pytest.mark.parametrize("kind", ["eeg", "meg"])
def test_plot_topography_dots_hold_values_at_projected_positions(kind):
    layout = sensors.eeg_1020() if kind == "eeg" else sensors.meg_helmet(40)
    rng = np.random.default_rng(1)
    values = rng.normal(size=len(layout)) * fwdmodels.ureg("V" if kind == "eeg" else "T")
    unit, unit_shown = ("uV", "µV") if kind == "eeg" else ("fT", "fT")
    fig = plotting.plot_topography(values, layout, unit=unit, names=True, title=kind)
    ax = fig.axes[0]
    dots = ax.collections[0]
    np.testing.assert_allclose(dots.get_offsets(), plotting.project_layout(layout))
    np.testing.assert_allclose(dots.get_array(), values.to(unit).magnitude)
    _assert_round_symmetric_scale(dots.norm, np.abs(values.to(unit).magnitude).max())
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == f"value ({unit_shown})"
    assert len(ax.texts) == len(layout) and ax.get_title() == kind
    assert len(ax.collections) > 1                        # filled contours


def test_plot_topography_shared_scale_and_checks():
    layout = sensors.eeg_1020()
    fig = plotting.plot_topography(np.zeros(21), layout, vmax=2.0, contours=False,
                                   colorbar=False)
    assert len(fig.axes) == 1 and len(fig.axes[0].collections) == 1
    _assert_round_symmetric_scale(fig.axes[0].collections[0].norm, 2.0)
    other = plotting.plot_topography(np.ones(21) * 0.3, layout, vmax=2.0, colorbar=False)
    np.testing.assert_array_equal(other.axes[0].collections[0].norm.boundaries,
                                  fig.axes[0].collections[0].norm.boundaries)  # one scale
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


# ------------------------------------------------------------------------- legibility
# What a reader of a projected figure sees, checked artist by artist in display coordinates
# after a draw, independently of fwdmodels' own placement code: no legend, note or text laid
# over data or over another text, no line hidden under an identical one, round tick values,
# a unit on every numeric axis and colour bar, a one-line title, no text below MIN_POINTS.
# test_examples.py applies the same checks to every teaching figure.
import functools  # noqa: E402
import re  # noqa: E402

from matplotlib.collections import Collection, PathCollection  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

MIN_POINTS = 10            # the default "medium" font size: nothing smaller on a projector
NICE = (1.0, 2.0, 2.5, 5.0, 10.0)
UNIT = re.compile(r"[(\[][^)\]]*[^\d\s)\]][^)\]]*[)\]]")   # "(s)", "[µV]", "(% per unit of z)"


def _renderer(fig):
    fig.draw_without_rendering()
    return fig.canvas.get_renderer()


def _shown(text) -> bool:
    return text.get_visible() and bool(text.get_text().strip())


def _is_colorbar(ax) -> bool:
    return hasattr(ax, "_colorbar") or ax.get_label() == "<colorbar>"


def _ticks(axis):
    """``(loc, text)`` of the labelled major ticks inside the view."""
    lo, hi = sorted(axis.get_view_interval())
    span = (hi - lo) or 1.0
    out = []
    for tick in axis.get_major_ticks():
        loc = tick.get_loc()
        if loc is None or not lo - 1e-9 * span <= loc <= hi + 1e-9 * span:
            continue
        labels = [lab for lab in (tick.label1, tick.label2) if _shown(lab)]
        if labels and tick.get_visible():
            out.append((float(loc), labels[0].get_text()))
    return out


def _numeric(text: str) -> bool:
    bare = re.sub(r"\\mathdefault|\\times|(?<=\d)e(?=[−+-]?\d)|[${}^\s]", "", text)
    return not re.search(r"[^\W\d_]", bare)


def _round(locs, log: bool) -> bool:
    def nice(value):
        mantissa = abs(value) / 10 ** np.floor(np.log10(abs(value)))
        return any(np.isclose(mantissa, n, rtol=1e-6) for n in NICE)

    locs = np.asarray(locs, dtype=float)
    if log:
        return all(nice(v) for v in locs if v > 0)
    if locs.size == 1:
        v = locs[0]
        return v == 0 or np.isclose(2 * v / 10 ** np.floor(np.log10(abs(v))),
                                    np.round(2 * v / 10 ** np.floor(np.log10(abs(v)))))
    step = np.min(np.diff(np.sort(locs)))
    return nice(step) and np.allclose(locs / step, np.round(locs / step), atol=1e-6)


def _overlays(fig, renderer):
    """``(name, bbox)`` of what is laid over axes: legends and anchored notes."""
    out = []
    for leg in [*fig.legends, *(ax.get_legend() for ax in fig.axes)]:
        if leg is not None and leg.get_visible():
            names = [t.get_text() for t in leg.get_texts()]
            out.append((f"legend {names}", leg.get_window_extent(renderer)))
    for ax in fig.axes:
        for art in ax.artists:
            if art.get_visible():
                out.append((f"note in {ax.get_title()!r}", art.get_window_extent(renderer)))
    return out


def _texts(fig, renderer):
    """``(name, bbox)`` of every shown text outside legends and notes."""
    out = [(f"text {t.get_text()!r}", t) for t in fig.texts if _shown(t)]   # suptitle too
    for ax in fig.axes:
        for t in (ax.title, ax._left_title, ax._right_title, *ax.texts):
            if _shown(t):
                out.append((f"title/text {t.get_text()!r}", t))
        for axis in (ax.xaxis, ax.yaxis):
            if not axis.get_visible():
                continue
            if _shown(axis.label):
                out.append((f"axis label {axis.label.get_text()!r}", axis.label))
            if _shown(axis.offsetText):
                out.append((f"offset {axis.offsetText.get_text()!r}", axis.offsetText))
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():
                loc = tick.get_loc()
                if loc is None or not lo - 1e-9 <= loc <= hi + 1e-9 or not tick.get_visible():
                    continue
                for lab in (tick.label1, tick.label2):
                    if _shown(lab):
                        out.append((f"tick label {lab.get_text()!r}", lab))
    return [(name, t.get_window_extent(renderer)) for name, t in out]


def _hits(artist, region, dpi) -> bool:
    """Whether ``artist`` (a data artist) draws anything inside ``region`` (display)."""
    if isinstance(artist, Line2D):
        xy = artist.get_transform().transform(np.asarray(artist.get_xydata(), dtype=float))
        xy = xy[np.all(np.isfinite(xy), axis=1)]
        if artist.get_linestyle() not in ("None", "none", "", " ") and len(xy) > 1:
            if MplPath(xy).intersects_bbox(region, filled=False):
                return True
        if artist.get_marker() not in (None, "None", "none", "", " ") and len(xy):
            pad = artist.get_markersize() * dpi / 72 / 2
            box = region.padded(pad)
            return bool(np.any((xy[:, 0] >= box.x0) & (xy[:, 0] <= box.x1)
                               & (xy[:, 1] >= box.y0) & (xy[:, 1] <= box.y1)))
        return False
    if isinstance(artist, PathCollection) and len(artist.get_offsets()):
        xy = artist.get_offset_transform().transform(np.asarray(artist.get_offsets()))
        size = np.sqrt(np.max(artist.get_sizes(), initial=1.0)) * dpi / 72 / 2
        box = region.padded(size)
        return bool(np.any((xy[:, 0] >= box.x0) & (xy[:, 0] <= box.x1)
                           & (xy[:, 1] >= box.y0) & (xy[:, 1] <= box.y1)))
    if isinstance(artist, Collection):
        transform = artist.get_transform()
        return any(transform.transform_path(p).intersects_bbox(region, filled=True)
                   for p in artist.get_paths())
    if isinstance(artist, Patch):
        path = artist.get_transform().transform_path(artist.get_path())
        return path.intersects_bbox(region, filled=artist.get_fill())
    if isinstance(artist, AxesImage):
        return artist.get_window_extent().overlaps(region)
    return False


def _data(ax):
    return [a for a in (*ax.lines, *ax.collections, *ax.patches, *ax.images)
            if a.get_visible()]


def _overlap(a: Bbox, b: Bbox, tol: float = 1.0) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > tol and min(a.y1, b.y1) - max(a.y0, b.y0) > tol


def legibility_problems(fig, *, title_words: int = 4) -> list[str]:
    """Everything that keeps ``fig`` from being read at a glance (empty list: none)."""
    renderer = _renderer(fig)
    problems = []
    page = fig.bbox
    overlays = _overlays(fig, renderer)
    texts = _texts(fig, renderer)
    # 1. nothing laid over data: legends and notes against every axes' data, clipped to it
    for name, box in overlays:
        inner = Bbox.from_extents(box.x0 + 1, box.y0 + 1, box.x1 - 1, box.y1 - 1)
        for ax in fig.axes:
            region = Bbox.intersection(inner, ax.bbox)
            if region is None or region.width <= 0 or region.height <= 0:
                continue
            hidden = [a.get_label() for a in _data(ax) if _hits(a, region, fig.dpi)]
            if hidden:
                problems.append(f"{name} lies over data {hidden} of axes {ax.get_title()!r}")
    # 2. no text or box under another, and all inside the figure
    boxes = overlays + texts
    for i, (name, box) in enumerate(boxes):
        if box.x0 < page.x0 - 1 or box.y0 < page.y0 - 1 or box.x1 > page.x1 + 1 \
                or box.y1 > page.y1 + 1:
            problems.append(f"{name} is cut by the edge of the figure")
        for other, obox in boxes[i + 1:]:
            if _overlap(box, obox):
                problems.append(f"{name} overlaps {other}")
    # 3. no line exactly under another drawn the same way
    for ax in fig.axes:
        lines = [l for l in ax.lines if l.get_visible() and len(l.get_xdata()) > 1]
        for i, a in enumerate(lines):
            for b in lines[i + 1:]:
                same = np.shape(a.get_xydata()) == np.shape(b.get_xydata()) and np.allclose(
                    a.get_xydata(), b.get_xydata(), equal_nan=True)
                if same and (a.get_linestyle(), a.get_marker()) == \
                        (b.get_linestyle(), b.get_marker()):
                    problems.append(f"line {a.get_label()!r} is hidden under "
                                    f"{b.get_label()!r} (same data, same style)")
    # 4. round ticks, and a unit on every numeric axis (colour bars included)
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            ticks = _ticks(axis) if axis.get_visible() else []
            if not ticks:
                continue
            where = f"{type(axis).__name__[0].lower()} axis of {ax.get_title() or ax.get_label()!r}"
            label = axis.label.get_text() if _shown(axis.label) else ""
            if all(_numeric(text) for _, text in ticks):
                if not _round([loc for loc, _ in ticks], axis.get_scale() == "log"):
                    problems.append(f"ticks of the {where} are not round: "
                                    f"{[text for _, text in ticks]}")
                if not UNIT.search(label):
                    problems.append(f"the {where} has no unit in its label {label!r}")
            elif not label:
                problems.append(f"the {where} (categories) has no label")
    # 5. a one-line title that says what to see
    sup = getattr(fig, "_suptitle", None)
    plain = [ax for ax in fig.axes if not _is_colorbar(ax)]
    title = sup.get_text() if sup is not None and _shown(sup) else (
        plain[0].get_title() if len(plain) == 1 else "")
    if len(title.split()) < title_words or "\n" in title:
        problems.append(f"the figure needs a one-line title of at least {title_words} words; "
                        f"got {title!r}")
    # 6. nothing too small to read
    for t in fig.findobj(Text):
        if _shown(t) and t.get_fontsize() < MIN_POINTS:
            problems.append(f"text {t.get_text()!r} is {t.get_fontsize():.1f} pt")
    return problems


def assert_legible(fig, **kw):
    problems = legibility_problems(fig, **kw)
    assert not problems, "\n".join(problems)


def test_legibility_check_sees_what_a_reader_would():
    """The check itself: it finds a legend over a line, odd ticks, a missing unit."""
    fig = plotting.new_figure((6, 4), "test")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], label="diagonal")
    ax.legend(loc="center")                                   # right on the line
    ax.set(yticks=[0.0, 0.37, 0.74], xlabel="time", ylabel="BOLD (%)",
           title="A line under its legend")
    found = " | ".join(legibility_problems(fig))
    assert "lies over data ['diagonal']" in found
    assert "not round" in found and "no unit in its label 'time'" in found
    ax.legend(loc="upper left")                               # clear of the line
    ax.set(yticks=[0.0, 0.25, 0.5, 0.75], xlabel="time (s)")
    assert_legible(fig)


def test_plot_bold_and_states_are_legible(run):
    z, bold, states = run
    fig = plotting.plot_bold(bold, "10 ms", tr="2 s", design=z[:, 0],
                             labels=["task region", "half-strength region"])
    assert_legible(fig)
    fig = plotting.plot_states(states, "10 ms", label="from rest",
                               title="The four states return to rest after the block")
    assert_legible(fig)


def test_plot_topography_and_leadfield_are_legible():
    from fwdmodels.leadfield import sphere_eeg_leadfield

    layout = sensors.eeg_1010(radius="9 cm")
    position = [[-0.03, 0.0, 0.057]] * fwdmodels.ureg.m
    L = sphere_eeg_leadfield(position, [0.884, 0.0, 0.466], layout.positions,
                             [8.1, 8.5, 9.0] * fwdmodels.ureg.cm,
                             [0.33, 0.0042, 0.33] * fwdmodels.ureg("S/m"))
    v = (10 * fwdmodels.ureg("nA*m") * L[0]).to("uV")
    fig = plotting.plot_topography(v, layout, unit="uV", label="potential",
                                   title="A tangential dipole: a dipolar pattern")
    assert_legible(fig)
    ticks = fig.axes[1].get_yticks()
    assert np.abs(v.magnitude).max() <= fig.axes[0].collections[0].norm.vmax
    assert ticks.min() < 0 < ticks.max()
    lay20 = sensors.eeg_1020(radius="9 cm")
    rows = np.array([[x, 0.0, np.sqrt(0.065 ** 2 - x ** 2)] for x in (-0.03, 0.0, 0.03)])
    L = sphere_eeg_leadfield(rows * fwdmodels.ureg.m, np.cross(rows / 0.065, [0, 1, 0]),
                             lay20.positions, [8.1, 8.5, 9.0] * fwdmodels.ureg.cm,
                             [0.33, 0.0042, 0.33] * fwdmodels.ureg("S/m"))
    fig = plotting.plot_leadfield(L, unit="uV/(nA*m)", sensor_names=lay20.names,
                                  source_names=["x = -3 cm", "x = 0 cm", "x = +3 cm"],
                                  title="Three tangential dipoles seen by the 10-20 cap")
    assert_legible(fig)


def test_summary_figure_is_legible(tmp_path, monkeypatch):
    """The demo's figure on data shaped like the demo's: four task blocks in 60 s, BOLD at
    TR = 1 s, 21 EEG and 102 MEG channels with a 10-Hz rhythm."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from fwdmodels._demo_figure import summary_figure

    drawn, original = [], FigureCanvasAgg.print_png

    @functools.wraps(original)                  # savefig reads the signature
    def catch(self, *args, **kwargs):
        if self.figure not in drawn:        # (Agg may print through here twice)
            drawn.append(self.figure)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FigureCanvasAgg, "print_png", catch)
    dt = 0.005
    t = np.arange(12000) * dt
    design = ((t % 15 >= 6) & (t % 15 < 14)).astype(float)
    z = np.column_stack([design, np.zeros_like(design)])
    bold = fwdmodels.simulate_bold(z, "5 ms", tr="1 s").magnitude
    rng = np.random.default_rng(0)
    alpha = np.sin(2 * np.pi * 10 * t)[:, None]
    eeg = 10 * alpha * rng.normal(size=21) + rng.normal(size=(t.size, 21))
    meg = 300 * alpha * rng.normal(size=102) + 30 * rng.normal(size=(t.size, 102))
    summary_figure(tmp_path / "summary.png", bold=bold, bold_dt=1.0, eeg=eeg, meg=meg,
                   sensor_dt=dt, eeg_names=list(sensors.NAMES_1020),
                   meg_names=[f"S{k:03d}M" for k in range(1, 103)], design=design,
                   design_dt=dt, bold_regions=[0, 1])
    (fig,) = drawn
    assert_legible(fig)
