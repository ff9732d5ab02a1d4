"""Region lead fields from MNE-Python forward solutions: the reduction of vertex lead fields.

:func:`read_forward_leadfield` turns an MNE forward solution (a ``-fwd.fif`` file, read by
:mod:`fwdmodels.io.mne`, or an ``mne.Forward``) into a region lead field ``(R, M)`` with a
parcellation: the chosen channels' rows, the free orientations projected on the source
normals, and the vertices of each region combined by
:func:`fwdmodels.leadfield.aggregation.region_leadfield` (the mean by default, weighted by the
vertices' patch areas when MNE computed them: :func:`source_areas`). MNE stores
``(M, sources)``; the transpose happens here and nowhere else in fwdmodels. Units are SI:
V/(A·m) for EEG, T/(A·m) for magnetometers, T/(m·A·m) for gradiometers.

Behind the ``mne`` extra; mne is imported inside the functions that need it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FwdModelsError
from ..io.mne import mne_module, pick_channels, read_forward
from ..io.mne_raw import SI_UNITS
from .aggregation import describe_reduction, region_leadfield

__all__ = ["read_forward_leadfield", "source_areas", "ForwardLeadField"]


@dataclass
class ForwardLeadField:
    """A region lead field read from an MNE forward solution.

    Attributes
    ----------
    L : pint.Quantity, shape (R, M)
        Region lead field (rows regions, columns sensors), in V/(A·m), T/(A·m) or T/(m·A·m).
    ch_type : str
        ``"eeg"``, ``"mag"`` or ``"grad"``.
    ch_names : list of str
        The M channels, in the forward solution's order.
    chs : list of dict
        MNE's channel descriptions of those channels (positions, coil types, frames).
    dev_head_t : mne.transforms.Transform or None
        Device-to-head transform of the forward's measurement info.
    region_names : list of str or None
        Names of the regions when the parcellation had names (MNE labels).
    details : dict
        How the lead field was made (for the output metadata).
    """

    L: object
    ch_type: str
    ch_names: list
    chs: list = field(repr=False)
    dev_head_t: object = field(repr=False, default=None)
    region_names: list | None = None
    details: dict = field(default_factory=dict)


def _source_normals(fwd, where: str) -> np.ndarray:
    """Normals of the used source vertices, in the forward's coordinate frame."""
    parts = []
    for s in fwd["src"]:
        nn = np.asarray(s["nn"][s["vertno"]], dtype=float)
        # MNE gives the points of a volume grid the placeholder normal (0, 0, 1)
        if s["type"] == "vol" or (len(nn) > 1 and np.all(nn == [0.0, 0.0, 1.0])):
            raise FwdModelsError(
                f"{where} has a free-orientation volume source space, whose points have no "
                f"surface normals (MNE sets them all to (0, 0, 1)); pass normals=(V, 3) to "
                f"fwdmodels.leadfield.forward.read_forward_leadfield, or use a surface or discrete "
                f"source space with normals (mne.setup_volume_source_space(pos=dict(rr=..., "
                f"nn=...)))")
        if s["coord_frame"] != fwd["coord_frame"]:
            raise FwdModelsError(f"{where}: its source space and its solution are in different "
                                 f"coordinate frames; read it with mne.read_forward_solution "
                                 f"and pass the Forward object")
        parts.append(nn)
    return np.concatenate(parts)


def _cartesian(L_free: np.ndarray, source_nn: np.ndarray) -> np.ndarray:
    """Free-orientation rows (3V, M) along ``source_nn`` rotated to x, y, z rows."""
    n_vert = L_free.shape[0] // 3
    frames = np.asarray(source_nn, dtype=float).reshape(n_vert, 3, 3)
    if np.array_equal(frames, np.broadcast_to(np.eye(3), frames.shape)):
        return L_free
    blocks = L_free.reshape(n_vert, 3, -1)
    return np.einsum("vkj,vkm->vjm", frames, blocks).reshape(L_free.shape)


