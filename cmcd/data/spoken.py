"""Spoken digits synthesised with espeak-ng, paired by class with scikit-learn's digit images.

A genuinely cross-modal pair: an 8x8 digit image (``"image"`` view, values in [0, 1]) and a
log-mel spectrogram of a spoken digit word (``"audio"`` view, kind ``"spectrogram"``).

Synthesis (all ranges are our choice)
-------------------------------------
Image row ``i`` (label ``c``) gets one utterance of the word ``DIGIT_WORDS[c]``, spoken by
``espeak-ng -v <language>+<variant> -s <speed> -p <pitch> -w <file.wav>`` with, drawn per row
from the run's seeded stream ``"spoken-voice"``:

- language in :data:`LANGUAGES` and variant in :data:`VARIANTS` (uniform),
- speed uniform in :data:`SPEED_RANGE` words per minute (espeak-ng's default is 175),
- pitch uniform in :data:`PITCH_RANGE` (0-99, default 50),
- additive white Gaussian noise at an SNR uniform in :data:`SNR_DB_RANGE` dB.

The draws are made for all 1797 images at once, so the utterance of an image does not depend
on ``n_samples``. Features: leading and trailing silence is trimmed, noise is added, and a
log-mel spectrogram (:func:`log_mel`) is padded (silence) or centre-cropped to
:data:`N_FRAMES` frames, giving a ``(N_MELS, N_FRAMES)`` array in [0, 1].

Pairing is class-level, not instance-level (as in AV-MNIST): an image and "its" utterance share
only the class. ``pair_noise`` replaces, for a seeded fraction of rows, the *source* sample by
the source sample of a random row of another class in the same split (so ``y`` is always the
target's true class, the target view itself is never corrupted, and no test row carries a
training image): a controlled correspondence gap. With ``pair_noise > 0`` a noisy test row
reuses another test row's image, so the held-out pairs are not independent: the dataset says
``rows_independent: False`` and every certified term of such a run is reported as an
estimate (:func:`bounds.target.generalization.term_status`).

Features are cached under ``$CMCD_CACHE_DIR/spoken_digits`` (default ``~/.cache/cmcd``) in a
file keyed by the SHA-256 of every generation parameter (each utterance's word, voice, speed,
pitch, SNR and noise seed, the feature settings and the espeak-ng version), written atomically,
so a changed parameter never reuses a stale cache and concurrent loaders never read a partial
file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from cmcd._checks import check_choice, check_count, check_number
from cmcd._io import atomic_write
from cmcd.data._base import DEFAULT_TEST_FRACTION, PairedDataset, ViewSpec, register
from cmcd.data._sampling import split_indices, stratified_subsample
from cmcd.seeding import rng_for

__all__ = [
    "DIGIT_WORDS",
    "ESPEAK_INSTALL_HINT",
    "LANGUAGES",
    "SPOKEN_VIEWS",
    "VARIANTS",
    "Utterance",
    "log_mel",
    "spoken_digits",
    "synthesise_features",
]

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LANGUAGES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-029")
"""English voices of espeak-ng (our choice: the digit words are English)."""
VARIANTS = (
    *(f"m{k}" for k in range(1, 8)),
    *(f"f{k}" for k in range(1, 6)),
    "klatt",
    "klatt2",
    "klatt3",
    "croak",
    "Andy",
    "Denis",
    "Lee",
    "anika",
    "aunty",
    "edward",
    "steph",
    "linda",
    "max",
    "quincy",
)
"""espeak-ng voice variants (our choice: no whisper or robot variants)."""
SPEED_RANGE = (130, 230)
PITCH_RANGE = (20, 80)
SNR_DB_RANGE = (10.0, 30.0)
SAMPLE_RATE = 22050
"""espeak-ng's output rate (Hz); checked on every file read."""
N_FFT, HOP, N_MELS, N_FRAMES = 512, 256, 32, 56
"""STFT size, hop (11.6 ms), mel bands and fixed frame count (0.65 s) of the spectrograms."""
F_MIN, F_MAX, TOP_DB = 50.0, 8000.0, 80.0
SPOKEN_VIEWS = ("image", "audio")
ESPEAK_INSTALL_HINT = "install it with `apt-get install espeak-ng` (or `make setup`)"
_BATCH = 64
_FORMAT = 1  # bump when the feature code changes


