"""Ground-truth total variation: closed forms, Monte Carlo, and a catalogue of test pairs.

Every estimator in :mod:`bounds` is judged against the numbers computed here. Three tools:

- :func:`gaussian_tv`: the closed form for two Gaussians with a shared covariance.
- :func:`monte_carlo_tv`: importance sampling from the mixture ``M = (P + Q) / 2`` for any
  two distributions with samplers and log-densities, with a standard error.
- :func:`make_pair` / :func:`catalogue`: test pairs (mean shift, scale change, mixture vs
  Gaussian, heavy tails) in any dimension, parametrised by their true TV ``level``. The truth
  of each pair is exact: each family has a one-dimensional sufficient statistic (the
  likelihood ratio depends on ``x`` only through it), so TV equals the TV of the two laws of
  that statistic, computed from their CDFs between the density crossings (our choice; the
  Monte Carlo estimate is the independent cross-check in the tests).

References
----------
.. [1] Lin et al., "A Generalization Theory of Cross-Modality Distillation with Contrastive
   Learning", arXiv:2405.03355, 2024.
.. [2] Devroye, Mehrabian, Reddad, "The total variation distance between high-dimensional
   Gaussians with the same mean", arXiv:1810.08693, 2018 (closed forms and their limits).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np
from scipy import optimize, special, stats

__all__ = [
    "FAMILIES",
    "DEFAULT_LEVELS",
    "DistributionPair",
    "MonteCarloTV",
    "catalogue",
    "gaussian_tv",
    "make_pair",
    "maximal_coupling",
    "monte_carlo_tv",
]

Sampler = Callable[[int, np.random.Generator], np.ndarray]
LogPdf = Callable[[np.ndarray], np.ndarray]
RandomState = int | np.random.Generator | None

DEFAULT_LEVELS: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 0.9)


def _rng(random_state: RandomState) -> np.random.Generator:
    """Return a numpy Generator from a seed, a Generator or ``None``."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)


# ----------------------------------------------------------------------------- closed form
def _as_cov(cov: Any, d: int) -> np.ndarray:
    """Return a (d, d) covariance from ``None`` (identity), a scalar variance or a matrix."""
    if cov is None:
        return np.eye(d)
    c = np.asarray(cov, dtype=np.float64)
    if c.ndim == 0:
        if not c > 0:
            raise ValueError(f"cov must be positive, got {float(c)}")
        return float(c) * np.eye(d)
    if c.shape != (d, d):
        raise ValueError(f"cov must have shape ({d}, {d}) to match the means, got {c.shape}")
    return c


def gaussian_tv(mean_p: Any, mean_q: Any, cov: Any = None) -> float:
    r"""Total variation between two Gaussians that share a covariance matrix.

    .. math:: \mathrm{TV}(\mathcal N(\mu_p, \Sigma), \mathcal N(\mu_q, \Sigma))
              = 2\,\Phi(\Delta / 2) - 1, \quad
              \Delta = \sqrt{(\mu_p - \mu_q)^\top \Sigma^{-1} (\mu_p - \mu_q)}

    Parameters
    ----------
    mean_p, mean_q : array-like of shape (d,)
        The two means (a scalar is read as ``d = 1``).
    cov : array-like of shape (d, d), float or None
        Shared covariance; a scalar is a variance times the identity; ``None`` the identity.

    Returns
    -------
    float
        TV in [0, 1].

    References
    ----------
    .. [1] Devroye, Mehrabian, Reddad, arXiv:1810.08693, 2018.

    Examples
    --------
    >>> round(gaussian_tv([0.0, 0.0], [2.0, 0.0]), 4)
    0.6827
    >>> gaussian_tv([1.0], [1.0])
    0.0
    """
    mp = np.atleast_1d(np.asarray(mean_p, dtype=np.float64))
    mq = np.atleast_1d(np.asarray(mean_q, dtype=np.float64))
    if mp.ndim != 1 or mp.shape != mq.shape:
        raise ValueError(
            f"mean_p and mean_q must be 1-D of equal length, got {mp.shape}, {mq.shape}"
        )
    if not (np.all(np.isfinite(mp)) and np.all(np.isfinite(mq))):
        raise ValueError("mean_p and mean_q must be finite")
    c = _as_cov(cov, mp.size)
    try:
        chol = np.linalg.cholesky(c)
    except np.linalg.LinAlgError:
        raise ValueError("cov must be symmetric positive definite") from None
    delta = float(np.linalg.norm(np.linalg.solve(chol, mp - mq)))
    return float(2.0 * stats.norm.cdf(delta / 2.0) - 1.0)


