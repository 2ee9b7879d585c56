"""Encoders and heads: MLPs for vectors, a small CNN for images, a 1-D CNN for spectrograms.

Build an encoder for a view with :func:`build_encoder`, from the view's kind (``"vector"``,
``"image"`` or ``"spectrogram"``) or an explicit architecture name registered in
:data:`ENCODERS`; ``resnet18`` and ``resnet34`` are torchvision ResNets with a small-input
stem (:class:`ResNetEncoder`; torchvision is imported only when one is named).
:func:`make_view_encoder` also accepts a user factory ``"package.module:factory"`` and
checks what it builds (:func:`check_encoder`); :func:`load_teacher_state` loads a pretrained
encoder from a state-dict file.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import math
import numbers
import operator
import pickle
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from cmcd._checks import DataError
from cmcd._checks import check_count as _check_int

__all__ = [
    "DEFAULT_ARCHITECTURE",
    "ENCODERS",
    "ConvEncoder",
    "LinearClassifier",
    "MLPEncoder",
    "ProjectionHead",
    "ResNet18Encoder",
    "ResNet34Encoder",
    "ResNetEncoder",
    "SpectrogramEncoder",
    "TORCHVISION_ENCODERS",
    "TORCHVISION_PAIR",
    "build_encoder",
    "check_arch_name",
    "check_encoder",
    "file_sha256",
    "init_parameters",
    "load_factory",
    "load_teacher_state",
    "make_view_encoder",
]


# --------------------------------------------------------------------------- helpers
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
            if isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d)):
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
    Inputs of shape ``(n, *shape)`` are flattened to ``(n, in_dim)``.

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
        self.net: nn.Sequential = nn.Sequential(*layers)
        init_parameters(self, seed)

    def forward(self, x: Tensor) -> Tensor:
        """Embed ``x`` of shape ``(n, in_dim)`` (or ``(n, *shape)`` with in_dim entries)."""
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
        x = _image_batch(x, self.image_shape)
        _check_batchnorm_batch(self, x.shape[0], "x")
        return self.head(self.features(x))


def _image_batch(x: Any, image_shape: tuple[int, int]) -> Tensor:
    """Return images (n, H, W), (n, 1, H, W) or flattened (n, H * W) as (n, 1, H, W)."""
    x = _check_input(x, "x")
    height, width = image_shape
    accepted = {(height, width), (1, height, width), (height * width,)}
    if x.ndim < 2 or tuple(x.shape[1:]) not in accepted:
        raise ValueError(
            f"x must have shape (n, {height}, {width}), (n, 1, {height}, {width}) or "
            f"(n, {height * width}), got {tuple(x.shape)}"
        )
    return x.reshape(x.shape[0], 1, height, width)


TORCHVISION_PAIR = "pip install torch==2.14.1 torchvision==0.29.1"
"""A matching torch/torchvision pair (each torchvision release works with one torch release)."""


def _torchvision_models(who: str) -> Any:
    """Import ``torchvision.models``, or raise a one-line ValueError naming ``who``.

    Any failure of the import counts (a missing package, or a torchvision built for another
    torch, which fails with ``RuntimeError: operator torchvision::nms does not exist``).
    """
    try:
        return importlib.import_module("torchvision.models")
    except Exception as exc:  # any failure of the import is reported in one line
        detail = (str(exc).splitlines() or [""])[0]
        raise ValueError(
            f"{who}: this encoder needs torchvision, which does not import beside torch "
            f"{torch.__version__} ({type(exc).__name__}: {detail}); install a matching pair, "
            f"e.g. `{TORCHVISION_PAIR}`"
        ) from None


class ResNetEncoder(nn.Module):
    """A torchvision ResNet for single-channel images with a small-input stem.

    The ImageNet stem (7x7 convolution of stride 2 and a 3x3 max-pool, which shrink a 28x28
    image to 7x7 before the first block) is replaced by a 3x3 convolution of stride 1 from
    one input channel and no max-pool, as in the CIFAR ResNets; the classifier becomes a
    linear layer to ``out_dim``. Suits image views and spectrograms read as images (mel bands
    x frames). Subclasses fix the depth (:class:`ResNet18Encoder`, :class:`ResNet34Encoder`).

    Parameters
    ----------
    image_shape : tuple of int
        ``(H, W)`` of the inputs.
    out_dim : int
        Embedding dimension.
    seed : int, optional
        Seed of torchvision's weight initialisation (drawn under a forked global generator,
        so the global random state is untouched); None draws from the global generator.

    Raises
    ------
    ValueError
        torchvision does not import (the message says how to install a matching pair).

    References
    ----------
    He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016 (the
    CIFAR-10 variant of section 4.2 has the 3x3 stem).
    """

    arch: ClassVar[str] = "resnet18"

    def __init__(self, image_shape: tuple[int, int], out_dim: int, seed: int | None = None) -> None:
        super().__init__()
        self.image_shape = _image_shape(image_shape)
        self.out_dim = _check_int(out_dim, "out_dim")
        models = _torchvision_models(f"encoder {self.arch!r}")
        if seed is None:
            self.net = self._build(models)
            return
        seed = _check_int(seed, "seed", 0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = self._build(models)

    def _build(self, models: Any) -> nn.Module:
        net = getattr(models, self.arch)(weights=None)
        net.conv1 = nn.Conv2d(1, net.conv1.out_channels, 3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
        net.maxpool = nn.Identity()
        net.fc = nn.Linear(net.fc.in_features, self.out_dim)
        return net

    def forward(self, x: Tensor) -> Tensor:
        """Embed images of shape (n, H, W), (n, 1, H, W) or flattened (n, H * W)."""
        x = _image_batch(x, self.image_shape)
        _check_batchnorm_batch(self, x.shape[0], "x")
        return self.net(x)


class ResNet18Encoder(ResNetEncoder):
    """ResNet-18 with the small-input stem of :class:`ResNetEncoder`."""

    arch = "resnet18"


class ResNet34Encoder(ResNetEncoder):
    """ResNet-34 with the small-input stem of :class:`ResNetEncoder`."""

    arch = "resnet34"


class SpectrogramEncoder(nn.Module):
    """Small 1-D CNN over time for log-mel spectrograms (mel bands as input channels).

    Each block is ``Conv1d (kernel 5, then 3) -> BatchNorm1d -> ReLU``, followed by a max-pool
    of 2 frames while at least 2 frames remain; global average and max pooling over time are
    concatenated and a linear layer gives the embedding. Our choice of architecture (a
    keyword-spotting style temporal CNN), deliberately different from :class:`ConvEncoder`.

    Parameters
    ----------
    spec_shape : tuple of int
        ``(n_mels, n_frames)`` of the input spectrograms.
    out_dim : int
        Embedding dimension.
    channels : sequence of int, default (64, 64)
        Output channels of the convolution blocks.
    seed : int, optional
        Seed of the weight initialisation (see :func:`init_parameters`).

    Examples
    --------
    >>> SpectrogramEncoder((32, 56), 8, seed=0)(torch.zeros(2, 32, 56)).shape
    torch.Size([2, 8])
    """

    def __init__(
        self,
        spec_shape: tuple[int, int],
        out_dim: int,
        channels: Sequence[int] = (64, 64),
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.spec_shape = _image_shape(spec_shape, "spec_shape")
        self.out_dim = _check_int(out_dim, "out_dim")
        widths = _check_widths(channels, "channels")
        if not widths:
            raise ValueError("channels must hold at least one width")
        layers: list[nn.Module] = []
        frames = self.spec_shape[1]
        for k, (c_in, c_out) in enumerate(
            zip((self.spec_shape[0], *widths[:-1]), widths, strict=False)
        ):
            size = 5 if k == 0 else 3
            layers += [nn.Conv1d(c_in, c_out, size, padding=size // 2), nn.BatchNorm1d(c_out)]
            layers.append(nn.ReLU())
            if frames >= 2:
                layers.append(nn.MaxPool1d(2))
                frames //= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(2 * widths[-1], self.out_dim)
        init_parameters(self, seed)

    def forward(self, x: Tensor) -> Tensor:
        """Embed spectrograms of shape (n, M, T), (n, 1, M, T) or flattened (n, M * T)."""
        x = _check_input(x, "x")
        mels, frames = self.spec_shape
        accepted = {(mels, frames), (1, mels, frames), (mels * frames,)}
        if x.ndim < 2 or tuple(x.shape[1:]) not in accepted:
            raise ValueError(
                f"x must have shape (n, {mels}, {frames}), (n, 1, {mels}, {frames}) or "
                f"(n, {mels * frames}), got {tuple(x.shape)}"
            )
        _check_batchnorm_batch(self, x.shape[0], "x")
        h = self.features(x.reshape(x.shape[0], mels, frames))
        return self.head(torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1))


def _as_dims(shape: Any) -> tuple[int, ...] | None:
    """Return ``shape`` as a tuple of positive Python ints, or None if it is not one."""
    if isinstance(shape, (str, bytes)) or not isinstance(shape, (Sequence, torch.Size)):
        return None
    try:
        dims = tuple(operator.index(d) for d in shape if not isinstance(d, bool))
    except TypeError:
        return None
    return dims if dims and len(dims) == len(shape) and min(dims) >= 1 else None


def _image_shape(shape: Sequence[int], name: str = "image_shape") -> tuple[int, int]:
    """Return ``(H, W)`` from ``(H, W)`` or ``(1, H, W)``; anything else is a ValueError."""
    dims = _as_dims(shape) or ()
    if len(dims) == 3 and dims[0] == 1:
        dims = dims[1:]
    if len(dims) != 2:
        raise ValueError(
            f"{name} must be (H, W) or (1, H, W) with positive integers, got {shape!r}"
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


def _spec_shape_args(shape: tuple[int, ...]) -> dict[str, Any]:
    return {"spec_shape": _image_shape(shape, "spec_shape")}


ENCODERS: dict[str, type[nn.Module]] = {
    "mlp": MLPEncoder,
    "cnn": ConvEncoder,
    "spec_cnn": SpectrogramEncoder,
    "resnet18": ResNet18Encoder,
    "resnet34": ResNet34Encoder,
}
"""Encoder classes by architecture name."""

TORCHVISION_ENCODERS: frozenset[str] = frozenset({"resnet18", "resnet34"})
"""Names of :data:`ENCODERS` that need torchvision (imported when one is named)."""

DEFAULT_ARCHITECTURE: dict[str, str] = {"vector": "mlp", "image": "cnn", "spectrogram": "spec_cnn"}
"""Architecture used for each view kind when none is named (``auto``)."""

_SHAPE_ARGS: dict[str, Callable[[tuple[int, ...]], dict[str, Any]]] = {
    "mlp": _mlp_shape_args,
    "cnn": _cnn_shape_args,
    "spec_cnn": _spec_shape_args,
    "resnet18": _cnn_shape_args,
    "resnet34": _cnn_shape_args,
}


def build_encoder(kind: str, shape: Sequence[int], out_dim: int, **params: Any) -> nn.Module:
    """Build the encoder of a view from its kind or an architecture name.

    Parameters
    ----------
    kind : str
        A view kind (``"vector"`` -> ``"mlp"``, ``"image"`` -> ``"cnn"``, ``"spectrogram"``
        -> ``"spec_cnn"``) or a key of :data:`ENCODERS`.
    shape : tuple of int
        Shape of one sample: ``(d,)`` for a vector view, ``(H, W)`` for an image view,
        ``(n_mels, n_frames)`` for a spectrogram. An MLP flattens any shape; the CNNs need
        ``(H, W)`` or ``(1, H, W)``.
    out_dim : int
        Embedding dimension.
    **params
        Further constructor arguments of the architecture (e.g. ``hidden``, ``dropout``,
        ``channels``, ``seed``).

    Returns
    -------
    nn.Module
        The encoder, mapping ``(n, *shape)`` to ``(n, out_dim)``.

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


