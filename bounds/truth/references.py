"""Reference TV numbers as researchers compute them today, for side-by-side benchmarks.

None of these is a bound and none carries an interval; they are here so the benchmark can
show how our estimators compare with common practice. Each returns a float.

- :func:`logistic_tv`: held-out logistic regression, ``2 * acc - 1``.
- :func:`hgb_tv`: the same with held-out histogram gradient boosting.
- :func:`proxy_a_distance` / :func:`pad_tv`: the proxy A-distance of the DANN reference
  script (linear SVM, best ``C`` chosen on the test split); biased upward.
- :func:`kmeans_histogram_tv`: TV of k-means histograms fitted and evaluated on the same
  pooled data, no bias correction; biased upward by sampling noise.
- :func:`oracle_tv`: the plug-in that knows both densities (a benchmark yardstick only).

References
----------
.. [1] Ben-David, Blitzer, Crammer, Kulesza, Pereira, Vaughan, "A theory of learning from
   different domains", Machine Learning 79, 2010 (the proxy A-distance).
.. [2] Ganin et al., "Domain-Adversarial Training of Neural Networks", JMLR 17, 2016, and its
   reference code (``proxy_a_distance`` in the GRAAL-Research DANN repository).
.. [3] Lin et al., arXiv:2405.03355, 2024.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from bounds._validation import check_min_samples, check_pair

__all__ = [
    "PAD_C_GRID",
    "REFERENCES",
    "hgb_tv",
    "kmeans_histogram_tv",
    "logistic_tv",
    "oracle_tv",
    "pad_tv",
    "proxy_a_distance",
]

PAD_C_GRID: tuple[float, ...] = tuple(np.logspace(-5, 4, 10))
"""The ``C`` values of the DANN reference script: ``numpy.logspace(-5, 4, 10)``."""


def _stack(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool the samples with labels 0 (source) and 1 (target)."""
    x = np.vstack([source, target])
    y = np.r_[np.zeros(len(source), dtype=int), np.ones(len(target), dtype=int)]
    return x, y


def logistic_tv(
    source: Any, target: Any, test_size: float = 0.5, random_state: int | None = None
) -> float:
    r"""Held-out logistic-regression accuracy turned into a TV-like number.

    .. math:: \widehat{\mathrm{TV}} = \max(0,\ 2\,\mathrm{acc}_{\text{test}} - 1)

    One stratified train/test split; standardised features; default ``C = 1``. Plain (not
    balanced) accuracy, as usually reported, so with unequal sample sizes it is not a TV
    lower bound; clipping at 0 is our choice.

    Parameters
    ----------
    source, target : array-like of shape (n, d)
        The two samples.
    test_size : float
        Fraction of the pooled data held out.
    random_state : int or None
        Seed of the split.

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, z = rng.normal(0, 1, (400, 2)), rng.normal(3, 1, (400, 2))
    >>> logistic_tv(x, z, random_state=0) > 0.8
    True
    """
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return _heldout_tv(model, source, target, test_size, random_state)


def hgb_tv(
    source: Any, target: Any, test_size: float = 0.5, random_state: int | None = None
) -> float:
    r"""Held-out gradient-boosting accuracy turned into a TV-like number.

    .. math:: \widehat{\mathrm{TV}} = \max(0,\ 2\,\mathrm{acc}_{\text{test}} - 1)

    As :func:`logistic_tv` with scikit-learn's ``HistGradientBoostingClassifier`` at its
    defaults (the "strong off-the-shelf domain classifier" reference); no tuning, no
    calibration; not a bound.

    Parameters
    ----------
    source, target : array-like of shape (n, d)
        The two samples.
    test_size : float
        Fraction of the pooled data held out.
    random_state : int or None
        Seed of the split and of the booster.

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, z = rng.normal(0, 1, (400, 2)), rng.normal(3, 1, (400, 2))
    >>> hgb_tv(x, z, random_state=0) > 0.8
    True
    """
    model = HistGradientBoostingClassifier(random_state=random_state)
    return _heldout_tv(model, source, target, test_size, random_state)