# ----------------------------------------------------------------------------- Monte Carlo
class MonteCarloTV(NamedTuple):
    """Monte Carlo TV estimate: unpacks as ``tv, stderr, n``."""

    tv: float
    stderr: float
    n: int


def _abs_tanh_half_log_ratio(x: np.ndarray, logpdf_p: LogPdf, logpdf_q: LogPdf) -> np.ndarray:
    """Return ``|p - q| / (p + q)`` at ``x``, computed in log space."""
    lp = np.reshape(logpdf_p(x), -1)
    lq = np.reshape(logpdf_q(x), -1)
    # |p - q| / (p + q) = |1 - 2 q / (p + q)| = |1 - 2 exp(lq - logaddexp(lp, lq))|
    return np.abs(1.0 - 2.0 * np.exp(lq - np.logaddexp(lp, lq)))


def monte_carlo_tv(
    sample_p: Sampler,
    sample_q: Sampler,
    logpdf_p: LogPdf,
    logpdf_q: LogPdf,
    n: int = 200_000,
    random_state: RandomState = None,
) -> MonteCarloTV:
    r"""Monte Carlo TV by importance sampling from the mixture ``M = (P + Q) / 2``.

    .. math:: \mathrm{TV}(P, Q) = \mathbb E_{X \sim M}
              \left|\tanh\!\left(\tfrac{\log p(X) - \log q(X)}{2}\right)\right|
              = \tfrac12 \mathbb E_P f + \tfrac12 \mathbb E_Q f,
              \quad f = \frac{|p - q|}{p + q} \in [0, 1]

    Half the draws come from each of ``P`` and ``Q`` (stratified sampling of ``M``, our
    choice), so the standard error is at most :math:`1 / (2\sqrt{n})`.

    Parameters
    ----------
    sample_p, sample_q : callable ``(n, rng) -> ndarray of shape (n, d)``
        Samplers of the two distributions.
    logpdf_p, logpdf_q : callable ``ndarray (n, d) -> ndarray (n,)``
        Log-densities (w.r.t. the same base measure; constants must not be dropped).
    n : int
        Total number of draws (at least 2).
    random_state : int, numpy Generator or None
        Seed of the draws.

    Returns
    -------
    MonteCarloTV
        ``(tv, stderr, n)``.

    Examples
    --------
    >>> from scipy import stats
    >>> p, q = stats.norm(0.0, 1.0), stats.norm(2.0, 1.0)
    >>> res = monte_carlo_tv(
    ...     lambda k, r: p.rvs((k, 1), random_state=r), lambda k, r: q.rvs((k, 1), random_state=r),
    ...     lambda x: p.logpdf(x[:, 0]), lambda x: q.logpdf(x[:, 0]), n=20_000, random_state=0)
    >>> abs(res.tv - gaussian_tv([0.0], [2.0])) < 4 * res.stderr
    True
    """
    if int(n) < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    rng = _rng(random_state)
    n_p = int(n) // 2
    n_q = int(n) - n_p
    f_p = _abs_tanh_half_log_ratio(np.asarray(sample_p(n_p, rng)), logpdf_p, logpdf_q)
    f_q = _abs_tanh_half_log_ratio(np.asarray(sample_q(n_q, rng)), logpdf_p, logpdf_q)
    tv = 0.5 * f_p.mean() + 0.5 * f_q.mean()
    stderr = 0.5 * np.sqrt(f_p.var(ddof=1) / n_p + f_q.var(ddof=1) / n_q)
    return MonteCarloTV(float(tv), float(stderr), int(n))


