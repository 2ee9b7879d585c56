"""Paired data on disk: a manifest of file pairs, checked up front and streamed row by row.

A manifest (CSV or parquet) has one row per pair and the columns

- ``source``, ``target``: paths (relative to the manifest's folder, or to ``root``) to images
  (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.gif``, ``.tif``, ``.tiff``, ``.webp``), ``.wav``
  audio or ``.npy`` arrays; or, instead of a path column, inline numbers
  ``source_0 .. source_{d-1}`` (``target_0 ..``) for vector views;
- ``label`` (optional): integer class labels, or class names (encoded ``0..C-1`` in sorted
  order, as :mod:`cmcd.data.files` does);
- ``split`` (optional): ``train`` or ``test`` per row (case-insensitive); without it the
  seeded stratified split of every loader is drawn (:func:`cmcd.data._sampling.split_indices`).

Decoding (our choices)
----------------------
- A column's file kind is told by its suffixes and must be the same on every row.
- Images are converted to 8-bit greyscale (PIL mode ``"L"``) and scaled to [0, 1] float32:
  view kind ``"image"``, shape ``(H, W)``.
- ``.wav`` files go through the spectrogram path of ``spoken_digits``
  (:func:`cmcd.data.spoken.log_mel` of :func:`cmcd.data.spoken._read_wav`: 16-bit mono
  22050 Hz): kind ``"spectrogram"``, shape ``(N_MELS, N_FRAMES)``.
- ``.npy`` files are opened with ``np.load(mmap_mode="r")`` (nothing unpickled): 1-D arrays
  are ``"vector"`` views, 2-D arrays ``"image"`` views (pass ``source_kind="spectrogram"`` for
  spectrograms); 2-D ``uint8`` arrays are divided by 255 (as :mod:`cmcd.data.files` does).
- Inline columns are read with the manifest and kept in memory (they are the manifest);
  store large vector views as ``.npy`` files.
- Rows are named in messages by their 0-based position in the manifest (the dataset row,
  as in ``predictions.csv``).

Validation happens before anything trains, one streaming pass over the rows with a progress
bar: missing files, unreadable or corrupt images (``PIL.Image.verify``, no pixels decoded),
wav headers (format and truncation), ``.npy`` headers (dtype, shape, truncation), mixed
shapes or kinds in a column, bad labels or split values, duplicate or unknown columns. Each
problem is one ``ValueError`` line naming the manifest row and the path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import wave
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from tqdm.auto import tqdm

from cmcd._checks import did_you_mean
from cmcd.data import spoken
from cmcd.data._base import (
    DEFAULT_TEST_FRACTION,
    PairedDataset,
    ViewKind,
    ViewSpec,
    check_seed,
    register,
)
from cmcd.data._sampling import split_indices
from cmcd.data.files import _content_kind, _encode_labels, _sniff
from cmcd.data.streaming import ArrayRows, RowReader, StreamingPairedDataset
from cmcd.seeding import rng_for

__all__ = ["FILE_KINDS", "FileRows", "export_paired_files", "paired_files", "read_manifest"]

PathLike = str | os.PathLike
SIDES = ("source", "target")
SPLITS = ("test", "train")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_FORMAT = 1  # bump when decoding changes: it enters the dataset's fingerprint
_PROGRESS_ROWS = 1000  # manifests of at least this many rows show progress bars
_INLINE = re.compile(r"^(source|target)_(\d+)$")


# ------------------------------------------------------------------------- file kinds
def _probe_image(path: Path) -> tuple[int, ...]:
    """``(H, W)`` of an image from its header; ``verify()`` checks the file, decoding nothing."""
    from PIL import Image

    with Image.open(path) as im:
        width, height = im.size
        im.verify()
    return (height, width)


def _decode_image(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("L"), dtype=np.float32) / np.float32(255.0)


def _probe_wav(path: Path) -> tuple[int, ...]:
    """Check a wav header (format of ``spoken_digits``, not truncated, not empty)."""
    with wave.open(str(path), "rb") as f:
        rate, width, channels, frames = (
            f.getframerate(), f.getsampwidth(), f.getnchannels(), f.getnframes(),
        )  # fmt: skip
    if (rate, width, channels) != (spoken.SAMPLE_RATE, 2, 1):
        raise ValueError(
            f"is {8 * width}-bit, {channels} channel(s), {rate} Hz; expected 16-bit mono "
            f"{spoken.SAMPLE_RATE} Hz (the spectrogram settings of spoken_digits)"
        )
    if frames == 0:
        raise ValueError("holds no audio frames")
    if path.stat().st_size < 44 + 2 * frames:  # 44: the smallest RIFF/WAVE header
        raise ValueError(f"is truncated (its header promises {frames} frames)")
    return (spoken.N_MELS, spoken.N_FRAMES)


def _decode_wav(path: Path) -> np.ndarray:
    return spoken.log_mel(spoken._read_wav(path))


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    with path.open("rb") as f:
        try:
            version = np.lib.format.read_magic(f)
        except ValueError:
            raise ValueError("is not a .npy file (it lacks the NumPy header)") from None
        readers = {(1, 0): np.lib.format.read_array_header_1_0}
        readers[(2, 0)] = np.lib.format.read_array_header_2_0
        if version not in readers:
            raise ValueError(f"has .npy format version {version}; save it with np.save")
        shape, _, dtype = readers[version](f)
        offset = f.tell()
    if dtype.kind not in "biuf":
        raise ValueError(f"holds {dtype} values, not numbers")
    if path.stat().st_size < offset + int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(f"is truncated (its header promises shape {shape} of {dtype})")
    return tuple(int(s) for s in shape), dtype


def _probe_npy(path: Path) -> tuple[int, ...]:
    shape, _ = _npy_header(path)
    if len(shape) not in (1, 2) or min(shape, default=0) < 1:
        raise ValueError(f"holds an array of shape {shape}; a row must be 1-D (d,) or 2-D (H, W)")
    return shape


def _decode_npy(path: Path) -> np.ndarray:
    arr = np.load(path, mmap_mode="r", allow_pickle=False)
    out = np.array(arr, dtype=np.float32)
    if arr.dtype == np.uint8 and arr.ndim == 2:
        out /= np.float32(255.0)
    if not np.all(np.isfinite(out)):
        raise ValueError("holds NaN or infinite values")
    return out


@dataclass(frozen=True)
class FileKind:
    """How one kind of file is checked (header only) and decoded, and the view it gives."""

    suffixes: tuple[str, ...]
    probe: Callable[[Path], tuple[int, ...]]
    decode: Callable[[Path], np.ndarray]
    view_kind: Callable[[tuple[int, ...]], ViewKind]


FILE_KINDS: dict[str, FileKind] = {
    "image": FileKind(IMAGE_SUFFIXES, _probe_image, _decode_image, lambda shape: "image"),
    "audio": FileKind((".wav",), _probe_wav, _decode_wav, lambda shape: "spectrogram"),
    "npy": FileKind(
        (".npy",), _probe_npy, _decode_npy, lambda shape: "vector" if len(shape) == 1 else "image"
    ),
}
"""File kind -> its suffixes, header check, decoder and default view kind (our choices)."""


def _kind_of_suffix(suffix: str) -> str | None:
    return next((k for k, spec in FILE_KINDS.items() if suffix in spec.suffixes), None)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


class FileRows(RowReader):
    """Rows read from one file per row (:data:`FILE_KINDS`); picklable for loader workers.

    Parameters
    ----------
    paths : list of str
        The paths as the manifest writes them; relative ones are taken under ``base``.
    base : str
        Folder of relative paths.
    kind : str
        A key of :data:`FILE_KINDS`.
    shape : tuple of int
        Shape of every decoded row.
    where : str
        How messages name the column (``"manifest 'm.csv' source"``).
    """

    def __init__(
        self, paths: list[str], base: str, kind: str, shape: Sequence[int], where: str
    ) -> None:
        super().__init__(shape)
        self.paths, self.base, self.kind, self.where = paths, base, kind, where

    def __len__(self) -> int:
        return len(self.paths)

    def path(self, i: int) -> Path:
        """Return the resolved path of row ``i``."""
        return Path(self.base, self.paths[i])

    def read(self, i: int) -> np.ndarray:
        """Decode row ``i``; a damaged or changed file raises ``ValueError`` naming it."""
        try:
            x = FILE_KINDS[self.kind].decode(self.path(i))
        except Exception as err:  # PIL, wave and numpy raise many types
            raise ValueError(
                f"{self.where} row {i}: {self.paths[i]!r} cannot be read: {_one_line(err)}"
            ) from None
        if x.shape != self.shape:
            raise ValueError(
                f"{self.where} row {i}: {self.paths[i]!r} decodes to shape {x.shape}, not "
                f"{self.shape} (changed since the manifest was checked?)"
            )
        return x


# ------------------------------------------------------------------------- the manifest
def _bad_row(where: str, i: int, what: str) -> ValueError:
    return ValueError(f"{where} row {i}: {what}")


def _inline_index(name: str) -> int:
    match = _INLINE.match(name)
    assert match is not None  # callers pass inline column names only
    return int(match.group(2))


def _check_columns(names: list[str], where: str) -> None:
    """Refuse duplicate, unnamed or unknown columns, and a side given both ways."""
    dupes = sorted(n for n, count in Counter(names).items() if count > 1)
    if dupes:
        raise ValueError(f"{where}: duplicate column name(s) {dupes} in the header")
    valid = {"source", "target", "label", "split"}
    unknown = [n for n in names if n not in valid and not _INLINE.match(n)]
    if unknown:
        hint = did_you_mean(unknown[0], sorted(valid)) or ";"
        raise ValueError(
            f"{where}: unknown column(s) {unknown[:5]}{hint} valid: source, target, label, "
            "split, or inline source_0.. / target_0.. (other columns are refused, not ignored)"
        )
    for side in SIDES:
        inline = [n for n in names if n.startswith(f"{side}_")]
        if side in names and inline:
            raise ValueError(
                f"{where}: both a {side!r} path column and inline columns {inline[:3]}: "
                "give one of them"
            )
        if side not in names and not inline:
            raise ValueError(f"{where}: no {side!r} column (paths) nor {side}_0.. (inline)")
        indices = sorted(_inline_index(n) for n in inline)
        if inline and indices != list(range(len(indices))):
            raise ValueError(
                f"{where}: inline columns {side}_* must be numbered 0..{len(indices) - 1}, "
                f"got {indices[:5]}..."
            )


def read_manifest(path: PathLike) -> Any:
    r"""Read a manifest (CSV, or parquet by content) as a DataFrame; check its header.

    Path and split cells are read as text; an empty CSV cell is missing.

    Raises
    ------
    ValueError
        Missing or unreadable file, duplicate, unknown or missing columns, no rows.

    Examples
    --------
    >>> import tempfile
    >>> f = tempfile.mkdtemp() + "/m.csv"
    >>> _ = open(f, "w").write("source,target,label\na.png,a.wav,0\nb.png,b.wav,1\n")
    >>> read_manifest(f).columns.tolist()
    ['source', 'target', 'label']
    """
    import pandas as pd

    p = Path(path)
    where = f"manifest {p.name!r}"
    if not p.is_file():
        raise ValueError(f"{where}: {str(p)!r} does not exist or is not a file")
    text_columns = {"source": str, "target": str, "split": str}
    if _content_kind(p, "manifest") == ".parquet":
        import pyarrow.parquet as pq

        names = [str(n) for n in pq.read_schema(p).names]
        names = [n for n in names if n != "__index_level_0__"]  # a stored pandas index
        _check_columns(names, where)
        frame = pd.read_parquet(p).reset_index(drop=True)
    else:
        text = _sniff(p, "manifest")
        if not text.rows:
            raise ValueError(f"{where}: the file is empty (no header, no rows)")
        _check_columns([c.strip() for c in text.rows[0]], where)
        options = {"encoding": text.encoding, "skiprows": text.skip, "na_values": [""]}
        frame = pd.read_csv(p, dtype=text_columns, keep_default_na=False, **options)
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) < 2:
        raise ValueError(f"{where}: needs at least 2 rows (pairs), got {len(frame)}")
    return frame


def _missing(values: Any) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(values))


def _labels(frame: Any, where: str, file: str) -> tuple[np.ndarray | None, list]:
    """Labels 0..C-1 (files.py's encoding) after row-named checks of the ``label`` column."""
    if "label" not in frame.columns:
        return None, []
    column = frame["label"]
    missing = np.flatnonzero(_missing(column))
    if missing.size:
        raise _bad_row(where, int(missing[0]), "label is missing")
    values = column.to_numpy()
    if values.dtype.kind == "f":
        frac = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))
        if frac.size:
            bad = values[frac[0]]
            raise _bad_row(where, int(frac[0]), f"label {bad:g} is not an integer class")
        values = values.astype(np.int64)
    elif values.dtype == object:
        values = np.array([str(v).strip() for v in values], dtype=object)
    return _encode_labels(values, len(frame), f"{where} label column", file)


