import numpy as np
import pytest
from scipy.stats import ortho_group

from bounds.target.alignment import (
    ALIGNMENTS,
    effective_rank,
    gap_terms,
    make_alignment,
    spread_terms,
)


def _sphere(n, d, seed=0):
    z = np.random.default_rng(seed).normal(size=(n, d))
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def test_registry_lists_the_four_maps():
    assert sorted(ALIGNMENTS) == ["center", "linear", "none", "whiten"]


def test_none_is_the_identity():
    z = _sphere(20, 4)
    np.testing.assert_array_equal(make_alignment("none").fit(z, z).transform(z, "target"), z)


def test_center_removes_a_constant_modality_gap():
    zs = _sphere(500, 8)
    zt = zs + np.full(8, 0.7)  # the student cone: an offset copy of the teacher's
    align = make_alignment("center").fit(zs[:300], zt[:300])
    # fitted on other rows, the maps agree on the held-out ones up to the means' sampling error
    a, b = align.transform(zs[300:], "source"), align.transform(zt[300:], "target")
    np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-12)


def test_whiten_standardises_each_modality_on_its_fit_rows():
    rng = np.random.default_rng(1)
    zs, zt = rng.normal(2.0, 3.0, size=(200, 5)), rng.normal(-1.0, 0.5, size=(200, 5))
    align = make_alignment("whiten").fit(zs, zt)
    for z, side in ((zs, "source"), (zt, "target")):
        out = align.transform(z, side)
        np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(out.std(axis=0), 1.0, atol=1e-12)


def test_linear_recovers_a_rotation_and_an_offset():
    zs = _sphere(400, 6, seed=2)
    rotation = ortho_group.rvs(6, random_state=3)
    zt = zs @ rotation.T + 0.4
    align = make_alignment("linear").fit(zs[:200], zt[:200])
    a, b = align.transform(zs[200:], "source"), align.transform(zt[200:], "target")
    np.testing.assert_allclose(a, b, atol=1e-8)


def test_center_and_linear_do_not_merge_different_laws():
    # a real difference (a different spread) survives the alignment
    zs, zt = _sphere(300, 4, seed=4), _sphere(300, 4, seed=5) * np.array([1.0, 1.0, 0.1, 0.1])
    for name in ("center", "linear"):
        align = make_alignment(name).fit(zs, zt)
        a, b = align.transform(zs, "source"), align.transform(zt, "target")
        assert abs(np.var(a[:, 3]) - np.var(b[:, 3])) > 0.05


def test_unknown_alignment_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"alignment must be one of \['center', 'linear'"):
        make_alignment("procrustes")


def test_linear_needs_equal_dimensions():
    with pytest.raises(ValueError, match="linear.*equal dimension"):
        make_alignment("linear").fit(_sphere(50, 4), _sphere(50, 3))


@pytest.mark.parametrize(("name", "n"), [("center", 1), ("whiten", 1), ("linear", 5)])
def test_too_few_fitting_rows_are_refused(name, n):
    with pytest.raises(ValueError, match="needs at least .* fitting rows"):
        make_alignment(name).fit(_sphere(n, 8), _sphere(n, 8))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_latents_are_refused(bad):
    z = _sphere(20, 3)
    z[4, 1] = bad
    with pytest.raises(ValueError, match="z_target"):
        make_alignment("center").fit(_sphere(20, 3), z)


def test_transform_checks_modality_and_dimension():
    align = make_alignment("center").fit(_sphere(20, 3), _sphere(20, 3))
    with pytest.raises(ValueError, match="modality must be one of"):
        align.transform(_sphere(2, 3), "student")
    with pytest.raises(ValueError, match="expects 3"):
        align.transform(_sphere(2, 4), "source")


def test_gap_terms_of_identical_offset_and_unrelated_pairs():
    z = _sphere(400, 16, seed=6)
    np.testing.assert_allclose(list(gap_terms(z, z).values()), 0.0, atol=1e-12)
    offset = np.zeros(16)
    offset[0] = 0.5
    assert gap_terms(z, z + offset)["gap_norm"] == pytest.approx(0.5, abs=1e-12)
    unrelated = gap_terms(z, _sphere(400, 16, seed=7))
    assert unrelated["relative_gap"] == pytest.approx(0.5, abs=0.02)


def test_gap_terms_need_paired_rows():
    with pytest.raises(ValueError, match="paired arrays of equal shape"):
        gap_terms(_sphere(10, 3), _sphere(9, 3))


def test_effective_rank_matches_the_entropy_of_the_spectrum():
    rng = np.random.default_rng(8)
    scales = np.array([3.0, 2.0, 1.0, 0.5])
    z = rng.normal(size=(500, 4)) * scales
    power = np.linalg.svd(z - z.mean(axis=0), compute_uv=False) ** 2
    p = power / power.sum()
    naive = np.exp(-sum(pk * np.log(pk) for pk in p))
    assert effective_rank(z) == pytest.approx(naive, rel=1e-12)
    isotropic = effective_rank(rng.normal(size=(20000, 8)))
    assert isotropic == pytest.approx(8.0, abs=0.05)
    rank_two = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 16))
    assert effective_rank(rank_two) <= 2.0 + 1e-9
    assert effective_rank(np.ones((5, 3))) == 0.0


def test_spread_terms_ignore_an_offset_and_see_a_shrunk_student():
    z = _sphere(400, 16, seed=9)
    offset = spread_terms(z, z + 3.0)
    assert offset["erank_ratio"] == pytest.approx(1.0, rel=1e-9)
    assert offset["radius_target"] == pytest.approx(offset["radius_source"], rel=1e-9)
    flat = z.copy()
    flat[:, 2:] *= 0.05  # a student that keeps two directions of the teacher's sixteen
    shrunk = spread_terms(z, flat)
    assert shrunk["erank_ratio"] < 0.3
    assert shrunk["radius_target"] < 0.6 * shrunk["radius_source"]


def test_spread_terms_need_two_rows_each():
    with pytest.raises(ValueError, match="z_target need >= 2 rows"):
        spread_terms(_sphere(10, 3), _sphere(1, 3))
    with pytest.raises(ValueError, match="z_source"):
        spread_terms(np.full((3, 2), np.nan), _sphere(3, 2))