# ----------------------------------------------------------------------------- densities
class Density(Protocol):
    """A distribution on R^d with a sampler and a log-density."""

    def rvs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` rows of shape (n, d)."""

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log-density at the rows of ``x``, shape (n,)."""


@dataclass(frozen=True)
class ScipyDensity:
    """A frozen ``scipy.stats`` multivariate distribution with (n, d)-shaped draws."""

    dist: Any
    d: int

    def rvs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` rows of shape (n, d)."""
        return np.reshape(self.dist.rvs(size=n, random_state=rng), (n, self.d))

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log-density at the rows of ``x``, shape (n,)."""
        return np.reshape(self.dist.logpdf(np.reshape(x, (-1, self.d))), -1)


@dataclass(frozen=True)
class GaussianMixture:
    """Equal-weight mixture of Gaussians with identity covariance."""

    means: np.ndarray

    def rvs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` rows of shape (n, d)."""
        k, d = self.means.shape
        comp = rng.integers(0, k, size=n)
        return self.means[comp] + rng.standard_normal((n, d))

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log-density at the rows of ``x``, shape (n,)."""
        k, d = self.means.shape
        x = np.reshape(x, (-1, d))
        sq = ((x[:, None, :] - self.means[None, :, :]) ** 2).sum(axis=-1)  # (n, k)
        logs = -0.5 * sq - 0.5 * d * np.log(2.0 * np.pi)
        return np.logaddexp.reduce(logs, axis=1) - np.log(k)


# ----------------------------------------------------------------------------- 1-D reductions
@dataclass(frozen=True)
class _NormalMixture1D:
    """1-D equal-weight mixture of normals with a common scale (fast ufunc formulas)."""

    locs: tuple[float, ...]
    scale: float = 1.0

    def logpdf(self, t: Any) -> np.ndarray:
        z = (np.asarray(t, dtype=np.float64)[..., None] - np.asarray(self.locs)) / self.scale
        log_phi = -0.5 * z**2 - 0.5 * np.log(2.0 * np.pi) - np.log(self.scale)
        return np.logaddexp.reduce(log_phi, axis=-1) - np.log(len(self.locs))

    def cdf(self, t: Any) -> np.ndarray:
        z = (np.asarray(t, dtype=np.float64)[..., None] - np.asarray(self.locs)) / self.scale
        return special.ndtr(z).mean(axis=-1)


def _crossings(law_p: Any, law_q: Any, grid: np.ndarray) -> list[float]:
    """Points where the two 1-D densities cross, located on ``grid`` and refined by brentq."""
    lr = law_p.logpdf(grid) - law_q.logpdf(grid)
    keep = np.isfinite(lr) & (lr != 0.0)
    g, sign = grid[keep], np.sign(lr[keep])
    idx = np.nonzero(sign[:-1] * sign[1:] < 0)[0]

    def diff(t: float) -> float:
        return float(law_p.logpdf(t) - law_q.logpdf(t))

    return [optimize.brentq(diff, g[i], g[i + 1], xtol=1e-13) for i in idx]


def _tv_from_edges(law_p: Any, law_q: Any, crossings: Sequence[float]) -> float:
    r"""Exact TV of two 1-D laws given all their density crossings.

    .. math:: \mathrm{TV} = \tfrac12 \sum_k |P(I_k) - Q(I_k)|

    The intervals :math:`I_k` lie between consecutive crossings, so on each one the sign of
    ``p - q`` is constant and the sum equals :math:`\tfrac12 \int |p - q|`.
    """
    edges = np.array([-np.inf, *sorted(crossings), np.inf])
    dp = np.diff(law_p.cdf(edges))
    dq = np.diff(law_q.cdf(edges))
    return float(np.clip(0.5 * np.abs(dp - dq).sum(), 0.0, 1.0))


def _tv_1d(law_p: Any, law_q: Any, grid: np.ndarray) -> float:
    """Exact TV of two 1-D laws whose crossings are all bracketed by ``grid``."""
    return _tv_from_edges(law_p, law_q, _crossings(law_p, law_q, np.sort(grid)))


def _quantile_grid(*laws: Any, size: int = 4001) -> np.ndarray:
    """Pooled quantiles of scipy laws, a grid dense where the mass is."""
    qs = np.linspace(1e-12, 1.0 - 1e-12, size)
    return np.unique(np.concatenate([law.ppf(qs) for law in laws]))


def _direction(d: int) -> np.ndarray:
    """Return the unit vector ``1 / sqrt(d)``: shifts spread over all coordinates (our choice)."""
    return np.full(d, 1.0 / np.sqrt(d))


# ----------------------------------------------------------------------------- families
def _build_mean_shift(d: int, delta: float) -> tuple[Density, Density]:
    src = stats.multivariate_normal(np.zeros(d))
    tgt = stats.multivariate_normal(delta * _direction(d))
    return ScipyDensity(src, d), ScipyDensity(tgt, d)


def _tv_mean_shift(d: int, delta: float) -> float:
    return gaussian_tv(np.zeros(1), np.array([delta]))


def _build_scale(d: int, s: float) -> tuple[Density, Density]:
    src = stats.multivariate_normal(np.zeros(d))
    tgt = stats.multivariate_normal(np.zeros(d), s**2)
    return ScipyDensity(src, d), ScipyDensity(tgt, d)


def _tv_scale(d: int, s: float) -> float:
    r"""TV of N(0, I) vs N(0, s^2 I), s > 1: p > q exactly on :math:`\|x\|^2 < r^2`."""
    if s <= 1.0:
        raise ValueError(f"the scale family needs s > 1, got {s}")
    r2 = 2.0 * d * np.log(s) / (1.0 - s**-2)
    return float(stats.chi2.cdf(r2, d) - stats.chi2.cdf(r2 / s**2, d))


def _build_mixture(d: int, m: float) -> tuple[Density, Density]:
    u = _direction(d)
    src = GaussianMixture(np.stack([-m * u, m * u]))
    tgt = stats.multivariate_normal(np.zeros(d), np.eye(d) + m**2 * np.outer(u, u))
    return src, ScipyDensity(tgt, d)


def _tv_mixture(d: int, m: float) -> float:
    """Moment-matched target, so only ``u . x`` differs: a 1-D problem."""
    sd = np.sqrt(1.0 + m**2)
    grid = np.linspace(-(m + 10.0 * sd), m + 10.0 * sd, 8001)
    return _tv_1d(_NormalMixture1D((-m, m)), _NormalMixture1D((0.0,), sd), grid)


def _t_scale2(nu: float) -> float:
    """Squared scale giving the Student t an identity covariance."""
    return (nu - 2.0) / nu


def _build_student_t(d: int, nu: float) -> tuple[Density, Density]:
    src = stats.multivariate_t(np.zeros(d), _t_scale2(nu) * np.eye(d), df=nu)
    tgt = stats.multivariate_normal(np.zeros(d))
    return ScipyDensity(src, d), ScipyDensity(tgt, d)


@dataclass(frozen=True)
class _CdfLaw:
    """A 1-D law known through its CDF (a fast ufunc)."""

    cdf: Callable[[np.ndarray], np.ndarray]


def _log_ratio_t_normal(r2: float, d: int, nu: float) -> float:
    """Return ``log p_t(x) - log p_N(x)`` at ``||x||^2 = r2`` (convex in ``r2``)."""
    c2 = _t_scale2(nu)
    log_t = (
        special.gammaln((nu + d) / 2.0)
        - special.gammaln(nu / 2.0)
        - 0.5 * d * np.log(nu * np.pi * c2)
        - 0.5 * (nu + d) * np.log1p(r2 / (nu * c2))
    )
    log_n = -0.5 * d * np.log(2.0 * np.pi) - 0.5 * r2
    return float(log_t - log_n)


def _tv_student_t(d: int, nu: float) -> float:
    """Both laws are radial: ``||x||^2`` is c^2 d F(d, nu) under t and chi2(d) under N.

    The log-ratio is convex in ``||x||^2`` with its minimum at ``d + 2``, so the densities
    cross at most once on each side of it.
    """

    def g(r2: float) -> float:
        return _log_ratio_t_normal(r2, d, nu)

    r_min = d + 2.0
    crossings = [optimize.brentq(g, 0.0, r_min, xtol=1e-13)] if g(0.0) > 0 else []
    hi = 2.0 * r_min
    while g(hi) <= 0:
        hi *= 2.0
    crossings.append(optimize.brentq(g, r_min, hi, xtol=1e-13))
    law_t = _CdfLaw(lambda r2: special.fdtr(d, nu, np.maximum(r2, 0.0) / (_t_scale2(nu) * d)))
    law_n = _CdfLaw(lambda r2: special.chdtr(d, np.maximum(r2, 0.0)))
    return _tv_from_edges(law_t, law_n, crossings)


@dataclass(frozen=True)
class Family:
    """A family of test pairs indexed by one parameter.

    ``theta`` is a monotone reparametrisation in which TV increases, searched in ``bracket``.
    """

    name: str
    param_name: str
    description: str
    build: Callable[[int, float], tuple[Density, Density]]
    tv: Callable[[int, float], float]
    param_of_theta: Callable[[float], float]
    bracket: tuple[float, float]


FAMILIES: dict[str, Family] = {
    "mean_shift": Family(
        "mean_shift",
        "delta",
        "N(0, I) vs N(delta u, I), u = 1/sqrt(d); closed form",
        _build_mean_shift,
        _tv_mean_shift,
        float,
        (0.0, 60.0),
    ),
    "scale": Family(
        "scale",
        "s",
        "N(0, I) vs N(0, s^2 I); exact via chi2 CDFs",
        _build_scale,
        _tv_scale,
        np.exp,
        (1e-9, 20.0),
    ),
    "mixture": Family(
        "mixture",
        "m",
        "(N(-m u, I) + N(m u, I)) / 2 vs the moment-matched N(0, I + m^2 u u^T)",
        _build_mixture,
        _tv_mixture,
        float,
        (1e-6, 400.0),
    ),
    "student_t": Family(
        "student_t",
        "nu",
        "Student t (nu dof, identity covariance) vs N(0, I); exact via the radial law",
        _build_student_t,
        _tv_student_t,
        lambda theta: 2.0 + float(np.exp(-theta)),
        (-np.log(1e5), -np.log(1e-6)),
    ),
}


# ----------------------------------------------------------------------------- test pairs
@dataclass(frozen=True)
class DistributionPair:
    """A source/target pair of distributions with a known TV.

    Attributes
    ----------
    family : str
        Family name (a key of :data:`FAMILIES`, or ``"custom"``).
    d : int
        Dimension.
    level : float
        The TV the pair was built to have (nominal).
    param_name, param : str, float
        The family parameter that gives that TV.
    source, target : Density
        The two distributions (``rvs(n, rng)`` and ``logpdf(x)``).
    true_tv : float
        Ground-truth TV.
    true_tv_stderr : float
        Its standard error: 0 for exact truths, the Monte Carlo one otherwise.
    truth_method : str
        How ``true_tv`` was computed.
    """

    family: str
    d: int
    level: float
    param_name: str
    param: float
    source: Density = field(repr=False)
    target: Density = field(repr=False)
    true_tv: float
    true_tv_stderr: float = 0.0
    truth_method: str = "exact"

    @property
    def name(self) -> str:
        """Short identifier, e.g. ``mean_shift-d8-tv0.50``."""
        return f"{self.family}-d{self.d}-tv{self.level:.2f}"

    def sample_source(self, n: int, rng: RandomState = None) -> np.ndarray:
        """Draw ``n`` source rows, shape (n, d)."""
        return self.source.rvs(int(n), _rng(rng))

    def sample_target(self, n: int, rng: RandomState = None) -> np.ndarray:
        """Draw ``n`` target rows, shape (n, d)."""
        return self.target.rvs(int(n), _rng(rng))

    def sample(
        self, n: int, random_state: RandomState = None, n_target: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` source rows and ``n_target`` (default ``n``) target rows."""
        rng = _rng(random_state)
        return self.sample_source(n, rng), self.sample_target(
            n if n_target is None else n_target, rng
        )

    def logpdf_source(self, x: np.ndarray) -> np.ndarray:
        """Source log-density at the rows of ``x``."""
        return self.source.logpdf(x)

    def logpdf_target(self, x: np.ndarray) -> np.ndarray:
        """Target log-density at the rows of ``x``."""
        return self.target.logpdf(x)

    def monte_carlo(self, n: int = 200_000, random_state: RandomState = None) -> MonteCarloTV:
        """Monte Carlo TV of this pair (see :func:`monte_carlo_tv`)."""
        return monte_carlo_tv(
            self.sample_source,
            self.sample_target,
            self.logpdf_source,
            self.logpdf_target,
            n=n,
            random_state=random_state,
        )

    @classmethod
    def from_densities(
        cls,
        source: Density,
        target: Density,
        d: int,
        family: str = "custom",
        n_mc: int = 400_000,
        random_state: RandomState = 0,
    ) -> DistributionPair:
        """Build a pair whose truth has no closed form: Monte Carlo TV with its stderr."""
        pair = cls(family, d, float("nan"), "", float("nan"), source, target, float("nan"))
        mc = pair.monte_carlo(n_mc, random_state)
        return cls(
            family, d, mc.tv, "", float("nan"), source, target, mc.tv, mc.stderr, "monte carlo"
        )


def _check_family_args(family: str, d: int, level: float) -> None:
    """Raise ``ValueError`` on an unknown family, a bad dimension or a level outside (0, 1)."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {family!r}")
    if isinstance(d, bool) or not isinstance(d, int | np.integer) or d < 1:
        raise ValueError(f"d must be a positive integer, got {d!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be a TV value in (0, 1), got {level!r}")