# --------------------------------------------------------------------------- parcellations
def _label_membership(labels, src, n_vertices: int, where: str):
    """``(R, V)`` membership of the source vertices in MNE labels, and the labels' names."""
    offsets, hemis = {}, {}
    start = 0
    for s in src:
        hemi = {101: "lh", 102: "rh"}.get(int(s["id"]))
        if hemi is not None:
            offsets[hemi], hemis[hemi] = start, np.asarray(s["vertno"])
        start += len(s["vertno"])
    if not hemis:
        raise FwdModelsError(f"{where} has no cortical surface source space, so MNE labels "
                             f"cannot be placed on it; give one region index per source "
                             f"(an .npy of integers) instead")
    membership = np.zeros((len(labels), n_vertices))
    names = []
    for r, label in enumerate(labels):
        parts = [label.lh, label.rh] if label.hemi == "both" else [label]
        for part in parts:
            if part.hemi not in hemis:
                raise FwdModelsError(f"label {label.name!r} is on hemisphere {part.hemi!r}, "
                                     f"which {where} does not have")
            hit = np.nonzero(np.isin(hemis[part.hemi], part.vertices))[0]
            membership[r, offsets[part.hemi] + hit] = 1.0
        if not membership[r].any():
            raise FwdModelsError(f"label {label.name!r} contains no source vertex of {where}; "
                                 f"use a denser source space or leave the label out")
        names.append(label.name)
    return membership, names


def _parcellation(parcellation, fwd, n_vertices: int, where: str, subjects_dir, subject):
    """``(p, names, description)``: labels (V,) or membership (R, V), region names, origin."""
    import mne

    if parcellation is None:
        return np.arange(n_vertices), None, "none (one region per source, in order)"
    if isinstance(parcellation, (mne.Label, mne.BiHemiLabel)):
        parcellation = [parcellation]
    if isinstance(parcellation, (list, tuple)) and parcellation and \
            all(isinstance(x, (mne.Label, mne.BiHemiLabel)) for x in parcellation):
        m, names = _label_membership(parcellation, fwd["src"], n_vertices, where)
        return m, names, f"{len(names)} MNE labels"
    if isinstance(parcellation, (str, Path)):
        text = str(parcellation)
        subject = subject or fwd["src"][0].get("subject_his_id")
        if text.endswith(".npy"):
            try:
                p = np.load(text, allow_pickle=False)
            except FileNotFoundError:
                raise FwdModelsError(f"parcellation '{text}' does not exist; check the "
                                     f"path") from None
            except (ValueError, OSError) as exc:
                raise FwdModelsError(f"parcellation '{text}' is not a plain numeric .npy "
                                     f"({' '.join(str(exc).split())}); save it with "
                                     f"np.save") from None
            return p, None, text
        if subject is None:
            raise FwdModelsError(f"parcellation {text!r} is an annotation, but {where} names "
                                 f"no FreeSurfer subject; pass subject= (or give an .npy of "
                                 f"one region index per source)")
        kwargs = dict(annot_fname=text) if text.endswith(".annot") else dict(parc=text)
        try:
            labels = mne.read_labels_from_annot(subject, subjects_dir=subjects_dir,
                                                verbose="error", **kwargs)
        except (OSError, ValueError, KeyError) as exc:
            raise FwdModelsError(f"annotation {text!r} of subject {subject!r} cannot be read "
                                 f"({' '.join(str(exc).split())}); set SUBJECTS_DIR (or "
                                 f"subjects_dir=) to the FreeSurfer subjects directory") from None
        m, names = _label_membership(labels, fwd["src"], n_vertices, where)
        return m, names, f"annotation {text!r} of subject {subject!r}"
    return np.asarray(parcellation), None, "array"


