"""The user's own paired arrays from ``.npz``, CSV or parquet files.

Files are read without unpickling anything (``np.load(..., allow_pickle=False)``; pandas
for the tables). Views are vectors unless ``source_shape`` / ``target_shape`` make them
(H, W) images (our choice). Labels are optional; unlabeled data gets ``y = None``.

One reader serves the datasets and the ``cmcd tv`` command (:func:`read_table`,
:func:`read_array`). Its rules for CSV files (our choices):

- ``header="infer"`` (default) takes the first row as column names unless every cell of it is
  a number, in which case it is data; the one exception is the row ``0,1,...,d-1``, which is
  what pandas writes for a frame with default column labels and is taken as names. Pass
  ``header=True`` or ``header=False`` to decide explicitly.
- ``index_col=None`` (default) refuses a leading column with no name holding integers: that is
  the index pandas writes with ``df.to_csv(path)``, never a feature. Pass ``index_col=0`` to
  drop it (or a column name), or give the column a name to keep it as a feature.
- Every remaining column must be numeric; text columns are refused by name. A file that reads
  as one text column holding ``;``, tab or ``|`` separators is refused as another CSV dialect
  (the message names the separator): cmcd reads comma-separated files only.
"""

from __future__ import annotations

import csv as _csv
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cmcd.data._base import DEFAULT_TEST_FRACTION, PairedDataset, ViewSpec, register
from cmcd.data._sampling import split_indices
from cmcd.seeding import rng_for

__all__ = ["csv", "npz", "parquet", "read_array", "read_table"]

PathLike = str | os.PathLike
Header = str | bool
IndexCol = int | str | None

_MAGIC = {".npy": (b"\x93NUMPY",), ".npz": (b"PK\x03\x04", b"PK\x05\x06")}
"""First bytes of the binary NumPy formats: a ``.npy`` header and a zip archive."""


def _existing(path: PathLike | None, key: str) -> Path:
    if path is None:
        raise ValueError(f"option {key!r} is required (path to the file)")
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{key}: {str(p)!r} is a directory, not a file")
    if not p.is_file():
        raise FileNotFoundError(f"{key}: file {str(p)!r} does not exist")
    return p


def _check_magic(path: Path, suffix: str, key: str) -> None:
    """Refuse a file that starts like no NumPy file (e.g. text named ``.npy``).

    Which of ``.npy`` / ``.npz`` it is, the reader checks next (with a message of its own).
    """
    with path.open("rb") as handle:
        start = handle.read(6)
    if not any(start.startswith(m) for magics in _MAGIC.values() for m in magics):
        raise ValueError(
            f"{key}: {str(path)!r} is not a {suffix} file (it lacks the NumPy {suffix} header; "
            f"a text file? save arrays with np.save/np.savez, or name a table .csv)"
        )


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
    _check_magic(path, ".npz", "path")
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


def _pandas(call: Callable[[], Any], path: Path, key: str) -> Any:
    """Run a reading call; turn its errors into a ``ValueError`` naming the file."""
    try:
        return call()
    except (ValueError, OSError, ImportError, LookupError) as err:
        raise ValueError(f"{key}: could not read {str(path)!r}: {err}") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _first_row(path: Path) -> list[str]:
    with path.open(newline="") as handle:
        return next(_csv.reader(handle), [])


def _has_header(path: Path, header: Header, key: str) -> bool:
    """Decide whether the first CSV row holds names (rules in the module docstring)."""
    if isinstance(header, bool):
        return header
    if header != "infer":
        raise ValueError(f"{key}: header must be 'infer', true or false, got {header!r}")
    row = _pandas(lambda: _first_row(path), path, key)
    if not row or not all(_is_number(cell) for cell in row):
        return True
    return [float(cell) for cell in row] == list(range(len(row)))


def _check_index_column(frame: Any, path: Path, key: str) -> None:
    """Refuse pandas' index written by ``df.to_csv(path)``: an unnamed leading integer column."""
    if frame.shape[1] == 0:
        return
    first = frame.columns[0]
    if str(first).startswith("Unnamed: 0") and frame[first].dtype.kind in "iu":
        raise ValueError(
            f"{key}: the first column of {str(path)!r} has no name and holds integers: it is "
            "the index pandas writes with df.to_csv(path), not a feature. Pass index_col=0 to "
            "drop it (cmcd tv: --index-col 0), or name the column to keep it as a feature"
        )


_OTHER_DELIMITERS = (";", "\t", "|")
"""Separators of other CSV dialects, named when a file reads as one text column."""


