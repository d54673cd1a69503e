"""Bayesian random-effects meta-analysis by numerical integration (no MCMC).

The normal-normal hierarchical model ``y_i ~ N(theta_i, v_i)``, ``theta_i ~ N(mu, tau^2)``, with a prior
on tau and a flat or normal prior on mu, as bayesmeta computes it (Röver 2020, J. Stat. Softw. 93(6)):
given tau, mu is integrated out analytically (its conditional posterior is normal), and tau is
integrated on a deterministic grid, so the marginal posteriors of mu and of a new trial's true effect
are mixtures of normals over the grid's nodes.

The grid is the trapezoid rule on ``eta = log tau``: the integrand ``p(y | tau) p(tau) tau`` is smooth
and falls off at both ends, where the trapezoid rule converges geometrically. A coarse pass over the
prior's central 1 - 2e-10 locates where the posterior lives; two finer passes zoom in on the nodes
within ``exp(-30)`` of its peak, so the same node count serves k = 1 (posterior = prior) and k = 1000
(a sharp posterior). Where the likelihood is flat (tau far below every study's standard error, or far
above the data's spread) the posterior is the prior rescaled, and its mass there is added exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import interpolate, optimize, special

from ._results import result_dict
from ._validation import check_effects, check_level
from .priors import TauPrior

__all__ = ["BayesEstimate", "bayes_pool"]

_TAIL = 1e-10          # prior mass left out at each end of the first pass
_DROP = 30.0           # log-density below the peak at which the posterior counts as nil (exp(-30) ~ 1e-13)
_COARSE, _ZOOM, _FINE = 160, 96, 384
_REFINE = 8


@dataclass(frozen=True)
class BayesEstimate:
    """Posterior summaries of a Bayesian random-effects meta-analysis (:func:`bayes_pool`).

    Attributes
    ----------
    k : int
        Number of studies.
    mu_mean, mu_median : float
        Posterior mean and median of the overall effect mu.
    mu_ci_low, mu_ci_high : float
        Central (equal-tailed) credible interval of mu: its ``(1 - level) / 2`` and ``(1 + level) / 2``
        posterior quantiles.
    tau_median : float
        Posterior median of the between-study standard deviation tau.
    tau_ci_low, tau_ci_high : float
        Central credible interval of tau. bayesmeta's default for tau is the *shortest* interval
        (which starts at 0 when the posterior peaks there); this one is equal-tailed like the others.
    pred_ci_low, pred_ci_high : float
        Central posterior predictive interval of a new trial's true effect ``theta_new ~ N(mu, tau^2)``.
    level : float
        Credibility level of every interval.
    mu_prior_sd : float or None
        Standard deviation of the N(0, sd^2) prior on mu; None for the flat (improper uniform) prior.
    prior : str
        The prior on tau in words (its ``describe()``).
    """

    k: int
    mu_mean: float
    mu_median: float
    mu_ci_low: float
    mu_ci_high: float
    tau_median: float
    tau_ci_low: float
    tau_ci_high: float
    pred_ci_low: float
    pred_ci_high: float
    level: float
    mu_prior_sd: float | None
    prior: str
    # The quadrature behind the summaries (for probabilities and densities), kept out of repr and ==.
    _eta: np.ndarray = field(repr=False, compare=False)
    _tau_eta: np.ndarray = field(repr=False, compare=False)
    _weight: np.ndarray = field(repr=False, compare=False)
    _mean: np.ndarray = field(repr=False, compare=False)
    _sd: np.ndarray = field(repr=False, compare=False)
    _tau_density_eta: np.ndarray = field(repr=False, compare=False)

    def to_dict(self) -> dict:
        return {k: v for k, v in result_dict(self).items() if not k.startswith("_")}

    def prob_mu_below(self, x: float) -> float:
        """P(mu < x | y): the normal mixture's CDF at x."""
        return float(_mixture_cdf(np.asarray([float(x)]), self._weight, self._mean, self._sd)[0])

    def prob_mu_above(self, x: float) -> float:
        """P(mu > x | y), computed as the upper tail (no cancellation for small tails)."""
        z = (self._mean - float(x)) / self._sd
        return float(np.clip(np.dot(self._weight, special.ndtr(z)), 0.0, 1.0))

    def mu_density(self, grid=None) -> tuple[np.ndarray, np.ndarray]:
        """Posterior density of mu on ``grid`` (default: 201 points over its 0.05% to 99.95% quantiles)."""
        if grid is None:
            lo, hi = _mixture_quantiles(np.array([5e-4, 1 - 5e-4]), self._weight, self._mean, self._sd)
            grid = np.linspace(lo, hi, 201)
        x = np.asarray(grid, dtype=float)
        z = (x[:, None] - self._mean[None, :]) / self._sd[None, :]
        dens = (np.exp(-0.5 * z * z) / (math.sqrt(2 * math.pi) * self._sd[None, :])) @ self._weight
        return x, dens

    def tau_density(self, grid=None) -> tuple[np.ndarray, np.ndarray]:
        """Posterior density of tau on ``grid`` (default: 201 points up to its 99.9% quantile),
        interpolated on log tau between the refined quadrature nodes; 0 outside them."""
        if grid is None:
            upper = _tau_quantiles(self._tau_eta, self._tau_density_eta, np.array([0.999]))[0]
            grid = np.linspace(upper / 2000, upper, 201)
        t = np.asarray(grid, dtype=float)
        with np.errstate(divide="ignore"):
            e = np.log(np.where(t > 0, t, np.nan))
        dens_eta = np.interp(e, self._tau_eta, self._tau_density_eta, left=0.0, right=0.0)
        return t, np.where(t > 0, np.nan_to_num(dens_eta / t), 0.0)

    def describe(self) -> str:
        pct = f"{100 * self.level:g}%"
        return (f"Bayesian random effects, {self.prior}; mu {self.mu_median:.3g} ({pct} CrI {self.mu_ci_low:.3g} "
                f"to {self.mu_ci_high:.3g}), tau {self.tau_median:.3g}")


