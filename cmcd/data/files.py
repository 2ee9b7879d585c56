"""The user's own paired arrays from ``.npz``, CSV or parquet files.

Files are read without unpickling anything (``np.load(..., allow_pickle=False)``; pandas
for the tables). Views are vectors unless ``source_shape`` / ``target_shape`` make them
(H, W) images (our choice). Labels are optional; unlabeled data gets ``y = None``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cmcd.data._base import DEFAULT_TEST_FRACTION, PairedDataset, ViewSpec, register
from cmcd.data._split import split_indices
from cmcd.seeding import rng_for

PathLike = str | os.PathLike


def _existing(path: PathLike | None, key: str) -> Path:
    if path is None:
        raise ValueError(f"option {key!r} is required (path to the file)")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{key}: file {str(p)!r} does not exist")
    return p


def _as_view(arr: np.ndarray, key: str, shape: Sequence[int] | None) -> tuple[np.ndarray, ViewSpec]:
    """Check one view (numeric, finite, >= 2-D) and shape it as a vector or (H, W) image."""
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or arr.ndim < 2:
        raise ValueError(
            f"{key} must be a numeric array of shape (n, ...), got {arr.dtype} "
            f"with shape {arr.shape}"
        )
    flat = arr.reshape(len(arr), -1)
    if shape is None:
        shape = arr.shape[1:] if arr.ndim == 3 else (flat.shape[1],)
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{key}_shape must be a sequence of ints, got {shape!r}") from None
    if len(shape) not in (1, 2) or int(np.prod(shape)) != flat.shape[1]:
        raise ValueError(
            f"{key}: shape {shape} must be (d,) or (H, W) with {flat.shape[1]} values per row"
        )
    x = flat.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{key} contains NaN or inf values ({int((~np.isfinite(x)).sum())})")
    if len(shape) == 2:
        x = x / 255.0 if arr.dtype == np.uint8 else x
        if x.min() < 0 or x.max() > 1:
            raise ValueError(
                f"{key}: image values must lie in [0, 1] (or be uint8 0..255), "
                f"got range [{x.min():g}, {x.max():g}]"
            )
    kind = "image" if len(shape) == 2 else "vector"
    return x.reshape(len(x), *shape).astype(np.float32), ViewSpec(key, kind, shape)


def _encode_labels(labels: np.ndarray | None, n: int, key: str) -> tuple[np.ndarray | None, list]:
    """Map arbitrary label values to 0..C-1 (sorted order); check length and missing values."""
    if labels is None:
        return None, []
    labels = np.asarray(labels).reshape(-1) if np.ndim(labels) == 2 else np.asarray(labels)
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"{key}: {len(labels)} labels (shape {labels.shape}) for {n} pairs")
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
        raise ValueError(f"{key} contains NaN or inf labels")
    if labels.dtype == object and any(v is None or v != v for v in labels):
        raise ValueError(f"{key} contains missing labels")
    try:
        classes, y = np.unique(labels, return_inverse=True)
    except TypeError as err:
        raise ValueError(f"{key}: labels of mixed types cannot be ordered: {err}") from None
    return y.astype(np.int64), classes.tolist()


def _build(
    source: np.ndarray,
    target: np.ndarray,
    labels: np.ndarray | None,
    *,
    name: str,
    seed: int,
    shapes: tuple[Sequence[int] | None, Sequence[int] | None],
    test_fraction: float,
    label_key: str,
) -> PairedDataset:
    if len(source) < 2:
        raise ValueError(f"source must hold at least 2 rows (pairs), got {len(source)}")
    if len(source) != len(target):
        raise ValueError(f"unpaired views: source has {len(source)} rows, target has {len(target)}")
    xs, spec_s = _as_view(np.asarray(source), "source", shapes[0])
    xt, spec_t = _as_view(np.asarray(target), "target", shapes[1])
    y, classes = _encode_labels(labels, len(xs), label_key)
    train, test = split_indices(y, len(xs), test_fraction, rng_for(seed, "split"))
    info = {"classes": classes} if y is not None else {}
    return PairedDataset(xs, xt, y, spec_s, spec_t, train, test, name, info)


def _open_npz(path: Path) -> Any:
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"path: {str(path)!r} is not a readable .npz file: {err}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"path: {str(path)!r} holds a single array; save a .npz with np.savez")
    return archive


def _npz_array(archive: Any, key: str, option: str, path: Path) -> np.ndarray:
    if key not in archive.files:
        raise ValueError(
            f"{option}={key!r}: no such array in {str(path)!r}; "
            f"arrays present: {sorted(archive.files)}"
        )
    try:
        return archive[key]
    except ValueError as err:  # raised by numpy for pickled object arrays
        raise ValueError(
            f"{option}={key!r} in {str(path)!r} is a pickled object array; object arrays are "
            "refused for safety (files are read with allow_pickle=False): save numeric arrays"
        ) from err


@register("npz")
def npz(
    *,
    seed: int = 0,
    path: PathLike | None = None,
    source_key: str = "source",
    target_key: str = "target",
    labels_key: str | None = "labels",
    source_shape: Sequence[int] | None = None,
    target_shape: Sequence[int] | None = None,
    test_fraction: float = DEFAULT_TEST_FRACTION,
) -> PairedDataset:
    """Paired arrays from one ``.npz`` file (``np.savez``), read with ``allow_pickle=False``.

    Parameters
    ----------
    seed : int
        Fixes the (stratified when labeled) train/test split.
    path : str or os.PathLike
        The ``.npz`` file (required).
    source_key, target_key : str
        Names of the (n, ...) source and target arrays; row i of both is the same object.
    labels_key : str or None
        Name of the optional (n,) label array. With the default ``"labels"`` absent from the
        file, or None, the data are unlabeled; any other name must exist. Label values of
        any type are encoded as 0..C-1 in sorted order (originals in ``info["classes"]``).
    source_shape, target_shape : sequence of int or None
        ``(H, W)`` makes an image view (values in [0, 1], or uint8 divided by 255);
        ``(d,)`` or None keeps a vector (3-D arrays default to images).
    test_fraction : float
        Held-out share (per class when labeled).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        Pickled object arrays, a missing key, unpaired lengths, labels of the wrong
        length, NaN values or a bad shape.

    Examples
    --------
    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "pairs.npz")
    >>> np.savez(f, source=np.ones((6, 3)), target=np.zeros((6, 2)))
    >>> ds = npz(path=f)
    >>> ds.x_source.shape, ds.y is None, len(ds.test_idx)
    ((6, 3), True, 2)
    """
    p = _existing(path, "path")
    with _open_npz(p) as archive:
        source = _npz_array(archive, source_key, "source_key", p)
        target = _npz_array(archive, target_key, "target_key", p)
        if labels_key not in (None, "labels") and labels_key not in archive.files:
            _npz_array(archive, labels_key, "labels_key", p)  # raises: names the arrays present
        has_labels = labels_key is not None and labels_key in archive.files
        labels = _npz_array(archive, labels_key, "labels_key", p) if has_labels else None
    return _build(
        source,
        target,
        labels,
        name=f"npz:{p.name}",
        seed=seed,
        shapes=(source_shape, target_shape),
        test_fraction=test_fraction,
        label_key=f"labels_key={labels_key!r}",
    )


def _read_table(path: Path, reader: Callable[[Path], Any], key: str) -> Any:
    try:
        return reader(path)
    except (ValueError, OSError, ImportError) as err:
        raise ValueError(f"{key}: could not read {str(path)!r}: {err}") from None


def _numeric(frame: Any, key: str, drop: str | None = None) -> np.ndarray:
    frame = frame.drop(columns=[drop]) if drop is not None and drop in frame.columns else frame
    bad = [c for c in frame.columns if frame[c].dtype.kind not in "biuf"]
    if bad:
        raise ValueError(f"{key}: columns {bad[:5]} are not numeric")
    return frame.to_numpy()


def _table_labels(
    readers: Callable[[Path], Any],
    frames: tuple[Any, Any],
    labels_path: PathLike | None,
    label_column: str | None,
) -> np.ndarray | None:
    if labels_path is not None:
        lab = _read_table(_existing(labels_path, "labels_path"), readers, "labels_path")
        column = label_column if label_column is not None else lab.columns[0]
        if column not in lab.columns or (label_column is None and lab.shape[1] != 1):
            raise ValueError(
                f"labels_path: need one column or label_column, got {list(lab.columns)}"
            )
        return lab[column].to_numpy()
    if label_column is None:
        return None
    if label_column not in frames[0].columns:
        raise ValueError(f"label_column {label_column!r} is not a column of the source file")
    labels = frames[0][label_column].to_numpy()
    if label_column in frames[1].columns and not np.array_equal(
        frames[1][label_column].to_numpy(), labels
    ):
        raise ValueError(f"label_column {label_column!r} differs between source and target")
    return labels


def _tables(
    reader: Callable[[Path], Any],
    fmt: str,
    *,
    seed: int,
    source_path: PathLike | None,
    target_path: PathLike | None,
    labels_path: PathLike | None,
    label_column: str | None,
    source_shape: Sequence[int] | None,
    target_shape: Sequence[int] | None,
    test_fraction: float,
) -> PairedDataset:
    paths = (_existing(source_path, "source_path"), _existing(target_path, "target_path"))
    frames = tuple(
        _read_table(p, reader, k)
        for p, k in zip(paths, ("source_path", "target_path"), strict=True)
    )
    labels = _table_labels(reader, frames, labels_path, label_column)
    drop = label_column if labels_path is None else None
    source = _numeric(frames[0], "source_path", drop)
    target = _numeric(frames[1], "target_path", drop)
    return _build(
        source,
        target,
        labels,
        name=f"{fmt}:{paths[0].name}|{paths[1].name}",
        seed=seed,
        shapes=(source_shape, target_shape),
        test_fraction=test_fraction,
        label_key="labels_path" if labels_path is not None else "label_column",
    )


@register("csv")
def csv(
    *,
    seed: int = 0,
    source_path: PathLike | None = None,
    target_path: PathLike | None = None,
    labels_path: PathLike | None = None,
    label_column: str | None = None,
    source_shape: Sequence[int] | None = None,
    target_shape: Sequence[int] | None = None,
    test_fraction: float = DEFAULT_TEST_FRACTION,
) -> PairedDataset:
    """Paired views from two CSV files with a header row and numeric columns.

    Labels (our choice, both supported): ``labels_path`` names a separate file holding one
    column (or the column ``label_column``); without ``labels_path``, ``label_column`` names
    a column of the source file, removed from the features (and from the target file too,
    where it must then agree). Neither given: unlabeled (``y = None``). Other options,
    errors and the label encoding are as in :func:`npz`.

    Examples
    --------
    >>> import tempfile, os, pandas as pd
    >>> d = tempfile.mkdtemp()
    >>> pd.DataFrame({"a": [0.0, 1, 2, 3], "y": [0, 1, 0, 1]}).to_csv(f"{d}/s.csv", index=False)
    >>> pd.DataFrame({"b": [1.0, 2, 3, 4]}).to_csv(f"{d}/t.csv", index=False)
    >>> ds = csv(source_path=f"{d}/s.csv", target_path=f"{d}/t.csv", label_column="y")
    >>> ds.source.shape, ds.y.tolist()
    ((1,), [0, 1, 0, 1])
    """
    import pandas as pd

    return _tables(
        pd.read_csv,
        "csv",
        seed=seed,
        source_path=source_path,
        target_path=target_path,
        labels_path=labels_path,
        label_column=label_column,
        source_shape=source_shape,
        target_shape=target_shape,
        test_fraction=test_fraction,
    )


@register("parquet")
def parquet(
    *,
    seed: int = 0,
    source_path: PathLike | None = None,
    target_path: PathLike | None = None,
    labels_path: PathLike | None = None,
    label_column: str | None = None,
    source_shape: Sequence[int] | None = None,
    target_shape: Sequence[int] | None = None,
    test_fraction: float = DEFAULT_TEST_FRACTION,
) -> PairedDataset:
    """Paired views from two parquet files (needs pyarrow); options as in :func:`csv`.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> d = tempfile.mkdtemp()
    >>> pd.DataFrame({"a": [0.0, 1, 2, 3]}).to_parquet(f"{d}/s.parquet")
    >>> pd.DataFrame({"b": [1.0, 2, 3, 4]}).to_parquet(f"{d}/t.parquet")
    >>> parquet(source_path=f"{d}/s.parquet", target_path=f"{d}/t.parquet").n_samples
    4
    """
    import pandas as pd

    return _tables(
        pd.read_parquet,
        "parquet",
        seed=seed,
        source_path=source_path,
        target_path=target_path,
        labels_path=labels_path,
        label_column=label_column,
        source_shape=source_shape,
        target_shape=target_shape,
        test_fraction=test_fraction,
    )
