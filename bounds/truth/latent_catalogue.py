"""Ground-truth TV pairs where contrastive latents live: d = 64-128, on or near the sphere.

The pairs of :mod:`bounds.truth.groundtruth` are low-dimensional textbook families. The latents of
our models are different: 64-128 dimensional, normalised (on or near the unit sphere), made
of class clusters, and the two modalities differ by a near-constant offset (the modality
gap). This module builds :class:`~bounds.truth.groundtruth.DistributionPair` objects of that kind,
each with its true TV, the standard error of that truth (0 when exact) and how it was
computed:

- ``vmf_angle``: two von Mises-Fisher laws with the same concentration and mean directions
  at an angle; EXACT by a one-dimensional reduction (:func:`vmf_angle_tv`).
- ``vmf_kappa``: two vMF laws with the same mean and different concentrations; EXACT, the
  log-likelihood ratio depends on ``mu . x`` only (:func:`vmf_kappa_tv`).
- ``aniso_gauss_low`` / ``aniso_gauss_high``: Gaussians with a power-law covariance
  spectrum, the mean shifted along the lowest- / highest-variance eigenvector; EXACT via
  :func:`~bounds.truth.groundtruth.gaussian_tv`.
- ``vmf_clusters_gap``: a mixture of ``K`` vMF class clusters against the same clusters
  whose mean directions are moved by a constant gap vector and renormalised; Monte Carlo.
- ``gauss_clusters_offset``: tight Gaussian class clusters centred on the sphere against
  the same clusters translated by a constant offset vector; Monte Carlo.
- ``identical_vmf_clusters`` / ``identical_aniso_gauss``: the same law on both sides; TV is
  exactly 0.

Every number is labelled: ``truth_method`` is ``"exact ..."`` (certified up to quadrature
error, about 1e-8) or ``"monte carlo"`` (an estimate, with ``true_tv_stderr <= 0.003``).

References
----------
.. [1] Mardia, Jupp, "Directional Statistics", Wiley, 2000 (the vMF law, the density of
   ``mu . x`` and the tangent-normal decomposition).
.. [2] Liang et al., "Mind the Gap: Understanding the Modality Gap in Multi-modal
   Contrastive Representation Learning", NeurIPS 2022 (the constant offset between
   modalities).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
from scipy import integrate, optimize, special, stats

from bounds.truth.groundtruth import (
    Density,
    DistributionPair,
    GaussianMixture,
    ScipyDensity,
    gaussian_tv,
)

__all__ = [
    "CASES",
    "LatentCase",
    "ShiftedScaled",
    "VMFMixture",
    "latent_case",
    "latent_catalogue",
    "vmf_angle_tv",
    "vmf_kappa_tv",
]

N_MC = 60_000
"""Monte Carlo draws of a truth: stderr <= 1 / (2 sqrt(N_MC)) = 0.002 (our choice)."""
N_CLUSTERS = 10
"""Number of class clusters of the cluster cases (our choice: a 10-class data set)."""
STRUCTURE_SEED = 20_240_503
"""Seed of the fixed random structure (cluster means, gap direction, eigenvectors)."""


def kappa_of(d: int) -> float:
    r"""Concentration of the vMF cases: :math:`\kappa = 2d` (our choice).

    With :math:`\kappa = 2d` the mean cosine to the mean direction is about 0.78 for
    d = 64-128, the spread of normalised class clusters; the literature states no value.
    """
    return 2.0 * d


# ----------------------------------------------------------------------------- densities
@dataclass(frozen=True)
class VMFMixture:
    """Equal-weight mixture of vMF laws on the unit sphere with one concentration.

    ``logpdf`` is w.r.t. the surface measure of the sphere (as scipy's), exact only for
    rows of unit norm.
    """

    means: np.ndarray
    kappa: float

    def rvs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` rows of shape (n, d), in a random order of components."""
        k, d = self.means.shape
        counts = np.bincount(rng.integers(0, k, size=n), minlength=k)
        parts = [
            np.reshape(stats.vonmises_fisher(m, self.kappa).rvs(c, random_state=rng), (c, d))
            for m, c in zip(self.means, counts, strict=True)
            if c > 0
        ]
        return rng.permutation(np.concatenate(parts))

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log-density at the rows of ``x``, shape (n,), via logsumexp over components."""
        k, d = self.means.shape
        x = np.reshape(x, (-1, d))
        log_c = float(stats.vonmises_fisher(self.means[0], self.kappa).logpdf(self.means[0]))
        logs = log_c + self.kappa * (x @ self.means.T - 1.0)
        return special.logsumexp(logs, axis=1) - np.log(k)


@dataclass(frozen=True)
class ShiftedScaled:
    """The law of ``shift + scale * X`` for ``X`` from ``base``; logpdf in row chunks."""

    base: Density
    scale: float
    shift: np.ndarray

    def rvs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` rows of shape (n, d)."""
        return self.shift + self.scale * np.asarray(self.base.rvs(n, rng))

    def logpdf(self, x: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """Log-density at the rows of ``x``, shape (n,); chunked to bound memory."""
        d = self.shift.size
        z = (np.reshape(x, (-1, d)) - self.shift) / self.scale
        parts = [self.base.logpdf(z[i : i + chunk]) for i in range(0, len(z), chunk)]
        return np.concatenate(parts) - d * np.log(self.scale)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@functools.lru_cache(maxsize=16)
def _structure(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return fixed random cluster means (K, d), a gap direction (d,), eigenvectors (d, d)."""
    rng = np.random.default_rng([STRUCTURE_SEED, d])
    means = _unit(rng.standard_normal((N_CLUSTERS, d)))
    gap_dir = _unit(rng.standard_normal(d))
    rotation, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return means, gap_dir, rotation


# ----------------------------------------------------------------------------- exact vMF
def _log_t_density(t: np.ndarray | float, d: int, kappa: float) -> np.ndarray:
    r"""Unnormalised log-density of :math:`t = \mu \cdot x`, minus :math:`\kappa`."""
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return kappa * (t - 1.0) + 0.5 * (d - 3) * np.log1p(-(t**2))


def _t_mode(d: int, kappa: float) -> float:
    """Mode of the density of ``mu . x``: the root in [0, 1] of k t^2 + (d - 3) t - k."""
    return float((-(d - 3) + np.sqrt((d - 3) ** 2 + 4.0 * kappa**2)) / (2.0 * kappa))


def _t_integral(
    g: Callable[[float], float],
    d: int,
    kappa: float,
    lo: float = -1.0,
    hi: float = 1.0,
    shift: float = 0.0,
) -> float:
    """Return the integral of ``exp(log t-density - shift) * g(t)`` over [lo, hi] by quad."""

    def integrand(t: float) -> float:
        return float(np.exp(_log_t_density(t, d, kappa) - shift)) * g(t)

    mode = _t_mode(d, kappa)
    pts = [p for p in (mode,) if lo < p < hi]
    val, _ = integrate.quad(
        integrand, lo, hi, points=pts or None, limit=400, epsabs=1e-13, epsrel=1e-11
    )
    return float(val)


def _check_vmf_args(d: int, kappa: float) -> None:
    if isinstance(d, bool) or not isinstance(d, int | np.integer) or d < 3:
        raise ValueError(f"d must be an integer >= 3 for a vMF case, got {d!r}")
    if not (np.isfinite(kappa) and kappa > 0):
        raise ValueError(f"kappa must be positive and finite, got {kappa!r}")


@functools.lru_cache(maxsize=4096)
def vmf_angle_tv(d: int, kappa: float, angle: float) -> float:
    r"""EXACT TV between vMF(mu1, kappa) and vMF(mu2, kappa) with ``angle(mu1, mu2)``.

    The log-likelihood ratio :math:`\kappa (\mu_1 - \mu_2) \cdot x` is linear in
    :math:`w \cdot x`, :math:`w = (\mu_1 - \mu_2) / \|\mu_1 - \mu_2\|`, and a reflection
    swaps the laws, so :math:`\mathrm{TV} = 2 P_1(w \cdot x > 0) - 1`. Writing
    :math:`x = t \mu_1 + \sqrt{1 - t^2}\, v` with :math:`v` uniform on the sphere of
    :math:`\mu_1^\perp`, :math:`w \cdot \mu_1 = \sin(\theta/2)` and
    :math:`w \cdot v = \cos(\theta/2) v_1`, :math:`(v_1 + 1)/2 \sim
    \mathrm{Beta}(\tfrac{d-2}{2}, \tfrac{d-2}{2})`:

    .. math:: P_1(w \cdot x > 0) = \frac{\int_{-1}^{1} e^{\kappa t} (1 - t^2)^{(d-3)/2}
              \, \bar B\!\left(\tfrac{1 + c(t)}{2}\right) dt}
              {\int_{-1}^{1} e^{\kappa t} (1 - t^2)^{(d-3)/2} dt}, \qquad
              c(t) = -\frac{t \tan(\theta/2)}{\sqrt{1 - t^2}}

    with :math:`\bar B` the Beta survival function; both integrals by adaptive quadrature
    with the weights in log space. Cached.

    Parameters
    ----------
    d : int
        Dimension of the ambient space (at least 3).
    kappa : float
        Shared concentration (positive).
    angle : float
        Angle between the mean directions in radians, in [0, pi].

    Returns
    -------
    float
        TV in [0, 1], exact up to quadrature error (about 1e-9).

    References
    ----------
    .. [1] Mardia, Jupp, "Directional Statistics", Wiley, 2000, sections 9.3 and 9.6.

    Examples
    --------
    >>> vmf_angle_tv(64, 128.0, 0.0)
    0.0
    >>> round(vmf_angle_tv(64, 128.0, 0.1), 3)  # Monte Carlo, 2e5 draws: 0.384
    0.384
    """
    _check_vmf_args(d, kappa)
    if not 0.0 <= angle <= np.pi:
        raise ValueError(f"angle must be in [0, pi], got {angle!r}")
    if angle == 0.0:
        return 0.0
    a = (d - 2) / 2.0
    tan_half = np.tan(angle / 2.0)

    def survival(t: float) -> float:
        if t >= 1.0:
            return 1.0
        c = -t * tan_half / np.sqrt(1.0 - t * t)
        # Beta(a, a) is symmetric: sf(u) = cdf(1 - u), with 1 - u = (1 - c) / 2
        return float(special.betainc(a, a, np.clip((1.0 - c) / 2.0, 0.0, 1.0)))

    shift = float(_log_t_density(_t_mode(d, kappa), d, kappa))
    p_pos = _t_integral(survival, d, kappa, shift=shift) / _t_integral(
        lambda t: 1.0, d, kappa, shift=shift
    )
    return float(np.clip(2.0 * p_pos - 1.0, 0.0, 1.0))


def _log_z(d: int, kappa: float) -> float:
    r"""Return :math:`\log \int_{-1}^{1} e^{\kappa (t - 1)} (1 - t^2)^{(d-3)/2} dt`."""
    shift = float(_log_t_density(_t_mode(d, kappa), d, kappa))
    return shift + np.log(_t_integral(lambda t: 1.0, d, kappa, shift=shift))


def _t_cdf(x: float, d: int, kappa: float) -> float:
    """CDF of ``mu . x`` under vMF(mu, kappa) at ``x``."""
    log_z = _log_z(d, kappa)
    if x <= -1.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    below = _t_integral(lambda t: 1.0, d, kappa, -1.0, x, shift=log_z)
    return float(np.clip(below, 0.0, 1.0))


@functools.lru_cache(maxsize=4096)
def vmf_kappa_tv(d: int, kappa_p: float, kappa_q: float) -> float:
    r"""EXACT TV between vMF(mu, kappa_p) and vMF(mu, kappa_q) (same mean direction).

    The log-likelihood ratio :math:`(\kappa_p - \kappa_q) t + \log Z_q - \log Z_p` is
    linear in :math:`t = \mu \cdot x`, so the densities cross once, at
    :math:`t^\star = (\log Z_p - \log Z_q) / (\kappa_p - \kappa_q)`, and

    .. math:: \mathrm{TV} = |F_p(t^\star) - F_q(t^\star)|, \qquad
              F_\kappa(s) = \frac{1}{Z_\kappa}\int_{-1}^{s} e^{\kappa t}
              (1 - t^2)^{(d-3)/2} dt

    by adaptive quadrature in log space. Cached.

    Parameters
    ----------
    d : int
        Dimension (at least 3).
    kappa_p, kappa_q : float
        The two concentrations (positive).

    Returns
    -------
    float
        TV in [0, 1], exact up to quadrature error.

    Examples
    --------
    >>> vmf_kappa_tv(64, 128.0, 128.0)
    0.0
    >>> 0.4 < vmf_kappa_tv(64, 128.0, 256.0) < 1.0
    True
    """
    _check_vmf_args(d, kappa_p)
    _check_vmf_args(d, kappa_q)
    if kappa_p == kappa_q:
        return 0.0
    # log Z_kappa here is shifted by -kappa; add kappa back for the true normalisers
    log_zp, log_zq = _log_z(d, kappa_p) + kappa_p, _log_z(d, kappa_q) + kappa_q
    t_star = (log_zp - log_zq) / (kappa_p - kappa_q)
    return float(abs(_t_cdf(t_star, d, kappa_p) - _t_cdf(t_star, d, kappa_q)))


# ----------------------------------------------------------------------------- case builders
def _solve(tv_of: Callable[[float], float], level: float, lo: float, hi: float) -> float:
    """Parameter in [lo, hi] at which the monotone ``tv_of`` equals ``level``."""
    return float(optimize.brentq(lambda p: tv_of(p) - level, lo, hi, xtol=1e-12))


def _axis_pair(d: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors at ``angle`` in a fixed random plane."""
    rotation = _structure(d)[2]
    e1, e2 = rotation[:, 0], rotation[:, 1]
    return e1, np.cos(angle) * e1 + np.sin(angle) * e2


def _build_vmf_angle(d: int, level: float) -> DistributionPair:
    kappa = kappa_of(d)
    angle = _solve(lambda a: vmf_angle_tv(d, kappa, a), level, 1e-9, np.pi)
    mu1, mu2 = _axis_pair(d, angle)
    src = ScipyDensity(stats.vonmises_fisher(mu1, kappa), d)
    tgt = ScipyDensity(stats.vonmises_fisher(mu2, kappa), d)
    truth = vmf_angle_tv(d, kappa, angle)
    return DistributionPair(
        "vmf_angle", d, level, "angle", angle, src, tgt, truth, 0.0, "exact (1-D quadrature)"
    )


def _build_vmf_kappa(d: int, level: float) -> DistributionPair:
    kappa = kappa_of(d) / 2.0  # source kappa = d, target r * d (our choice)
    ratio = _solve(lambda r: vmf_kappa_tv(d, kappa, r * kappa), level, 1.0 + 1e-9, 200.0)
    mu, _ = _axis_pair(d, 0.0)
    src = ScipyDensity(stats.vonmises_fisher(mu, kappa), d)
    tgt = ScipyDensity(stats.vonmises_fisher(mu, ratio * kappa), d)
    truth = vmf_kappa_tv(d, kappa, ratio * kappa)
    return DistributionPair(
        "vmf_kappa",
        d,
        level,
        "kappa_ratio",
        ratio,
        src,
        tgt,
        truth,
        0.0,
        "exact (1-D quadrature)",
    )


SPECTRUM_POWER = 1.0
"""Covariance eigenvalues proportional to ``i ** -SPECTRUM_POWER`` (our choice)."""
SPREAD, MEAN_NORM = 0.5, 0.7
"""Trace of the covariance and norm of the mean: E||x||^2 = 0.99, near the sphere."""


def _aniso_cov(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigenvalues (descending), eigenvectors (columns) and covariance of the spectrum."""
    _, _, rotation = _structure(d)
    lam = np.arange(1, d + 1, dtype=np.float64) ** -SPECTRUM_POWER
    lam *= SPREAD / lam.sum()
    return lam, rotation, (rotation * lam) @ rotation.T


def _aniso_pair(d: int, level: float, which: int, family: str) -> DistributionPair:
    lam, vecs, cov = _aniso_cov(d)
    means, _, _ = _structure(d)
    delta = 2.0 * stats.norm.ppf((1.0 + level) / 2.0) * np.sqrt(lam[which])
    m_p = MEAN_NORM * means[0]
    m_q = m_p + delta * vecs[:, which]
    src = ScipyDensity(stats.multivariate_normal(m_p, cov), d)
    tgt = ScipyDensity(stats.multivariate_normal(m_q, cov), d)
    truth = gaussian_tv(m_p, m_q, cov)
    return DistributionPair(
        family,
        d,
        level,
        "delta",
        float(delta),
        src,
        tgt,
        truth,
        0.0,
        "exact (gaussian_tv closed form)",
    )


def _build_aniso_low(d: int, level: float) -> DistributionPair:
    return _aniso_pair(d, level, d - 1, "aniso_gauss_low")


def _build_aniso_high(d: int, level: float) -> DistributionPair:
    return _aniso_pair(d, level, 0, "aniso_gauss_high")


def _gap_means(d: int, gap: float) -> np.ndarray:
    """Cluster mean directions moved by ``gap * gap_dir`` and renormalised."""
    means, gap_dir, _ = _structure(d)
    return _unit(means + gap * gap_dir)


def _gap_nominal_tv(d: int, gap: float) -> float:
    """Mean per-cluster exact TV: the truth if clusters did not overlap (an upper bound)."""
    means, moved = _structure(d)[0], _gap_means(d, gap)
    cos = np.clip(np.sum(means * moved, axis=1), -1.0, 1.0)
    return float(np.mean([vmf_angle_tv(d, kappa_of(d), float(np.arccos(c))) for c in cos]))


def _monte_carlo_pair(
    family: str, d: int, level: float, param_name: str, param: float, src: Density, tgt: Density
) -> DistributionPair:
    """Return a pair with a Monte Carlo truth (``from_densities``), level and parameter kept."""
    seq = np.random.SeedSequence([STRUCTURE_SEED, d, round(level * 1000)])
    seed = int(seq.generate_state(1)[0])
    pair = DistributionPair.from_densities(src, tgt, d, family, n_mc=N_MC, random_state=seed)
    return dataclasses.replace(pair, level=level, param_name=param_name, param=param)


def _build_vmf_clusters_gap(d: int, level: float) -> DistributionPair:
    gap = _solve(lambda g: _gap_nominal_tv(d, g), level, 1e-9, 10.0)
    means = _structure(d)[0]
    src = VMFMixture(means, kappa_of(d))
    tgt = VMFMixture(_gap_means(d, gap), kappa_of(d))
    return _monte_carlo_pair("vmf_clusters_gap", d, level, "gap", gap, src, tgt)


def cluster_sigma(d: int) -> float:
    """Per-coordinate sd of the Gaussian clusters, ``0.5 / sqrt(d)`` (our choice)."""
    return 0.5 / np.sqrt(d)


def _build_gauss_clusters_offset(d: int, level: float) -> DistributionPair:
    means, gap_dir, _ = _structure(d)
    sigma = cluster_sigma(d)
    # nominal: separated clusters, each shifted by |g|, TV = 2 Phi(|g| / (2 sigma)) - 1
    offset = 2.0 * sigma * float(stats.norm.ppf((1.0 + level) / 2.0))
    base = GaussianMixture(means / sigma)
    src = ShiftedScaled(base, sigma, np.zeros(d))
    tgt = ShiftedScaled(base, sigma, offset * gap_dir)
    return _monte_carlo_pair("gauss_clusters_offset", d, level, "offset", offset, src, tgt)


def _build_identical_vmf_clusters(d: int, level: float) -> DistributionPair:
    law = VMFMixture(_structure(d)[0], kappa_of(d))
    return DistributionPair(
        "identical_vmf_clusters",
        d,
        0.0,
        "",
        float("nan"),
        law,
        law,
        0.0,
        0.0,
        "exact (identical laws)",
    )


def _build_identical_aniso(d: int, level: float) -> DistributionPair:
    _, _, cov = _aniso_cov(d)
    law = ScipyDensity(stats.multivariate_normal(MEAN_NORM * _structure(d)[0][0], cov), d)
    return DistributionPair(
        "identical_aniso_gauss",
        d,
        0.0,
        "",
        float("nan"),
        law,
        law,
        0.0,
        0.0,
        "exact (identical laws)",
    )


@dataclass(frozen=True)
class LatentCase:
    """A builder of latent-like test pairs.

    Attributes
    ----------
    name : str
        Registry key, also the ``family`` of the pairs it builds.
    description : str
        One line saying what the pair is and how its truth is computed.
    build : callable ``(d, level) -> DistributionPair``
        The builder.
    levels : tuple of float
        Nominal TV levels of the default catalogue (``(0.0,)`` for identical laws).
    needs_sphere : bool
        Whether the case uses vMF laws (then ``d >= 3``).
    """

    name: str
    description: str
    build: Callable[[int, float], DistributionPair]
    levels: tuple[float, ...]
    needs_sphere: bool = True

    @property
    def identical(self) -> bool:
        """Whether both sides have the same law (TV exactly 0)."""
        return self.levels == (0.0,)


CASES: dict[str, LatentCase] = {
    c.name: c
    for c in (
        LatentCase(
            "vmf_angle",
            "vMF(mu1, 2d) vs vMF(mu2, 2d), angle set by the level; exact",
            _build_vmf_angle,
            (0.3, 0.7),
        ),
        LatentCase(
            "vmf_kappa",
            "vMF(mu, d) vs vMF(mu, r d), r set by the level; exact",
            _build_vmf_kappa,
            (0.5,),
        ),
        LatentCase(
            "aniso_gauss_low",
            "power-law covariance, shift along the lowest-variance eigenvector; exact",
            _build_aniso_low,
            (0.5,),
            False,
        ),
        LatentCase(
            "aniso_gauss_high",
            "power-law covariance, shift along the highest-variance eigenvector; exact",
            _build_aniso_high,
            (0.5,),
            False,
        ),
        LatentCase(
            "vmf_clusters_gap",
            "10 vMF(2d) class clusters vs the clusters moved by a "
            "constant gap and renormalised; Monte Carlo",
            _build_vmf_clusters_gap,
            (0.7,),
        ),
        LatentCase(
            "gauss_clusters_offset",
            "10 tight Gaussian clusters on the sphere vs the "
            "same plus a constant offset; Monte Carlo",
            _build_gauss_clusters_offset,
            (0.3,),
            False,
        ),
        LatentCase(
            "identical_vmf_clusters",
            "the same 10-cluster vMF mixture on both sides; TV = 0",
            _build_identical_vmf_clusters,
            (0.0,),
        ),
        LatentCase(
            "identical_aniso_gauss",
            "the same power-law Gaussian on both sides; TV = 0",
            _build_identical_aniso,
            (0.0,),
            False,
        ),
    )
}
"""Registry of latent-like cases: name -> :class:`LatentCase`."""


def _check_case_args(case: str, d: int, level: float) -> LatentCase:
    if not isinstance(case, str) or case not in CASES:
        raise ValueError(f"case must be one of {sorted(CASES)}, got {case!r}")
    spec = CASES[case]
    min_d = 3 if spec.needs_sphere else 2
    if isinstance(d, bool) or not isinstance(d, int | np.integer) or d < min_d:
        raise ValueError(f"d must be an integer >= {min_d} for case {case!r}, got {d!r}")
    if spec.identical and level != 0.0:
        raise ValueError(f"level must be 0 for the identical-law case {case!r}, got {level!r}")
    if not spec.identical and not 0.0 < level < 1.0:
        raise ValueError(f"level must be a TV value in (0, 1), got {level!r}")
    return spec


@functools.lru_cache(maxsize=256, typed=True)  # typed: 64.0 must not hit the cache of 64
def latent_case(case: str, d: int, level: float | None = None) -> DistributionPair:
    r"""Build one latent-like pair of ``case`` in dimension ``d`` at the nominal TV ``level``.

    For exact cases the parameter is found by root finding on the exact TV, so
    ``true_tv == level`` to about 1e-9. For Monte Carlo cases the parameter is set from a
    no-overlap approximation (our choice) and ``true_tv`` is the Monte Carlo value
    (``N_MC`` draws, stderr at most 0.002), within about 0.01 of ``level``. Cached.

    .. math:: \mathrm{TV}(P, Q) = \tfrac12 \int |p - q|

    Parameters
    ----------
    case : str
        A key of :data:`CASES`.
    d : int
        Dimension (at least 3 for vMF cases).
    level : float, optional
        Nominal TV in (0, 1) (0 for identical laws); default the case's first level.

    Returns
    -------
    DistributionPair
        Named like ``vmf_angle-d64-tv0.30``.

    Raises
    ------
    ValueError
        On an unknown ``case``, a bad ``d`` or a ``level`` outside (0, 1).

    Examples
    --------
    >>> pair = latent_case("vmf_angle", 64, 0.3)
    >>> pair.name, round(pair.true_tv, 6), pair.true_tv_stderr
    ('vmf_angle-d64-tv0.30', 0.3, 0.0)
    >>> pair.sample(5, random_state=0)[0].shape
    (5, 64)
    """
    if isinstance(case, str) and case in CASES and level is None:
        level = CASES[case].levels[0]
    spec = _check_case_args(case, d, float(level) if level is not None else float("nan"))
    return spec.build(int(d), float(cast(float, level)))  # None was refused above


def latent_catalogue(
    d: int | Sequence[int] = (64, 128), cases: Sequence[str] | None = None
) -> list[DistributionPair]:
    """All latent-like pairs for the given dimensions and cases, at each case's levels.

    Parameters
    ----------
    d : int or sequence of int, default=(64, 128)
        Dimension(s).
    cases : sequence of str, optional
        Keys of :data:`CASES`; default all.

    Returns
    -------
    list of DistributionPair
        Ordered by dimension, case, level; 18 pairs by default.

    Examples
    --------
    >>> pairs = latent_catalogue(64, cases=["vmf_angle", "identical_aniso_gauss"])
    >>> [p.name for p in pairs]
    ['vmf_angle-d64-tv0.30', 'vmf_angle-d64-tv0.70', 'identical_aniso_gauss-d64-tv0.00']
    """
    dims = [d] if isinstance(d, int | np.integer) else list(d)
    names = list(CASES) if cases is None else list(cases)
    return [latent_case(c, int(k), lv) for k in dims for c in names for lv in _levels(c)]


def _levels(case: str) -> tuple[float, ...]:
    if not isinstance(case, str) or case not in CASES:
        raise ValueError(f"case must be one of {sorted(CASES)}, got {case!r}")
    return CASES[case].levels
