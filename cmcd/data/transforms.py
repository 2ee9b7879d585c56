"""Modality-gap families: pure maps ``T(images, gap, rng) -> images`` with ``gap`` in [0, 1].

Each family turns a clean image into a target modality.
Every family satisfies ``T(x, 0, rng) == x`` exactly, is continuous in ``gap`` for a fixed
``rng`` state (all random draws are made whatever the gap, and only their strength depends
on it), and moves the images monotonically away from the source as the gap grows. All
strengths below are our choice; the paper uses real sketch / depth modalities instead.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "apply_gap",
    "check_gap",
    "depth",
    "DEPTH_MAX_BLUR",
    "DEPTH_MAX_NOISE",
    "edge_map",
    "GAP_FAMILIES",
    "GapTransform",
    "occlusion",
    "OCCLUSION_MAX_SIDE",
    "plot_modality_gap_examples",
    "sketch",
    "sketch_inverted",
]

GapTransform = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]

DEPTH_MAX_BLUR = 1 / 8
"""Gaussian blur std at gap 1, as a fraction of ``min(H, W)`` (our choice)."""
DEPTH_MAX_NOISE = 0.1
"""Std of the additive Gaussian noise at gap 1 (our choice)."""
OCCLUSION_MAX_SIDE = 0.75
"""Side of the occluding square at gap 1, as a fraction of ``min(H, W)`` (our choice)."""


def check_gap(gap: Any) -> float:
    """Return ``gap`` as a float in [0, 1], else raise ``ValueError`` naming ``gap``.

    Examples
    --------
    >>> check_gap(0.5)
    0.5
    """
    if isinstance(gap, bool) or not isinstance(gap, numbers.Real) or not 0 <= gap <= 1:  # type: ignore[operator]
        raise ValueError(f"gap must be a number in [0, 1], got {gap!r}")
    return float(gap)


def _check_images(images: Any) -> np.ndarray:
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim != 3 or min(arr.shape) < 1:
        raise ValueError(f"images must have shape (n, H, W) with n, H, W >= 1, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("images contain NaN or inf values")
    return arr


def edge_map(images: np.ndarray) -> np.ndarray:
    r"""Sobel gradient magnitude of each image, divided by its per-image maximum.

    .. math:: E(x) = \|\nabla_{\mathrm{Sobel}} x\|_2 \,/\, \max_{\text{pixels}} \|\nabla x\|_2

    Borders are edge-padded; a constant image maps to zeros.

    Examples
    --------
    >>> x = np.zeros((1, 4, 4), dtype=np.float32); x[0, :, 2:] = 1
    >>> edge_map(x)[0, 0].tolist()
    [0.0, 1.0, 1.0, 0.0]
    """
    x = np.pad(_check_images(images), ((0, 0), (1, 1), (1, 1)), mode="edge")
    smooth_r = x[:, :-2] + 2 * x[:, 1:-1] + x[:, 2:]  # smoothing along rows
    smooth_c = x[:, :, :-2] + 2 * x[:, :, 1:-1] + x[:, :, 2:]  # smoothing along columns
    gx = smooth_r[:, :, 2:] - smooth_r[:, :, :-2]
    gy = smooth_c[:, 2:, :] - smooth_c[:, :-2, :]
    mag = np.sqrt(gx**2 + gy**2)
    peak = mag.max(axis=(1, 2), keepdims=True)
    return np.divide(mag, peak, out=np.zeros_like(mag), where=peak > 0).astype(np.float32)


def sketch(images: np.ndarray, gap: float, rng: np.random.Generator) -> np.ndarray:
    r"""Edge-map ("sketch") modality: blend of the image and its normalised Sobel edges.

    .. math:: T_g(x) = (1 - g)\, x + g\, E(x)

    Bright strokes on a dark background, like the source (our choice; see
    :func:`sketch_inverted`). ``rng`` is unused (deterministic family).

    Examples
    --------
    >>> x = np.random.default_rng(0).random((2, 8, 8))
    >>> bool(np.array_equal(sketch(x, 0.0, np.random.default_rng(0)), x.astype(np.float32)))
    True
    """
    x, g = _check_images(images), check_gap(gap)
    return ((1 - g) * x + g * edge_map(x)).astype(np.float32)


def sketch_inverted(images: np.ndarray, gap: float, rng: np.random.Generator) -> np.ndarray:
    r"""Sketch modality with dark strokes on white paper.

    .. math:: T_g(x) = (1 - g)\, x + g\, (1 - E(x))

    Examples
    --------
    >>> x = np.zeros((1, 3, 3))
    >>> sketch_inverted(x, 1.0, np.random.default_rng(0))[0, 0].tolist()
    [1.0, 1.0, 1.0]
    """
    x, g = _check_images(images), check_gap(gap)
    return ((1 - g) * x + g * (1 - edge_map(x))).astype(np.float32)


def _blur_matrix(size: int, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return np.eye(size)
    d = np.arange(size)[:, None] - np.arange(size)[None, :]
    w = np.exp(-(d**2) / (2 * sigma**2))
    return w / w.sum(axis=1, keepdims=True)


def _block_matrix(size: int, factor: int) -> np.ndarray:
    same = (np.arange(size)[:, None] // factor) == (np.arange(size)[None, :] // factor)
    return same / same.sum(axis=1, keepdims=True)


def _separable(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return rows @ x @ cols.T  # (H, H) @ (n, H, W) @ (W, W), broadcast over n


def depth(images: np.ndarray, gap: float, rng: np.random.Generator) -> np.ndarray:
    r"""Depth-like modality: blur, then pixelation, then noise, all growing with the gap.

    .. math::
        T_g(x) = \mathrm{clip}_{[0,1]}\big((1-g)\, B_{g\sigma}x + g\, P\, B_{g\sigma}x
        + g\, s\, \varepsilon\big)

    :math:`B_\sigma` is a separable Gaussian blur (weights renormalised at the border) with
    :math:`\sigma = g \cdot \min(H, W)/8`; :math:`P` averages :math:`f \times f` blocks with
    :math:`f = \max(2, \mathrm{round}(\min(H, W)/7))` and upsamples by repetition (a coarse
    sensor); :math:`\varepsilon \sim N(0, I)` is drawn from ``rng`` per pixel and
    :math:`s = 0.1`. Blending P with weight g keeps the map continuous in g (our choice).

    Examples
    --------
    >>> x = np.random.default_rng(0).random((2, 8, 8))
    >>> y = depth(x, 1.0, np.random.default_rng(0))
    >>> y.shape, bool(y.min() >= 0 and y.max() <= 1)
    ((2, 8, 8), True)
    """
    x, g = _check_images(images), check_gap(gap)
    h, w = x.shape[1:]
    noise = rng.standard_normal(x.shape)
    sigma = g * DEPTH_MAX_BLUR * min(h, w)
    blurred = _separable(x.astype(np.float64), _blur_matrix(h, sigma), _blur_matrix(w, sigma))
    factor = max(2, round(min(h, w) / 7))
    coarse = _separable(blurred, _block_matrix(h, factor), _block_matrix(w, factor))
    out = (1 - g) * blurred + g * coarse + g * DEPTH_MAX_NOISE * noise
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _overlap(size: int, centres: np.ndarray, side: float) -> np.ndarray:
    lo, hi = centres[:, None] - side / 2, centres[:, None] + side / 2
    pix = np.arange(size)[None, :]
    return np.clip(np.minimum(pix + 1, hi) - np.maximum(pix, lo), 0.0, 1.0)


def occlusion(images: np.ndarray, gap: float, rng: np.random.Generator) -> np.ndarray:
    r"""Occlusion modality: a zero-filled square patch per image whose side grows with the gap.

    .. math:: T_g(x)_{ij} = x_{ij}\,(1 - a_{ij}(g)), \quad s(g) = 0.75\, g \min(H, W)

    :math:`a_{ij}` is the fraction of pixel (i, j) covered by the square of side
    :math:`s(g)`, so the patch edge is anti-aliased and the map is continuous in g (our
    choice). Centres are drawn from ``rng`` per image so that the largest square fits.

    Examples
    --------
    >>> x = np.ones((1, 8, 8))
    >>> y = occlusion(x, 1.0, np.random.default_rng(0))
    >>> float(round(1 - y.mean(), 4))  # occluded area share: 0.75**2
    0.5625
    """
    x, g = _check_images(images), check_gap(gap)
    n, h, w = x.shape
    s_max = OCCLUSION_MAX_SIDE * min(h, w)
    cy = rng.uniform(s_max / 2, h - s_max / 2, size=n)
    cx = rng.uniform(s_max / 2, w - s_max / 2, size=n)
    side = g * s_max
    cover = _overlap(h, cy, side)[:, :, None] * _overlap(w, cx, side)[:, None, :]
    return (x * (1 - cover)).astype(np.float32)


GAP_FAMILIES: dict[str, GapTransform] = {
    "sketch": sketch,
    "sketch_inverted": sketch_inverted,
    "depth": depth,
    "occlusion": occlusion,
}
"""Registry of modality-gap families: name -> ``T(images, gap, rng) -> images``."""


def apply_gap(images: np.ndarray, gap: float, family: str, rng: np.random.Generator) -> np.ndarray:
    """Apply the registered family ``family`` at ``gap`` (checks the name and the gap).

    Examples
    --------
    >>> x = np.random.default_rng(0).random((3, 8, 8))
    >>> apply_gap(x, 0.3, "occlusion", np.random.default_rng(1)).shape
    (3, 8, 8)
    """
    if family not in GAP_FAMILIES:
        raise ValueError(f"unknown gap family {family!r}; valid families: {sorted(GAP_FAMILIES)}")
    return GAP_FAMILIES[family](images, check_gap(gap), rng)


def plot_modality_gap_examples(
    image: np.ndarray,
    gaps: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
    families: Sequence[str] | None = None,
    seed: int = 0,
) -> Any:
    """Grid figure of one image under every family (rows) at several gaps (columns).

    Each panel shows ``apply_gap(image[None], gap, family, default_rng(seed))[0]``.

    Examples
    --------
    >>> fig = plot_modality_gap_examples(np.zeros((8, 8)), gaps=(0.0, 1.0))
    >>> len(fig.axes)
    8
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    import matplotlib.pyplot as plt

    families = list(GAP_FAMILIES) if families is None else list(families)
    fig, axes = plt.subplots(
        len(families), len(gaps), figsize=(1.6 * len(gaps), 1.6 * len(families)), squeeze=False
    )
    for row, family in zip(axes, families, strict=True):
        for ax, gap in zip(row, gaps, strict=True):
            panel = apply_gap(np.asarray(image)[None], gap, family, np.random.default_rng(seed))
            ax.imshow(panel[0], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"gap {gap:g}", fontsize=8)
        row[0].set_ylabel(family, fontsize=8)
    fig.tight_layout()
    return fig
