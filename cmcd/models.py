"""Encoders and heads: MLPs for vector views, a small CNN for single-channel image views.

Build an encoder for a view with :func:`build_encoder`, from the view's kind (``"vector"`` or
``"image"``) or an explicit architecture name registered in :data:`ENCODERS`.
"""

from __future__ import annotations

import inspect
import math
import numbers
import operator
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "DEFAULT_ARCHITECTURE",
    "ENCODERS",
    "ConvEncoder",
    "LinearClassifier",
    "MLPEncoder",
    "ProjectionHead",
    "build_encoder",
    "init_parameters",
]


# --------------------------------------------------------------------------- helpers
def _check_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_widths(values: Sequence[int], name: str) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"{name} must be a sequence of positive integers, got {values!r}")
    return tuple(_check_int(v, f"{name} entry") for v in values)


def _check_input(x: Any, name: str) -> Tensor:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise ValueError(f"{name} must be a floating torch.Tensor, got {x!r:.60}")
    return x


def init_parameters(module: nn.Module, seed: int | None) -> nn.Module:
    r"""Re-initialise linear and convolution layers from ``seed`` (PyTorch's default scheme).

    Weights get Kaiming-uniform with ``a = sqrt(5)`` and biases
    :math:`U(-1/\sqrt{\mathrm{fan\_in}}, 1/\sqrt{\mathrm{fan\_in}})`, exactly PyTorch's
    defaults, but drawn from a private generator, so the global random state is untouched.
    ``seed=None`` leaves the module as constructed (drawn from the global generator).

    Parameters
    ----------
    module : nn.Module
        The module to initialise in place.
    seed : int or None
        Seed of the private generator.

    Returns
    -------
    nn.Module
        ``module`` itself.

    Examples
    --------
    >>> a = init_parameters(nn.Linear(3, 2), seed=0)
    >>> b = init_parameters(nn.Linear(3, 2), seed=0)
    >>> torch.equal(a.weight, b.weight)
    True
    """
    if seed is None:
        return module
    generator = torch.Generator().manual_seed(_check_int(seed, "seed", 0))
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Linear, nn.Conv2d)):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                if layer.bias is not None:
                    bound = 1.0 / math.sqrt(layer.weight[0].numel())
                    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return module


def _check_batchnorm_batch(module: nn.Module, n: int, name: str) -> None:
    """Refuse a training-mode batch of one sample when the module uses batch norm."""
    uses_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())
    if module.training and uses_bn and n < 2:
        raise ValueError(
            f"{name} has {n} sample(s); batch norm in training mode needs at least 2 "
            "(call .eval() or use a larger batch)"
        )


