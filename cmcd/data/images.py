"""Real images with a controlled modality gap: scikit-learn's digits and Fashion-MNIST.

Source = the clean image in [0, 1]; target = ``T_gap(image)`` for a family of
:data:`cmcd.data.transforms.GAP_FAMILIES`. ``gap = 0`` makes the target identical to the
source; the gap moves the target modality continuously away from it.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np

from cmcd._checks import check_count
from cmcd.data._base import DEFAULT_TEST_FRACTION, PairedDataset, ViewSpec, register
from cmcd.data._sampling import split_indices, stratified_subsample
from cmcd.data.transforms import GAP_FAMILIES, apply_gap, check_gap
from cmcd.seeding import rng_for

__all__ = ["digits", "fashion", "FASHION_ROOT", "load_fashion_mnist", "read_idx"]

FASHION_ROOT = "/usr/share/datasets/fashion-mnist"
"""Where Debian's ``dataset-fashion-mnist`` package installs the IDX files."""

_IDX_DTYPES: dict[int, type[np.generic] | str] = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def read_idx(path: str | Path) -> np.ndarray:
    """Parse a gzip-compressed IDX file (the MNIST format) with numpy.

    The header is two zero bytes, a type code, the number of dimensions and one big-endian
    uint32 per dimension; the data follow in C order.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "toy.gz")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]))
    >>> read_idx(path).tolist()
    [[1, 2, 3], [4, 5, 6]]
    """
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    data = np.frombuffer(raw, dtype, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header announces shape {dims} but holds {data.size} values")
    return data.reshape(dims)


def _fashion_path(root: str | Path, part: str, kind: str) -> Path:
    name = {"images": "images-idx3", "labels": "labels-idx1"}[kind]
    path = Path(root) / f"{part}-{name}-ubyte.gz"
    if not path.is_file():
        raise FileNotFoundError(
            f"Fashion-MNIST file {path} (option root={str(root)!r}) is missing; install it with "
            "`apt-get install dataset-fashion-mnist` (or `make setup`)"
        )
    return path


@functools.lru_cache(maxsize=2)
def load_fashion_mnist(root: str = FASHION_ROOT) -> tuple[np.ndarray, np.ndarray]:
    """All 70000 Fashion-MNIST images (uint8, (70000, 28, 28)) and labels (int64).

    The official train (60000) and t10k (10000) parts are concatenated (our choice: we
    draw our own seeded split). Cached; the returned arrays are read-only.

    Raises
    ------
    FileNotFoundError
        If a file is missing (the message names it and the apt package).

    Examples
    --------
    >>> x, y = load_fashion_mnist()  # doctest: +SKIP
    >>> x.shape, y.shape  # doctest: +SKIP
    ((70000, 28, 28), (70000,))
    """
    parts = [
        (
            read_idx(_fashion_path(root, part, "images")),
            read_idx(_fashion_path(root, part, "labels")),
        )
        for part in ("train", "t10k")
    ]
    for images, labels in parts:
        if images.ndim != 3 or len(images) != len(labels):
            raise ValueError(f"Fashion-MNIST files under {root} are inconsistent")
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts]).astype(np.int64)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def _gap_dataset(
    images: np.ndarray,
    y: np.ndarray,
    name: str,
    *,
    seed: int,
    gap: float,
    family: str,
    test_fraction: float,
) -> PairedDataset:
    source = images.astype(np.float32)
    target = apply_gap(source, gap, family, rng_for(seed, "gap"))
    shape = source.shape[1:]
    train, test = split_indices(y, len(y), test_fraction, rng_for(seed, "split"))
    return PairedDataset(
        source,
        target,
        y.astype(np.int64),
        ViewSpec("image", "image", shape),
        ViewSpec(family, "image", shape),
        train,
        test,
        f"{name}:{family}@{gap:g}",
        {"gap": gap, "family": family},
    )


def _check_family(family: object) -> str:
    if family not in GAP_FAMILIES:
        raise ValueError(f"family: unknown gap family {family!r}; valid: {sorted(GAP_FAMILIES)}")
    return str(family)