# --------------------------------------------------------------------------- user encoders
_FACTORY_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def check_arch_name(value: Any, key: str) -> str:
    """Return ``value`` if it is ``auto``, a key of :data:`ENCODERS` or ``package.module:factory``.

    Only the spelling is checked here (cheap, at config time); :func:`make_view_encoder`
    imports the factory and checks what it builds. A torchvision name (``resnet18``,
    ``resnet34``) is also checked to import, so that a missing or mismatched torchvision is
    refused at config time, naming ``key``.

    Examples
    --------
    >>> check_arch_name("my_pkg.encoders:small_cnn", "model.source_arch")
    'my_pkg.encoders:small_cnn'
    """
    if isinstance(value, str) and value in TORCHVISION_ENCODERS:
        _torchvision_models(key)
        return value
    if isinstance(value, str) and (value == "auto" or value in ENCODERS):
        return value
    if isinstance(value, str) and _FACTORY_PATH.match(value):
        return value
    raise ValueError(
        f"{key} must be 'auto', one of {sorted(ENCODERS)} or a factory path "
        f"'package.module:factory', got {value!r}"
    )


def load_factory(path: str, key: str) -> Callable[..., Any]:
    """Import the callable named by ``"package.module:factory"`` (``key`` names the option).

    Examples
    --------
    >>> load_factory("cmcd.train.models:MLPEncoder", "model.target_arch").__name__
    'MLPEncoder'
    """
    module_name, _, attr = check_arch_name(path, key).partition(":")
    if not attr:
        raise ValueError(f"{key}: {path!r} is not a factory path 'package.module:factory'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"{key}: cannot import module {module_name!r} of {path!r}: {exc}") from exc
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{key}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"{key}: {path!r} is not callable (got {type(obj).__name__})")
    return obj