def _splits(
    frame: Any, y: np.ndarray | None, where: str, seed: int, test_fraction: float
) -> tuple[np.ndarray, np.ndarray, str]:
    """Train/test rows from the ``split`` column, else the seeded (stratified) split."""
    if "split" not in frame.columns:
        train, test = split_indices(y, len(frame), test_fraction, rng_for(seed, "split"))
        return train, test, "seeded"
    column = frame["split"]
    missing = np.flatnonzero(_missing(column))
    if missing.size:
        raise _bad_row(where, int(missing[0]), "split is missing (train or test)")
    values = np.array([str(v).strip().lower() for v in column])
    unknown = np.flatnonzero(~np.isin(values, SPLITS))
    if unknown.size:
        i = int(unknown[0])
        raise _bad_row(where, i, f"split {column.iloc[i]!r} is not one of {list(SPLITS)}")
    train, test = np.flatnonzero(values == "train"), np.flatnonzero(values == "test")
    if len(train) < 2 or len(test) < 1:
        raise ValueError(
            f"{where}: the split column gives {len(train)} train and {len(test)} test rows; "
            "at least 2 train rows and 1 test row are needed"
        )
    return train.astype(np.int64), test.astype(np.int64), "column"


# ------------------------------------------------------------------------- one side
def _detect_kind(values: np.ndarray, where: str, side: str) -> str:
    """Return the file kind of a path column: one suffix family on every row."""
    first: tuple[int, str] | None = None
    for i, value in enumerate(values):
        suffix = Path(value).suffix.lower()
        kind = _kind_of_suffix(suffix)
        if kind is None:
            valid = sorted(s for spec in FILE_KINDS.values() for s in spec.suffixes)
            raise _bad_row(
                where, i, f"{side} {value!r}: unsupported file type {suffix!r}; use {valid}"
            )
        if first is None:
            first = (i, kind)
        elif kind != first[1]:
            j = first[0]
            raise _bad_row(
                where, i,
                f"{side} {value!r} is a(n) {kind} file but row {j} ({values[j]!r}) is a(n) "
                f"{first[1]} file: a column holds one kind of file",
            )  # fmt: skip
    assert first is not None
    return first[1]


