r"""Coverage studies: how often each certified term of ``compute_bound`` misses its truth.

A certified term claims ``P(term covers its population quantity) >= 1 - alpha``. This module
checks the claim on synthetic populations where the quantity is known, by repeated seeded
draws of a whole :func:`bounds.target.generalization.compute_bound` computation (heads, maps, TV
estimators and all), counting the draws where the term misses its truth.

Population (:class:`PairedGaussianScenario`): ``K`` classes with prior :math:`\pi`, and
i.i.d. pairs

.. math::

    y \sim \pi, \quad z_A = \mu_y + e_A, \quad
    z_B = \mu_y + \delta_y + g + \rho\, e_A + \sqrt{1 - \rho^2}\, e_B,
    \qquad e_A, e_B \sim \mathcal N(0, I_d) \text{ independent},

so that :math:`z_A \mid y \sim \mathcal N(\mu_y, I)`, :math:`z_B \mid y \sim
\mathcal N(\mu_y + \delta_y + g, I)` and the two sides of a pair are correlated (``rho``).

Truths (how each is computed; every Monte Carlo value comes with its standard error):

- per-class TV :math:`2\Phi(\|\delta_y + g\|/2) - 1` and the joint TV
  :math:`\sum_y \pi_y \mathrm{TV}_y`: exact;
- marginal TV of the two mixtures: Monte Carlo with the exact mixture densities
  (:func:`bounds.truth.groundtruth.monte_carlo_tv`), :data:`POPULATION_MC_ROWS` draws once per
  scenario (our choice: it does not change between draws);
- error of a linear head on either side: exact, as a Gaussian orthant probability
  (:func:`linear_head_error`); of any other predictor: a fresh sample of ``n_mc`` rows;
- aligned TVs, after the ``center`` map :math:`T_m(z) = (z - c_m)/\|z - c_m\|` fitted in the
  draw (so conditional on its centres :math:`c_A, c_B`): the pushforward of
  :math:`\mathcal N(m, I)` is a projected normal with the closed-form density of
  :func:`projected_normal_logpdf`; the aligned marginal and per-class TVs are Monte Carlo with
  those exact densities, ``n_mc`` fresh draws each, per draw;
- :math:`P(\|z_A - z_B\| > \varepsilon)`, the object ``robust_tv_upper`` bounds (it is
  :math:`\ge` the eps-robust TV, since the pairs are a coupling), exact via the noncentral
  chi-square: :math:`z_A - z_B \mid y \sim \mathcal N(-(\delta_y + g), (2 - 2\rho) I)`.

:data:`COVERAGE_TERMS` maps each studied term to its direction and truth; :func:`coverage_draw`
computes one draw, :func:`coverage_study` many, :func:`summarise` the miss rates with their
Clopper-Pearson intervals. A term *holds* when the upper end of the two-sided 95% interval of
its miss rate is at most ``alpha + 0.02`` (the rule of the issue "Certificates that certify
what they say"). With 200 draws a term whose miss rate is exactly ``alpha`` cannot pass that
rule (about 460 draws would be needed); it passes when its misses are rarer than alpha.

References
----------
.. [1] C. J. Clopper, E. S. Pearson, Biometrika 26, 1934.
.. [2] K. V. Mardia, P. E. Jupp, "Directional Statistics", Wiley, 2000 (the projected normal).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from math import lgamma
from typing import Any, cast
from unittest import mock

import numpy as np
import pandas as pd
from scipy import special, stats

from bounds.target.alignment import CenterAlignment
from bounds.target.generalization import compute_bound
from bounds.target.heads import LinearHead
from bounds.target.probe import LinearProbe
from bounds.truth.groundtruth import MonteCarloTV, gaussian_tv, monte_carlo_tv

__all__ = [
    "COVERAGE_TERMS",
    "CoverageTerm",
    "GaussianMixtureLaw",
    "MC_ROWS",
    "POPULATION_MC_ROWS",
    "PairedGaussianScenario",
    "ProjectedNormalMixtureLaw",
    "clopper_pearson_interval",
    "coverage_draw",
    "coverage_study",
    "linear_head_error",
    "log_radial_moment",
    "population_truths",
    "projected_normal_logpdf",
    "summarise",
]

#: Fresh Monte Carlo rows of every per-draw truth (aligned TVs, non-linear head errors).
MC_ROWS = 100_000
#: Monte Carlo rows of the scenario-level marginal TV, computed once per scenario (our choice).
POPULATION_MC_ROWS = 1_000_000
#: Absolute tolerance of the Gaussian orthant probabilities of :func:`linear_head_error`.
ORTHANT_ABSEPS = 1e-7
#: Below this t the recursion of :func:`log_radial_moment` loses digits (the terms of the
#: forward recursion cancel); the parabolic-cylinder closed form is used there (our choice,
#: both checked against quadrature in the tests).
RECURSION_MIN_T = -5.0
#: Slack of the holding rule: the upper end of the miss-rate interval must be <= alpha + this.
HOLD_SLACK = 0.02
#: Default TV estimator options of the study (our choice, for speed: one logistic candidate).
STUDY_TV_KWARGS: Mapping[str, Any] = {"candidates": ["logistic"]}


# --------------------------------------------------------------------- projected normal
def log_radial_moment(k: int, t: Any) -> np.ndarray:
    r"""Log of :math:`M_k(t) = \int_0^\infty r^k e^{-(r - t)^2/2}\, dr`, elementwise in ``t``.

    .. math::

        M_0 = \sqrt{2\pi}\,\Phi(t), \quad M_1 = e^{-t^2/2} + t M_0, \quad
        M_k = (k - 1) M_{k-2} + t M_{k-1}

    (integrate :math:`r^{k-1}(r - t) e^{-(r-t)^2/2}` by parts). For :math:`t \ge 0` the
    recursion runs on :math:`M_k` (all terms positive); for ``RECURSION_MIN_T <= t < 0`` on
    the scaled :math:`N_k = M_k e^{t^2/2}` (same recursion, :math:`N_0 = \sqrt{\pi/2}\,
    \mathrm{erfcx}(-t/\sqrt2)`, :math:`N_1 = 1 + t N_0`); below it, where the forward
    recursion cancels, the closed form :math:`M_k = k!\, e^{-t^2/4} D_{-k-1}(-t)` with the
    parabolic cylinder function :math:`D_\nu` (our choice).

    Examples
    --------
    >>> round(float(np.exp(log_radial_moment(0, 0.0))), 6)  # sqrt(2 pi) / 2
    1.253314
    >>> round(float(np.exp(log_radial_moment(1, 0.0))), 6)  # int_0^inf r e^{-r^2/2} dr
    1.0
    """
    if int(k) != k or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    t = np.asarray(t, dtype=np.float64)
    out = np.empty_like(t)
    pos, mid, low = t >= 0, (t < 0) & (t >= RECURSION_MIN_T), t < RECURSION_MIN_T
    m0 = np.sqrt(2.0 * np.pi) * special.ndtr(t[pos])
    out[pos] = np.log(_recurse(int(k), t[pos], m0, np.exp(-0.5 * t[pos] ** 2)))
    n0 = np.sqrt(np.pi / 2.0) * special.erfcx(-t[mid] / np.sqrt(2.0))
    out[mid] = np.log(_recurse(int(k), t[mid], n0, np.ones_like(n0))) - 0.5 * t[mid] ** 2
    d_nu, _ = special.pbdv(-int(k) - 1.0, -t[low])
    out[low] = lgamma(int(k) + 1) - 0.25 * t[low] ** 2 + np.log(d_nu)
    return out


def _recurse(k: int, t: np.ndarray, first: np.ndarray, one: np.ndarray) -> np.ndarray:
    """Run :math:`X_j = (j-1) X_{j-2} + t X_{j-1}` from ``X_0 = first``, ``X_1 = one + t X_0``."""
    prev, cur = first, one + t * first
    if k == 0:
        return prev
    for j in range(2, k + 1):
        prev, cur = cur, (j - 1) * prev + t * cur
    return cur


def projected_normal_logpdf(u: Any, mean: Any) -> np.ndarray:
    r"""Log-density of :math:`U = X / \|X\|`, :math:`X \sim \mathcal N(m, I_d)`, on the sphere.

    .. math::

        p(u) = (2\pi)^{-d/2} \exp\!\Big(-\frac{\|m\|^2 - t^2}{2}\Big) M_{d-1}(t),
        \qquad t = u^\top m,

    with respect to the surface measure of :math:`S^{d-1}` (polar coordinates
    :math:`x = r u`, :math:`dx = r^{d-1} dr\, d\sigma(u)`); :math:`M_k` is
    :func:`log_radial_moment`. ``u`` must hold unit rows.

    Examples
    --------
    >>> angles = np.linspace(0, 2 * np.pi, 2001)[:-1]
    >>> u = np.column_stack([np.cos(angles), np.sin(angles)])
    >>> mass = np.exp(projected_normal_logpdf(u, [1.5, 0.0])).mean() * 2 * np.pi
    >>> round(float(mass), 6)
    1.0
    """
    u = np.atleast_2d(np.asarray(u, dtype=np.float64))
    m = np.asarray(mean, dtype=np.float64).ravel()
    if u.shape[1] != m.size:
        raise ValueError(f"u has {u.shape[1]} coordinates but mean has {m.size}")
    d = m.size
    t = u @ m
    return -0.5 * d * np.log(2 * np.pi) - 0.5 * (m @ m - t**2) + log_radial_moment(d - 1, t)


# --------------------------------------------------------------------- mixture laws
@dataclass(frozen=True)
class GaussianMixtureLaw:
    r"""The mixture :math:`\sum_y \pi_y \mathcal N(m_y, I_d)`, with its labels.

    Attributes
    ----------
    means : ndarray of shape (K, d)
    prior : ndarray of shape (K,)
    """

    means: np.ndarray
    prior: np.ndarray

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` rows and their labels (``y ~ prior`` i.i.d.)."""
        y = rng.choice(self.prior.size, size=int(n), p=self.prior)
        return self.means[y] + rng.standard_normal((int(n), self.means.shape[1])), y

    def rvs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` rows (the sampler of :func:`bounds.truth.groundtruth.monte_carlo_tv`)."""
        return self.sample(n, rng)[0]

    def component_logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log-density of each component at the rows of ``x``, shape (n, K)."""
        x = np.atleast_2d(x)
        sq = ((x[:, None, :] - self.means[None, :, :]) ** 2).sum(axis=-1)
        return -0.5 * sq - 0.5 * self.means.shape[1] * np.log(2 * np.pi)

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log-density of the mixture at the rows of ``x``, shape (n,)."""
        with np.errstate(divide="ignore"):
            log_prior = np.log(self.prior)
        return special.logsumexp(self.component_logpdf(x) + log_prior, axis=1)

    def component(self, y: int) -> GaussianMixtureLaw:
        """Return the law of class ``y`` alone."""
        return type(self)(self.means[[y]], np.ones(1))


class ProjectedNormalMixtureLaw(GaussianMixtureLaw):
    r"""The law of :math:`X / \|X\|` for :math:`X \sim \sum_y \pi_y \mathcal N(m_y, I_d)`.

    With :math:`m_y = \mu_y - c` it is the pushforward of the Gaussian mixture by the
    ``center`` map :math:`z \mapsto (z - c)/\|z - c\|`; densities from
    :func:`projected_normal_logpdf`.
    """

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` unit rows and their labels."""
        x, y = super().sample(n, rng)
        return x / np.linalg.norm(x, axis=1, keepdims=True), y

    def component_logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log-density of each component at the unit rows of ``x``, shape (n, K)."""
        return np.column_stack([projected_normal_logpdf(x, m) for m in self.means])