def check_encoder(encoder: Any, shape: Sequence[int], latent_dim: int, key: str) -> nn.Module:
    """Check that ``encoder`` maps a dummy batch ``(2, *shape)`` to ``(2, latent_dim)``.

    The dummy batch is zeros, run in eval mode without gradients (batch-norm statistics and
    random state are untouched); the module's training mode is restored afterwards.

    Examples
    --------
    >>> check_encoder(MLPEncoder(6, 4), (6,), 4, "model.source_arch").out_dim
    4
    """
    if not isinstance(encoder, nn.Module):
        raise ValueError(f"{key}: the encoder must be a torch.nn.Module, got {type(encoder)!r}")
    param = next(encoder.parameters(), None)
    x = torch.zeros(2, *shape, device=param.device if param is not None else "cpu")
    training = encoder.training
    try:
        with torch.no_grad():
            out = encoder.eval()(x)
    except Exception as exc:  # any failure of user code is reported by key
        raise ValueError(
            f"{key}: the encoder fails on a dummy batch {tuple(x.shape)}: {exc}"
        ) from exc
    finally:
        encoder.train(training)
    got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
    if got != (2, latent_dim):
        raise ValueError(
            f"{key}: the encoder maps a dummy batch {tuple(x.shape)} to {got}, "
            f"expected (2, {latent_dim}) (batch, model.latent_dim)"
        )
    return encoder