# ---------------------------------------------------------------------------------------------
# the conditional posterior of mu given tau, and the marginal likelihood of tau, on many nodes

def _conditional(y: np.ndarray, v: np.ndarray, eta: np.ndarray, mu_prior_var: float | None):
    """Per node: log p(y | tau) up to a constant, and the mean and sd of mu | tau, y.

    With ``w_i = 1 / (v_i + tau^2)`` and ``W = sum w_i (+ 1 / sigma0^2)``: ``mu | tau, y ~ N(m, 1/W)`` with
    ``m = sum w_i y_i / W``, and ``log p(y | tau) = -1/2 [sum log(v_i + tau^2) + log W + sum w_i (y_i - m)^2
    (+ m^2 / sigma0^2)]`` (Röver 2020, Sec. 2.3; a N(0, sigma0^2) prior on mu acts as one more study
    with y = 0 and variance sigma0^2 that tau does not touch).
    """
    total = v[None, :] + np.exp(2 * eta)[:, None]
    w = 1.0 / total
    prec = w.sum(axis=1)
    wy = w @ y
    if mu_prior_var is not None:
        prec = prec + 1.0 / mu_prior_var
    m = wy / prec
    resid = y[None, :] - m[:, None]
    q = np.einsum("ij,ij->i", w, resid * resid)
    if mu_prior_var is not None:
        q = q + m * m / mu_prior_var
    loglik = -0.5 * (np.log(total).sum(axis=1) + np.log(prec) + q)
    return loglik, m, 1.0 / np.sqrt(prec)


def _log_integrand(y, v, eta, prior: TauPrior, mu_prior_var):
    """log [p(y | tau) p(tau) tau] on eta = log tau (the Jacobian of tau = e^eta), and the conditionals."""
    loglik, m, s = _conditional(y, v, eta, mu_prior_var)
    with np.errstate(divide="ignore"):
        logpost = loglik + prior.logpdf(np.exp(eta)) + eta
    return logpost, m, s


