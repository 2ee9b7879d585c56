r"""Synthetic paired modalities with a known latent total-variation gap.

Construction (all constants our choice):

- class means :math:`\mu_1..\mu_C \in \mathbb{R}^k`: random directions of norm ``class_sep``;
  a shift :math:`\delta`: a random direction of norm ``shift_norm``;
- labels balanced over the C classes, latents :math:`u = \mu_y + z`, :math:`z \sim N(0, I_k)`;
- source :math:`x_A = f_A(u) + \sigma\varepsilon_A`, target
  :math:`x_B = f_B(u + g\,\delta) + \sigma\varepsilon_B`, where :math:`f_A, f_B` are fixed random
  two-layer tanh networks :math:`f(u) = W_2 \tanh(W_1 u + b_1)` (64 hidden units,
  :math:`W_1 \sim N(0, 1/k)`, :math:`b_1 \sim N(0, 0.1^2)`, :math:`W_2 \sim N(0, 1/64)`).

The means, shift and maps depend on ``structure_seed`` only, so every ``seed`` draws new
samples from the same world. The source latent law is :math:`P = \sum_y \pi_y N(\mu_y, I)`
and the target latent law is its copy shifted by :math:`g\delta`.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from bounds.truth.groundtruth import GaussianMixture, monte_carlo_tv
from cmcd._checks import check_count
from cmcd.data._base import DEFAULT_TEST_FRACTION, PairedDataset, ViewSpec, register
from cmcd.data._sampling import split_indices
from cmcd.data.transforms import check_gap
from cmcd.seeding import rng_for

__all__ = ["HIDDEN_UNITS", "mixture_shift_tv", "synthetic"]

HIDDEN_UNITS = 64
"""Width of the random tanh networks :math:`f_A, f_B` (our choice)."""


@dataclass(frozen=True)
class _World:
    means: np.ndarray  # (C, k)
    delta: np.ndarray  # (k,)
    maps: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]  # (W1, b1, W2) for A and B


def _random_directions(rng: np.random.Generator, n: int, dim: int, norm_: float) -> np.ndarray:
    v = rng.standard_normal((n, dim))
    return norm_ * v / np.linalg.norm(v, axis=1, keepdims=True)


def _make_world(
    structure_seed: int,
    n_classes: int,
    latent_dim: int,
    dims: tuple[int, int],
    class_sep: float,
    shift_norm: float,
) -> _World:
    rng = rng_for(structure_seed, "synthetic-structure")
    means = _random_directions(rng, n_classes, latent_dim, class_sep)
    delta = _random_directions(rng, 1, latent_dim, shift_norm)[0]
    maps = tuple(
        (
            rng.normal(0, latent_dim**-0.5, (HIDDEN_UNITS, latent_dim)),
            rng.normal(0, 0.1, HIDDEN_UNITS),
            rng.normal(0, HIDDEN_UNITS**-0.5, (d, HIDDEN_UNITS)),
        )
        for d in dims
    )
    return _World(means, delta, maps)


def _apply_map(params: tuple[np.ndarray, np.ndarray, np.ndarray], u: np.ndarray) -> np.ndarray:
    w1, b1, w2 = params
    return np.tanh(u @ w1.T + b1) @ w2.T


def mixture_shift_tv(
    means: np.ndarray, shift: np.ndarray, n_mc: int, rng: np.random.Generator
) -> tuple[float, float]:
    r"""Monte Carlo TV between an equal-weight unit-covariance Gaussian mixture and its shift.

    With :math:`P = \frac1C\sum_y N(\mu_y, I)`, :math:`Q = P(\cdot - s)` and
    :math:`M = (P + Q)/2`,

    .. math:: \mathrm{TV}(P, Q) = \mathbb{E}_{u \sim M}
        \left|\tanh\!\left(\tfrac{\log p(u) - \log q(u)}{2}\right)\right|

    computed by :func:`bounds.truth.groundtruth.monte_carlo_tv` (the package's one Monte Carlo TV)
    on :class:`bounds.truth.groundtruth.GaussianMixture` laws, from ``n_mc`` draws; returns
    (estimate, standard error). The draws do not depend on the shift (common random numbers),
    so for one ``rng`` seed the estimate is smooth in it. A zero shift gives exactly
    ``(0.0, 0.0)`` (identical laws; our choice, instead of rounding noise).

    Examples
    --------
    >>> tv, se = mixture_shift_tv(np.zeros((1, 2)), np.array([1.0, 0.0]), 20000,
    ...                           np.random.default_rng(0))
    >>> bool(abs(tv - (2 * norm.cdf(0.5) - 1)) < 4 * se)
    True
    """
    if not np.any(shift):
        return 0.0, 0.0
    p, q = GaussianMixture(np.asarray(means)), GaussianMixture(np.asarray(means) + shift)
    tv, stderr, _ = monte_carlo_tv(p.rvs, q.rvs, p.logpdf, q.logpdf, n=n_mc, random_state=rng)
    return tv, stderr


def _check_nonnegative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:  # type: ignore[operator]
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


@register("synthetic")
def synthetic(
    *,
    seed: int = 0,
    gap: float = 0.5,
    n_samples: int = 2000,
    n_classes: int = 4,
    latent_dim: int = 8,
    source_dim: int = 32,
    target_dim: int = 24,
    class_sep: float = 2.0,
    shift_norm: float = 4.0,
    noise: float = 0.0,
    structure_seed: int = 0,
    tv_samples: int = 20000,
    test_fraction: float = DEFAULT_TEST_FRACTION,
) -> PairedDataset:
    r"""Class-conditional Gaussian latents seen through two random nonlinear maps.

    See the module docstring for the construction. ``info`` holds the ground truth:

    - ``latent_tv``: marginal :math:`\mathrm{TV}(P, Q)` by Monte Carlo (``tv_samples``
      draws, :func:`mixture_shift_tv`), with ``latent_tv_stderr``;
    - ``latent_tv_conditional``: the class-prior average of the class-conditional TVs,
      closed form for equal covariances,

    .. math:: \sum_y \pi_y \mathrm{TV}(N(\mu_y, I), N(\mu_y + g\delta, I))
        = 2\Phi(g\|\delta\|/2) - 1 \;\ge\; \mathrm{TV}(P, Q).

    Parameters
    ----------
    seed : int
        Fixes the samples, the noise, the Monte Carlo draws and the split.
    gap : float
        Shift fraction g in [0, 1] (shift :math:`g\delta`, :math:`\|\delta\|` = ``shift_norm``).
    n_samples, n_classes, latent_dim, source_dim, target_dim : int
        Sizes (labels are balanced over classes: our choice).
    class_sep, shift_norm : float
        Norms of the class means and of :math:`\delta` (our choices 2 and 4).
    noise : float
        Std :math:`\sigma` of observation noise added to both views (default 0).
    structure_seed : int
        Fixes the means, :math:`\delta` and the maps (the "world").
    tv_samples : int
        Monte Carlo draws for ``latent_tv`` (its standard error is at most
        :math:`1/(2\sqrt{N})`).
    test_fraction : float
        Held-out share of each class.

    References
    ----------
    Lin et al., "A Generalization Theory of Cross-Modality Distillation with Contrastive
    Learning", arXiv:2405.03355 (2024): the bound's latent TV term.

    Examples
    --------
    >>> ds = synthetic(gap=0.0, n_samples=100, tv_samples=1000)
    >>> ds.x_source.shape, ds.x_target.shape, ds.info["latent_tv"]
    ((100, 32), (100, 24), 0.0)
    """
    gap = check_gap(gap)
    given = {"n_classes": n_classes, "latent_dim": latent_dim, "source_dim": source_dim}
    given |= {"target_dim": target_dim, "tv_samples": tv_samples}
    sizes = {k: check_count(v, k) for k, v in given.items()}
    n = check_count(n_samples, "n_samples", minimum=2 * sizes["n_classes"])
    noise = _check_nonnegative(noise, "noise")
    world = _make_world(
        check_count(structure_seed, "structure_seed", minimum=0),
        sizes["n_classes"],
        sizes["latent_dim"],
        (sizes["source_dim"], sizes["target_dim"]),
        _check_nonnegative(class_sep, "class_sep"),
        _check_nonnegative(shift_norm, "shift_norm"),
    )
    rng = rng_for(seed, "synthetic-sample")
    y = rng.permutation(np.arange(n) % sizes["n_classes"]).astype(np.int64)
    u = world.means[y] + rng.standard_normal((n, sizes["latent_dim"]))
    x_a = _apply_map(world.maps[0], u) + noise * rng.standard_normal((n, sizes["source_dim"]))
    x_b = _apply_map(world.maps[1], u + gap * world.delta)
    x_b = x_b + noise * rng.standard_normal((n, sizes["target_dim"]))
    tv, se = mixture_shift_tv(world.means, gap * world.delta, tv_samples, rng_for(seed, "tv"))
    train, test = split_indices(y, n, test_fraction, rng_for(seed, "split"))
    info = {
        "gap": gap,
        "latent_tv": tv,
        "latent_tv_stderr": se,
        "latent_tv_conditional": float(2 * norm.cdf(gap * shift_norm / 2) - 1),
        "shift_norm": float(shift_norm),
        "class_sep": float(class_sep),
    }
    return PairedDataset(
        x_a,
        x_b,
        y,
        ViewSpec("A", "vector", (sizes["source_dim"],)),
        ViewSpec("B", "vector", (sizes["target_dim"],)),
        train,
        test,
        f"synthetic@{gap:g}",
        info,
    )
