"""Exact binomial confidence bounds used by the TV estimators."""

from __future__ import annotations

from scipy import stats

__all__ = ["clopper_pearson_lower", "clopper_pearson_upper", "tv_lower_from_correct"]


def _check_counts(k: int, n: int) -> None:
    if n < 1:
        raise ValueError(f"n must be a positive number of trials, got {n}")
    if not 0 <= k <= n:
        raise ValueError(f"k must be a count in [0, n={n}], got {k}")


def clopper_pearson_lower(k: int, n: int, alpha: float) -> float:
    r"""Exact one-sided Clopper-Pearson lower confidence bound on a binomial proportion.

    .. math:: p_L = \mathrm{Beta}^{-1}(\alpha;\ k,\ n - k + 1), \qquad p_L = 0 \text{ if } k = 0

    With probability at least ``1 - alpha`` over ``k ~ Binomial(n, p)``, ``p_L <= p``.
    By Hoeffding's (1956) inequality it stays valid (conservative) for a sum of independent
    Bernoulli variables with different success probabilities, bounding their mean.

    Parameters
    ----------
    k : int
        Number of successes.
    n : int
        Number of trials.
    alpha : float
        Miscoverage level in (0, 1).

    Returns
    -------
    float
        The lower bound in [0, 1].

    References
    ----------
    Clopper, C. J. and Pearson, E. S. (1934). The use of confidence or fiducial limits
    illustrated in the case of the binomial. Biometrika 26(4).

    Examples
    --------
    >>> round(clopper_pearson_lower(90, 100, 0.05), 4)
    0.8363
    >>> clopper_pearson_lower(0, 10, 0.05)
    0.0
    """
    _check_counts(k, n)
    if k == 0:
        return 0.0
    return float(stats.beta.ppf(alpha, k, n - k + 1))


def clopper_pearson_upper(k: int, n: int, alpha: float) -> float:
    r"""Exact one-sided Clopper-Pearson upper confidence bound on a binomial proportion.

    .. math:: p_U = \mathrm{Beta}^{-1}(1 - \alpha;\ k + 1,\ n - k), \qquad p_U = 1 \text{ if } k = n

    Parameters
    ----------
    k : int
        Number of successes.
    n : int
        Number of trials.
    alpha : float
        Miscoverage level in (0, 1).

    Returns
    -------
    float
        The upper bound in [0, 1].

    References
    ----------
    Clopper, C. J. and Pearson, E. S. (1934). Biometrika 26(4).

    Examples
    --------
    >>> round(clopper_pearson_upper(10, 100, 0.05), 4)
    0.1637
    >>> clopper_pearson_upper(5, 5, 0.05)
    1.0
    """
    _check_counts(k, n)
    if k == n:
        return 1.0
    return float(stats.beta.ppf(1.0 - alpha, k + 1, n - k))


def tv_lower_from_correct(
    correct_source: int, n_source: int, correct_target: int, n_target: int, alpha: float
) -> float:
    r"""Lower confidence bound on TV from held-out per-class correct counts of a classifier.

    .. math:: \mathrm{TV}(P, Q) \ge \mathrm{acc}_P + \mathrm{acc}_Q - 1 = 2\,\mathrm{bacc} - 1

    With equal sizes the pooled count ``correct_source + correct_target`` is a sum of
    independent Bernoulli variables with mean ``bacc``, and one Clopper-Pearson bound at
    level ``alpha`` is valid (Hoeffding 1956). With unequal sizes (our choice) each class
    gets its own Clopper-Pearson bound at ``alpha / 2`` and the two are added (union bound).
    The result is clipped at 0, which keeps it valid since TV >= 0.

    Parameters
    ----------
    correct_source, correct_target : int
        Held-out predictions that were correct in each sample.
    n_source, n_target : int
        Held-out sample sizes.
    alpha : float
        Miscoverage level in (0, 1).

    Returns
    -------
    float
        Lower confidence bound on TV in [0, 1].

    References
    ----------
    Hoeffding, W. (1956). On the distribution of the number of successes in independent
    trials. Ann. Math. Statist. 27(3).

    Examples
    --------
    >>> round(tv_lower_from_correct(80, 100, 80, 100, 0.05), 4)
    0.4955
    """
    if n_source == n_target:
        p_low = clopper_pearson_lower(correct_source + correct_target, 2 * n_source, alpha)
        return max(0.0, 2.0 * p_low - 1.0)
    low_s = clopper_pearson_lower(correct_source, n_source, alpha / 2.0)
    low_t = clopper_pearson_lower(correct_target, n_target, alpha / 2.0)
    return max(0.0, low_s + low_t - 1.0)
