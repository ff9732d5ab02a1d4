"""From vertex-level lead fields to region lead fields.

A source model with V vertices has a free-orientation lead field of ``3V`` rows interleaved
``x, y, z`` per vertex (the order MNE-Python uses for its columns; here transposed, rows are
sources) or a fixed-orientation one of ``V`` rows. A region lead field is a weighted
combination of vertex rows:

.. math::  L_\\text{region} = W\\,L_\\text{vertex},\\qquad W_{rv} = p_{rv}\\,a_v\\,s_v\\,/\\,c_r

with ``p`` the parcellation (one-hot from labels, or soft memberships), ``a`` the vertex
areas, ``s`` an optional sign flip (±1 per vertex, aligning the normals of a region with
its dominant direction by MNE-Python's ``label_sign_flip`` rule) and ``c_r = Σ_v p_rv a_v``
for a mean, 1 for a sum. Units pass through: a Quantity stays a Quantity in the same unit.

The default everywhere (:func:`region_leadfield`,
:func:`fwdmodels.leadfield.forward.read_forward_leadfield`, the command line) is the **mean**:
a region's dipole moment is its total, spread over its vertices in proportion to their areas
(equally when no areas are known), so the region lead field does not grow with the number of
vertices of the source space. ``reduce="sum"`` gives every vertex the whole moment: the
convention for moment densities and that of TVB's EEG monitor (which sums vertex columns per
region).

:func:`reduce_vertex_leadfield` does the same for any (vertices, sensors) matrix, after a
stated policy for sensors with non-finite values (:func:`nan_sensors`: drop them, the
default, zero them as TVB does, or refuse).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_finite, check_option
from ..errors import FwdModelsError
from ..units import as_quantity, is_brainunit_quantity

__all__ = ["fixed_orientation", "parcellation_matrix", "sign_flips", "region_leadfield",
           "REDUCTIONS", "describe_reduction", "nan_sensors", "NAN_SENSOR_POLICIES",
           "reduce_vertex_leadfield"]

#: The ways vertices combine into a region, the default first.
REDUCTIONS = ("mean", "sum")


def _split_unit(L, name):
    if is_brainunit_quantity(L) or hasattr(L, "dimensionality"):
        q = as_quantity(L, name)
        return np.asarray(q.magnitude, dtype=float), q.units
    return None, None


def _wrap(values, unit):
    if unit is None:
        return values
    from ..units import ureg
    return ureg.Quantity(values, unit)


def _read_normals(normals, n_vertices):
    nrm = as_float_array(normals, "normals", (2,))
    if nrm.shape != (n_vertices, 3):
        raise FwdModelsError(f"`normals` must have shape ({n_vertices}, 3); got shape "
                             f"{nrm.shape}")
    length = np.linalg.norm(nrm, axis=1)
    if np.any(length == 0):
        raise FwdModelsError(f"`normals` must be non-zero; row {int(np.argmin(length))} is zero")
    return nrm / length[:, None]


def fixed_orientation(L_free, normals):
    """Project a free-orientation vertex lead field on the surface normals.

    Parameters
    ----------
    L_free : array_like or Quantity, shape (3V, M) or (V, 3, M)
        Rows interleaved x, y, z per vertex (or the (V, 3, M) array).
    normals : array_like, shape (V, 3)
        Vertex normals (normalised here).

    Returns
    -------
    (V, M) array or Quantity: ``L[v] = Σ_k n_vk L_free[3v + k]``.
    """
    values, unit = _split_unit(L_free, "L_free")
    values = as_float_array(L_free if values is None else values, "L_free", (2, 3))
    if values.ndim == 2:
        if values.shape[0] % 3:
            raise FwdModelsError(f"`L_free` must have 3V rows (x, y, z per vertex); got "
                                 f"{values.shape[0]} rows")
        values = values.reshape(values.shape[0] // 3, 3, values.shape[1])
    if values.shape[1] != 3:
        raise FwdModelsError(f"`L_free` must have shape (V, 3, M); got {values.shape}")
    nrm = _read_normals(normals, values.shape[0])
    return _wrap(np.einsum("vkm,vk->vm", values, nrm), unit)


def parcellation_matrix(parcellation, n_vertices: int, n_regions: int | None = None):
    """The ``(R, V)`` membership matrix from labels ``(V,)`` (−1: no region) or ``(R, V)``."""
    p = np.asarray(parcellation)
    if p.ndim == 1:
        if p.shape[0] != n_vertices or p.dtype.kind not in "iu":
            raise FwdModelsError(f"`parcellation` as labels must be {n_vertices} integers (one "
                                 f"per vertex, -1 for none); got shape {p.shape}, dtype "
                                 f"{p.dtype}")
        r = int(p.max()) + 1 if n_regions is None else n_regions
        if p.min() < -1 or p.max() >= r:
            raise FwdModelsError(f"`parcellation` labels must lie in [-1, {r}); got "
                                 f"[{p.min()}, {p.max()}]")
        matrix = np.zeros((r, n_vertices))
        assigned = p >= 0
        matrix[p[assigned], np.nonzero(assigned)[0]] = 1.0
        return matrix
    matrix = as_float_array(p, "parcellation", (2,))
    if matrix.shape[1] != n_vertices:
        raise FwdModelsError(f"`parcellation` as a matrix must have shape (R, {n_vertices}); "
                             f"got shape {matrix.shape}")
    check_finite(matrix, "parcellation", ("region", "vertex"))
    if np.any(matrix < 0):
        raise FwdModelsError("`parcellation` weights must be non-negative; got "
                             f"{float(matrix.min())!r}")
    return matrix


def sign_flips(normals, membership) -> np.ndarray:
    """Per region and vertex, the sign that aligns each normal with the region's direction.

    The rule of MNE-Python's ``mne.label_sign_flip`` (MNE 1.x, ``mne/label.py``), applied to
    the vertices with a non-zero weight in each row of ``membership`` (unweighted, as MNE
    takes a label's vertices): with ``n_v`` the unit normals of the region and ``u`` the
    first right singular vector of the stacked normals, ``d_v = n_v · u``; if the mean of
    ``d_v`` is negative every ``d_v`` changes sign; the flip is ``sign(d_v)`` (0 for a normal
    exactly perpendicular to ``u``, as in MNE). Vertices outside a region get 1.

    Parameters
    ----------
    normals : array_like, shape (V, 3)
        Vertex normals (normalised here).
    membership : array_like, shape (R, V)
        Region weights (see :func:`parcellation_matrix`).

    Returns
    -------
    numpy.ndarray, shape (R, V)
    """
    membership = np.asarray(membership, dtype=float)
    nrm = _read_normals(normals, membership.shape[1])
    flips = np.ones_like(membership)
    for r, row in enumerate(membership):
        idx = np.nonzero(row)[0]
        if idx.size == 0:
            continue
        _, _, vt = np.linalg.svd(nrm[idx], full_matrices=False)
        dots = nrm[idx] @ vt[0]
        if np.mean(dots) < 0:
            dots = -dots
        flips[r, idx] = np.sign(dots)
    return flips


def describe_reduction(reduce: str, areas: str | None = None, sign_flip: bool = False) -> str:
    """One sentence for output metadata: how vertices were combined into regions.

    ``areas`` says where the vertex areas came from (None: no areas, equal weights).
    """
    check_option(reduce, "reduce", REDUCTIONS)
    if reduce == "mean":
        text = ("mean: the region's dipole moment spread over its vertices "
                + (f"in proportion to their areas ({areas})" if areas else "equally (no vertex "
                   "areas known)"))
    else:
        text = ("sum: every vertex carries the region's whole moment"
                + (f", vertex rows weighted by their areas ({areas})" if areas else ""))
    if sign_flip:
        text += "; signs flipped by MNE-Python's label_sign_flip rule"
    return text


def region_leadfield(L_vertex, parcellation, *, normals=None, areas=None, reduce="mean",
                     sign_flip=False):
    """Region lead field ``(R, M)`` from a vertex lead field.

    Parameters
    ----------
    L_vertex : array_like or Quantity, shape (V, M), (3V, M) or (V, 3, M)
        Vertex lead field; with free orientation (3V rows interleaved x, y, z per vertex, or
        (V, 3, M)) ``normals`` are required and the rows are first projected on them.
    parcellation : array_like
        Integer labels ``(V,)`` (``-1``: outside every region) or an ``(R, V)`` membership
        matrix (one-hot or soft weights ≥ 0).
    normals : array_like, shape (V, 3), optional
        Vertex normals (for free orientation and for ``sign_flip``).
    areas : array_like, shape (V,), optional
        Vertex areas (any unit, only ratios matter for a mean) weighting each vertex.
    reduce : {"mean", "sum"}
        ``"mean"`` (default): the area-weighted mean of the vertex rows (equal weights without
        ``areas``): the region's moment spread over its vertices. ``"sum"``: the (weighted)
        sum, every vertex carrying the whole moment (moment densities; TVB's convention).
    sign_flip : bool
        Flip vertices whose normal points against the region's dominant direction, so that
        opposite walls of a sulcus do not cancel (MNE-Python's rule, see :func:`sign_flips`).

    Returns
    -------
    (R, M) array or Quantity (same unit as ``L_vertex``).
    """
    check_option(reduce, "reduce", REDUCTIONS)
    values, unit = _split_unit(L_vertex, "L_vertex")
    values = as_float_array(L_vertex if values is None else values, "L_vertex", (2, 3))
    n_rows = values.shape[0]
    if values.ndim == 3 or (normals is not None and n_rows != np.shape(normals)[0]):
        if normals is None:
            raise FwdModelsError("`normals` must be given for a free-orientation `L_vertex`; "
                                 f"got L_vertex of shape {values.shape} and normals=None")
        values = fixed_orientation(values, normals)
    n_vertices = values.shape[0]
    membership = parcellation_matrix(parcellation, n_vertices)
    weights = membership.copy()
    if areas is not None:
        a = as_float_array(getattr(areas, "magnitude", areas), "areas", (1,))
        if a.shape != (n_vertices,) or not np.all(np.isfinite(a)) or np.any(a < 0):
            raise FwdModelsError(f"`areas` must be {n_vertices} finite non-negative values; got "
                                 f"shape {a.shape}, smallest {float(np.min(a, initial=0))!r}")
        weights = weights * a[None, :]
    if reduce == "mean":
        total = weights.sum(axis=1, keepdims=True)
        if np.any(total == 0):
            raise FwdModelsError(f"`parcellation` region {int(np.argmin(total))} has no vertex "
                                 "(or zero total weight): its mean is undefined")
        weights = weights / total
    if sign_flip:
        if normals is None:
            raise FwdModelsError("`sign_flip` needs `normals`; got normals=None")
        weights = weights * sign_flips(normals, membership)
    return _wrap(weights @ values, unit)


# --------------------------------------------------------------------------- NaN sensors
#: What to do with sensors whose lead field has non-finite values (TVB's projection matrices
#: mark sensors without values, e.g. reference channels, with NaN rows), the default first.
NAN_SENSOR_POLICIES = ("drop", "zero", "refuse")


def nan_sensors(L, policy: str = "drop", sensor_names=None):
    """Apply a policy to the sensors (columns of ``L``, ``(V, M)`` or ``(R, M)``) that hold a
    non-finite value.

    Parameters
    ----------
    L : array_like or Quantity, shape (rows, M)
    policy : {"drop", "zero", "refuse"}
        ``"drop"`` (default): remove those sensors (columns). ``"zero"``: set the non-finite
        values to 0, what TVB's EEG/MEG monitors do (a sensor of zeros then enters an
        average reference: TVB's reference divides by every sensor). ``"refuse"``: raise.
    sensor_names : sequence of str, optional
        Names of the M sensors, for the messages (default: their column indices).

    Returns
    -------
    (L, kept, note): the lead field after the policy (same unit), the indices of the kept
    sensors among the M, and a sentence saying what was done (None when every value was
    finite).
    """
    check_option(policy, "nan_sensors", NAN_SENSOR_POLICIES)
    values, unit = _split_unit(L, "L")
    values = np.asarray(L if values is None else values, dtype=float)
    if values.ndim != 2:
        raise FwdModelsError(f"`L` must be a 2-D (sources, sensors) matrix; got shape "
                             f"{values.shape}")
    names = [str(i) for i in range(values.shape[1])] if sensor_names is None else \
        [str(n) for n in sensor_names]
    if len(names) != values.shape[1]:
        raise FwdModelsError(f"`sensor_names` must name the {values.shape[1]} sensors; got "
                             f"{len(names)}")
    bad = ~np.all(np.isfinite(values), axis=0)
    kept = np.nonzero(~bad)[0]
    if not bad.any():
        return _wrap(values, unit), kept, None
    which = [names[i] for i in np.nonzero(bad)[0]]
    listed = ", ".join(which[:12]) + (f" and {len(which) - 12} more" if len(which) > 12 else "")
    what = f"{len(which)} of {values.shape[1]} sensors have non-finite lead-field values"
    if policy == "refuse":
        raise FwdModelsError(f"`L` must be finite: {what} ({listed}); choose "
                             f"nan_sensors='drop' or 'zero'")
    if policy == "drop":
        return (_wrap(values[:, kept], unit), kept,
                f"{what}: dropped them ({listed}); {kept.size} sensors remain")
    out = np.where(np.isfinite(values), values, 0.0)
    return (_wrap(out, unit), np.arange(values.shape[1]),
            f"{what}: their non-finite values set to 0 as TVB does ({listed})")


def reduce_vertex_leadfield(L_vertex, parcellation, *, reduce: str = "mean",
                            nan_sensors_policy: str = "drop", sensor_names=None, n_regions=None,
                            normals=None, areas=None, sign_flip: bool = False):
    """A region lead field from a vertex-level one, with a stated policy for NaN sensors.

    Parameters
    ----------
    L_vertex : array_like or Quantity, shape (V, M)
        Fixed-orientation vertex lead field, rows vertices (transpose a (sensors, vertices)
        matrix such as TVB's projections first).
    parcellation : array_like
        Region index per vertex ``(V,)`` (-1: none; TVB's region mapping) or an ``(R, V)``
        weight matrix (see :func:`parcellation_matrix`).
    reduce : {"mean", "sum"}
        ``"mean"`` (default, as everywhere in fwdmodels) or ``"sum"``, the convention of TVB's
        EEG and MEG monitors, which sum the vertex columns of each region.
    nan_sensors_policy : {"drop", "zero", "refuse"}
        What to do with sensors with non-finite values (see :func:`nan_sensors`).
    sensor_names : sequence of str, optional
    n_regions : int, optional
        Number of regions (default: the largest index + 1); regions without a vertex get
        zero rows with ``reduce="sum"`` and are refused with ``"mean"``.
    normals, areas, sign_flip
        As for :func:`region_leadfield`.

    Returns
    -------
    (L, kept, notes): ``L`` (R, M') Quantity or array, the kept sensors' indices, and a list
    of sentences saying how it was made.
    """
    L, kept, note = nan_sensors(L_vertex, nan_sensors_policy, sensor_names)
    values, unit = _split_unit(L, "L_vertex")
    values = np.asarray(L if values is None else values, dtype=float)
    p = np.asarray(parcellation)
    if p.ndim == 1:
        p = parcellation_matrix(p, values.shape[0], n_regions)
    out = region_leadfield(_wrap(values, unit), p, normals=normals, areas=areas,
                           reduce=reduce, sign_flip=sign_flip)
    notes = [describe_reduction(reduce, "given" if areas is not None else None, sign_flip)]
    if note:
        notes.append(note)
    return out, kept, notes
