"""Prior distributions for the between-study standard deviation tau, and the empirical presets.

Every prior is a frozen dataclass with ``pdf``, ``logpdf``, ``cdf`` and ``ppf`` on tau (not tau^2), and
``describe()`` in words. The half-normal and half-Cauchy are the weakly informative priors of Friede et
al. (2017, Biom. J. 59:658-671) and Röver et al. (2021, Res. Synth. Methods 12:448-474); the two priors
on log tau^2 carry the empirical predictive distributions of Turner et al. (2015, Stat. Med.
34:984-998; log odds ratios) and Rhodes et al. (2015, J. Clin. Epidemiol. 68:52-60; standardised mean
differences), whose values live in ``_empirical_priors.csv`` with their source, table and row.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import special

__all__ = ["HalfNormal", "HalfCauchy", "LogNormalTau2", "LogTTau2", "TauPrior", "empirical_tau_prior",
           "EMPIRICAL_PRIORS_CSV"]

EMPIRICAL_PRIORS_CSV = Path(__file__).with_name("_empirical_priors.csv")


def _positive(value: object, name: str) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(out) and out > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return out


def _finite(value: object, name: str) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return out


def _tau(tau) -> np.ndarray:
    return np.asarray(tau, dtype=float)


def _prob(p) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if np.any((p < 0) | (p > 1) | np.isnan(p)):
        raise ValueError("probabilities must lie between 0 and 1")
    return p


class TauPrior:
    """Shared behaviour: ``pdf = exp(logpdf)``, the median, and a short label with the source."""

    source: str

    def logpdf(self, tau) -> np.ndarray:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def pdf(self, tau) -> np.ndarray:
        return np.exp(self.logpdf(tau))

    def median(self) -> float:
        return float(self.ppf(0.5))

    def _with_source(self, text: str) -> str:
        return f"{text}; {self.source}" if self.source else text


@dataclass(frozen=True)
class HalfNormal(TauPrior):
    """tau ~ half-normal(scale): density ``2 phi(tau / s) / s`` on tau >= 0 (scipy ``halfnorm(scale=s)``)."""

    scale: float
    source: str = field(default="", compare=False)

    def __post_init__(self):
        object.__setattr__(self, "scale", _positive(self.scale, "scale"))

    def logpdf(self, tau):
        t = _tau(tau)
        z = t / self.scale
        with np.errstate(invalid="ignore"):
            out = 0.5 * math.log(2 / math.pi) - math.log(self.scale) - 0.5 * z * z
        return np.where(t >= 0, out, -np.inf)

    def cdf(self, tau):
        t = _tau(tau)
        return np.where(t > 0, special.erf(np.maximum(t, 0) / (self.scale * math.sqrt(2))), 0.0)

    def ppf(self, p):
        return self.scale * math.sqrt(2) * special.erfinv(_prob(p))

    def describe(self) -> str:
        return self._with_source(f"half-normal prior on τ with scale {self.scale:g} (prior median τ "
                                 f"{self.median():.2g})")


@dataclass(frozen=True)
class HalfCauchy(TauPrior):
    """tau ~ half-Cauchy(scale): density ``2 / (pi s (1 + (tau / s)^2))`` (scipy ``halfcauchy(scale=s)``)."""

    scale: float
    source: str = field(default="", compare=False)

    def __post_init__(self):
        object.__setattr__(self, "scale", _positive(self.scale, "scale"))

    def logpdf(self, tau):
        t = _tau(tau)
        z = t / self.scale
        with np.errstate(invalid="ignore"):
            out = math.log(2 / math.pi) - math.log(self.scale) - np.log1p(z * z)
        return np.where(t >= 0, out, -np.inf)

    def cdf(self, tau):
        t = _tau(tau)
        return np.where(t > 0, (2 / math.pi) * np.arctan(np.maximum(t, 0) / self.scale), 0.0)

    def ppf(self, p):
        p = _prob(p)
        with np.errstate(divide="ignore"):
            return np.where(p < 1, self.scale * np.tan(0.5 * math.pi * np.minimum(p, 1)), np.inf)

    def describe(self) -> str:
        return self._with_source(f"half-Cauchy prior on τ with scale {self.scale:g} (prior median τ "
                                 f"{self.median():.2g})")


def _log_tau2_z(tau, location: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """``z = (log tau^2 - location) / scale`` where tau > 0, and the mask of tau > 0."""
    t = _tau(tau)
    pos = t > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (2 * np.log(np.where(pos, t, 1.0)) - location) / scale
    return z, pos


@dataclass(frozen=True)
class LogNormalTau2(TauPrior):
    """log tau^2 ~ N(mean, sd^2) (Turner et al. 2015), so log tau ~ N(mean / 2, (sd / 2)^2).

    The density on tau follows by the change of variables ``d log tau^2 / d tau = 2 / tau``.
    """

    mean: float
    sd: float
    source: str = field(default="", compare=False)

    def __post_init__(self):
        object.__setattr__(self, "mean", _finite(self.mean, "mean"))
        object.__setattr__(self, "sd", _positive(self.sd, "sd"))

    def logpdf(self, tau):
        z, pos = _log_tau2_z(tau, self.mean, self.sd)
        t = np.where(pos, _tau(tau), 1.0)
        out = -0.5 * z * z - 0.5 * math.log(2 * math.pi) + math.log(2 / self.sd) - np.log(t)
        return np.where(pos, out, -np.inf)

    def cdf(self, tau):
        z, pos = _log_tau2_z(tau, self.mean, self.sd)
        return np.where(pos, special.ndtr(z), 0.0)

    def ppf(self, p):
        with np.errstate(divide="ignore", over="ignore"):
            return np.exp(0.5 * (self.mean + self.sd * special.ndtri(_prob(p))))

    def describe(self) -> str:
        return self._with_source(f"log-normal prior on τ² (log τ² ~ N({self.mean:g}, {self.sd:g}²); prior "
                                 f"median τ {self.median():.2g})")


@dataclass(frozen=True)
class LogTTau2(TauPrior):
    """log tau^2 ~ t_df(location, scale) (Rhodes et al. 2015 use df = 5), density by change of variables."""

    location: float
    scale: float
    df: float = 5.0
    source: str = field(default="", compare=False)

    def __post_init__(self):
        object.__setattr__(self, "location", _finite(self.location, "location"))
        object.__setattr__(self, "scale", _positive(self.scale, "scale"))
        object.__setattr__(self, "df", _positive(self.df, "df"))

    def logpdf(self, tau):
        z, pos = _log_tau2_z(tau, self.location, self.scale)
        t = np.where(pos, _tau(tau), 1.0)
        nu = self.df
        log_t = (special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * math.log(nu * math.pi)
                 - (nu + 1) / 2 * np.log1p(z * z / nu))
        out = log_t + math.log(2 / self.scale) - np.log(t)
        return np.where(pos, out, -np.inf)

    def cdf(self, tau):
        z, pos = _log_tau2_z(tau, self.location, self.scale)
        return np.where(pos, special.stdtr(self.df, z), 0.0)

    def ppf(self, p):
        with np.errstate(divide="ignore", over="ignore"):
            return np.exp(0.5 * (self.location + self.scale * special.stdtrit(self.df, _prob(p))))

    def describe(self) -> str:
        return self._with_source(f"log-t prior on τ² (log τ² ~ t{self.df:g}({self.location:g}, {self.scale:g}); "
                                 f"prior median τ {self.median():.2g})")


# ---------------------------------------------------------------------------------------------
# empirical presets

#: The measure each published set of predictive distributions was derived on.
_TABLE_OF_MEASURE = {"log_or": "turner2015", "smd": "rhodes2015"}
_MEASURE_ALIASES = {"or": "log_or", "log_or": "log_or", "logor": "log_or", "smd": "smd", "g": "smd",
                    "hedges_g": "smd"}
#: The rows chosen when no outcome type or comparison is given (peer support is non-pharmacological,
#: its outcomes mostly mental health).
DEFAULTS = {"turner2015": ("mental health indicators", "non-pharmacological vs. placebo / control"),
            "rhodes2015": ("mental health outcome", "non-pharmacological (any)")}


@functools.lru_cache(maxsize=1)
def _preset_rows() -> tuple[dict[str, str], ...]:
    with EMPIRICAL_PRIORS_CSV.open(encoding="utf-8", newline="") as fh:
        return tuple(csv.DictReader(fh))


def empirical_presets(measure: str) -> list[dict[str, str]]:
    """Every preset row (as stored in ``_empirical_priors.csv``) for an effect measure."""
    return [row for row in _preset_rows() if row["source_id"] == _table_for(measure)]


def _table_for(measure: str) -> str:
    key = _MEASURE_ALIASES.get(str(measure).strip().lower())
    if key is None:
        raise ValueError(f"No empirical heterogeneity prior for measure {measure!r}: Turner et al. 2015 cover "
                         "log odds ratios ('log_or'), Rhodes et al. 2015 standardised mean differences ('smd')")
    return _TABLE_OF_MEASURE[key]


def empirical_tau_prior(measure: str, outcome_type: str | None = None,
                        comparison: str | None = None) -> LogNormalTau2 | LogTTau2:
    """The published predictive distribution for tau^2 of a measure, outcome type and comparison.

    ``measure``: ``"log_or"`` (Turner et al. 2015, Table IV, log-normal) or ``"smd"`` (Rhodes et al.
    2015, Table 3, log-t with 5 df, medical area "other"). ``outcome_type``/``comparison`` default to
    the mental-health, non-pharmacological row (:data:`DEFAULTS`); ``outcome_type="any"`` gives the
    marginal (general) setting. The returned prior's ``describe()`` names the table and row.
    """
    table = _table_for(measure)
    default_outcome, default_comparison = DEFAULTS[table]
    outcome_type = outcome_type or default_outcome
    comparison = comparison or (default_comparison if outcome_type != "any" else "any")
    rows = [r for r in _preset_rows() if r["source_id"] == table]
    for row in rows:
        if row["outcome_type"] == outcome_type and row["comparison"] == comparison:
            return _prior_from_row(row)
    raise ValueError(f"No {table} row for outcome type {outcome_type!r} and comparison {comparison!r}; "
                     f"outcome types: {sorted({r['outcome_type'] for r in rows})}; "
                     f"comparisons: {sorted({r['comparison'] for r in rows})}")


def _prior_from_row(row: dict[str, str]) -> LogNormalTau2 | LogTTau2:
    source = (f"{row['citation']}, {row['table']}, row “{row['outcome_type']}”, column “{row['comparison']}”")
    if "CAUTION" in row["note"]:
        source += " (this value is out of line with its neighbours in the table: see stats/_empirical_priors.csv)"
    if row["distribution"] == "lognormal":
        return LogNormalTau2(float(row["location"]), float(row["scale"]), source=source)
    return LogTTau2(float(row["location"]), float(row["scale"]), float(row["df"]), source=source)
