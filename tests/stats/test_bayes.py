"""stats.bayes_pool and the tau priors, against an independent adaptive-quadrature computation written here.

The check integrates the normal-normal model with scipy.integrate.quad on log tau (its own code, not the
module's grid): a quantile q of the module is right to 1e-6 when one Newton step from q on the quad CDF,
(F(q) - p) / f(q), moves it by less than 1e-6.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy import stats as sps

import stats
from stats.priors import EMPIRICAL_PRIORS_CSV, TauPrior, empirical_presets

PRIORS = [stats.HalfNormal(0.5), stats.HalfCauchy(0.5), stats.LogNormalTau2(-2.34, 1.72),
          stats.LogTTau2(-3.44, 2.59, 5)]
DATA = {
    "k4": ([0.1, 0.5, -0.2, 0.8], [0.04, 0.09, 0.05, 0.2]),
    "k1": ([0.3], [0.05]),
    "k2": ([0.2, 0.6], [0.02, 0.03]),
    "k6_wide": ([1.2, -0.4, 0.3, 0.9, 0.1, 2.0], [0.5, 0.3, 0.8, 0.1, 0.2, 1.0]),
}


class QuadPosterior:
    """The posterior by adaptive quadrature over eta = log tau (independent reference)."""

    def __init__(self, y, v, prior, mu_prior_sd=None):
        self.y, self.v, self.prior = np.asarray(y, float), np.asarray(v, float), prior
        self.p0 = 0.0 if mu_prior_sd is None else 1.0 / mu_prior_sd ** 2
        self.lo, self.hi = (math.log(float(t)) for t in prior.ppf(np.array([1e-10, 1 - 1e-10])))
        grid = np.linspace(self.lo, self.hi, 801)
        logs = np.array([self.parts(e)[0] for e in grid])
        self.peak, self.c = float(grid[logs.argmax()]), float(logs.max())
        self.z = self._quad(lambda e: 1.0, self.hi)

    def parts(self, e):
        t2 = math.exp(2 * e)
        w = 1 / (self.v + t2)
        prec = w.sum() + self.p0
        m = (w * self.y).sum() / prec
        q = (w * (self.y - m) ** 2).sum() + self.p0 * m * m
        logpost = -0.5 * (np.log(self.v + t2).sum() + math.log(prec) + q) + float(self.prior.logpdf(math.exp(e))) + e
        return logpost, m, 1 / math.sqrt(prec)

    def _quad(self, g, upper):
        pts = [p for p in (self.peak - 1, self.peak, self.peak + 1) if self.lo < p < upper]
        f = lambda e: math.exp(self.parts(e)[0] - self.c) * g(e)
        return integrate.quad(f, self.lo, upper, limit=400, epsabs=0, epsrel=1e-11, points=pts or None)[0]

    def _normal(self, density, x, pred):
        """The posterior CDF (density=False) or density of mu (pred: of theta_new) at x."""
        def g(e):
            _, m, s = self.parts(e)
            s = math.sqrt(s * s + math.exp(2 * e)) if pred else s
            return sps.norm.pdf((x - m) / s) / s if density else sps.norm.cdf((x - m) / s)
        return self._quad(g, self.hi) / self.z

    def mu_newton_step(self, q, p, pred=False):
        return (self._normal(False, q, pred) - p) / self._normal(True, q, pred)

    def tau_newton_step(self, q, p):
        cdf = self._quad(lambda e: 1.0, math.log(q)) / self.z
        dens = math.exp(self.parts(math.log(q))[0] - self.c) / q / self.z
        return (cdf - p) / dens

    def mu_mean(self):
        return self._quad(lambda e: self.parts(e)[1], self.hi) / self.z


@pytest.mark.parametrize("prior", PRIORS, ids=lambda p: type(p).__name__)
@pytest.mark.parametrize("name", list(DATA))
def test_bayes_pool_agrees_with_adaptive_quadrature(name, prior):
    y, v = DATA[name]
    res = stats.bayes_pool(y, v, tau_prior=prior)
    ref = QuadPosterior(y, v, prior)
    assert abs(ref.mu_newton_step(res.mu_median, 0.5)) < 1e-6
    assert abs(ref.mu_newton_step(res.mu_ci_low, 0.025)) < 1e-6
    assert abs(ref.mu_newton_step(res.pred_ci_high, 0.975, pred=True)) < 1e-6
    assert abs(ref.tau_newton_step(res.tau_median, 0.5)) < 1e-6
    assert abs(ref.tau_newton_step(res.tau_ci_high, 0.975)) < 1e-6
    assert res.mu_mean == pytest.approx(ref.mu_mean(), abs=1e-6)


@pytest.mark.parametrize("prior", PRIORS[:2], ids=lambda p: type(p).__name__)
def test_normal_prior_on_mu_agrees_with_quadrature(prior):
    y, v = DATA["k4"]
    res = stats.bayes_pool(y, v, tau_prior=prior, mu_prior_sd=0.5)
    ref = QuadPosterior(y, v, prior, mu_prior_sd=0.5)
    assert abs(ref.mu_newton_step(res.mu_ci_high, 0.975)) < 1e-6
    assert abs(ref.tau_newton_step(res.tau_median, 0.5)) < 1e-6
    assert res.mu_prior_sd == 0.5
    # shrinkage towards 0 relative to the flat prior
    assert abs(res.mu_mean) < abs(stats.bayes_pool(y, v, tau_prior=prior).mu_mean)


def test_probabilities_match_the_quadrature_cdf():
    y, v = DATA["k4"]
    res = stats.bayes_pool(y, v, tau_prior=PRIORS[0])
    ref = QuadPosterior(y, v, PRIORS[0])
    for x in (0.0, 0.2):
        assert res.prob_mu_below(x) == pytest.approx(ref._normal(False, x, False), abs=1e-7)
        assert res.prob_mu_below(x) + res.prob_mu_above(x) == pytest.approx(1.0, abs=1e-12)
    grid, dens = res.mu_density()
    assert np.trapezoid(dens, grid) == pytest.approx(0.999, abs=2e-3)
    tau, tdens = res.tau_density()
    assert tau[0] > 0 and np.all(tdens >= 0) and np.trapezoid(tdens, tau) == pytest.approx(0.999, abs=2e-3)


@pytest.mark.parametrize("prior", PRIORS, ids=lambda p: type(p).__name__)
def test_k1_posterior_of_tau_is_its_prior(prior):
    res = stats.bayes_pool([0.3], [0.05], tau_prior=prior)
    assert res.k == 1
    assert res.tau_median == pytest.approx(prior.median(), rel=1e-6)
    lo, hi = prior.ppf(np.array([0.025, 0.975]))
    assert res.tau_ci_low == pytest.approx(lo, rel=1e-6) and res.tau_ci_high == pytest.approx(hi, rel=1e-6)
    assert res.mu_median == pytest.approx(0.3, abs=1e-9)


@settings(max_examples=8, deadline=None)
@given(st.lists(st.tuples(st.floats(-2, 2), st.floats(0.01, 1)), min_size=2, max_size=8),
       st.randoms(use_true_random=False), st.floats(-3, 3))
def test_permutation_and_shift_invariance(rows, rnd, c):
    y = np.array([r[0] for r in rows])
    v = np.array([r[1] for r in rows])
    prior = stats.HalfCauchy(0.5)
    base = stats.bayes_pool(y, v, tau_prior=prior)
    order = list(range(len(y)))
    rnd.shuffle(order)
    perm = stats.bayes_pool(y[order], v[order], tau_prior=prior)
    for f in ("mu_median", "mu_ci_low", "mu_ci_high", "tau_median", "tau_ci_high", "pred_ci_low"):
        assert getattr(perm, f) == pytest.approx(getattr(base, f), abs=1e-9)
    shifted = stats.bayes_pool(y + c, v, tau_prior=prior)
    for f in ("mu_median", "mu_ci_low", "mu_ci_high", "mu_mean", "pred_ci_high"):
        assert getattr(shifted, f) == pytest.approx(getattr(base, f) + c, abs=1e-8)
    assert shifted.tau_median == pytest.approx(base.tau_median, abs=1e-9)


def test_no_runtime_warnings_on_edge_data():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for prior in PRIORS:
            stats.bayes_pool([0.3], [1e-6], tau_prior=prior)
            stats.bayes_pool([5.0, -5.0], [1e-4, 1e-4], tau_prior=prior)
            stats.bayes_pool(np.zeros(50), np.full(50, 0.01), tau_prior=prior)


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="tau_prior"):
        stats.bayes_pool([0.1, 0.2], [0.1, 0.1], tau_prior=0.5)
    with pytest.raises(ValueError, match="positions \\[1\\]"):
        stats.bayes_pool([0.1, 0.2], [0.1, -1], tau_prior=PRIORS[0])
    with pytest.raises(ValueError, match="mu_prior_sd"):
        stats.bayes_pool([0.1, 0.2], [0.1, 0.1], tau_prior=PRIORS[0], mu_prior_sd=0)
    with pytest.raises(ValueError, match="scale"):
        stats.HalfNormal(-1)


@dataclass(frozen=True)
class _Improper(TauPrior):
    """A flat prior on tau over (0, inf): not a distribution."""

    source: str = ""
    proper = False

    def logpdf(self, tau):
        return np.zeros_like(np.asarray(tau, float))

    def describe(self):
        return "flat (improper) prior on τ"


def test_improper_posterior_is_refused():
    with pytest.raises(ValueError, match="improper"):
        stats.bayes_pool([0.1, 0.3], [0.1, 0.1], tau_prior=_Improper())


# ---------------------------------------------------------------------------------------------
# the priors

@pytest.mark.parametrize("prior", PRIORS, ids=lambda p: type(p).__name__)
def test_prior_is_normalised_and_cdf_ppf_agree(prior):
    lo, hi = (math.log(float(t)) for t in prior.ppf(np.array([1e-12, 1 - 1e-12])))
    total = integrate.quad(lambda e: float(prior.pdf(math.exp(e))) * math.exp(e), lo, hi, limit=200)[0]
    assert total == pytest.approx(1.0, abs=1e-8)
    p = np.array([0.01, 0.3, 0.5, 0.9])
    assert prior.cdf(prior.ppf(p)) == pytest.approx(p, abs=1e-12)
    upto = math.log(float(prior.ppf(0.4)))
    assert integrate.quad(lambda e: float(prior.pdf(math.exp(e))) * math.exp(e), lo, upto, limit=200)[0] == \
        pytest.approx(0.4, abs=1e-8)
    assert prior.pdf(-1.0) == 0 and prior.cdf(0.0) == 0
    assert "prior" in prior.describe()


def test_priors_match_scipy():
    t = np.array([0.01, 0.2, 0.7, 3.0])
    assert stats.HalfNormal(0.5).pdf(t) == pytest.approx(sps.halfnorm(scale=0.5).pdf(t), rel=1e-12)
    assert stats.HalfNormal(0.5).cdf(t) == pytest.approx(sps.halfnorm(scale=0.5).cdf(t), rel=1e-12)
    assert stats.HalfCauchy(0.5).pdf(t) == pytest.approx(sps.halfcauchy(scale=0.5).pdf(t), rel=1e-12)
    assert stats.HalfCauchy(0.5).ppf(0.7) == pytest.approx(sps.halfcauchy(scale=0.5).ppf(0.7), rel=1e-12)
    # change of variables: the density of tau2 = tau^2 is pdf(tau) / (2 tau)
    ln = stats.LogNormalTau2(-2.0, 1.5)
    ref = sps.lognorm(s=1.5, scale=math.exp(-2.0))
    assert ln.pdf(t) / (2 * t) == pytest.approx(ref.pdf(t ** 2), rel=1e-10)
    assert ln.cdf(t) == pytest.approx(ref.cdf(t ** 2), rel=1e-10)
    lt = stats.LogTTau2(-3.0, 2.0, 5)
    tref = sps.t(df=5, loc=-3.0, scale=2.0)
    assert lt.pdf(t) * t / 2 == pytest.approx(tref.pdf(np.log(t ** 2)), rel=1e-10)
    assert lt.ppf(0.3) ** 2 == pytest.approx(math.exp(tref.ppf(0.3)), rel=1e-10)


def test_empirical_presets_have_sources_and_defaults():
    smd = stats.empirical_tau_prior("smd")
    assert isinstance(smd, stats.LogTTau2) and "Rhodes" in smd.describe() and "mental health" in smd.describe()
    assert (smd.location, smd.scale, smd.df) == (-3.85, 1.93, 5.0)
    assert "out of line" in smd.describe()  # the CSV flags this row
    assert "out of line" not in stats.empirical_tau_prior("log_or").describe()
    lor = stats.empirical_tau_prior("log_or")
    assert isinstance(lor, stats.LogNormalTau2) and "Turner" in lor.describe() and "Table IV" in lor.describe()
    assert (lor.mean, lor.sd) == (-2.34, 1.72)
    general = stats.empirical_tau_prior("smd", "any")
    assert (general.location, general.scale) == (-3.44, 2.59)
    assert stats.empirical_tau_prior("log_or", "all-cause mortality",
                                     "pharmacological vs. placebo / control").mean == -3.95
    with pytest.raises(ValueError, match="outcome types"):
        stats.empirical_tau_prior("smd", "nonsense")
    with pytest.raises(ValueError, match="No empirical"):
        stats.empirical_tau_prior("md")
    rows = empirical_presets("log_or") + empirical_presets("smd")
    assert len(rows) == 80 + 1 + 24 + 1
    assert all(r["table"] and r["quote"] and r["value_source"] and r["cross_check"] for r in rows)
    assert EMPIRICAL_PRIORS_CSV.exists()


def test_published_bayesmeta_example_eight_schools():
    """bayesmeta's vignette (cran/bayesmeta inst/doc/bayesmeta.html, commit 10a27a7f): Rubin1981 with a
    half-Cauchy(25) prior on tau and N(0, 50^2) on mu prints "median 4.758539 7.962961" and
    "mean 5.884511 7.985729" (tau, mu). tau agrees to the printed digits; bayesmeta's mu comes from its
    mixture approximation (DIRECT algorithm, divergence bound delta = 0.01), so it is off by ~3e-4 from the
    exact value, which the quadrature check of this file confirms (to 1e-8)."""
    y = np.array([28.39, 7.94, -2.75, 6.82, -0.64, 0.63, 18.01, 12.16])
    se = np.array([14.9, 10.2, 16.3, 11.0, 9.4, 11.4, 10.4, 17.6])
    prior = stats.HalfCauchy(25)
    res = stats.bayes_pool(y, se ** 2, tau_prior=prior, mu_prior_sd=50)
    assert res.tau_median == pytest.approx(4.758539, abs=1e-6)
    assert res.mu_median == pytest.approx(7.962961, abs=1e-3)
    assert res.mu_mean == pytest.approx(7.985729, abs=1e-3)
    ref = QuadPosterior(y, se ** 2, prior, mu_prior_sd=50)
    assert res.mu_mean == pytest.approx(ref.mu_mean(), abs=1e-6)
