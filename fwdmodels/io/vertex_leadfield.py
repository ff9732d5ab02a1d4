"""Where the pipeline finds the reading of vertex-level lead fields (see
:mod:`fwdmodels.leadfield.vertex`, where it lives: the reduction to regions is lead-field work).

:func:`is_tvb_leadfield_spec` is io's own (a name, no file is read); the other names are
handed on from :mod:`fwdmodels.leadfield.vertex` when first asked for, so importing io never
loads the lead-field package.
"""

from .tvb import is_tvb_leadfield_spec

__all__ = ["is_tvb_leadfield_spec"]

_MOVED = ("read_vertex_leadfield", "read_parcellation")


def __getattr__(name):
    if name in _MOVED:
        from ..leadfield import vertex

        return getattr(vertex, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
