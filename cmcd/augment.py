"""Stochastic augmentations for SimCLR-style pre-training, one per view kind.

Our choice (the paper uses image augmentations of ResNet pipelines, which do not apply to
feature vectors): vector views get feature masking plus Gaussian noise in standardised units;
single-channel images get a random translation of up to one pixel plus Gaussian noise.
All randomness comes from an explicit ``torch.Generator`` on the CPU, so a seed gives the same
views on every device.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


def augment_vector(x: Tensor, noise: float, mask: float, generator: torch.Generator) -> Tensor:
    """Mask each feature with probability ``mask`` and add N(0, noise^2) noise.

    .. math:: \\tilde x = m \\odot x + \\sigma \\varepsilon, \\quad m_j \\sim \\mathrm{Bernoulli}(1-p)

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> augment_vector(torch.ones(2, 3), noise=0.0, mask=0.0, generator=g)
    tensor([[1., 1., 1.],
            [1., 1., 1.]])
    """
    keep = torch.rand(x.shape, generator=generator) >= mask
    eps = torch.randn(x.shape, generator=generator)
    return x * keep.to(x.device, x.dtype) + noise * eps.to(x.device, x.dtype)


def augment_image(x: Tensor, noise: float, mask: float, generator: torch.Generator) -> Tensor:
    """Shift each image by up to one pixel (with probability ``mask`` per axis) and add noise.

    Images have shape (n, H, W) with values near [0, 1]; the noise std is ``0.1 * noise``.
    """
    n = x.shape[0]
    shifts = torch.randint(-1, 2, (n, 2), generator=generator)
    shifts = shifts * (torch.rand(n, 2, generator=generator) < mask)
    out = torch.empty_like(x)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            rows = ((shifts[:, 0] == dy) & (shifts[:, 1] == dx)).nonzero().flatten()
            if len(rows):
                rows = rows.to(x.device)
                out[rows] = torch.roll(x[rows], shifts=(dy, dx), dims=(1, 2))
    eps = torch.randn(x.shape, generator=generator).to(x.device, x.dtype)
    return out + 0.1 * noise * eps


AUGMENTATIONS: dict[str, Callable[[Tensor, float, float, torch.Generator], Tensor]] = {
    "vector": augment_vector,
    "image": augment_image,
}
