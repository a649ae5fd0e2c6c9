"""The arrivals forecast: the expected final total, when 90 % and 99 % of it will have arrived, a
band over time for a chart, and when a registration backlog clears. Pure Python, NumPy and SciPy.

The reports are cumulative counts C_0 … C_n at times t_0 … t_n. What is fitted is the
*increments* between reports (the residuals of a cumulative curve are strongly autocorrelated,
those of increments over disjoint intervals much less). A growth model says the cumulative is
K·G(t); the expected increment between two reports is K·(G(t_i) − G(t_{i−1})), so reports at
irregular times need no interpolation. What arrived before the first report used is not
modelled (a series may start from any level).

Preparing the reports (each step is there because a realistic series broke the fits without it):
- a trickle before the main flow is left out of the fit (not out of the count): the fit starts at
  the last report before the arrival rate first reached a tenth of its highest level;
- reports more often than daily, over four days or more, that show a daily rhythm (busy
  afternoons, quiet nights) are read every 24 hours back from the last one, so that the rhythm
  cancels out instead of being taken for the trend;
- at most 120 reports are fitted (evenly in time), which keeps a forecast well under a second.

The fit:
- Models: logistic, Gompertz, Richards (generalised logistic), an asymmetric pulse whose rise and
  decay have rates of their own, and two with heavier tails: log-normal and log-logistic in the
  time since an onset (what is left falls off as a power of time, as displacement often does after
  an acute event). The extra shape parameters have weakly informative priors, so that a handful of
  points in a tail cannot send them to extremes.
- Likelihood: negative binomial (variance μ + μ²/k, k fitted by maximum likelihood): counting
  noise and proportional day-to-day swings both. What it still misses goes into a quasi-likelihood
  factor ĉ ≥ 1 (Pearson dispersion, or the batch-means long-run variance when residuals come in
  runs because no model follows the curve exactly).
- Weights: half equal, half by leave-future-out skill (each model refitted to the reports up to
  earlier moments and scored on how well it projected what came after); QAICc when the reports
  are too few. The same refits measure τ, how far this series has strayed from what its curves
  projected, and the forecast is widened by it.

Uncertainty: the profile likelihood of the *remaining* arrivals R (the total is T = C_n + R, so no
bound is ever below what has arrived), read as a distribution under a scale-free reference prior
on T (flat in log T) or the given log-normal prior, spread by τ, and mixed over the models. The
intervals, the dates' interval and the chart band are quantiles of that mixture; the point
forecast is the weighted median of the models' most probable totals.

Identifiable: the reports alone bound the total only once the arrival rate has clearly fallen
from its peak (a model-free test on daily counts; before it, every growth curve would read its own
shape into the rise) and the models' profiles close below 100 × the arrivals so far. Otherwise,
without a prior, `identifiable` is false, the interval is [arrived so far, None] and the note says
why; with a prior, the upper side rests on the prior and the note says that.

The projection is anchored at the last report: the cumulative at a later time t is
C_n + K·(G(t) − G(t_n)), which is what will be reported if the curve holds.
"""

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

Array = NDArray[np.float64]

MAX_POINTS = 120  # longer series are thinned (cumulative kept exactly, increments merged)
CAP_FACTOR = 100.0  # totals above this multiple of the arrivals so far count as unbounded
HORIZON_DAYS = 5 * 365  # dates later than this after the last report are given as None
LFO_ORIGINS = (0.55, 0.70, 0.85)  # where the leave-future-out refits stop (share of the span)
TAU_BASE = 0.5  # log-sd of what is left that no fit sees: the far tail (half to double)
TAU_DEFAULT = 0.25  # the measured spread when the reports are too few to measure it
TAU_MAX = 1.5
FINE_POINTS = 200  # scenarios per model (before the spread by τ)
BAND_SCENARIOS = 400  # scenarios kept for the band over time
MIN_WEIGHT = 0.05  # models below this weight are left out of the mixture
STOP_DELTA = 9.0  # profile walks stop past this rise in deviance / ĉ (beyond 99.7 %)
OPEN_DELTA = 3.84  # χ²₁ 95 %: a cap within this of the best fit leaves the total unbounded
DEFAULT_PRIOR_SD = 0.25
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class ForecastError(ValueError):
    """Reports that cannot be forecast from; the message names the problem."""


# --- the growth models ------------------------------------------------------------------------
# Time s is in spans since the first report fitted (s = 0 there, 1 at the last report). Shape
# parameters θ come in rows (many curves are evaluated at once): θ[:, 0] = log of a rate (per
# span) or of a spread, θ[:, 1] = a centre or an onset (spans), θ[:, 2] = log of a third shape
# parameter where there is one. Each function returns G (the share arrived by s) and S = 1 − G,
# each computed on its own so that neither loses precision; each has the inverse of S.


def _x(s: Array, th: Array) -> Array:
    return np.clip(np.exp(th[:, 0:1]) * (s - th[:, 1:2]), -700.0, 700.0)


def _logistic(s: Array, th: Array) -> tuple[Array, Array]:
    x = _x(s, th)
    return special.expit(x), special.expit(-x)


def _logistic_inv(sigma: Array, th: Array) -> Array:
    x = np.log1p(-sigma) - np.log(sigma)
    return th[:, 1] + x / np.exp(th[:, 0])


def _gompertz(s: Array, th: Array) -> tuple[Array, Array]:
    e = np.exp(-_x(s, th))
    return np.exp(-e), -np.expm1(-e)


def _gompertz_inv(sigma: Array, th: Array) -> Array:
    x = -np.log(-np.log1p(-sigma))
    return th[:, 1] + x / np.exp(th[:, 0])


def _richards(s: Array, th: Array) -> tuple[Array, Array]:
    nu = np.exp(th[:, 2:3])
    z = np.logaddexp(0.0, th[:, 2:3] - _x(s, th)) / nu  # log(1 + ν e^{−x}) / ν
    return np.exp(-z), -np.expm1(-z)


def _richards_inv(sigma: Array, th: Array) -> Array:
    nu = np.exp(th[:, 2])
    z = -nu * np.log1p(-sigma)
    x = th[:, 2] - np.log(np.expm1(z))
    return np.asarray(th[:, 1] + x / np.exp(th[:, 0]), dtype=np.float64)


def _pulse_shape(th: Array) -> tuple[Array, Array, Array]:
    a, b = np.exp(th[:, 0:1]), np.exp(th[:, 2:3])  # rise and decay rates
    return a + b, a / (a + b), b / (a + b)


def _pulse(s: Array, th: Array) -> tuple[Array, Array]:
    # The arrival rate is ∝ 1 / (e^{−a(s−τ)} + e^{b(s−τ)}): it grows like e^{a s} and dies away
    # like e^{−b s}. Its integral is a regularised incomplete beta function of a logistic in s.
    r, alpha, beta = _pulse_shape(th)
    x = np.clip(r * (s - th[:, 1:2]), -700.0, 700.0)
    return special.betainc(alpha, beta, special.expit(x)), special.betainc(
        beta, alpha, special.expit(-x)
    )