@functools.lru_cache(maxsize=512)
def make_pair(family: str, d: int, level: float) -> DistributionPair:
    r"""Build the pair of ``family`` in dimension ``d`` whose true TV is ``level``.

    The family parameter is found by root finding on the exact TV (monotone in it); the
    returned ``true_tv`` is recomputed at that parameter, so it is exact, and equals
    ``level`` to about 1e-9. Results are cached.

    .. math:: \theta^\star = \{\theta : \mathrm{TV}(P_\theta, Q_\theta) = \text{level}\}

    Parameters
    ----------
    family : str
        One of :data:`FAMILIES`: ``"mean_shift"``, ``"scale"``, ``"mixture"``,
        ``"student_t"``.
    d : int
        Dimension (at least 1).
    level : float
        Target TV in (0, 1). The mixture family reaches at most about 0.99.

    Returns
    -------
    DistributionPair

    Examples
    --------
    >>> pair = make_pair("scale", 8, 0.5)
    >>> round(pair.true_tv, 6), pair.param_name, round(pair.param, 3)
    (0.5, 's', 1.413)
    >>> xs, xt = pair.sample(100, random_state=0)
    >>> xs.shape, xt.shape
    ((100, 8), (100, 8))
    """
    _check_family_args(family, d, level)
    fam = FAMILIES[family]
    d = int(d)

    def gap(theta: float) -> float:
        return fam.tv(d, fam.param_of_theta(theta)) - level

    lo, hi = fam.bracket
    if gap(hi) <= 0:
        raise ValueError(f"level {level} is beyond what family {family!r} reaches in d={d}")
    theta = optimize.brentq(gap, lo, hi, xtol=1e-10)
    param = float(fam.param_of_theta(theta))
    source, target = fam.build(d, param)
    truth = fam.tv(d, param)
    return DistributionPair(family, d, float(level), fam.param_name, param, source, target, truth)


