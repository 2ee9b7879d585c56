import numpy as np
import pytest

from cmcd.train.baselines import CLASSICAL_REFERENCES


@pytest.fixture(scope="module")
def two_views():
    """Two views of a shared 2-d class signal; the target view alone is noisy."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 100)
    latent = rng.normal(size=(300, 2)) + 3 * np.eye(3)[y][:, :2]
    xs = np.hstack([latent, rng.normal(size=(300, 6))]) @ rng.normal(size=(8, 8))
    xt = np.hstack([latent + 0.3 * rng.normal(size=(300, 2)), rng.normal(size=(300, 10))])
    xt = xt @ rng.normal(size=(12, 12))
    labeled = np.r_[0:3, 100:103, 200:203]
    return xs, xt, y, np.arange(300), labeled, np.arange(300)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CLASSICAL_REFERENCES))
def test_references_beat_chance(name, two_views):
    acc = CLASSICAL_REFERENCES[name](*two_views, seed=0)
    assert 0.5 < acc <= 1.0


@pytest.mark.slow
def test_cca_uses_the_pairs_to_beat_raw_logistic(two_views):
    raw = CLASSICAL_REFERENCES["logreg(target)"](*two_views, seed=0)
    cca = CLASSICAL_REFERENCES["cca+logreg"](*two_views, seed=0)
    assert cca > raw