def _check_parcellation(p, n_vertices: int, where: str, origin: str):
    name = origin if origin != "array" else "the parcellation"
    if p.ndim == 1 and p.shape[0] != n_vertices:
        raise FwdModelsError(
            f"parcellation {name} has {p.shape[0]} entries but {where} has {n_vertices} source "
            f"vertices; give one region index per source vertex (in the order of fwd['src'] "
            f"vertno, left then right hemisphere), -1 for none")
    if p.ndim == 2 and p.shape[1] != n_vertices:
        raise FwdModelsError(
            f"parcellation {name} has shape {p.shape} but {where} has {n_vertices} source "
            f"vertices; give an (R, {n_vertices}) membership matrix or one region index per "
            f"source vertex")
    if p.ndim not in (1, 2):
        raise FwdModelsError(f"parcellation {name} is {p.ndim}-D (shape {p.shape}); give one "
                             f"region index per source vertex, or an (R, V) matrix")


def _triangle_areas(rr: np.ndarray, tris: np.ndarray) -> np.ndarray:
    return 0.5 * np.linalg.norm(np.cross(rr[tris[:, 1]] - rr[tris[:, 0]],
                                         rr[tris[:, 2]] - rr[tris[:, 0]]), axis=1)


def source_areas(src):
    """Area represented by each used source vertex, in m², or None when it is not known.

    A cortical (``"surf"``) source space whose patch information MNE-Python computed
    (``pinfo``/``patch_inds``: ``mne.setup_source_space(..., add_dist="patch")`` or
    ``mne.add_source_space_distances``) gives each used vertex the area of its patch: the
    full-resolution vertices nearest to it, each carrying a third of the area of its
    triangles. Without patch information, or for volume and discrete source spaces, None.
    """
    parts = []
    for s in src:
        tris, pinfo, inds = s.get("tris"), s.get("pinfo"), s.get("patch_inds")
        if s.get("type") != "surf" or tris is None or pinfo is None or inds is None:
            return None
        rr = np.asarray(s["rr"], dtype=float)
        tri_area = _triangle_areas(rr, np.asarray(tris))
        vertex_area = np.zeros(len(rr))
        np.add.at(vertex_area, np.asarray(tris).ravel(), np.repeat(tri_area / 3.0, 3))
        parts.append(np.array([vertex_area[pinfo[k]].sum() for k in inds]))
    return np.concatenate(parts) if parts else None


