"""Figures (behind the ``plot`` extra): BOLD time courses, hemodynamic states, sensor
topographies and lead-field matrices (the demo's summary figure is the demo's own:
:mod:`fwdmodels.demo`).

Every function builds its own :class:`matplotlib.figure.Figure` on the Agg canvas (no pyplot,
no global state, no display needed) and returns it, or draws into the ``ax`` it is given and
returns that axes' figure, so figures can be combined. :func:`save_figure` writes a PNG
atomically. matplotlib is imported inside the functions; without it they raise
:class:`~fwdmodels.errors.MissingDependencyError` naming the ``plot`` extra.

The figures are made to be projected: legends and notes are placed where they hide no data
(:func:`place_legend`, :func:`add_note`; the places are settled by :func:`arrange`, which
:func:`save_figure` calls), colour scales have round ticks, and every axis and colour bar
says its unit.

Conventions (those of the rest of the package): time first; a BOLD row ``n`` is at
``t = (n + 1) dt``; ``dt`` and ``tr`` carry their unit (``"10 ms"``); positions are length
Quantities; lead fields are ``(R, M)``, rows sources, columns sensors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import FwdModelsError, MissingDependencyError
from ._layout import (_engine_class, add_note, arrange, labelled, place_legend, round_levels,
                      unit_text)

__all__ = ["plot_bold", "plot_states", "plot_topography", "plot_leadfield", "project_layout",
           "new_figure", "save_figure", "place_legend", "add_note", "arrange"]

#: Panel titles, axis labels and rest values of the four hemodynamic states.
STATE_LABELS = {
    "x": ("x: vasodilatory signal", "x (1/s)", 0.0),
    "f": ("f: blood inflow", "f (normalised to rest)", 1.0),
    "v": ("v: venous volume", "v (normalised to rest)", 1.0),
    "q": ("q: deoxyhemoglobin", "q (normalised to rest)", 1.0),
}


def _matplotlib(feature: str = "fwdmodels.plotting"):
    """``(Figure, FigureCanvasAgg)``, or MissingDependencyError naming the ``plot`` extra."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError("matplotlib", "plot", feature) from None
    return Figure, FigureCanvasAgg


def new_figure(figsize=(8, 4), feature: str = "new_figure"):
    """An empty Figure of ``figsize`` inches on the Agg canvas, to combine several plots (pass
    its axes as ``ax=``) without pyplot. Its layout is matplotlib's constrained layout, after
    which the legends and notes of :func:`place_legend` and :func:`add_note` are moved off the
    data at every draw."""
    Figure, FigureCanvasAgg = _matplotlib(feature)
    fig = Figure(figsize=figsize, layout=_engine_class()())
    FigureCanvasAgg(fig)
    return fig


def _axes(ax, figsize, feature: str):
    """``(fig, ax)``: a new figure with one axes, or the figure of the ``ax`` given."""
    if ax is None:
        fig = new_figure(figsize, feature)
        return fig, fig.add_subplot()
    _matplotlib(feature)
    return ax.figure, ax


