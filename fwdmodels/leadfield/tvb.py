"""TVB's default subject as a region lead field, and the unit of TVB's projection matrices.

:func:`tvb_default_leadfield` builds the (regions, sensors) lead field of tvb-data's default
subject: its cortical surface of 16,384 vertices, the projection matrices
``projection_eeg_65_surface_16k.npy`` and ``projection_meg_276_surface_16k.npy`` (sensors x
vertices, rows of NaN for sensors without values) and the region mappings of the 76- and
192-region connectivities. ``tvb:eeg:76``, ``tvb:eeg:192``, ``tvb:meg:76`` and
``tvb:meg:192`` name them on the command line (``--leadfield``).

The unit of the projection matrices
-----------------------------------
TVB does not state it. It is established here by computing the same lead fields
independently, with fwdmodels' sphere models, on the same geometry
(:func:`unit_evidence`; ``tests/test_tvb_leadfield.py`` recomputes it):

* **EEG: V/(A·m).** The 65 electrodes of ``eeg_brainstorm_65.txt`` are in Brainstorm's head
  frame, the cortex in TVB's (shifted); with the cortex moved by (10, 0, 52) mm (the shift
  that best aligns the two, found on a 5 mm grid), a three-shell sphere fitted to the
  electrodes (centre and radius by least squares, the cortex inside the brain shell, skull
  0.0042 S/m) with the same vertices and normals gives a lead field whose average-referenced
  values correlate with TVB's at **r = 0.89** over the 63 electrodes with values and the
  16,311 vertices the sphere holds (73 of 16,384 lie outside it), and TVB's values are
  **0.19 times** the sphere's in V/(A·m) (least squares). A sphere that just holds the
  cortex has almost no skull and overestimates scalp potentials, so TVB's realistic-head
  values are expected below it; any other SI prefix (mV, µV per nA·m...) would put the ratio
  1000 times further. The unit is therefore V/(A·m), and is attached.
* **MEG: T/(A·m), from magnitudes only.** ``meg_brainstorm_276.txt`` does not hold usable
  positions: every sensor has x ≈ y ≈ z and its three orientation components equal, so no
  sensor-by-sensor comparison can be made. Its 248 sensors with values are named A1-A248, a
  4D-Neuroimaging Magnes 3600 (248 magnetometers; the NaN rows are its reference channels,
  trigger and EOG/ECG). A helmet of 248 magnetometers 12 cm from the cortex's centre, with
  the same vertices and normals (Sarvas' formula), gives absolute values whose median is
  **0.94 times** and 99th percentile **1.03 times** TVB's (11 cm: 0.76, 0.67; 13 cm: 1.16,
  1.48). The order of magnitude fixes T/(A·m) among units 1000 apart; the agreement is of
  distributions, not of sensors, and the metadata says so.

Regions without cortical vertices (the 116 subcortical regions of the 192-region
connectivity, whose region mapping lists them after the 16,384 cortical vertices) have no
values in TVB's projections; TVB's monitors give them a single-sphere formula with no
physical unit. Here their rows are zero (``subcortical="zero"``, with a warning: such regions
are invisible to the sensors) or refused (``subcortical="refuse"``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .._validation import check_option
from ..errors import FwdModelsError
from ..io.leadfield_file import RegionLeadField
from ..io.metadata import file_sha256
from ..io.tvb import (TVB_DEFAULT_SUBJECT, read_connectivity, read_projection,
                      read_region_mapping, read_sensors, read_surface, tvb_data_path)
from ..units import ureg
from .aggregation import REDUCTIONS
from .aggregation import nan_sensors as apply_nan_policy

__all__ = ["tvb_default_leadfield", "known_tvb_unit", "unit_evidence", "TVB_UNITS"]

#: The unit established for each of tvb-data's projection matrices (see the module notes).
TVB_UNITS = {"projection_eeg_65_surface_16k.npy": "V/(A*m)",
             "projection_meg_276_surface_16k.npy": "T/(A*m)"}
_EVIDENCE = {
    "eeg": "V/(A*m): TVB's values correlate with a three-shell sphere fitted to the same "
           "electrodes with the same vertices and normals at r = 0.89, at 0.19 times its "
           "skull-less magnitude (fwdmodels.leadfield.tvb)",
    "meg": "T/(A*m): from magnitudes only (tvb-data's MEG sensor positions are degenerate): "
           "median |L| 0.94 and 99th percentile 1.03 times a 248-magnetometer helmet at "
           "12 cm with the same vertices and normals (fwdmodels.leadfield.tvb)",
}
#: Cortex shift (mm) from TVB's cortex frame to the frame of its EEG sensors (see above).
CORTEX_TO_SENSORS_MM = (10.0, 0.0, 52.0)


def known_tvb_unit(path) -> str | None:
    """The established unit of one of tvb-data's projection matrices, else None."""
    path = Path(path)
    if path.parent.name == "projectionMatrix" and path.parent.parent.name == "tvb_data":
        return TVB_UNITS.get(path.name)
    return None


