"""A user's own encoder factories, imported by the tests as ``user_encoders:<factory>``."""

from __future__ import annotations

import math

from torch import nn


class TinyEncoder(nn.Module):
    """Flatten, then one linear layer: the simplest encoder a user could bring."""

    def __init__(self, input_shape: tuple[int, ...], latent_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), latent_dim))

    def forward(self, x):
        return self.net(x)


def tiny(input_shape: tuple[int, ...], latent_dim: int) -> nn.Module:
    return TinyEncoder(input_shape, latent_dim)


def wrong_width(input_shape: tuple[int, ...], latent_dim: int) -> nn.Module:
    return TinyEncoder(input_shape, latent_dim + 1)


def not_a_module(input_shape: tuple[int, ...], latent_dim: int) -> object:
    return lambda x: x


def crashes(input_shape: tuple[int, ...], latent_dim: int) -> nn.Module:
    raise RuntimeError("no GPU in this factory")


NOT_CALLABLE = 3


def fails_forward(input_shape: tuple[int, ...], latent_dim: int) -> nn.Module:
    return nn.Linear(math.prod(input_shape) + 1, latent_dim)