def _probe_row(kind: str, base: str, value: str) -> tuple[tuple[int, ...], bytes]:
    """Header shape and ``size:mtime`` stamp of one file; ``ValueError`` says what is wrong."""
    path = Path(base, value)
    try:
        stat = path.stat()
    except OSError:
        raise ValueError(f"file does not exist (looked for {str(path)!r})") from None
    if not path.is_file():
        raise ValueError(f"is not a file ({str(path)!r})")
    try:
        shape = FILE_KINDS[kind].probe(path)
    except ValueError as err:
        raise ValueError(_one_line(err)) from None
    except Exception as err:  # PIL, wave, numpy: corrupt or unreadable
        raise ValueError(f"is unreadable or corrupt ({_one_line(err)})") from None
    return shape, f"{stat.st_size}:{stat.st_mtime_ns};".encode()


def _probe_column(
    values: np.ndarray, kind: str, base: str, where: str, side: str, workers: int, hasher: Any
) -> tuple[int, ...]:
    """Check every file of a column (streamed, in row order); return the common shape."""

    def probe(i: int) -> tuple[int, tuple[int, ...] | None, bytes | str]:
        try:
            return i, *_probe_row(kind, base, values[i])
        except ValueError as err:
            return i, None, str(err)

    rows: Iterable[int] = range(len(values))
    pool = ThreadPoolExecutor(max_workers=workers) if workers > 0 else None
    results = pool.map(probe, rows, chunksize=64) if pool else map(probe, rows)
    bar = tqdm(results, total=len(values), desc=f"check {side} files", leave=False,
               disable=len(values) < _PROGRESS_ROWS)  # fmt: skip
    shape0: tuple[int, ...] | None = None
    try:
        for i, shape, stamp in bar:
            if shape is None:
                raise _bad_row(where, i, f"{side} {values[i]!r}: {stamp}")
            if shape0 is None:
                shape0 = shape
            elif shape != shape0:
                raise _bad_row(
                    where, i,
                    f"{side} {values[i]!r} has shape {shape}, but row 0 ({values[0]!r}) has "
                    f"{shape0}: every row of a column must have one shape",
                )  # fmt: skip
            hasher.update(stamp)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    assert shape0 is not None
    return shape0