def catalogue(
    d: int | Sequence[int],
    levels: Sequence[float] = DEFAULT_LEVELS,
    families: Sequence[str] | None = None,
) -> list[DistributionPair]:
    """All test pairs for the given dimensions, TV levels and families.

    Parameters
    ----------
    d : int or sequence of int
        Dimension(s).
    levels : sequence of float
        True TV values, each in (0, 1); default 0.1, 0.3, 0.5, 0.7, 0.9.
    families : sequence of str, optional
        Keys of :data:`FAMILIES`; default all four.

    Returns
    -------
    list of DistributionPair
        Ordered by dimension, family, level.

    Examples
    --------
    >>> pairs = catalogue(2, levels=(0.2, 0.8))
    >>> len(pairs), sorted({p.family for p in pairs})
    (8, ['mean_shift', 'mixture', 'scale', 'student_t'])
    """
    dims = [d] if isinstance(d, int | np.integer) else list(d)
    fams = list(FAMILIES) if families is None else list(families)
    return [make_pair(f, int(k), float(lv)) for k in dims for f in fams for lv in levels]


def maximal_coupling(
    pair: DistributionPair, source_rows: np.ndarray, random_state: RandomState = None
) -> np.ndarray:
    r"""Target rows paired with ``source_rows`` by a maximal coupling: ``P(X != Y) = TV``.

    .. math:: Y = X \text{ with probability } \min(1, q(X) / p(X)),
              \text{ else } Y \sim (q - p)_+ / \mathrm{TV}

    The residual is sampled by rejection from ``Q`` (accept ``y`` with probability
    :math:`(1 - p(y) / q(y))_+`). ``Y`` has law ``Q`` and the pairs differ with probability
    exactly TV, so a paired check with ``eps = 0`` on these pairs bounds TV from above.

    Parameters
    ----------
    pair : DistributionPair
        Gives the samplers and log-densities.
    source_rows : ndarray of shape (n, d)
        Draws from the source distribution.
    random_state : int, numpy Generator or None
        Seed of the coupling.

    Returns
    -------
    ndarray of shape (n, d)
        Target rows, row ``i`` paired with ``source_rows[i]``.

    References
    ----------
    .. [1] Lindvall, "Lectures on the Coupling Method", Wiley, 1992.

    Examples
    --------
    >>> pair = make_pair("mean_shift", 2, 0.5)
    >>> x = pair.sample_source(4000, 0)
    >>> y = maximal_coupling(pair, x, random_state=1)
    >>> bool(abs(np.mean(np.any(x != y, axis=1)) - 0.5) < 0.03)
    True
    """
    rng = _rng(random_state)
    x = np.asarray(source_rows, dtype=np.float64)
    log_ratio = pair.logpdf_target(x) - pair.logpdf_source(x)
    stay = np.log(rng.uniform(size=len(x))) < np.minimum(log_ratio, 0.0)
    y = x.copy()
    y[~stay] = _residual_draws(pair, int(np.sum(~stay)), rng)
    return y


def _residual_draws(pair: DistributionPair, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` rows from ``(q - p)_+ / TV`` by rejection from ``Q``."""
    out, have = [], 0
    batch = max(64, int(2 * n / max(pair.true_tv, 1e-3)))
    while have < n:
        y = pair.sample_target(batch, rng)
        keep_prob = -np.expm1(np.minimum(pair.logpdf_source(y) - pair.logpdf_target(y), 0.0))
        y = y[rng.uniform(size=batch) < keep_prob]
        out.append(y)
        have += len(y)
    return np.concatenate(out)[:n] if out else np.empty((0, pair.d))
