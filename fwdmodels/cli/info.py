"""``fwdmodels info FILE``: what a file holds; and the one-line summary of a written output."""

from __future__ import annotations

import json

__all__ = ["add_parser", "run", "summary", "print_summary", "format_info"]


def add_parser(subparsers):
    """Add ``info`` to the ``fwdmodels`` sub-commands."""
    p = subparsers.add_parser("info", help="what a file holds (arrays, shapes, dtypes, units, "
                                           "dt, metadata)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.set_defaults(run=run)
    return p


def summary(path) -> str:
    """``wrote PATH: NAME (shape) [unit], dt DT`` of an output file."""
    from ..io import describe

    d = describe(path)
    main = d["arrays"][0] if d["arrays"] else {"name": "?", "shape": [], "unit": None}
    dt = f", dt {d['dt']}" if d["dt"] else ""
    return (f"wrote {path}: {main['name']} {tuple(main['shape'])} "
            f"[{main['unit'] or 'no unit'}]{dt}")


def print_summary(path, quiet: bool) -> None:
    """Print :func:`summary` of ``path`` unless ``quiet``."""
    if not quiet:
        print(summary(path))


def _is_text(dtype) -> bool:
    return str(dtype).lower().startswith(("str", "object", "text", "bytes", "<u", "cell",
                                          "char"))


def format_info(d: dict) -> str:
    """The text that ``fwdmodels info`` prints of :func:`fwdmodels.io.describe`'s dict."""
    lines = [f"{d['path']}  ({d['format']}, {d['size_bytes']:,} bytes)", "arrays:"]
    for a in d["arrays"]:
        unit = f"  unit {a['unit']}" if a["unit"] and not _is_text(a["dtype"]) else ""
        lines.append(f"  {a['name']:<24} shape {tuple(a['shape'])!s:<18} {a['dtype']}{unit}")
    if d.get("timeseries") is False or (d.get("fwdmodels") or {}).get("modality") == \
            "leadfield":                    # a lead field / forward solution: no dt
        pass
    elif d["dt"]:
        lines.append(f"dt: {d['dt']}  (from the {d['dt_source']})")
    elif d["dt_source"]:
        lines.append(f"dt: unreadable: {d['dt_source']}")
    else:
        lines.append("dt: none stored (pass --dt with its unit)")
    if d["entries"]:
        lines.append("entries:")
        lines += [f"  {k}: {v}" for k, v in d["entries"].items()]
    meta = d.get("fwdmodels")
    if meta:
        lines.append("fwdmodels metadata:")
        for k, v in meta.items():
            text = json.dumps(v) if isinstance(v, (dict, list)) else str(v)
            lines.append(f"  {k}: {text if len(text) <= 200 else text[:197] + '...'}")
    return "\n".join(lines)


def run(args) -> int:
    """Run ``fwdmodels info``: the description as text, or as JSON with ``--json``."""
    from ..io import describe

    d = describe(args.file)
    print(json.dumps(d, indent=1, default=str) if args.json else format_info(d))
    return 0