@dataclass(frozen=True)
class Utterance:
    """Every parameter of one synthesised utterance (all of them enter the cache key)."""

    word: str
    voice: str
    speed: int
    pitch: int
    snr_db: float
    noise_seed: int


def espeak_version() -> str:
    """Return espeak-ng's version line, or raise ``FileNotFoundError`` naming the install."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError(
            f"spoken_digits needs espeak-ng, which is not installed; {ESPEAK_INSTALL_HINT}"
        )
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _draw_utterances(labels: np.ndarray, seed: int) -> list[Utterance]:
    """One utterance per label, voices drawn from the stream ``"spoken-voice"``."""
    rng, n = rng_for(seed, "spoken-voice"), len(labels)
    lang = rng.integers(len(LANGUAGES), size=n)
    variant = rng.integers(len(VARIANTS), size=n)
    speed = rng.integers(SPEED_RANGE[0], SPEED_RANGE[1] + 1, size=n)
    pitch = rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1, size=n)
    snr = np.round(rng.uniform(*SNR_DB_RANGE, size=n), 3)
    noise_seed = rng.integers(2**32, size=n)
    return [
        Utterance(
            DIGIT_WORDS[labels[i]],
            f"{LANGUAGES[lang[i]]}+{VARIANTS[variant[i]]}",
            int(speed[i]),
            int(pitch[i]),
            float(snr[i]),
            int(noise_seed[i]),
        )
        for i in range(n)
    ]


def _mel_filterbank() -> np.ndarray:
    """HTK mel filterbank of shape (N_MELS, N_FFT // 2 + 1), triangles of unit peak."""
    mel_min, mel_max = (2595 * np.log10(1 + f / 700) for f in (F_MIN, F_MAX))
    mel = np.linspace(mel_min, mel_max, N_MELS + 2)
    hz = 700 * (10 ** (mel / 2595) - 1)
    freqs = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)
    lower, centre, upper = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    rising = (freqs - lower) / (centre - lower)
    falling = (upper - freqs) / (upper - centre)
    return np.clip(np.minimum(rising, falling), 0, None)


_MEL = _mel_filterbank()


def log_mel(wav: np.ndarray) -> np.ndarray:
    r"""Log-mel spectrogram in [0, 1], padded with silence or centre-cropped to N_FRAMES.

    .. math:: S = \max\!\left(10 \log_{10} \frac{M |X|^2}{\max M |X|^2}, -80\right) / 80 + 1

    with :math:`X` the Hann-windowed STFT (``N_FFT``, ``HOP``) and :math:`M` the mel bank.

    Examples
    --------
    >>> log_mel(np.sin(np.arange(8000) / 5.0)).shape
    (32, 56)
    """
    x = np.pad(np.asarray(wav, dtype=np.float64), (0, max(0, N_FFT - len(wav))))
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP] * np.hanning(N_FFT)
    power = _MEL @ (np.abs(np.fft.rfft(frames, axis=1)) ** 2).T
    db = 10 * np.log10(np.maximum(power, 1e-12) / max(power.max(), 1e-12))
    spec = np.maximum(db, -TOP_DB) / TOP_DB + 1.0
    if spec.shape[1] >= N_FRAMES:
        start = (spec.shape[1] - N_FRAMES) // 2
        return spec[:, start : start + N_FRAMES].astype(np.float32)
    return np.pad(spec, ((0, 0), (0, N_FRAMES - spec.shape[1]))).astype(np.float32)


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as f:
        if f.getframerate() != SAMPLE_RATE or f.getsampwidth() != 2 or f.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono {SAMPLE_RATE} Hz from espeak-ng")
        raw = f.readframes(f.getnframes())
    return np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0


def _features(wav: np.ndarray, utt: Utterance) -> np.ndarray:
    """Trim silence (|x| < 1% of the peak), add noise at the utterance's SNR, log-mel."""
    loud = np.flatnonzero(np.abs(wav) >= 0.01 * max(np.abs(wav).max(), 1e-12))
    clean = wav[loud[0] : loud[-1] + 1] if loud.size else wav
    sigma = np.sqrt(np.mean(clean**2) / 10 ** (utt.snr_db / 10))
    noise = np.random.default_rng(utt.noise_seed).standard_normal(len(clean))
    return log_mel(clean + sigma * noise)


