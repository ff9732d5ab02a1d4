"""Legible figures: legends and notes that hide no data, round colour scales, unit labels.

A figure projected in a lecture is read at a glance, so a legend or a note must not sit on a
curve, ticks are round numbers and every axis says its unit. :func:`place_legend` and
:func:`add_note` make a legend or a text box whose place is chosen when the figure is drawn:
after the constrained layout, each goes to the first of its candidate places where it covers
no data of any axes (lines, markers, filled areas, bars, images) and no other legend or
note, and, if no place inside the axes is free, outside them (to the right or below), the
layout then being redone. Figures of :func:`~fwdmodels.plotting.new_figure` do this at every
draw (their layout engine); :func:`arrange` does it for any other figure.
:func:`round_levels` gives a symmetric colour scale whose bins and colour-bar ticks are round
numbers.

matplotlib is imported by the callers (these helpers receive its objects).
"""

from __future__ import annotations

import re

import numpy as np

#: Candidate places of a legend or a note inside the axes, in the order they are tried.
INSIDE = ("upper right", "upper left", "lower right", "lower left", "center right",
          "center left", "upper center", "lower center")
#: Mantissas of round steps: 1, 2, 2.5 or 5 times a power of ten.
ROUND_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
_PLACE = "_fwdmodels_place"        # attribute holding (candidates, outside) on a placed box
_OUT = "_fwdmodels_outside"         # set on a box once it has been put outside its axes


def place_legend(ax, *, where=INSIDE, outside: str = "right", **kwargs):
    """A legend on ``ax`` that :func:`arrange` moves off the data.

    Parameters
    ----------
    ax : matplotlib Axes
    where : sequence of str
        Places inside the axes to try, in order (``"upper right"``, ...).
    outside : {"right", "below"}
        Where it goes when none of ``where`` is free.
    **kwargs
        Passed to ``Axes.legend`` (``handles``, ``ncols``, ...).

    Returns
    -------
    matplotlib.legend.Legend
    """
    _check_outside(outside)
    legend = ax.legend(loc=where[0] if where else "upper left", **kwargs)
    setattr(legend, _PLACE, (tuple(where), outside))
    return legend


def add_note(ax, text: str, *, where=INSIDE, outside: str = "below", size=None):
    """A framed text box on ``ax`` (an explanation, a caveat) that :func:`arrange` moves off
    the data, like a legend. ``size`` is the font size (default the axes' tick label size).

    Returns
    -------
    matplotlib.offsetbox.AnchoredText
        Its text is ``note.txt._text.get_text()``.
    """
    from matplotlib.offsetbox import AnchoredText

    _check_outside(outside)
    note = AnchoredText(text, loc=where[0] if where else "upper center", frameon=True,
                        prop={"size": size or "medium"}, pad=0.4, borderpad=0.6)
    note.patch.set(boxstyle="round,pad=0.2", facecolor="white", edgecolor="0.6", alpha=0.95)
    ax.add_artist(note)
    setattr(note, _PLACE, (tuple(where), outside))
    return note


def _check_outside(outside):
    from .._validation import check_option

    check_option(outside, "outside", ("right", "below"))


def arrange(fig):
    """Put every legend and note made by :func:`place_legend` / :func:`add_note` in ``fig``
    where it hides no data and no other box; returns ``fig``.

    Figures made by :func:`~fwdmodels.plotting.new_figure` do this by themselves each time
    they are drawn (their layout engine runs it after the constrained layout); call this for
    a figure of your own before saving it (:func:`~fwdmodels.plotting.save_figure` does).
    """
    if isinstance(fig.get_layout_engine(), _engine_class()):
        return fig                            # done at its next draw
    for _ in range(_n_boxes(fig) + 1):
        fig.draw_without_rendering()
        if not _arrange_pass(fig, fig.canvas.get_renderer()):
            break
    return fig


def _n_boxes(fig) -> int:
    return sum(hasattr(box, _PLACE) for ax in fig.axes for box in (ax.get_legend(), *ax.artists))


