"""Spoken digits (cmcd.data.spoken): synthesis, features, cache, pairing and bad input."""

import shutil

import numpy as np
import pytest

from cmcd.data import load_dataset, spoken
from cmcd.data.spoken import (
    DIGIT_WORDS,
    ESPEAK_INSTALL_HINT,
    LANGUAGES,
    N_FRAMES,
    N_MELS,
    VARIANTS,
    Utterance,
    log_mel,
    noisy_partners,
)

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason=f"espeak-ng is not installed; {ESPEAK_INSTALL_HINT}"
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CMCD_CACHE_DIR", str(tmp_path / "cache"))


def _load(**options):
    return load_dataset("spoken_digits", **{"n_samples": 30, **options})


def _clean_images(n_samples=30, seed=0):
    return load_dataset("digits", gap=0.0, n_samples=n_samples, seed=seed).x_source


# --------------------------------------------------------------------------- no espeak needed
def test_missing_espeak_names_the_install_command(monkeypatch):
    monkeypatch.setattr(spoken.shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"apt-get install espeak-ng"):
        _load()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"source": "speech"}, r"source must be one of \['image', 'audio'\], got 'speech'"),
        ({"target": "img"}, r"target must be one of \['image', 'audio'\]"),
        ({"source": "audio", "target": "audio"}, "source and target must be different"),
        ({"pair_noise": -0.1}, r"pair_noise must be a finite number in \[0, 1\]"),
        ({"pair_noise": 1.5}, r"pair_noise must be a finite number in \[0, 1\]"),
        ({"pair_noise": True}, "pair_noise"),
        ({"pair_noise": "0.2"}, "pair_noise"),
        ({"n_samples": 5000}, "n_samples must be at most 1797"),
        ({"n_samples": 1}, "n_samples must be an integer >= 2"),
    ],
)
def test_bad_options_are_value_errors(options, message):
    with pytest.raises(ValueError, match=message):
        _load(**options)


def test_voices_are_drawn_in_the_documented_ranges_and_do_not_depend_on_the_subsample():
    labels = np.arange(10).repeat(180)
    utterances = spoken._draw_utterances(labels, seed=0)
    assert [u.word for u in utterances[::180]] == list(DIGIT_WORDS)
    speeds = np.array([u.speed for u in utterances])
    pitches = np.array([u.pitch for u in utterances])
    snrs = np.array([u.snr_db for u in utterances])
    assert speeds.min() >= spoken.SPEED_RANGE[0] and speeds.max() <= spoken.SPEED_RANGE[1]
    assert pitches.min() >= spoken.PITCH_RANGE[0] and pitches.max() <= spoken.PITCH_RANGE[1]
    assert snrs.min() >= spoken.SNR_DB_RANGE[0] and snrs.max() <= spoken.SNR_DB_RANGE[1]
    voices = {u.voice for u in utterances}
    assert voices == {f"{lang}+{v}" for lang in LANGUAGES for v in VARIANTS}  # all used
    assert spoken._draw_utterances(labels, seed=0) == utterances
    assert spoken._draw_utterances(labels, seed=1) != utterances


def test_log_mel_of_a_tone_peaks_in_the_band_of_its_frequency():
    t = np.arange(int(0.3 * spoken.SAMPLE_RATE)) / spoken.SAMPLE_RATE
    spec = log_mel(np.sin(2 * np.pi * 1000.0 * t))
    assert spec.shape == (N_MELS, N_FRAMES) and spec.dtype == np.float32
    assert spec.min() >= 0.0 and spec.max() == pytest.approx(1.0, abs=1e-6)
    centres = spoken._mel_filterbank().argmax(axis=1) * spoken.SAMPLE_RATE / spoken.N_FFT
    assert int(spec.mean(axis=1).argmax()) == int(np.abs(centres - 1000.0).argmin())
    used = int((spec.max(axis=0) > 0).sum())  # 0.3 s: the rest is padded silence
    assert used == (len(t) - spoken.N_FFT) // spoken.HOP + 1
    long = log_mel(np.sin(2 * np.pi * 300.0 * np.arange(3 * spoken.SAMPLE_RATE) / 22050))
    assert long.shape == (N_MELS, N_FRAMES)  # cropped


def test_noisy_partners_change_exactly_the_requested_share_to_other_classes():
    y = np.arange(10).repeat(10)
    for share in (0.0, 0.25, 1.0):
        partner = noisy_partners(y, share, np.random.default_rng(0))
        moved = partner != np.arange(len(y))
        assert moved.sum() == round(share * len(y))
        assert np.all(y[partner[moved]] != y[moved])


