r"""The linear probe every method, reference and bound head is measured with.

One protocol, used by step 3 of a run (:mod:`cmcd.train.finetune`), by the classical references
(:mod:`cmcd.train.baselines`) and by the bound's source head
(:func:`bounds.target.generalization.fit_head`),
so that the measured model and the heads of the bound are built alike:

1. standardise each latent coordinate with the mean and standard deviation of the labelled
   rows (inside every cross-validation fold, the statistics of that fold's training rows);
2. multinomial logistic regression with an L2 penalty,

   .. math:: \min_{W, b} \sum_i -\log \mathrm{softmax}(W \tilde z_i + b)_{y_i}
             + \frac{1}{2C}\|W\|_F^2, \qquad \tilde z = (z - \mu) / \sigma ;

3. ``C`` chosen on the labelled rows only, by stratified K-fold cross-validation of the
   log-loss over :data:`C_GRID`, with ``K = min(5, rows of the rarest class)``; then a refit
   on all labelled rows with the chosen ``C``.

Our choices, and why: SimCLR (Chen et al. 2020, linear evaluation on transfer datasets) and
CLIP (Radford et al. 2021, linear-probe protocol) both sweep the L2 strength of a logistic
regression on held-out data; with a handful of labels the held-out data can only be folds of
the labelled rows. Standardising first makes the penalty scale-free, so a loss that spreads
its latents differently is not penalised differently (latents scaled by 10 give the same
predictions). The log-loss is used for the selection because fold accuracies on a few rows
tie often; ties in the log-loss are broken towards the smaller ``C`` (stronger penalty).
The protocol was picked among candidates on validation splits of three datasets
(``benchmarks/probe_protocol.py``, ``benchmarks/results/probe_protocol.md``), never on test rows.

With one labelled row in some class no fold can hold that class out, so the probe falls back
to :data:`FALLBACK_C` with a warning. A fixed ``C`` may always be given instead.

References
----------
.. [1] T. Chen, S. Kornblith, M. Norouzi, G. Hinton, "A Simple Framework for Contrastive
   Learning of Visual Representations", ICML 2020.
.. [2] A. Radford et al., "Learning Transferable Visual Models From Natural Language
   Supervision", ICML 2021.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from bounds._validation import as_2d_float_array

__all__ = ["C_GRID", "FALLBACK_C", "LinearProbe", "MAX_FOLDS"]

#: Candidate inverse penalties, half-decade steps (our choice).
C_GRID: tuple[float, ...] = tuple(float(c) for c in np.logspace(-4, 4, 17))
#: Folds of the selection at most (our choice); fewer when the rarest class has fewer rows.
MAX_FOLDS = 5
#: ``C`` used when some class has a single labelled row (our choice, see the module docstring).
FALLBACK_C = 1.0


class LinearProbe(ClassifierMixin, BaseEstimator):
    """Standardised L2 logistic regression whose ``C`` is cross-validated on the fit rows.

    Parameters
    ----------
    C : float or None
        A fixed inverse penalty, or ``None`` (default) to choose it by cross-validation.
    standardise : bool
        Standardise the coordinates first (default; ``False`` only to compare protocols).
    scoring : str
        Selection score of the folds: ``"neg_log_loss"`` (default) or ``"accuracy"``.
    n_repeats : int
        Repetitions of the K-fold split with new shuffles (default 1).
    random_state : int or None
        Seed of the fold shuffling and the solver.
    max_iter : int
        Solver iterations.

    Attributes
    ----------
    C_ : float
        The inverse penalty used for the final fit.
    selection_ : str
        ``"fixed"``, ``"cross-validated"`` or ``"fallback"``.
    cv_scores_ : dict or None
        Mean fold score per candidate ``C`` (``None`` unless cross-validated).
    pipeline_ : sklearn.pipeline.Pipeline
        The fitted scaler and logistic regression.
    classes_ : ndarray
        Class labels seen in ``fit``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 10)
    >>> z = rng.normal(size=(30, 4)) + 3 * np.eye(3, 4)[y]
    >>> probe = LinearProbe(random_state=0).fit(z, y)
    >>> probe.selection_, probe.score(z, y) > 0.9
    ('cross-validated', True)
    """

    def __init__(
        self,
        C: float | None = None,
        *,
        standardise: bool = True,
        scoring: str = "neg_log_loss",
        n_repeats: int = 1,
        random_state: int | None = None,
        max_iter: int = 5000,
    ) -> None:
        self.C = C
        self.standardise = standardise
        self.scoring = scoring
        self.n_repeats = n_repeats
        self.random_state = random_state
        self.max_iter = max_iter

    def _pipeline(self, C: float) -> Pipeline:
        clf = LogisticRegression(C=C, max_iter=self.max_iter, random_state=self.random_state)
        return make_pipeline(
            StandardScaler(with_mean=self.standardise, with_std=self.standardise), clf
        )

    def fit(self, z: Any, y: Any) -> LinearProbe:
        """Choose ``C`` (unless fixed) on ``(z, y)`` only, then fit on all of it."""
        z = as_2d_float_array(z, "z")
        y = np.asarray(y)
        if y.shape != (z.shape[0],):
            raise ValueError(f"y must have shape ({z.shape[0]},) to match z, got {y.shape}")
        classes, counts = np.unique(y, return_counts=True)
        if classes.size < 2:
            raise ValueError("y must hold at least two classes to fit a linear probe")
        self.cv_scores_ = None
        if self.C is not None:
            if not float(self.C) > 0:
                raise ValueError(f"C must be positive or None, got {self.C!r}")
            self.C_, self.selection_ = float(self.C), "fixed"
        elif counts.min() < 2:
            warnings.warn(
                f"LinearProbe: a class has {counts.min()} labelled row, too few to "
                f"cross-validate C; using the fixed fallback C={FALLBACK_C}",
                UserWarning,
                stacklevel=2,
            )
            self.C_, self.selection_ = FALLBACK_C, "fallback"
        else:
            self.C_, self.cv_scores_ = self._select_C(z, y, int(counts.min()))
            self.selection_ = "cross-validated"
        self.pipeline_ = self._pipeline(self.C_).fit(z, y)
        self.classes_ = self.pipeline_.classes_
        return self

    def _select_C(self, z: np.ndarray, y: np.ndarray, min_count: int) -> tuple[float, dict]:
        """Stratified K-fold score over :data:`C_GRID`; ties go to the smaller ``C``."""
        if self.scoring not in ("neg_log_loss", "accuracy"):
            raise ValueError(f"scoring must be 'neg_log_loss' or 'accuracy', got {self.scoring!r}")
        folds = RepeatedStratifiedKFold(
            n_splits=min(MAX_FOLDS, min_count),
            n_repeats=int(self.n_repeats),
            random_state=self.random_state,
        )
        scores = np.mean([self._path_scores(z, y, tr, te) for tr, te in folds.split(z, y)], axis=0)
        best = int(np.flatnonzero(scores >= scores.max() - 1e-12)[0])
        return C_GRID[best], dict(zip(C_GRID, scores.tolist(), strict=True))

    def _path_scores(
        self, z: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray
    ) -> list[float]:
        """Held-out score of one fold for each ``C`` of :data:`C_GRID` (independent fits)."""
        pipe = self._pipeline(C_GRID[0])
        scaler, clf = pipe[0].fit(z[train]), pipe[-1]
        z_train, z_test = scaler.transform(z[train]), scaler.transform(z[test])
        out = []
        for c in C_GRID:
            clf.set_params(C=c).fit(z_train, y[train])
            if self.scoring == "accuracy":
                out.append(clf.score(z_test, y[test]))
            else:
                out.append(-log_loss(y[test], clf.predict_proba(z_test), labels=clf.classes_))
        return out

    def decision_function(self, z: Any) -> np.ndarray:
        """Class scores ``W z~ + b`` of shape (n, n_classes)."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.decision_function(as_2d_float_array(z, "z"))

    def predict_proba(self, z: Any) -> np.ndarray:
        """Class probabilities of shape (n, n_classes)."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict_proba(as_2d_float_array(z, "z"))

    def predict(self, z: Any) -> np.ndarray:
        """Predicted labels."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict(as_2d_float_array(z, "z"))

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        r"""Return the probe as one affine map of the raw latents, ``scores = z W^T + b``.

        .. math:: W' = W / \sigma, \qquad b' = b - W' \mu

        Binary problems (one sklearn row) are returned as two symmetric rows.

        Returns
        -------
        weight, bias : ndarray of shape (n_classes, d), (n_classes,)
        """
        check_is_fitted(self, "pipeline_")
        scaler, clf = self.pipeline_[0], self.pipeline_[-1]
        coef, intercept = clf.coef_, clf.intercept_
        if coef.shape[0] == 1:  # sklearn stores one row for binary problems
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        weight = coef / scaler.scale_
        return weight, intercept - weight @ scaler.mean_
