r"""Published label-free bounds and estimates of a model's error on a shifted distribution.

These are the anchors the pairing-based bounds of :mod:`bounds.target.target_bounds` are measured
against. None of them uses the pairing of cross-modality distillation:

- :func:`dis2_bound`: DIS² (Rosenfeld & Garg, NeurIPS 2023), an upper bound whose status is
  **"certified under an assumption"** (see below): neither certified nor an estimate;
- :func:`atc_estimate`: Average Thresholded Confidence (Garg et al., ICLR 2022), an estimate;
- :func:`disagreement_estimate`: the disagreement of two independently fitted models (Jiang
  et al., ICLR 2022; Nakkiran & Bansal 2020), an estimate;
- :func:`paired_error_estimate`: our estimate from the pairing, for comparison with them.

"Source" here is a labelled sample on which the model can be scored; "target" the unlabeled
sample whose error is wanted. For the fine-tuned target head h_B the source sample is the
teacher latents carried into the student space (:func:`bounds.target.heads.fit_source_to_target`).

The DIS² assumption. Write :math:`\epsilon_D(h, g) = P_D(h \ne g)` and the disagreement
discrepancy :math:`\Delta(h, g) = \epsilon_T(h, g) - \epsilon_S(h, g)`; for the true
labelling y* it is exactly :math:`\Delta(h, y^*) = \mathrm{err}_T(h) - \mathrm{err}_S(h)`.
DIS² is valid only if **the critic class contains the worst disagreement shift**: the
critic h' actually fitted (:func:`fit_disagreement_critic`) is at least as discrepant as the
truth, :math:`\Delta(h, y^*) \le \Delta(h, h')`. This cannot be checked without target
labels; it fails when the labels shift in a way no linear critic (on the features, or on
the logits for ``variant="logits"``, a smaller class) can follow, or when the fit misses the
maximiser. The critic must also be fitted on rows **disjoint from the scored rows** (the
labelled source rows and unlabeled target rows given to :func:`dis2_bound`): in
:func:`bounds.target.target_terms.compute_target_terms` it is fitted on the unlabeled paired
*training* rows ``z_align_*`` (teacher side carried into the student space by M), and scored
on the held-out labelled source half and unlabeled-pairs half.

References
----------
.. [1] E. Rosenfeld, S. Garg, "(Almost) Provable Error Bounds Under Distribution Shift via
   Disagreement Discrepancy", NeurIPS 2023.
.. [2] S. Garg, S. Balakrishnan, Z. Lipton, B. Neyshabur, H. Sedghi, "Leveraging Unlabeled
   Data to Predict Out-of-Distribution Performance", ICLR 2022.
.. [3] Y. Jiang, V. Nagarajan, C. Baek, J. Z. Kolter, "Assessing Generalization of SGD via
   Disagreement", ICLR 2022.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from bounds._validation import as_2d_float_array, check_alpha
from bounds.target.heads import LinearHead

__all__ = [
    "CRITIC_VARIANTS",
    "atc_estimate",
    "dis2_bound",
    "disagreement_estimate",
    "fit_disagreement_critic",
    "paired_error_estimate",
]


def _label_index(head: LinearHead, labels: np.ndarray) -> np.ndarray:
    index = {c: i for i, c in enumerate(head.classes.tolist())}
    return np.array([index[v] for v in labels.tolist()], dtype=np.int64)


def _dis2_loss(logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    r"""DIS² disagreement loss :math:`\log(1 + \exp(\phi_{y} - \mathrm{mean}_{k \ne y}\phi_k))`."""
    own = logits.gather(1, idx[:, None]).squeeze(1)
    rest = (logits.sum(dim=1) - own) / (logits.shape[1] - 1)
    return torch.nn.functional.softplus(own - rest).mean()


def _feature_inputs(head: LinearHead) -> tuple[np.ndarray, np.ndarray]:
    """Critic inputs x = z: the identity map on the latents."""
    d = head.weight.shape[1]
    return np.eye(d), np.zeros(d)


def _logit_inputs(head: LinearHead) -> tuple[np.ndarray, np.ndarray]:
    """Critic inputs x = s(z) = W z + b: the head's own logits."""
    return np.asarray(head.weight, float), np.asarray(head.bias, float)


