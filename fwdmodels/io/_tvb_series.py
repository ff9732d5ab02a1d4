"""TVB time-series H5 files as containers: one (time, region) entry per state and mode.

TVB writes a time series (``TimeSeriesRegion`` and the others) as HDF5 with a 4-D ``data``
(time, state variable, region, mode) and file attributes ``TVB_sample_period``,
``TVB_sample_period_unit`` and ``TVB_labels_dimensions`` (JSON: state variable and region
names). :mod:`fwdmodels.io.formats` opens such a file as HDF5 and hands it here, and each
(state variable, mode) becomes an entry named after the state variable: ``"V"`` (one mode)
or ``"V:0"``, ``"V:1"``...; a state variable is also found by its index (``"0"``, ``"0:1"``),
and ``"data"`` names the only one. See :mod:`fwdmodels.io.tvb` for TVB's other files.
"""

from __future__ import annotations

import json

import numpy as np

from ._containers import Container, Entry

__all__ = ["is_tvb_time_series", "tvb_entries"]


def is_tvb_time_series(attrs: dict, entries) -> bool:
    """True for an HDF5 file TVB wrote for a time series (a 4-D ``data`` and TVB's
    attributes)."""
    tvb = any(k in attrs for k in ("TVB_sample_period", "TVB_labels_ordering",
                                   "TVB_written_by"))
    data = entries.get("data")
    return tvb and data is not None and len(data.shape) == 4


def _json_attr(attrs: dict, name: str, default):
    value = attrs.get(name)
    if value is None:
        return default
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return default
    return parsed if isinstance(parsed, type(default)) else default


def _axis_names(dims: dict, key: str, n: int):
    names = dims.get(key)
    if isinstance(names, list) and len(names) == n and all(isinstance(v, str) for v in names):
        return tuple(names)
    return None


class _StateModeView:
    """One (state variable, mode) of a (time, state, region, mode) dataset as (time, region)."""

    def __init__(self, ds, state: int, mode: int):
        self.ds, self.state, self.mode = ds, state, mode
        self.shape = (ds.shape[0], ds.shape[2])
        self.dtype = ds.dtype
        self.ndim = 2

    def __getitem__(self, index):
        t, r = index if isinstance(index, tuple) else (index, slice(None))
        return np.asarray(self.ds[t, self.state, r, self.mode])

    def __array__(self, dtype=None, copy=None):
        out = self[:, :]
        return out if dtype is None else out.astype(dtype)


def tvb_entries(c: Container) -> None:
    """Present the 4-D ``data`` of a TVB time-series container as one (time, region) entry per
    state variable and mode (see the module documentation); ``c`` is changed in place."""
    raw = c.entries.pop("data")
    T, S, R, M = raw.shape
    dims = _json_attr(c.attrs, "TVB_labels_dimensions", {})
    states = _axis_names(dims, "State Variable", S) or tuple(str(s) for s in range(S))
    regions = _axis_names(dims, "Region", R)
    modes = _axis_names(dims, "Mode", M)
    keys, aliases = {}, {}
    ds = raw.getter()
    for s, state in enumerate(states):
        for m in range(M):
            name = state if M == 1 else f"{state}:{modes[m] if modes else m}"
            entry = Entry(name, (T, R), raw.dtype,
                          (lambda s=s, m=m: _StateModeView(ds, s, m)), external=raw.external)
            entry.region_names = regions
            entry.tvb = {"state_variable": state, "state_index": s, "mode": m}
            keys[name] = entry
            for alias in (f"{s}:{m}", f"{state}:{m}") + ((str(s), state) if M == 1 else ()):
                aliases.setdefault(alias, name)
    if S * M == 1:
        aliases["data"] = next(iter(keys))
    c.entries.update(keys)
    c.key_aliases = aliases
    c.tvb_layout = {"stored_shape": (T, S, R, M), "state_variables": states,
                    "labels_ordering": _json_attr(c.attrs, "TVB_labels_ordering", [])}