def _pulse_inv(sigma: Array, th: Array) -> Array:
    r, alpha, beta = (v[:, 0] for v in _pulse_shape(th))
    q = special.betaincinv(beta, alpha, sigma)
    return np.asarray(th[:, 1] + (np.log1p(-q) - np.log(q)) / r, dtype=np.float64)


def _lognormal(s: Array, th: Array) -> tuple[Array, Array]:
    # Log-normal in the time since an onset: a fast rise and a tail slower than exponential.
    # θ = (log σ, onset, log of the median time after the onset).
    since = s - th[:, 1:2]
    with np.errstate(divide="ignore"):
        z = (np.log(np.maximum(since, 1e-300)) - th[:, 2:3]) / np.exp(th[:, 0:1])
    z = np.where(since > 0, z, -np.inf)
    return special.ndtr(z), special.ndtr(-z)


def _lognormal_inv(sigma: Array, th: Array) -> Array:
    return np.asarray(
        th[:, 1] + np.exp(th[:, 2] - np.exp(th[:, 0]) * special.ndtri(sigma)), dtype=np.float64
    )


def _loglogistic(s: Array, th: Array) -> tuple[Array, Array]:
    # Log-logistic in the time since an onset: what is still to come falls off as a power of
    # the time (S ~ t^−β), as displacement often does after an acute event.
    # θ = (log β, onset, log of the median time after the onset).
    since = s - th[:, 1:2]
    with np.errstate(divide="ignore"):
        z = np.exp(th[:, 0:1]) * (np.log(np.maximum(since, 1e-300)) - th[:, 2:3])
    z = np.clip(np.where(since > 0, z, -np.inf), -700.0, 700.0)
    return special.expit(z), special.expit(-z)


def _loglogistic_inv(sigma: Array, th: Array) -> Array:
    z = np.log1p(-sigma) - np.log(sigma)
    return th[:, 1] + np.exp(th[:, 2] + z / np.exp(th[:, 0]))


def _grid(*axes: Array) -> Array:
    return np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)


_LOG_RATES = np.log(np.geomspace(0.4, 60.0, 12))
_CENTRES = np.linspace(-0.5, 4.0, 16)


@dataclass(frozen=True)
class GrowthModel:
    name: str
    curves: Callable[[Array, Array], tuple[Array, Array]]
    inverse_survival: Callable[[Array, Array], Array]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    starts: Array = field(repr=False)

    @property
    def parameters(self) -> int:
        return len(self.lower) + 1  # the shape and the total


_RATE = (math.log(0.02), math.log(2000.0))
_CENTRE = (-20.0, 200.0)
_EXTRA = (math.log(0.02), math.log(50.0))

MODELS: tuple[GrowthModel, ...] = (
    GrowthModel(
        "logistic",
        _logistic,
        _logistic_inv,
        (_RATE[0], _CENTRE[0]),
        (_RATE[1], _CENTRE[1]),
        _grid(_LOG_RATES, _CENTRES),
    ),
    GrowthModel(
        "gompertz",
        _gompertz,
        _gompertz_inv,
        (_RATE[0], _CENTRE[0]),
        (_RATE[1], _CENTRE[1]),
        _grid(_LOG_RATES, _CENTRES),
    ),
    GrowthModel(
        "richards",
        _richards,
        _richards_inv,
        (_RATE[0], _CENTRE[0], _EXTRA[0]),
        (_RATE[1], _CENTRE[1], _EXTRA[1]),
        _grid(_LOG_RATES[::2], _CENTRES, np.log(np.array([0.15, 0.5, 2.0, 6.0]))),
    ),
    GrowthModel(
        "lognormal",
        _lognormal,
        _lognormal_inv,
        (math.log(0.1), -20.0, math.log(0.005)),
        (math.log(3.0), 0.98, math.log(500.0)),
        _grid(
            np.log(np.array([0.35, 0.7, 1.2])),
            np.array([-1.0, -0.3, -0.05]),
            np.log(np.geomspace(0.1, 5.0, 8)),
        ),
    ),
    GrowthModel(
        "loglogistic",
        _loglogistic,
        _loglogistic_inv,
        (math.log(0.3), -20.0, math.log(0.005)),
        (math.log(20.0), 0.98, math.log(500.0)),
        _grid(
            np.log(np.array([1.0, 2.0, 4.0])),
            np.array([-1.0, -0.3, -0.05]),
            np.log(np.geomspace(0.1, 5.0, 8)),
        ),
    ),
    GrowthModel(
        "pulse",
        _pulse,
        _pulse_inv,
        (_RATE[0], _CENTRE[0], _RATE[0]),
        (_RATE[1], _CENTRE[1], _RATE[1]),
        _grid(_LOG_RATES[::2], _CENTRES, np.log(np.array([0.3, 1.0, 3.0, 10.0]))),
    ),
)


# --- the likelihood ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Data:
    s: Array  # report times in spans since the first report used
    y: Array  # the increments between them (one fewer)
    observed: float  # the last report's cumulative count
    s_last: float

    @property
    def gained(self) -> float:
        return float(self.y.sum())


def _means(model: GrowthModel, data: _Data, th: Array, total: Array) -> Array:
    """Expected increments between the reports, one row per row of θ; `total` is K, one per
    row. (What arrived before the first report is not modelled: the series may start from any
    level, counted by any earlier rule.)"""
    g, s = model.curves(data.s, th)
    inc = np.where(g[:, :-1] >= 0.5, s[:, :-1] - s[:, 1:], g[:, 1:] - g[:, :-1])
    return np.clip(total[:, None] * np.maximum(inc, 0.0), 1e-9, 1e18)