def _synthesise_batch(batch: list[Utterance]) -> np.ndarray:
    """Synthesise one batch in a private temporary folder (safe to run in parallel)."""
    out = np.empty((len(batch), N_MELS, N_FRAMES), dtype=np.float32)
    with tempfile.TemporaryDirectory(prefix="cmcd-espeak-") as tmp:
        for k, utt in enumerate(batch):
            path = Path(tmp) / f"{k}.wav"
            cmd = [
                "espeak-ng",
                "-v",
                utt.voice,
                "-s",
                str(utt.speed),
                "-p",
                str(utt.pitch),
                "-w",
                str(path),
                utt.word,
            ]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0 or not path.is_file():
                raise RuntimeError(f"espeak-ng failed on {utt}: {done.stderr.strip()[:200]}")
            out[k] = _features(_read_wav(path), utt)
    return out


def _default_workers() -> int:
    return int(os.environ.get("CMCD_SPOKEN_WORKERS", min(4, os.cpu_count() or 1)))


def synthesise_features(utterances: list[Utterance], workers: int | None = None) -> np.ndarray:
    """Log-mel features (n, N_MELS, N_FRAMES) of ``utterances``, in batches over threads.

    The result does not depend on ``workers`` (each utterance carries its own noise seed).
    ``workers`` defaults to ``$CMCD_SPOKEN_WORKERS`` or ``min(4, cpu_count)``.

    Examples
    --------
    >>> u = Utterance("seven", "en-us+m3", 175, 50, 20.0, 0)
    >>> synthesise_features([u]).shape  # doctest: +SKIP
    (1, 32, 56)
    """
    espeak_version()
    workers = check_count(workers if workers is not None else _default_workers(), "workers")
    batches = [utterances[i : i + _BATCH] for i in range(0, len(utterances), _BATCH)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(_synthesise_batch, batches))
    return np.concatenate(parts) if parts else np.empty((0, N_MELS, N_FRAMES), np.float32)


def cache_dir() -> Path:
    """Folder of the feature caches: ``$CMCD_CACHE_DIR/spoken_digits`` (``~/.cache/cmcd``)."""
    root = os.environ.get("CMCD_CACHE_DIR") or Path.home() / ".cache" / "cmcd"
    return Path(root) / "spoken_digits"


def cache_key(utterances: list[Utterance]) -> str:
    """SHA-256 of every generation parameter, the feature settings and espeak-ng's version."""
    settings = {
        "format": _FORMAT,
        "espeak": espeak_version(),
        "sr": SAMPLE_RATE,
        "n_fft": N_FFT,
        "hop": HOP,
        "n_mels": N_MELS,
        "frames": N_FRAMES,
        "fmin": F_MIN,
        "fmax": F_MAX,
        "top_db": TOP_DB,
    }
    blob = json.dumps({"settings": settings, "utterances": [asdict(u) for u in utterances]})
    return hashlib.sha256(blob.encode()).hexdigest()


def cached_features(utterances: list[Utterance]) -> tuple[np.ndarray, str]:
    """Features of ``utterances`` from the cache, synthesising and saving them on a miss."""
    key = cache_key(utterances)
    path = cache_dir() / f"{key}.npy"
    if path.is_file():
        return np.load(path), key
    feats = synthesise_features(utterances)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: np.save(f, feats))
    return feats, key


def _check_options(source: object, target: object, pair_noise: object) -> float:
    check_choice(source, "source", SPOKEN_VIEWS)
    check_choice(target, "target", SPOKEN_VIEWS)
    if source == target:
        raise ValueError(f"source and target must be different views, both are {source!r}")
    return check_number(pair_noise, "pair_noise", low=0.0, high=1.0)