def _zoom(eta: np.ndarray, logpost: np.ndarray) -> tuple[float, float]:
    """The span of the nodes within _DROP of the peak, widened by one node each side."""
    finite = np.isfinite(logpost)
    if not finite.any():
        raise ValueError("The posterior is zero everywhere on the prior's support: check the prior and the data")
    inside = np.flatnonzero(finite & (logpost >= logpost[finite].max() - _DROP))
    lo, hi = max(inside[0] - 1, 0), min(inside[-1] + 1, len(eta) - 1)
    return float(eta[lo]), float(eta[hi])


def _grid(y, v, prior, mu_var, lo_tau: float, hi_tau: float):
    """The final quadrature nodes on eta (after two zooming passes), with the log integrand and mu | tau."""
    lo, hi = math.log(lo_tau), math.log(hi_tau)
    for n in (_COARSE, _ZOOM):
        eta = np.linspace(lo, hi, n)
        logpost, _, _ = _log_integrand(y, v, eta, prior, mu_var)
        lo, hi = _zoom(eta, logpost)
    eta = np.linspace(lo, hi, _FINE)
    logpost, m, s = _log_integrand(y, v, eta, prior, mu_var)
    if not np.isfinite(logpost).any():
        raise ValueError("The posterior is zero everywhere on the prior's support: check the prior and the data")
    return eta, logpost, m, s


def _lump(prior, eta_bound: float, logpost_bound: float, active: bool, *, upper: bool) -> float:
    """Posterior mass beyond a bound of the grid, relative to the peak: likelihood at the bound times the
    prior's tail mass (exact where the likelihood is flat beyond the bound; 0 when the grid stops short)."""
    if not active:
        return 0.0
    tau = math.exp(eta_bound)
    log_lik = logpost_bound - float(prior.logpdf(tau)) - eta_bound
    tail = 1.0 - float(prior.cdf(tau)) if upper else float(prior.cdf(tau))
    return math.exp(log_lik + math.log(tail)) if tail > 0 else 0.0


def _node_weights(eta, logpost, prior, floor_active: bool, cap_active: bool):
    """Normalised trapezoid weights of the nodes (the lumps beyond the bounds added to the end nodes, where
    mu | tau hardly moves), and the posterior shares of the two lumps."""
    peak = float(np.max(logpost[np.isfinite(logpost)]))
    h = eta[1] - eta[0]
    dens = np.nan_to_num(np.exp(logpost - peak), nan=0.0, posinf=0.0)
    trap = np.full(len(eta), h)
    trap[[0, -1]] = h / 2
    below = _lump(prior, eta[0], logpost[0] - peak, floor_active, upper=False)
    above = _lump(prior, eta[-1], logpost[-1] - peak, cap_active, upper=True)
    z = float(dens @ trap) + below + above
    if not (z > 0 and math.isfinite(z)):
        raise ValueError("The posterior could not be normalised (improper or degenerate)")
    weight = dens * trap / z
    weight[0] += below / z
    weight[-1] += above / z
    return weight, (below / z, above / z)


def _check_prior(prior: object) -> TauPrior:
    if not isinstance(prior, TauPrior):
        raise TypeError(f"tau_prior must be a prior on tau from stats (HalfNormal, HalfCauchy, LogNormalTau2, "
                        f"LogTTau2), got {prior!r}")
    if not getattr(prior, "proper", True):
        raise ValueError(f"The posterior would be improper: {prior.describe()} is not a proper distribution")
    return prior


