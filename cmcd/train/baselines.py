"""Classical cross-view references computed on the same splits as a CMCD run.

They answer "is deep distillation worth it here?" with methods a researcher would try first.
Each takes standardised arrays and row indices, and returns the target test accuracy.

- :func:`raw_logistic`: logistic regression on the raw target view with the few labels.
- :func:`cca_logistic`: CCA fitted on the unlabeled pairs, logistic regression on the target's
  canonical projection.
- :func:`pca_regression_logistic`: a PCA "teacher" latent of the source view, an MLP regressing
  the target view onto it on the unlabeled pairs, then logistic regression on the predicted
  latent.

Hyper-parameters (components, widths) are our choice, fixed, not tuned on the test split. The
final classifier is the same linear probe as step 3 of a run
(:class:`bounds.target.probe.LinearProbe`:
standardised features, ``C`` cross-validated on the labelled rows only).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.cross_decomposition import CCA
from sklearn.decomposition import PCA
from sklearn.neural_network import MLPRegressor

from bounds.target.probe import LinearProbe

__all__ = ["cca_logistic", "CLASSICAL_REFERENCES", "pca_regression_logistic", "raw_logistic"]


def _probe_accuracy(
    z: np.ndarray, y: np.ndarray, labeled: np.ndarray, evaluation: np.ndarray, seed: int
) -> float:
    """Accuracy of the package's linear probe (:class:`bounds.target.probe.LinearProbe`)."""
    probe = LinearProbe(random_state=seed).fit(z[labeled], y[labeled])
    return float(probe.score(z[evaluation], y[evaluation]))


def raw_logistic(
    x_source: np.ndarray,
    x_target: np.ndarray,
    y: np.ndarray,
    paired: np.ndarray,
    labeled: np.ndarray,
    evaluation: np.ndarray,
    seed: int = 0,
) -> float:
    """Logistic regression on the raw target view, trained on the labeled rows only.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 50)
    >>> x = rng.normal(size=(100, 3)) + y[:, None] * 3
    >>> raw_logistic(x, x, y, np.arange(100), np.r_[0:5, 50:55], np.arange(100)) > 0.9
    True
    """
    del x_source, paired
    return _probe_accuracy(x_target, y, labeled, evaluation, seed)


def cca_logistic(
    x_source: np.ndarray,
    x_target: np.ndarray,
    y: np.ndarray,
    paired: np.ndarray,
    labeled: np.ndarray,
    evaluation: np.ndarray,
    seed: int = 0,
    n_components: int = 10,
) -> float:
    r"""CCA on the unlabeled pairs, then logistic regression on the target's canonical scores.

    .. math:: \max_{a, b} \operatorname{corr}(a^\top x_A, b^\top x_B)

    ``n_components`` is capped by the smaller view dimension.
    """
    k = min(n_components, x_source.shape[1], x_target.shape[1])
    cca = CCA(n_components=k, max_iter=2000).fit(x_source[paired], x_target[paired])
    _, z_target = cca.transform(x_source, x_target)
    return _probe_accuracy(z_target, y, labeled, evaluation, seed)


def pca_regression_logistic(
    x_source: np.ndarray,
    x_target: np.ndarray,
    y: np.ndarray,
    paired: np.ndarray,
    labeled: np.ndarray,
    evaluation: np.ndarray,
    seed: int = 0,
    n_components: int = 32,
) -> float:
    r"""Regress the target view onto a PCA latent of the source view, then a linear probe.

    .. math:: \min_f \sum_{i \in S_{AB}} \| f(x_B^i) - P x_A^i \|^2, \quad P = \text{PCA}_k

    The regressor is an MLP (two hidden layers of 256, early stopping on 10% of the pairs).
    """
    k = min(n_components, x_source.shape[1], len(paired) - 1)
    pca = PCA(n_components=k, random_state=seed).fit(x_source[paired])
    z_teacher = pca.transform(x_source[paired])
    reg = MLPRegressor(
        hidden_layer_sizes=(256, 256), max_iter=500, early_stopping=True, random_state=seed
    )
    reg.fit(x_target[paired], z_teacher)
    return _probe_accuracy(reg.predict(x_target), y, labeled, evaluation, seed)


CLASSICAL_REFERENCES: dict[str, Callable[..., float]] = {
    "logreg(target)": raw_logistic,
    "cca+logreg": cca_logistic,
    "pca-regression+logreg": pca_regression_logistic,
}