def _deviance_terms(y: Array, mu: Array, k: float) -> Array:
    """Negative binomial deviance of each increment (k → ∞ is Poisson)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
    second = (y + k) * np.log1p((y - mu) / (mu + k))
    return np.asarray(np.maximum(2.0 * (first - second), 0.0), dtype=np.float64)


def _residuals(y: Array, mu: Array, k: float) -> Array:
    return np.asarray(np.sign(y - mu) * np.sqrt(_deviance_terms(y, mu, k)), dtype=np.float64)


def _log_likelihood(y: Array, mu: Array, k: float) -> float:
    mu = np.maximum(mu, 1e-9)
    terms = (
        special.gammaln(y + k)
        - special.gammaln(k)
        - special.gammaln(y + 1.0)
        + k * np.log(k / (k + mu))
        + y * np.log(mu / (k + mu))
    )
    return float(np.sum(terms))


def _fit_dispersion(y: Array, mu: Array) -> float:
    """The negative binomial k that makes the fitted means most likely."""
    result = optimize.minimize_scalar(
        lambda lk: -_log_likelihood(y, mu, math.exp(lk)),
        bounds=(math.log(0.2), math.log(1e8)),
        method="bounded",
        options={"xatol": 1e-3},
    )
    return math.exp(float(result.x))


@dataclass
class _Fit:
    model: GrowthModel
    theta: Array  # shape parameters
    total: float  # K
    deviance: float

    def remaining(self, data: _Data) -> float:
        _, s = self.model.curves(np.array([data.s_last]), self.theta[None, :])
        return self.total * float(s[0, 0])


def _clip_to(model: GrowthModel, th: Array) -> Array:
    lo, hi = np.array(model.lower), np.array(model.upper)
    return np.clip(th, lo + 1e-9, hi - 1e-9)


def _solve(
    batch: Callable[[Array], Array], x0: Array, lo: Array, hi: Array, max_nfev: int
) -> tuple[Array, float]:
    """Least squares of `batch` (rows of parameters → rows of residuals), with the Jacobian
    by forward differences computed in one batched call."""

    def jac(x: Array) -> Array:
        h = 1e-6 * np.maximum(1.0, np.abs(x))
        h = np.where(x + h > hi, -h, h)
        rows = x[None, :] + np.diag(h)
        values = batch(np.vstack([x[None, :], rows]))
        return np.asarray(((values[1:] - values[0]) / h[:, None]).T, dtype=np.float64)

    x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
    result = optimize.least_squares(
        lambda x: batch(x[None, :])[0],
        x0,
        jac=jac,
        bounds=(lo, hi),
        method="trf",
        max_nfev=max_nfev,
    )
    return np.asarray(result.x, dtype=np.float64), 2.0 * float(result.cost)


def _shape_penalty(model: GrowthModel, th: Array) -> Array:
    """Weakly informative priors on the fourth parameter, as residuals (rows of θ → rows)."""
    if model.name == "richards":  # ν near 1 (logistic); Gompertz-like ν = 0.05 costs z = 2
        return th[:, 2:3] / 1.5
    if model.name == "pulse":  # decay about half as fast as the rise, within a factor of e^1.2
        return (th[:, 2:3] - th[:, 0:1] - math.log(0.5)) / 1.2
    if model.name == "lognormal":  # σ near 0.6: σ = 2 (a tail of years) costs z = 2
        return (th[:, 0:1] - math.log(0.6)) / 0.6
    if model.name == "loglogistic":  # tail exponent β near 2: β = 0.6 (hardly ending) costs z = 2
        return (th[:, 0:1] - math.log(2.0)) / 0.6
    return np.zeros((th.shape[0], 0))


def _fit_free(
    model: GrowthModel,
    data: _Data,
    k: float,
    th0: Array,
    cap: float,
    c_hat: float = 1.0,
    max_nfev: int = 200,
) -> _Fit:
    """The maximum-likelihood fit of K and θ from a start (deviance plus ĉ × shape penalty)."""
    log_obs = math.log(data.observed)
    root_c = math.sqrt(c_hat)

    def batch(p: Array) -> Array:
        mu = _means(model, data, p[:, 1:], np.exp(log_obs + p[:, 0]))
        return np.hstack([_residuals(data.y, mu, k), root_c * _shape_penalty(model, p[:, 1:])])

    g, _ = model.curves(data.s[[0, -1]], th0[None, :])
    v0 = math.log(  # K = gain / (G(t_n) − G(t_0))
        max(data.gained / data.observed / max(float(g[0, 1] - g[0, 0]), 1e-12), 0.6)
    )
    lo = np.array([math.log(0.5), *model.lower])
    hi = np.array([math.log(cap / data.observed), *model.upper])
    p, deviance = _solve(batch, np.array([v0, *th0]), lo, hi, max_nfev)
    return _Fit(model, p[1:], math.exp(log_obs + p[0]), deviance)


def _fit_given_remaining(
    model: GrowthModel, data: _Data, k: float, th0: Array, remaining: float, c_hat: float
) -> _Fit:
    """The best θ when the arrivals still to come are fixed at `remaining` (K follows)."""
    s_last = np.array([data.s_last])
    root_c = math.sqrt(c_hat)

    def totals(th: Array) -> Array:
        _, s = model.curves(s_last, th)
        return np.asarray(remaining / np.maximum(s[:, 0], 1e-300), dtype=np.float64)

    def batch(th: Array) -> Array:
        mu = _means(model, data, th, totals(th))
        return np.hstack([_residuals(data.y, mu, k), root_c * _shape_penalty(model, th)])

    th, deviance = _solve(batch, th0, np.array(model.lower), np.array(model.upper), 30)
    return _Fit(model, th, float(totals(th[None, :])[0]), deviance)


def _best_starts(model: GrowthModel, data: _Data, k: float, count: int) -> list[Array]:
    """The best rows of the model's start grid, K at its Poisson optimum."""
    th = model.starts
    g, _ = model.curves(data.s[[0, -1]], th)
    total = data.gained / np.maximum(g[:, 1] - g[:, 0], 1e-12)
    dev = _deviance_terms(data.y, _means(model, data, th, total), k).sum(axis=1)
    dev[~np.isfinite(dev) | (total > 1e6 * data.observed)] = np.inf
    return [th[i] for i in np.argsort(dev)[:count]]


def _qaicc(fit: _Fit, n: int, c_hat: float) -> float:
    p = fit.model.parameters
    penalty = 2 * p + (2 * p * (p + 1) / (n - p - 1) if n - p - 1 > 0 else 1e6)
    return fit.deviance / c_hat + penalty


def _future(
    fits: list[_Fit], data: _Data, counts: Array, k: float, c_hat: float, cap: float
) -> tuple[Array, float] | None:
    """Leave-future-out: how well each model extrapolates, and how well the curves extrapolate
    this series at all. None when the reports are too few.

    Each model is refitted to the reports up to three earlier moments (55, 70 and 85 % of the
    way through the reports' span), and its projection of what arrived from then to the last
    report is compared with what did: e = log(projected / reported). One origin is one
    observation (the increments after it share its error), so a model's score is −½ Σ e² / σ²,
    with σ² the typical (median) e² among the models at that origin: a model is preferred for
    extrapolating better than the others, not for fitting noise. The spread τ is the root mean
    square, over the origins, of the models' median error: how far this series has strayed
    from what its fitted curves said; it widens the forecast.
    """
    n = len(data.y)
    origins = sorted({int(np.searchsorted(data.s, q, side="right")) - 1 for q in LFO_ORIGINS})
    origins = [j for j in origins if j >= 4 and j < n and counts[j] > counts[0]]
    if len(origins) < 2:
        return None
    scores = np.zeros(len(fits))
    misses = []
    for j in origins:
        past = _Data(
            s=data.s[: j + 1], y=data.y[:j], observed=float(counts[j]), s_last=float(data.s[j])
        )
        reported = max(float(counts[-1] - counts[j]), 1.0)
        errors = np.empty(len(fits))
        for m, fit in enumerate(fits):
            refit = _fit_free(fit.model, past, k, fit.theta, cap, c_hat, max_nfev=60)
            mu = _means(fit.model, data, refit.theta[None, :], np.array([refit.total]))[0]
            errors[m] = math.log(max(float(mu[j:].sum()), 1.0) / reported)
        scores -= 0.5 * errors**2 / max(float(np.median(errors**2)), 0.05**2)
        misses.append(float(np.median(errors)))
    return scores, min(math.sqrt(float(np.mean(np.square(misses)))), TAU_MAX)


