"""Diagnosis of a lead-field or noise disagreement: unit factor, transposition, noise factor."""

from __future__ import annotations

import math

import numpy as np

from ..errors import FwdModelsError
from ..units import parse_unit, ureg
from .report import Diagnosis, Report, Row, Trial, _align, _is_quantity, _split, compare

# ====================================================================== lead-field diagnosis
_PREFIX_HINTS = {3: "a factor of 1000, as between V and mV (or brainmass's fixed "
                    "1 nA·m/mV scale on a bare input)",
                 6: "a factor of 1e6, as between V and µV",
                 9: "a factor of 1e9, as between A·m and nA·m",
                 12: "a factor of 1e12, as between T and pT",
                 15: "a factor of 1e15, as between T and fT"}


def _power_of_ten(r: np.ndarray, c: np.ndarray) -> tuple[int | None, float]:
    """(k, ratio): the least-squares ratio r/c and the k with ratio ≈ 10**k (None if not near)."""
    denom = float(np.vdot(c, c))
    if denom == 0.0 or not np.all(np.isfinite(c)) or not np.all(np.isfinite(r)):
        return None, math.nan
    ratio = float(np.vdot(c, r)) / denom
    if ratio <= 0:
        return None, ratio
    k = round(math.log10(ratio))
    return (k if k != 0 and abs(math.log10(ratio) - k) < 0.01 else None), ratio


def diagnose_leadfield(model, x, reference, *, rtol=None, atol=None, noise_only=None,
                       noise_cov=None) -> Report:
    """Compare a reference's sensor output with a fwdmodels lead-field model; name the cause.

    Parameters
    ----------
    model : fwdmodels.LeadFieldModel (or EEGLeadFieldModel, MEGLeadFieldModel)
        fwdmodels' model with the lead field ``(R, M)``, dipole scale, sensor unit and
        reference as intended. Its output is recomputed without noise.
    x : array_like or Quantity, shape (T, R)
        The input both were given (read by ``model`` as it documents).
    reference : array_like or Quantity, shape (T, M)
        The reference's noise-free output (a bare array is read in ``model.sensor_unit``).
    noise_only : array_like or Quantity, shape (T, M), optional
        The reference's output for a zero input with its noise on; its sample covariance is
        checked by :func:`diagnose_noise` against ``noise_cov`` (default ``model.noise_cov``).
    rtol, atol
        Tolerances, as for :func:`compare`.

    Returns
    -------
    Report
        Row ``sensors`` (and ``noise covariance`` with ``noise_only``); the diagnoses name a
        power-of-ten unit factor, a transposed lead field (square L), an ``(M, R)`` lead field
        reshaped instead of transposed (alone or with a unit factor), or the noise factor.
    """
    if not hasattr(model, "L") or not hasattr(model, "sensor_unit") or np.ndim(model.L) != 2:
        raise FwdModelsError("`model` must be a fwdmodels lead-field model with a fixed-"
                             "orientation (R, M) lead field")
    r_, m_ = model.in_size, model.out_size
    noise_cov = model.noise_cov if noise_cov is None else noise_cov
    if noise_only is not None and noise_cov is None:
        raise FwdModelsError("`noise_only` needs the covariance that was asked for: pass "
                             "`noise_cov` (or build `model` with it)")

    def noise_free(L_var):
        return type(model)(r_, m_, L_var, dipole_scale=model.dipole_scale,
                           sensor_unit=model.sensor_unit, reference=model.reference,
                           dtype=model.dtype)

    ref = reference
    if not _is_quantity(ref):
        ref = ureg.Quantity(np.asarray(ref), model.sensor_unit)
    title = f"reference vs fwdmodels {type(model).__name__} ({model.sensor_unit:~})"
    report = compare(ref, noise_free(model.L)(x), rtol=rtol, atol=atol, names="sensors",
                     title=title)
    if not report.passed:
        variants = [("as given", "", model.L)]
        if r_ == m_:
            variants.append(("transposed L", "a transposed lead field (L.T used as L)",
                             model.L.T))
        else:
            variants.append(("reshaped L", "an (M, R) lead field reshaped to (R, M) instead "
                             "of transposed", model.L.T.reshape(r_, m_)))
        trials, best = [], []
        rmag = _split(ref, "reference")
        for name, desc, L_var in variants:
            cand = noise_free(L_var)(x)
            attempts = [] if name == "as given" else [(name, desc, cand)]
            r_al, c_al, _, _ = _align("sensors", rmag, _split(cand, "candidate"))
            k, ratio = _power_of_ten(r_al, c_al)
            if k is not None:
                hint = _PREFIX_HINTS.get(abs(k), f"a factor of 1e{abs(k)}")
                text = (f"a unit factor: the reference is 1e{k} × fwdmodels "
                        f"({'' if k > 0 else 'the inverse of '}{hint})")
                attempts.append((f"×1e{k}" if name == "as given" else f"{name} + ×1e{k}",
                                 text if name == "as given" else f"{desc}; and {text}",
                                 cand * 10.0 ** k))
            elif name == "as given":
                trials.append(Trial("×10^k", "a power-of-ten unit factor", False, math.inf,
                                    math.inf, note=f"the best-fitting factor is {ratio:.4g}, "
                                                   f"not a power of ten"))
            for tname, tdesc, tcand in attempts:
                rep = compare(ref, tcand, rtol=rtol, atol=atol, names="sensors")
                trial = Trial(tname, tdesc, rep.passed, rep.rows[0].max_abs, rep.rows[0].max_rel)
                trials.append(trial)
                if rep.passed:
                    best.append(trial)
        best.sort(key=lambda t: t.name.count("+"))
        report.diagnoses.append(Diagnosis("lead field", trials, best[0] if best else None,
                                          best[1:]))
    if noise_only is not None:
        noise = diagnose_noise(noise_cov, noise_only, sensor_unit=model.sensor_unit)
        report.rows += noise.rows
        report.diagnoses += noise.diagnoses
    return report


