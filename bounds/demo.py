"""Demo of the TV estimators on two Gaussian samples with a known TV.

``python -m bounds.demo`` draws two samples of ``n = 1000`` rows in ``d = 5`` from a mean
shift whose true TV is 0.5, runs every method of :data:`bounds.tv.api.METHODS` and the
reference numbers of :mod:`bounds.truth.references`, prints a table and saves
``figures/tv_demo.png``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: the demo only writes files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bounds.report.plots import save_figure  # noqa: E402
from bounds.truth.groundtruth import DistributionPair, make_pair, maximal_coupling  # noqa: E402
from bounds.truth.references import REFERENCES  # noqa: E402

__all__ = ["demo_table", "plot_demo", "run_demo"]

DEMO_FAMILY, DEMO_D, DEMO_N, DEMO_TV = "mean_shift", 5, 1000, 0.5
DEMO_SEED = 0
COLUMNS = [
    *("method", "kind", "estimate", "lower", "upper", "true_tv", "seconds", "input", "failure"),
]


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, str | None]:
    """Run ``fn``; return its value (None on failure), the seconds taken and any error."""
    start = time.perf_counter()
    try:
        value, failure = fn(), None
    except Exception as err:  # noqa: BLE001 - a failing method is reported, not fatal
        value = None
        failure = f"{type(err).__name__}: {err}".splitlines()[0]
    return value, time.perf_counter() - start, failure


def _independent(pair: DistributionPair, xs: np.ndarray, xt: np.ndarray, seed: int):
    return xs, xt, {}


def _coupled(pair: DistributionPair, xs: np.ndarray, xt: np.ndarray, seed: int):
    """Pair each source row with a target row by a maximal coupling; ``eps = 0`` bounds TV."""
    return xs, maximal_coupling(pair, xs, random_state=seed), {"eps": 0.0}


INPUTS: dict[str, tuple[str, Callable[..., tuple[np.ndarray, np.ndarray, dict]]]] = {
    "paired": ("maximal coupling of the source rows, eps = 0", _coupled),
}
"""Methods fed something else than the two independent samples (our choice for the demo)."""
DEFAULT_INPUT = ("independent samples", _independent)


def _method_rows(pair: DistributionPair, xs: np.ndarray, xt: np.ndarray, seed: int) -> list:
    """One row per registered estimator (failures recorded, not raised)."""
    from bounds.tv.api import METHODS, estimate_tv

    rows = []
    for name in METHODS:
        label, prepare = INPUTS.get(name, DEFAULT_INPUT)
        a, b, kw = prepare(pair, xs, xt, seed)
        res, sec, failure = _timed(
            lambda name=name, a=a, b=b, kw=kw: estimate_tv(  # type: ignore[misc]
                a, b, method=name, random_state=seed, **kw
            )
        )
        nan = float("nan")
        rows.append(
            {
                "method": name,
                "kind": "estimator",
                "estimate": nan if res is None else res.estimate,
                "lower": nan if res is None else res.lower,
                "upper": nan if res is None or res.upper is None else res.upper,
                "true_tv": pair.true_tv,
                "seconds": sec,
                "input": label,
                "failure": failure,
            }
        )
    return rows


def _reference_rows(xs: np.ndarray, xt: np.ndarray, truth: float, seed: int) -> list[dict]:
    """One row per reference of :data:`bounds.truth.references.REFERENCES` (no interval)."""
    rows = []
    for name, fn in REFERENCES.items():
        val, sec, failure = _timed(lambda fn=fn: fn(xs, xt, random_state=seed))  # type: ignore[misc]
        nan = float("nan")
        rows.append(
            {
                "method": name,
                "kind": "reference",
                "estimate": nan if val is None else val,
                "lower": nan,
                "upper": nan,
                "true_tv": truth,
                "seconds": sec,
                "input": DEFAULT_INPUT[0],
                "failure": failure,
            }
        )
    return rows


def demo_table(pair: DistributionPair, n: int = DEMO_N, random_state: int = 0) -> pd.DataFrame:
    """Draw ``n`` rows a side from ``pair`` and tabulate every method and reference.

    Returns
    -------
    pandas.DataFrame
        Columns ``method, kind, estimate, lower, upper, true_tv, seconds, input, failure``;
        one row per method of :data:`bounds.tv.api.METHODS`, then one per reference. The
        ``paired`` check gets pairs from a maximal coupling (see :data:`INPUTS`), since
        independent samples have no meaningful pairing.
    """
    xs, xt = pair.sample(n, random_state=random_state)
    rows = _method_rows(pair, xs, xt, random_state)
    rows += _reference_rows(xs, xt, pair.true_tv, random_state)
    return pd.DataFrame(rows, columns=COLUMNS)


def plot_demo(table: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Plot each estimate with a whisker down to its lower bound and a line at the true TV.

    Parameters
    ----------
    table : pandas.DataFrame
        As returned by :func:`demo_table`.
    path : str or Path
        Output image file (parent folders created).
    title : str
        Figure title.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> import tempfile
    >>> nan = float("nan")
    >>> table = pd.DataFrame({"method": ["a", "b"], "kind": ["estimator", "reference"],
    ...                       "estimate": [0.4, 0.6], "lower": [0.3, nan], "upper": [nan, nan],
    ...                       "true_tv": [0.5, 0.5]})
    >>> plot_demo(table, Path(tempfile.mkdtemp()) / "demo.png").exists()
    True
    """
    path = Path(path)
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    colors = {"estimator": "tab:blue", "reference": "tab:gray"}
    x = np.arange(len(table))
    for i, row in enumerate(table.itertuples()):
        color = colors.get(row.kind, "tab:blue")
        ax.plot(i, row.estimate, "o", color=color, markersize=8)
        if np.isfinite(row.lower):
            ax.vlines(i, row.lower, row.estimate, color=color, linewidth=2)
            ax.plot(i, row.lower, "_", color=color, markersize=16, markeredgewidth=2)
        if np.isfinite(row.upper):
            ax.vlines(i, row.estimate, row.upper, color=color, linewidth=1, linestyle=":")
            ax.plot(i, row.upper, "v", color=color, markersize=8)
    truth = float(table["true_tv"].iloc[0])
    ax.axhline(truth, color="tab:red", linestyle="--", label=f"true TV = {truth:.3f}")
    ax.plot([], [], "o-", color="tab:blue", label="estimator: estimate, lower bound")
    if table["upper"].notna().any():
        ax.plot([], [], "v:", color="tab:blue", label="upper bound (paired check)")
    ax.plot([], [], "o", color="tab:gray", label="reference (no bound)")
    coupled = {label for label, _ in INPUTS.values()}
    inputs = table["input"] if "input" in table else [None] * len(table)
    labels = [
        f"{m}\n(coupled pairs)" if inp in coupled else m
        for m, inp in zip(table["method"], inputs, strict=True)
    ]
    ax.set_xticks(x, labels, rotation=25, ha="right")
    ax.set(ylim=(-0.02, 1.02), ylabel="total variation", title=title)
    ax.legend(loc="upper left", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    path = save_figure(fig, path.name, path.parent, dpi=120)
    plt.close(fig)
    return path


def run_demo(out_dir: str | Path = "figures", random_state: int = DEMO_SEED) -> pd.DataFrame:
    r"""Run the estimator demo: two Gaussian samples with a known TV, a table and a figure.

    The samples are ``N(0, I_5)`` and ``N(delta u, I_5)`` with 1000 rows each and ``delta``
    chosen so that the true TV is 0.5:

    .. math:: \mathrm{TV} = 2\,\Phi(\delta / 2) - 1 = 0.5

    Parameters
    ----------
    out_dir : str or Path
        Folder of the figure ``tv_demo.png`` (created if missing).
    random_state : int
        Seed of the samples and of the estimators. The classifier's lower bound is a 95%
        bound, so some draws put it above the truth: in this setting 6 of 200 seeds
        (100-299) did, and so does the default seed 0 (lower 0.502 vs truth 0.500). We show
        that draw as it is rather than shopping for a seed; coverage itself is tested over
        many draws in ``tests/bounds/test_coverage.py``.

    Returns
    -------
    pandas.DataFrame
        One row per method and reference: ``estimate``, ``lower``, ``upper``, ``true_tv``,
        ``seconds`` and ``failure`` (``None`` when the method ran).

    References
    ----------
    .. [1] Lin et al., arXiv:2405.03355, 2024.

    Examples
    --------
    Skipped under doctest (it fits every estimator, about 10 s); ``tests/bounds/test_demo.py``
    runs it.

    >>> import tempfile
    >>> table = run_demo(tempfile.mkdtemp())  # doctest: +SKIP
    >>> round(table["true_tv"].iloc[0], 3)  # doctest: +SKIP
    0.5
    """
    pair = make_pair(DEMO_FAMILY, DEMO_D, DEMO_TV)
    table = demo_table(pair, DEMO_N, random_state)
    title = f"Mean shift, d={DEMO_D}, n={DEMO_N} per side (delta={pair.param:.3f})"
    plot_demo(table, Path(out_dir) / "tv_demo.png", title)
    with pd.option_context("display.width", 120, "display.float_format", "{:.3f}".format):
        print(table.drop(columns="failure" if table["failure"].isna().all() else []).to_string())
    return table


if __name__ == "__main__":
    run_demo()