def test_cache_key_covers_every_parameter(monkeypatch):
    monkeypatch.setattr(spoken, "espeak_version", lambda: "eSpeak NG 1.51")
    base = [Utterance("one", "en-us+m3", 175, 50, 20.0, 7)]
    key = spoken.cache_key(base)
    for field, value in [("word", "two"), ("voice", "en-gb+m3"), ("speed", 176),
                         ("pitch", 51), ("snr_db", 20.5), ("noise_seed", 8)]:  # fmt: skip
        changed = [Utterance(**{**base[0].__dict__, field: value})]
        assert spoken.cache_key(changed) != key, field
    for setting, value in [("N_MELS", 40), ("N_FRAMES", 60), ("HOP", 128), ("TOP_DB", 60.0)]:
        with monkeypatch.context() as m:
            m.setattr(spoken, setting, value)
            assert spoken.cache_key(base) != key, setting
    monkeypatch.setattr(spoken, "espeak_version", lambda: "eSpeak NG 1.52")
    assert spoken.cache_key(base) != key


# --------------------------------------------------------------------------- with espeak-ng
@needs_espeak
def test_shapes_kinds_values_and_split():
    ds = _load()
    assert ds.x_source.shape == (30, 8, 8) and ds.x_target.shape == (30, N_MELS, N_FRAMES)
    assert (ds.source.kind, ds.target.kind) == ("image", "spectrogram")
    assert ds.x_target.min() >= 0.0 and ds.x_target.max() <= 1.0
    digits = load_dataset("digits", gap=0.0, n_samples=30)  # same subsample and split streams
    assert np.bincount(ds.y).tolist() == [3] * 10 and len(ds.test_idx) == 10  # >= 1 per class
    np.testing.assert_array_equal(ds.test_idx, digits.test_idx)
    assert ds.info["pairing"] == "class-level" and ds.info["n_noisy_pairs"] == 0
    np.testing.assert_array_equal(ds.x_source, digits.x_source)
    assert ds.name == "spoken_digits:image->audio@0"


@needs_espeak
def test_same_seed_same_audio_other_seed_other_voices():
    a, b, c = _load(), _load(), _load(seed=1)
    np.testing.assert_array_equal(a.x_target, b.x_target)
    assert np.abs(a.x_target - c.x_target).mean() > 0.01


@needs_espeak
def test_warm_cache_does_not_synthesise_and_leaves_no_temporary_files(monkeypatch, tmp_path):
    first = _load()
    files = sorted((tmp_path / "cache" / "spoken_digits").iterdir())
    assert [f.suffix for f in files] == [".npy"]

    def fail(*args, **kwargs):
        raise AssertionError("synthesised although the cache is warm")

    monkeypatch.setattr(spoken, "synthesise_features", fail)
    np.testing.assert_array_equal(_load().x_target, first.x_target)
    reverse = _load(source="audio", target="image", pair_noise=0.5)  # same utterances, reused
    np.testing.assert_array_equal(reverse.x_target, first.x_source)
    with pytest.raises(AssertionError, match="cache is warm"):
        _load(seed=1)  # another seed: other voices, never the stale file


@needs_espeak
def test_results_do_not_depend_on_workers_or_batches(monkeypatch):
    utterances = spoken._draw_utterances(np.arange(10), seed=0)[:7]
    one = spoken.synthesise_features(utterances, workers=1)
    monkeypatch.setattr(spoken, "_BATCH", 2)
    np.testing.assert_array_equal(spoken.synthesise_features(utterances, workers=3), one)


@needs_espeak
@pytest.mark.parametrize("source, target", [("image", "audio"), ("audio", "image")])
def test_pair_noise_swaps_the_source_of_a_share_of_rows_to_another_class(source, target):
    clean = _load(source=source, target=target)
    noisy = _load(source=source, target=target, pair_noise=0.5)
    np.testing.assert_array_equal(noisy.x_target, clean.x_target)  # the target is never touched
    np.testing.assert_array_equal(noisy.y, clean.y)
    flat_clean = clean.x_source.reshape(30, -1)
    moved = np.flatnonzero(np.any(noisy.x_source != clean.x_source, axis=(1, 2)))
    assert len(moved) == 15 == noisy.info["n_noisy_pairs"]
    for i in moved:  # the new source is the source of a row of another class
        (rows,) = np.nonzero(np.all(flat_clean == noisy.x_source[i].ravel(), axis=1))
        assert len(rows) >= 1 and np.all(clean.y[rows] != clean.y[i])


@pytest.mark.slow
@needs_espeak
def test_spectrograms_carry_the_spoken_class():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    ds = _load(n_samples=150)
    x = ds.x_target.reshape(150, -1)
    scores = cross_val_score(LogisticRegression(max_iter=500), x, ds.y, cv=3)
    assert scores.mean() > 0.3  # chance is 0.1


@needs_espeak
def test_noisy_test_rows_never_carry_a_training_image_and_are_not_independent():
    clean = _load(n_samples=60)
    ds = _load(n_samples=60, pair_noise=0.5)
    train_images = {img.tobytes() for img in clean.x_source[clean.train_idx]}
    test_images = [img.tobytes() for img in ds.x_source[ds.test_idx]]
    assert not any(img in train_images for img in test_images)  # no training image leaks
    assert clean.info["rows_independent"] is True
    assert ds.info["rows_independent"] is False  # noisy test rows reuse test images
