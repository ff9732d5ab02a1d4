"""Runnable teaching examples: how neural activity becomes a BOLD, EEG or MEG signal.

Each example is a short module meant to be read top to bottom, with a ``main(outdir)`` that
prints its numbers and saves its figure(s) as PNG in ``outdir``. Run one with::

    python -m fwdmodels.examples NAME [-o DIR]

and list them with ``python -m fwdmodels.examples``. The figures need the ``plot`` extra
(matplotlib); ``crossval_jax`` also needs the ``crossval`` extra (brainmass and JAX).

=====================  ==================================================================
``presets``            the BOLD response to a 4-s block under each parameter preset
``pitfalls``           kappa/gamma inverted, a start away from rest, TR decimation
``linear_vs_nonlinear`` the linear (kernel) response against the Balloon ODE
``aliasing``           averaging the input over a long step against x, f solved exactly
``sphere_dipole``      EEG and MEG of one dipole in a sphere, radial vs tangential
``crossval_jax``       cross-checking brainmass (JAX) and naming the difference
=====================  ==================================================================
"""

from __future__ import annotations

import importlib
from pathlib import Path

__all__ = ["EXAMPLES", "describe", "run"]

#: The examples, in the order of the teaching section of the README.
EXAMPLES = ("presets", "pitfalls", "linear_vs_nonlinear", "aliasing", "sphere_dipole",
            "crossval_jax")


def _module(name: str):
    if name not in EXAMPLES:
        from ..errors import FwdModelsError
        raise FwdModelsError(f"no example named {name!r}; the examples are: "
                             f"{', '.join(EXAMPLES)}")
    return importlib.import_module(f"{__name__}.{name}")


def describe(name: str) -> str:
    """The one-line description of an example (the first line of its docstring)."""
    return (_module(name).__doc__ or "").strip().splitlines()[0].rstrip(".")


def run(name: str, outdir=".") -> list[Path]:
    """Run example ``name``: print its numbers, save its figures in ``outdir`` (created if
    needed; figures of an earlier run are replaced) and return their paths."""
    module = _module(name)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    return [Path(p) for p in module.main(outdir)]
