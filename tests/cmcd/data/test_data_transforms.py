"""Modality-gap families: identity at gap 0, continuity, monotone distance, closed forms."""

import matplotlib
import numpy as np
import pytest
from sklearn.datasets import load_digits

from cmcd.data import GAP_FAMILIES, apply_gap, check_gap, plot_modality_gap_examples
from cmcd.data.transforms import (
    DEPTH_MAX_NOISE,
    OCCLUSION_MAX_SIDE,
    _block_matrix,
    _blur_matrix,
    edge_map,
    sketch,
)

matplotlib.use("Agg")
FAMILIES = sorted(GAP_FAMILIES)


@pytest.fixture(scope="module")
def batch():
    return (load_digits().images[:200] / 16.0).astype(np.float32)


def _t(images, gap, family, seed=0):
    return apply_gap(images, gap, family, np.random.default_rng(seed))


@pytest.mark.parametrize("family", FAMILIES)
def test_gap_zero_is_the_identity(batch, family):
    np.testing.assert_array_equal(_t(batch, 0.0, family), batch)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("gap", [0.3, 1.0])
def test_shape_dtype_range(batch, family, gap):
    out = _t(batch, gap, family)
    assert out.shape == batch.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("family", FAMILIES)
def test_continuous_in_gap(batch, family):
    """mean |T_g - T_{g+0.01}| <= 0.03 mean |T_0 - T_1| (measured max: 0.017, depth)."""
    full = np.abs(_t(batch, 0.0, family) - _t(batch, 1.0, family)).mean()
    steps = [
        np.abs(_t(batch, g, family) - _t(batch, g + 0.01, family)).mean()
        for g in np.linspace(0, 0.99, 34)
    ]
    np.testing.assert_array_less(np.array(steps), 0.03 * full)


@pytest.mark.parametrize("family", FAMILIES)
def test_distance_from_source_grows_with_gap(batch, family):
    dist = np.array([np.abs(_t(batch, g, family) - batch).mean() for g in np.linspace(0, 1, 11)])
    np.testing.assert_array_less(0.0, np.diff(dist))


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_same_output_and_rng_use_independent_of_gap(batch, family):
    np.testing.assert_array_equal(_t(batch, 0.6, family, 3), _t(batch, 0.6, family, 3))
    states = []
    for gap in (0.0, 0.5, 1.0):
        rng = np.random.default_rng(0)
        apply_gap(batch, gap, family, rng)
        states.append(rng.random())
    np.testing.assert_allclose(states, states[0], rtol=0)


@pytest.mark.parametrize("family", ["depth", "occlusion"])
def test_random_families_differ_across_seeds(batch, family):
    assert np.abs(_t(batch, 0.8, family, 0) - _t(batch, 0.8, family, 1)).mean() > 1e-3


def test_sketch_is_a_linear_blend(batch):
    for g in (0.25, 0.7):
        expected = (1 - g) * batch + g * _t(batch, 1.0, "sketch")
        np.testing.assert_allclose(_t(batch, g, "sketch"), expected, atol=1e-6)


def test_edge_map_closed_forms():
    step = np.zeros((1, 5, 6), dtype=np.float32)
    step[0, :, 3:] = 1.0
    np.testing.assert_allclose(edge_map(step)[0], np.tile([0, 0, 1, 1, 0, 0], (5, 1)), atol=0)
    np.testing.assert_array_equal(edge_map(np.full((2, 4, 4), 0.3)), np.zeros((2, 4, 4)))


@pytest.mark.parametrize("gap", [0.2, 0.5, 1.0])
@pytest.mark.parametrize("shape", [(8, 8), (28, 28), (16, 15)])
def test_occluded_area_is_side_squared(gap, shape):
    ones = np.ones((20, *shape), dtype=np.float32)
    area = (1 - _t(ones, gap, "occlusion")).sum(axis=(1, 2))
    side = gap * OCCLUSION_MAX_SIDE * min(shape)
    np.testing.assert_allclose(area, np.full(20, side**2), rtol=1e-5)


@pytest.mark.parametrize("gap", [-0.1, 1.01, float("nan"), "0.5", True, None])
def test_bad_gap_is_named(batch, gap):
    with pytest.raises(ValueError, match="gap must be a number in"):
        check_gap(gap)
    for family in FAMILIES:
        with pytest.raises(ValueError, match="gap"):
            GAP_FAMILIES[family](batch, gap, np.random.default_rng(0))


def test_bad_images_and_family(batch):
    with pytest.raises(ValueError, match=r"images must have shape \(n, H, W\)"):
        sketch(batch[0], 0.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="NaN"):
        sketch(np.full((1, 3, 3), np.nan), 0.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"unknown gap family 'blur'.*'sketch'"):
        apply_gap(batch, 0.5, "blur", np.random.default_rng(0))


def test_figure_panels_show_the_transforms(batch):
    gaps = (0.0, 0.5, 1.0)
    fig = plot_modality_gap_examples(batch[0], gaps=gaps, families=FAMILIES, seed=2)
    try:
        assert len(fig.axes) == len(FAMILIES) * len(gaps)
        for k, ax in enumerate(fig.axes):
            family, gap = FAMILIES[k // len(gaps)], gaps[k % len(gaps)]
            expected = apply_gap(batch[:1], gap, family, np.random.default_rng(2))[0]
            np.testing.assert_allclose(np.asarray(ax.images[0].get_array()), expected, atol=0)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


@pytest.mark.parametrize("gap", [0.3, 1.0])
def test_depth_of_a_constant_image_is_constant_plus_noise(gap):
    """Blur and pixelation keep a constant image; only the g * 0.1 * N(0, 1) noise remains."""
    flat = np.full((5, 12, 10), 0.5, dtype=np.float32)
    noise = np.random.default_rng(9).standard_normal(flat.shape)
    expected = np.clip(0.5 + gap * DEPTH_MAX_NOISE * noise, 0, 1)
    np.testing.assert_allclose(_t(flat, gap, "depth", seed=9), expected, atol=1e-6)


def test_depth_building_blocks():
    """Blur rows are normalised Gaussians (identity at sigma 0); pixelation averages blocks."""
    np.testing.assert_array_equal(_blur_matrix(5, 0.0), np.eye(5))
    blur = _blur_matrix(9, 1.5)
    np.testing.assert_allclose(blur.sum(axis=1), 1.0, rtol=1e-12)
    w = np.exp(-(np.arange(-4, 5) ** 2) / (2 * 1.5**2))
    np.testing.assert_allclose(blur[4], w / w.sum(), rtol=1e-12)
    block = _block_matrix(5, 2)
    x = np.array([1.0, 3.0, 5.0, 7.0, 9.0])
    np.testing.assert_allclose(block @ x, [2, 2, 6, 6, 9], rtol=1e-12)