def _model_weights(
    fits: list[_Fit], data: _Data, counts: Array, k: float, c_hat: float, cap: float
) -> tuple[Array, float]:
    """The models' weights and the extrapolation spread τ.

    Half the weight is shared equally, half goes by how well each model extrapolated (by QAICc
    when the reports are too few to tell, and then τ is a default). Models that fit far worse
    than the best (ΔQAICc > 100: a failed fit), or have too few reports for their parameters, get
    nothing. Equal shares keep every plausible shape in the band: on curves that no model
    describes exactly, an ensemble is more often right than the model that fits best.
    """
    n = len(data.y)
    qaicc = np.array([_qaicc(f, n, c_hat) for f in fits])
    usable = (qaicc - qaicc.min() <= 100.0) & np.array(
        [n - f.model.parameters - 1 >= 1 for f in fits]
    )
    if not usable.any():
        usable = qaicc == qaicc.min()
    future = _future(fits, data, counts, k, c_hat, cap)
    scores, measured = (-0.5 * qaicc, TAU_DEFAULT) if future is None else future
    # The refits measure how far the near future strayed from the curves; what is left to come
    # lies further out, where every curve family guesses (a flow that stops when the border
    # closes, or fades for months): TAU_BASE in quadrature.
    tau = math.sqrt(measured**2 + TAU_BASE**2)
    scores = np.where(usable, scores, -np.inf)
    chosen = np.exp(scores - scores[usable].max())
    weights = 0.5 * usable / usable.sum() + 0.5 * chosen / chosen.sum()
    return np.asarray(weights, dtype=np.float64), tau