#: Registry: DIS² critic variant -> the affine map (A, a) of its inputs x = A z + a, read off
#: the scored head. A critic V x + c on those inputs is the critic (V A) z + (V a + c) on z,
#: so every variant returns a :class:`bounds.target.heads.LinearHead` on z. ``features``: a linear
#: critic on the latents (the official code's PCA variants without reduction; our choice:
#: standardised coordinates instead of principal components); ``logits``: a linear critic on
#: the head's logits, the official code's ``logits`` strategy.
CRITIC_VARIANTS: dict[str, Callable[[LinearHead], tuple[np.ndarray, np.ndarray]]] = {
    "features": _feature_inputs,
    "logits": _logit_inputs,
}


def _fit_linear_critic(
    x_s: np.ndarray,
    x_t: np.ndarray,
    agree_s: np.ndarray,
    disagree_t: np.ndarray,
    n_classes: int,
    *,
    weight_decay: float,
    max_iter: int,
    random_state: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit (V, c) of the critic V x + c on the DIS² objective, in the raw coordinates of x."""
    both = np.vstack([x_s, x_t])
    mu, sd = both.mean(axis=0), np.where(both.std(axis=0) > 1e-8, both.std(axis=0), 1.0)
    xs = torch.as_tensor((x_s - mu) / sd, dtype=torch.float64)
    xt = torch.as_tensor((x_t - mu) / sd, dtype=torch.float64)
    ys, yt = torch.as_tensor(agree_s), torch.as_tensor(disagree_t)
    gen = torch.Generator().manual_seed(0 if random_state is None else int(random_state))
    layer = torch.nn.Linear(x_s.shape[1], n_classes, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(
            0.01 * torch.randn(layer.weight.shape, generator=gen, dtype=torch.float64)
        )
        layer.bias.zero_()
    opt = torch.optim.LBFGS(layer.parameters(), max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(layer(xs), ys) + _dis2_loss(layer(xt), yt)
        loss = loss + weight_decay * layer.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    weight = layer.weight.detach().numpy() / sd
    return weight, layer.bias.detach().numpy() - weight @ mu


def fit_disagreement_critic(
    head: LinearHead,
    source_z: Any,
    target_z: Any,
    *,
    variant: str = "features",
    weight_decay: float = 1e-4,
    max_iter: int = 200,
    random_state: int | None = None,
) -> LinearHead:
    r"""Fit the linear critic h' of DIS²: agree with h on source, disagree with h on target.

    .. math::

        \min_{V, c}\; \mathrm{CE}\big(V x_S + c,\, h(z_S)\big)
        + \log\big(1 + e^{\phi_{h(z_T)}(x_T) - \mathrm{mean}_{k \ne h(z_T)} \phi_k(x_T)}\big)
        + \lambda \|V\|^2, \qquad \phi(x) = V x + c,

    with inputs :math:`x = z` (``variant="features"``) or the head's logits
    :math:`x = s(z) = W z + b` (``variant="logits"``, as the official code's ``logits``
    strategy). Since s is affine, the logit critic is returned composed back onto z,
    :math:`V(Wz + b) + c = (VW) z + (Vb + c)`, so :func:`dis2_bound` takes either unchanged.
    The logit critic class is a subset of the feature one (it contains h itself, V = I):
    its bound is tighter but its assumption stronger.

    The agreement (cross-entropy) and disagreement losses are those of DIS². Our choices,
    where the official code differs: one full-batch L-BFGS fit from a seeded small random
    start (official: AdamW, lr 3e-3, weight decay 5e-4 on V and c, 30 restarts for 50
    epochs of minibatches, the best kept by its discrepancy on the scored rows); the sum of
    the two losses (official: their mean, a rescaling of λ); an L2 penalty ``weight_decay``
    on V only; inputs standardised on the union of both samples, for either variant
    (official: raw logits, or principal components of raw features). Standardising is an
    affine change of x, folded back, so the critic stays affine in z.

    The rows given here must be disjoint from the rows later scored by :func:`dis2_bound`.

    Parameters
    ----------
    head : LinearHead
        The model h whose target error is bounded.
    source_z, target_z : array-like of shape (n, d)
        Unlabeled source and target latents for the fit (no label is read).
    variant : {"features", "logits"}
        The critic's inputs, a key of :data:`CRITIC_VARIANTS`.
    weight_decay : float
        λ, the L2 strength on V (in standardised coordinates).
    max_iter : int
        L-BFGS iterations.
    random_state : int or None
        Seed of the critic's starting weights (None: 0).

    Returns
    -------
    LinearHead
        The critic h' as an affine map of z, over ``head.classes``.

    Raises
    ------
    ValueError
        If ``variant`` is not a key of :data:`CRITIC_VARIANTS`, or the latents' width is not
        the head's.

    Examples
    --------
    >>> head = LinearHead(np.eye(2), np.zeros(2), np.array([0, 1]))
    >>> z = np.random.default_rng(0).normal(size=(40, 2))
    >>> fit_disagreement_critic(head, z, z + 1.0, variant="logits").weight.shape
    (2, 2)
    """
    if variant not in CRITIC_VARIANTS:
        raise ValueError(f"variant must be one of {sorted(CRITIC_VARIANTS)}, got {variant!r}")
    zs, zt = as_2d_float_array(source_z, "source_z"), as_2d_float_array(target_z, "target_z")
    d = head.weight.shape[1]
    if zs.shape[1] != d or zt.shape[1] != d:
        raise ValueError(
            f"source_z and target_z must have the head's {d} columns, "
            f"got {zs.shape[1]} and {zt.shape[1]}"
        )
    a, a0 = CRITIC_VARIANTS[variant](head)
    v, c = _fit_linear_critic(
        zs @ a.T + a0,
        zt @ a.T + a0,
        _label_index(head, head.predict(zs)),
        _label_index(head, head.predict(zt)),
        head.classes.size,
        weight_decay=weight_decay,
        max_iter=max_iter,
        random_state=random_state,
    )
    return LinearHead(v @ a, v @ a0 + c, head.classes)


def dis2_bound(
    head: LinearHead,
    critic: LinearHead,
    source_z: Any,
    source_y: Any,
    target_z: Any,
    alpha: float = 0.05,
) -> dict[str, float]:
    r"""DIS² upper bound on the target error of ``head``: certified under an assumption.

    .. math::

        \mathrm{err}_T(h) \le \widehat{\mathrm{err}}_S(h) + \max\big(\hat\Delta(h, h'), 0\big)
        + \sqrt{\frac{(4 n_T + n_S)\log(1/\alpha)}{2 n_S n_T}},
        \qquad \hat\Delta = \hat P_T(h' \ne h) - \hat P_S(h' \ne h)

    **Status: "certified under an assumption"**, neither certified nor an estimate. The
    assumption (DIS²): the critic class contains the worst disagreement shift, i.e. the
    fitted critic h' is at least as disagreement-discrepant as the true labelling y*,
    :math:`\Delta(h, y^*) \le \Delta(h, h')`. It cannot be checked without target labels.
    Since :math:`\mathrm{err}_T(h) - \mathrm{err}_S(h) = \Delta(h, y^*)` exactly, the
    population inequality follows. The finite-sample term is Hoeffding's on the statistic
    :math:`\widehat{\mathrm{err}}_S - \hat P_S(h' \ne h) + \hat P_T(h' \ne h)`, whose source
    rows move in a range of 2 and target rows in a range of 1. It needs h' independent of
    the scored rows: **the critic must be fitted on rows disjoint from** ``source_z``,
    ``source_y`` and ``target_z`` (in :func:`bounds.target.target_terms.compute_target_terms`, the
    unlabeled paired training rows ``z_align_*``; scored here are the held-out labelled
    source half and the held-out unlabeled target half). The bound then holds with
    probability ``1 - alpha`` under the assumption.

    The clip :math:`\max(\hat\Delta, 0)` is our choice (the official code clips only the
    final accuracy bound at 0, our ``value`` at 1): it can only raise the bound, so validity
    is kept, and a negative discrepancy (the critic disagrees more on source than on target)
    is no evidence that the target error is below the source error.

    Parameters
    ----------
    head, critic : LinearHead
        The model h and the critic h' (:func:`fit_disagreement_critic`, on other rows).
    source_z : array-like of shape (n_S, d)
        Labelled source rows, scored.
    source_y : array-like of shape (n_S,)
        Their labels.
    target_z : array-like of shape (n_T, d)
        Unlabeled target rows, scored.
    alpha : float
        One minus the confidence level.

    Returns
    -------
    dict
        ``value`` (the bound, clipped to [0, 1]), ``estimate`` (the bound without the
        Hoeffding term, as DIS² also reports it, clipped to [0, 1]), ``source_error``,
        ``discrepancy`` (raw :math:`\hat\Delta`, may be negative), ``discrepancy_clipped``
        (:math:`\max(\hat\Delta, 0)`, the one added) and ``concentration``.

    Examples
    --------
    >>> head = LinearHead(np.eye(2), np.zeros(2), np.array([0, 1]))
    >>> z = np.tile([[1.0, 0.0], [0.0, 1.0]], (50, 1))
    >>> r = dis2_bound(head, head, z, np.tile([0, 1], 50), z, alpha=0.05)
    >>> r["source_error"], r["discrepancy_clipped"], round(r["value"], 4)
    (0.0, 0.0, 0.2737)
    """
    alpha = check_alpha(alpha)
    zs, zt = as_2d_float_array(source_z, "source_z"), as_2d_float_array(target_z, "target_z")
    ys = np.asarray(source_y)
    if zs.shape[0] < 1 or zt.shape[0] < 1:
        raise ValueError(
            f"dis2_bound needs source and target rows, got {zs.shape[0]}, {zt.shape[0]}"
        )
    source_error = float(np.mean(head.predict(zs) != ys))
    discrepancy = float(
        np.mean(critic.predict(zt) != head.predict(zt))
        - np.mean(critic.predict(zs) != head.predict(zs))
    )
    clipped = max(discrepancy, 0.0)
    n_s, n_t = zs.shape[0], zt.shape[0]
    concentration = float(np.sqrt((4 * n_t + n_s) * np.log(1 / alpha) / (2 * n_s * n_t)))
    estimate = source_error + clipped
    return {
        "value": float(np.clip(estimate + concentration, 0.0, 1.0)),
        "estimate": float(np.clip(estimate, 0.0, 1.0)),
        "source_error": source_error,
        "discrepancy": discrepancy,
        "discrepancy_clipped": clipped,
        "concentration": concentration,
    }


def atc_estimate(head: LinearHead, source_z: Any, source_y: Any, target_z: Any) -> dict[str, float]:
    r"""Average Thresholded Confidence: an ESTIMATE of the target error of ``head``.

    .. math::

        \hat t:\ \hat P_S(c(z) < \hat t) = \widehat{\mathrm{err}}_S(h), \qquad
        \widehat{\mathrm{err}}_T = \hat P_T(c(z) < \hat t)

    with c the maximum softmax probability (ATC-MC; our choice of score among those of Garg
    et al.). The threshold is the k-th smallest source confidence, k = round(err_S n_S)
    (our choice of quantile rule), fitted on labelled source rows disjoint from the head's.
    """
    zs, zt = as_2d_float_array(source_z, "source_z"), as_2d_float_array(target_z, "target_z")
    source_error = float(np.mean(head.predict(zs) != np.asarray(source_y)))
    conf_s, conf_t = head.confidence(zs), head.confidence(zt)
    k = int(round(source_error * conf_s.size))
    threshold = np.inf if k >= conf_s.size else float(np.sort(conf_s)[k])
    estimate = float(np.mean(conf_t < threshold))
    return {"value": estimate, "threshold": float(threshold), "source_error": source_error}


def disagreement_estimate(head: LinearHead, other: LinearHead, target_z: Any) -> float:
    r"""Disagreement of two independently fitted models: an ESTIMATE of the target error.

    .. math:: \widehat{\mathrm{err}}_T(h) = \hat P_T\big(h(z) \ne h'(z)\big)

    Jiang et al. (2022) show it tracks the test error of the training procedure when the
    ensemble of such models is calibrated; the two models must be trained independently
    (independent seeds or disjoint training rows), never one a resample of the other's rows
    (a bootstrap copy shares most rows and disagrees too little: biased low).
    :func:`bounds.target.target_terms.compute_target_terms` fits two probes on disjoint,
    class-stratified halves of the labelled rows (our choice: a convex probe has no seed
    randomness), so the value estimates the error of that procedure at half the labels.
    """
    z = as_2d_float_array(target_z, "target_z")
    return float(np.mean(head.predict(z) != other.predict(z)))


def paired_error_estimate(source_error: float, disagreement: float, n_classes: int) -> float:
    r"""Our ESTIMATE of err_B from err_A and the pair disagreement, assuming independent errors.

    .. math::

        d = e_A + e_B - e_A e_B \frac{K}{K - 1}
        \quad\Longrightarrow\quad
        \hat e_B = \frac{d - e_A}{1 - e_A K / (K - 1)}

    Derivation: if the two heads err independently and a wrong prediction is uniform over the
    K - 1 wrong classes, they disagree when exactly one errs, or both err on different labels.
    Fixed before any run was scored (our choice). ``nan`` when h_A is no better than chance
    (:math:`e_A \ge (K-1)/K`); clipped to [0, 1].

    Examples
    --------
    >>> round(paired_error_estimate(0.1, 0.1 + 0.2 - 0.1 * 0.2 * 10 / 9, 10), 6)
    0.2
    """
    if int(n_classes) < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes!r}")
    k = int(n_classes)
    denominator = 1.0 - source_error * k / (k - 1)
    if denominator <= 0:
        return float("nan")
    return float(np.clip((disagreement - source_error) / denominator, 0.0, 1.0))