def _arrange_pass(fig, renderer) -> bool:
    """One pass over the boxes of ``fig`` with its layout as it is: each box not yet outside
    goes to its first free place, or outside. Returns whether one went outside (the layout
    must then be redone)."""
    for ax in fig.axes:
        ax._unstale_viewLim()                 # autoscaled limits, as the draw will have them
    settled, newly_out = [], False
    for ax in fig.axes:
        for box in (ax.get_legend(), *ax.artists):
            if not hasattr(box, _PLACE):
                continue
            where, outside = getattr(box, _PLACE)
            if not getattr(box, _OUT, False):
                for loc in where:
                    _set_loc(box, loc)
                    if _free(box.get_window_extent(renderer), fig, settled):
                        break
                else:
                    _put_outside(box, ax, outside, renderer)
                    setattr(box, _OUT, True)
                    newly_out = True
            settled.append(box.get_window_extent(renderer))
    return newly_out


_ENGINE = []


def _engine_class():
    """The layout engine of :func:`~fwdmodels.plotting.new_figure`: matplotlib's constrained
    layout, then :func:`arrange`'s placing of legends and notes, redone while a box moves
    outside its axes."""
    if not _ENGINE:
        from matplotlib.layout_engine import ConstrainedLayoutEngine

        class ArrangingLayoutEngine(ConstrainedLayoutEngine):
            def execute(self, fig):
                result = super().execute(fig)
                renderer = fig._get_renderer()
                for _ in range(_n_boxes(fig)):
                    if not _arrange_pass(fig, renderer):
                        break
                    result = super().execute(fig)
                return result

        _ENGINE.append(ArrangingLayoutEngine)
    return _ENGINE[0]


def _set_loc(box, loc):
    from matplotlib.offsetbox import AnchoredOffsetbox

    codes = AnchoredOffsetbox.codes
    if hasattr(box, "get_texts"):          # a Legend
        box._loc = codes[loc]
    else:
        box.loc = codes[loc]


def _put_outside(box, ax, outside, renderer):
    """Anchor ``box`` just right of ``ax`` (top-aligned) or just below its x tick labels and
    x label (centred)."""
    from matplotlib.offsetbox import AnchoredOffsetbox
    from matplotlib.transforms import ScaledTranslation

    fig = ax.figure
    if outside == "right":
        anchor, loc = (1.0, 1.0), "upper left"
        shift = ScaledTranslation(0.05, 0.0, fig.dpi_scale_trans)
    else:
        below = [t.get_window_extent(renderer) for t in
                 (ax.xaxis.label, *ax.xaxis.get_ticklabels()) if t.get_visible() and t.get_text()]
        gap = max([ax.bbox.y0 - b.y0 for b in below], default=0.0)
        anchor, loc = (0.5, 0.0), "upper center"
        shift = ScaledTranslation(0.0, -(max(gap, 0.0) / fig.dpi + 0.05), fig.dpi_scale_trans)
    transform = ax.transAxes + shift
    if hasattr(box, "get_texts"):
        box._loc = AnchoredOffsetbox.codes[loc]
        box.set_bbox_to_anchor(anchor, transform=transform)
    else:
        box.loc = AnchoredOffsetbox.codes[loc]
        box.set_bbox_to_anchor(anchor, transform=transform)
        box.borderpad = 0.0


def _free(extent, fig, others) -> bool:
    """Whether a box at ``extent`` (display) covers no data of any axes and no box in
    ``others``."""
    if any(_overlap(extent, o) for o in others):
        return False
    inner = extent.padded(4.0)            # a little clear space around the box
    for ax in fig.axes:
        region = _intersection(inner, ax.bbox)
        if region is not None and any(_covers(a, region, fig.dpi) for a in _data(ax)):
            return False
    return True


def _data(ax):
    return [a for a in (*ax.lines, *ax.collections, *ax.patches, *ax.images) if a.get_visible()]