def read_forward_leadfield(forward, parcellation=None, *, modality: str = "eeg",
                           meg_channels: str | None = None, normals=None, reduce: str = "mean",
                           areas=None, sign_flip: bool = False, subjects_dir=None,
                           subject: str | None = None) -> ForwardLeadField:
    """Region lead field ``(R, M)`` from an MNE-Python forward solution.

    Parameters
    ----------
    forward : path or mne.Forward
        A ``-fwd.fif`` file (read with ``mne.read_forward_solution``) or a Forward object.
    parcellation : optional
        Which source vertices make each region. The V source vertices are those of
        ``fwd["src"]`` in order (``vertno`` of each source space: left then right hemisphere
        for a cortical source space). One of:

        * an array, or a path to an ``.npy``: integer labels ``(V,)`` (region index per
          vertex, ``-1`` for none) or an ``(R, V)`` membership matrix (weights ≥ 0);
        * a list of ``mne.Label`` (surface source spaces): one region per label, in order;
        * an annotation: a parcellation name (``"aparc"``) or an ``.annot`` file, read with
          ``mne.read_labels_from_annot`` for ``subject`` (default: the forward's) in
          ``subjects_dir`` (default: ``SUBJECTS_DIR``);
        * None: every source vertex is a region (a discrete source space of region centres).
    modality : {"eeg", "meg"}
        Which channels' lead field to take.
    meg_channels : {"mag", "grad"}, optional
        For MEG: magnetometers (T/(A·m)) or gradiometers (T/(m·A·m)). Needed when the forward
        has both, as their units differ.
    normals : array_like, shape (V, 3), optional
        Dipole orientations of a free-orientation forward (default: the source space's
        normals; a volume source space has none and needs them). A fixed-orientation forward
        (``mne.convert_forward_solution(fwd, force_fixed=True)``) is used as it is.
    reduce : {"mean", "sum"}
        How the vertices of a region combine (see :func:`fwdmodels.leadfield.region_leadfield`).
        ``"mean"`` (default, as everywhere in fwdmodels): the region's dipole moment is spread
        over its vertices in proportion to their areas, so the result does not depend on the
        density of the source space. ``"sum"``: every vertex carries the region's moment.
    areas : array_like, shape (V,), optional
        Vertex areas (any unit; only ratios matter for the mean). Default: the patch areas of
        a cortical source space when MNE computed them (see :func:`source_areas`), otherwise
        equal weights. The choice is stated in ``details["aggregation"]``.
    sign_flip : bool
        Flip the vertices whose normal points against their region's dominant direction
        (MNE-Python's ``label_sign_flip`` rule).
    subjects_dir, subject
        Where annotations are read from (see ``parcellation``).

    Returns
    -------
    ForwardLeadField
        ``.L`` the ``(R, M)`` Quantity, plus the channels and the details of the reading.
    """
    mne = mne_module("reading MNE-Python forward solutions (.fif)")
    from ..units import ureg

    if isinstance(forward, mne.Forward):
        fwd, where = forward, "the forward solution"
    else:
        fwd, where = read_forward(forward, mne), f"forward solution '{forward}'"
    rows, ch_type = pick_channels(fwd, modality, meg_channels, where)
    data = np.asarray(fwd["sol"]["data"], dtype=float)[rows].T      # (sources, M): (R, M) rule
    n_vertices = int(sum(len(s["vertno"]) for s in fwd["src"]))
    fixed = fwd["source_ori"] == mne.io.constants.FIFF.FIFFV_MNE_FIXED_ORI
    if data.shape[0] != (n_vertices if fixed else 3 * n_vertices):
        raise FwdModelsError(f"{where} has {data.shape[0]} source columns for {n_vertices} "
                             f"source vertices; it is inconsistent (write it again with MNE)")
    p, names, origin = _parcellation(parcellation, fwd, n_vertices, where, subjects_dir, subject)
    _check_parcellation(p, n_vertices, where, origin)
    if fixed:
        nrm = np.asarray(fwd["source_nn"], dtype=float) if normals is None else normals
        orientation = "fixed (the forward's own)"
    else:
        data = _cartesian(data, fwd["source_nn"])
        nrm = _source_normals(fwd, where) if normals is None else normals
        orientation = ("free, projected on the source-space normals" if normals is None
                       else "free, projected on the given normals")
    if areas is None:
        areas = source_areas(fwd["src"])
        area_origin = None if areas is None else "the source space's patch areas"
    else:
        area_origin = "given"
    L = region_leadfield(data, p, normals=nrm, areas=areas, reduce=reduce, sign_flip=sign_flip)
    chs = [dict(fwd["info"]["chs"][fwd["info"]["ch_names"].index(fwd["sol"]["row_names"][i])])
           for i in rows]
    details = {"channel_type": ch_type, "orientation": orientation, "n_sources": n_vertices,
               "source_spaces": [f"{s['type']} ({len(s['vertno'])} sources)"
                                 for s in fwd["src"]],
               "parcellation": origin, "reduce": reduce, "sign_flip": bool(sign_flip),
               "aggregation": describe_reduction(reduce, area_origin, sign_flip),
               "subject": fwd["src"][0].get("subject_his_id")}
    if names is not None:
        details["regions"] = names
    return ForwardLeadField(L=ureg.Quantity(L, SI_UNITS[ch_type][1]), ch_type=ch_type,
                            ch_names=[c["ch_name"] for c in chs], chs=chs,
                            dev_head_t=fwd["info"].get("dev_head_t"), region_names=names,
                            details=details)
