"""The label-free target terms of one run: heads, maps, rows and missing inputs."""

from __future__ import annotations

import numpy as np
import pytest

from bounds.target.alignment import ALIGNMENTS
from bounds.target.heads import SOURCE_TO_TARGET, LinearHead, fit_source_to_target
from bounds.target.probe import LinearProbe
from bounds.target.target_terms import TARGET_TERMS, compute_target_terms


def unit(z):
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def run_latents(seed: int = 0, n: int = 400, n_train: int = 30, n_paired: int = 300):
    """Unit-norm paired latents with a constant modality gap, like a distillation run."""
    rng = np.random.default_rng(seed)
    means = 3.0 * np.eye(3, 8)
    gap = np.r_[np.zeros(7), 2.0]
    y = rng.integers(0, 3, size=n + n_train + n_paired)
    z_a = unit(means[y] + rng.normal(size=(y.size, 8)))
    z_b = unit(z_a * 3.0 + gap + 0.8 * rng.normal(size=(y.size, 8)))
    tr, te, pa = slice(0, n_train), slice(n_train, n_train + n), slice(n_train + n, None)
    return {
        "z_source_train": z_a[tr], "y_train": y[tr], "z_target_train": z_b[tr],
        "z_source_test": z_a[te], "z_target_test": z_b[te], "y_test": y[te],
        "z_align_source": z_a[pa], "z_align_target": z_b[pa],
    }  # fmt: skip


def test_linear_head_matches_the_probe_and_naive_margins():
    d = run_latents()
    probe = LinearProbe(random_state=0).fit(d["z_source_train"], d["y_train"])
    head = LinearHead.from_probe(probe)
    z, y = d["z_source_test"], d["y_test"]
    np.testing.assert_array_equal(head.predict(z), probe.predict(z))
    s = head.scores(z)
    naive = [s[i, y[i]] - max(s[i, k] for k in range(3) if k != y[i]) for i in range(len(y))]
    np.testing.assert_allclose(head.margin(z, y), naive)
    w = head.weight
    naive_k = max(np.linalg.norm(w[j] - w[k]) for j in range(3) for k in range(3))
    np.testing.assert_allclose(head.lipschitz(), naive_k)
    assert np.isneginf(head.margin(z[:1], [7])[0])


def test_maps_cover_the_alignments_and_close_the_gap():
    assert set(SOURCE_TO_TARGET) == set(ALIGNMENTS)
    d = run_latents()
    zs, zt = d["z_align_source"], d["z_align_target"]
    for name in SOURCE_TO_TARGET:
        mapped = fit_source_to_target(name, zs, zt)(d["z_source_test"])
        assert mapped.shape == d["z_source_test"].shape
    before = np.linalg.norm(d["z_source_test"].mean(0) - d["z_target_test"].mean(0))
    moved = fit_source_to_target("center", zs, zt)(d["z_source_test"])
    assert np.linalg.norm(moved.mean(0) - d["z_target_test"].mean(0)) < before / 3
    with pytest.raises(ValueError, match="alignment must be one of"):
        fit_source_to_target("rotate", zs, zt)


def step3_model(d):
    """A target model fitted by the user, independent of the held-out rows."""
    return LinearHead.from_probe(LinearProbe(random_state=1).fit(d["z_target_train"], d["y_train"]))


@pytest.mark.slow
def test_terms_are_complete_and_the_certified_ones_hold():
    d = run_latents()
    model = step3_model(d)
    out = compute_target_terms(**d, target_model=model, random_state=0)
    assert set(TARGET_TERMS) <= set(out)
    assert all(isinstance(out[k], float) for k in TARGET_TERMS)
    err = out["target_error"]
    np.testing.assert_allclose(err, np.mean(model.predict(d["z_target_test"]) != d["y_test"]))
    assert 0.02 < err < 0.5
    for name in ("certified_target_bound", "best_certified_target_bound"):
        assert out[name] >= err
    assert out["best_certified_target_bound"] <= out["certified_target_bound"] + 0.05
    assert out["w1_aligned"] <= out["paired_cost"] + 1e-9
    again = compute_target_terms(**d, target_model=model, random_state=0)
    assert {k: again[k] for k in TARGET_TERMS} == {k: out[k] for k in TARGET_TERMS}