def _heldout_tv(
    model: Any, source: Any, target: Any, test_size: float, random_state: int | None
) -> float:
    """Return ``max(0, 2 acc - 1)`` of ``model`` on one stratified held-out split."""
    s, t = check_pair(source, target)
    check_min_samples(min(len(s), len(t)), 2, "source and target", "a train/test split")
    x, y = _stack(s, t)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_size, stratify=y, random_state=random_state
    )
    acc = float(np.mean(model.fit(x_tr, y_tr).predict(x_te) == y_te))
    return float(np.clip(2.0 * acc - 1.0, 0.0, 1.0))


def _pad_test_risks(s: np.ndarray, t: np.ndarray, c_grid: Sequence[float], seed: int | None):
    """Test error of a linear SVM for each ``C``: first halves train, second halves test."""
    hs, ht = len(s) // 2, len(t) // 2
    x_tr, y_tr = _stack(s[:hs], t[:ht])
    x_te, y_te = _stack(s[hs:], t[ht:])
    risks = []
    for c in c_grid:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = LinearSVC(C=float(c), max_iter=2000, random_state=seed).fit(x_tr, y_tr)
        risk = float(np.mean(clf.predict(x_te) != y_te))
        risks.append(min(risk, 1.0 - risk))  # the script flips risks above 1/2
    return risks


def proxy_a_distance(
    source: Any,
    target: Any,
    c_grid: Sequence[float] = PAD_C_GRID,
    random_state: int | None = 0,
) -> float:
    r"""Proxy A-distance as computed in the DANN reference script.

    .. math:: \mathrm{PAD} = 2\,(1 - 2\,\min_{C}\ \mathrm{err}_{\text{test}}(C))

    The first half of each sample trains a linear SVM for each ``C`` in ``c_grid``, the
    second half is the test split, and the best test error over ``C`` is kept (a test error
    above 1/2 is flipped to ``1 - err``). Choosing ``C`` on the test split, and the flip,
    bias the result UPWARD: this is a reference, not an estimator we endorse. We use
    ``sklearn.svm.LinearSVC`` (liblinear, ``max_iter=2000``) where the script uses
    ``SVC(kernel="linear")``, for speed at large ``n`` (our choice); the features are not
    standardised, as in the script.

    Parameters
    ----------
    source, target : array-like of shape (n, d)
        The two samples (at least 2 rows each).
    c_grid : sequence of float
        SVM regularisation values; default ``logspace(-5, 4, 10)`` as in the script.
    random_state : int or None
        Seed of liblinear's coordinate descent.

    Returns
    -------
    float
        PAD in [0, 2].

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, z = rng.normal(0, 1, (300, 2)), rng.normal(3, 1, (300, 2))
    >>> 1.5 < proxy_a_distance(x, z) <= 2.0
    True
    """
    s, t = check_pair(source, target)
    check_min_samples(min(len(s), len(t)), 2, "source and target", "the half/half split")
    if len(c_grid) == 0 or any(not float(c) > 0 for c in c_grid):
        raise ValueError(f"c_grid must be a non-empty sequence of positive values, got {c_grid}")
    best_risk = min(_pad_test_risks(s, t, c_grid, random_state))
    return float(2.0 * (1.0 - 2.0 * best_risk))


def pad_tv(
    source: Any,
    target: Any,
    c_grid: Sequence[float] = PAD_C_GRID,
    random_state: int | None = 0,
) -> float:
    r"""Return the proxy A-distance on the TV scale: :math:`\mathrm{PAD} / 2 = 1 - 2\,\mathrm{err}`.

    .. math:: \widehat{\mathrm{TV}}_{\mathrm{PAD}} = 1 - 2 \min_C \mathrm{err}_{\text{test}}(C)

    Same computation and same upward bias as :func:`proxy_a_distance` (``C`` chosen on the
    test split); halving puts it on the scale of TV for the benchmark table (our choice).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(0, 1, (300, 2))
    >>> 0.0 <= pad_tv(x[:150], x[150:]) < 0.3
    True
    """
    return 0.5 * proxy_a_distance(source, target, c_grid=c_grid, random_state=random_state)


