"""The demo: the main job on the embedded data, its data set-up and its figure.

:func:`run_demo` writes the seeded synthetic recording of
:func:`fwdmodels.datasets.synthetic_recording` and its EEG and MEG lead fields
(:func:`demo_region_leadfields`: a three-shell sphere, a 10-20 cap, 102 magnetometers) as
files, runs :func:`fwdmodels.pipeline.run_bold`, :func:`~fwdmodels.pipeline.run_eeg` and
:func:`~fwdmodels.pipeline.run_meg` on them, as a user would on a saved simulation, and draws
``summary.png`` (:func:`fwdmodels._demo_figure.summary_figure`) when matplotlib is installed.
``fwdmodels demo`` is this function.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import io as fio
from ._validation import check_option
from .errors import FwdModelsError
from .units import unit_text

__all__ = ["run_demo", "demo_region_leadfields", "DEMO_FILES", "FORMATS"]

#: The files the demo writes (``<name>.<fmt>``), inputs first.
DEMO_FILES = ("neural", "leadfield_eeg", "leadfield_meg", "bold", "eeg", "meg")
#: Output formats of the demo.
FORMATS = ("npz", "h5", "mat")


def demo_region_leadfields(recording):
    """The demo's EEG (10-20 cap) and MEG (102 magnetometers) lead fields of ``recording``
    (:func:`fwdmodels.datasets.demo_leadfields`, the same numbers) as RegionLeadFields, with
    the electrode and coil positions (m), the coil frames and the region names."""
    from .datasets import HEAD, demo_leadfields
    from .io.leadfield_file import RegionLeadField
    from .leadfield.coils import COIL_TYPES, coil_frames
    from .leadfield.sensors import eeg_1020, meg_helmet

    L_eeg, eeg_names, L_meg, meg_names = demo_leadfields(recording)
    ori = recording.orientations / np.linalg.norm(recording.orientations, axis=1,
                                                  keepdims=True)
    common = dict(region_names=tuple(recording.names),
                  region_positions=recording.positions.to("m").magnitude,
                  region_orientations=ori, source="sphere",
                  inputs=[{"role": "sources", "name": "fwdmodels.datasets.synthetic_recording "
                                                     f"(seed {recording.seed})"}])
    radii, sig = HEAD["radii"].to("m").magnitude, HEAD["conductivities"].to("S/m").magnitude
    cap = eeg_1020(radius=HEAD["radii"][-1])
    eeg = RegionLeadField(
        L=L_eeg.to("V/(A*m)"), ch_type="eeg", sensor_names=eeg_names,
        sensor_positions=cap.positions.to("m").magnitude,
        head_model={"kind": "concentric spheres", "formula": "Legendre series (de Munck "
                    "1988; Zhang 1995)", "radii_m": radii.tolist(),
                    "conductivities_S_per_m": sig.tolist(), "origin_m": [0.0, 0.0, 0.0],
                    "reference": "infinity", "sensors": "eeg_1020, on the outer sphere"},
        **common)
    helmet = meg_helmet(102)
    p, nrm = helmet.magnetometers()
    ex, ey, ez = coil_frames(nrm, None, "coil_x")
    meg = RegionLeadField(
        L=L_meg.to("T/(A*m)"), ch_type="mag", sensor_names=meg_names,
        sensor_positions=p.to("m").magnitude, sensor_orientations=ez, coil_ex=ex, coil_ey=ey,
        coil_types=np.full(len(meg_names), COIL_TYPES["mag"]), coord_frame="meg",
        dev_head_t=np.eye(4),
        head_model={"kind": "spherically symmetric conductor", "formula": "Sarvas (1987)",
                    "origin_m": [0.0, 0.0, 0.0], "helmet_radius_m": 0.12,
                    "coil_accuracy": "accurate", "sensors": "102 magnetometers of a "
                    "whole-head helmet"}, **common)
    return eeg, meg


def _directory(directory) -> Path:
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise FwdModelsError(f"`directory` '{directory}' exists and is not a directory; "
                             f"choose another `directory`")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FwdModelsError(f"cannot create the demo directory '{directory}' "
                             f"({exc.strerror}); choose another `directory`") from None
    return directory


def _write_recording(path, rec, seed: int, force: bool) -> None:
    dt_s = float(rec.dt.to("s").magnitude)
    described = {"dataset": "fwdmodels.datasets.synthetic_recording", "seed": seed,
                 "region_names": list(rec.names), "task_regions": rec.task_regions.tolist()}
    meta = fio.build_metadata("neural", "activity", "dimensionless", ["time", "region"], dt_s,
                              t0_seconds=0.0, parameters=described)
    fio.save(path, "activity", rec.activity, metadata=meta, force=force,
             extra={"positions_m": rec.positions.to("m").magnitude,
                    "orientations": rec.orientations, "design": rec.design})


def _write_leadfields(paths: dict, rec, fmt: str, force: bool) -> tuple:
    """The demo's lead fields as lead-field files (npz, h5: names and positions go into the
    outputs) or as plain arrays with their unit (mat); returns the EEG and MEG sensor names."""
    from . import datasets

    if fmt in ("npz", "h5"):
        from .io.leadfield_file import write_leadfield_file

        files = dict(zip(("leadfield_eeg", "leadfield_meg"), demo_region_leadfields(rec)))
        for name, lf in files.items():
            write_leadfield_file(paths[name], lf, force=force)
        return tuple(files["leadfield_eeg"].sensor_names), \
            tuple(files["leadfield_meg"].sensor_names)
    L_eeg, eeg_names, L_meg, meg_names = datasets.demo_leadfields(rec)
    for name, L, channels in (("leadfield_eeg", L_eeg, eeg_names),
                              ("leadfield_meg", L_meg, meg_names)):
        head = {"head": "three-shell sphere" if name.endswith("eeg") else "sphere (Sarvas)",
                "radii_m": datasets.HEAD["radii"].to("m").magnitude.tolist(),
                "conductivities_S_per_m": datasets.HEAD["conductivities"].magnitude.tolist(),
                "channels": list(channels), "regions": list(rec.names)}
        lmeta = fio.build_metadata("leadfield", "L", unit_text(L.units), ["region", "sensor"],
                                   None, parameters=head)
        fio.save(paths[name], "L", L.magnitude, metadata=lmeta, force=force)
    return eeg_names, meg_names


def _figure(paths: dict, rec, names: tuple):
    """``summary.png`` beside the outputs, or None without matplotlib."""
    try:
        from .plotting import _matplotlib

        _matplotlib()
    except ImportError:
        return None
    from ._demo_figure import summary_figure

    bold, binfo = fio.load(paths["bold"])
    eeg, _ = fio.load(paths["eeg"])
    meg, _ = fio.load(paths["meg"])
    task = int(rec.task_regions[0])
    other = int(np.setdiff1d(np.arange(len(rec.names)), rec.task_regions)[0])
    dt_s = float(rec.dt.to("s").magnitude)
    return summary_figure(paths["bold"].parent / "summary.png", bold=bold,
                          bold_dt=float(binfo["dt"].to("s").magnitude), eeg=eeg, meg=meg,
                          sensor_dt=dt_s, eeg_names=names[0], meg_names=names[1],
                          design=rec.design, design_dt=dt_s, bold_regions=[task, other])


def run_demo(directory="fwdmodels-demo", *, fmt="npz", force=False, progress=False,
             figure=True, seed=0) -> dict:
    """The main job on the embedded data: BOLD, EEG and MEG of the synthetic recording.

    Writes into ``directory`` (created if needed): ``neural.<fmt>`` (the recording of
    :func:`fwdmodels.datasets.synthetic_recording`, 1-ms samples), ``leadfield_eeg.<fmt>``
    and ``leadfield_meg.<fmt>`` (three-shell sphere, 10-20 cap, 102 magnetometers), then,
    through :func:`~fwdmodels.pipeline.run_bold`, :func:`~fwdmodels.pipeline.run_eeg` and
    :func:`~fwdmodels.pipeline.run_meg` on those files, ``bold.<fmt>`` (TR 1 s, the default
    method, Friston 2003), ``eeg.<fmt>`` (µV, average reference, 20 dB SNR) and
    ``meg.<fmt>`` (fT, 20 dB SNR), and ``summary.png`` when matplotlib is installed and
    ``figure`` is true. ``fmt`` is one of :data:`FORMATS`; existing files are overwritten
    only with ``force=True``.

    Returns
    -------
    dict of name to pathlib.Path (``"figure"`` only when it was written).
    """
    from . import datasets, pipeline

    fmt = str(fmt).lstrip(".")
    check_option(fmt, "fmt", FORMATS)
    directory = _directory(directory)
    paths = {name: directory / f"{name}.{fmt}" for name in DEMO_FILES}
    for path in paths.values():
        fio.check_output_path(path, force)
    rec = datasets.synthetic_recording(seed=seed)
    _write_recording(paths["neural"], rec, seed, force)
    names = _write_leadfields(paths, rec, fmt, force)
    common = dict(key="activity", force=force, progress=progress)
    pipeline.run_bold(paths["neural"], paths["bold"], tr="1 s", **common)
    pipeline.run_eeg(paths["neural"], paths["eeg"], leadfield=paths["leadfield_eeg"],
                     dipole_scale=datasets.DIPOLE_SCALE, sensor_unit="uV",
                     reference="average", snr_db=20.0, seed=seed, **common)
    pipeline.run_meg(paths["neural"], paths["meg"], leadfield=paths["leadfield_meg"],
                     dipole_scale=datasets.DIPOLE_SCALE, sensor_unit="fT", snr_db=20.0,
                     seed=seed + 1, **common)
    if figure:
        drawn = _figure(paths, rec, names)
        if drawn is not None:
            paths["figure"] = drawn
    return paths