def tvb_default_leadfield(modality: str, n_regions: int, *, reduce: str = "mean",
                          nan_sensors: str = "drop", subcortical: str = "zero"):
    """TVB's default subject as a :class:`~fwdmodels.io.leadfield_file.RegionLeadField`.

    Parameters
    ----------
    modality : {"eeg", "meg"}
        EEG: 65 electrodes (63 with values); MEG: 276 channels (248 magnetometers with
        values).
    n_regions : {76, 192}
        The connectivity; region names are its labels.
    reduce : {"mean", "sum"}
        ``"mean"`` (default): a region's moment spread over its vertices. ``"sum"``: TVB's
        convention (its EEG and MEG monitors add the vertex columns of each region), for
        numbers equal to TVB's monitors.
    nan_sensors : {"drop", "zero", "refuse"}
        Sensors without values (NaN rows): dropped (default, said in a warning), zeroed as
        TVB does, or refused.
    subcortical : {"zero", "refuse"}
        Regions without cortical vertices: zero rows (with a warning) or an error.

    Returns
    -------
    RegionLeadField: ``L`` (regions, sensors) in V/(A·m) or T/(A·m), sensor and region names,
    and in ``details`` the unit's evidence and every choice made.
    """
    check_option(modality, "modality", ("eeg", "meg"))
    check_option(reduce, "reduce", REDUCTIONS)
    check_option(subcortical, "subcortical", ("zero", "refuse"))
    if n_regions not in TVB_DEFAULT_SUBJECT["connectivity"]:
        raise FwdModelsError(f"`n_regions` must be 76 or 192 (the connectivities of TVB's "
                             f"default subject with a region mapping); got {n_regions!r}")
    files = {"projection": TVB_DEFAULT_SUBJECT["projection"][modality],
             "region_mapping": TVB_DEFAULT_SUBJECT["region_mapping"][n_regions],
             "connectivity": TVB_DEFAULT_SUBJECT["connectivity"][n_regions],
             "sensors": TVB_DEFAULT_SUBJECT["sensors"][modality]}
    paths = {k: tvb_data_path("tvb:" + v) for k, v in files.items()}
    P = read_projection(paths["projection"])                      # (sensors, vertices)
    mapping = read_region_mapping(paths["region_mapping"], n_regions)
    conn = read_connectivity(paths["connectivity"])
    sensors = read_sensors(paths["sensors"], modality)
    n_vertices = P.shape[1]
    cortical = mapping[:n_vertices]                    # 192: subcortical entries follow
    L_vertex, kept, note = apply_nan_policy(P.T, nan_sensors, sensors.names)
    members = np.zeros((n_regions, n_vertices))
    members[cortical, np.arange(n_vertices)] = 1.0
    counts = members.sum(axis=1)
    empty = np.nonzero(counts == 0)[0]
    notes = []
    if empty.size:
        names = ", ".join(conn.labels[i] for i in empty[:8]) + (
            f" and {empty.size - 8} more" if empty.size > 8 else "")
        text = (f"{empty.size} of {n_regions} regions have no cortical vertex ({names}): "
                f"TVB's projection has no values for them")
        if subcortical == "refuse":
            raise FwdModelsError(f"{text}; choose subcortical='zero' to give them zero rows")
        notes.append(text + "; their rows are zero (invisible to the sensors)")
    weights = members if reduce == "sum" else members / np.maximum(counts, 1)[:, None]
    L = weights @ np.asarray(L_vertex)
    unit = TVB_UNITS[paths["projection"].name]
    made = ["sum: TVB's convention (its monitors add the vertex columns of each region)"
            if reduce == "sum" else "mean: the region's dipole moment spread equally over its "
            "vertices"]
    if note:
        notes.insert(0, note)
    for text in notes:
        warnings.warn(f"TVB's default {modality.upper()} lead field ({n_regions} regions): "
                      f"{text}", stacklevel=2)
    inputs = [{"role": role, "path": str(p.resolve()), "sha256": file_sha256(p)}
              for role, p in paths.items()]
    return RegionLeadField(
        ureg.Quantity(L, unit), "eeg" if modality == "eeg" else "mag",
        tuple(sensors.names[i] for i in kept), region_names=conn.labels,
        aggregation=made[0], source="tvb", inputs=inputs,
        head_model={"model": "TVB's default subject (tvb-data), projection matrices "
                             "computed by TVB's authors (Brainstorm)",
                    "unit_evidence": _EVIDENCE[modality]},
        details={"reduce": reduce, "nan_sensors": nan_sensors, "subcortical": subcortical,
                 "notes": made + notes, "sensor_rows_kept": kept.tolist(),
                 "frames": "TVB's sensor and cortex files are in different frames; "
                           "positions are not given"})


