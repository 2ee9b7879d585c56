"""The user's own paired arrays from ``.npz``, CSV or parquet files.

Files are read without unpickling anything (``np.load(..., allow_pickle=False)``; pandas
for the tables). Views are vectors unless ``source_shape`` / ``target_shape`` make them
(H, W) images (our choice). Labels are optional; unlabeled data gets ``y = None``.

One reader serves the datasets and the ``cmcd tv`` command (:func:`read_table`,
:func:`read_array`). Its rules (our choices):

- A file is read as what its first bytes say (``.npy`` header, zip archive for ``.npz``,
  ``PAR1`` for parquet), whatever its suffix; a zip holding no arrays, a gzip file or a
  binary file named ``.csv`` is refused by name. Unreadable, truncated or empty files are
  :class:`~cmcd._checks.DataError` s naming the file.
- CSV text: a UTF-8 byte-order mark is skipped, UTF-16 (with its BOM) is decoded, other
  non-UTF-8 text is read as Latin-1; leading blank lines and ``#`` comment lines (such as
  ``np.savetxt(header=...)`` writes) are skipped.
- ``header="infer"`` (default) takes the first row as column names unless every cell of it is
  a number. A numeric first row is still names when it is ``0,1,...,d-1`` (d >= 2: pandas'
  default column labels), or, with at least 8 rows below it, when every cell is unlike its
  column: an integer above a column of fractional numbers (``400,410,420`` over
  reflectances), or a value beyond the column's range by more than the range's width (one
  column needs both, or is ``0`` over fractional numbers: pandas' name of a Series). Some
  cells unlike their column and others not is refused as ambiguous. Pass ``header=True`` or
  ``header=False`` to decide explicitly.
- Rows one field longer than the header are R's ``write.table`` layout: the first field is
  the row name, dropped; empty fields past the header (trailing commas) are ignored; a
  first row shorter than the rows below (a title line) is refused. Columns with no name and
  no value are dropped.
- ``index_col=None`` (default) refuses a row index: a column with no name (``Unnamed: k``)
  holding integers or text, which is what ``df.to_csv(path)`` writes, or a first column (or
  one named ``index``/``level_0``) of the row numbers ``0..n-1`` or ``1..n``. Pass
  ``index_col=0`` (or a column name) to drop it; the further index columns of a file written
  by pandas more than once are then dropped too. A positional ``index_col`` refuses a column
  of fractional numbers (a feature: that file has no index) and leaves a one-column file as
  it is.
- Every remaining column must be numeric; text columns are refused by name. A file that reads
  as one text column holding ``;``, tab or ``|`` separators is refused as another CSV dialect
  (the message names the separator): cmcd reads comma-separated files only.
- What was decided (encoding, header, index and dropped columns, rows and columns read) is
  logged in one line per file to the ``cmcd.data.files`` logger at INFO; the CLI prints it on
  stderr.
"""

from __future__ import annotations

import csv as _csv
import itertools
import logging
import os
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

from cmcd._checks import DataError
from cmcd.data._base import DEFAULT_TEST_FRACTION, PairedDataset, ViewSpec, register
from cmcd.data._sampling import split_indices
from cmcd.seeding import rng_for

__all__ = ["csv", "npz", "parquet", "read_array", "read_table"]

PathLike = str | os.PathLike
Header = str | bool
IndexCol = int | str | None
_LOG = logging.getLogger(__name__)

_MAGIC = {
    ".npy": (b"\x93NUMPY",),
    ".npz": (b"PK\x03\x04", b"PK\x05\x06"),
    ".parquet": (b"PAR1",),
}
"""First bytes of the binary formats: a ``.npy`` header, a zip archive (``.npz``), parquet.
A file is read as what its first bytes say, whatever its suffix (our choice; the CLI says so)."""


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
    if _content_kind(path, key) not in (".npy", ".npz"):
        raise ValueError(
            f"{key}: {str(path)!r} is not a {suffix} file (it lacks the NumPy {suffix} header; "
            f"a text file? save arrays with np.save/np.savez, or name a table .csv)"
        )


def _content_kind(path: Path, key: str) -> str | None:
    """Return the suffix the first bytes of ``path`` belong to (:data:`_MAGIC`), else None."""
    start = _start(path, key)
    return next((kind for kind, magics in _MAGIC.items() if start.startswith(magics)), None)


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
    kind: Literal["image", "vector"] = "image" if len(shape) == 2 else "vector"
    return x.reshape(len(x), *shape).astype(np.float32), ViewSpec(key, kind, shape)


