import numpy as np
import pytest

from cmcd.data import load_dataset
from cmcd.data.splits import choose_labeled, make_splits
from cmcd.run_config import RunConfig


@pytest.fixture(scope="module")
def synthetic():
    return load_dataset("synthetic", n_samples=300, seed=0)


def test_labeled_rows_are_per_class_and_from_training(synthetic):
    cfg = RunConfig.build({"data": {"name": "synthetic"}, "finetune": {"labels_per_class": 4}})
    s = make_splits(synthetic, cfg.split)
    counts = np.bincount(synthetic.y[s.labeled])
    np.testing.assert_array_equal(counts, np.full(synthetic.n_classes, 4))
    assert set(s.labeled) <= set(s.train)
    assert not set(s.evaluation) & set(s.train)
    np.testing.assert_array_equal(s.evaluation, np.sort(synthetic.test_idx))


def test_validation_mode_never_touches_test_rows(synthetic):
    cfg = RunConfig.build({"data": {"name": "synthetic"}, "evaluate_on": "validation"})
    s = make_splits(synthetic, cfg.split)
    test = set(synthetic.test_idx)
    for rows in (s.train, s.paired, s.labeled, s.evaluation):
        assert not set(rows) & test
    assert not set(s.evaluation) & set(s.train)


def test_same_seed_same_split_other_seed_other_labels(synthetic):
    cfg = RunConfig.build({"data": {"name": "synthetic"}})
    a, b = make_splits(synthetic, cfg.split), make_splits(synthetic, cfg.split)
    np.testing.assert_array_equal(a.labeled, b.labeled)
    c = make_splits(synthetic, RunConfig.build({"data": {"name": "synthetic"}, "seed": 1}).split)
    assert not np.array_equal(a.labeled, c.labeled)


def test_n_pairs_subsample_and_errors(synthetic):
    cfg = RunConfig.build({"data": {"name": "synthetic"}, "distill": {"n_pairs": 50}})
    s = make_splits(synthetic, cfg.split)
    assert len(s.paired) == 50 and set(s.paired) <= set(s.train)
    cfg = RunConfig.build({"data": {"name": "synthetic"}, "distill": {"n_pairs": 10**6}})
    with pytest.raises(ValueError, match="distill.n_pairs"):
        make_splits(synthetic, cfg.split)


def test_labels_per_class_too_large_names_the_key():
    y = np.array([0, 0, 0, 1, 1])
    with pytest.raises(ValueError, match="labels_per_class=3 but class 1 has only 2"):
        choose_labeled(y, np.arange(5), 3, seed=0)
    with pytest.raises(ValueError, match="positive integer"):
        choose_labeled(y, np.arange(5), 0, seed=0)
