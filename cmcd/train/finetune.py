"""Step 3: linear probe, then optional full fine-tuning, on a few labeled target samples.

Our choice (the paper fine-tunes ResNets; the protocol for a handful of labels is not stated):
a linear probe on L2-normalised latents (LP), optionally followed by fine-tuning the whole
encoder with the probe as the initial head (LP-FT, Kumar et al. 2022). With ``epochs=0`` the
model is the linear probe on frozen features. The probe is :class:`bounds.target.probe.LinearProbe`:
standardised latents, L2 logistic regression, ``C`` cross-validated on the labelled rows only
(``finetune.C`` set to a number fixes it instead), the same protocol as the classical
references and the bound's source head.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bounds.target.probe import LinearProbe
from cmcd.train.training import check_finite, embed

__all__ = ["accuracy", "finetune", "linear_probe", "ProbedEncoder"]


class ProbedEncoder(nn.Module):
    """An encoder followed by L2 normalisation and a linear classification head."""

    def __init__(self, encoder: nn.Module, head: nn.Linear) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        """Class logits of shape (n, n_classes)."""
        return self.head(F.normalize(self.encoder(x), dim=1))


def linear_probe(
    z: np.ndarray, y: np.ndarray, n_classes: int, C: float | None, seed: int
) -> nn.Linear:
    r"""Fit the package's linear probe on latents and return it as an ``nn.Linear``.

    .. math:: \text{scores}(z) = W (z - \mu) / \sigma + b

    The protocol (standardisation, ``C`` cross-validated on these rows unless given) is
    :class:`bounds.target.probe.LinearProbe`; its standardisation is folded into the layer. Classes
    absent from ``y`` get a zero weight row and a very negative bias.
    """
    probe = LinearProbe(C=C, random_state=seed).fit(z, y)
    coef, intercept = probe.affine()
    weight = np.zeros((n_classes, z.shape[1]))
    bias = np.full(n_classes, -1e4)
    weight[probe.classes_] = coef
    bias[probe.classes_] = intercept
    head = nn.Linear(z.shape[1], n_classes)
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(weight, dtype=head.weight.dtype))
        head.bias.copy_(torch.as_tensor(bias, dtype=head.bias.dtype))
    return head


def finetune(
    encoder: nn.Module,
    x: Tensor,
    y: Tensor,
    n_classes: int,
    *,
    epochs: int,
    lr: float,
    C: float | None,
    seed: int,
) -> ProbedEncoder:
    """Linear probe on frozen latents, then ``epochs`` of full fine-tuning (LP-FT).

    Parameters
    ----------
    encoder : nn.Module
        The target encoder; updated in place when ``epochs > 0``.
    x, y : Tensor
        The labeled samples (on the device) and their integer labels.

    Returns
    -------
    ProbedEncoder
        The classifier, in eval mode.

    Raises
    ------
    cmcd.train.training.NonFiniteLossError
        A NaN or infinite fine-tuning loss (the message names step ``finetune`` and the epoch).
    """
    z = F.normalize(embed(encoder, x), dim=1).cpu().double().numpy()
    head = linear_probe(z, y.cpu().numpy(), n_classes, C, seed).to(x.device, x.dtype)
    model = ProbedEncoder(encoder, head)
    if epochs > 0:
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
        model.train()
        for epoch in range(epochs):
            loss = F.cross_entropy(model(x), y)
            check_finite(loss, "finetune", epoch + 1, epochs)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval()
    return model


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 1024) -> float:
    """Fraction of correct predictions of ``model`` on ``(x, y)``."""
    model.eval()
    pred = torch.cat([model(xb).argmax(dim=1) for xb in x.split(batch_size)])
    return float((pred == y).double().mean().item())
