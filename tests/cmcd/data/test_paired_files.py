"""The ``paired_files`` loader: manifest round trips, decoding and every refusal."""

import wave
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cmcd.data import load_dataset
from cmcd.data import paired_files as paired_files_module
from cmcd.data._sampling import split_indices
from cmcd.data.paired_files import export_paired_files, paired_files, read_manifest
from cmcd.data.spoken import SAMPLE_RATE, _read_wav, log_mel
from cmcd.seeding import rng_for


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", gap=0.3, n_samples=60)


@pytest.fixture(scope="module")
def synthetic():
    return load_dataset("synthetic", n_samples=40)


def _rows(reader, n):
    return np.stack([reader[i] for i in range(n)])


def test_image_round_trip_is_exact_up_to_8_bit_quantisation(digits, tmp_path):
    ds = paired_files(manifest=export_paired_files(digits, tmp_path))
    for got, want in ((ds.source, digits.source), (ds.target, digits.target)):
        assert (got.kind, got.shape) == (want.kind, want.shape)
    for side in ("source", "target"):
        got, want = _rows(ds.rows(side), ds.n_samples), getattr(digits, f"x_{side}")
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=0.5 / 255 + 1e-6)
        np.testing.assert_array_equal(got, np.round(want * 255) / np.float32(255))
    np.testing.assert_array_equal(ds.y, digits.y)
    np.testing.assert_array_equal(ds.train_idx, digits.train_idx)
    np.testing.assert_array_equal(ds.test_idx, digits.test_idx)
    assert ds.info["source_files"] == "image" and ds.info["split_from"] == "column"


@pytest.mark.parametrize(
    ("vector_format", "manifest_format"),
    [("npy", "csv"), ("inline", "csv"), ("inline", "parquet"), ("npy", "parquet")],
)
def test_vector_round_trip_is_exact(synthetic, tmp_path, vector_format, manifest_format):
    m = export_paired_files(
        synthetic, tmp_path, vector_format=vector_format, manifest_format=manifest_format
    )
    ds = paired_files(manifest=m)
    assert ds.source.shape == synthetic.source.shape and ds.source.kind == "vector"
    np.testing.assert_array_equal(_rows(ds.source_rows, 40), synthetic.x_source)
    np.testing.assert_array_equal(_rows(ds.target_rows, 40), synthetic.x_target)
    np.testing.assert_array_equal(ds.test_idx, synthetic.test_idx)


def test_npy_images_are_exact_and_spectrogram_kind_is_chosen(digits, tmp_path):
    m = export_paired_files(digits, tmp_path, image_format="npy")
    ds = paired_files(manifest=m, target_kind="spectrogram")
    assert ds.source.kind == "image" and ds.target.kind == "spectrogram"
    np.testing.assert_array_equal(_rows(ds.target_rows, 60), digits.x_target)
    with pytest.raises(ValueError, match="source_kind 'vector' does not fit rows of shape"):
        paired_files(manifest=m, source_kind="vector")


def _write_wav(path: Path, n: int, rate: int = SAMPLE_RATE, seed: int = 0) -> None:
    x = np.random.default_rng(seed).normal(scale=0.2, size=n)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


def _manifest(folder: Path, rows: dict, name: str = "m.csv") -> Path:
    path = folder / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _pngs(folder: Path, n: int, shape=(6, 5)) -> list[str]:
    from PIL import Image

    names = []
    for i in range(n):
        Image.fromarray(np.full(shape, 10 * i, dtype=np.uint8), mode="L").save(folder / f"{i}.png")
        names.append(f"{i}.png")
    return names


def test_wav_rows_are_the_spoken_digits_spectrogram(tmp_path):
    wavs = []
    for i in range(4):
        _write_wav(tmp_path / f"{i}.wav", 4000 + 1000 * i, seed=i)
        wavs.append(f"{i}.wav")
    m = _manifest(tmp_path, {"source": _pngs(tmp_path, 4), "target": wavs, "label": [0, 1, 0, 1]})
    ds = paired_files(manifest=m, test_fraction=0.5)
    assert ds.target.kind == "spectrogram" and ds.info["target_files"] == "audio"
    np.testing.assert_array_equal(ds.target_rows[2], log_mel(_read_wav(tmp_path / "2.wav")))
    np.testing.assert_allclose(ds.source_rows[3], np.full((6, 5), 30 / 255), atol=1e-7)


def test_without_split_column_the_seeded_stratified_split_is_drawn(tmp_path):
    y = np.repeat([0, 1], [6, 4])
    m = _manifest(tmp_path, {"source": _pngs(tmp_path, 10), "target": _pngs(tmp_path, 10),
                             "label": y})  # fmt: skip
    ds = paired_files(manifest=m, seed=3, test_fraction=0.4)
    train, test = split_indices(y, 10, 0.4, rng_for(3, "split"))
    np.testing.assert_array_equal(ds.test_idx, test)
    np.testing.assert_array_equal(ds.train_idx, train)
    assert ds.info["split_from"] == "seeded"
    assert not np.array_equal(paired_files(manifest=m, seed=4, test_fraction=0.4).test_idx, test)