# --------------------------------------------------------------------- scenario
def _matrix(value: Any, name: str) -> tuple[tuple[float, ...], ...]:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 2 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a finite (K, d) array, got shape {arr.shape}")
    return tuple(tuple(float(v) for v in row) for row in arr)


@dataclass(frozen=True)
class PairedGaussianScenario:
    r"""Paired Gaussian population with known truths (model in the module docstring).

    Parameters
    ----------
    means : array-like of shape (K, d)
        Teacher-side class means :math:`\mu_y`.
    shifts : array-like of shape (K, d)
        Class-dependent student shifts :math:`\delta_y`.
    gap : array-like of shape (d,)
        Constant modality gap :math:`g` of the student side.
    prior : array-like of shape (K,)
        Class prior :math:`\pi` (positive, sums to 1).
    rho : float
        Correlation of the paired noises, in [0, 1).
    name : str
        Label of the scenario in the study tables.

    Examples
    --------
    >>> s = PairedGaussianScenario([[0.0, 0.0], [3.0, 0.0]], [[2.0, 0.0], [0.0, 0.0]],
    ...                            [0.0, 0.0], [0.5, 0.5])
    >>> np.round(s.class_tv(), 4).tolist(), round(s.joint_tv(), 4)
    ([0.6827, 0.0], 0.3413)
    """

    means: Any
    shifts: Any
    gap: Any
    prior: Any
    rho: float = 0.0
    name: str = "paired_gaussian"

    def __post_init__(self) -> None:
        means, shifts = _matrix(self.means, "means"), _matrix(self.shifts, "shifts")
        gap = tuple(float(v) for v in np.asarray(self.gap, dtype=np.float64).ravel())
        prior = np.asarray(self.prior, dtype=np.float64).ravel()
        k, d = len(means), len(means[0])
        if np.shape(shifts) != (k, d) or len(gap) != d or prior.size != k or k < 2:
            raise ValueError(
                f"means and shifts must be (K, d) with K >= 2, gap (d,), prior (K,); got "
                f"{np.shape(means)}, {np.shape(shifts)}, {len(gap)}, {prior.size}"
            )
        if np.any(prior <= 0) or abs(prior.sum() - 1.0) > 1e-9:
            raise ValueError(f"prior must be positive and sum to 1, got {prior.tolist()}")
        if not 0.0 <= float(self.rho) < 1.0:
            raise ValueError(f"rho must be in [0, 1), got {self.rho!r}")
        for key, value in (("means", means), ("shifts", shifts), ("gap", gap)):
            object.__setattr__(self, key, value)
        object.__setattr__(self, "prior", tuple(float(p) for p in prior))

    @property
    def d(self) -> int:
        """Latent dimension."""
        return len(self.gap)

    def class_means(self, side: str) -> np.ndarray:
        """Class means on the teacher (``"source"``) or student (``"target"``) side."""
        mu = np.asarray(self.means)
        if side == "source":
            return mu
        if side == "target":
            return mu + np.asarray(self.shifts) + np.asarray(self.gap)
        raise ValueError(f"side must be 'source' or 'target', got {side!r}")

    def law(self, side: str, center: Any = None) -> GaussianMixtureLaw:
        """Return the side's latent law; with ``center``, its pushforward by the ``center`` map."""
        prior = np.asarray(self.prior)
        if center is None:
            return GaussianMixtureLaw(self.class_means(side), prior)
        shifted = self.class_means(side) - np.asarray(center, dtype=np.float64)
        return ProjectedNormalMixtureLaw(shifted, prior)

    def sample(
        self, n: int, random_state: int | np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``n`` i.i.d. pairs: ``(z_a, z_b, y)``, shapes (n, d), (n, d), (n,)."""
        rng = np.random.default_rng(random_state)
        y = rng.choice(len(self.prior), size=int(n), p=np.asarray(self.prior))
        e_a, e_b = rng.standard_normal((2, int(n), self.d))
        z_a = self.class_means("source")[y] + e_a
        noise_b = self.rho * e_a + np.sqrt(1.0 - self.rho**2) * e_b
        return z_a, self.class_means("target")[y] + noise_b, y

    def class_tv(self) -> np.ndarray:
        r"""Exact per-class TV, :math:`2\Phi(\|\delta_y + g\|/2) - 1`, shape (K,)."""
        a, b = self.class_means("source"), self.class_means("target")
        return np.array([gaussian_tv(ma, mb) for ma, mb in zip(a, b, strict=True)])

    def joint_tv(self) -> float:
        r"""Exact joint latent-label TV, :math:`\sum_y \pi_y \mathrm{TV}_y`."""
        return float(np.dot(self.prior, self.class_tv()))

    def far_pair_probability(self, eps: float) -> float:
        r"""Exact :math:`P(\|z_A - z_B\| > \varepsilon)` under the pairing.

        .. math:: \sum_y \pi_y\, \bar F_{\chi'^2_d(\lambda_y)}(\varepsilon^2 / s^2), \quad
                  s^2 = 2 - 2\rho, \quad \lambda_y = \|\delta_y + g\|^2 / s^2
        """
        s2 = 2.0 - 2.0 * self.rho
        offsets = self.class_means("target") - self.class_means("source")
        lam = (offsets**2).sum(axis=1) / s2
        x = float(eps) ** 2 / s2
        sf = [stats.chi2.sf(x, self.d) if v == 0 else stats.ncx2.sf(x, self.d, v) for v in lam]
        return float(np.dot(self.prior, sf))


def mixture_tv(
    law_p: GaussianMixtureLaw, law_q: GaussianMixtureLaw, n_mc: int, rng: np.random.Generator
) -> MonteCarloTV:
    """TV of two laws by :func:`~bounds.truth.groundtruth.monte_carlo_tv`, exact densities."""
    return monte_carlo_tv(law_p.rvs, law_q.rvs, law_p.logpdf, law_q.logpdf, n_mc, rng)


def class_tvs(
    law_p: GaussianMixtureLaw, law_q: GaussianMixtureLaw, n_mc: int, rng: np.random.Generator
) -> dict[str, Any]:
    r"""Per-class Monte Carlo TVs of two labelled laws and :math:`\sum_y \pi_y \mathrm{TV}_y`.

    The joint standard error is :math:`\sqrt{\sum_y \pi_y^2 \mathrm{se}_y^2}` (independent
    draws per class).
    """
    per = [
        mixture_tv(law_p.component(y), law_q.component(y), n_mc, rng)
        for y in range(law_p.prior.size)
    ]
    tv, se = np.array([r.tv for r in per]), np.array([r.stderr for r in per])
    return {
        "per_class": tv,
        "joint": float(law_p.prior @ tv),
        "joint_se": float(np.sqrt((law_p.prior**2) @ se**2)),
    }


# --------------------------------------------------------------------- errors
def linear_head_error(head: LinearHead, law: GaussianMixtureLaw) -> float:
    r"""Exact error of a linear head on a Gaussian mixture with identity covariances.

    .. math::

        \mathrm{err} = 1 - \sum_y \pi_y\, P\big(D_{yk} > 0\ \forall k \ne y\big),\quad
        D_{yk} = (w_y - w_k)^\top z + b_y - b_k \sim
        \mathcal N\big((w_y - w_k)^\top m_y + b_y - b_k,\ (w_y - w_j)^\top (w_y - w_k)\big)

    an orthant probability of a (K-1)-dimensional Gaussian (``scipy`` Genz integration to
    :data:`ORTHANT_ABSEPS`; closed form for K = 2). Labels are ``0..K-1``; a class the head
    never predicts counts as always wrong.

    Examples
    --------
    >>> head = LinearHead(np.array([[-1.0, 0.0], [1.0, 0.0]]), np.zeros(2), np.array([0, 1]))
    >>> law = GaussianMixtureLaw(np.array([[-1.0, 0.0], [1.0, 0.0]]), np.array([0.5, 0.5]))
    >>> round(linear_head_error(head, law), 6)  # Phi(-1)
    0.158655
    """
    index = {c: i for i, c in enumerate(np.asarray(head.classes).tolist())}
    correct = 0.0
    for y, (m, p) in enumerate(zip(law.means, law.prior, strict=True)):
        if y in index:
            correct += p * _orthant_correct(head, index[y], m)
    return float(1.0 - correct)


def _orthant_correct(head: LinearHead, row: int, mean: np.ndarray) -> float:
    """P(argmax of head scores = ``row``) for z ~ N(mean, I)."""
    others = [k for k in range(head.weight.shape[0]) if k != row]
    diff = head.weight[row] - head.weight[others]  # (K-1, d)
    loc = diff @ mean + head.bias[row] - head.bias[others]
    cov = diff @ diff.T
    if len(others) == 1:
        return float(special.ndtr(loc[0] / np.sqrt(cov[0, 0])))
    mvn = stats.multivariate_normal(
        mean=-loc, cov=cov, allow_singular=True, abseps=ORTHANT_ABSEPS, releps=0.0
    )
    return float(mvn.cdf(np.zeros(len(others)), rng=0))  # seeded: the same truth every call


def monte_carlo_error(
    predict: Callable[[np.ndarray], np.ndarray],
    law: GaussianMixtureLaw,
    n_mc: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    r"""Error of any predictor on a fresh labelled sample of ``n_mc`` rows, and its standard error.

    .. math:: \hat p = \frac1n \sum_i 1\{h(z_i) \ne y_i\}, \qquad
              \mathrm{se} = \sqrt{\hat p (1 - \hat p) / n}
    """
    z, y = law.sample(n_mc, rng)
    p = float(np.mean(np.asarray(predict(z)) != y))
    return p, float(np.sqrt(p * (1.0 - p) / n_mc))


# --------------------------------------------------------------------- truths of one draw
def population_truths(
    scenario: PairedGaussianScenario,
    n_mc: int = POPULATION_MC_ROWS,
    random_state: int | None = 0,
) -> dict[str, Any]:
    """Truths that do not change between draws: joint TV (exact), marginal TV (Monte Carlo).

    Examples
    --------
    >>> s = PairedGaussianScenario([[0.0], [4.0]], [[0.0], [0.0]], [1.0], [0.5, 0.5])
    >>> t = population_truths(s, n_mc=20_000)
    >>> round(t["joint_tv"], 4), t["marginal_tv"] < t["joint_tv"]
    (0.3829, True)
    """
    marginal = mixture_tv(
        scenario.law("source"), scenario.law("target"), n_mc, np.random.default_rng(random_state)
    )
    return {
        "joint_tv": scenario.joint_tv(),
        "class_tv": scenario.class_tv().tolist(),
        "marginal_tv": marginal.tv,
        "marginal_tv_se": marginal.stderr,
    }


@dataclass
class DrawContext:
    """What the truth of every term of one draw is computed from.

    ``report`` is the main :class:`~bounds.BoundReport` (classifier TV on split pairs, with the
    alignment and target terms), ``paired`` the one with ``tv_method="paired"`` and
    ``split_pairs=False`` (only its ``robust_tv_upper`` is studied), ``target_model`` the h_B
    both were given, ``rng`` the draw's Monte Carlo stream.
    """

    scenario: PairedGaussianScenario
    report: Any
    paired: Any
    target_model: LinearHead | None
    population: Mapping[str, Any]
    n_mc: int
    rng: np.random.Generator
    _aligned: dict[str, Any] | None = field(default=None, repr=False)

    def centers(self) -> tuple[np.ndarray, np.ndarray]:
        """Centres :math:`c_A, c_B` of the draw's fitted ``center`` map."""
        align = self.report.details["alignment_map"]
        if not isinstance(align, CenterAlignment) or type(align) is not CenterAlignment:
            raise ValueError(f"aligned truths need the 'center' alignment, got {align!r}")
        return align.means_["source"], align.means_["target"]

    def aligned(self) -> dict[str, Any]:
        """Aligned marginal and per-class TVs of this draw's map (computed once, Monte Carlo)."""
        if self._aligned is None:
            c_a, c_b = self.centers()
            law_a = self.scenario.law("source", c_a)
            law_b = self.scenario.law("target", c_b)
            marginal = mixture_tv(law_a, law_b, self.n_mc, self.rng)
            self._aligned = {"marginal": marginal, **class_tvs(law_a, law_b, self.n_mc, self.rng)}
        return self._aligned


Truth = tuple[float, float]


def _marginal_tv(ctx: DrawContext) -> Truth:
    return ctx.population["marginal_tv"], ctx.population["marginal_tv_se"]


def _joint_tv(ctx: DrawContext) -> Truth:
    return ctx.population["joint_tv"], 0.0


def _aligned_marginal_tv(ctx: DrawContext) -> Truth:
    marginal = ctx.aligned()["marginal"]
    return marginal.tv, marginal.stderr


def _aligned_joint_tv(ctx: DrawContext) -> Truth:
    return ctx.aligned()["joint"], ctx.aligned()["joint_se"]


def _far_pairs(ctx: DrawContext) -> Truth:
    eps = ctx.paired.details["tv_marginal"].details["eps"]
    return ctx.scenario.far_pair_probability(eps), 0.0


def _transfer_error(ctx: DrawContext) -> Truth:
    head = LinearHead.from_probe(ctx.report.details["transfer_head"])
    return linear_head_error(head, ctx.scenario.law("target")), ORTHANT_ABSEPS


def _aligned_transfer_error(ctx: DrawContext) -> Truth:
    head = ctx.report.details["aligned_head"]
    law = ctx.scenario.law("target", ctx.centers()[1])
    return monte_carlo_error(head.predict, law, ctx.n_mc, ctx.rng)


def _target_error(ctx: DrawContext) -> Truth:
    head = cast(LinearHead, ctx.target_model)  # the target-error term needs h_B
    return linear_head_error(head, ctx.scenario.law("target")), ORTHANT_ABSEPS


@dataclass(frozen=True)
class CoverageTerm:
    """How one term is checked: its direction, its truth, and what computing it needs.

    Attributes
    ----------
    direction : str
        ``"upper"`` (misses when value < truth) or ``"lower"`` (misses when value > truth).
    truth : callable
        ``truth(ctx: DrawContext) -> (value, standard error)``, the population quantity.
    meaning : str
        What the truth is.
    needs : tuple of str
        What :func:`coverage_draw` must compute for the term: ``"main"`` (the main
        ``compute_bound`` call, whose report the value is read from), ``"alignment"`` (the
        alignment rows), ``"target"`` (the target model h_B), or ``"paired"`` (the call with
        ``tv_method="paired"``, ``split_pairs=False``, whose report the value is read from).
    """

    direction: str
    truth: Callable[[DrawContext], Truth]
    meaning: str
    needs: tuple[str, ...] = ("main",)


_ALIGN, _TARGET, _PAIRED = ("main", "alignment"), ("main", "target"), ("paired",)

#: Registry: term of :data:`bounds.target.generalization.TERMS` -> how its coverage is checked.
#: Status comes from the report itself (``report.status(name)``).
COVERAGE_TERMS: dict[str, CoverageTerm] = {
    "tv_lower": CoverageTerm("lower", _marginal_tv, "TV(P_A, P_B), Monte Carlo"),
    "tv_joint_lower": CoverageTerm("lower", _joint_tv, "sum_y pi_y TV_y, exact"),
    "tv_aligned_lower": CoverageTerm(
        "lower", _aligned_marginal_tv, "TV(T_A#P_A, T_B#P_B) of the draw's map, MC", _ALIGN
    ),
    "tv_aligned_joint_lower": CoverageTerm(
        "lower", _aligned_joint_tv, "aligned joint TV of the draw's map, MC", _ALIGN
    ),
    "robust_tv_upper": CoverageTerm(
        "upper", _far_pairs, "P(|z_A - z_B| > eps) at the draw's eps, exact", _PAIRED
    ),
    "certified_bound": CoverageTerm("upper", _transfer_error, "err_B(h), exact"),
    "aligned_certified_bound": CoverageTerm(
        "upper", _aligned_transfer_error, "err_B(h o T_B), MC", _ALIGN
    ),
    "certified_target_bound": CoverageTerm("upper", _target_error, "err_B(h_B), exact", _TARGET),
    **{
        name: CoverageTerm("upper", _target_error, "err_B(h_B), exact", _TARGET + _ALIGN)
        for name in (
            "best_certified_target_bound",
            "margin_transport_bound",
            "dis2_bound",
            "dis2_logits_bound",
        )
    },  # fmt: skip
}


def _term_row(name: str, term: CoverageTerm, ctx: DrawContext) -> dict[str, Any]:
    report = ctx.paired if "paired" in term.needs else ctx.report
    value = getattr(report, name)
    truth, se = term.truth(ctx)
    value = float("nan") if value is None else float(value)
    missed = value < truth if term.direction == "upper" else value > truth
    margin = value - truth if term.direction == "upper" else truth - value
    return {
        "term": name, "status": report.status(name), "direction": term.direction,
        "value": value, "truth": float(truth), "truth_se": float(se),
        "missed": bool(missed), "margin": float(margin),
    }  # fmt: skip


# --------------------------------------------------------------------- one draw
@contextlib.contextmanager
def _descriptive_terms(keep: bool) -> Iterator[None]:
    """Replace the two O(n^2) descriptive estimates by NaN stubs unless ``keep``."""
    if keep:
        yield
        return
    nan = float("nan")
    gaps = dict.fromkeys(("gap_norm", "pair_distance", "relative_gap"), nan)
    with (
        mock.patch("bounds.target.generalization.gap_terms", lambda zs, zt: dict(gaps)),
        mock.patch(
            "bounds.target.target_terms.transport_costs",
            lambda zs, zt, cost=None: {"w1": nan, "paired_cost": nan},
        ),
    ):
        yield


def _seed(seq: np.random.SeedSequence) -> int:
    return int(seq.generate_state(1)[0])


def _check_terms(terms: Sequence[str] | None) -> list[str]:
    names = list(COVERAGE_TERMS) if terms is None else list(terms)
    unknown = sorted(set(names) - set(COVERAGE_TERMS))
    if unknown or not names:
        raise ValueError(
            f"terms must be a non-empty subset of {list(COVERAGE_TERMS)}, got {terms!r}"
        )
    return names


def _reports(rows: dict[str, tuple], needs: set[str], h_b: LinearHead | None, kw: dict) -> tuple:
    """Compute the main and the ``paired`` reports that ``needs`` asks for (else ``None``)."""
    train, test = rows["train"], rows["test"]
    report = paired = None
    extra: dict[str, Any] = {}
    if "alignment" in needs:
        extra.update(z_align_source=rows["align"][0], z_align_target=rows["align"][1])
    if h_b is not None:
        extra["target_model"] = h_b
    args = (train[0], train[2], test[0], test[1], test[2])
    with _descriptive_terms(kw.pop("descriptive")):
        tv_kwargs = kw.pop("tv_kwargs")
        if "main" in needs:
            report = compute_bound(*args, **kw, split_pairs=True, tv_kwargs=tv_kwargs, **extra)  # type: ignore[misc]
        if "paired" in needs:
            paired = compute_bound(*args, **kw, tv_method="paired", split_pairs=False)
    return report, paired


def coverage_draw(
    scenario: PairedGaussianScenario,
    n_test: int,
    random_state: int,
    *,
    population: Mapping[str, Any] | None = None,
    terms: Sequence[str] | None = None,
    n_train: int = 200,
    n_align: int = 1000,
    alpha: float = 0.05,
    tv_kwargs: Mapping[str, Any] | None = None,
    n_mc: int = MC_ROWS,
    descriptive: bool = False,
) -> pd.DataFrame:
    r"""One seeded draw: fresh rows, :func:`~bounds.compute_bound`, each term against its truth.

    .. math:: \text{missed} = 1\{\text{value} < \text{truth}\} \text{ (upper terms)}, \quad
              1\{\text{value} > \text{truth}\} \text{ (lower terms)}

    Rows drawn independently from ``scenario``: ``n_train`` labelled training pairs (the head
    h and h_A on their teacher side; h_B, a :class:`~bounds.target.probe.LinearProbe`, on their
    student side), ``n_align`` unlabeled alignment pairs and ``n_test`` held-out pairs with
    i.i.d. labels. The main call uses ``tv_method="classifier"`` (options ``tv_kwargs``,
    default :data:`STUDY_TV_KWARGS`) with ``split_pairs=True``, the alignment rows and
    ``target_model=h_B``; ``robust_tv_upper`` comes from a second call with
    ``tv_method="paired"``, ``split_pairs=False``. ``z_target_train`` is not passed (our
    choice): it only feeds ``disagreement_estimate``, an estimate outside the study, and
    costs two cross-validated probes. Inputs no term of ``terms`` needs
    (:attr:`CoverageTerm.needs`) are left out, which leaves the other terms unchanged.

    ``descriptive=False`` (our choice for the study) replaces ``gap_terms`` and
    ``transport_costs`` for the call by NaN stubs: both are estimates outside the study,
    cost O(n^2) and take about 2/3 of a 12000-pair draw; no certified term reads them.

    Returns
    -------
    pandas.DataFrame
        One row per term: ``scenario, n_test, seed, term, status, direction, value, truth,
        truth_se, missed, margin`` (value - truth for upper terms, truth - value for lower
        ones: >= 0 when covered) and ``seconds`` (the draw's time).
    """
    start, names = time.perf_counter(), _check_terms(terms)
    needs = {need for name in names for need in COVERAGE_TERMS[name].needs}
    s_train, s_align, s_test, s_fit, s_mc = np.random.SeedSequence(random_state).spawn(5)
    rows = {
        key: scenario.sample(n, np.random.default_rng(seq))
        for key, n, seq in (("train", n_train, s_train), ("align", n_align, s_align),
                            ("test", n_test, s_test))
    }  # fmt: skip
    seed = _seed(s_fit)
    h_b = None
    if "target" in needs:
        h_b = LinearHead.from_probe(LinearProbe(random_state=seed).fit(*rows["train"][1:]))
    kw = {"alpha": alpha, "random_state": seed, "descriptive": descriptive,
          "tv_kwargs": dict(STUDY_TV_KWARGS if tv_kwargs is None else tv_kwargs)}  # fmt: skip
    report, paired = _reports(rows, needs, h_b, kw)
    population = population_truths(scenario) if population is None else population
    ctx = DrawContext(scenario, report, paired, h_b, population, n_mc, np.random.default_rng(s_mc))
    frame = pd.DataFrame([_term_row(name, COVERAGE_TERMS[name], ctx) for name in names])
    frame.insert(0, "seed", int(random_state))
    frame.insert(0, "n_test", int(n_test))
    frame.insert(0, "scenario", scenario.name)
    frame["seconds"] = time.perf_counter() - start
    return frame


# --------------------------------------------------------------------- many draws
_LIMITS: list[Any] = []


def _single_thread() -> None:
    """Worker initializer: one BLAS/OpenMP and one torch thread per process."""
    import os

    import torch
    from threadpoolctl import threadpool_limits

    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    _LIMITS.append(threadpool_limits(limits=1))


def draw_seed(random_state: int, n_test: int, draw: int) -> int:
    """Seed of draw ``draw`` of a study: the same triple gives the same draw, anywhere.

    Examples
    --------
    >>> draw_seed(0, 1000, 3) == draw_seed(0, 1000, 3) != draw_seed(0, 12000, 3)
    True
    """
    return _seed(np.random.SeedSequence([int(random_state), int(n_test), int(draw)]))


def _run_draws(jobs: dict[int, Callable[[], pd.DataFrame]], workers: int) -> Iterator[tuple]:
    """Yield ``(draw, frame)`` as draws finish, in a process pool when ``workers > 1``."""
    if workers <= 1:
        for draw, job in jobs.items():
            yield draw, job()
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_single_thread) as pool:
        futures = {pool.submit(job): draw for draw, job in jobs.items()}
        for future in as_completed(futures):
            yield futures[future], future.result()


def coverage_study(
    scenario: PairedGaussianScenario,
    n_test: int,
    n_draws: int,
    *,
    random_state: int = 0,
    draws: Iterable[int] | None = None,
    workers: int = 1,
    on_draw: Callable[[pd.DataFrame], None] | None = None,
    progress: bool = True,
    population: Mapping[str, Any] | None = None,
    **draw_kwargs: Any,
) -> pd.DataFrame:
    r"""Repeat :func:`coverage_draw` over seeded draws; tidy rows per (draw, term).

    .. math:: \widehat{\text{miss}}_t = \frac{1}{R} \sum_{r=1}^{R} \text{missed}_{t, r}

    Parameters
    ----------
    scenario : PairedGaussianScenario
    n_test : int
        Held-out pairs per draw.
    n_draws : int
        Draws ``0 .. n_draws - 1``; draw ``r`` uses :func:`draw_seed` ``(random_state,
        n_test, r)``.
    draws : iterable of int or None
        Only these draw indices (to resume a study: the finished ones are left out).
    workers : int
        Processes (each limited to one thread); 1 runs in this process.
    on_draw : callable or None
        Called with each finished draw's frame (e.g. to append it to a file).
    progress : bool
        Show a ``tqdm`` bar.
    population : mapping or None
        :func:`population_truths` of ``scenario`` (computed once when ``None``).
    **draw_kwargs
        Passed to :func:`coverage_draw` (``n_train``, ``n_align``, ``alpha``, ...).

    Returns
    -------
    pandas.DataFrame
        The rows of every draw with a ``draw`` column, sorted by draw and term order.
    """
    from tqdm.auto import tqdm

    population = population_truths(scenario) if population is None else population
    todo = list(range(int(n_draws)) if draws is None else draws)
    jobs: dict[int, Callable[[], pd.DataFrame]] = {
        draw: functools.partial(
            coverage_draw, scenario, int(n_test), draw_seed(random_state, n_test, draw),
            population=population, **draw_kwargs,
        )
        for draw in todo
    }  # fmt: skip
    frames = []
    bar = tqdm(total=len(jobs), desc=f"{scenario.name} n={n_test}", disable=not progress)
    for draw, frame in _run_draws(jobs, int(workers)):
        frame.insert(3, "draw", int(draw))
        if on_draw is not None:
            on_draw(frame)
        frames.append(frame)
        bar.update(1)
    bar.close()
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).sort_values(["draw"], kind="stable")


