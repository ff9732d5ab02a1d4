"""Building region lead-field files: the sources of ``fwdmodels leadfield``.

:func:`make_leadfield` builds a :class:`~fwdmodels.io.leadfield_file.RegionLeadField` from a
*source* and writes it (``.npz`` or ``.h5``, see :mod:`fwdmodels.io.leadfield_file`), so that
an EEG or MEG run (:func:`fwdmodels.pipeline.run_eeg`) needs nothing else. Sources, by name
(:func:`sources`):

* ``"sphere"`` (:func:`sphere_leadfield`): an analytic spherical head (three shells for EEG,
  the Sarvas formula for MEG) with a standard cap or helmet chosen by name (:data:`LAYOUTS`:
  ``eeg_1020``, ``eeg_1010``, ``eeg_1005``, ``biosemi64``, ``neuromag306``), for the demo's
  68 regions (:func:`fwdmodels.datasets.synthetic_recording`) or dipoles read from a file;
* ``"mne"`` (:func:`forward_leadfield`): an MNE-Python forward solution reduced to regions
  with a parcellation (:func:`~fwdmodels.leadfield.forward.read_forward_leadfield`).

More sources plug in with :func:`register_source` (a builder function returning a
``RegionLeadField`` and, optionally, a function that adds the command-line options feeding its
keywords); a module that registers one is listed in :data:`SOURCE_MODULES`, imported when the
table is first used. The options of the built-in sources are those of
:mod:`fwdmodels.cli.leadfield`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import FwdModelsError, MissingDependencyError

__all__ = ["make_leadfield", "build_leadfield", "sphere_leadfield", "forward_leadfield",
           "read_sources", "register_source", "sources", "Source", "LAYOUTS", "Layout",
           "SOURCE_MODULES"]


# =========================================================================== the tables
@dataclass(frozen=True)
class Layout:
    """A standard sensor layout: ``make(radius)`` gives an EEGLayout or an MEGHelmet."""

    name: str
    modality: str
    description: str
    make: Callable


def _eeg(names):
    def make(radius):
        from .leadfield.sensors import eeg_layout

        return eeg_layout(names() if callable(names) else names, radius)
    return make


def _helmet(radius):
    from .leadfield.sensors import neuromag306

    return neuromag306(radius)


def _names(attr):
    def get():
        from .leadfield import sensors

        return getattr(sensors, attr)
    return get


#: Standard caps and helmets of the ``"sphere"`` source, by name.
LAYOUTS = {layout.name: layout for layout in (
    Layout("eeg_1020", "eeg", "21 electrodes of the 10-20 system", _eeg(_names("NAMES_1020"))),
    Layout("eeg_1010", "eeg", "87 electrodes of the 10-10 system", _eeg(_names("NAMES_1010"))),
    Layout("eeg_1005", "eeg", "336 electrodes of the 10-05 system", _eeg(_names("NAMES_1005"))),
    Layout("biosemi64", "eeg", "64 electrodes of a BioSemi cap (10-10 names)",
           _eeg(_names("BIOSEMI64"))),
    Layout("neuromag306", "meg", "306-channel Neuromag-like helmet: 102 magnetometers "
           "(channels 'mag') or 204 planar gradiometers (channels 'grad')", _helmet),
)}


@dataclass(frozen=True)
class Source:
    """A source of ``fwdmodels leadfield``.

    ``build(**options)`` returns a RegionLeadField; ``add_arguments(parser)``, when given,
    adds the command-line options whose destinations are ``build``'s keyword names (None for
    the built-in sources, whose options the command line defines).
    """

    name: str
    build: Callable
    add_arguments: Callable | None
    help: str


_SOURCES: dict = {}
#: Modules imported before the table of sources is first used; each may call
#: :func:`register_source` (one missing its optional dependency is skipped).
SOURCE_MODULES: list = []


def register_source(name: str, build: Callable, add_arguments: Callable | None = None,
                    help: str = "") -> None:
    """Make ``name`` a source of :func:`make_leadfield` and of ``fwdmodels leadfield NAME``.

    ``add_arguments(parser)`` adds the options of ``fwdmodels leadfield NAME``, one per
    keyword of ``build`` (the option's destination is the keyword's name).
    """
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", str(name)):
        raise FwdModelsError(f"`name` must be a lower-case word (letters, digits, - and _); "
                             f"got {name!r}")
    _SOURCES[name] = Source(name, build, add_arguments, help)


def sources() -> dict:
    """The sources by name (the built-in ones and the registered ones)."""
    import importlib

    while SOURCE_MODULES:
        module = SOURCE_MODULES.pop(0)
        try:
            importlib.import_module(module)
        except MissingDependencyError:
            pass
    return dict(_SOURCES)


# =========================================================================== helpers
def _provenance(path, role: str) -> dict:
    from .io import file_sha256

    return {"role": role, "path": str(Path(path).resolve()), "sha256": file_sha256(path)}


def _quantities(value, name: str, dimension: str, example: str) -> np.ndarray:
    """SI values of a list of quantities: a Quantity, or a text such as ``"8.1,8.5,9 cm"``."""
    from .leadfield._inputs import read_si_array
    from .units import check_text, ureg

    if isinstance(value, str):
        tokens = [t for t in re.split(r"[,\s]+", check_text(value, name).strip()) if t]
        numbers = []
        while tokens and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", tokens[0]):
            numbers.append(float(tokens.pop(0)))
        if not numbers or not tokens:
            raise FwdModelsError(f"`{name}` must be numbers followed by one unit, e.g. "
                                 f"{example!r}; got {value!r}")
        try:
            value = ureg.Quantity(np.array(numbers), " ".join(tokens))
        except Exception as exc:
            raise FwdModelsError(f"`{name}` has the unit {' '.join(tokens)!r}, which is not "
                                 f"a unit ({exc}); write e.g. {example!r}") from None
    return np.atleast_1d(read_si_array(value, name, dimension, (0, 1)))


def read_sources(path) -> tuple:
    """Dipoles from a file: ``(positions (R, 3) in m, orientations (R, 3), names or None)``.

    An ``.npz`` or ``.h5`` with ``positions`` (R, 3) and its unit (``positions_unit``, e.g.
    ``"mm"``) or ``positions_m`` (in metres), ``orientations`` (R, 3), and optionally
    ``names`` (or ``region_names``; also taken from the fwdmodels metadata, as in the demo's
    ``neural.npz``).
    """
    import json

    from .units import parse_unit

    path = Path(path)
    if not path.is_file():
        raise FwdModelsError(f"`sources` file '{path}' does not exist; check the path")
    items = {}
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as data:
                items = {k: data[k] for k in data.files if k in (
                    "positions", "positions_unit", "positions_m", "orientations", "names",
                    "region_names", "metadata")}
        elif path.suffix.lower() in (".h5", ".hdf5"):
            from .errors import optional_import

            h5py = optional_import("h5py", "hdf5", "reading .h5 files")
            with h5py.File(path, "r") as f:
                for k in ("positions", "positions_unit", "positions_m", "orientations",
                          "names", "region_names"):
                    if k in f:
                        items[k] = f[k].asstr()[()] if h5py.check_string_dtype(
                            f[k].dtype) else f[k][()]
                    elif k in f.attrs:
                        items[k] = f.attrs[k]
        else:
            raise FwdModelsError(f"`sources` must be an .npz or .h5 file; got '{path}'")
    except (OSError, ValueError, KeyError) as exc:
        raise FwdModelsError(f"`sources` file '{path}' cannot be read "
                             f"({' '.join(str(exc).split())})") from None
    if "positions_m" in items:
        pos = np.asarray(items["positions_m"], dtype=float)
    elif "positions" in items and "positions_unit" in items:
        unit = parse_unit(str(np.asarray(items["positions_unit"]).item()
                              if np.ndim(items["positions_unit"]) == 0 else
                              items["positions_unit"]), f"positions_unit in '{path}'")
        pos = (np.asarray(items["positions"], dtype=float) * unit).to("m").magnitude
    else:
        raise FwdModelsError(f"`sources` file '{path}' needs 'positions' with its unit "
                             f"('positions_unit', e.g. 'mm') or 'positions_m' (in metres)")
    if "orientations" not in items:
        raise FwdModelsError(f"`sources` file '{path}' needs 'orientations' (R, 3): fixed "
                             f"dipole directions")
    names = items.get("names", items.get("region_names"))
    if names is None and "metadata" in items:
        try:
            meta = json.loads(str(items["metadata"]))
            names = (meta.get("parameters") or {}).get("region_names")
        except (ValueError, AttributeError):
            names = None
    return pos, np.asarray(items["orientations"], dtype=float), \
        None if names is None else tuple(str(n) for n in np.asarray(names).reshape(-1))


# =========================================================================== sphere
def _demo_sources():
    from .datasets import synthetic_recording

    rec = synthetic_recording(duration="1 s")      # the geometry does not depend on T
    return (rec.positions.to("m").magnitude, rec.orientations, tuple(rec.names),
            {"role": "sources", "name": "fwdmodels.datasets.synthetic_recording (seed 0): "
                                       "the demo's 68 regions"})


def sphere_leadfield(sensors="eeg_1020", *, channels=None, sources=None, radii=None,
                     conductivities=None, helmet_radius="12 cm", accuracy="accurate"):
    """Region lead field of a spherical head with a standard cap or helmet.

    Parameters
    ----------
    sensors : str
        A name of :data:`LAYOUTS`: ``"eeg_1020"`` (default), ``"eeg_1010"``, ``"eeg_1005"``,
        ``"biosemi64"`` (electrodes on the outer sphere) or ``"neuromag306"`` (MEG).
    channels : {"mag", "grad"}, optional
        For ``neuromag306``: the magnetometers (T/(A·m)) or the planar gradiometers
        (T/(m·A·m)); their units differ, so one file holds one of them.
    sources : path or tuple, optional
        The dipoles: a file (see :func:`read_sources`), or ``(positions, orientations[,
        names])`` with positions a length Quantity. Default: the demo's 68 regions.
    radii, conductivities : pint.Quantity or str, optional
        EEG shells, innermost first (default: the demo's 8.1, 8.5, 9 cm and 0.33, 0.0042,
        0.33 S/m); a text such as ``"8.1,8.5,9 cm"``. The electrodes sit on the outer one.
    helmet_radius : pint.Quantity or str
        MEG: distance of the sensors from the centre (default 12 cm). The channels are the
        helmet's (``S001M``; ``S001G1``, ``S001G2``), with Vectorview coil types (3024, 3012):
        MNE-Python plots them and maps magnetometers; it draws topographic maps of Vectorview
        gradiometers only for the Vectorview's own channel names (it pairs them by name on
        its stored layout), which these sites, spread evenly, do not have.
    accuracy : {"accurate", "normal", "point"}
        MEG coil integration (see :func:`fwdmodels.leadfield.sphere_meg_leadfield`).

    Returns
    -------
    RegionLeadField
        In SI units; the head is centred at the origin of MNE's head frame.
    """
    from .io.leadfield_file import RegionLeadField
    from .leadfield import sphere_eeg_leadfield
    from .leadfield._inputs import read_si_array
    from .units import ureg

    if not isinstance(sensors, str) or sensors not in LAYOUTS:
        raise FwdModelsError(f"`sensors` must be one of {', '.join(LAYOUTS)}; got {sensors!r}")
    layout = LAYOUTS[sensors]
    if sources is None:
        pos, ori, names, origin = _demo_sources()
    elif isinstance(sources, (str, Path)):
        pos, ori, names = read_sources(sources)
        origin = _provenance(sources, "sources")
    else:
        parts = tuple(sources)
        pos = read_si_array(parts[0], "sources", "[length]", (2,))
        ori, names = np.asarray(parts[1], dtype=float), parts[2] if len(parts) > 2 else None
        origin = {"role": "sources", "name": "given in Python"}
    unit_ori = ori / np.linalg.norm(ori, axis=1, keepdims=True)   # the head models do so too
    common = dict(region_names=names, region_positions=pos, region_orientations=unit_ori,
                  source="sphere", inputs=[origin])
    src = ureg.Quantity(pos, "m")
    if layout.modality == "eeg":
        if channels not in (None, "eeg"):
            raise FwdModelsError(f"`channels` must be None or 'eeg' for the EEG cap {sensors!r}"
                                 f"; got {channels!r}")
        from .datasets import HEAD

        rad = _quantities(HEAD["radii"] if radii is None else radii, "radii", "[length]",
                          "8.1,8.5,9 cm")
        sig = _quantities(HEAD["conductivities"] if conductivities is None else
                          conductivities, "conductivities",
                          "[current]**2 * [time]**3 / [mass] / [length]**3",
                          "0.33,0.0042,0.33 S/m")
        cap = layout.make(ureg.Quantity(rad[-1], "m"))
        L = sphere_eeg_leadfield(src, ori, cap.positions, ureg.Quantity(rad, "m"),
                                 ureg.Quantity(sig, "S/m"))
        head = {"kind": "concentric spheres" if rad.size > 1 else "homogeneous sphere",
                "formula": "Legendre series (de Munck 1988; Zhang 1995)" if rad.size > 1
                else "closed form (Frank 1952; Mosher, Leahy & Lewis 1999)",
                "radii_m": rad.tolist(), "conductivities_S_per_m": sig.tolist(),
                "origin_m": [0.0, 0.0, 0.0], "reference": "infinity",
                "sensors": f"{sensors}: {layout.description}, on the outer sphere"}
        return RegionLeadField(L=L.to("V/(A*m)"), ch_type="eeg", sensor_names=cap.names,
                               sensor_positions=cap.positions.to("m").magnitude,
                               head_model=head, **common)
    from .leadfield.coils import COIL_TYPES, coil_frames

    if channels not in ("mag", "grad"):
        raise FwdModelsError(f"`channels` must be 'mag' or 'grad' for the helmet {sensors!r} "
                             f"(magnetometers and gradiometers have different units, one file "
                             f"holds one type); got {channels!r}")
    r = read_si_array(helmet_radius, "helmet_radius", "[length]", (0,)).item()
    helmet = layout.make(ureg.Quantity(r, "m"))
    L = helmet.leadfields(src, ori, accuracy=accuracy)[channels]
    if channels == "mag":
        p, nrm = helmet.magnetometers()
        axes, names_m = helmet.grad_dirs[:, 0], helmet.mag_names()
    else:
        p, nrm, axes = helmet.gradiometers()
        names_m = helmet.grad_names()
    ex, ey, ez = coil_frames(nrm, axes, "coil_x")
    head = {"kind": "spherically symmetric conductor", "formula": "Sarvas (1987)",
            "origin_m": [0.0, 0.0, 0.0], "helmet_radius_m": r, "coil_accuracy": accuracy,
            "coils": "Vectorview, as MNE-Python's coil_def.dat",
            "sensors": f"{sensors}: {layout.description}"}
    return RegionLeadField(L=L.to("T/(A*m)" if channels == "mag" else "T/(m*A*m)"),
                           ch_type=channels, sensor_names=names_m,
                           sensor_positions=p.to("m").magnitude, sensor_orientations=ez,
                           coil_ex=ex, coil_ey=ey,
                           coil_types=np.full(len(names_m), COIL_TYPES[channels]),
                           coord_frame="meg", dev_head_t=np.eye(4), head_model=head, **common)


# =========================================================================== MNE
def forward_leadfield(forward, parcellation=None, *, channels=None, reduce="mean",
                      sign_flip=False, subjects_dir=None, subject=None):
    """Region lead field of an MNE-Python forward solution (needs mne).

    Parameters
    ----------
    forward : path or mne.Forward
    parcellation : path, array or list of mne.Label, optional
        See :func:`~fwdmodels.leadfield.forward.read_forward_leadfield` (default one region per
        source).
    channels : {"eeg", "mag", "grad"}, optional
        Which channels; needed when the forward has more than one type.
    reduce, sign_flip, subjects_dir, subject
        As for :func:`~fwdmodels.leadfield.forward.read_forward_leadfield`.

    Returns
    -------
    RegionLeadField
        With the forward's channel names, positions and coil frames, and the region names of
        a parcellation of labels.
    """
    from .io import mne as fmne
    from .io.leadfield_file import from_forward
    from .leadfield.forward import read_forward_leadfield

    mne = fmne.mne_module("reading MNE-Python forward solutions (.fif)")
    inputs = []
    if isinstance(forward, (str, Path)):
        inputs.append(_provenance(forward, "forward"))
        fwd = fmne.read_forward(forward, mne)
    else:
        fwd = forward
    if isinstance(parcellation, (str, Path)) and Path(parcellation).is_file():
        inputs.append(_provenance(parcellation, "parcellation"))
    if channels is None:
        info = fwd["info"]
        types = {mne.channel_type(info, info["ch_names"].index(n))
                 for n in fwd["sol"]["row_names"]} & {"eeg", "mag", "grad"}
        if len(types) != 1:
            raise FwdModelsError(f"`channels` must say which channels to take: the forward "
                                 f"solution has {', '.join(sorted(types)) or 'none of'} "
                                 f"eeg, mag, grad; got channels=None")
        channels = types.pop()
    if channels not in ("eeg", "mag", "grad"):
        raise FwdModelsError(f"`channels` must be 'eeg', 'mag' or 'grad'; got {channels!r}")
    lf = read_forward_leadfield(
        fwd, parcellation, modality="eeg" if channels == "eeg" else "meg",
        meg_channels=None if channels == "eeg" else channels, reduce=reduce,
        sign_flip=sign_flip, subjects_dir=subjects_dir, subject=subject)
    head = {"kind": "MNE-Python forward solution", "subject": lf.details.get("subject"),
            "source_spaces": lf.details.get("source_spaces"),
            "orientation": lf.details.get("orientation")}
    return from_forward(lf, inputs=inputs, head_model=head)


register_source("sphere", sphere_leadfield, None,
                "analytic spherical head with a standard cap or helmet, by name")
register_source("mne", forward_leadfield, None,
                "an MNE-Python forward solution reduced to regions (needs mne)")


# =========================================================================== entry points
def build_leadfield(source: str = "sphere", **options):
    """The RegionLeadField of ``source`` (a name of :func:`sources`) with its ``options``."""
    table = sources()
    if source not in table:
        raise FwdModelsError(f"`source` must be one of {', '.join(table)}; got {source!r}")
    return table[source].build(**options)


def make_leadfield(output, source: str = "sphere", *, force: bool = False, **options) -> Path:
    """Build a region lead field and write it to ``output`` (``.npz`` or ``.h5``).

    ``source`` and ``options`` as for :func:`build_leadfield` (e.g.
    ``make_leadfield("lf.h5", "sphere", sensors="neuromag306", channels="grad")``, or
    ``make_leadfield("lf.npz", "mne", forward="sub-fwd.fif", parcellation="labels.npy")``).
    The output is checked before anything is computed and written atomically.
    """
    from .io._atomic import check_output_path
    from .io.leadfield_file import write_leadfield_file

    path = check_output_path(output, force)
    if path.suffix.lower() not in (".npz", ".h5", ".hdf5"):
        raise FwdModelsError(f"`output` of a lead-field file must end in .npz or .h5; got "
                             f"'{path}'")
    return write_leadfield_file(path, build_leadfield(source, **options), force=force)