def _encode_labels(
    labels: np.ndarray | None, n: int, key: str, file: str = ""
) -> tuple[np.ndarray | None, list]:
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
    if len(classes) < 2:
        raise DataError(
            f"{key}{f' ({file!r})' if file else ''}: every one of the {n} labels is "
            f"{classes.tolist()[0]!r}: one class, and step 3 needs at least 2; check that it "
            "is the label file or column you meant"
        )
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
    label_file: str = "",
) -> PairedDataset:
    if len(source) < 2:
        raise ValueError(f"source must hold at least 2 rows (pairs), got {len(source)}")
    if len(source) != len(target):
        raise ValueError(f"unpaired views: source has {len(source)} rows, target has {len(target)}")
    xs, spec_s = _as_view(np.asarray(source), "source", shapes[0])
    xt, spec_t = _as_view(np.asarray(target), "target", shapes[1])
    y, classes = _encode_labels(labels, len(xs), label_key, label_file)
    train, test = split_indices(y, len(xs), test_fraction, rng_for(seed, "split"))
    info = {"classes": classes} if y is not None else {}
    return PairedDataset(xs, xt, y, spec_s, spec_t, train, test, name, info)


def _open_npz(path: Path, key: str = "path") -> Any:
    _check_magic(path, ".npz", key)
    try:
        archive = np.load(path, allow_pickle=False)
    except PermissionError as err:
        raise DataError(f"{key}: cannot read {str(path)!r} ({err.strerror})") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(
            f"{key}: {str(path)!r} is not a readable .npz file (truncated or corrupt?): {err}"
        ) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{key}: {str(path)!r} holds a single array; save a .npz with np.savez")
    if not any(name.endswith(".npy") for name in archive.zip.namelist()):  # type: ignore[union-attr]
        archive.close()
        raise DataError(
            f"{key}: {str(path)!r} is a zip archive holding no arrays (an Excel or other zip "
            "file?): save arrays with np.savez, or a table as .csv"
        )
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
        labels = _npz_array(archive, cast(str, labels_key), "labels_key", p) if has_labels else None
    return _build(
        source,
        target,
        labels,
        name=f"npz:{p.name}",
        seed=seed,
        shapes=(source_shape, target_shape),
        test_fraction=test_fraction,
        label_key=f"labels_key={labels_key!r}",
        label_file=str(p),
    )


def _pandas(call: Callable[[], Any], path: Path, key: str) -> Any:
    """Run a reading call; turn its errors into a :class:`DataError` naming the file."""
    try:
        return call()
    except PermissionError as err:
        raise DataError(
            f"{key}: cannot read {str(path)!r} ({err.strerror}): check its permissions"
        ) from None
    except (ValueError, OSError, ImportError, LookupError) as err:
        text = " ".join(str(err).split()) or type(err).__name__
        raise DataError(f"{key}: could not read {str(path)!r}: {text}") from None


def _start(path: Path, key: str, size: int = 8) -> bytes:
    """Return the first bytes of a file; an unreadable one is a :class:`DataError` naming it."""
    return _pandas(lambda: path.open("rb").read(size), path, key)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")
_MIN_EVIDENCE = 8
"""Rows under a numeric first row needed before its cells are compared with the columns."""
_SNIFF_ROWS = 1000
"""Rows the header and layout rules look at."""


@dataclass
class _Text:
    """What :func:`_sniff` saw of a CSV file: its encoding, comment lines, first rows."""

    encoding: str
    skip: int
    rows: list[list[str]]
    notes: list[str] = dc_field(default_factory=list)