def save_figure(fig, path, *, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG at ``path`` (atomically; an existing file is replaced), its
    legends and notes moved off the data (:func:`arrange`).

    Returns the path written.
    """
    from ..io import atomic_path

    _matplotlib("save_figure")
    arrange(fig)
    path = Path(path)
    with atomic_path(path, force=True) as tmp:
        with open(tmp, "wb") as fh:
            fig.savefig(fh, format="png", dpi=dpi)
    return path


# ---------------------------------------------------------------------- reading inputs
def _dimensionless(values, name: str, unit) -> tuple[np.ndarray, str]:
    """A dimensionless signal (bare array = fraction) in ``unit``, as (T, N) floats + label."""
    from ..units import as_quantity, is_brainunit_quantity, parse_unit, ureg

    target = parse_unit(unit, "unit")
    if not target.dimensionality == ureg.dimensionless.dimensionality:
        raise FwdModelsError(f"`unit` must be dimensionless (e.g. 'percent'); got {target:~}")
    if is_brainunit_quantity(values) or hasattr(values, "dimensionality"):
        q = as_quantity(values, name)
        if not q.check("[]"):
            raise FwdModelsError(f"`{name}` must be dimensionless (a fraction of the resting "
                                 f"signal); got unit {q.units:~}")
        array = np.asarray(q.to(target).magnitude, dtype=float)
    else:
        factor = ureg.Quantity(1.0, "dimensionless").to(target).magnitude
        array = np.asarray(values, dtype=float) * factor
    return _time_first(array, name), (f"{target:~P}" or "fraction")


def _time_first(array: np.ndarray, name: str) -> np.ndarray:
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise FwdModelsError(f"`{name}` must have shape (T,) or (T, N), time first; got shape "
                             f"{array.shape}")
    return array


def _columns(n: int, regions, labels, name: str = "regions"):
    cols = list(range(n)) if regions is None else [int(r) for r in np.ravel(regions)]
    bad = [c for c in cols if not -n <= c < n]
    if bad:
        raise FwdModelsError(f"`{name}` must be column indices below {n}; got {bad}")
    if labels is None:
        names = [f"region {c}" for c in cols] if n > 1 else [None]
    else:
        labels = list(labels)
        if len(labels) != n:
            raise FwdModelsError(f"`labels` must name each of the {n} columns; got "
                                 f"{len(labels)} labels")
        names = [labels[c] for c in cols]
    return cols, names


def _values_in(values, name: str, unit):
    """Magnitudes (float array) of a Quantity in ``unit`` (or its own), or a bare array, and
    the unit's label ("" for a bare array)."""
    from ..units import as_quantity, is_brainunit_quantity, parse_unit

    if is_brainunit_quantity(values) or hasattr(values, "dimensionality"):
        q = as_quantity(values, name)
        if unit is not None:
            target = parse_unit(unit, "unit")
            if not q.check(target.dimensionality):
                raise FwdModelsError(f"`unit` must match the dimension of `{name}` "
                                     f"({q.units:~}); got {target:~}")
            q = q.to(target)
            shown = unit_text(unit) if isinstance(unit, str) else f"{q.units:~P}"
            return np.asarray(q.magnitude, dtype=float), shown
        return np.asarray(q.magnitude, dtype=float), f"{q.units:~P}"
    return np.asarray(values, dtype=float), "" if unit is None else unit_text(str(unit))


# ---------------------------------------------------------------------- BOLD and states
def plot_bold(bold, dt, *, tr=None, tr_mode="sample", regions=None, labels=None, design=None,
              unit="percent", title=None, ax=None):
    """BOLD time courses, with the samples a scanner would keep every TR marked.

    Parameters
    ----------
    bold : array_like or Quantity, shape (T,) or (T, N)
        BOLD signal, dimensionless (a bare array is a fraction of the resting signal), row
        ``n`` at ``t = (n + 1) dt`` (as :func:`~fwdmodels.simulate_bold` returns it).
    dt : pint.Quantity or str
        Time between rows, with its unit (``"10 ms"``).
    tr : pint.Quantity or str, optional
        Repetition time, a whole multiple of ``dt``: the TR samples (values at ``t = TR,
        2 TR, ...``, or window means with ``tr_mode="mean"``, see
        :func:`~fwdmodels.hemodynamics.sample_tr`) are drawn as markers on each line.
    tr_mode : {"sample", "mean"}
        How a TR sample is taken.
    regions : sequence of int, optional
        Columns to draw (default all).
    labels : sequence of str, optional
        One legend label per column of ``bold`` (default ``"region k"``).
    design : array_like, shape (T,), optional
        The neural input (``z[m]`` held over ``[m dt, (m + 1) dt)``): the intervals where it
        is positive are shaded.
    unit : str
        Dimensionless unit of the y axis (default ``"percent"``).
    title : str, optional
    ax : matplotlib Axes, optional
        Draw here instead of in a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; one line per column (label as given), then per column a line of TR markers
        (``linestyle="none"``, label ``"<label> every TR"``) when ``tr`` is given. The legend
        is placed by :func:`place_legend` (off the data once the figure is saved).
    """
    from ..hemodynamics.plan import read_dt
    from ..hemodynamics.sampling import TR_MODES, sample_tr, tr_ratio
    from .._validation import check_option

    fig, ax = _axes(ax, (8, 3.6), "plot_bold")
    values, unit_label = _dimensionless(bold, "bold", unit)
    dt_s = read_dt(dt)
    check_option(tr_mode, "tr_mode", TR_MODES)
    T, N = values.shape
    cols, names = _columns(N, regions, labels)
    t = (np.arange(T) + 1) * dt_s
    if design is not None:
        d = np.ravel(np.asarray(design, dtype=float))
        on = np.flatnonzero(np.diff(np.r_[0, (d > 0).astype(int), 0]))  # edges of "on" runs
        for k, (start, stop) in enumerate(zip(on[::2], on[1::2])):
            ax.axvspan(start * dt_s, stop * dt_s, color="0.9", zorder=0,
                       label="input on" if k == 0 else None)
    ax.axhline(0.0, color="0.6", lw=0.6, zorder=1)
    steps = tr_ratio(tr, dt_s)[1] if tr is not None else None
    for c, name in zip(cols, names):
        (line,) = ax.plot(t, values[:, c], lw=1.4, label=name)
        if steps is not None:
            samples = sample_tr(values[:, c:c + 1], steps, tr_mode, axis=0)[:, 0]
            t_tr = (np.arange(samples.size) + 1) * steps * dt_s
            ax.plot(t_tr, samples, ls="none", marker="o", ms=4, color=line.get_color(),
                    label=f"{name or 'BOLD'} every TR" + (" (mean)" if tr_mode == "mean" else ""))
    ax.set(xlabel="time (s)", ylabel=f"BOLD ({unit_label})",
           title=title or "BOLD signal" + (f", TR = {steps * dt_s:g} s" if steps else ""))
    if any(h.get_label() and not h.get_label().startswith("_") for h in ax.get_lines()):
        place_legend(ax)
    return fig


def plot_states(states, dt, *, regions=None, label=None, axes=None, title=None, **line_kw):
    """The four hemodynamic states (x, f, v, q) against time, one panel each.

    Parameters
    ----------
    states : mapping with keys ``"x", "f", "v", "q"``
        Arrays of shape (T,) or (T, N), row ``n`` at ``t = (n + 1) dt`` (the ``states`` of
        ``simulate_bold(..., return_states=True)``). x is in 1/s; f, v, q are normalised to
        rest (1).
    dt : pint.Quantity or str
        Time between rows, with its unit.
    regions : sequence of int, optional
        Columns to draw (default all).
    label : str, optional
        Legend label of these trajectories (with several regions: ``"<label>, region k"``).
    axes : sequence of 4 matplotlib Axes, optional
        Draw on these (e.g. ``fig.axes`` of an earlier call, to overlay a second run).
    title : str, optional
        Figure title (new figures only).
    **line_kw
        Passed to ``Axes.plot`` (e.g. ``ls="--"``).

    Returns
    -------
    matplotlib.figure.Figure
        Four axes in the order x, f, v, q, each titled with its state, its y axis labelled
        with its unit, a dotted line at the rest value (0, 1, 1, 1) and one line per region.
    """
    from ..hemodynamics.plan import read_dt

    dt_s = read_dt(dt)
    if not all(k in states for k in STATE_LABELS):
        raise FwdModelsError(f"`states` must have the keys 'x', 'f', 'v', 'q'; got "
                             f"{sorted(states)}")
    arrays = {k: _time_first(np.asarray(states[k], dtype=float), f"states[{k!r}]")
              for k in STATE_LABELS}
    T, N = arrays["x"].shape
    if any(a.shape != (T, N) for a in arrays.values()):
        raise FwdModelsError(f"`states` must hold arrays of one shape; got "
                             f"{ {k: a.shape for k, a in arrays.items()} }")
    cols, names = _columns(N, regions, None)
    if axes is None:
        fig = new_figure((9, 5.5), "plot_states")
        axes = fig.subplots(2, 2, sharex=True).ravel()
        for a, (text, ylabel, rest) in zip(axes, STATE_LABELS.values()):
            a.axhline(rest, color="0.5", ls=":", lw=0.8)
            a.set(title=text, ylabel=ylabel)
        for a in axes[2:]:
            a.set(xlabel="time (s)")
        if title:
            fig.suptitle(title)
    else:
        _matplotlib("plot_states")
        axes = list(axes)
        if len(axes) != 4:
            raise FwdModelsError(f"`axes` must be 4 axes (x, f, v, q); got {len(axes)}")
        fig = axes[0].figure
    t = (np.arange(T) + 1) * dt_s
    for a, key in zip(axes, STATE_LABELS):
        for c, name in zip(cols, names):
            text = label if name is None else (f"{label}, {name}" if label else name)
            a.plot(t, arrays[key][:, c], label=text, **line_kw)
    if any(l.get_label() and not l.get_label().startswith("_") for l in axes[0].get_lines()):
        place_legend(axes[0])
    return fig


# ---------------------------------------------------------------------- sensors
def _layout_positions(layout):
    """(positions in m (M, 3), names or None) of an EEGLayout, a MEGHelmet or positions."""
    from ..leadfield._inputs import read_positions

    if hasattr(layout, "positions") and hasattr(layout, "names"):
        return read_positions(layout.positions, "layout.positions"), tuple(layout.names)
    return read_positions(layout, "layout"), None


def project_layout(positions, origin=None) -> np.ndarray:
    """Azimuthal equidistant projection of sensor positions seen from above, in radians.

    A sensor at polar angle ``theta`` from +z (seen from ``origin``) and azimuth ``phi``
    lands at ``theta * (cos phi, sin phi)``: the vertex at the centre, distances from it
    true along every meridian, the equator (nasion, inion, pre-auricular points) on the
    circle of radius pi/2. The frame is the package's: x right, y front (nose up), z up.

    Parameters
    ----------
    positions : pint.Quantity, shape (M, 3), or EEGLayout / MEGHelmet
        Sensor positions, a length Quantity.
    origin : pint.Quantity, shape (3,), optional
        Centre of the projection (the centre of the head sphere; default the origin).

    Returns
    -------
    ndarray, shape (M, 2)
        Projected ``(x, y)``, in radians of arc from the vertex.
    """
    pos, _ = _layout_positions(positions)
    return _project(pos, origin)


def _project(pos: np.ndarray, origin) -> np.ndarray:
    from ..leadfield._inputs import read_positions

    centre = np.zeros(3) if origin is None else read_positions(origin, "origin", 1)[0]
    rel = pos - centre
    norm = np.linalg.norm(rel, axis=1)
    if np.any(norm == 0):
        raise FwdModelsError("`positions` must not coincide with `origin` (the projection's "
                             "centre); got a sensor at the origin")
    u = rel / norm[:, None]
    theta = np.arccos(np.clip(u[:, 2], -1.0, 1.0))
    phi = np.arctan2(u[:, 1], u[:, 0])
    return np.column_stack([theta * np.cos(phi), theta * np.sin(phi)])


def _head_outline(ax):
    """Head circle (the equator, radius pi/2), nose and ears, in projection coordinates."""
    r = np.pi / 2
    a = np.linspace(0, 2 * np.pi, 181)
    style = dict(color="k", lw=1.0, zorder=4)
    ax.plot(r * np.cos(a), r * np.sin(a), **style)
    ax.plot([-0.12, 0.0, 0.12], [r * 0.995, r + 0.18, r * 0.995], **style)   # nose (+y)
    e = np.linspace(-0.5, 0.5, 30) * np.pi
    for side in (-1, 1):                                                  # ears (±x)
        ax.plot(side * (r + 0.08 * np.cos(e)), 0.25 * np.sin(e), **style)


def plot_topography(values, layout, *, origin=None, unit=None, label="value", vmax=None,
                    names=False, contours=True, cmap="RdBu_r", title=None, colorbar=True,
                    ax=None):
    """A sensor topography: values at the sensors on the azimuthal equidistant projection.

    Parameters
    ----------
    values : array_like or Quantity, shape (M,)
        One value per sensor of ``layout`` (for a :class:`~fwdmodels.leadfield.MEGHelmet`,
        one per site, e.g. the magnetometers).
    layout : EEGLayout, MEGHelmet or pint.Quantity (M, 3)
        Sensor positions (:mod:`fwdmodels.leadfield.sensors`).
    origin : pint.Quantity, shape (3,), optional
        Centre of the head (of the projection).
    unit : str, optional
        Unit to show ``values`` in (a Quantity is converted; a bare array is labelled).
    label : str
        What the values are; the colour bar reads ``"<label> (<unit>)"``.
    vmax : float, optional
        Half-range of the symmetric colour scale, in ``unit`` (default the largest
        ``|value|``), rounded up to the edge of the outermost colour bin (see
        :func:`~fwdmodels.plotting._layout.round_levels`: bins with round edges, a middle bin
        centred on 0, colour-bar ticks at round values); give one vmax to several panels to
        compare them on one scale.
    names : bool
        Write the sensor names (when the layout has names).
    contours : bool
        Fill the map between the sensors (linear interpolation on their Delaunay triangles)
        with contour lines; the sensors are drawn as dots coloured by their value either way.
    cmap : str
    title : str, optional
    colorbar : bool
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        The sensors are the axes' first ``PathCollection`` (``ax.collections``): its offsets
        are :func:`project_layout` of the positions, its array the values and its norm the
        colour bins (``norm.boundaries``, symmetric about 0, holding every value).
    """
    fig, ax = _axes(ax, (4.6, 4.2), "plot_topography")
    data, unit_label = _values_in(values, "values", unit)
    pos, sensor_names = _layout_positions(layout)
    data = np.ravel(data)
    if data.size != pos.shape[0]:
        extra = ""
        if hasattr(layout, "channel_names") and data.size == 3 * pos.shape[0]:
            extra = " (for a MEGHelmet give one value per site, e.g. values[0::3], the " \
                    "magnetometers)"
        raise FwdModelsError(f"`values` must have one value per sensor ({pos.shape[0]}); got "
                             f"{data.size}{extra}")
    if not np.all(np.isfinite(data)):
        raise FwdModelsError(f"`values` must be finite; sensor {int(np.argmin(np.isfinite(data)))} "
                             f"is {data[~np.isfinite(data)][0]!r}")
    import matplotlib
    from matplotlib.colors import BoundaryNorm

    xy = _project(pos, origin)
    scale = float(vmax) if vmax is not None else float(np.max(np.abs(data), initial=0.0))
    scale = scale if scale > 0 else 1.0
    levels, ticks = round_levels(scale)              # round bins, the middle one around 0
    colours = matplotlib.colormaps[cmap]
    norm = BoundaryNorm(levels, colours.N)
    dots = ax.scatter(xy[:, 0], xy[:, 1], c=data, s=18, edgecolors="k", linewidths=0.5,
                      zorder=5, cmap=colours, norm=norm)
    mappable = dots
    if contours and data.size >= 3:
        import matplotlib.tri as mtri
        tri = mtri.Triangulation(xy[:, 0], xy[:, 1])
        inside = np.clip(data, levels[0], levels[-1])
        mappable = ax.tricontourf(tri, inside, levels=levels, zorder=2, cmap=colours,
                                  norm=norm)
        lines = levels[np.abs(levels) > levels[-1] / len(levels)]   # not around 0
        if np.ptp(data) > 0:
            ax.tricontour(tri, inside, levels=lines, colors="k", linewidths=0.3, alpha=0.5,
                          zorder=3)
    _head_outline(ax)
    if names and sensor_names:
        for (x, y), text in zip(xy, sensor_names):
            ax.annotate(text, (x, y), xytext=(0, 4), textcoords="offset points",
                        ha="center", fontsize=6, zorder=6)
    lim = max(np.pi / 2 + 0.3, float(np.max(np.abs(xy), initial=0.0)) + 0.15)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[], yticks=[])
    ax.set_frame_on(False)
    if title:
        ax.set_title(title)
    if colorbar:
        bar = fig.colorbar(mappable, ax=ax, shrink=0.8, label=labelled(label, unit_label))
        bar.set_ticks(ticks)
    return fig