def _subsample(y: np.ndarray, n_samples: int | None, seed: int) -> np.ndarray:
    if n_samples is None:
        return np.arange(len(y))
    n = check_count(n_samples, "n_samples", minimum=2)
    if n > len(y):
        raise ValueError(f"n_samples must be at most {len(y)} for this dataset, got {n}")
    return stratified_subsample(y, n, rng_for(seed, "subsample"))


@register("digits")
def digits(
    *,
    seed: int = 0,
    gap: float = 0.5,
    family: str = "occlusion",
    n_samples: int | None = None,
    test_fraction: float = DEFAULT_TEST_FRACTION,
) -> PairedDataset:
    r"""scikit-learn's 8x8 digits (1797 images) paired with a gap-transformed copy.

    .. math:: x_{\text{source}} = x / 16, \qquad x_{\text{target}} = T_{\text{gap}}(x / 16)

    Parameters
    ----------
    seed : int
        Fixes the subsample, the random parts of the transform and the split.
    gap : float
        Modality gap in [0, 1]; 0 gives a target identical to the source.
    family : str
        A key of :data:`GAP_FAMILIES` (``sketch``, ``sketch_inverted``, ``depth``,
        ``occlusion``). Default ``occlusion`` (our choice): with ``sketch`` the gap hardly
        changes the target error on 8x8 digits, so a gap sweep on defaults would show nothing.
    n_samples : int or None
        Stratified subsample size by seed; None keeps all 1797 images.
    test_fraction : float
        Held-out share of each class (default 0.3, our choice).

    References
    ----------
    Alpaydin, E. and Kaynak, C. "Optical Recognition of Handwritten Digits", UCI (1998).

    Examples
    --------
    >>> ds = digits(gap=1.0, family="occlusion", n_samples=50)
    >>> ds.x_target.shape, ds.target.name, ds.info["gap"]
    ((50, 8, 8), 'occlusion', 1.0)
    """
    from sklearn.datasets import load_digits

    gap, family = check_gap(gap), _check_family(family)
    bunch = load_digits()
    idx = _subsample(bunch.target, n_samples, seed)
    images = bunch.images[idx] / 16.0
    return _gap_dataset(
        images,
        bunch.target[idx],
        "digits",
        seed=seed,
        gap=gap,
        family=family,
        test_fraction=test_fraction,
    )


@register("fashion")
def fashion(
    *,
    seed: int = 0,
    gap: float = 0.5,
    family: str = "occlusion",
    n_samples: int | None = 6000,
    root: str = FASHION_ROOT,
    test_fraction: float = DEFAULT_TEST_FRACTION,
) -> PairedDataset:
    r"""Fashion-MNIST (28x28) paired with a gap-transformed copy.

    .. math:: x_{\text{source}} = x / 255, \qquad x_{\text{target}} = T_{\text{gap}}(x / 255)

    Parameters
    ----------
    seed : int
        Fixes the subsample, the random parts of the transform and the split.
    gap, family : float, str
        As in :func:`digits`.
    n_samples : int or None
        Stratified subsample of the 70000 images by seed (default 6000, our choice, to keep
        CPU runs short); None keeps all.
    root : str
        Folder of the ``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`` files.
    test_fraction : float
        Held-out share of each class (default 0.3, our choice).

    Raises
    ------
    FileNotFoundError
        If a file is missing: ``apt-get install dataset-fashion-mnist``.

    References
    ----------
    Xiao, H., Rasul, K. and Vollgraf, R. "Fashion-MNIST", arXiv:1708.07747 (2017).

    Examples
    --------
    >>> ds = fashion(n_samples=100, family="depth")  # doctest: +SKIP
    >>> ds.x_source.shape, ds.n_classes  # doctest: +SKIP
    ((100, 28, 28), 10)
    """
    gap, family = check_gap(gap), _check_family(family)
    x, y = load_fashion_mnist(str(root))
    idx = _subsample(y, n_samples, seed)
    return _gap_dataset(
        x[idx] / np.float32(255.0),
        y[idx],
        "fashion",
        seed=seed,
        gap=gap,
        family=family,
        test_fraction=test_fraction,
    )
