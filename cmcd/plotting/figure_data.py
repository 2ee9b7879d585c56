"""The numbers a matplotlib figure draws, read back from its artists (for tests of figures).

:func:`figure_data` turns every scatter point, line vertex, error-bar segment and bar of a
figure into one row of a table, so a test can check that a figure draws the numbers of the
table it was made from.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.lines import AxLine, Line2D
from matplotlib.patches import Rectangle
from numpy.typing import ArrayLike

__all__ = ["figure_data"]


def _rows(kind: str, label: str, xy: ArrayLike, xy2: ArrayLike | None = None) -> list[dict]:
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    end = np.full_like(xy, np.nan) if xy2 is None else np.asarray(xy2, dtype=float)
    return [
        {"artist": kind, "label": label, "index": i, "x": a, "y": b, "x2": c, "y2": d}
        for i, ((a, b), (c, d)) in enumerate(zip(xy, end.reshape(-1, 2), strict=True))
    ]


def _artist_rows(artist: Any, label: str) -> list[dict]:
    """Rows of one artist: points, line vertices, segment ends or bar tops."""
    if isinstance(artist, PathCollection):
        return _rows("scatter", label, artist.get_offsets())
    if isinstance(artist, LineCollection):
        segs = [np.asarray(s, dtype=float) for s in artist.get_segments() if len(s) >= 2]
        if not segs:
            return []
        return _rows("segment", label, [s[0] for s in segs], [s[-1] for s in segs])
    if isinstance(artist, Line2D):
        return [] if isinstance(artist, AxLine) else _rows("line", label, artist.get_xydata())
    if isinstance(artist, Rectangle):
        x, y = artist.get_x() + artist.get_width() / 2, artist.get_y() + artist.get_height()
        return _rows("bar", label, [x, y], [x, artist.get_y()])
    return []


def _labels(ax: Any) -> tuple[dict[int, str], set[int]]:
    """Artist id -> label from the axis' containers, and the ids of error-bar caps to skip.

    Bars take their container's label; an error bar's data line and segments take its
    label (a bar's error bars take the bar's); caps repeat the segment ends.
    """
    labels: dict[int, str] = {}
    caps: set[int] = set()
    for container in ax.containers:
        label = str(container.get_label())
        if isinstance(container, ErrorbarContainer):
            line, cap_lines, segments = container.lines
            caps.update(id(c) for c in cap_lines)
            for artist in [line, *segments]:
                if artist is not None:
                    labels.setdefault(id(artist), label)
        elif isinstance(container, BarContainer):
            labels.update({id(patch): label for patch in container.patches})
            if container.errorbar is not None:
                labels.update({id(seg): label for seg in container.errorbar.lines[2]})
    return labels, caps


def figure_data(fig: Figure) -> pd.DataFrame:
    r"""Return the numbers a figure draws: one row per point, line vertex, segment or bar.

    .. math:: \{(x_k, y_k)\}_{k} \text{ of every artist of every axis}

    Scatter points and line vertices give ``x, y``; segments (error bars) give their ends
    ``(x, y)`` and ``(x2, y2)``; bars give their centre ``x``, top ``y`` and bottom ``y2``.
    Error bars and bars carry their container's label (``ax.errorbar(label=)``,
    ``ax.bar(label=)``). ``axline`` guides, error-bar caps and images are left out.

    Returns
    -------
    pandas.DataFrame
        Columns ``axis`` (index), ``title``, ``xlabel``, ``ylabel``, ``artist`` (``scatter``,
        ``line``, ``segment``, ``bar``), ``label``, ``index``, ``x``, ``y``, ``x2``, ``y2``.

    Examples
    --------
    >>> fig = Figure(); ax = fig.add_subplot()
    >>> _ = ax.scatter([1, 2], [3, 4], label="a"); _ = ax.bar([0], [5.0], label="b")
    >>> figure_data(fig)[["artist", "label", "x", "y"]].values.tolist()
    [['scatter', 'a', 1.0, 3.0], ['scatter', 'a', 2.0, 4.0], ['bar', 'b', 0.0, 5.0]]
    """
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    rows = []
    for i, ax in enumerate(fig.axes):
        meta = {"axis": i, "title": ax.get_title(), "xlabel": ax.get_xlabel()}
        meta["ylabel"] = ax.get_ylabel()
        labels, caps = _labels(ax)
        for artist in [*ax.collections, *ax.lines, *ax.patches]:
            if id(artist) in caps:
                continue
            label = labels.get(id(artist), str(artist.get_label()))
            rows += [{**meta, **row} for row in _artist_rows(artist, label)]
    columns = ["axis", "title", "xlabel", "ylabel", "artist", "label", "index"]
    out = pd.DataFrame(rows, columns=[*columns, "x", "y", "x2", "y2"])
    bars = out["artist"] == "bar"  # one artist per bar: number them within their label
    out.loc[bars, "index"] = out[bars].groupby(["axis", "label"]).cumcount()
    return out