def _cov_row(name, S, C, n, unit_text) -> tuple[Row, float]:
    """Row comparing a sample covariance with ``C`` using its sampling spread (Gaussian)."""
    d = np.sqrt(np.diag(C))
    sd = np.sqrt((np.outer(d, d) ** 2 + C ** 2) / n)
    m = C.shape[0]
    z_crit = math.sqrt(2.0 * math.log(max(m * m, 2))) + 3.0
    diff = np.abs(S - C)
    tol = z_crit * sd + 1e-12 * float(np.abs(C).max() or 1.0)
    ok = diff <= tol
    with np.errstate(invalid="ignore", divide="ignore"):
        zscore = np.where(sd > 0, diff / np.where(sd > 0, sd, 1.0), np.where(diff > 0, np.inf, 0))
        rel = np.where(np.abs(C) > 0, diff / np.where(np.abs(C) > 0, np.abs(C), 1.0), 0.0)
    labels = ("row", "column")
    at = lambda flat: dict(zip(labels, map(int, np.unravel_index(flat, C.shape))))  # noqa
    n_failed = int(ok.size - np.count_nonzero(ok))
    row = Row(name=name, unit=unit_text, shape=C.shape, max_abs=float(diff.max()),
              max_rel=float(rel.max()), worst=at(int(np.argmax(zscore))),
              first_failure=at(int(np.argmin(ok.ravel()))) if n_failed else None,
              n_failed=n_failed, rtol=0.0, atol=float("nan"), passed=n_failed == 0,
              criterion=f"|Δ| <= {z_crit:.2f} sampling standard deviations per entry",
              note=f"sample covariance of {n} noise samples against the covariance asked "
                   f"for; largest deviation {float(zscore.max()):.3g} standard deviations")
    return row, float(zscore.max())


def diagnose_noise(noise_cov, samples, *, sensor_unit=None) -> Report:
    """Check that noise-only outputs have the covariance asked for; name the factor slip.

    Parameters
    ----------
    noise_cov : array_like or Quantity, shape (M, M)
        The covariance that was asked for (a bare array is in ``sensor_unit``²).
    samples : array_like or Quantity, shape (T, M)
        Noise-only outputs of the reference (T of a few thousand or more).
    sensor_unit : str or pint.Unit, optional
        Unit of bare ``samples`` and of the comparison (default: that of ``samples``, else
        dimensionless).

    Returns
    -------
    Report
        Row ``noise covariance``; if it fails, the diagnosis tries the brainmass draw
        ``z·Lc`` (covariance ``Lcᵀ·Lc`` with ``Lc`` the lower Cholesky factor of ``C``)
        and a power-of-ten factor. With a diagonal ``C`` the two draws cannot be told apart
        and the diagnosis says so.
    """
    from ..leadfield.noise import read_noise_cov

    y, yu, _ = _split(samples, "samples")
    unit = parse_unit(sensor_unit, "sensor_unit") if sensor_unit is not None else (
        yu if yu is not None else ureg.dimensionless)
    if yu is not None:
        y = (y * ureg.Quantity(1.0, yu)).to(unit).magnitude
    if y.ndim != 2 or y.shape[0] < 2:
        raise FwdModelsError(f"`samples` must have shape (T, M) with T >= 2; got {y.shape}")
    C = read_noise_cov(noise_cov, y.shape[1], unit)
    n = y.shape[0]
    S = np.cov(y, rowvar=False, bias=False).reshape(C.shape)
    unit_text = f"{unit ** 2:~P}" if not unit.dimensionless else ""
    row, _ = _cov_row("noise covariance", S, C, n, unit_text)
    report = Report([row], title="reference noise vs the covariance asked for")
    lc = np.linalg.cholesky(C + 1e-300 * np.eye(C.shape[0]))
    same = np.allclose(lc.T @ lc, C, rtol=1e-9, atol=1e-12 * float(np.abs(C).max() or 1))
    hyps = [("z·Lc", "noise drawn as z·Lc (covariance Lcᵀ·Lc, brainmass) instead of z·Lcᵀ "
             "(covariance C)", lc.T @ lc)]
    ratio = float(np.trace(S) / np.trace(C)) if np.trace(C) > 0 else 0.0
    k = round(math.log10(ratio) / 2) if ratio > 0 else 0
    if k != 0:
        unit_desc = f"a unit factor 1e{k} on the noise (covariance ×1e{2 * k})"
        hyps.append((f"×1e{2 * k}", unit_desc, C * 100.0 ** k))
        hyps.append((f"z·Lc + ×1e{2 * k}", f"{hyps[0][1]}; and {unit_desc}",
                     lc.T @ lc * 100.0 ** k))
    if row.passed:
        if same:
            row.note += ("; C is diagonal (Lc = Lcᵀ), so a z·Lc draw could not be told apart: "
                         "use a covariance with off-diagonal entries to check the factor")
        return report
    trials, best = [], []
    for name, desc, Ch in hyps:
        hrow, _ = _cov_row(name, S, Ch, n, unit_text)
        trial = Trial(name, desc, hrow.passed, hrow.max_abs, hrow.max_rel)
        trials.append(trial)
        if hrow.passed:
            best.append(trial)
    report.diagnoses.append(Diagnosis("noise", trials, best[0] if best else None, best[1:]))
    return report