def unit_evidence(modality: str, vertex_step: int = 16) -> dict:
    """Recompute the comparison that establishes the unit (see the module notes), on every
    ``vertex_step``-th cortical vertex: a dict of figures (``corr`` and ``scale`` for EEG;
    ``median_ratio`` and ``p99_ratio`` for MEG)."""
    from .headmodels import sphere_eeg_leadfield, sphere_meg_leadfield

    check_option(modality, "modality", ("eeg", "meg"))
    cortex = read_surface("tvb:" + TVB_DEFAULT_SUBJECT["cortex"])
    verts = cortex.vertices.to("mm").magnitude[::vertex_step]
    normals = cortex.normals[::vertex_step]
    P = read_projection("tvb:" + TVB_DEFAULT_SUBJECT["projection"][modality])
    ok = np.all(np.isfinite(P), axis=1)
    theirs = P[ok][:, ::vertex_step].T                              # (vertices, sensors)
    if modality == "eeg":
        elec = read_sensors("tvb:" + TVB_DEFAULT_SUBJECT["sensors"]["eeg"]).positions
        elec = elec.to("mm").magnitude[ok]
        centre, radius = _fit_sphere(elec)
        shifted = verts + np.asarray(CORTEX_TO_SENSORS_MM)
        dist = np.linalg.norm(shifted - centre, axis=1)
        inside = dist < 0.98 * radius          # the few vertices a sphere cannot hold: left out
        shifted, normals, theirs = shifted[inside], normals[inside], theirs[inside]
        brain = dist[inside].max() * 1.002
        on_sphere = centre + (elec - centre) * (radius / np.linalg.norm(elec - centre,
                                                                       axis=1))[:, None]
        ours = sphere_eeg_leadfield(
            shifted * ureg.mm, normals, on_sphere * ureg.mm,
            np.array([brain, (brain + radius) / 2, radius]) * ureg.mm,
            [0.33, 0.0042, 0.33] * ureg("S/m"), centre * ureg.mm,
            rtol=1e-8).to("V/(A*m)").magnitude
        a = theirs - theirs.mean(axis=1, keepdims=True)
        b = ours - ours.mean(axis=1, keepdims=True)
        return {"corr": float(np.corrcoef(a.ravel(), b.ravel())[0, 1]),
                "scale": float((a * b).sum() / (b * b).sum()), "unit": "V/(A*m)",
                "vertices": int(inside.sum()), "of": int(inside.size)}
    from .sensors import meg_helmet

    centre = (verts.max(axis=0) + verts.min(axis=0)) / 2
    helmet = meg_helmet(int(ok.sum()), "12 cm", centre * ureg.mm)
    pos, nrm = helmet.magnetometers()
    ours = np.abs(sphere_meg_leadfield(verts * ureg.mm, normals, pos, nrm, centre * ureg.mm,
                                       accuracy="point").to("T/(A*m)").magnitude)
    theirs = np.abs(theirs)
    return {"median_ratio": float(np.median(theirs) / np.median(ours)),
            "p99_ratio": float(np.percentile(theirs, 99) / np.percentile(ours, 99)),
            "unit": "T/(A*m)"}


def _fit_sphere(points: np.ndarray):
    """Least-squares sphere through ``points``: (centre, radius)."""
    A = np.c_[2 * points, np.ones(len(points))]
    sol = np.linalg.lstsq(A, (points ** 2).sum(axis=1), rcond=None)[0]
    centre = sol[:3]
    return centre, float(np.sqrt(sol[3] + centre @ centre))
