r"""Published label-free bounds and estimates of a model's error on a shifted distribution.

These are the anchors the pairing-based bounds of :mod:`bounds.target_bounds` are measured
against. None of them uses the pairing of cross-modality distillation:

- :func:`dis2_bound`: DIS² (Rosenfeld & Garg, NeurIPS 2023), a bound that holds under an
  assumption on a linear critic: status "certified under an assumption";
- :func:`atc_estimate`: Average Thresholded Confidence (Garg et al., ICLR 2022), an estimate;
- :func:`disagreement_estimate`: the disagreement of two independently fitted models (Jiang
  et al., ICLR 2022; Nakkiran & Bansal 2020), an estimate;
- :func:`paired_error_estimate`: our estimate from the pairing, for comparison with them.

"Source" here is a labelled sample on which the model can be scored; "target" the unlabeled
sample whose error is wanted. For the fine-tuned target head h_B the source sample is the
teacher latents carried into the student space (:func:`bounds.heads.fit_source_to_target`).

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

from typing import Any

import numpy as np
import torch

from bounds._validation import as_2d_float_array, check_alpha
from bounds.heads import LinearHead

__all__ = [
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


def fit_disagreement_critic(
    head: LinearHead,
    source_z: Any,
    target_z: Any,
    *,
    weight_decay: float = 1e-4,
    max_iter: int = 200,
    random_state: int | None = None,
) -> LinearHead:
    r"""Fit the linear critic h' of DIS²: agree with h on source, disagree with h on target.

    .. math::

        \min_{W, b}\; \mathrm{CE}\big(W z_S + b,\, h(z_S)\big)
        + \log\big(1 + e^{\phi_{h(z_T)}(z_T) - \mathrm{mean}_{k \ne h(z_T)} \phi_k(z_T)}\big)
        + \lambda \|W\|^2

    The disagreement loss on the target side is the one DIS² proposes; the L2 strength
    ``weight_decay`` and the full-batch L-BFGS solver are our choice. Latents are
    standardised on the union of the two samples (the critic stays linear in z).
    """
    zs, zt = as_2d_float_array(source_z, "source_z"), as_2d_float_array(target_z, "target_z")
    both = np.vstack([zs, zt])
    mu, sd = both.mean(axis=0), np.where(both.std(axis=0) > 1e-8, both.std(axis=0), 1.0)
    xs = torch.as_tensor((zs - mu) / sd, dtype=torch.float64)
    xt = torch.as_tensor((zt - mu) / sd, dtype=torch.float64)
    ys = torch.as_tensor(_label_index(head, head.predict(zs)))
    yt = torch.as_tensor(_label_index(head, head.predict(zt)))
    gen = torch.Generator().manual_seed(0 if random_state is None else int(random_state))
    layer = torch.nn.Linear(zs.shape[1], head.classes.size, dtype=torch.float64)
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
    bias = layer.bias.detach().numpy() - weight @ mu
    return LinearHead(weight, bias, head.classes)


def dis2_bound(
    head: LinearHead,
    critic: LinearHead,
    source_z: Any,
    source_y: Any,
    target_z: Any,
    alpha: float = 0.05,
) -> dict[str, float]:
    r"""DIS² upper bound on the target error of ``head``, given a critic fitted on other rows.

    .. math::

        \mathrm{err}_T(h) \le \widehat{\mathrm{err}}_S(h) + \hat\Delta(h, h')
        + \sqrt{\frac{(4 n_T + n_S)\log(1/\alpha)}{2 n_S n_T}},
        \qquad \hat\Delta = \hat P_T(h' \ne h) - \hat P_S(h' \ne h)

    Assumption (DIS²): the true labelling y* is no more disagreement-discrepant than the
    critic, :math:`\Delta(h, y^*) \le \Delta(h, h')`. Since
    :math:`\mathrm{err}_T(h) - \mathrm{err}_S(h) = \Delta(h, y^*)` exactly, the population
    inequality follows. The finite-sample term is Hoeffding's on the statistic
    :math:`\widehat{\mathrm{err}}_S - \hat P_S(h' \ne h) + \hat P_T(h' \ne h)`, whose source
    rows move in a range of 2 and target rows in a range of 1; the critic must be fitted
    without these rows. So the bound holds with probability ``1 - alpha`` *under the
    assumption*: status "certified under an assumption", neither certified nor an estimate.

    Returns
    -------
    dict
        ``value`` (clipped to [0, 1]), ``estimate`` (the bound without the Hoeffding term, as
        DIS² also reports it), ``source_error``, ``discrepancy``, ``concentration``.
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
    n_s, n_t = zs.shape[0], zt.shape[0]
    concentration = float(np.sqrt((4 * n_t + n_s) * np.log(1 / alpha) / (2 * n_s * n_t)))
    estimate = source_error + discrepancy
    return {
        "value": float(np.clip(estimate + concentration, 0.0, 1.0)),
        "estimate": float(np.clip(estimate, 0.0, 1.0)),
        "source_error": source_error,
        "discrepancy": discrepancy,
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

    Jiang et al. (2022) show it tracks the test error when the ensemble of such models is
    calibrated. A convex probe has no training randomness, so ``other`` is fitted on a
    bootstrap resample of the same labelled rows (our choice; see
    :func:`bounds.target_terms.compute_target_terms`).
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