def make_view_encoder(
    arch: str,
    kind: str,
    shape: Sequence[int],
    latent_dim: int,
    *,
    hidden: Sequence[int] = (256, 256),
    key: str = "model.source_arch",
) -> nn.Module:
    """Build and check the encoder of a view from ``auto``, a registered name or a factory.

    Parameters
    ----------
    arch : str
        ``"auto"`` (:data:`DEFAULT_ARCHITECTURE` of ``kind``), a key of :data:`ENCODERS`, or
        ``"package.module:factory"``: ``factory(input_shape, latent_dim)`` must return an
        ``nn.Module`` mapping ``(n, *input_shape)`` to ``(n, latent_dim)``.
    kind : str
        The view kind (``"vector"``, ``"image"`` or ``"spectrogram"``).
    shape : tuple of int
        Shape of one sample of the view.
    latent_dim : int
        Embedding dimension.
    hidden : sequence of int
        Hidden widths, used by the ``mlp`` architecture only.
    key : str
        The config key of ``arch``, named in every error.

    Raises
    ------
    ValueError
        Unknown name, a factory that does not import, is not callable, fails, or builds
        something that is not a module of the right output shape; the message names ``key``.

    Examples
    --------
    >>> make_view_encoder("auto", "spectrogram", (32, 56), 16).__class__.__name__
    'SpectrogramEncoder'
    """
    arch = check_arch_name(arch, key)
    dims = _as_dims(shape)
    if dims is None:
        raise ValueError(f"shape must be a non-empty tuple of positive integers, got {shape!r}")
    if ":" in arch:
        factory = load_factory(arch, key)
        try:
            encoder = factory(dims, _check_int(latent_dim, "latent_dim"))
        except Exception as exc:  # any failure of user code is reported by key
            raise ValueError(f"{key}: factory {arch!r} failed for shape {dims}: {exc}") from exc
        return check_encoder(encoder, dims, latent_dim, key)
    if arch == "auto" and kind not in DEFAULT_ARCHITECTURE:
        raise ValueError(
            f"{key}: no auto encoder for view kind {kind!r}; valid kinds: "
            f"{sorted(DEFAULT_ARCHITECTURE)}"
        )
    name = DEFAULT_ARCHITECTURE[kind] if arch == "auto" else arch
    params = {"hidden": tuple(hidden)} if name == "mlp" else {}
    return check_encoder(build_encoder(name, dims, latent_dim, **params), dims, latent_dim, key)


