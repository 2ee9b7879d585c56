import torch

from cmcd.train.augment import (
    AUGMENTATIONS,
    SPEC_MAX_BANDS,
    SPEC_MAX_FRAMES,
    augment_image,
    augment_spectrogram,
    augment_vector,
)


def test_vector_augmentation_only_uses_values_of_the_same_column():
    x = torch.arange(20.0).reshape(5, 4)  # column j holds values = j mod 4
    out = augment_vector(x, noise=0.0, mask=1.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out % 4, x % 4)
    assert not torch.equal(out, x)


def test_vector_corruption_rate_matches_mask():
    x = torch.randn(400, 50, generator=torch.Generator().manual_seed(1))
    out = augment_vector(x, noise=0.0, mask=0.3, generator=torch.Generator().manual_seed(2))
    changed = (out != x).double().mean().item()
    # a replaced value equals the original with probability 1/400 (same donor row)
    assert abs(changed - 0.3 * (1 - 1 / 400)) < 0.02


def test_image_augmentation_shifts_by_at_most_one_pixel():
    x = torch.zeros(30, 8, 8)
    x[:, 4, 4] = 1.0
    out = augment_image(x, noise=0.0, mask=1.0, generator=torch.Generator().manual_seed(0))
    rows, cols = (out == 1.0).nonzero()[:, 1], (out == 1.0).nonzero()[:, 2]
    assert len(rows) == 30
    assert ((rows - 4).abs() <= 1).all() and ((cols - 4).abs() <= 1).all()
    assert ((rows != 4) | (cols != 4)).any()


def test_same_generator_seed_same_views_and_registry():
    x = torch.randn(10, 6)
    a = AUGMENTATIONS["vector"](x, 0.1, 0.5, torch.Generator().manual_seed(3))
    b = AUGMENTATIONS["vector"](x, 0.1, 0.5, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    assert set(AUGMENTATIONS) == {"vector", "image", "spectrogram"}


def test_spectrogram_masks_one_band_and_one_span_and_shifts_a_few_frames():
    x = torch.ones(200, 12, 20)
    out = augment_spectrogram(x, noise=0.0, mask=1.0, generator=torch.Generator().manual_seed(0))
    zero_bands = (out == 0).all(dim=2).sum(dim=1)  # mel bands hidden over all frames
    zero_frames = (out == 0).all(dim=1).sum(dim=1)  # frames hidden over all bands
    assert int(zero_bands.max()) == SPEC_MAX_BANDS and int(zero_bands.min()) == 0
    assert int(zero_frames.max()) == SPEC_MAX_FRAMES and int(zero_frames.min()) == 0
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    untouched = augment_spectrogram(x, 0.0, 0.0, torch.Generator().manual_seed(0))
    torch.testing.assert_close(untouched, x, rtol=0, atol=0)


def test_spectrogram_shift_is_a_circular_roll_of_at_most_three_frames():
    x = torch.zeros(100, 3, 16)
    x[:, :, 8] = 1.0
    out = augment_spectrogram(x, 0.0, 1.0, torch.Generator().manual_seed(1))
    frames = out.amax(dim=1).argmax(dim=1)[out.amax(dim=(1, 2)) > 0]
    assert int((frames - 8).abs().max()) == 3 and len(frames.unique()) > 1