def bayes_pool(yi, vi, *, tau_prior: TauPrior, mu_prior_sd: float | None = None,
               level: float = 0.95) -> BayesEstimate:
    """Bayesian random-effects meta-analysis of effects ``yi`` with sampling variances ``vi``.

    ``tau_prior``: a proper prior on tau (:class:`~stats.HalfNormal`, :class:`~stats.HalfCauchy`,
    :class:`~stats.LogNormalTau2`, :class:`~stats.LogTTau2` or :func:`~stats.empirical_tau_prior`).
    ``mu_prior_sd``: None for the flat (improper uniform) prior on mu, else the sd of a N(0, sd^2) prior.
    Every interval is central (equal-tailed); bayesmeta reports the shortest interval for tau by
    default. Works for k = 1 (with a flat mu prior the posterior of tau is then its prior).

    Raises ValueError for invalid data, level or mu_prior_sd, and for a posterior that is improper or
    zero everywhere.
    """
    y, v = check_effects(yi, vi)
    lev = check_level(level)
    prior = _check_prior(tau_prior)
    mu_var = None
    if mu_prior_sd is not None:
        sd = float(mu_prior_sd)
        if not (math.isfinite(sd) and sd > 0):
            raise ValueError(f"mu_prior_sd must be None (flat prior) or a positive number, got {mu_prior_sd!r}")
        mu_var = sd * sd
    lo_tau, hi_tau = (float(t) for t in prior.ppf(np.array([_TAIL, 1 - _TAIL])))
    if not (0 < lo_tau < hi_tau < math.inf):
        raise ValueError(f"The prior's quantiles are not usable for integration: {prior.describe()}")
    # Below tau_floor the likelihood is flat to 1e-8 (tau^2 << every v_i), and above tau_cap every study
    # is drowned in heterogeneity (mu | tau is flat to 1e-6 across the data): there the posterior is the
    # prior times the likelihood at the bound, whose mass is added as a lump at the bound. A heavy-tailed
    # log-t prior would otherwise spread the grid over hundreds of units of log tau.
    tau_floor = 1e-4 * math.sqrt(float(v.min()))
    tau_cap = 1e6 * math.sqrt(float(v.max()) + float(np.ptp(y)) ** 2)
    eta, logpost, m, s = _grid(y, v, prior, mu_var, max(lo_tau, tau_floor), min(hi_tau, tau_cap))
    weight, shares = _node_weights(eta, logpost, prior, lo_tau < tau_floor and eta[0] <= math.log(tau_floor) + 1e-12,
                                   hi_tau > tau_cap and eta[-1] >= math.log(tau_cap) - 1e-12)
    eta_nodes = eta
    eta, dens_eta = _refine_density(eta, logpost)
    alpha = (1 - lev) / 2
    probs = np.array([alpha, 0.5, 1 - alpha])
    mu_q = _mixture_quantiles(probs, weight, m, s)
    tau2 = np.exp(2 * eta_nodes)
    pred_q = _mixture_quantiles(np.array([alpha, 1 - alpha]), weight, m, np.sqrt(s * s + tau2))
    dens_eta = dens_eta * (1 - sum(shares))
    tau_q = [float(t) for t in _tau_quantiles(eta, dens_eta, probs, shares, prior)]
    return BayesEstimate(
        k=int(y.size), mu_mean=float(weight @ m), mu_median=float(mu_q[1]), mu_ci_low=float(mu_q[0]),
        mu_ci_high=float(mu_q[2]), tau_median=tau_q[1], tau_ci_low=tau_q[0], tau_ci_high=tau_q[2],
        pred_ci_low=float(pred_q[0]), pred_ci_high=float(pred_q[1]), level=lev,
        mu_prior_sd=None if mu_var is None else math.sqrt(mu_var), prior=prior.describe(),
        _eta=eta_nodes, _weight=weight, _mean=m, _sd=s, _tau_eta=eta, _tau_density_eta=dens_eta)


# ---------------------------------------------------------------------------------------------
# quantiles of the mixtures

def _mixture_cdf(x: np.ndarray, weight, mean, sd) -> np.ndarray:
    return np.clip(special.ndtr((x[:, None] - mean[None, :]) / sd[None, :]) @ weight, 0.0, 1.0)