def _default_clusters(n_source: int, n_target: int) -> int:
    """Return ``round(sqrt(min(n_source, n_target)))``, at least 2 (our choice)."""
    return max(2, round(np.sqrt(min(n_source, n_target))))


def kmeans_histogram_tv(
    source: Any,
    target: Any,
    n_clusters: int | None = None,
    random_state: int | None = None,
) -> float:
    r"""TV between the k-means histograms of the two samples, without bias correction.

    .. math:: \widehat{\mathrm{TV}} = \tfrac12 \sum_{k=1}^{K}
              \left|\frac{n^{S}_k}{n_S} - \frac{n^{T}_k}{n_T}\right|

    k-means is fitted on the pooled samples, and the same points are histogrammed. Sampling
    noise alone makes the histograms differ, so this is biased upward (roughly by
    :math:`\sqrt{K / n}`) even for identical distributions; on the population level the
    histogram TV is below TV (data processing), so the two biases pull opposite ways.

    Parameters
    ----------
    source, target : array-like of shape (n, d)
        The two samples.
    n_clusters : int, optional
        Number of cells ``K``; default ``round(sqrt(min(n_source, n_target)))`` (our choice).
    random_state : int or None
        Seed of k-means (one initialisation, ``n_init=1``).

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, z = rng.normal(0, 1, (500, 2)), rng.normal(5, 1, (500, 2))
    >>> kmeans_histogram_tv(x, z, random_state=0) > 0.95
    True
    """
    s, t = check_pair(source, target)
    k = _default_clusters(len(s), len(t)) if n_clusters is None else n_clusters
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"n_clusters must be a positive integer, got {n_clusters!r}")
    check_min_samples(len(s) + len(t), int(k), "source and target pooled", "n_clusters")
    x, y = _stack(s, t)
    with threadpool_limits(1):  # one thread: k-means is small, and the machine is shared
        km = KMeans(n_clusters=int(k), n_init=1, random_state=random_state)
        labels = km.fit_predict(x)
    hist_s = np.bincount(labels[y == 0], minlength=k) / len(s)
    hist_t = np.bincount(labels[y == 1], minlength=k) / len(t)
    return float(0.5 * np.abs(hist_s - hist_t).sum())


def oracle_tv(
    source: Any,
    target: Any,
    logpdf_source: Callable[[np.ndarray], np.ndarray],
    logpdf_target: Callable[[np.ndarray], np.ndarray],
) -> float:
    r"""Plug-in TV that knows both densities: the benchmark's yardstick, not an estimator.

    .. math:: \widehat{\mathrm{TV}} = \tfrac12 \overline{f}_{S} + \tfrac12 \overline{f}_{T},
              \quad f = \left|\tanh\!\left(\tfrac{\log p - \log q}{2}\right)\right|

    the Monte Carlo estimator of :func:`bounds.truth.groundtruth.monte_carlo_tv` applied to the
    observed samples, so its error is pure sampling noise (at most
    :math:`1/(2\sqrt{n})` in standard deviation).

    Examples
    --------
    >>> from scipy import stats
    >>> rng = np.random.default_rng(0)
    >>> x, z = rng.normal(0, 1, (2000, 1)), rng.normal(2, 1, (2000, 1))
    >>> tv = oracle_tv(x, z, lambda a: stats.norm(0).logpdf(a[:, 0]),
    ...                lambda a: stats.norm(2).logpdf(a[:, 0]))
    >>> abs(tv - 0.6827) < 0.02
    True
    """
    s, t = check_pair(source, target)

    def f(x: np.ndarray) -> np.ndarray:
        lp = np.reshape(logpdf_source(x), -1)
        lq = np.reshape(logpdf_target(x), -1)
        return np.abs(1.0 - 2.0 * np.exp(lq - np.logaddexp(lp, lq)))

    return float(0.5 * f(s).mean() + 0.5 * f(t).mean())


REFERENCES: dict[str, Callable[..., float]] = {
    "logistic_heldout": logistic_tv,
    "hgb_heldout": hgb_tv,
    "pad_dann_script": pad_tv,
    "kmeans_histogram": kmeans_histogram_tv,
}
"""Sample-only references by benchmark name; each takes ``(source, target, random_state=)``."""