# --------------------------------------------------------------------- summary
def clopper_pearson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    r"""Two-sided exact interval of a binomial proportion (equal tails).

    .. math:: [\mathrm{Beta}^{-1}(a/2; k, n-k+1),\ \mathrm{Beta}^{-1}(1 - a/2; k+1, n-k)],
              \quad a = 1 - \text{confidence}

    Examples
    --------
    >>> [round(v, 4) for v in clopper_pearson_interval(10, 200)]
    [0.0242, 0.09]
    """
    from bounds._confidence import clopper_pearson_lower, clopper_pearson_upper

    tail = (1.0 - confidence) / 2.0
    return clopper_pearson_lower(int(k), int(n), tail), clopper_pearson_upper(int(k), int(n), tail)


def _summary_row(group: pd.DataFrame, alpha: float, slack: float) -> dict[str, Any]:
    rows = group.dropna(subset=["value"])
    n, k = len(rows), int(rows["missed"].sum())
    low, high = clopper_pearson_interval(k, n) if n else (float("nan"), float("nan"))
    return {
        "status": group["status"].iloc[0],
        "direction": group["direction"].iloc[0],
        "n_draws": n,
        "misses": k,
        "miss_rate": k / n if n else float("nan"),
        "ci_low": low,
        "ci_high": high,
        "holds": bool(n and high <= alpha + slack),
        "required": group["status"].iloc[0] == "certified",
        "mean_value": float(rows["value"].mean()),
        "mean_truth": float(rows["truth"].mean()),
        "median_margin": float(rows["margin"].median()),
        "max_truth_se": float(rows["truth_se"].max()),
    }