def _mixture_quantiles(probs: np.ndarray, weight, mean, sd) -> np.ndarray:
    """Quantiles of ``sum_j weight_j N(mean_j, sd_j^2)``: safeguarded Newton, all probabilities at once.

    Each component's own quantile brackets the mixture's (its CDF is their weighted average); a Newton
    step leaving the bracket is replaced by bisection, so the iteration always converges.
    """
    used = weight > 1e-300
    mean, sd, weight = mean[used], sd[used], weight[used]
    p = np.asarray(probs, dtype=float)
    zq = special.ndtri(p)
    lo = np.min(mean[None, :] + zq[:, None] * sd[None, :], axis=1)
    hi = np.max(mean[None, :] + zq[:, None] * sd[None, :], axis=1)
    mu = float(weight @ mean)
    spread = math.sqrt(float(weight @ (sd * sd + (mean - mu) ** 2)))
    x = np.clip(mu + zq * spread, lo, hi)
    for _ in range(100):
        z = (x[:, None] - mean[None, :]) / sd[None, :]
        f = special.ndtr(z) @ weight - p
        dens = (np.exp(-0.5 * z * z) / sd[None, :]) @ weight / math.sqrt(2 * math.pi)
        lo = np.where(f < 0, x, lo)
        hi = np.where(f > 0, x, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(dens > 0, f / dens, np.inf)
        done = np.abs(step) <= 1e-12 * np.maximum(1.0, np.abs(x))
        new = x - step
        inside = (new > lo) & (new < hi) & np.isfinite(new)
        x = np.where(done | inside, new, 0.5 * (lo + hi))
        if done.all():
            break
    return x


def _refine_density(eta: np.ndarray, logpost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The posterior density on eta at 8 times the nodes, from a cubic spline of the log density (smoother
    than the density itself, and free of the data's cost), normalised to integrate to 1."""
    fine = np.linspace(eta[0], eta[-1], _REFINE * (len(eta) - 1) + 1)
    finite = np.isfinite(logpost)
    lp = interpolate.CubicSpline(eta[finite], logpost[finite])(fine)
    dens = np.exp(lp - lp.max())
    h = fine[1] - fine[0]
    total = h * (dens.sum() - 0.5 * (dens[0] + dens[-1]))
    return fine, dens / total


def _tau_quantiles(eta: np.ndarray, dens_eta: np.ndarray, probs: np.ndarray, shares=(0.0, 0.0),
                   prior: TauPrior | None = None) -> np.ndarray:
    """Quantiles of tau from its posterior density on eta: a cubic spline, integrated exactly, solved for p.

    ``shares`` are the posterior masses below ``eta[0]`` and above ``eta[-1]``, where the posterior is the
    prior rescaled, so quantiles there come from the prior's own."""
    below, above = shares
    cdf = interpolate.CubicSpline(eta, dens_eta).antiderivative()
    values = cdf(eta)
    out = np.empty(len(probs))
    for i, p in enumerate(probs):
        if prior is not None and p < below:
            out[i] = math.log(float(prior.ppf(p / below * float(prior.cdf(math.exp(eta[0]))))))
            continue
        if prior is not None and p > 1 - above:
            f_cap = float(prior.cdf(math.exp(eta[-1])))
            out[i] = math.log(float(prior.ppf(f_cap + (p - (1 - above)) / above * (1 - f_cap))))
            continue
        target = (p - below) / (1 - below - above) * values[-1]
        j = int(np.clip(np.searchsorted(values, target), 1, len(eta) - 1))
        a, b = float(eta[j - 1]), float(eta[j])
        fa, fb = values[j - 1] - target, values[j] - target
        if fa * fb > 0:  # rounding error in a flat stretch: take the nearer node
            out[i] = a if abs(fa) < abs(fb) else b
            continue
        # the spline's own polynomial piece on [a, b] (cheaper to evaluate than the PPoly object)
        piece = cdf.c[:, j - 1]
        out[i] = optimize.brentq(lambda e: float(np.polyval(piece, e - a)) - target, a, b, xtol=1e-14, rtol=1e-13)
    return np.exp(out)