def _check_delimiter(frame: Any, path: Path, key: str) -> None:
    """Refuse a file of another separator, which pandas reads as one text column.

    The sign (our rule): one non-numeric column whose first value holds a separator of
    :data:`_OTHER_DELIMITERS` as often as its name does (or whose name is pandas' label ``0``
    of a headerless file).
    """
    if frame.shape[1] != 1 or frame.shape[0] == 0 or frame.iloc[:, 0].dtype.kind in "biuf":
        return
    name, first = str(frame.columns[0]), str(frame.iloc[0, 0])
    for sep in _OTHER_DELIMITERS:
        count = first.count(sep)
        if count and (name.count(sep) == count or name == "0"):
            raise ValueError(
                f"{key}: {str(path)!r} looks like {sep!r}-separated (it reads as one column "
                f"{name!r}); cmcd reads comma-separated files: convert it, e.g. "
                f"pandas.read_csv(path, sep={sep!r}).to_csv(new_path, index=False)"
            )


def _read_csv(path: Path, key: str, header: Header, index_col: IndexCol) -> Any:
    import pandas as pd

    has_header = _has_header(path, header, key)
    options = {"header": 0 if has_header else None, "index_col": index_col}
    frame = _pandas(lambda: pd.read_csv(path, **options), path, key)
    frame.columns = [str(c) for c in frame.columns]
    _check_delimiter(frame, path, key)
    if index_col is None:
        _check_index_column(frame, path, key)
    return frame.reset_index(drop=True)


def _read_parquet(path: Path, key: str, header: Header, index_col: IndexCol) -> Any:
    import pandas as pd

    if header is not True and header != "infer":
        raise ValueError(f"{key}: header={header!r}, but parquet files always name columns")
    # pandas restores a stored index as the index, not as a column
    frame = _pandas(lambda: pd.read_parquet(path), path, key)
    if index_col is not None:
        names = list(frame.columns)
        valid = index_col in names or (isinstance(index_col, int) and 0 <= index_col < len(names))
        if not valid:
            raise ValueError(f"{key}: index_col {index_col!r} is not a column of {str(path)!r}")
        frame = frame.drop(columns=[index_col if index_col in names else names[index_col]])
    return frame.reset_index(drop=True)


TABLE_READERS: dict[str, Callable[[Path, str, Header, IndexCol], Any]] = {
    "csv": _read_csv,
    "parquet": _read_parquet,
}
"""Table format -> reader ``reader(path, key, header, index_col) -> DataFrame``."""


def read_table(
    path: PathLike | None,
    fmt: str,
    *,
    key: str = "path",
    header: Header = "infer",
    index_col: IndexCol = None,
) -> Any:
    r"""Read a CSV or parquet table under the rules of the module docstring.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    fmt : {"csv", "parquet"}
        Its format (a key of :data:`TABLE_READERS`).
    key : str
        How the caller names the file, used in messages.
    header : {"infer", True, False}
        Whether the first CSV row holds column names (``"infer"``: see the module docstring).
    index_col : int, str or None
        A column to drop as an index; None refuses pandas' unnamed integer index column.

    Returns
    -------
    pandas.DataFrame
        With string column names and a fresh ``RangeIndex``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        For a directory, an unreadable file, a file separated by another delimiter than
        ``,``, or pandas' index column with ``index_col=None``.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> f = tempfile.mkdtemp() + "/t.csv"
    >>> _ = open(f, "w").write("1.5,2\n3,4\n")
    >>> read_table(f, "csv").shape  # a numeric first row is data
    (2, 2)
    """
    p = _existing(path, key)
    if fmt not in TABLE_READERS:
        raise ValueError(f"unknown table format {fmt!r}; valid formats: {sorted(TABLE_READERS)}")
    return TABLE_READERS[fmt](p, key, header, index_col)


def _numeric(frame: Any, key: str, drop: str | None = None) -> np.ndarray:
    frame = frame.drop(columns=[drop]) if drop is not None and drop in frame.columns else frame
    bad = [c for c in frame.columns if frame[c].dtype.kind not in "biuf"]
    if bad:
        raise ValueError(
            f"{key}: columns {bad[:5]} are not numeric (text columns are refused, not dropped)"
        )
    return frame.to_numpy()