def summarise(
    frame: pd.DataFrame,
    alpha: float = 0.05,
    slack: float = HOLD_SLACK,
    by: Sequence[str] = ("scenario", "n_test", "term"),
) -> pd.DataFrame:
    r"""Miss rate per term with its two-sided 95% Clopper-Pearson interval.

    .. math:: \text{holds} \iff \mathrm{CP}^{\text{upper}}_{0.975}(\text{misses}, R)
              \le \alpha + \text{slack}

    ``required`` is True for status ``"certified"`` (a term "certified under an assumption"
    is reported and flagged, not required to hold). ``median_margin`` is value - truth for
    upper terms and truth - value for lower ones (>= 0: covered).

    Examples
    --------
    >>> rows = pd.DataFrame({"term": ["t"] * 200, "status": "certified", "direction": "upper",
    ...                      "value": 1.0, "truth": 0.5, "truth_se": 0.0, "margin": 0.5,
    ...                      "missed": [True] * 4 + [False] * 196})
    >>> s = summarise(rows, by=["term"])
    >>> int(s["misses"].iloc[0]), round(float(s["ci_high"].iloc[0]), 4), bool(s["holds"].iloc[0])
    (4, 0.0504, True)
    """
    keys = [k for k in by if k in frame.columns]
    rows = []
    for key, group in frame.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(keys, key, strict=True)), **_summary_row(group, alpha, slack)})
    return pd.DataFrame(rows)