def _inline_side(frame: Any, side: str, where: str) -> tuple[RowReader, ViewSpec]:
    import pandas as pd

    names = sorted((c for c in frame.columns if _INLINE.match(c) and c.startswith(side)),
                   key=lambda c: int(c.rsplit("_", 1)[1]))  # fmt: skip
    block = frame[names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.argwhere(~np.isfinite(block))
    if bad.size:
        i, j = (int(v) for v in bad[0])
        cell = frame[names[j]].iloc[i]
        raise _bad_row(where, i, f"{names[j]} = {cell!r} is not a finite number")
    return ArrayRows(block.astype(np.float32)), ViewSpec(side, "vector", (len(names),))


def _check_view_kind(
    kind: str | None, shape: tuple[int, ...], detected: ViewKind, key: str
) -> ViewKind:
    if kind is None:
        return detected
    valid = ("vector",) if len(shape) == 1 else ("image", "spectrogram")
    if kind not in valid:
        raise ValueError(
            f"{key} {kind!r} does not fit rows of shape {shape}: use one of {list(valid)}"
        )
    return cast(ViewKind, kind)


def _file_side(
    frame: Any, side: str, base: Path, where: str, workers: int, hasher: Any
) -> tuple[FileRows, str, tuple[int, ...]]:
    column = frame[side]
    missing = np.flatnonzero(_missing(column) | (column.astype(str).str.strip() == ""))
    if missing.size:
        raise _bad_row(where, int(missing[0]), f"{side} path is missing")
    values = column.astype(str).str.strip().to_numpy()
    kind = _detect_kind(values, where, side)
    shape = _probe_column(values, kind, str(base), where, side, workers, hasher)
    return FileRows(values.tolist(), str(base), kind, shape, f"{where} {side}"), kind, shape


def _side(
    frame: Any, side: str, base: Path, where: str, workers: int, kind: str | None, hasher: Any
) -> tuple[RowReader, ViewSpec, str]:
    """Return the reader, view and file kind (``"inline"``: inline columns) of one side."""
    if side not in frame.columns:
        reader, view = _inline_side(frame, side, where)
        _check_view_kind(kind, view.shape, "vector", f"{side}_kind")
        return reader, view, "inline"
    reader, file_kind, shape = _file_side(frame, side, base, where, workers, hasher)
    view_kind = FILE_KINDS[file_kind].view_kind(shape)
    view_kind = _check_view_kind(kind, shape, view_kind, f"{side}_kind")
    return reader, ViewSpec(side, view_kind, shape), file_kind


def _settings(kinds: dict[str, str], views: dict[str, ViewSpec]) -> bytes:
    """Decode settings that enter the fingerprint."""
    audio = {
        k: getattr(spoken, k)
        for k in ("SAMPLE_RATE", "N_FFT", "HOP", "N_MELS", "N_FRAMES", "F_MIN", "F_MAX", "TOP_DB")
    }
    spec = {
        "format": _FORMAT,
        "kinds": kinds,
        "views": {s: [v.kind, list(v.shape)] for s, v in views.items()},
        "image_mode": "L",
        "audio": audio if "audio" in kinds.values() else None,
    }
    return json.dumps(spec, sort_keys=True).encode()


def _hash_file(path: Path, hasher: Any) -> None:
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            hasher.update(chunk)


@register("paired_files")
def paired_files(
    *,
    seed: int = 0,
    manifest: PathLike | None = None,
    root: PathLike | None = None,
    source_kind: str | None = None,
    target_kind: str | None = None,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    workers: int = 0,
) -> StreamingPairedDataset:
    """Paired views listed in a manifest of files, checked up front and streamed from disk.

    See the module docstring for the manifest's columns, the decoding and the checks.

    Parameters
    ----------
    seed : int
        Fixes the train/test split when the manifest has no ``split`` column.
    manifest : str or os.PathLike
        The CSV or parquet manifest (parquet is told by its content).
    root : str or os.PathLike, optional
        Folder of relative paths (default: the manifest's folder).
    source_kind, target_kind : {"vector", "image", "spectrogram"}, optional
        The view kind, when the default of the file kind is not it (e.g. spectrograms saved
        as 2-D ``.npy``); it must fit the rows' rank.
    test_fraction : float
        Held-out share without a ``split`` column (default 0.3, our choice).
    workers : int
        Threads checking files (0: in this thread); the pipeline also streams rows with this
        many DataLoader worker processes.

    Returns
    -------
    StreamingPairedDataset
        Lazy file readers (:class:`FileRows`), the labels and the split.

    Raises
    ------
    ValueError
        Any problem of the manifest or of a file (one line naming the row and the path).

    Examples
    --------
    >>> import tempfile
    >>> from cmcd.data import load_dataset
    >>> d = tempfile.mkdtemp()
    >>> m = export_paired_files(load_dataset("digits", n_samples=40), d)
    >>> ds = paired_files(manifest=m)
    >>> ds.n_samples, ds.source.kind, ds.source_rows[0].shape
    (40, 'image', (8, 8))
    """
    if manifest is None:
        raise ValueError("option 'manifest' is required (path to the CSV or parquet manifest)")
    seed = check_seed(seed)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers must be a non-negative integer, got {workers!r}")
    for key, kind in (("source_kind", source_kind), ("target_kind", target_kind)):
        if kind is not None and kind not in ("vector", "image", "spectrogram"):
            raise ValueError(f"{key} must be vector, image, spectrogram or null, got {kind!r}")
    path = Path(manifest).expanduser()
    frame = read_manifest(path)
    where = f"manifest {path.name!r}"
    base = Path(root).expanduser() if root is not None else path.parent
    if root is not None and not base.is_dir():
        raise ValueError(f"root: {str(base)!r} is not a folder")
    y, classes = _labels(frame, where, str(path))
    train, test, split_from = _splits(frame, y, where, seed, test_fraction)
    hasher = hashlib.sha256()
    _hash_file(path, hasher)
    given = {"source": source_kind, "target": target_kind}
    readers, views, kinds = {}, {}, {}
    for side in SIDES:
        readers[side], views[side], kinds[side] = _side(
            frame, side, base, where, workers, given[side], hasher
        )
    del frame  # the readers keep what they need (paths or inline numbers)
    hasher.update(_settings(kinds, views))
    info = {
        "manifest": str(path),
        "root": str(base),
        "source_files": kinds["source"],
        "target_files": kinds["target"],
        "split_from": split_from,
        "streaming": True,
        **({"classes": classes} if y is not None else {}),
    }
    return StreamingPairedDataset(
        readers["source"], readers["target"], y, views["source"], views["target"], train, test,
        f"paired_files:{path.name}", info, fingerprint=hasher.hexdigest(), workers=workers,
    )  # fmt: skip


# ------------------------------------------------------------------------- export
def _write_png(x: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.round(x * 255.0).astype(np.uint8), mode="L").save(path)


def _write_npy(x: np.ndarray, path: Path) -> None:
    np.save(path, np.asarray(x, dtype=np.float32))


_WRITERS: dict[str, tuple[str, Callable[[np.ndarray, Path], None]]] = {
    "png": (".png", _write_png),
    "npy": (".npy", _write_npy),
}


def _writer_of(view: ViewSpec, image_format: str, vector_format: str) -> str:
    """``png``, ``npy`` or ``inline``: how a view is written (spectrograms: ``npy``)."""
    if view.kind == "vector":
        return vector_format
    return image_format if view.kind == "image" else "npy"


def _check_export(ds: PairedDataset, image_format: str, vector_format: str) -> np.ndarray:
    if image_format not in _WRITERS:
        raise ValueError(f"image_format must be one of {sorted(_WRITERS)}, got {image_format!r}")
    if vector_format not in ("npy", "inline"):
        raise ValueError(f"vector_format must be 'npy' or 'inline', got {vector_format!r}")
    for side in SIDES:
        x, view = getattr(ds, f"x_{side}"), getattr(ds, side)
        if _writer_of(view, image_format, vector_format) == "png" and (x.min() < 0 or x.max() > 1):
            raise ValueError(
                f"{side}: image values must lie in [0, 1] for PNG, got [{x.min():g}, "
                f"{x.max():g}]; pass image_format='npy'"
            )
    split = np.full(ds.n_samples, "", dtype=object)
    split[ds.train_idx], split[ds.test_idx] = "train", "test"
    if (split == "").any():
        raise ValueError(f"rows {np.flatnonzero(split == '')[:5].tolist()} are in no split")
    return split


def export_paired_files(
    ds: PairedDataset,
    folder: PathLike,
    *,
    image_format: str = "png",
    vector_format: str = "npy",
    manifest_format: str = "csv",
) -> Path:
    """Write an in-memory dataset as files and a manifest that :func:`paired_files` reads.

    Image views become 8-bit greyscale PNGs (``image_format="npy"``: exact float32 ``.npy``),
    spectrograms ``.npy`` files (load them back with ``*_kind="spectrogram"``), vectors one
    ``.npy`` per row or inline columns (``vector_format="inline"``). The manifest
    (``manifest.csv`` or ``manifest.parquet``) holds the relative paths, ``label`` (when the
    dataset has labels) and ``split``, so the round trip keeps the split.

    Returns
    -------
    pathlib.Path
        The manifest.

    Raises
    ------
    ValueError
        Unknown formats, image values outside [0, 1] for PNG, rows in no split.

    Examples
    --------
    >>> import tempfile
    >>> from cmcd.data import load_dataset
    >>> m = export_paired_files(load_dataset("synthetic", n_samples=20), tempfile.mkdtemp())
    >>> m.name, len(paired_files(manifest=m).train_idx)
    ('manifest.csv', 14)
    """
    import pandas as pd

    if manifest_format not in ("csv", "parquet"):
        raise ValueError(f"manifest_format must be 'csv' or 'parquet', got {manifest_format!r}")
    split = _check_export(ds, image_format, vector_format)
    out = Path(folder)
    columns: dict[str, Any] = {}
    width = max(6, len(str(ds.n_samples - 1)))
    for side in SIDES:
        x, view = getattr(ds, f"x_{side}"), getattr(ds, side)
        how = _writer_of(view, image_format, vector_format)
        if how == "inline":
            columns.update({f"{side}_{j}": x[:, j] for j in range(x.shape[1])})
            continue
        suffix, write = _WRITERS[how]
        (out / side).mkdir(parents=True, exist_ok=True)
        names = [f"{side}/{i:0{width}d}{suffix}" for i in range(ds.n_samples)]
        bar = tqdm(range(ds.n_samples), desc=f"write {side}", leave=False,
                   disable=ds.n_samples < _PROGRESS_ROWS)  # fmt: skip
        for i in bar:
            write(x[i], out / names[i])
        columns[side] = names
    if ds.y is not None:
        columns["label"] = ds.y
    columns["split"] = split
    frame = pd.DataFrame(columns)
    target = out / f"manifest.{manifest_format}"
    if manifest_format == "csv":
        frame.to_csv(target, index=False)
    else:
        frame.to_parquet(target, index=False)
    return target