def test_text_labels_are_encoded_in_sorted_order_and_root_is_honoured(tmp_path):
    (tmp_path / "img").mkdir()
    names = _pngs(tmp_path / "img", 4)
    m = _manifest(tmp_path, {"source": names, "target": names, "label": ["b", "a", "b", "a"]})
    ds = paired_files(manifest=m, root=tmp_path / "img", test_fraction=0.5)
    assert ds.y.tolist() == [1, 0, 1, 0] and ds.info["classes"] == ["a", "b"]


def test_validation_decodes_no_pixels(digits, tmp_path, monkeypatch):
    m = export_paired_files(digits, tmp_path)

    def refuse(path):
        raise AssertionError("validation must not decode pixels")

    kinds = dict(paired_files_module.FILE_KINDS)
    kinds["image"] = kinds["image"].__class__(
        kinds["image"].suffixes, kinds["image"].probe, refuse, kinds["image"].view_kind
    )
    monkeypatch.setattr(paired_files_module, "FILE_KINDS", kinds)
    ds = paired_files(manifest=m)  # checks every row's header only
    with pytest.raises(ValueError, match=r"source row 5: 'source/000005.png' cannot be read"):
        ds.source_rows[5]


def test_readers_refuse_to_become_one_array(digits, tmp_path):
    ds = paired_files(manifest=export_paired_files(digits, tmp_path))
    with pytest.raises(TypeError, match="refuses to be converted to one array"):
        np.asarray(ds.source_rows)
    with pytest.raises(TypeError):
        list(ds.target_rows)
    assert not hasattr(ds, "x_source")


def test_fingerprint_is_stable_and_follows_file_changes(digits, tmp_path):
    m = export_paired_files(digits, tmp_path)
    first = paired_files(manifest=m).fingerprint
    assert paired_files(manifest=m, workers=2).fingerprint == first
    png = tmp_path / "target" / "000007.png"
    png.write_bytes(png.read_bytes() + b"\0" * 10)  # another size (trailing bytes are ignored)
    assert paired_files(manifest=m).fingerprint != first


