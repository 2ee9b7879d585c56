"""Audit cases B01-B24: the Python API of ``bounds`` (``estimate_tv``, ``compute_bound``, ...)."""

from __future__ import annotations

from .harness import Case

API_DATA = """
import numpy as np
import bounds
rng = np.random.default_rng(0)
a, b = rng.normal(size=(200, 3)), rng.normal(size=(200, 3))
"""

BOUND_DATA = """
import numpy as np
from bounds.target.generalization import compute_bound
rng = np.random.default_rng(0)
yt, ys = np.repeat([0, 1], 40), np.repeat([0, 1], 100)
zt = rng.normal(size=(80, 3)) + 2.0 * yt[:, None]
zs = rng.normal(size=(200, 3)) + 2.0 * ys[:, None]
zb = zs + 0.3 * rng.normal(size=(200, 3))
"""


def api_cases() -> list[Case]:
    cat = "bounds API"

    def b(i, desc, code, names, base=API_DATA, **kw):
        return Case(
            f"B{i:02d}", cat, desc, kw.pop("expect", "error"), names, code=base + code, **kw
        )

    est = "print(bounds.estimate_tv({}, random_state=0).estimate)"
    return [
        b(
            1,
            "estimate_tv with mismatched dims (3 vs 4)",
            est.format("a, rng.normal(size=(200, 4))"),
            ("source", "target", "dim", "column", "feature"),
        ),
        b(
            2,
            "estimate_tv with a NaN",
            "a[0, 0] = np.nan\n" + est.format("a, b"),
            ("source", "nan"),
        ),
        b(
            3,
            "estimate_tv with an inf",
            "b[3, 1] = np.inf\n" + est.format("a, b"),
            ("target", "inf"),
        ),
        b(
            4,
            "estimate_tv with 3 rows per sample",
            est.format("a[:3], b[:3]"),
            ("rows", "samples", "source", "n_"),
        ),
        b(5, "estimate_tv with 0 rows", est.format("a[:0], b[:0]"), ("rows", "samples", "source")),
        b(6, "estimate_tv method='nosuch'", est.format("a, b, method='nosuch'"), ("method",)),
        b(7, "estimate_tv alpha=0", est.format("a, b, alpha=0"), ("alpha",)),
        b(8, "estimate_tv alpha=1.5", est.format("a, b, alpha=1.5"), ("alpha",)),
        b(9, "estimate_tv alpha=nan", est.format("a, b, alpha=float('nan')"), ("alpha",)),
        b(
            10,
            "estimate_tv with an unknown estimator option n_foldz",
            est.format("a, b, n_foldz=3"),
            ("n_foldz",),
        ),
        b(
            11,
            "estimate_tv with string arrays",
            est.format("a.astype(str).astype(object), b"),
            ("source", "numeric", "number"),
        ),
        b(
            12,
            "estimate_tv with 1-D samples (read as one feature, or refused)",
            "e = bounds.estimate_tv(a[:, 0], b[:, 0], random_state=0)\n"
            "print(e.estimate, e.n_source)",
            ("source", "2-d", "2d", "1-d", "dimension"),
            expect="either",
            check=lambda tmp, proc, state: proc.out.split()[-1:] == ["200"],
        ),
        b(
            13,
            "estimate_tv method='partition' with mismatched dims",
            est.format("a, rng.normal(size=(200, 5)), method='partition'"),
            ("source", "target", "dim", "column", "feature"),
        ),
        b(
            14,
            "estimate_tv method='paired' with different row counts",
            est.format("a, b[:150], method='paired'"),
            ("paired", "rows", "source", "target"),
        ),
        b(
            15,
            "estimate_tv random_state='x'",
            est.format("a, b, random_state='x'").replace(", random_state=0", ""),
            ("random_state",),
        ),
        b(
            16,
            "make_alignment('centre') (unknown alignment name)",
            "from bounds.target.alignment import make_alignment\nmake_alignment('centre')",
            ("alignment",),
        ),
        b(
            17,
            "compute_bound alignment='bogus'",
            "compute_bound(zt, yt, zs, zb, ys, alignment='bogus', random_state=0)",
            ("alignment",),
            base=BOUND_DATA,
        ),
        b(
            18,
            "compute_bound gammas=[] (empty grid)",
            "compute_bound(zt, yt, zs, zb, ys, gammas=[], random_state=0, z_target_train=zt)",
            ("gammas",),
            base=BOUND_DATA,
        ),
        b(
            19,
            "compute_bound gammas=[-1, 0.5] (non-positive)",
            "compute_bound(zt, yt, zs, zb, ys, gammas=[-1, 0.5], random_state=0, "
            "z_target_train=zt)",
            ("gammas",),
            base=BOUND_DATA,
        ),
        b(
            20,
            "compute_bound y_train shorter than z_source_train",
            "compute_bound(zt, yt[:50], zs, zb, ys, random_state=0)",
            ("y_train", "z_source_train"),
            base=BOUND_DATA,
        ),
        b(
            21,
            "compute_bound z_target_test with fewer rows than z_source_test (not paired)",
            "compute_bound(zt, yt, zs, zb[:150], ys, random_state=0)",
            ("z_target_test", "z_source_test"),
            base=BOUND_DATA,
        ),
        b(
            22,
            "compute_bound alpha=0",
            "compute_bound(zt, yt, zs, zb, ys, alpha=0, random_state=0)",
            ("alpha",),
            base=BOUND_DATA,
        ),
        b(
            23,
            "compute_bound tv_method='nosuch'",
            "compute_bound(zt, yt, zs, zb, ys, tv_method='nosuch', random_state=0)",
            ("tv_method", "method"),
            base=BOUND_DATA,
        ),
        b(
            24,
            "compute_bound with a single class in y_train",
            "compute_bound(zt, np.zeros(80, int), zs, zb, ys, random_state=0)",
            ("y_train",),
            base=BOUND_DATA,
        ),
    ]
