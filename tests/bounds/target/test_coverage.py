"""Coverage of the lower confidence bounds: ``lower <= true TV`` in >= 95 of 100 seeded draws.

The cases are pairs with an exact TV (``bounds.truth.groundtruth``) where the estimator can get
close to the truth, so a miscalibrated bound would fail: for the classifier, Gaussian pairs whose
Bayes classifier is quadratic, with one fixed degree-2 logistic candidate (cheap, and close to
Bayes-optimal, so the bound is tight); for the partition method, every family.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from bounds.truth.groundtruth import DistributionPair, make_pair

N_REPS = 100
N_PER_SIDE = 200
ALPHA = 0.05
MIN_COVERED = 95


def _cases(families: tuple[str, ...], levels: tuple[float, ...]) -> list[DistributionPair]:
    return [make_pair(f, 2, lv) for f in families for lv in levels]


def _coverage(method: str, cases: list[DistributionPair], **kw) -> tuple[int, list, np.ndarray]:
    """Run ``N_REPS`` seeded draws cycling over ``cases``; return the covered count."""
    from bounds.tv.api import estimate_tv

    covered, misses, gaps = 0, [], []
    for rep in range(N_REPS):
        pair = cases[rep % len(cases)]
        xs, xt = pair.sample(N_PER_SIDE, random_state=10_000 + rep)
        res = estimate_tv(xs, xt, method=method, alpha=ALPHA, random_state=rep, **kw)
        assert 0.0 <= res.lower <= 1.0 and res.alpha == ALPHA
        gaps.append(pair.true_tv - res.lower)
        if res.lower <= pair.true_tv:
            covered += 1
        else:
            misses.append((pair.name, rep, res.lower, pair.true_tv))
    return covered, misses, np.asarray(gaps)


@pytest.mark.slow
def test_classifier_lower_bound_covers() -> None:
    cases = _cases(("mean_shift", "scale"), (0.3, 0.6, 0.9))
    quadratic = make_pipeline(
        StandardScaler(), PolynomialFeatures(2), LogisticRegression(max_iter=1000)
    )
    covered, misses, gaps = _coverage("classifier", cases, candidates=[("quad", quadratic)])
    assert covered >= MIN_COVERED, (covered, misses)
    # The bound is informative, not trivially 0: on average within 0.3 of the truth.
    assert float(np.mean(gaps)) < 0.3, float(np.mean(gaps))


@pytest.mark.slow
def test_partition_lower_bound_covers() -> None:
    cases = _cases(("mean_shift", "scale", "mixture", "student_t"), (0.3, 0.6, 0.9))
    covered, misses, gaps = _coverage("partition", cases)
    assert covered >= MIN_COVERED, (covered, misses)
    assert float(np.mean(gaps)) < 0.5, float(np.mean(gaps))