def plot_leadfield(L, *, unit=None, label="lead field", source_names=None, sensor_names=None,
                   cmap="RdBu_r", title=None, max_ticks: int = 40, ax=None):
    """A lead-field matrix as an image: rows sources (regions), columns sensors.

    Parameters
    ----------
    L : array_like or Quantity, shape (R, M)
        The lead field (:func:`~fwdmodels.leadfield.sphere_eeg_leadfield`, a region lead
        field...), or a :class:`~fwdmodels.leadfield.LeadFieldModel` (its ``L``).
    unit : str, optional
        Unit to show it in (e.g. ``"uV/(nA*m)"``).
    label : str
        What the values are; the colour bar reads ``"<label> (<unit>)"``.
    source_names, sensor_names : sequence of str, optional
        Tick labels (shown when there are at most ``max_ticks``).
    cmap : str
        A diverging colour map; the scale is symmetric about 0.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        One image (``ax.images[0]``, its array the matrix in ``unit``) and a colour bar.
    """
    if hasattr(L, "L") and hasattr(L, "sensor_unit"):   # a LeadFieldModel
        L = L.L
    fig, ax = _axes(ax, (8, 4), "plot_leadfield")
    data, unit_label = _values_in(L, "L", unit)
    if data.ndim != 2:
        raise FwdModelsError(f"`L` must be a matrix (R, M): sources by sensors; got shape "
                             f"{data.shape}")
    R, M = data.shape
    scale = float(np.nanmax(np.abs(data), initial=0.0)) or 1.0
    image = ax.imshow(data, aspect="auto", interpolation="nearest", cmap=cmap,
                      vmin=-scale, vmax=scale)
    ax.set(xlabel=f"sensor ({M} columns of L)", ylabel=f"source ({R} rows of L)",
           title=title or "Lead field")
    for names, n, setter in ((source_names, R, "y"), (sensor_names, M, "x")):
        if names is not None and len(names) == n and n <= max_ticks:
            getattr(ax, f"set_{setter}ticks")(np.arange(n))
            getattr(ax, f"set_{setter}ticklabels")(list(names),
                                                    rotation=90 if setter == "x" else 0)
    fig.colorbar(image, ax=ax, label=labelled(label, unit_label))
    return fig