def noisy_partners(
    y: np.ndarray, pair_noise: float, rng: np.random.Generator, groups: np.ndarray | None = None
) -> np.ndarray:
    """Partner row of each row: itself, or a row of another class for a ``pair_noise`` share.

    Exactly ``round(pair_noise * n)`` rows, drawn without replacement, get a uniformly drawn
    row of another class *of the same group* (``groups``: e.g. 0 for training rows, 1 for
    test rows), so that no test row carries a training sample.

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1])
    >>> p = noisy_partners(y, 1.0, np.random.default_rng(0))
    >>> bool(np.all(y[p] != y))
    True
    >>> g = np.array([0, 1, 0, 1])
    >>> p = noisy_partners(y, 1.0, np.random.default_rng(0), groups=g)
    >>> bool(np.all(g[p] == g))
    True
    """
    n = len(y)
    groups = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups)
    partner = np.arange(n)
    for i in rng.choice(n, size=int(round(pair_noise * n)), replace=False):
        others = np.flatnonzero((y != y[i]) & (groups == groups[i]))
        partner[i] = rng.choice(others) if others.size else i
    return partner


@register("spoken_digits")
def spoken_digits(
    *,
    seed: int = 0,
    source: str = "image",
    target: str = "audio",
    pair_noise: float = 0.0,
    n_samples: int | None = None,
    test_fraction: float = DEFAULT_TEST_FRACTION,
) -> PairedDataset:
    """scikit-learn's 8x8 digit images paired by class with synthesised spoken digits.

    See the module docstring for the synthesis, features, pairing and cache.

    Parameters
    ----------
    seed : int
        Fixes the voices, the noise, the subsample, the noisy pairs and the split.
    source, target : {"image", "audio"}
        The two different views; audio is the weak modality when it is the target.
    pair_noise : float
        Fraction in [0, 1] of rows whose source sample comes from a random other class.
    n_samples : int or None
        Stratified subsample of the 1797 images by seed; None keeps all.
    test_fraction : float
        Held-out share of each class (default 0.3, our choice).

    Raises
    ------
    ValueError
        Unknown view (the valid ones are listed), ``source == target``, ``pair_noise``
        outside [0, 1].
    FileNotFoundError
        espeak-ng is not installed: ``apt-get install espeak-ng``.

    Examples
    --------
    >>> ds = spoken_digits(n_samples=40)  # doctest: +SKIP
    >>> ds.source.shape, ds.target.kind, ds.target.shape  # doctest: +SKIP
    ((8, 8), 'spectrogram', (32, 56))
    """
    from sklearn.datasets import load_digits

    pair_noise = _check_options(source, target, pair_noise)
    bunch = load_digits()
    utterances = _draw_utterances(bunch.target, seed)
    idx = np.arange(len(bunch.target))
    if n_samples is not None:
        n = check_count(n_samples, "n_samples", minimum=2)
        if n > len(idx):
            raise ValueError(f"n_samples must be at most {len(idx)} for this dataset, got {n}")
        idx = stratified_subsample(bunch.target, n, rng_for(seed, "subsample"))
    audio, key = cached_features([utterances[i] for i in idx])
    x = {"image": (bunch.images[idx] / 16.0).astype(np.float32), "audio": audio}
    specs = {
        "image": ViewSpec("image", "image", (8, 8)),
        "audio": ViewSpec("audio", "spectrogram", (N_MELS, N_FRAMES)),
    }
    y = bunch.target[idx].astype(np.int64)
    train, test = split_indices(y, len(y), test_fraction, rng_for(seed, "split"))
    groups = np.zeros(len(y), dtype=np.int64)
    groups[test] = 1
    partner = noisy_partners(y, pair_noise, rng_for(seed, "pair-noise"), groups=groups)
    n_noisy = int(np.sum(partner != np.arange(len(y))))
    return PairedDataset(
        x[source][partner],
        x[target],
        y,
        specs[source],
        specs[target],
        train,
        test,
        f"spoken_digits:{source}->{target}@{pair_noise:g}",
        {
            "source_view": source,
            "target_view": target,
            "pair_noise": pair_noise,
            "n_noisy_pairs": n_noisy,
            # A noisy test row carries the source sample of another test row: the held-out
            # pairs are then not independent, and no certificate holds (rows_independent).
            "rows_independent": bool(np.all(partner[test] == test)),
            "pairing": "class-level",
            "cache_key": key,
        },
    )