def _table_labels(
    read: Callable[[PathLike, str], Any],
    frames: tuple[Any, Any],
    labels_path: PathLike | None,
    label_column: str | None,
) -> np.ndarray | None:
    if labels_path is not None:
        lab = read(labels_path, "labels_path")
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
    fmt: str,
    *,
    seed: int,
    paths: tuple[PathLike | None, PathLike | None, PathLike | None],
    label_column: str | None,
    shapes: tuple[Sequence[int] | None, Sequence[int] | None],
    test_fraction: float,
    header: Header,
    index_col: IndexCol,
) -> PairedDataset:
    def read(path: PathLike | None, key: str) -> Any:
        return read_table(path, fmt, key=key, header=header, index_col=index_col)

    source_path, target_path, labels_path = paths
    frames = (read(source_path, "source_path"), read(target_path, "target_path"))
    labels = _table_labels(read, frames, labels_path, label_column)
    drop = label_column if labels_path is None else None
    return _build(
        _numeric(frames[0], "source_path", drop),
        _numeric(frames[1], "target_path", drop),
        labels,
        name=f"{fmt}:{Path(source_path).name}|{Path(target_path).name}",
        seed=seed,
        shapes=shapes,
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
    header: str | bool = "infer",
    index_col: int | str | None = None,
) -> PairedDataset:
    """Paired views from two CSV files with numeric columns.

    Labels (our choice, both supported): ``labels_path`` names a separate file holding one
    column (or the column ``label_column``); without ``labels_path``, ``label_column`` names
    a column of the source file, removed from the features (and from the target file too,
    where it must then agree). Neither given: unlabeled (``y = None``). ``header`` and
    ``index_col`` apply to every file read (rules in the module docstring); text columns
    are refused by name. Other options, errors and the label encoding are as in :func:`npz`.

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
    return _tables(
        "csv",
        seed=seed,
        paths=(source_path, target_path, labels_path),
        label_column=label_column,
        shapes=(source_shape, target_shape),
        test_fraction=test_fraction,
        header=header,
        index_col=index_col,
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
    index_col: int | str | None = None,
) -> PairedDataset:
    """Paired views from two parquet files (needs pyarrow); options as in :func:`csv`.

    A stored pandas index is restored as the index, never a feature; ``index_col`` drops a
    further column.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> d = tempfile.mkdtemp()
    >>> pd.DataFrame({"a": [0.0, 1, 2, 3]}).to_parquet(f"{d}/s.parquet")
    >>> pd.DataFrame({"b": [1.0, 2, 3, 4]}).to_parquet(f"{d}/t.parquet")
    >>> parquet(source_path=f"{d}/s.parquet", target_path=f"{d}/t.parquet").n_samples
    4
    """
    return _tables(
        "parquet",
        seed=seed,
        paths=(source_path, target_path, labels_path),
        label_column=label_column,
        shapes=(source_shape, target_shape),
        test_fraction=test_fraction,
        header="infer",
        index_col=index_col,
    )


# ------------------------------------------------------------------ arrays for ``cmcd tv``
def _read_npy(path: Path, key: str, npz_key: str) -> np.ndarray:
    del npz_key  # a .npy file holds one array
    _check_magic(path, ".npy", key)
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:  # numpy refuses object arrays without allow_pickle
        raise ValueError(
            f"{key}: {str(path)!r} holds a pickled object array; object arrays are refused for "
            "safety (files are read with allow_pickle=False): save numeric arrays"
        ) from err
    except (OSError, EOFError) as err:
        raise ValueError(
            f"{key}: {str(path)!r} is a truncated or corrupt .npy file: {err}"
        ) from None


def _read_npz(path: Path, key: str, npz_key: str) -> np.ndarray:
    with _open_npz(path) as archive:
        if not npz_key:
            if len(archive.files) != 1:
                raise ValueError(
                    f"{key}: {str(path)!r} holds {sorted(archive.files)}; name one as {path}:KEY"
                )
            npz_key = archive.files[0]
        return _npz_array(archive, npz_key, key, path)


ARRAY_READERS: dict[str, Callable[[Path, str, str], np.ndarray]] = {
    ".npy": _read_npy,
    ".npz": _read_npz,
}
"""Binary suffix -> reader ``reader(path, key, npz_key) -> array``; tables use
:func:`read_table`."""


def read_array(
    spec: str, *, key: str = "file", header: Header = "infer", index_col: IndexCol = None
) -> np.ndarray:
    """Read one numeric sample from ``.npy``, ``.npz`` (``FILE.npz:KEY``), ``.csv`` or ``.parquet``.

    The reader of ``cmcd tv``: the same rules and refusals as the datasets (module docstring),
    nothing unpickled.

    Parameters
    ----------
    spec : str
        A file name; ``FILE.npz:KEY`` names an array of an archive (optional with one array).
    key : str
        How the caller names the file (``source``), used in messages.
    header, index_col
        As in :func:`read_table` (tables only).

    Returns
    -------
    numpy.ndarray
        A numeric array, one row per sample.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        A directory, an unsupported suffix, a file that is not what its suffix says, pickled
        or text arrays, text columns, or pandas' index column.

    Examples
    --------
    >>> import tempfile
    >>> f = tempfile.mkdtemp() + "/x.npy"
    >>> np.save(f, np.ones((3, 2)))
    >>> read_array(f).shape
    (3, 2)
    """
    path_str, _, npz_key = spec.partition(".npz:")
    path = _existing(path_str + ".npz" if npz_key else path_str, key)
    suffix = path.suffix.lower()
    if suffix in ARRAY_READERS:
        arr = ARRAY_READERS[suffix](path, key, npz_key)
    elif suffix[1:] in TABLE_READERS:
        frame = read_table(path, suffix[1:], key=key, header=header, index_col=index_col)
        arr = _numeric(frame, key)
    else:
        valid = sorted([*ARRAY_READERS, *(f".{fmt}" for fmt in TABLE_READERS)])
        raise ValueError(f"{key}: unsupported file type {suffix!r} of {str(path)!r}; use {valid}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{key}: {str(path)!r} holds {arr.dtype} values, not numbers")
    return arr
