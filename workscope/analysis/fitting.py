"""Fitted distributions: which law describes gaps, sizes and durations, globally and per window.

Every fit is **maximum likelihood** on a bounded, seeded sample (``Options.max_sample``,
``Options.seed``) drawn in DuckDB. Families and their MLEs (location fixed at 0, scipy's
parametrization so that ``getattr(scipy.stats, scipy_name)(**params)`` is the fitted law):

* ``exponential`` (``expon``, scale θ): θ = mean(x).
* ``gamma`` (``gamma``, a, scale θ): a solves log a − ψ(a) = log mean(x) − mean(log x)
  (Newton from Minka's start, 2002), θ = mean(x) / a.
* ``weibull`` (``weibull_min``, c, scale λ): c solves the profile equation
  Σ xᶜ log x / Σ xᶜ − 1/c − mean(log x) = 0 (safeguarded Newton), λ = mean(xᶜ)^(1/c).
* ``lognormal`` (``lognorm``, s, scale): μ = mean(log x), s = std(log x) (ddof 0), scale = e^μ.
* ``pareto`` (``pareto``, b, scale xₘ): xₘ = min(x) (the sample minimum, the MLE of the
  threshold), b = n / Σ log(x / xₘ) (Newman 2005, eq. 5 with xₘ fixed).
* ``zipf`` (``zipf``, a; discrete samples only): a maximises −a Σ log k − n log ζ(a), i.e.
  mean(log k) = −ζ′(a)/ζ(a) (bisection; ζ = Riemann zeta).

Figures per fit: log-likelihood ℓ, AIC = 2k − 2ℓ, BIC = k ln n − 2ℓ (k = number of fitted
parameters, xₘ counts for Pareto), the Kolmogorov–Smirnov statistic
D = max(maxᵢ(i/n − F(x₍ᵢ₎)), maxᵢ(F(x₍ᵢ₎⁻) − (i−1)/n)) (as ``scipy.stats.kstest`` for the
continuous laws; for Zipf F(x⁻) = F(x − 1), so D = supₓ |Fₙ(x) − F(x)| of the step laws), and its
p-value from the one-sample KS law of D for n (exact below n = 10 000, asymptotic above).
The p-value assumes a law given in advance; with fitted parameters it is optimistic
(Lilliefors 1967), so read it as a ranking aid, not a test. The best family has the
smallest AIC.

Discrete samples (token counts, ``discrete=True``) must be integers. The continuous
families are still fitted by their continuous MLE, but their likelihood is taken as the
probability of the integer, P(k) = F(k + ½) − F(k − ½) (P(1) = F(1.5)), so it is comparable
with Zipf's pmf in AIC. KS p-values on integer data are conservative (ties).

Zeros: the families live on x > 0. ``zeros="drop"`` (default) fits the positive values and
reports ``zero_fraction`` (a replay then draws 0 with that probability: a hurdle model);
``zeros="shift"`` fits x + δ with δ = half the smallest positive value (continuous) or 1
(discrete) and reports ``shift`` = δ. Samples below ``MIN_SAMPLE`` values, or constant
after zero handling, get no fit: their rows carry a ``reason`` and null figures.

Analyses (one per event table, kind ``fitting``): inter-arrival gaps (requests and
invocations ``arrival_s``, jobs ``submit_s``; gaps of the time-sorted events, computed in
DuckDB), input/output tokens (discrete), request latency, invocation duration, job runtime
(end_s − start_s) and wait (start_s − submit_s). Per-window fits (``fit_window_s``): exact
arrivals, rate = arrivals / window, CV of the gaps (std/mean, population std) and the best
fit of the sampled gaps of each window (a Poisson window has an exponential best fit and
CV ≈ 1). :func:`fit`, :func:`fit_many`, :func:`window_fits` and :func:`distribution` are the
public API the replay builds on.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from scipy import special, stats

from workscope.analysis.base import Analysis, Context, Result, time_column
from workscope.errors import UsageError

if TYPE_CHECKING:
    from scipy.stats._distn_infrastructure import rv_frozen

log = logging.getLogger(__name__)

FAMILIES: tuple[str, ...] = ("exponential", "gamma", "weibull", "lognormal", "pareto")
DISCRETE_FAMILIES: tuple[str, ...] = ("zipf",)
SCIPY_NAME: dict[str, str] = {
    "exponential": "expon",
    "gamma": "gamma",
    "weibull": "weibull_min",
    "lognormal": "lognorm",
    "pareto": "pareto",
    "zipf": "zipf",
}
# scipy keyword of the shape parameter (None: one-parameter family)
SHAPE_NAME: dict[str, str | None] = {
    "exponential": None, "gamma": "a", "weibull": "c", "lognormal": "s", "pareto": "b", "zipf": "a",
}
N_PARAMS: dict[str, int] = {"exponential": 1, "gamma": 2, "weibull": 2, "lognormal": 2, "pareto": 2, "zipf": 1}
MIN_SAMPLE = 20
CDF_POINTS = 100
_KS_EXACT_MAX = 10_000

FIT_SCHEMA: dict[str, Any] = {
    "family": pl.String, "scipy_name": pl.String, "params": pl.String,
    "shape": pl.Float64, "scale": pl.Float64, "k": pl.Int64, "n": pl.Int64,
    "loglik": pl.Float64, "aic": pl.Float64, "bic": pl.Float64,
    "ks_statistic": pl.Float64, "ks_pvalue": pl.Float64, "best": pl.Boolean,
    "discrete": pl.Boolean, "zeros": pl.String, "n_zero": pl.Int64, "zero_fraction": pl.Float64,
    "shift": pl.Float64, "reason": pl.String,
}


# ====================================================================== public API
def fit(
    sample: np.ndarray | Sequence[float],
    families: Sequence[str] | None = None,
    discrete: bool = False,
    zeros: str = "drop",
) -> pl.DataFrame:
    """Fit each family to ``sample`` by maximum likelihood; one row per family.

    Args:
        sample: non-negative values (NaN / infinities are ignored). Integers when ``discrete``.
        families: subset of :data:`FAMILIES` (+ ``"zipf"`` when discrete). Default: the five
            continuous families, plus Zipf when ``discrete``.
        discrete: the values are counts (token lengths): likelihoods are integer probabilities.
        zeros: ``"drop"`` (fit the positive values, report ``zero_fraction``) or ``"shift"``
            (fit x + ``shift``).

    Returns:
        A DataFrame with :data:`FIT_SCHEMA` columns: family, scipy_name, params (JSON of
        scipy keywords, loc = 0), shape, scale, k, n (values fitted), loglik, aic, bic,
        ks_statistic, ks_pvalue, best (min AIC), discrete, zeros, n_zero, zero_fraction,
        shift, reason (why there is no fit, else null).

    Raises:
        UsageError: unknown family or zeros mode, negative values, non-integers when discrete.
    """
    x = np.asarray(sample, dtype=np.float64).ravel()
    out = fit_many(x, np.zeros(x.size, dtype=np.int64), families, discrete, zeros)
    return out.drop("key")


def fit_many(
    values: np.ndarray | Sequence[float],
    keys: np.ndarray | Sequence[Any],
    families: Sequence[str] | None = None,
    discrete: bool = False,
    zeros: str = "drop",
    pvalues: bool = True,
) -> pl.DataFrame:
    """Fit every family to each group of ``values`` (grouped by ``keys``) in one vectorised pass.

    Same figures as :func:`fit`, plus a leading ``key`` column (one row per key and family,
    keys in sorted order). Used for per-window and per-group fits: thousands of groups
    cost about as much as one fit of the whole sample. ``pvalues=False`` leaves ks_pvalue
    null (the KS law costs about a millisecond per group and family).
    """
    fams = _check_families(families, discrete)
    if zeros not in ("drop", "shift"):
        raise UsageError(f"zeros must be 'drop' or 'shift', not {zeros!r}")
    x = np.asarray(values, dtype=np.float64).ravel()
    kser = pl.Series("key", np.asarray(keys)) if not isinstance(keys, pl.Series) else keys.alias("key")
    if kser.len() != x.size:
        raise UsageError(f"fit_many: {x.size} values but {kser.len()} keys")
    finite = np.isfinite(x)
    x, kser = x[finite], kser.filter(pl.Series(finite))
    if np.any(x < 0):
        raise UsageError("fit: negative values; the families need non-negative data")
    if discrete and np.any(x != np.round(x)):
        raise UsageError("fit: discrete=True needs integer values")
    frame = pl.DataFrame({"key": kser, "x": x}).sort("key", "x")
    if frame.height == 0:
        return _empty(kser.dtype)
    grouped = frame.group_by("key", maintain_order=True).agg(
        pl.len().alias("n_all"), (pl.col("x") == 0).sum().alias("n_zero"),
        pl.col("x").filter(pl.col("x") > 0).min().alias("min_pos"))
    n_all = grouped["n_all"].to_numpy().astype(np.int64)
    n_zero = grouped["n_zero"].to_numpy().astype(np.int64)
    min_pos = grouped["min_pos"].fill_null(1.0).to_numpy().astype(np.float64)
    xs = frame["x"].to_numpy()
    if zeros == "drop":
        keep = xs > 0
        shift = np.zeros(n_all.size)
        n = n_all - n_zero
    else:
        shift = np.where(n_zero > 0, 1.0 if discrete else min_pos / 2.0, 0.0)
        keep = np.ones(xs.size, dtype=bool)
        n = n_all
    seg_of = np.repeat(np.arange(n_all.size), n_all)
    xs = xs[keep] + shift[seg_of[keep]]
    seg = seg_of[keep]
    # a constant group (after zero handling) has no MLE for any shape family
    seg_min = np.full(n_all.size, np.inf)
    seg_max = np.full(n_all.size, -np.inf)
    np.minimum.at(seg_min, seg, xs)
    np.maximum.at(seg_max, seg, xs)
    reason = np.full(n_all.size, None, dtype=object)
    for i in range(n_all.size):
        if n[i] < MIN_SAMPLE:
            reason[i] = f"{n[i]} values to fit (after zeros), fewer than {MIN_SAMPLE}"
        elif seg_min[i] == seg_max[i]:
            reason[i] = f"constant sample (every value is {seg_min[i] - shift[i]:g})"
    ok = np.array([r is None for r in reason])
    sel = ok[seg]
    fits: dict[str, dict[str, np.ndarray]] = {}
    if ok.any():
        sx = xs[sel]
        counts = n[ok]
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        segs = _Segments(sx, starts, counts)
        for fam in fams:
            fits[fam] = _fit_family(fam, segs, discrete)
    return _assemble(grouped["key"], fams, fits, ok, n, n_all, n_zero, shift, reason, discrete, zeros, pvalues)


def best_fits(fits: pl.DataFrame) -> pl.DataFrame:
    """The best (min AIC) row of each key of a :func:`fit` / :func:`fit_many` table."""
    return fits.filter(pl.col("best"))


def distribution(family: str, params: str | dict[str, float]) -> rv_frozen:
    """The fitted law as a frozen ``scipy.stats`` distribution (``params``: the ``params`` JSON).

    With ``zeros="shift"`` the law describes x + shift; with ``"drop"`` it describes the
    positive values only (draw 0 with probability ``zero_fraction``).
    """
    if family not in SCIPY_NAME:
        raise UsageError(f"unknown family {family!r}; known: {', '.join(SCIPY_NAME)}")
    kw = json.loads(params) if isinstance(params, str) else dict(params)
    return getattr(stats, SCIPY_NAME[family])(**kw)


def window_fits(ctx: Context, table: str, window_s: float | None = None) -> pl.DataFrame:
    """Per-window arrival figures and best fit of the inter-arrival gaps of ``table``.

    One row per non-empty window of ``window_s`` seconds (default ``ctx.options.fit_window_s``;
    windows absent from the table had no event): window_start_s, window_s, arrivals,
    rate_per_s (arrivals / window_s; the last window may be partial), gaps, gap_mean_s,
    cv_interarrival (population std / mean of the window's gaps, exact), zero_gaps, n_fit
    (sampled gaps fitted), best_family, params (JSON, scipy keywords), shape, scale,
    ks_statistic, aic, exp_aic_delta (AIC of the exponential minus the best AIC: 0 when the
    window looks Poisson), reason (why no fit). The time column is the table's event time
    (requests / invocations arrival_s, jobs submit_s).
    """
    windows, _ = _gaps(ctx, table, window_s)
    return windows


# ====================================================================== the fitting engine
@dataclass
class _Segments:
    """Sorted positive values of several groups, laid end to end (groups of ``n`` from ``starts``)."""

    x: np.ndarray
    starts: np.ndarray
    n: np.ndarray

    def __post_init__(self) -> None:
        self.seg = np.repeat(np.arange(self.n.size), self.n)
        self.u = np.log(self.x)
        self.sum_u = self.sum(self.u)
        self.mean_x = self.sum(self.x) / self.n
        self.mean_u = self.sum_u / self.n
        # ties (integer tokens, 1 s clocks) are common: evaluate CDFs once per distinct value
        first = np.ones(self.x.size, dtype=bool)
        first[1:] = (self.x[1:] != self.x[:-1]) | (self.seg[1:] != self.seg[:-1])
        self.first = first
        self.distinct = np.cumsum(first) - 1
        self.tied = int(first.sum()) < 0.8 * self.x.size

    def law(self, fn: Any, fam: str, x: np.ndarray, shape: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """``fn(fam, x, shape, scale)`` element-wise, computed once per distinct (group, value)."""
        if not self.tied:
            return fn(fam, x, shape, scale)
        f = self.first
        return fn(fam, x[f], shape[f], scale[f])[self.distinct]

    def sum(self, a: np.ndarray) -> np.ndarray:
        return np.add.reduceat(a, self.starts)

    def each(self, a: np.ndarray) -> np.ndarray:
        """Per-group values repeated for every element."""
        return a[self.seg]


def _fit_family(fam: str, s: _Segments, discrete: bool) -> dict[str, np.ndarray]:
    n = s.n.astype(np.float64)
    shape = np.full(n.size, np.nan)
    if fam == "exponential":
        scale = s.mean_x
        loglik = -n * np.log(scale) - n
    elif fam == "gamma":
        shape = _gamma_shape(np.log(s.mean_x) - s.mean_u)
        scale = s.mean_x / shape
        loglik = ((shape - 1) * s.sum_u - n * s.mean_x / scale - n * special.gammaln(shape)
                  - n * shape * np.log(scale))
    elif fam == "weibull":
        shape, log_scale = _weibull(s)
        scale = np.exp(log_scale)
        # at the MLE, Σ (x/λ)^c = n
        loglik = n * np.log(shape) - n * shape * log_scale + (shape - 1) * s.sum_u - n
    elif fam == "lognormal":
        mu = s.mean_u
        shape = np.sqrt(s.sum((s.u - s.each(mu)) ** 2) / n)
        scale = np.exp(mu)
        loglik = -s.sum_u - n * np.log(shape) - 0.5 * n * math.log(2 * math.pi) - 0.5 * n
    elif fam == "pareto":
        scale = s.x[s.starts]  # sorted: the first value of each group is its minimum
        shape = n / (s.sum_u - n * np.log(scale))
        loglik = n * np.log(shape) + n * shape * np.log(scale) - (shape + 1) * s.sum_u
    elif fam == "zipf":
        shape = _zipf_shape(s.mean_u)
        scale = np.full(n.size, np.nan)
        loglik = -shape * s.sum_u - n * np.log(special.zeta(shape))
    else:  # pragma: no cover - guarded by _check_families
        raise UsageError(f"unknown family {fam!r}")
    sh_e, sc_e = s.each(shape), s.each(scale)
    cdf = s.law(_cdf, fam, s.x, sh_e, sc_e)
    if discrete and fam != "zipf":
        # probability of the integer under the continuous law, tails via the survival function
        lo = np.where(s.x <= 1, 0.0, s.x - 0.5)
        hi = s.x + 0.5
        p_cdf = s.law(_cdf, fam, hi, sh_e, sc_e) - s.law(_cdf, fam, lo, sh_e, sc_e)
        p_sf = s.law(_sf, fam, lo, sh_e, sc_e) - s.law(_sf, fam, hi, sh_e, sc_e)
        p = np.where(cdf > 0.5, p_sf, p_cdf)
        with np.errstate(divide="ignore"):
            loglik = s.sum(np.log(np.maximum(p, 0.0)))
    # KS statistic as scipy.stats.kstest: D+ over i/n, D- over (i-1)/n. For the discrete
    # Zipf law, F just below x(i) is F(x(i) − 1), not F(x(i)) (that would count the jump).
    rank = np.arange(s.x.size) - s.each(s.starts) + 1.0
    ne = s.each(n)
    below = s.law(_cdf, fam, s.x - 1.0, sh_e, sc_e) if fam == "zipf" else cdf
    d_plus = np.maximum.reduceat(rank / ne - cdf, s.starts)
    d_minus = np.maximum.reduceat(below - (rank - 1.0) / ne, s.starts)
    ks = np.maximum(d_plus, d_minus)
    return {"shape": shape, "scale": scale, "loglik": loglik, "ks": ks}


def _gamma_shape(s: np.ndarray) -> np.ndarray:
    """Solve log a − ψ(a) = s (s > 0) by Newton from Minka's closed-form start."""
    a = (3 - s + np.sqrt((s - 3) ** 2 + 24 * s)) / (12 * s)
    for _ in range(100):
        f = np.log(a) - special.digamma(a) - s
        fp = 1 / a - special.polygamma(1, a)
        step = f / fp
        new = a - step
        new = np.where(new <= 0, a / 2, new)  # stay in the domain
        done = np.abs(new - a) <= 1e-14 * a
        a = new
        if done.all():
            break
    return a


def _weibull(s: _Segments) -> tuple[np.ndarray, np.ndarray]:
    """Weibull MLE (shape c, log scale) of each group: safeguarded Newton on the profile equation."""
    u = s.u
    umax = np.maximum.reduceat(u, s.starts)
    du = u - s.each(umax)  # ≤ 0, so exp(c·du) never overflows
    std_u = np.sqrt(s.sum((u - s.each(s.mean_u)) ** 2) / s.n)
    c = 1.2825498 / std_u  # π/√6 / std(log x): the moment estimate for Gumbel-distributed log x
    lo = np.zeros_like(c)
    hi = np.full_like(c, np.inf)
    for _ in range(200):
        w = np.exp(s.each(c) * du)
        sw = s.sum(w)
        m = s.sum(w * du) / sw
        g = m + umax - 1 / c - s.mean_u
        v = s.sum(w * (du - s.each(m)) ** 2) / sw
        gp = v + 1 / c**2
        lo = np.where(g < 0, c, lo)
        hi = np.where(g > 0, c, hi)
        new = c - g / gp
        bad = (new <= lo) | (new >= hi) | ~np.isfinite(new)
        mid = np.where(np.isfinite(hi), (lo + hi) / 2, 2 * c)
        new = np.where(bad, mid, new)
        done = np.abs(new - c) <= 1e-13 * c
        c = new
        if done.all():
            break
    w = np.exp(s.each(c) * du)
    log_scale = umax + np.log(s.sum(w) / s.n) / c
    return c, log_scale


def _zipf_shape(mean_log: np.ndarray) -> np.ndarray:
    """Zipf MLE: the a > 1 with E_a[log k] = −ζ′(a)/ζ(a) = mean(log k) (decreasing in a)."""
    def e_log(a: np.ndarray) -> np.ndarray:
        h = 1e-6 * a
        return -(np.log(special.zeta(a + h)) - np.log(special.zeta(a - h))) / (2 * h)

    lo = np.full_like(mean_log, 1.0 + 1e-9)
    hi = np.full_like(mean_log, 60.0)
    for _ in range(100):
        mid = (lo + hi) / 2
        above = e_log(mid) > mean_log  # the mean log is still too large: a must grow
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
        if np.all(hi - lo <= 1e-13 * hi):
            break
    return (lo + hi) / 2


def _cdf(fam: str, x: np.ndarray, shape: np.ndarray, scale: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if fam == "exponential":
            return -np.expm1(-x / scale)
        if fam == "gamma":
            return special.gammainc(shape, x / scale)
        if fam == "weibull":
            return -np.expm1(-((x / scale) ** shape))
        if fam == "lognormal":
            return special.ndtr((np.log(x) - np.log(scale)) / shape)
        if fam == "pareto":
            return np.where(x < scale, 0.0, -np.expm1(shape * (np.log(scale) - np.log(np.maximum(x, scale)))))
        if fam == "zipf":
            k = np.floor(x)
            return np.where(k < 1, 0.0, 1.0 - special.zeta(shape, np.maximum(k, 1) + 1) / special.zeta(shape))
    raise UsageError(f"unknown family {fam!r}")  # pragma: no cover


def _sf(fam: str, x: np.ndarray, shape: np.ndarray, scale: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if fam == "exponential":
            return np.exp(-x / scale)
        if fam == "gamma":
            return special.gammaincc(shape, x / scale)
        if fam == "weibull":
            return np.exp(-((x / scale) ** shape))
        if fam == "lognormal":
            return special.ndtr(-(np.log(x) - np.log(scale)) / shape)
        if fam == "pareto":
            return np.where(x < scale, 1.0, np.exp(shape * (np.log(scale) - np.log(np.maximum(x, scale)))))
    return 1.0 - _cdf(fam, x, shape, scale)


def _ks_pvalue(d: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided one-sample KS p-value: exact law (scipy's kstwo, as kstest) up to n = 10 000,
    Kolmogorov's limit law above (kstwo costs up to 0.2 s at n = 200 000)."""
    out = np.full(d.shape, np.nan)
    for i, (di, ni) in enumerate(zip(d, n, strict=True)):
        if np.isfinite(di) and ni > 0:
            out[i] = (stats.kstwo.sf(di, int(ni)) if ni <= _KS_EXACT_MAX
                      else stats.kstwobign.sf(di * math.sqrt(ni)))
    return np.clip(out, 0.0, 1.0)


def _check_families(families: Sequence[str] | None, discrete: bool) -> tuple[str, ...]:
    if families is None:
        return FAMILIES + (DISCRETE_FAMILIES if discrete else ())
    fams = tuple(families)
    allowed = FAMILIES + (DISCRETE_FAMILIES if discrete else ())
    for f in fams:
        if f not in allowed:
            extra = " (zipf needs discrete=True)" if f in DISCRETE_FAMILIES else ""
            raise UsageError(f"unknown family {f!r}{extra}; known: {', '.join(allowed)}")
    if not fams:
        raise UsageError("fit: no family given")
    return fams


def _params_json(fam: str, shape: float, scale: float) -> str:
    kw: dict[str, float] = {}
    name = SHAPE_NAME[fam]
    if name is not None:
        kw[name] = float(shape)
    if fam != "zipf":
        kw["scale"] = float(scale)
    return json.dumps(kw)


def _assemble(
    keys: pl.Series, fams: tuple[str, ...], fits: dict[str, dict[str, np.ndarray]], ok: np.ndarray,
    n: np.ndarray, n_all: np.ndarray, n_zero: np.ndarray, shift: np.ndarray, reason: np.ndarray,
    discrete: bool, zeros: str, pvalues: bool,
) -> pl.DataFrame:
    g = ok.size
    cols: dict[str, list[Any]] = {c: [] for c in ["key", *FIT_SCHEMA]}
    aic_all = np.full((g, len(fams)), np.inf)
    per_fam: list[dict[str, np.ndarray]] = []
    for j, fam in enumerate(fams):
        arr = {k: np.full(g, np.nan) for k in ("shape", "scale", "loglik", "ks", "aic", "bic")}
        if ok.any():
            for k in ("shape", "scale", "loglik", "ks"):
                arr[k][ok] = fits[fam][k]
            kpar = N_PARAMS[fam]
            arr["aic"] = 2 * kpar - 2 * arr["loglik"]
            arr["bic"] = kpar * np.log(np.maximum(n, 1)) - 2 * arr["loglik"]
        arr["pvalue"] = _ks_pvalue(arr["ks"], n) if pvalues else np.full(g, np.nan)
        finite = np.isfinite(arr["aic"])
        aic_all[finite, j] = arr["aic"][finite]
        per_fam.append(arr)
    best_j = np.argmin(aic_all, axis=1)
    has_best = np.isfinite(aic_all.min(axis=1))
    key_list = keys.to_list()
    for i in range(g):
        for j, fam in enumerate(fams):
            a = per_fam[j]
            good = bool(ok[i]) and bool(np.isfinite(a["loglik"][i]))
            cols["key"].append(key_list[i])
            cols["family"].append(fam)
            cols["scipy_name"].append(SCIPY_NAME[fam])
            cols["params"].append(_params_json(fam, a["shape"][i], a["scale"][i]) if good else None)
            cols["shape"].append(_num(a["shape"][i]) if good else None)
            cols["scale"].append(_num(a["scale"][i]) if good else None)
            cols["k"].append(N_PARAMS[fam])
            cols["n"].append(int(n[i]))
            for c, k in (("loglik", "loglik"), ("aic", "aic"), ("bic", "bic"),
                         ("ks_statistic", "ks"), ("ks_pvalue", "pvalue")):
                cols[c].append(_num(a[k][i]) if good else None)
            cols["best"].append(bool(has_best[i] and best_j[i] == j))
            cols["discrete"].append(discrete)
            cols["zeros"].append(zeros)
            cols["n_zero"].append(int(n_zero[i]))
            cols["zero_fraction"].append(float(n_zero[i] / n_all[i]) if n_all[i] else None)
            cols["shift"].append(float(shift[i]))
            r = reason[i] if reason[i] is not None else (None if good else "the likelihood is not finite")
            cols["reason"].append(r)
    schema = {"key": keys.dtype, **FIT_SCHEMA}
    return pl.DataFrame(cols, schema=schema)


def _num(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def _empty(key_dtype: Any) -> pl.DataFrame:
    """No value at all: no row (a sample of n < MIN_SAMPLE still gets one row per family)."""
    return pl.DataFrame(schema={"key": key_dtype, **FIT_SCHEMA})


def cdf_table(sample: np.ndarray, fits: pl.DataFrame, points: int = CDF_POINTS) -> pl.DataFrame:
    """Empirical and fitted CDFs on a quantile grid of the fitted values (≤ ``points`` x values).

    The grid holds the sample quantiles at logit-spaced probabilities (denser in both
    tails); the empirical CDF is the fraction of values ≤ x. Values follow the zero handling
    of ``fits`` (zeros dropped, or shifted by ``shift``). Columns: family ("empirical" or a
    fitted family), x, cdf.
    """
    x = np.asarray(sample, dtype=np.float64)
    x = np.sort(x[np.isfinite(x)])
    ok = fits.filter(pl.col("reason").is_null())
    if x.size == 0 or ok.height == 0:
        return pl.DataFrame(schema={"family": pl.String, "x": pl.Float64, "cdf": pl.Float64})
    first = ok.row(0, named=True)
    x = x[x > 0] if first["zeros"] == "drop" else x + first["shift"]
    pmin = max(0.5 / x.size, 1e-3)
    lg = np.linspace(math.log(pmin / (1 - pmin)), math.log((1 - pmin) / pmin), points)
    probs = 1 / (1 + np.exp(-lg))
    grid = np.unique(np.quantile(x, probs, method="inverted_cdf"))
    emp = np.searchsorted(x, grid, side="right") / x.size
    parts = [pl.DataFrame({"family": "empirical", "x": grid, "cdf": emp})]
    for row in ok.iter_rows(named=True):
        sh = np.full(grid.size, np.nan if row["shape"] is None else row["shape"])
        sc = np.full(grid.size, np.nan if row["scale"] is None else row["scale"])
        f = np.clip(_cdf(row["family"], grid, sh, sc), 0.0, 1.0)
        parts.append(pl.DataFrame({"family": row["family"], "x": grid, "cdf": f}))
    return pl.concat(parts)


# ====================================================================== the analyses
@dataclass(frozen=True)
class _Quantity:
    """One fitted quantity of a table: value = ``own`` where the row has it, else a − b (or a),
    its unit and whether it is a count."""

    name: str
    a: str
    b: str | None = None
    unit: str = "s"
    discrete: bool = False
    own: str | None = None  # a column holding the quantity itself (jobs' run_s)


QUANTITIES: dict[str, tuple[_Quantity, ...]] = {
    "requests": (
        _Quantity("input_tokens", "input_tokens", unit="tokens", discrete=True),
        _Quantity("output_tokens", "output_tokens", unit="tokens", discrete=True),
        _Quantity("latency", "latency_s"),
    ),
    "invocations": (_Quantity("duration", "duration_s"),),
    "jobs": (_Quantity("runtime", "end_s", "start_s", own="run_s"), _Quantity("wait", "start_s", "submit_s")),
}


def _gaps(ctx: Context, table: str, window_s: float | None = None) -> tuple[pl.DataFrame, np.ndarray]:
    """(per-window fits, sampled gaps) of ``table``'s event times."""
    w = float(window_s or ctx.options.fit_window_s)
    if not w > 0:
        raise UsageError(f"window_s must be positive, not {w}")
    raw = ctx.sql("fitting_gaps", {"table": table, "t": time_column(table)}, window_s=w)
    win = raw.filter(pl.col("part") == "w").sort("win")
    smp = raw.filter(pl.col("part") == "s").select("win", "gap")
    gaps = smp["gap"].to_numpy().astype(np.float64)
    base = win.select(
        (pl.col("win") * w).alias("window_start_s"),
        pl.lit(w).alias("window_s"),
        pl.col("arrivals").cast(pl.Int64),
        (pl.col("arrivals") / w).alias("rate_per_s"),
        pl.col("gaps").cast(pl.Int64),
        pl.col("gap_mean_s"),
        pl.when(pl.col("gap_mean_s") > 0).then(pl.col("gap_std_s") / pl.col("gap_mean_s"))
        .alias("cv_interarrival"),
        pl.col("zero_gaps").cast(pl.Int64),
        pl.col("win"),
    )
    if smp.height:
        fits = fit_many(gaps, smp["win"], FAMILIES, pvalues=False)
        exp_aic = fits.filter(pl.col("family") == "exponential").select(
            pl.col("key"), pl.col("aic").alias("exp_aic"))
        chosen = fits.group_by("key").agg(
            pl.col("n").first().alias("n_fit"),
            pl.col("reason").first(),
            pl.col("family").filter(pl.col("best")).first().alias("best_family"),
            pl.col("params").filter(pl.col("best")).first(),
            pl.col("shape").filter(pl.col("best")).first(),
            pl.col("scale").filter(pl.col("best")).first(),
            pl.col("ks_statistic").filter(pl.col("best")).first(),
            pl.col("aic").filter(pl.col("best")).first(),
        ).join(exp_aic, on="key").with_columns((pl.col("exp_aic") - pl.col("aic")).alias("exp_aic_delta"))
        out = base.join(chosen.drop("exp_aic").rename({"key": "win"}), on="win", how="left")
    else:
        out = base.with_columns(
            pl.lit(0, pl.Int64).alias("n_fit"), pl.lit(None, pl.String).alias("reason"),
            pl.lit(None, pl.String).alias("best_family"), pl.lit(None, pl.String).alias("params"),
            *(pl.lit(None, pl.Float64).alias(c) for c in ("shape", "scale", "ks_statistic", "aic",
                                                          "exp_aic_delta")))
    out = out.with_columns(
        pl.col("n_fit").fill_null(0).cast(pl.Int64),
        pl.when(pl.col("best_family").is_null() & pl.col("reason").is_null())
        .then(pl.lit(f"fewer than {MIN_SAMPLE} sampled gaps")).otherwise(pl.col("reason")).alias("reason"),
    )
    cols = ["window_start_s", "window_s", "arrivals", "rate_per_s", "gaps", "gap_mean_s", "cv_interarrival",
            "zero_gaps", "n_fit", "best_family", "params", "shape", "scale", "ks_statistic", "aic",
            "exp_aic_delta", "reason"]
    return out.sort("window_start_s").select(cols), gaps


def _values(
    ctx: Context, table: str, qs: Sequence[_Quantity], group: str | None
) -> list[tuple[np.ndarray, pl.Series, int, int]]:
    """Per quantity: (sample, group labels, valid values, negative values left out).

    One seeded sample of rows serves up to three quantities (one scan of the table); a
    quantity's sample is the sampled rows where it is valid.
    """
    if not 1 <= len(qs) <= 3:
        raise UsageError(f"fitting_values takes 1 to 3 quantities, not {len(qs)}")
    slots = [*qs, *[qs[0]] * (3 - len(qs))]
    idents = {"table": table, "g": group or qs[0].a}
    params: dict[str, Any] = {"grouped": group is not None}
    for i, q in enumerate(slots, start=1):
        idents[f"a{i}"], idents[f"b{i}"] = q.a, q.b or q.a
        params[f"diff{i}"] = q.b is not None
        own = q.own is not None and ctx.filled(table, q.own)
        idents[f"o{i}"] = q.own if own else q.a
        params[f"own{i}"] = own
    raw = ctx.sql("fitting_values", idents, **params)
    counts = raw.filter(pl.col("part") == "n").row(0, named=True)
    smp = raw.filter(pl.col("part") == "s")
    out = []
    for i in range(1, len(qs) + 1):
        part = smp.filter(pl.col(f"v{i}").is_not_null())
        out.append((part[f"v{i}"].to_numpy().astype(np.float64), part["g"],
                    int(counts[f"valid{i}"] or 0), int(counts[f"negative{i}"] or 0)))
    return out


def _summarise(summary: dict[str, Any], name: str, unit: str, fits: pl.DataFrame) -> None:
    best = fits.filter(pl.col("best"))
    summary[f"{name}_n"] = int(fits["n"][0]) if fits.height else 0
    summary[f"{name}_zero_fraction"] = fits["zero_fraction"][0] if fits.height else None
    if best.height == 0:
        summary[f"{name}_best_family"] = None
        return
    b = best.row(0, named=True)
    summary[f"{name}_best_family"] = b["family"]
    summary[f"{name}_params"] = b["params"]
    summary[f"{name}_shape"] = b["shape"]
    summary[f"{name}_scale_{unit}"] = b["scale"]
    summary[f"{name}_ks_statistic"] = b["ks_statistic"]
    summary[f"{name}_ks_pvalue"] = b["ks_pvalue"]


def run_table(ctx: Context, table: str) -> Result:
    """Fit every quantity of ``table`` (inter-arrivals first), per window and per group."""
    summary: dict[str, Any] = {}
    notes: list[str] = []
    fit_tables: list[pl.DataFrame] = []
    tables: dict[str, pl.DataFrame] = {}
    windows, gaps = _gaps(ctx, table)
    f = fit(gaps)
    _summarise(summary, "interarrival", "s", f)
    fit_tables.append(f.with_columns(pl.lit("interarrival").alias("quantity"), pl.lit("s").alias("unit")))
    tables["cdf_interarrival"] = cdf_table(gaps, f)
    if gaps.size >= ctx.options.max_sample:
        notes.append(f"inter-arrival fits use a seeded sample of {gaps.size} gaps (seed {ctx.options.seed})")
    group = ctx.group_column(table)
    by_group: list[pl.DataFrame] = []
    present = []
    for q in QUANTITIES[table]:
        needed = (q.a,) if q.b is None else (q.a, q.b)
        if all(ctx.filled(table, c) for c in needed):
            present.append(q)
        else:
            notes.append(f"{q.name}: the trace has no {' / '.join(needed)} values")
    samples = _values(ctx, table, present, group) if present else []
    for q, (x, labels, valid, negative) in zip(present, samples, strict=True):
        if negative:
            notes.append(f"{q.name}: {negative} negative values left out")
        f = fit(x, discrete=q.discrete)
        _summarise(summary, q.name, q.unit, f)
        fit_tables.append(f.with_columns(pl.lit(q.name).alias("quantity"), pl.lit(q.unit).alias("unit")))
        tables[f"cdf_{q.name}"] = cdf_table(x, f)
        if x.size < valid:
            notes.append(f"{q.name} fits use a seeded sample of {x.size} of {valid} values")
        if group is not None and x.size:
            top = (pl.DataFrame({"g": labels}).group_by("g").len().sort(["len", "g"], descending=[True, False])
                   .head(ctx.options.top_groups)["g"])
            mask = labels.is_in(top.implode()).fill_null(False).to_numpy()
            if mask.any():
                gf = fit_many(x[mask], labels.filter(pl.Series(mask)), discrete=q.discrete)
                by_group.append(gf.filter(pl.col("best") | pl.col("reason").is_not_null())
                                .unique("key", keep="first", maintain_order=True)
                                .select(pl.lit(q.name).alias("quantity"), pl.col("key").alias("group"),
                                        "n", "family", "params", "shape", "scale", "ks_statistic",
                                        "zero_fraction", "reason"))
    tables = {"fits": pl.concat(fit_tables).select("quantity", "unit", *FIT_SCHEMA), **tables}
    tables["windows"] = windows
    if by_group:
        tables["fits_by_group"] = pl.concat(by_group).with_columns(pl.lit(group).alias("group_column"))
    fitted = windows.filter(pl.col("best_family").is_not_null())
    summary["window_s"] = float(ctx.options.fit_window_s)
    summary["windows"] = windows.height
    summary["windows_fitted"] = fitted.height
    summary["windows_best_exponential_fraction"] = (
        float((fitted["best_family"] == "exponential").mean()) if fitted.height else None)  # type: ignore[arg-type]
    summary["windows_mean_rate_per_s"] = float(windows["rate_per_s"].mean()) if windows.height else None  # type: ignore[arg-type]
    notes.append("zeros are dropped before fitting; *_zero_fraction is their share (a hurdle at 0)")
    notes.append("KS p-values use fitted parameters, so they are optimistic (Lilliefors)")
    return Result(f"fitting_{table}", f"Fitted distributions ({table})", summary, tables, tuple(notes),
                  kind="fitting")


def _analysis(table: str) -> Analysis:
    return Analysis(
        name=f"fitting_{table}",
        title=f"Fitted distributions ({table})",
        applies=lambda ctx: ctx.has(table, time_column(table)),
        run=lambda ctx: run_table(ctx, table),
        doc=f"MLE fits (exponential, gamma, Weibull, lognormal, Pareto; Zipf for token counts) of "
            f"the {table} table's inter-arrivals and sizes, with per-window fits.",
    )


ANALYSES: tuple[Analysis, ...] = tuple(_analysis(t) for t in ("requests", "invocations", "jobs"))