def _intersection(a, b):
    from matplotlib.transforms import Bbox

    x0, y0, x1, y1 = max(a.x0, b.x0), max(a.y0, b.y0), min(a.x1, b.x1), min(a.y1, b.y1)
    return Bbox.from_extents(x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _overlap(a, b) -> bool:
    return min(a.x1, b.x1) > max(a.x0, b.x0) and min(a.y1, b.y1) > max(a.y0, b.y0)


def _covers(artist, region, dpi) -> bool:
    """Whether ``artist`` draws inside ``region`` (a display Bbox)."""
    from matplotlib.collections import Collection, PathCollection
    from matplotlib.image import AxesImage
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.path import Path

    def inside(points, pad):
        box = region.padded(pad)
        return bool(np.any((points[:, 0] >= box.x0) & (points[:, 0] <= box.x1)
                           & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1)))

    if isinstance(artist, Line2D):
        xy = artist.get_transform().transform(np.asarray(artist.get_xydata(), dtype=float))
        xy = xy[np.all(np.isfinite(xy), axis=1)]
        drawn = artist.get_linestyle() not in ("None", "none", "", " ")
        if drawn and len(xy) > 1 and Path(xy).intersects_bbox(region, filled=False):
            return True
        marked = artist.get_marker() not in (None, "None", "none", "", " ")
        return marked and len(xy) > 0 and inside(xy, artist.get_markersize() * dpi / 144)
    if isinstance(artist, PathCollection) and len(artist.get_offsets()):
        xy = artist.get_offset_transform().transform(np.asarray(artist.get_offsets()))
        return inside(xy, np.sqrt(np.max(artist.get_sizes(), initial=1.0)) * dpi / 144)
    if isinstance(artist, Collection):
        transform = artist.get_transform()
        return any(transform.transform_path(p).intersects_bbox(region, filled=True)
                   for p in artist.get_paths())
    if isinstance(artist, Patch):
        path = artist.get_transform().transform_path(artist.get_path())
        return bool(path.intersects_bbox(region, filled=artist.get_fill()))
    if isinstance(artist, AxesImage):
        return _overlap(artist.get_window_extent(), region)
    return False


# ---------------------------------------------------------------------- round numbers
def round_step(span: float, parts: float) -> float:
    """The smallest round step (1, 2, 2.5 or 5 times a power of ten) at least
    ``span / parts``."""
    raw = abs(float(span)) / parts
    if not np.isfinite(raw) or raw <= 0:
        return 1.0
    power = 10.0 ** np.floor(np.log10(raw))
    return next(m * power for m in ROUND_STEPS if m * power >= raw * (1 - 1e-12))


def round_levels(scale: float) -> tuple[np.ndarray, np.ndarray]:
    """``(levels, ticks)`` of a symmetric colour scale that holds ``[-scale, scale]``.

    The ticks are the multiples of a round step ``s`` (about ``scale / 4``); the bins are
    ``s / 2`` wide, their edges at odd multiples of ``s / 4``, so that one bin is centred on
    0 (values that are zero to rounding all get the middle colour) and each tick sits in the
    middle of a bin. The outermost edges, ``±levels[-1]``, are ``scale`` rounded up to the
    next edge.
    """
    step = round_step(scale, 4)
    half = step / 2
    n = max(1, int(np.ceil(scale / half - 0.5 - 1e-9)))
    levels = (np.arange(-n - 1, n + 1) + 0.5) * half
    k = int(np.floor(levels[-1] / step + 1e-9))
    return levels, np.arange(-k, k + 1) * step


def unit_text(unit) -> str:
    """A unit written for a reader: ``"uV/(nA*m)"`` -> ``"µV/(nA·m)"``."""
    text = str(unit)
    text = re.sub(r"(?<![A-Za-z])u(?=[A-Za-zΩ])", "µ", text)
    return text.replace("**", "^").replace("*", "·")


def labelled(name: str, unit: str) -> str:
    """``"name (unit)"``, or ``name`` alone when there is no unit."""
    return f"{name} ({unit})" if unit else name