def _dispersion_factor(fit: _Fit, data: _Data, k: float) -> float:
    """ĉ: how much more the increments vary than the likelihood allows, at least 1.

    The Pearson dispersion, and the batch-means estimate of the long-run variance of the
    Pearson residuals (the variance of sums over blocks of 2, 4, 8 … consecutive increments,
    per increment): when no model follows the curve's shape, residuals come in runs of one sign
    and the data hold that much less information. The larger of the two counts.
    """
    mu = _means(fit.model, data, fit.theta[None, :], np.array([fit.total]))[0]
    pearson = (data.y - mu) / np.sqrt(mu + mu * mu / k)
    n = len(data.y)
    df = max(n - fit.model.parameters, 1)
    c_hat = max(1.0, float(np.sum(pearson**2)) / df)
    length = 2
    while n // length >= 4:
        blocks = pearson[n - (n // length) * length :].reshape(-1, length).sum(axis=1)
        c_hat = max(c_hat, float(np.mean(blocks**2)) / length * n / df)
        length *= 2
    return c_hat


def _rate_has_peaked(days: Array, counts: Array) -> bool:
    """Whether the arrival rate has clearly fallen from its highest level (model-free).

    Counts in windows of equal length (whole days when reports come more often than daily, so
    that the daily rhythm does not look like a fall; at least a tenth of the reports' span): the
    latest window against the highest earlier one. The fall must exceed what the windows'
    own ups and downs allow (1.28 × √2 × their log-sd, at least 5 %).
    """
    span = float(days[-1] - days[0])
    steps = np.diff(days)
    length = max(span / 10.0, float(np.median(steps)))
    if span >= 3.0 and float(np.median(steps)) < 1.0:
        length = math.ceil(length)
    if length > span / 2.0:
        return False

    def window(ends: Array) -> Array:
        return np.asarray(
            np.interp(ends, days, counts) - np.interp(ends - length, days, counts),
            dtype=np.float64,
        )

    ends = days[days >= days[0] + length]
    latest = float(window(days[-1:])[0])
    earlier = ends[ends <= days[-1] - length / 2.0]
    if len(earlier) == 0:
        return False
    peak = float(window(earlier).max())
    if peak <= 0:
        return False
    if latest <= 0:
        return True
    # The windows' own noise, from successive non-overlapping windows back from the latest: the
    # median absolute deviation of second differences of their logarithms (which a steady
    # rise or fall, and a steady bend, leave out), scaled to one window's log-sd.
    tiles = window(days[-1] - length * np.arange(int(span / length)))
    tiles = tiles[tiles > 0]
    noise = 0.1
    if len(tiles) >= 5:
        bends = np.diff(np.log(tiles), n=2)
        noise = float(np.median(np.abs(bends - np.median(bends)))) / 0.6745 / math.sqrt(6.0)
    return math.log(peak / latest) > max(0.05, 1.28 * math.sqrt(2.0) * noise)


# --- the profile of the remaining arrivals ----------------------------------------------------


@dataclass
class _Profile:
    fit: _Fit  # the model's best fit
    weight: float  # QAICc weight (later: times agreement with the prior)
    u: Array  # log of the remaining arrivals R, ascending
    deviance: Array
    fits: list[_Fit]  # the fit at each u
    open_above: bool  # the walk reached the cap with the likelihood still high


def _single(fit: _Fit, data: _Data, weight: float) -> _Profile:
    """A model's best fit alone, as a profile of one point."""
    u = math.log(max(fit.remaining(data), 1e-3))
    return _Profile(fit, weight, np.array([u]), np.array([fit.deviance]), [fit], True)


def _profile(
    fit: _Fit,
    data: _Data,
    k: float,
    c_hat: float,
    u_lo: float,
    u_hi: float,
    weight: float,
) -> _Profile:
    """The profile of the deviance over u = log R, walked out from the best fit until it has
    risen far enough or reached the bounds."""
    u_hat = math.log(max(fit.remaining(data), math.exp(u_lo)))
    u_hat = min(u_hat, u_hi)
    centre = _fit_given_remaining(fit.model, data, k, fit.theta, math.exp(u_hat), c_hat)
    best = min(centre.deviance, fit.deviance)
    points: list[tuple[float, _Fit]] = [(u_hat, centre)]
    open_above = False
    for direction in (1.0, -1.0):
        u, previous, step = u_hat, centre, 0.05
        for _ in range(40):
            bound = u_hi if direction > 0 else u_lo
            u_next = u + direction * step
            at_bound = (u_next - bound) * direction >= 0
            if at_bound:
                u_next = bound
            if abs(u_next - u) < 1e-9:
                break
            current = _fit_given_remaining(
                fit.model, data, k, previous.theta, math.exp(u_next), c_hat
            )
            points.append((u_next, current))
            delta = (current.deviance - best) / c_hat
            jump = abs(current.deviance - previous.deviance) / c_hat
            if at_bound:
                open_above = open_above or (direction > 0 and delta < OPEN_DELTA)
                break
            if delta > STOP_DELTA:
                break
            if jump < 0.2:
                step *= 2.0
            elif jump > 1.0:
                step = max(step / 2.0, 0.005)
            u, previous = u_next, current
    points.sort(key=lambda p: p[0])
    return _Profile(
        fit=fit,
        weight=weight,
        u=np.array([p[0] for p in points]),
        deviance=np.array([p[1].deviance for p in points]),
        fits=[p[1] for p in points],
        open_above=open_above,
    )


# --- the mixture of scenarios -----------------------------------------------------------------


@dataclass(frozen=True)
class _Scenarios:
    """Fitted curves of one model, each with its probability: the forecast's distribution."""

    model: GrowthModel
    theta: Array  # rows
    total_k: Array  # K of each curve
    final: Array  # the final total C_n + R of each
    date_90: Array  # spans
    date_99: Array
    weight: Array

    def cumulative(self, s: Array) -> Array:
        """Cumulative arrivals at times s (spans, after the last report): rows are curves."""
        _, surv = self.model.curves(s, self.theta)
        return np.asarray(self.final[:, None] - self.total_k[:, None] * surv, dtype=np.float64)


def _dates(
    model: GrowthModel,
    theta: Array,
    total_k: Array,
    final: Array,
    share: float,
    data: _Data,
    counts: Array,
) -> Array:
    """When `share` of each curve's final total will have arrived (spans), on the curve
    anchored at the last report; from the reports themselves when that many had arrived."""
    target = share * final
    sigma = (1.0 - share) * final / total_k  # S(s) = (final − target) / K
    out = np.full(len(final), math.inf)
    past = target <= data.observed
    out[past] = np.interp(target[past], counts, data.s)
    future = ~past & (sigma > 0) & (sigma < 1)
    if future.any():
        with np.errstate(all="ignore"):
            out[future] = model.inverse_survival(sigma[future], theta[future])
    return np.where(np.isfinite(out), out, math.inf)


@dataclass(frozen=True)
class _Mixture:
    groups: tuple[_Scenarios, ...]
    modes: Array  # per model: its most probable total and that curve's 90 % and 99 % dates
    mode_weights: Array

    def column(self, name: str) -> Array:
        return np.concatenate([getattr(g, name) for g in self.groups])

    def quantiles(self, name: str, quantiles: Sequence[float]) -> list[float]:
        return _quantiles_1d(self.column(name), self.column("weight"), quantiles)

    def middle(self) -> tuple[float, float, float]:
        """The weighted median, over the models, of each one's most probable total and dates:
        the point forecast (a mixture's median sits in the long upper tail of any model that the
        reports barely bound)."""
        total, d90, d99 = (
            _quantiles_1d(self.modes[:, i], self.mode_weights, (0.5,))[0] for i in range(3)
        )
        return total, d90, d99


def _mixture(
    profiles: list[_Profile],
    data: _Data,
    counts: Array,
    c_hat: float,
    tau: float,
    peaked: bool,
    u_lo: float,
    u_hi: float,
    prior_total: float | None,
    prior_sd: float,
) -> _Mixture | None:
    """The forecast's distribution: each model's profile read as a distribution over
    u = log R, spread by the extrapolation error τ, weighted by the prior if any, and mixed.

    The reference prior is flat in log T (a density R/T in u). Scenarios lie on a fine grid of u,
    each with the shape of the nearest profile fit and K scaled to its R. Before the rate has
    peaked the reports say only that T is at least what has arrived: the likelihood is flat over
    the whole range, each scenario with the model's best-fitting shape. The spread: every
    scenario is repeated at u + δ for five Gauss–Hermite nodes δ of N(0, τ²). A given prior
    multiplies each scenario's weight and re-weights the models by how well each agrees with it.
    """
    observed = data.observed
    nodes, node_weights = np.polynomial.hermite_e.hermegauss(5)
    node_weights = node_weights / node_weights.sum()
    groups: list[_Scenarios] = []
    modes: list[list[float]] = []
    for profile in profiles:
        if peaked:
            fine_u = np.linspace(profile.u[0], profile.u[-1], FINE_POINTS)
            fine_dev = np.interp(fine_u, profile.u, profile.deviance) / c_hat
        else:
            fine_u = np.linspace(u_lo, u_hi, FINE_POINTS)
            fine_dev = np.zeros(FINE_POINTS)
        nearest = np.abs(fine_u[:, None] - profile.u[None, :]).argmin(axis=1)
        theta = np.array([f.theta for f in profile.fits])[nearest]
        total_k = np.array([f.total for f in profile.fits])[nearest]
        total_k = total_k * np.exp(fine_u - profile.u[nearest])
        fine_final = observed + np.exp(fine_u)
        log_density = -0.5 * (fine_dev - fine_dev.min()) + fine_u - np.log(fine_final)
        mass = np.exp(log_density - log_density.max()) * np.gradient(fine_u)
        mass /= mass.sum()

        # Every grid point at every node.
        u = np.minimum((fine_u[:, None] + tau * nodes[None, :]).ravel(), u_hi)
        rows = np.repeat(np.arange(FINE_POINTS), len(nodes))
        scaled_k = total_k[rows] * np.exp(u - fine_u[rows])
        weight = (mass[:, None] * node_weights[None, :]).ravel()
        final = observed + np.exp(u)
        if prior_total is not None:
            weight = weight * np.exp(_log_prior(final, prior_total, prior_sd))
            profile.weight *= float(weight.sum())  # how well the model agrees with the prior
        keep = weight > 1e-9 * weight.max() if weight.max() > 0 else weight >= 0
        kept_theta, kept_k, kept_final = theta[rows][keep], scaled_k[keep], final[keep]
        model = profile.fit.model
        groups.append(
            _Scenarios(
                model=model,
                theta=kept_theta,
                total_k=kept_k,
                final=kept_final,
                date_90=_dates(model, kept_theta, kept_k, kept_final, 0.9, data, counts),
                date_99=_dates(model, kept_theta, kept_k, kept_final, 0.99, data, counts),
                weight=weight[keep] / max(float(weight[keep].sum()), 1e-300),
            )
        )

        # The model's most probable total, on the log T scale (where the reference is flat);
        # before the peak without a prior, its best fit.
        if peaked or prior_total is not None:
            mode = int(np.argmax(-0.5 * fine_dev + _log_prior(fine_final, prior_total, prior_sd)))
        else:
            mode = int(np.abs(fine_u - profile.u[0]).argmin())
        at = slice(mode, mode + 1)
        modes.append(
            [
                float(fine_final[mode]),
                float(_dates(model, theta[at], total_k[at], fine_final[at], 0.9, data, counts)[0]),
                float(_dates(model, theta[at], total_k[at], fine_final[at], 0.99, data, counts)[0]),
            ]
        )
    norm = sum(p.weight for p in profiles)
    if not norm > 0:
        return None
    model_share = np.array([p.weight / norm for p in profiles])
    groups = [
        _Scenarios(g.model, g.theta, g.total_k, g.final, g.date_90, g.date_99, g.weight * w)
        for g, w in zip(groups, model_share, strict=True)
    ]
    return _Mixture(groups=tuple(groups), modes=np.array(modes), mode_weights=model_share)


def _resample(groups: Sequence[_Scenarios], count: int) -> tuple[_Scenarios, ...]:
    """At most `count` scenarios, drawn systematically by weight (the band over time evaluates
    every scenario at every time)."""
    weights = np.concatenate([g.weight for g in groups])
    if len(weights) <= count:
        return tuple(groups)
    picks = np.searchsorted(np.cumsum(weights) / weights.sum(), (np.arange(count) + 0.5) / count)
    out = []
    offset = 0
    for g in groups:
        mine = picks[(picks >= offset) & (picks < offset + len(g.weight))] - offset
        offset += len(g.weight)
        if len(mine):
            out.append(
                _Scenarios(
                    g.model,
                    g.theta[mine],
                    g.total_k[mine],
                    g.final[mine],
                    g.date_90[mine],
                    g.date_99[mine],
                    np.full(len(mine), 1.0 / count),
                )
            )
    return tuple(out)


# --- the result -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelWeight:
    name: str
    weight: float
    total: float  # the model's own most probable final total


@dataclass(frozen=True)
class Forecast:
    """A forecast of cumulative arrivals. Totals are people; times are aware datetimes."""

    as_of: datetime
    last_report: datetime
    reports: int
    observed: float  # the cumulative at as_of (the last report's figure)
    predicted_total: float
    interval_80: tuple[float, float | None]  # None: no upper bound
    interval_95: tuple[float, float | None]
    date_90pct: datetime | None  # None: beyond the horizon or unknown
    date_99pct: datetime | None
    date_90pct_interval_80: tuple[datetime | None, datetime | None]
    identifiable: bool
    data_identify_total: bool  # the reports alone bound the total (without the prior)
    note: str | None
    models: tuple[ModelWeight, ...]
    dispersion: float  # ĉ
    nb_k: float
    extrapolation_spread: float  # τ
    prior_total: float | None
    prior_sd: float | None
    warnings: tuple[str, ...] = ()
    scenarios: tuple[_Scenarios, ...] = field(default=(), repr=False, compare=False)
    origin: datetime = field(default=_EPOCH, repr=False, compare=False)
    span: timedelta = field(default=timedelta(days=1), repr=False, compare=False)

    @property
    def share_arrived(self) -> float:
        return self.observed / self.predicted_total if self.predicted_total > 0 else 1.0

    def as_dict(self, zone: tzinfo) -> dict[str, Any]:
        """The forecast as JSON-ready values, times in ISO 8601 with the offset of `zone`."""

        def when(value: datetime | None) -> str | None:
            return None if value is None else value.astimezone(zone).isoformat(timespec="minutes")

        def count(value: float | None) -> int | None:
            return None if value is None else round(value)

        def finite(value: float) -> float | None:
            return round(value, 3) if math.isfinite(value) else None

        return {
            "as_of": when(self.as_of),
            "last_report": when(self.last_report),
            "reports_used": self.reports,
            "observed": count(self.observed),
            "predicted_total": count(self.predicted_total),
            "share_arrived": round(self.share_arrived, 4),
            "interval_80": [count(self.interval_80[0]), count(self.interval_80[1])],
            "interval_95": [count(self.interval_95[0]), count(self.interval_95[1])],
            "date_90pct": when(self.date_90pct),
            "date_99pct": when(self.date_99pct),
            "date_90pct_interval_80": [when(d) for d in self.date_90pct_interval_80],
            "identifiable": self.identifiable,
            "data_identify_total": self.data_identify_total,
            "note": self.note,
            "prior": None
            if self.prior_total is None
            else {"total": count(self.prior_total), "sd": self.prior_sd},
            "models": [
                {"name": m.name, "weight": round(m.weight, 4), "total": count(m.total)}
                for m in self.models
            ],
            "dispersion": finite(self.dispersion),
            "negative_binomial_k": finite(self.nb_k),
            "extrapolation_spread": finite(self.extrapolation_spread),
            "warnings": list(self.warnings),
        }

    def cumulative_quantiles(self, times: Sequence[datetime], quantiles: Sequence[float]) -> Array:
        """Projected cumulative arrivals at each time (rows) for each quantile (columns).

        Times up to the last report get the last report's figure (a chart draws the reports
        themselves); later ones mix the forecast's curves, each anchored at the last report.
        """
        out = np.full((len(times), len(quantiles)), self.observed)
        if not self.scenarios:
            return out
        s = np.array([(t - self.origin) / self.span for t in times], dtype=np.float64)
        later = s > (self.last_report - self.origin) / self.span
        if not later.any():
            return out
        values = np.vstack([g.cumulative(s[later]) for g in self.scenarios])
        weights = np.concatenate([g.weight for g in self.scenarios])
        out[later] = _weighted_quantiles(values, weights, quantiles).T
        return out


def _weighted_quantiles(values: Array, weights: Array, quantiles: Sequence[float]) -> Array:
    """Quantiles (rows) of each column of `values` (rows are draws with `weights`)."""
    order = np.argsort(values, axis=0)
    sorted_values = np.take_along_axis(values, order, axis=0)
    cum = np.cumsum(weights[order], axis=0)
    cum = cum / cum[-1:]
    out = np.empty((len(quantiles), values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.interp(quantiles, cum[:, j], sorted_values[:, j])
    return out


def _quantiles_1d(values: Array, weights: Array, quantiles: Sequence[float]) -> list[float]:
    return [float(v) for v in _weighted_quantiles(values[:, None], weights, quantiles)[:, 0]]


# --- preparing the reports --------------------------------------------------------------------


def _daily_rhythm(days: Array, counts: Array) -> bool:
    """Whether arrivals between reports follow the hours of the day: the rate in each interval
    over the 24-hour average around it, by quarter of the day; a rhythm when the busiest quarter
    runs 1.5 times the quietest."""
    mids = (days[1:] + days[:-1]) / 2.0
    inside = (mids - 0.5 >= days[0]) & (mids + 0.5 <= days[-1])
    if inside.sum() < 8:
        return False
    steps = np.diff(days)
    rate = np.diff(counts) / steps
    daily = np.interp(mids + 0.5, days, counts) - np.interp(mids - 0.5, days, counts)
    usable = inside & (daily > 0) & (rate > 0)
    if usable.sum() < 8:
        return False
    ratio = np.log(rate[usable] / daily[usable])
    quarter = np.floor((mids[usable] % 1.0) * 4.0).astype(int)
    means = [
        float(np.average(ratio[quarter == q], weights=steps[usable][quarter == q]))
        for q in range(4)
        if (quarter == q).any()
    ]
    return len(means) >= 2 and max(means) - min(means) > math.log(1.5)


def _whole_days(
    times: list[datetime], cumulative: list[float]
) -> tuple[list[datetime], list[float]]:
    """Reports more often than daily, over four days or more, with a daily rhythm: read every
    24 hours back from the last one (the cumulative interpolated between reports). A smooth curve
    fitted through increments of a few hours takes the phase of the day at the last reports for
    the trend (a forecast just after the day's busiest hours runs high, one in the morning low);
    whole days cancel the rhythm."""
    days = np.array([(t - times[-1]) / timedelta(days=1) for t in times])
    if days[-1] - days[0] < 4.0 or float(np.median(np.diff(days))) >= 0.75:
        return times, cumulative
    local = np.array(
        [
            (t - t.replace(hour=0, minute=0, second=0, microsecond=0)) / timedelta(days=1)
            for t in times
        ]
    )  # the time of day where the report was made, to find the rhythm in
    if not _daily_rhythm(days - days[0] + local[0], np.array(cumulative)):
        return times, cumulative
    grid = -np.arange(0, math.floor(-days[0]) + 1, dtype=np.float64)[::-1]
    counts = np.interp(grid, days, np.array(cumulative))
    return [times[-1] + timedelta(days=float(d)) for d in grid], [float(c) for c in counts]


def _thin(times: list[datetime], cumulative: list[float]) -> tuple[list[datetime], list[float]]:
    """At most MAX_POINTS reports, evenly in time (the first and last kept; what arrived
    between two kept reports is one increment)."""
    if len(times) <= MAX_POINTS:
        return times, cumulative
    seconds = np.array([(t - times[0]).total_seconds() for t in times])
    targets = np.linspace(0.0, seconds[-1], MAX_POINTS)
    keep = np.unique(np.concatenate([[0, len(times) - 1], np.searchsorted(seconds, targets)]))
    keep = keep[keep < len(times)]
    return [times[i] for i in keep], [cumulative[i] for i in keep]


def _main_flow_start(days: Array, counts: Array) -> int:
    """The first report to fit: the last one before the arrival rate first reached a tenth of
    its highest level so far (counts in windows of a twentieth of the span). A trickle before
    the main flow follows no growth curve and would bend every fit; its people stay in the
    count. At least six reports are kept."""
    if len(days) < 8:
        return 0
    length = max(float(days[-1] - days[0]) / 20.0, float(np.median(np.diff(days))))
    ends = days[days >= days[0] + length]
    if len(ends) == 0:
        return 0
    windows = np.interp(ends, days, counts) - np.interp(ends - length, days, counts)
    if windows.max() <= 0:
        return 0
    first = float(ends[int(np.argmax(windows >= 0.1 * windows.max()))])
    index = int(np.searchsorted(days, first - length, side="right")) - 1
    return max(0, min(index, len(days) - 6))


def _log_prior(final: Array, prior_total: float | None, prior_sd: float) -> Array:
    if prior_total is None:
        return np.zeros_like(final)
    z = (np.log(final) - math.log(prior_total)) / prior_sd
    return np.asarray(-0.5 * z * z, dtype=np.float64)


def _checked(
    times: Sequence[datetime],
    cumulative: Sequence[float],
    as_of: datetime | None,
    prior_total: float | None,
    prior_sd: float,
) -> tuple[list[datetime], list[float], datetime]:
    if len(times) != len(cumulative):
        raise ForecastError("times and counts differ in length")
    if len(times) < 3:
        raise ForecastError(
            f"{len(times)} report(s) up to the as-of time; a forecast needs at least three"
        )
    if any(t.tzinfo is None for t in times) or (as_of is not None and as_of.tzinfo is None):
        raise ForecastError("times must carry a time zone")
    if any(b <= a for a, b in itertools.pairwise(times)):
        raise ForecastError("report times must rise")
    counts = [float(c) for c in cumulative]
    if any(not math.isfinite(c) or c < 0 for c in counts):
        raise ForecastError("counts must be non-negative numbers")
    if any(b < a for a, b in itertools.pairwise(counts)):
        raise ForecastError("cumulative counts must not fall (apply revisions first)")
    if prior_total is not None and not (prior_total > 0 and math.isfinite(prior_total)):
        raise ForecastError("the prior total must be a positive number")
    if not 0 < prior_sd <= 3:
        raise ForecastError("the prior's standard deviation must be above 0 and at most 3")
    as_of = as_of or times[-1]
    if as_of < times[-1]:
        raise ForecastError("a report lies after the as-of time")
    return list(times), counts, as_of


# --- the forecast -----------------------------------------------------------------------------


def forecast_arrivals(
    times: Sequence[datetime],
    cumulative: Sequence[float],
    *,
    as_of: datetime | None = None,
    prior_total: float | None = None,
    prior_sd: float = DEFAULT_PRIOR_SD,
    warnings: Sequence[str] = (),
) -> Forecast:
    """Forecast from cumulative reports: aware times, rising; counts never falling.

    The caller keeps only the reports known at `as_of` and lowers revised figures (see
    haven.reports.curves). `prior_total` is a guess of the final total (e.g. the population of
    the area of origin), log-normal with standard deviation `prior_sd` on the log scale (0.25:
    about ±25 %). `warnings` are passed through to the result.
    """
    all_times, all_counts, as_of = _checked(times, cumulative, as_of, prior_total, prior_sd)
    all_days = np.array([(t - all_times[0]) / timedelta(days=1) for t in all_times])
    start = _main_flow_start(all_days, np.array(all_counts))
    fit_times, fit_counts = _thin(*_whole_days(all_times[start:], all_counts[start:]))
    origin, span = fit_times[0], fit_times[-1] - fit_times[0]
    observed = fit_counts[-1]
    notes: list[str] = list(warnings)
    base: dict[str, Any] = {
        "as_of": as_of,
        "last_report": all_times[-1],
        "reports": len(all_times),
        "observed": observed,
        "prior_total": prior_total,
        "prior_sd": prior_sd if prior_total is not None else None,
        "origin": origin,
        "span": span,
    }
    if observed <= fit_counts[0]:
        return _unidentified(
            base,
            "No arrivals were reported between the first and the last report: the reports say"
            " nothing yet about how many will come.",
            notes,
        )

    data = _Data(
        s=np.array([(t - origin) / span for t in fit_times]),
        y=np.diff(np.array(fit_counts)),
        observed=observed,
        s_last=1.0,
    )
    counts = np.array(fit_counts)
    cap = CAP_FACTOR * observed
    if prior_total is not None:
        cap = max(cap, prior_total * math.exp(4 * prior_sd))
    n = len(data.y)

    # Fits: starts ranked with a moderate dispersion, then k from the best model, then refits.
    k = 20.0
    fits = [
        min(
            (_fit_free(m, data, k, th, cap) for th in _best_starts(m, data, k, 2)),
            key=lambda f: f.deviance,
        )
        for m in MODELS
    ]
    for _ in range(2):
        best = min(fits, key=lambda f: _qaicc(f, n, 1.0))
        mu = _means(best.model, data, best.theta[None, :], np.array([best.total]))[0]
        k = _fit_dispersion(data.y, mu)
        fits = [_fit_free(f.model, data, k, f.theta, cap, max_nfev=60) for f in fits]
    best = min(fits, key=lambda f: _qaicc(f, n, 1.0))
    c_hat = _dispersion_factor(best, data, k)
    fits = [_fit_free(f.model, data, k, f.theta, cap, c_hat, max_nfev=60) for f in fits]
    weights, tau = _model_weights(fits, data, counts, k, c_hat, cap)

    u_lo = math.log(max(1e-3 * observed, 1e-3))
    u_hi = math.log(cap - observed)
    peaked = _rate_has_peaked(all_days, np.array(all_counts))
    # Before the peak the reports bound the total from below only, whatever the curves say: no
    # profile is walked, each model's best fit stands for its shape.
    profiles = [
        _profile(f, data, k, c_hat, u_lo, u_hi, float(w)) if peaked else _single(f, data, float(w))
        for f, w in zip(fits, weights, strict=True)
        if w >= MIN_WEIGHT
    ]
    norm = sum(p.weight for p in profiles)
    for p in profiles:
        p.weight /= norm
    bounded = peaked and sum(p.weight for p in profiles if p.open_above) < 0.1
    data_identify = peaked and bounded and n >= 5
    if n < 5:
        notes.append(f"only {n + 1} reports to fit: too few to bound the total from the reports")
    mixture = _mixture(
        profiles, data, counts, c_hat, tau, peaked, u_lo, u_hi, prior_total, prior_sd
    )
    if mixture is None:
        return _unidentified(base, "The prior total is far from anything the reports allow.", notes)
    lo95, lo80, hi80, hi95 = mixture.quantiles("final", (0.025, 0.10, 0.90, 0.975))
    d90_lo, d90_hi = mixture.quantiles("date_90", (0.10, 0.90))
    total, d90, d99 = mixture.middle()
    identifiable = data_identify or prior_total is not None
    note = None
    if not identifiable:
        total, d90, d99 = _middle_opinion(profiles, data, counts, cap)
        if n < 5:
            total = min(total, 2.0 * observed)
        # Nothing in the reports rules out the flow stopping now: the honest lower bound is what
        # has arrived, and there is no upper bound.
        lo80 = lo95 = observed
        hi80 = hi95 = d90_hi = math.inf
        reason = (
            "the arrival rate has not yet clearly fallen from its peak"
            if not peaked
            else "there are too few reports"
            if n < 5
            else "the curves that fit the reports still allow a far larger total"
        )
        note = (
            f"The reports do not yet bound the final total ({reason}): it is at least the"
            f" {observed:,.0f} arrived so far and possibly far more. The predicted total and dates"
            " are the middle of the fitted curves' own estimates, not a reliable figure; a prior"
            " total (e.g. the population of the area of origin) would bound them."
        )
    elif not data_identify:
        note = (
            "The reports alone do not yet bound the final total"
            + (" (the arrival rate has not yet clearly fallen from its peak)" if not peaked else "")
            + f"; the upper part of the range rests on the prior total of {prior_total:,.0f}."
        )

    def to_time(s: float) -> datetime | None:
        if not math.isfinite(s) or (s - 1.0) * span > timedelta(days=HORIZON_DAYS):
            return None
        return origin + span * s

    def bound(value: float) -> float | None:
        return None if not math.isfinite(value) or value >= 0.999 * cap else value

    return Forecast(
        as_of=as_of,
        last_report=all_times[-1],
        reports=len(all_times),
        observed=observed,
        predicted_total=max(total, observed),
        interval_80=(max(lo80, observed), bound(hi80)),
        interval_95=(max(lo95, observed), bound(hi95)),
        date_90pct=to_time(d90),
        date_99pct=to_time(d99),
        date_90pct_interval_80=(to_time(d90_lo), to_time(d90_hi)),
        identifiable=identifiable,
        data_identify_total=data_identify,
        note=note,
        models=tuple(
            ModelWeight(p.fit.model.name, float(w), float(mode[0]))
            for p, w, mode in zip(profiles, mixture.mode_weights, mixture.modes, strict=True)
        ),
        dispersion=c_hat,
        nb_k=k,
        extrapolation_spread=tau,
        prior_total=prior_total,
        prior_sd=prior_sd if prior_total is not None else None,
        warnings=tuple(notes),
        scenarios=_resample(mixture.groups, BAND_SCENARIOS),
        origin=origin,
        span=span,
    )


def _middle_opinion(
    profiles: list[_Profile], data: _Data, counts: Array, cap: float
) -> tuple[float, float, float]:
    """When the total is not bounded: the weighted median of the models' own best fits, leaving
    out those that run off towards the cap (they say "no end in sight", not a number); when all
    do, twice what has arrived (the total if the rate were at its peak now; before the peak it
    is more)."""
    observed = data.observed
    ranked = sorted(
        (p for p in profiles if observed + p.fit.remaining(data) < 0.5 * cap),
        key=lambda p: p.fit.remaining(data),
    )
    if not ranked:
        return 2.0 * observed, math.inf, math.inf
    share = np.cumsum([p.weight for p in ranked])
    fit = ranked[int(np.searchsorted(share, 0.5 * share[-1]))].fit
    final = np.array([observed + fit.remaining(data)])
    theta, total_k = fit.theta[None, :], np.array([fit.total])
    return (
        float(final[0]),
        float(_dates(fit.model, theta, total_k, final, 0.9, data, counts)[0]),
        float(_dates(fit.model, theta, total_k, final, 0.99, data, counts)[0]),
    )


def _unidentified(base: dict[str, Any], note: str, notes: list[str]) -> Forecast:
    observed = float(base["observed"])
    return Forecast(
        **base,
        predicted_total=observed,
        interval_80=(observed, None),
        interval_95=(observed, None),
        date_90pct=None,
        date_99pct=None,
        date_90pct_interval_80=(None, None),
        identifiable=False,
        data_identify_total=False,
        note=note,
        models=(),
        dispersion=math.nan,
        nb_k=math.nan,
        extrapolation_spread=math.nan,
        warnings=tuple(notes),
    )


# --- for charts and for the registration backlog ---------------------------------------------


@dataclass(frozen=True)
class BandPoint:
    when: datetime
    median: float
    low_80: float
    high_80: float


def forecast_band(
    forecast: Forecast, times: Sequence[datetime] | None = None, *, points: int = 48
) -> list[BandPoint]:
    """The projected cumulative arrivals as points over time (median and 80 % band), for a chart.

    Without `times`: `points` evenly spaced times from the last report to the 99 % date (or to
    as long again as the reports span, when that date is unknown). Before the last report the
    band is the last report's figure.
    """
    if times is None:
        start = forecast.last_report
        end = forecast.date_99pct or start + forecast.span
        end = max(end, start + timedelta(hours=1))
        step = (end - start) / max(points - 1, 1)
        times = [start + step * i for i in range(points)]
    q = forecast.cumulative_quantiles(times, (0.5, 0.1, 0.9))
    return [
        BandPoint(t, float(row[0]), float(row[1]), float(row[2]))
        for t, row in zip(times, q, strict=True)
    ]


def backlog_clears(
    forecast: Forecast,
    *,
    registered: float,
    throughput_per_hour: float,
    now: datetime | None = None,
    horizon: timedelta = timedelta(days=60),
    quantile: float = 0.5,
) -> datetime | None:
    """When the registration backlog (arrived but not registered) is projected to reach zero.

    Arrivals follow the forecast's `quantile` (0.5: the median; 0.9: the pessimistic edge of the
    80 % band); desks register `throughput_per_hour` people an hour from `now` (default: the
    as-of time), when `registered` people are registered. `now` itself when there is no backlog;
    None when it does not clear within `horizon`.
    """
    if throughput_per_hour < 0 or registered < 0:
        raise ForecastError("the throughput and the registered count must not be negative")
    if not 0 < quantile < 1:
        raise ForecastError("the quantile must be between 0 and 1")
    now = now or forecast.as_of
    steps = max(int(horizon / timedelta(minutes=30)), 1)
    times = [now + horizon * (i / steps) for i in range(steps + 1)]
    arrived = forecast.cumulative_quantiles(times, (quantile,))[:, 0]
    hours = np.array([(t - now) / timedelta(hours=1) for t in times])
    backlog = arrived - registered - throughput_per_hour * hours
    if backlog[0] <= 0:
        return now
    below = np.nonzero(backlog <= 0)[0]
    if len(below) == 0:
        return None
    i = int(below[0])
    fraction = backlog[i - 1] / (backlog[i - 1] - backlog[i])
    return times[i - 1] + (times[i] - times[i - 1]) * float(fraction)