# --------------------------------------------------------------------------- pretrained teacher
def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's content (for checkpoint keys of steps that consume it).

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.bin")
    >>> _ = open(path, "wb").write(b"abc")
    >>> file_sha256(path)[:12]
    'ba7816bf8f01'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    """Read a state dict (or a cmcd checkpoint ``{"model": state_dict, ...}``) safely."""
    if not path.is_file():
        raise FileNotFoundError(f"teacher weights file {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror}): check its permissions") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        raise ValueError(
            f"{path}: refused; not a plain state-dict file (loaded with weights_only=True, "
            f"which rejects pickled objects such as whole modules): {exc}"
        ) from exc
    if isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping):
        obj = obj["model"]
    if not isinstance(obj, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()
    ):
        raise ValueError(f"{path}: expected a state dict mapping names to tensors")
    return dict(obj)


def _few(names: Sequence[str], limit: int = 8) -> str:
    shown = list(names[:limit])
    return f"{shown}" + (f" (+{len(names) - limit} more)" if len(names) > limit else "")


def load_teacher_state(path: str | Path, module: nn.Module) -> nn.Module:
    """Load pretrained weights from a state-dict file into ``module`` (the teacher encoder).

    The file is read with ``torch.load(..., weights_only=True)``: only tensors and plain
    containers are accepted, pickled objects are refused. Both a bare ``state_dict()`` and a
    cmcd step checkpoint ``{"model": state_dict, "history": ...}`` are accepted.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file holds pickled objects or no state dict, or its keys or shapes do not match
        ``module`` (the message names the file and the mismatched keys), or it holds NaN or
        infinite weights (:class:`~cmcd._checks.DataError`).

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "teacher.pt")
    >>> torch.save(MLPEncoder(6, 4, seed=0).state_dict(), path)
    >>> load_teacher_state(path, MLPEncoder(6, 4)).out_dim
    4
    """
    path = Path(path)
    state, expected = _read_state_dict(path), module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    common = sorted(set(state) & set(expected))
    shapes = [
        f"{k}: {tuple(state[k].shape)} vs {tuple(expected[k].shape)}"
        for k in common
        if state[k].shape != expected[k].shape
    ]
    if missing or unexpected or shapes:
        raise ValueError(
            f"{path} does not fit the {type(module).__name__} teacher: missing keys "
            f"{_few(missing)}, unexpected keys {_few(unexpected)}, shape mismatches {_few(shapes)}"
        )
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise DataError(
            f"{path} holds NaN or infinite weights (in {_few(bad)}): a teacher cannot be "
            "distilled from it; export its weights again from a healthy model"
        )
    module.load_state_dict(state)
    return module