def _sniff(path: Path, key: str) -> _Text:
    """Read the first rows of a text table: BOM, encoding, leading ``#`` comments or blanks."""
    start = _start(path, key, 1024)
    if start[:2] == b"\x1f\x8b":
        raise DataError(f"{key}: {str(path)!r} is gzip-compressed: decompress it (gunzip) first")
    if start[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = _Text("utf-16", 0, [], ["UTF-16 text"])
    else:
        if b"\x00" in start:
            raise DataError(
                f"{key}: {str(path)!r} is a binary file, not a text table: export it as CSV"
            )
        bom = start[:3] == b"\xef\xbb\xbf"
        text = _Text("utf-8-sig", 0, [], ["UTF-8 BOM skipped"] if bom else [])
    try:
        return _sniff_rows(path, key, text)
    except UnicodeDecodeError:
        return _sniff_rows(path, key, _Text("latin-1", 0, [], ["not UTF-8: read as Latin-1"]))


def _sniff_rows(path: Path, key: str, text: _Text) -> _Text:
    def read() -> _Text:
        with path.open(encoding=text.encoding, newline="") as handle:
            lines = iter(handle)
            for line in lines:
                if line.strip() and not line.lstrip().startswith("#"):
                    break
                text.skip += 1
            else:
                return text
            rows = _csv.reader(itertools.chain([line], lines))
            text.rows = [r for r in itertools.islice(rows, _SNIFF_ROWS + 1) if r]
        return text

    try:
        text = read()
    except UnicodeDecodeError:
        raise
    except (_csv.Error, OSError) as err:
        reason = getattr(err, "strerror", None) or err
        raise DataError(f"{key}: cannot read {str(path)!r} as a CSV file ({reason})") from None
    if text.skip:
        text.notes.append(f"{text.skip} leading comment or blank line(s) skipped")
    return text


def _cell_signs(first: list[str], body: list[list[str]]) -> list[tuple[bool, bool]]:
    """Per column: (an integer cell above fractional numbers, a cell far outside the range).

    *Far* (our rule): beyond the column's range by more than the range's width.
    """
    signs = []
    for j, cell in enumerate(first):
        cells = [r[j] for r in body if len(r) > j and _is_number(r[j])]
        if len(cells) < _MIN_EVIDENCE:
            signs.append((False, False))
            continue
        values = [float(c) for c in cells]
        fractional = sum(not _INTEGER.match(c) for c in cells) / len(cells)
        kind = bool(_INTEGER.match(cell)) and fractional >= 0.95
        low, high, v = min(values), max(values), float(cell)
        width = high - low
        far = (v < low - width or v > high + width) if width > 0 else v != low
        signs.append((kind, far))
    return signs


def _has_header(rows: list[list[str]], header: Header, key: str, path: Path) -> tuple[bool, str]:
    """Decide whether the first CSV row holds names (rules in the module docstring)."""
    if isinstance(header, bool):
        return header, "as asked"
    if header != "infer":
        raise ValueError(f"{key}: header must be 'infer', true or false, got {header!r}")
    first, body = rows[0], rows[1:]
    if not all(_is_number(cell) for cell in first):
        return True, "the first row holds names"
    if len(first) >= 2 and [float(cell) for cell in first] == list(range(len(first))):
        return True, "the first row is 0..d-1, pandas' default column names"
    signs = _cell_signs(first, body)
    odd = [kind or far for kind, far in signs]
    one_column = len(first) == 1 and not (all(signs[0]) or (signs[0][0] and first[0] == "0"))
    if all(odd) and not one_column:
        return True, f"the first row {first[:4]} is numbers unlike the columns below it"
    if not any(odd):
        return False, "the first row is numbers like the rows below it: data"
    raise ValueError(
        f"{key}: cannot tell whether the first row of {str(path)!r} ({','.join(first[:4])}) "
        "names the columns or is data (some of its numbers are unlike the columns below it): "
        "pass header=true or header=false (cmcd tv: --header yes / --header no)"
    )


def _layout(rows: list[list[str]], has_header: bool, key: str, path: Path) -> str:
    """Return ``plain``, ``trailing`` or ``rownames``: how body rows extend past the header.

    ``trailing``: every row ends with empty fields (trailing commas); ``rownames``: rows hold
    one more field than the header, row names (R's ``write.table``).
    """
    body = rows[1:] if has_header else []
    width = len(rows[0])
    extra = max((len(r) for r in body), default=width) - width
    if extra <= 0:
        return "plain"
    if all(not cell.strip() for r in body for cell in r[width:]):
        return "trailing"
    names = [r[0] for r in body if len(r) == width + 1]
    if (
        extra == 1
        and len(names) == len(body)
        and not any(_is_number(c) and not _INTEGER.match(c) for c in names)
    ):
        return "rownames"
    raise DataError(
        f"{key}: the first row of {str(path)!r} names {width} columns but rows below hold up "
        f"to {width + extra} values (a title line, or a missing name?): fix the file's first "
        "line, or pass header=false (cmcd tv: --header no) if it is data"
    )


def _log(path: Path, notes: list[str], frame: Any) -> None:
    """Say in one line what was decided about a table (the CLI shows it on stderr)."""
    parts = [*notes, f"{frame.shape[0]} rows x {frame.shape[1]} columns read"]
    _LOG.info("read %s: %s", path.name, "; ".join(parts))


def _read_csv(path: Path, key: str, header: Header, index_col: IndexCol) -> Any:
    import pandas as pd

    text = _sniff(path, key)
    if not text.rows:
        raise DataError(f"{key}: {str(path)!r} is empty (no rows): write the table into it")
    has_header, why = _has_header(text.rows, header, key, path)
    layout = _layout(text.rows, has_header, key, path)
    options = {"header": 0 if has_header else None, "encoding": text.encoding}
    options.update(skiprows=text.skip, index_col=False if layout == "trailing" else None)
    frame = _pandas(lambda: pd.read_csv(path, **options), path, key)
    notes = [*text.notes, f"header: {'yes' if has_header else 'no'} ({why})"]
    if layout != "plain":
        notes.append(
            "empty fields past the header ignored (trailing commas)"
            if layout == "trailing"
            else "first field of each row taken as row names (one more field than the header)"
        )
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    _check_delimiter(frame, path, key)
    frame = _drop_index_columns(_drop_empty_columns(frame, notes), index_col, path, key, notes)
    _log(path, notes, frame)
    return frame


def _drop_empty_columns(frame: Any, notes: list[str]) -> Any:
    """Drop columns with no name and no value (a trailing comma on every line)."""
    empty = [
        c
        for c in frame.columns
        if (_UNNAMED.match(c) or c.isdigit()) and frame[c].isna().all() and len(frame)
    ]
    if empty:
        notes.append(f"empty column(s) {empty} dropped")
    return frame.drop(columns=empty)


_UNNAMED = re.compile(r"^Unnamed: \d+(\.\d+)?$")
_INDEX_NAMES = frozenset({"index", "level_0", ""})
"""Names pandas gives an index written as a column (``reset_index``, ``to_csv``)."""


def _index_like(frame: Any) -> list[str]:
    """Columns that hold a row index, not a feature (our rule, module docstring)."""
    found = []
    for pos, name in enumerate(frame.columns):
        column = frame[name]
        integer = column.dtype.kind in "iu"
        if _UNNAMED.match(name) and (integer or column.dtype == object):
            found.append(name)
        elif integer and frame.shape[1] >= 2 and (name in _INDEX_NAMES or pos == 0):
            n = len(column)
            steps = column.to_numpy()
            if n >= 3 and steps[0] in (0, 1) and np.array_equal(steps, np.arange(n) + steps[0]):
                found.append(name)
    return found


def _index_message(frame: Any, like: list[str], path: Path, key: str) -> str:
    """Return the refusal of the index columns found without ``index_col``."""
    position = list(frame.columns).index(like[0])
    where = "the first column" if position == 0 else f"the column {like[0]!r}"
    option = "0" if position == 0 else like[0]
    others = f" (and {like[1:]})" if len(like) > 1 else ""
    unnamed = _UNNAMED.match(like[0])
    why = (
        "has no name and holds integers: the index pandas writes with df.to_csv(path)"
        if unnamed
        else "holds the row numbers (0..n-1 or 1..n): a row index (our rule)"
    )
    keep = ", or name the column to keep it" if unnamed else ""
    return (
        f"{key}: {where} of {str(path)!r}{others} {why}, not a feature. Pass "
        f"index_col={repr(option) if position else 0} to drop it (cmcd tv: --index-col {option}; "
        f"further index columns of pandas are then dropped too){keep}"
    )


def _index_column(frame: Any, index_col: int | str, path: Path, key: str) -> str | None:
    """Return the column ``index_col`` names in ``frame`` (None: one column has no index)."""
    names = list(frame.columns)
    if isinstance(index_col, str) and index_col in names:
        return index_col
    if not isinstance(index_col, int) or isinstance(index_col, bool):
        raise ValueError(f"{key}: index_col {index_col!r} is not a column of {str(path)!r}")
    if not 0 <= index_col < len(names):
        raise ValueError(
            f"{key}: index_col {index_col!r} is not a column of {str(path)!r} "
            f"(it has {len(names)} columns)"
        )
    if len(names) == 1:
        return None
    column = frame[names[index_col]]
    if column.dtype.kind == "f" and not np.all(np.isnan(column) | (column == np.round(column))):
        raise ValueError(
            f"{key}: index_col={index_col}: column {names[index_col]!r} of {str(path)!r} holds "
            f"fractional numbers ({column.iloc[0]:g}, ...), a feature, not a row index; this "
            "file has no index column: write it with the others' layout"
        )
    return names[index_col]


def _drop_index_columns(
    frame: Any, index_col: IndexCol, path: Path, key: str, notes: list[str]
) -> Any:
    """Drop ``index_col``, then pandas' further index columns; refuse them without it."""
    if index_col is not None:
        name = _index_column(frame, index_col, path, key)
        if name is not None:
            frame = frame.drop(columns=[name])
            notes.append(f"index column {name!r} dropped")
    like = _index_like(frame)
    if like and index_col is None:
        raise ValueError(_index_message(frame, like, path, key))
    if like:
        notes.append(f"further index column(s) {like} dropped (pandas wrote the index again)")
    return frame.drop(columns=like)


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


def _read_parquet(path: Path, key: str, header: Header, index_col: IndexCol) -> Any:
    import pandas as pd

    if header is not True and header != "infer":
        raise ValueError(f"{key}: header={header!r}, but parquet files always name columns")
    # pandas restores a stored index as the index, not as a column
    frame = _pandas(lambda: pd.read_parquet(path), path, key).reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    notes = ["header: yes (parquet names its columns)"]
    frame = _drop_index_columns(frame, index_col, path, key, notes)
    _log(path, notes, frame)
    return frame


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
        headerless = all(str(c).isdigit() for c in frame.columns)
        hint = "; a header read as data? pass header=true (--header yes)" if headerless else ""
        raise ValueError(
            f"{key}: columns {bad[:5]} are not numeric (text columns are refused, not "
            f"dropped){hint}"
        )
    return frame.to_numpy()


def _table_labels(
    read: Callable[..., Any],
    frames: tuple[Any, Any],
    labels_path: PathLike | None,
    label_column: str | None,
    header: Header = "infer",
) -> np.ndarray | None:
    if labels_path is not None:
        lab = read(labels_path, "labels_path")
        if len(lab) == len(frames[0]) + 1 and header == "infer":  # e.g. pandas' header "0"
            name = Path(labels_path).name
            _LOG.info("read %s: one row more than the features: first row taken as names", name)
            lab = read(labels_path, "labels_path", header=True)
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
    def read(path: PathLike | None, key: str, **given: Any) -> Any:
        options = {"header": header, "index_col": index_col, **given}
        return read_table(path, fmt, key=key, **options)

    source_path, target_path, labels_path = paths
    frames = (read(source_path, "source_path"), read(target_path, "target_path"))
    labels = _table_labels(read, frames, labels_path, label_column, header)
    drop = label_column if labels_path is None else None
    return _build(
        _numeric(frames[0], "source_path", drop),
        _numeric(frames[1], "target_path", drop),
        labels,
        name=f"{fmt}:{Path(source_path).name}|{Path(target_path).name}",  # type: ignore[arg-type]
        seed=seed,
        shapes=shapes,
        test_fraction=test_fraction,
        label_key="labels_path" if labels_path is not None else "label_column",
        label_file=str(labels_path if labels_path is not None else source_path),
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
        return np.asarray(np.load(path, allow_pickle=False))
    except ValueError as err:  # numpy refuses object arrays without allow_pickle
        if "pickle" not in str(err):
            raise DataError(f"{key}: {str(path)!r} is a corrupt .npy file: {err}") from None
        raise ValueError(
            f"{key}: {str(path)!r} holds a pickled object array; object arrays are refused for "
            "safety (files are read with allow_pickle=False): save numeric arrays"
        ) from err
    except (OSError, EOFError) as err:
        raise DataError(
            f"{key}: {str(path)!r} is a truncated or corrupt .npy file: {err}"
        ) from None


def _read_npz(path: Path, key: str, npz_key: str) -> np.ndarray:
    with _open_npz(path, key) as archive:
        if not npz_key:
            if len(archive.files) != 1:
                raise ValueError(
                    f"{key}: {str(path)!r} holds {sorted(archive.files)}; name one as {path}:KEY"
                )
            npz_key = archive.files[0]
        return _npz_array(archive, npz_key, key, path)


def _split_spec(spec: str) -> tuple[str, str]:
    """Split ``FILE.npz:KEY`` (or ``FILE:KEY`` for an archive of another name) in two."""
    path_str, sep, npz_key = spec.partition(".npz:")
    if sep:
        return path_str + ".npz", npz_key
    head, sep, tail = spec.rpartition(":")
    if sep and head and tail and not Path(spec).exists() and Path(head).is_file():
        return head, tail
    return spec, ""


def _suffix(path: Path, key: str) -> str:
    """Return the format to read ``path`` as: its first bytes' (:data:`_MAGIC`), or suffix."""
    suffix, kind = path.suffix.lower(), _content_kind(path, key)
    if kind is not None and kind != suffix:
        _LOG.info("read %s: its content is %s, read as such (not as %r)", path.name, kind, suffix)
        return kind
    return suffix


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
    path_str, npz_key = _split_spec(spec)
    path = _existing(path_str, key)
    suffix = _suffix(path, key)
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
