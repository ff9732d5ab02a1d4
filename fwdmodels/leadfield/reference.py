"""EEG references as matrices acting on sensor rows.

Sensor data are ``(…, M)`` with channels last, so a reference is applied as ``y @ P`` with an
``(M, M)`` matrix ``P``. A user's re-referencing matrix ``A`` follows the usual convention
``y_ref = A @ y`` for one sample (a column), and is stored as ``P = A.T``.

* ``None``: the potential against a reference at infinity (the lead field as computed).
* ``"average"``: ``y − mean(y)`` over channels (``P = I − 11ᵀ/M``); the channels then sum to 0.
* an int ``k`` in ``[0, M)``: ``y − y[k]`` (channel ``k`` becomes the reference and reads 0;
  negative indices are refused rather than counted from the end).
* an ``(M, M)`` array ``A``: any linear montage (bipolar pairs, Laplacians, projectors).

MEG measures a field, not a potential difference, so it has no reference: ``"average"`` and a
channel index are refused for MEG (an ``(M, M)`` projector is accepted).
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import as_float_array, check_finite
from ..errors import FwdModelsError

__all__ = ["reference_matrix", "apply_reference"]


def reference_matrix(reference, n_channels: int, modality: str = "eeg") -> np.ndarray | None:
    """Return the ``(M, M)`` matrix ``P`` with ``y_ref = y @ P``, or None for no reference.

    Parameters
    ----------
    reference : None, "average", int or array_like of shape (M, M)
        See the module documentation.
    n_channels : int
        Number of channels ``M``.
    modality : {"eeg", "meg", "other"}
        ``"meg"`` refuses ``"average"`` and a channel index.
    """
    m = n_channels
    if reference is None:
        return None
    if isinstance(reference, str):
        if reference != "average":
            raise FwdModelsError(f"`reference` must be None, 'average', a channel index or an "
                                 f"({m}, {m}) matrix; got {reference!r}")
        if modality == "meg":
            raise FwdModelsError("`reference` 'average' is for EEG potentials: MEG measures a "
                                 "field and has no reference; got reference='average' for MEG "
                                 "(pass reference=None, or an (M, M) projector matrix)")
        return np.eye(m) - np.full((m, m), 1.0 / m)
    if isinstance(reference, (bool, np.bool_)):
        raise FwdModelsError(f"`reference` must be None, 'average', a channel index (an int in "
                             f"[0, {m})) or an ({m}, {m}) matrix, not a bool; got "
                             f"reference={reference!r} (for a reference at infinity pass None, "
                             f"for the average reference 'average')")
    if isinstance(reference, numbers.Integral):
        if modality == "meg":
            raise FwdModelsError(f"`reference` as a channel index is for EEG: MEG has no "
                                 f"reference channel; got reference={reference} for MEG")
        k = int(reference)
        if not 0 <= k < m:
            raise FwdModelsError(f"`reference` as a channel index must lie in [0, {m}); "
                                 f"got {k}")
        p = np.eye(m)
        p[k, :] -= 1.0
        return p
    matrix = as_float_array(reference, "reference", (2,))
    if matrix.shape != (m, m):
        raise FwdModelsError(f"`reference` as a matrix must have shape ({m}, {m}); got shape "
                             f"{matrix.shape}")
    check_finite(matrix, "reference", ("row", "column"))
    return np.ascontiguousarray(matrix.T)


def apply_reference(y: np.ndarray, p: np.ndarray | None) -> np.ndarray:
    """Return ``y @ p`` (channels last), or ``y`` itself when ``p`` is None."""
    return y if p is None else y @ p
