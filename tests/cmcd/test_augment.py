import torch

from cmcd.augment import AUGMENTATIONS, augment_image, augment_vector


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
    assert set(AUGMENTATIONS) == {"vector", "image"}