# --------------------------------------------------------------------------- encoders
class MLPEncoder(nn.Module):
    """Multi-layer perceptron encoder for vector views.

    Each hidden layer is ``Linear -> BatchNorm1d (optional) -> ReLU -> Dropout``, then a final
    ``Linear`` to ``out_dim`` (our choice of architecture; the paper uses ResNets on images).
    Inputs of shape (n, *shape) are flattened to (n, in_dim).

    Parameters
    ----------
    in_dim : int
        Number of input features.
    out_dim : int
        Embedding dimension.
    hidden : sequence of int, default (256, 256)
        Hidden widths; empty gives a linear encoder.
    dropout : float, default 0.0
        Dropout probability after each hidden layer, in [0, 1).
    batch_norm : bool, default True
        Batch normalisation after each hidden linear layer.
    seed : int, optional
        Seed of the weight initialisation (see :func:`init_parameters`).

    Examples
    --------
    >>> MLPEncoder(10, 4, hidden=(8,), seed=0)(torch.zeros(3, 10)).shape
    torch.Size([3, 4])
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        hidden: Sequence[int] = (256, 256),
        dropout: float = 0.0,
        batch_norm: bool = True,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.in_dim = _check_int(in_dim, "in_dim")
        self.out_dim = _check_int(out_dim, "out_dim")
        widths = _check_widths(hidden, "hidden")
        if isinstance(dropout, bool) or not (
            isinstance(dropout, numbers.Real) and 0.0 <= dropout < 1.0
        ):
            raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
        dropout = float(dropout)
        layers: list[nn.Module] = []
        for width_in, width_out in zip((self.in_dim, *widths[:-1]), widths, strict=False):
            layers.append(nn.Linear(width_in, width_out))
            layers.extend([nn.BatchNorm1d(width_out)] if batch_norm else [])
            layers.append(nn.ReLU())
            layers.extend([nn.Dropout(dropout)] if dropout > 0 else [])
        layers.append(nn.Linear(widths[-1] if widths else self.in_dim, self.out_dim))
        self.net = nn.Sequential(*layers)
        init_parameters(self, seed)

    def forward(self, x: Tensor) -> Tensor:
        """Embed ``x`` of shape (n, in_dim) (or (n, *shape) with in_dim entries)."""
        x = _check_input(x, "x")
        if x.ndim < 2 or math.prod(x.shape[1:]) != self.in_dim:
            raise ValueError(
                f"x must have shape (n, {self.in_dim}) or (n, *shape) with {self.in_dim} "
                f"features per sample, got {tuple(x.shape)}"
            )
        _check_batchnorm_batch(self, x.shape[0], "x")
        return self.net(x.reshape(x.shape[0], self.in_dim))


class ConvEncoder(nn.Module):
    """Small CNN encoder for single-channel images of any size (odd sizes included).

    Each block is ``Conv3x3 -> BatchNorm2d -> ReLU``, followed by a 2x2 max-pool while both
    sides are still at least 2 pixels, so 8x8, 16x15 and 28x28 inputs all work; an adaptive
    average pool to 2x2 (or the feature map's size if smaller) and a linear layer give the
    embedding. Our choice of architecture (the paper uses ResNets).

    Parameters
    ----------
    image_shape : tuple of int
        ``(H, W)`` of the input images.
    out_dim : int
        Embedding dimension.
    channels : sequence of int, default (32, 64)
        Output channels of the convolution blocks.
    seed : int, optional
        Seed of the weight initialisation (see :func:`init_parameters`).

    Examples
    --------
    >>> ConvEncoder((16, 15), 8, seed=0)(torch.zeros(2, 16, 15)).shape
    torch.Size([2, 8])
    """

    def __init__(
        self,
        image_shape: tuple[int, int],
        out_dim: int,
        channels: Sequence[int] = (32, 64),
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.image_shape = _image_shape(image_shape)
        self.out_dim = _check_int(out_dim, "out_dim")
        widths = _check_widths(channels, "channels")
        if not widths:
            raise ValueError("channels must hold at least one width")
        layers: list[nn.Module] = []
        height, width = self.image_shape
        for c_in, c_out in zip((1, *widths[:-1]), widths, strict=False):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
            if min(height, width) >= 2:
                layers.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
        pooled = (min(2, height), min(2, width))
        layers += [nn.AdaptiveAvgPool2d(pooled), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1] * pooled[0] * pooled[1], self.out_dim)
        init_parameters(self, seed)

    def forward(self, x: Tensor) -> Tensor:
        """Embed images of shape (n, H, W), (n, 1, H, W) or flattened (n, H * W)."""
        x = _check_input(x, "x")
        height, width = self.image_shape
        accepted = {(height, width), (1, height, width), (height * width,)}
        if x.ndim < 2 or tuple(x.shape[1:]) not in accepted:
            raise ValueError(
                f"x must have shape (n, {height}, {width}), (n, 1, {height}, {width}) or "
                f"(n, {height * width}), got {tuple(x.shape)}"
            )
        _check_batchnorm_batch(self, x.shape[0], "x")
        return self.head(self.features(x.reshape(x.shape[0], 1, height, width)))


def _as_dims(shape: Any) -> tuple[int, ...] | None:
    """Return ``shape`` as a tuple of positive Python ints, or None if it is not one."""
    if isinstance(shape, (str, bytes)) or not isinstance(shape, (Sequence, torch.Size)):
        return None
    try:
        dims = tuple(operator.index(d) for d in shape if not isinstance(d, bool))
    except TypeError:
        return None
    return dims if dims and len(dims) == len(shape) and min(dims) >= 1 else None


def _image_shape(shape: Sequence[int]) -> tuple[int, int]:
    """Return ``(H, W)`` from ``(H, W)`` or ``(1, H, W)``; anything else is a ValueError."""
    dims = _as_dims(shape) or ()
    if len(dims) == 3 and dims[0] == 1:
        dims = dims[1:]
    if len(dims) != 2:
        raise ValueError(
            f"image_shape must be (H, W) or (1, H, W) with positive integers, got {shape!r}"
        )
    return dims[0], dims[1]


# --------------------------------------------------------------------------- heads
class ProjectionHead(nn.Module):
    """SimCLR projection head ``Linear -> BatchNorm1d -> ReLU -> Linear`` for SSL.

    Parameters
    ----------
    in_dim : int
        Encoder output dimension.
    out_dim : int, default 64
        Projection dimension (where the InfoNCE loss is computed).
    hidden : int, default 128
        Hidden width.
    seed : int, optional
        Seed of the weight initialisation.

    References
    ----------
    Chen et al. (2020), "A Simple Framework for Contrastive Learning of Visual
    Representations", ICML.

    Examples
    --------
    >>> ProjectionHead(16, seed=0)(torch.randn(4, 16)).shape
    torch.Size([4, 64])
    """

    def __init__(
        self, in_dim: int, out_dim: int = 64, hidden: int = 128, seed: int | None = None
    ) -> None:
        super().__init__()
        self.in_dim = _check_int(in_dim, "in_dim")
        hidden = _check_int(hidden, "hidden")
        self.net = nn.Sequential(
            nn.Linear(self.in_dim, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, _check_int(out_dim, "out_dim")),
        )
        init_parameters(self, seed)

    def forward(self, h: Tensor) -> Tensor:
        """Project encoder outputs of shape (n, in_dim) to (n, out_dim)."""
        h = _check_input(h, "h")
        if h.ndim != 2 or h.shape[1] != self.in_dim:
            raise ValueError(f"h must have shape (n, {self.in_dim}), got {tuple(h.shape)}")
        _check_batchnorm_batch(self, h.shape[0], "h")
        return self.net(h)


class LinearClassifier(nn.Module):
    """Linear classification head on top of an encoder's embedding (fine-tuning, probes).

    Parameters
    ----------
    in_dim : int
        Embedding dimension.
    n_classes : int
        Number of classes (>= 2).
    seed : int, optional
        Seed of the weight initialisation.

    Examples
    --------
    >>> LinearClassifier(8, 3, seed=0)(torch.zeros(5, 8)).shape
    torch.Size([5, 3])
    """

    def __init__(self, in_dim: int, n_classes: int, seed: int | None = None) -> None:
        super().__init__()
        self.linear = nn.Linear(_check_int(in_dim, "in_dim"), _check_int(n_classes, "n_classes", 2))
        init_parameters(self, seed)

    def forward(self, h: Tensor) -> Tensor:
        """Return class logits of shape (n, n_classes) for embeddings of shape (n, in_dim)."""
        h = _check_input(h, "h")
        if h.ndim != 2 or h.shape[1] != self.linear.in_features:
            raise ValueError(
                f"h must have shape (n, {self.linear.in_features}), got {tuple(h.shape)}"
            )
        return self.linear(h)


# --------------------------------------------------------------------------- registry
def _mlp_shape_args(shape: tuple[int, ...]) -> dict[str, Any]:
    return {"in_dim": math.prod(shape)}


def _cnn_shape_args(shape: tuple[int, ...]) -> dict[str, Any]:
    return {"image_shape": _image_shape(shape)}


ENCODERS: dict[str, type[nn.Module]] = {"mlp": MLPEncoder, "cnn": ConvEncoder}
"""Encoder classes by architecture name."""

DEFAULT_ARCHITECTURE: dict[str, str] = {"vector": "mlp", "image": "cnn"}
"""Architecture used for each view kind when none is named."""

_SHAPE_ARGS: dict[str, Callable[[tuple[int, ...]], dict[str, Any]]] = {
    "mlp": _mlp_shape_args,
    "cnn": _cnn_shape_args,
}


def build_encoder(kind: str, shape: Sequence[int], out_dim: int, **params: Any) -> nn.Module:
    """Build the encoder of a view from its kind or an architecture name.

    Parameters
    ----------
    kind : str
        A view kind (``"vector"`` -> ``"mlp"``, ``"image"`` -> ``"cnn"``) or a key of
        :data:`ENCODERS`.
    shape : tuple of int
        Shape of one sample: ``(d,)`` for a vector view, ``(H, W)`` for an image view. An
        MLP flattens any shape; a CNN needs ``(H, W)`` or ``(1, H, W)``.
    out_dim : int
        Embedding dimension.
    **params
        Further constructor arguments of the architecture (e.g. ``hidden``, ``dropout``,
        ``channels``, ``seed``).

    Returns
    -------
    nn.Module
        The encoder, mapping (n, *shape) to (n, out_dim).

    Raises
    ------
    ValueError
        For an unknown kind, a shape the architecture cannot take, or unknown parameters.

    Examples
    --------
    >>> build_encoder("image", (8, 8), 16, seed=0).__class__.__name__
    'ConvEncoder'
    >>> build_encoder("vector", (64,), 16, hidden=(32,)).__class__.__name__
    'MLPEncoder'
    """
    arch = DEFAULT_ARCHITECTURE.get(kind, kind)
    if arch not in ENCODERS:
        valid = sorted({*DEFAULT_ARCHITECTURE, *ENCODERS})
        raise ValueError(f"unknown encoder kind {kind!r}; valid: {valid}")
    dims = _as_dims(shape)
    if dims is None:
        raise ValueError(f"shape must be a non-empty tuple of positive integers, got {shape!r}")
    shape_args = _SHAPE_ARGS[arch](dims)
    accepted = set(inspect.signature(ENCODERS[arch]).parameters)
    valid = sorted(accepted - set(shape_args) - {"out_dim"})
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for encoder {arch!r}; valid: {valid}")
    return ENCODERS[arch](**shape_args, out_dim=out_dim, **params)