@pytest.mark.slow
def test_the_terms_bound_the_given_model_never_a_refitted_one():
    """A poor given model (it reads one coordinate only) is what the terms speak of."""
    d = run_latents()
    good = step3_model(d)
    poor = LinearHead(good.weight * np.r_[1.0, np.zeros(7)], good.bias, good.classes)
    pred = poor.predict(d["z_target_test"])
    out = compute_target_terms(**d, target_pred=pred, target_model=poor, random_state=0)
    good_out = compute_target_terms(**d, target_model=good, random_state=0)
    np.testing.assert_allclose(out["target_error"], np.mean(pred != d["y_test"]))
    assert out["target_error"] > good_out["target_error"] + 0.1
    assert out["certified_target_bound"] >= out["target_error"]
    assert out["pair_disagreement"] > good_out["pair_disagreement"]
    with pytest.raises(ValueError, match="never refit"):
        compute_target_terms(**d)


@pytest.mark.slow
def test_predictions_alone_give_the_pairing_terms_and_the_rows_are_recorded():
    d = run_latents()
    pred = step3_model(d).predict(d["z_target_test"])
    lab, pair = np.arange(0, 400, 2), np.arange(1, 400, 2)
    out = compute_target_terms(**d, target_pred=pred, halves=(lab, pair), random_state=0)
    assert out["certified_target_bound"] >= out["target_error"]
    assert out["best_certified_target_bound"] is None and "target_model" in out["details"]["mapped"]
    assert out["details"]["rows"] == {
        "labelled_source": lab.tolist(),
        "unlabeled_pairs": pair.tolist(),
    }
    # The given halves are what the certificate reads: the counts are those of the halves.
    triangle = out["details"]["certified_target_bound"]
    assert triangle["n_labelled"] == 200 and triangle["n_pairs"] == 200
    with pytest.raises(ValueError, match="disjoint"):
        compute_target_terms(**d, target_pred=pred, halves=(lab, lab))
    with pytest.raises(ValueError, match="target_pred must be 1-D"):
        compute_target_terms(**d, target_pred=pred[:-1])


@pytest.mark.slow
def test_alignment_rows_that_repeat_scored_pairs_are_refused():
    d = run_latents()
    model = step3_model(d)
    d["z_align_source"] = np.vstack([d["z_align_source"], d["z_source_test"][:5]])
    d["z_align_target"] = np.vstack([d["z_align_target"], d["z_target_test"][:5]])
    with pytest.raises(ValueError, match="repeat 5 of the 400 scored pairs"):
        compute_target_terms(**d, target_model=model)
    out = compute_target_terms(**d, target_model=model, z_align_disjoint=True, random_state=0)
    assert out["dis2_bound"] is not None


@pytest.mark.slow
def test_independent_copies_need_the_labelled_target_rows():
    d = run_latents()
    model = step3_model(d)
    d["z_target_train"] = None
    out = compute_target_terms(**d, target_model=model, random_state=0)
    assert out["disagreement_estimate"] is None
    assert "z_target_train" in out["details"]["disagreement_estimate"]


@pytest.mark.slow
def test_without_alignment_rows_the_mapped_terms_are_none_with_a_reason():
    d = run_latents()
    d.pop("z_align_source"), d.pop("z_align_target")
    out = compute_target_terms(**d, target_model=step3_model(d), random_state=0)
    assert out["dis2_bound"] is None and out["margin_transport_bound"] is None
    assert out["certified_target_bound"] is not None
    assert "z_align" in out["details"]["mapped"]


@pytest.mark.slow
def test_bad_rows_are_named():
    d = run_latents(n=18)
    with pytest.raises(ValueError, match="z_source_test has 18 held-out pairs"):
        compute_target_terms(**d, target_model=step3_model(d))
    d = run_latents()
    model = step3_model(d)
    d["z_target_train"] = d["z_target_train"][:-1]
    with pytest.raises(ValueError, match="z_target_train has 29 rows"):
        compute_target_terms(**d, target_model=model)
