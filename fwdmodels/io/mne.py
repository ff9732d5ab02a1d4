"""MNE-Python files: lead fields from forward solutions in, EEG/MEG as ``Raw`` ``.fif`` out.

Behind the ``mne`` extra; mne is imported inside the functions that need it.

* :func:`read_forward_leadfield`: an MNE forward solution (a ``-fwd.fif`` file or an
  ``mne.Forward``) turned into a region lead field ``(R, M)`` with a parcellation. MNE stores
  ``(M, sources)``; the transpose happens here and nowhere else in fwdmodels. Units are SI:
  V/(A·m) for EEG, T/(A·m) for magnetometers, T/(m·A·m) for gradiometers.
* :class:`RawOutputFile` (in :mod:`fwdmodels.io.mne_raw`, imported here): an
  :class:`fwdmodels.io.OutputFile` that writes an ``mne.io.RawArray`` in SI units (V, T,
  T/m), sampling frequency ``1/dt``, channels with their positions when the lead field came
  with them, and the fwdmodels metadata as JSON in ``info["description"]``.
* :func:`describe_fif`: what a Raw or forward ``.fif`` holds (``fwdmodels info``).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FwdModelsError, optional_import
from ..leadfield.aggregation import describe_reduction, region_leadfield
from .mne_raw import (RAW_ENDINGS, SI_UNITS, RawOutputFile, check_raw_name,  # noqa: F401
                      check_raw_output, raw_info)

__all__ = ["read_forward_leadfield", "source_areas", "ForwardLeadField", "RawOutputFile",
           "describe_fif", "check_raw_name", "check_raw_output", "is_fif", "RAW_ENDINGS"]

_FWD_ENDINGS = ("-fwd.fif", "_fwd.fif", "-fwd.fif.gz", "_fwd.fif.gz")


def _mne(feature: str):
    return optional_import("mne", "mne", feature)


def is_fif(path) -> bool:
    """Whether ``path`` names a FIF file (``.fif`` or ``.fif.gz``)."""
    return str(path).lower().endswith((".fif", ".fif.gz"))


# =========================================================================== forward in
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


def _read_forward(path, mne):
    path = Path(path)
    if not path.exists():
        raise FwdModelsError(f"lead field '{path}' does not exist; check the path")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # MNE warns about names not ending in -fwd.fif
            fwd = mne.read_forward_solution(path, verbose="error")
    except (ValueError, OSError, KeyError, IndexError, TypeError, RuntimeError,
            AttributeError) as exc:                    # AttributeError: an empty file
        detail = " ".join(str(exc).split())
        raise FwdModelsError(f"lead field '{path}' is not a readable MNE-Python forward "
                             f"solution ({detail}); write one with "
                             f"mne.write_forward_solution('...-fwd.fif', fwd)") from None
    if np.iscomplexobj(fwd["sol"]["data"]):           # would lose its imaginary part below
        raise FwdModelsError(f"lead field '{path}' holds complex numbers (dtype "
                             f"{fwd['sol']['data'].dtype}); fwdmodels needs a real forward "
                             f"solution")
    return fwd


def _pick_channels(fwd, modality: str, meg_channels, where: str):
    """Row indices of the chosen channel type, and that type."""
    import mne

    info = fwd["info"]
    names = list(fwd["sol"]["row_names"])
    types = [mne.channel_type(info, info["ch_names"].index(n)) for n in names]
    counts = {t: types.count(t) for t in ("eeg", "mag", "grad")}
    if modality == "eeg":
        if meg_channels is not None:
            raise FwdModelsError(f"`meg_channels` applies to MEG; got meg_channels="
                                 f"{meg_channels!r} with modality 'eeg'")
        chosen = "eeg"
    elif modality == "meg":
        if meg_channels is not None:
            if meg_channels not in ("mag", "grad"):
                raise FwdModelsError(f"--meg-channels must be 'mag' or 'grad'; got "
                                     f"{meg_channels!r}")
            chosen = meg_channels
        elif counts["mag"] and counts["grad"]:
            raise FwdModelsError(
                f"{where} has {counts['mag']} magnetometers (T/(A*m)) and {counts['grad']} "
                f"gradiometers (T/(m*A*m)), whose units differ; choose one with "
                f"--meg-channels mag or --meg-channels grad (meg_channels= in Python)")
        else:
            chosen = "grad" if counts["grad"] else "mag"
    else:
        raise FwdModelsError(f"`modality` must be 'eeg' or 'meg'; got {modality!r}")
    rows = [i for i, t in enumerate(types) if t == chosen]
    if not rows:
        have = ", ".join(f"{n} {t}" for t, n in counts.items() if n) or "no EEG or MEG channels"
        kind = {"eeg": "EEG", "mag": "magnetometer", "grad": "gradiometer"}[chosen]
        raise FwdModelsError(f"{where} has no {kind} channels (it has {have}); compute the "
                             f"forward with them (mne.make_forward_solution(..., "
                             f"{'eeg' if chosen == 'eeg' else 'meg'}=True)) or use the "
                             f"other sub-command")
    return np.asarray(rows), chosen


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
                f"fwdmodels.io.mne.read_forward_leadfield, or use a surface or discrete "
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
    mne = _mne("reading MNE-Python forward solutions (.fif)")
    from ..units import ureg

    if isinstance(forward, mne.Forward):
        fwd, where = forward, "the forward solution"
    else:
        fwd, where = _read_forward(forward, mne), f"forward solution '{forward}'"
    rows, ch_type = _pick_channels(fwd, modality, meg_channels, where)
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


# =========================================================================== describe
def describe_fif(path) -> dict:
    """What a Raw or forward-solution ``.fif`` holds, in the form of ``fwdmodels.io.describe``."""
    mne = _mne("describing MNE-Python .fif files")
    path = Path(path)
    readers = [_describe_raw, _describe_forward]
    if path.name.lower().endswith(_FWD_ENDINGS):
        readers.reverse()
    problems = []
    for reader in readers:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return reader(path, mne)
        except (ValueError, OSError, KeyError, IndexError, TypeError, RuntimeError) as exc:
            problems.append(" ".join(str(exc).split()))
    raise FwdModelsError(f"'{path}' is neither an MNE-Python Raw file nor a forward solution "
                         f"({'; '.join(problems)}); check that it is a complete .fif")


def _counts(types) -> str:
    return ", ".join(f"{types.count(t)} {t}" for t in dict.fromkeys(types))


def _base(path: Path, fmt: str) -> dict:
    return {"path": str(path), "format": fmt, "size_bytes": path.stat().st_size}


def _describe_raw(path: Path, mne) -> dict:
    raw = mne.io.read_raw_fif(path, preload=False, verbose="error")
    info = raw.info
    types = raw.get_channel_types()
    units = sorted({SI_UNITS.get(t, ("?",))[0] for t in types})
    meta = None
    if info.get("description"):
        try:
            meta = json.loads(info["description"])
        except ValueError:
            meta = None
    if not isinstance(meta, dict) or "fwdmodels_version" not in meta:
        meta = None
    name = meta.get("array", "data") if meta else "data"
    dtype = {"double": "float64", "single": "float32"}.get(raw.orig_format, raw.orig_format)
    names = info["ch_names"]
    entries = {"sfreq": f"{info['sfreq']!r} Hz", "channels": _counts(types),
               "ch_names": ", ".join(names[:10]) + (", ..." if len(names) > 10 else ""),
               "first_samp": int(raw.first_samp),
               "duration": f"{float(raw.n_times / info['sfreq'])!r} s",
               "meas_date": str(info["meas_date"])}
    return {**_base(path, "fif (MNE Raw)"),
            "arrays": [{"name": name, "shape": [int(raw.n_times), len(names)], "dtype": dtype,
                        "unit": units[0] if len(units) == 1 else "per channel type: "
                        + ", ".join(units)}],
            "entries": entries, "dt": f"{float(1.0 / info['sfreq'])!r} s",
            "dt_source": "sampling frequency info['sfreq']", "fwdmodels": meta}


def _describe_forward(path: Path, mne) -> dict:
    fwd = mne.read_forward_solution(path, verbose="error")
    info = fwd["info"]
    names = list(fwd["sol"]["row_names"])
    types = [mne.channel_type(info, info["ch_names"].index(n)) for n in names]
    data = fwd["sol"]["data"]
    fixed = fwd["source_ori"] == mne.io.constants.FIFF.FIFFV_MNE_FIXED_ORI
    arrays = []
    for t in dict.fromkeys(types):
        n = types.count(t)
        arrays.append({"name": f"sol ({t})", "shape": [n, int(data.shape[1])],
                       "dtype": str(data.dtype), "unit": SI_UNITS.get(t, (None, None))[1]})
    n_src = int(sum(len(s["vertno"]) for s in fwd["src"]))
    entries = {"source orientation": "fixed (one column per source)" if fixed else
               "free (x, y, z columns per source)", "sources": n_src,
               "source spaces": ", ".join(f"{s['type']} ({len(s['vertno'])})"
                                          for s in fwd["src"]),
               "channels": _counts(types), "subject": fwd["src"][0].get("subject_his_id"),
               "layout": "MNE stores (channels, sources); fwdmodels reads it as (regions, "
                         "sensors) with --parcellation"}
    return {**_base(path, "fif (MNE forward solution)"), "arrays": arrays, "entries": entries,
            "dt": None, "dt_source": None, "fwdmodels": None, "timeseries": False}
