"""Audit cases T01-T28: the sample files of ``cmcd tv`` (formats, headers, values, shapes).

Each case writes one or two sample files and runs ``cmcd tv A B --json``; a file that cannot be
read as asked must be refused naming it, and one that can must give a plausible estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .fixtures import _gauss, csv_file, low_tv, npy, raw, tv, tv_files, tv_json
from .harness import Case

CATEGORY = "cmcd tv files"


def t(i, desc, argv, names, files, **kw):
    """Return case ``T{i:02d}``: write ``files`` (name -> writer), then run ``argv``."""
    return Case(
        f"T{i:02d}",
        CATEGORY,
        desc,
        kw.pop("expect", "error"),
        names,
        argv,
        setup=tv_files(**files),
        **kw,
    )


def obj_npy(tmp: Path) -> None:
    np.save(tmp / "p.npy", np.array([{"a": 1}, {"b": 2}], dtype=object), allow_pickle=True)


def text_col(tmp: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(_gauss(300), columns=["f0", "f1", "f2"])
    frame["label"] = np.where(np.arange(300) % 2, "cat", "dog")
    frame.to_csv(tmp / "t.csv", index=False)


def npz_two(tmp: Path) -> None:
    np.savez(tmp / "m.npz", x=_gauss(300), y=_gauss(300, seed=2))


def header_text(name: str, arr: np.ndarray) -> Callable[[Path], None]:
    rows = "\n".join(",".join(f"{v:.6f}" for v in row) for row in arr)
    return raw(name, rows + "\n")


def tv_cases() -> list[Case]:
    """Return every ``cmcd tv`` case, T01-T28 in order."""
    return [*_reader_cases(), *_content_cases()]


def _reader_cases() -> list[Case]:
    """T01-T10: how a file is read (pandas' index, header, text column, file kinds, missing)."""
    g = _gauss
    same = {"b": npy("b.npy", g(300, seed=1))}

    # pandas index: 400 vs 200 rows, so an index used as a feature would be visible as TV
    index_files = {
        "a": csv_file("ia.csv", g(400), index=True),
        "b": csv_file("ib.csv", g(200, seed=1), index=True),
    }
    return [
        t(
            1,
            "two same-distribution .npy samples (control: low TV)",
            tv("a.npy", "b.npy"),
            (),
            {"a": npy("a.npy", g(300)), **same},
            expect="ok",
            check=low_tv(),
        ),
        t(
            2,
            "CSVs written with pandas' index (400 vs 200 rows): refused, or index not a feature",
            tv("ia.csv", "ib.csv"),
            ("index", "ia.csv"),
            index_files,
            check=low_tv(0.3),
        ),
        t(
            3,
            "CSVs with pandas' index read with --index-col 0 (low TV)",
            tv("ia.csv", "ib.csv", "--index-col", "0"),
            (),
            index_files,
            expect="ok",
            check=low_tv(0.3, 400),
        ),
        t(4, "a text column 'label'", tv("t.csv", "b.npy"), ("label",), {"a": text_col, **same}),
        t(
            5,
            "a headerless CSV (first row kept, 300 rows read)",
            tv("h.csv", "b.npy"),
            ("h.csv", "header"),
            {"a": header_text("h.csv", g(300)), **same},
            expect="either",
            check=low_tv(0.3, 300),
        ),
        t(
            6,
            "a headerless CSV with --header no (300 rows read)",
            tv("h.csv", "b.npy", "--header", "no"),
            (),
            {"a": header_text("h.csv", g(300)), **same},
            expect="ok",
            check=low_tv(0.3, 300),
        ),
        t(
            7,
            "a text file named .npy (np.savetxt)",
            tv("x.npy", "b.npy"),
            ("x.npy",),
            {"a": lambda tmp: np.savetxt(tmp / "x.npy", g(300)), **same},
        ),
        t(
            8,
            "a pickled object .npy (must be refused)",
            tv("p.npy", "b.npy"),
            ("p.npy",),
            {"a": obj_npy, **same},
        ),
        t(
            9,
            "a directory given as the source file",
            tv("d.npy", "b.npy"),
            ("d.npy",),
            {"a": lambda tmp: (tmp / "d.npy").mkdir(), **same},
        ),
        t(10, "a missing file", tv("gone.npy", "b.npy"), ("gone.npy",), same),
    ]


def _content_cases() -> list[Case]:
    """T11-T28: what a file holds (columns, NaN/inf, rows, empties, npz keys, shapes, dialects)."""
    g = _gauss
    same = {"b": npy("b.npy", g(300, seed=1))}
    return [
        t(
            11,
            "different numbers of columns (3 vs 4)",
            tv("a.npy", "b.npy"),
            ("a.npy", "b.npy", "source", "target"),
            {"a": npy("a.npy", g(300, 4)), **same},
        ),
        t(
            12,
            "a NaN value",
            tv("n.npy", "b.npy"),
            ("n.npy", "source"),
            {"a": npy("n.npy", np.where(np.eye(300, 3) > 0, np.nan, g(300))), **same},
        ),
        t(
            13,
            "an inf value",
            tv("i.npy", "b.npy"),
            ("i.npy", "source"),
            {"a": npy("i.npy", np.where(np.eye(300, 3) > 0, np.inf, g(300))), **same},
        ),
        t(
            14,
            "a single row",
            tv("one.npy", "b.npy"),
            ("one.npy", "source"),
            {"a": npy("one.npy", g(1)), **same},
        ),
        t(
            15,
            "an empty (0-byte) .csv",
            tv("e.csv", "b.npy"),
            ("e.csv",),
            {"a": raw("e.csv", b""), **same},
        ),
        t(
            16,
            "an empty (0-byte) .npy",
            tv("e.npy", "b.npy"),
            ("e.npy",),
            {"a": raw("e.npy", b""), **same},
        ),
        t(
            17,
            "a header-only CSV (no rows)",
            tv("ho.csv", "b.npy"),
            ("ho.csv",),
            {"a": raw("ho.csv", "f0,f1,f2\n"), **same},
        ),
        t(
            18,
            ".npz with two arrays and no :KEY",
            tv("m.npz", "b.npy"),
            ("m.npz", "key"),
            {"a": npz_two, **same},
        ),
        t(
            19,
            ".npz:nosuch (missing key)",
            tv("m.npz:nosuch", "b.npy"),
            ("nosuch",),
            {"a": npz_two, **same},
        ),
        t(
            20,
            "an unsupported extension (.txt)",
            tv("a.txt", "b.npy"),
            ("a.txt", ".txt"),
            {"a": lambda tmp: np.savetxt(tmp / "a.txt", g(300)), **same},
        ),
        t(
            21,
            "a 1-D .npy (300 values) vs a 1-column sample",
            tv("v.npy", "c.npy"),
            ("v.npy", "source"),
            {"a": npy("v.npy", g(300, 1)[:, 0]), "c": npy("c.npy", g(300, 1, 1))},
            expect="either",
            check=low_tv(0.3, 300),
        ),
        t(
            22,
            "a 3-D .npy (300x3x1)",
            tv("cube.npy", "b.npy"),
            ("cube.npy", "source"),
            {"a": npy("cube.npy", g(300)[:, :, None]), **same},
            expect="either",
            check=low_tv(0.3),
        ),
        t(
            23,
            "a CSV with an empty cell",
            tv("hole.csv", "b.npy"),
            ("hole.csv", "source"),
            {
                "a": raw(
                    "hole.csv",
                    "f0,f1,f2\n"
                    + "\n".join(("1.0,,2.0" if i == 5 else "0.1,0.2,0.3") for i in range(300))
                    + "\n",
                ),
                **same,
            },
        ),
        t(
            24,
            "a semicolon-separated CSV (read as one text column)",
            tv("semi.csv", "b.npy"),
            ("semi.csv",),
            {
                "a": raw(
                    "semi.csv",
                    "f0;f1;f2\n"
                    + "\n".join(";".join(f"{v:.4f}" for v in row) for row in g(300))
                    + "\n",
                ),
                **same,
            },
        ),
        t(
            25,
            "a CSV with a trailing comma on every line (an empty last column)",
            tv("tc.csv", "b.npy"),
            ("tc.csv",),
            {
                "a": raw(
                    "tc.csv",
                    "f0,f1,f2,\n"
                    + "\n".join(",".join(f"{v:.4f}" for v in row) + "," for row in g(300))
                    + "\n",
                ),
                **same,
            },
            expect="either",
            check=low_tv(0.3, 300),
        ),
        t(
            26,
            "a boolean .npy (300x3)",
            tv("bool.npy", "b.npy"),
            ("bool.npy",),
            {"a": npy("bool.npy", g(300) > 0), **same},
            expect="either",
            check=lambda tmp, proc, state: tv_json(proc) is not None,
        ),
        t(
            27,
            "a string (unicode) .npy",
            tv("s.npy", "b.npy"),
            ("s.npy",),
            {"a": npy("s.npy", np.array([["a", "b", "c"]] * 300)), **same},
        ),
        t(
            28,
            "a numeric first column named 'id' 0..n-1 with a header (a feature? refused "
            "or kept; both files 400 vs 200 rows)",
            tv("id_a.csv", "id_b.csv"),
            ("id",),
            {
                "a": raw(
                    "id_a.csv",
                    "id,f0,f1\n"
                    + "\n".join(f"{i},{r[0]:.4f},{r[1]:.4f}" for i, r in enumerate(g(400))),
                ),
                "b": raw(
                    "id_b.csv",
                    "id,f0,f1\n"
                    + "\n".join(f"{i},{r[0]:.4f},{r[1]:.4f}" for i, r in enumerate(g(200, seed=1))),
                ),
            },
            expect="either",
            check=low_tv(1.0),
        ),
    ]