# ------------------------------------------------------------------------ bad manifests
def _base(tmp_path: Path, n: int = 6) -> dict:
    names = _pngs(tmp_path, n)
    return {"source": list(names), "target": list(names), "label": [0, 1] * (n // 2)}


def _expect(path: Path, pattern: str, **options) -> None:
    with pytest.raises(ValueError, match=pattern) as err:
        paired_files(manifest=path, **options)
    assert "\n" not in str(err.value)


def test_missing_file_names_the_row_and_path(tmp_path):
    rows = _base(tmp_path)
    rows["target"][3] = "nowhere/x.png"
    _expect(_manifest(tmp_path, rows), r"row 3: target 'nowhere/x.png': file does not exist")


def test_truncated_and_foreign_images_are_refused(tmp_path):
    rows = _base(tmp_path)
    data = (tmp_path / "2.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.png").write_text("not an image")
    rows["source"][2] = "cut.png"
    _expect(_manifest(tmp_path, rows), r"row 2: source 'cut.png': is unreadable or corrupt")
    rows["source"][2], rows["source"][4] = "2.png", "text.png"
    _expect(_manifest(tmp_path, rows), r"row 4: source 'text.png': is unreadable or corrupt")


def test_bad_wavs_are_refused(tmp_path):
    rows = _base(tmp_path, 4)
    for i in range(4):
        _write_wav(tmp_path / f"{i}.wav", 3000)
    rows["target"] = [f"{i}.wav" for i in range(4)]
    _write_wav(tmp_path / "1.wav", 3000, rate=16000)
    _expect(
        _manifest(tmp_path, rows), r"row 1: target '1.wav': is 16-bit, 1 channel\(s\), 16000 Hz"
    )
    _write_wav(tmp_path / "1.wav", 3000)
    data = (tmp_path / "3.wav").read_bytes()
    (tmp_path / "3.wav").write_bytes(data[:1000])
    _expect(_manifest(tmp_path, rows), r"row 3: target '3.wav': is truncated")


def test_bad_npy_rows_are_refused(tmp_path):
    rows = _base(tmp_path, 4)
    for i in range(4):
        np.save(tmp_path / f"{i}.npy", np.ones(5, dtype=np.float32))
    rows["target"] = [f"{i}.npy" for i in range(4)]
    np.save(tmp_path / "2.npy", np.ones(6, dtype=np.float32))
    _expect(_manifest(tmp_path, rows), r"row 2: target '2.npy' has shape \(6,\), but row 0")
    np.save(tmp_path / "2.npy", np.ones(5))
    (tmp_path / "2.npy").write_bytes((tmp_path / "2.npy").read_bytes()[:-8])
    _expect(_manifest(tmp_path, rows), r"row 2: target '2.npy': is truncated")
    np.save(tmp_path / "2.npy", np.array(["a"] * 5))
    _expect(_manifest(tmp_path, rows), r"row 2: target '2.npy': holds <U1 values, not numbers")
    (tmp_path / "2.npy").write_text("plain text")
    _expect(_manifest(tmp_path, rows), r"row 2: target '2.npy': is not a .npy file")


def test_mixed_shapes_and_kinds_are_refused(tmp_path):
    from PIL import Image

    rows = _base(tmp_path)
    Image.fromarray(np.zeros((7, 7), dtype=np.uint8)).save(tmp_path / "big.png")
    rows["source"][1] = "big.png"
    pattern = r"row 1: source 'big.png' has shape \(7, 7\), but row 0 \('0.png'\) has \(6, 5\)"
    _expect(_manifest(tmp_path, rows), pattern)
    rows = _base(tmp_path)
    np.save(tmp_path / "4.npy", np.ones(3))
    rows["source"][4] = "4.npy"
    _expect(_manifest(tmp_path, rows), r"row 4: source '4.npy' is a\(n\) npy file but row 0")
    rows["source"][4] = "4.txt"
    _expect(_manifest(tmp_path, rows), r"row 4: source '4.txt': unsupported file type '.txt'")
    rows["source"][4] = None
    _expect(_manifest(tmp_path, rows), r"row 4: source path is missing")


@pytest.mark.parametrize(
    ("labels", "pattern"),
    [
        ([0] * 6, r"label column .*every one of the 6 labels is 0: one class"),
        ([0, 1, 0, 1.5, 0, 1], r"row 3: label 1.5 is not an integer class"),
        ([0, 1, None, 1, 0, 1], r"row 2: label is missing"),
    ],
)
def test_bad_labels_are_refused(tmp_path, labels, pattern):
    rows = _base(tmp_path)
    rows["label"] = labels
    _expect(_manifest(tmp_path, rows), pattern)


def test_bad_split_values_are_refused(tmp_path):
    rows = _base(tmp_path)
    rows["split"] = ["train", "train", "val", "test", "Train", "TEST"]
    _expect(_manifest(tmp_path, rows), r"row 2: split 'val' is not one of \['test', 'train'\]")
    rows["split"] = ["train"] * 6
    _expect(_manifest(tmp_path, rows), r"split column gives 6 train and 0 test rows")
    rows["split"] = ["train", "train", "test", "test", "Train ", "TEST"]
    ds = paired_files(manifest=_manifest(tmp_path, rows))
    assert ds.train_idx.tolist() == [0, 1, 4] and ds.test_idx.tolist() == [2, 3, 5]


def test_header_problems_are_refused(tmp_path):
    _pngs(tmp_path, 2)
    path = tmp_path / "m.csv"
    cases = {
        "source,source,target\n0.png,0.png,1.png\n1.png,1.png,0.png\n": r"duplicate column",
        "source,target,lable\n0.png,1.png,0\n1.png,0.png,1\n": r"unknown column\(s\) \['lable'\]",
        "source,label\n0.png,0\n1.png,1\n": r"no 'target' column \(paths\) nor target_0",
        "source,target,target_0\n0.png,1.png,1\n1.png,0.png,2\n": r"both a 'target' path col",
        "source,target_0,target_2\n0.png,1,2\n1.png,3,4\n": r"numbered 0..1, got \[0, 2\]",
        "source,target\n0.png,1.png\n": r"needs at least 2 rows",
    }
    for text, pattern in cases.items():
        path.write_text(text)
        _expect(path, pattern)
    path.write_text("source,target_0,target_1\n0.png,1,x\n1.png,3,4\n")
    _expect(path, r"row 0: target_1 = 'x' is not a finite number")
    _expect(tmp_path / "absent.csv", r"does not exist or is not a file")


def test_read_manifest_reads_parquet_by_content(tmp_path):
    frame = pd.DataFrame({"source": ["a.png", "b.png"], "target": ["a.npy", "b.npy"]})
    frame.to_parquet(tmp_path / "m.data")
    assert read_manifest(tmp_path / "m.data")["target"].tolist() == ["a.npy", "b.npy"]


def test_export_refuses_values_png_cannot_hold(synthetic, tmp_path):
    from cmcd.data import PairedDataset, ViewSpec

    x = np.full((4, 2, 2), 2.0, dtype=np.float32)
    view = ViewSpec("v", "image", (2, 2))
    ds = PairedDataset(x, x, None, view, view, np.arange(3), np.array([3]), "toy")
    with pytest.raises(ValueError, match=r"source: image values must lie in \[0, 1\] for PNG"):
        export_paired_files(ds, tmp_path)
    assert export_paired_files(ds, tmp_path, image_format="npy").is_file()
