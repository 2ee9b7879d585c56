"""Audit cases F01-F36: tables and files as users really have them (hardening round 2).

CSV files written by pandas more than once, byte-order marks, headers made of numbers,
trailing commas, comment and title lines, R's row names, other encodings, files whose suffix
lies about their content. Each case writes its files and runs ``cmcd tv A B --json``: a file
read as it must be gives a low TV between same-law samples with every row kept (an index read
as a feature, a lost or an extra row shows up in the check); a file that cannot be read
is refused naming it.
"""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .fixtures import _gauss, npy, raw, tv, tv_files, tv_json
from .harness import Case, Proc, State

CATEGORY = "tables (round 2)"
N = 400


def f(i, desc, argv, names, files, **kw):
    """Return case ``F{i:02d}``: write ``files`` (name -> writer), then run ``argv``."""
    return Case(
        f"F{i:02d}",
        CATEGORY,
        desc,
        kw.pop("expect", "error"),
        names,
        argv,
        setup=tv_files(**files),
        **kw,
    )


def read_as(n_source: int = N, note: str | None = None, max_estimate: float = 0.2):
    """Check: exit 0, ``n_source`` rows read, a low TV, and ``note`` in the decision line."""

    def check(tmp: Path, proc: Proc, state: State) -> bool:
        est = tv_json(proc)
        if proc.rc != 0 or est is None:
            return False
        ok = est["n_source"] == n_source and est["estimate"] <= max_estimate
        return ok and (note is None or note.lower() in proc.err.lower())

    return check


# ------------------------------------------------------------------------------ writers
def pandas_csv(name: str, x: np.ndarray, times: int = 1, **to_csv) -> Callable[[Path], None]:
    """``df.to_csv(name)``, then ``times - 1`` rounds of ``read_csv`` + ``to_csv``."""

    def make(tmp: Path) -> None:
        import pandas as pd

        pd.DataFrame(x).to_csv(tmp / name, **to_csv)
        for _ in range(times - 1):
            pd.read_csv(tmp / name).to_csv(tmp / name)

    return make


def frame_csv(name: str, build: Callable) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        import pandas as pd

        build(pd.DataFrame(_gauss(N), columns=["f0", "f1", "f2"])).to_csv(tmp / name)

    return make


def rows(x: np.ndarray, fmt: str = "{:.6f}", end: str = "\n") -> str:
    return end.join(",".join(fmt.format(v) for v in row) for row in x) + end


def indexed(x: np.ndarray) -> str:
    """Rows led by their number, as ``df.to_csv`` writes them."""
    return "".join(f"{i}," + ",".join(f"{v:.6f}" for v in row) + "\n" for i, row in enumerate(x))


def text(name: str, content: str, encoding: str = "utf-8", prefix: bytes = b""):
    return raw(name, prefix + content.encode(encoding))


def gz(name: str, content: str):
    return raw(name, gzip.compress(content.encode()))


def zip_sheet(name: str):
    def make(tmp: Path) -> None:
        with zipfile.ZipFile(tmp / name, "w") as archive:
            archive.writestr("xl/workbook.xml", "<workbook/>")

    return make


def parquet(name: str, x: np.ndarray):
    def make(tmp: Path) -> None:
        import pandas as pd

        pd.DataFrame(x, columns=["f0", "f1", "f2"]).to_parquet(tmp / name)

    return make


def npz_as(name: str, x: np.ndarray):
    def make(tmp: Path) -> None:
        with open(tmp / name, "wb") as handle:
            np.savez(handle, x=x)

    return make


def npy_as(name: str, x: np.ndarray):
    def make(tmp: Path) -> None:
        with open(tmp / name, "wb") as handle:
            np.save(handle, x)

    return make


def table_cases() -> list[Case]:
    """Return every table case, F01-F36 in order."""
    return [*_index_cases(), *_header_cases(), *_layout_cases(), *_kind_cases()]


def _index_cases() -> list[Case]:
    """F01-F09: pandas' index written once, twice, three times, or as a named column."""
    x, y = _gauss(N), _gauss(200, seed=1)
    twice = {"a": pandas_csv("a2.csv", x, 2), "b": pandas_csv("b2.csv", y, 2)}
    b = {"b": npy("b.npy", y)}
    return [
        f(
            1,
            "CSVs written twice by pandas, --index-col 0 (both index columns dropped)",
            tv("a2.csv", "b2.csv", "--index-col", "0"),
            (),
            twice,
            expect="ok",
            check=read_as(N, "Unnamed: 0"),
        ),
        f(
            2,
            "CSVs written twice by pandas, no --index-col (refused naming the column)",
            tv("a2.csv", "b2.csv"),
            ("a2.csv", "index"),
            twice,
        ),
        f(
            3,
            "a CSV written three times by pandas, --index-col 0",
            tv("a3.csv", "b.npy", "--index-col", "0"),
            (),
            {"a": pandas_csv("a3.csv", x, 3), **b},
            expect="ok",
            check=read_as(N),
        ),
        f(
            4,
            "df.reset_index().to_csv(index=False): a column 'index' of row numbers",
            tv("r.csv", "b.npy"),
            ("r.csv", "index"),
            {"a": lambda tmp: pandas_reset(tmp, x), **b},
            expect="either",
            check=read_as(N),
        ),
        f(
            5,
            "reset_index column dropped with --index-col index",
            tv("r.csv", "b.npy", "--index-col", "index"),
            (),
            {"a": lambda tmp: pandas_reset(tmp, x), **b},
            expect="ok",
            check=read_as(N),
        ),
        f(
            6,
            "an index written under a name (df.index.name = 'id')",
            tv("id.csv", "b.npy"),
            ("id.csv", "index"),
            {"a": frame_csv("id.csv", lambda d: d.rename_axis("id")), **b},
            expect="either",
            check=read_as(N),
        ),
        f(
            7,
            "a subsample's index (df.sample(300).to_csv()): not 0..n-1, still an index",
            tv("s.csv", "b.npy"),
            ("s.csv", "index"),
            {"a": frame_csv("s.csv", lambda d: d.sample(300, random_state=0)), **b},
            expect="either",
            check=read_as(300),
        ),
        f(
            8,
            "--index-col 0 on a file that has no index (its first feature is fractional)",
            tv("plain.csv", "b.npy", "--index-col", "0"),
            ("plain.csv", "index"),
            {"a": pandas_csv("plain.csv", x, index=False), **b},
            expect="either",
            check=read_as(N),
        ),
        f(
            9,
            "a BOM before pandas' index header (',0,1,2')",
            tv("bi.csv", "b.npy", "--index-col", "0"),
            (),
            {"a": text("bi.csv", ",0,1,2\n" + indexed(x), prefix=b"\xef\xbb\xbf"), **b},
            expect="ok",
            check=read_as(N),
        ),
    ]


def pandas_reset(tmp: Path, x: np.ndarray) -> None:
    import pandas as pd

    frame = pd.DataFrame(x, columns=["f0", "f1", "f2"]).reset_index()
    frame.to_csv(tmp / "r.csv", index=False)


def _header_cases() -> list[Case]:
    """F10-F20: byte-order marks, encodings, headers made of numbers, label-like files."""
    x, b = _gauss(N), {"b": npy("b.npy", _gauss(200, seed=1))}
    bom = b"\xef\xbb\xbf"
    counts = np.random.default_rng(3).integers(0, 50, size=(N, 3)).astype(float)
    return [
        f(
            10,
            "a headerless CSV that starts with a UTF-8 BOM (first row kept)",
            tv("bom.csv", "b.npy"),
            (),
            {"a": text("bom.csv", rows(x), prefix=bom), **b},
            expect="ok",
            check=read_as(N, "BOM"),
        ),
        f(
            11,
            "a CSV with a header and a UTF-8 BOM",
            tv("bomh.csv", "b.npy"),
            (),
            {"a": text("bomh.csv", "f0,f1,f2\n" + rows(x), prefix=bom), **b},
            expect="ok",
            check=read_as(N),
        ),
        f(
            12,
            "a header made of numbers (400,410,420) over fractional data",
            tv("nh.csv", "b.npy"),
            (),
            {"a": text("nh.csv", "400,410,420\n" + rows(x)), **b},
            expect="ok",
            check=read_as(N, "header: yes"),
        ),
        f(
            13,
            "a header of small integers (1,2,3) over fractional data",
            tv("n3.csv", "b.npy"),
            (),
            {"a": text("n3.csv", "1,2,3\n" + rows(x)), **b},
            expect="ok",
            check=read_as(N, "header: yes"),
        ),
        f(
            14,
            "a header of decimal wavelengths (400.5,410.5,420.5)",
            tv("nd.csv", "b.npy"),
            (),
            {"a": text("nd.csv", "400.5,410.5,420.5\n" + rows(x)), **b},
            expect="ok",
            check=read_as(N, "header: yes"),
        ),
        f(
            15,
            "a numeric header over integer counts (400,410,420 above 0..49)",
            tv("nc.csv", "c.npy"),
            (),
            {
                "a": text("nc.csv", "400,410,420\n" + rows(counts, "{:.0f}")),
                "c": npy("c.npy", np.random.default_rng(4).integers(0, 50, size=(200, 3))),
            },
            expect="ok",
            check=read_as(N, "header: yes", max_estimate=0.3),
        ),
        f(
            16,
            "a headerless table of integers (first row is data)",
            tv("ints.csv", "c.npy"),
            (),
            {
                "a": text("ints.csv", rows(counts, "{:.0f}")),
                "c": npy("c.npy", np.random.default_rng(4).integers(0, 50, size=(200, 3))),
            },
            expect="ok",
            check=read_as(N, "header: no", max_estimate=0.3),
        ),
        f(
            17,
            "a UTF-16 CSV (Excel 'Unicode' export) with a header",
            tv("u16.csv", "b.npy"),
            (),
            {"a": text("u16.csv", "f0,f1,f2\n" + rows(x), encoding="utf-16"), **b},
            expect="either",
            check=read_as(N),
        ),
        f(
            18,
            "a Latin-1 header (température,durée,poids)",
            tv("l1.csv", "b.npy"),
            (),
            {"a": text("l1.csv", "température,durée,poids\n" + rows(x), "latin-1"), **b},
            expect="either",
            check=read_as(N),
        ),
        f(
            19,
            "a single column written by pd.Series.to_csv(index=False): header '0'",
            tv("s1.csv", "c1.npy"),
            (),
            {
                "a": pandas_csv("s1.csv", _gauss(N, 1), index=False),
                "c": npy("c1.npy", _gauss(200, 1, 1)),
            },
            expect="ok",
            check=read_as(N),
        ),
        f(
            20,
            "an ambiguous numeric first row (some cells unlike their column)",
            tv("amb.csv", "b.npy"),
            ("amb.csv", "header"),
            {"a": text("amb.csv", "400,410,0.5\n" + rows(x)), **b},
            expect="either",
            check=read_as(N),
        ),
    ]


def _layout_cases() -> list[Case]:
    """F21-F28: trailing commas, comments, titles, R's row names, CRLF, quotes, blank lines."""
    x, b = _gauss(N), {"b": npy("b.npy", _gauss(200, seed=1))}
    r_names = "\n".join(f'"{i + 1}",' + ",".join(f"{v:.6f}" for v in r) for i, r in enumerate(x))
    quoted = "\n".join(",".join(f'"{v:.6f}"' for v in r) for r in x) + "\n"
    return [
        f(
            21,
            "a trailing comma on every line, header too",
            tv("tc.csv", "b.npy"),
            (),
            {"a": text("tc.csv", "f0,f1,f2,\n" + rows(x, end=",\n")), **b},
            expect="ok",
            check=read_as(N),
        ),
        f(
            22,
            "a trailing comma on every data line, not the header",
            tv("td.csv", "b.npy"),
            (),
            {"a": text("td.csv", "f0,f1,f2\n" + rows(x, end=",\n")), **b},
            expect="ok",
            check=read_as(N),
        ),
        f(
            23,
            "np.savetxt(header=...) comment line ('# f0,f1,f2')",
            tv("cm.csv", "b.npy"),
            (),
            {"a": lambda tmp: np.savetxt(tmp / "cm.csv", x, delimiter=",", header="f0,f1,f2"), **b},
            expect="ok",
            check=read_as(N),
        ),
        f(
            24,
            "a title line above the header ('My measurements')",
            tv("ti.csv", "b.npy"),
            ("ti.csv",),
            {"a": text("ti.csv", "My measurements\nf0,f1,f2\n" + rows(x)), **b},
            expect="either",
            check=read_as(N),
        ),
        f(
            25,
            "R's write.table: a header without the row-names column",
            tv("rn.csv", "b.npy"),
            (),
            {"a": text("rn.csv", '"f0","f1","f2"\n' + r_names + "\n"), **b},
            expect="ok",
            check=read_as(N),
        ),
        f(
            26,
            "Windows line endings (CRLF), headerless",
            tv("crlf.csv", "b.npy"),
            (),
            {"a": text("crlf.csv", rows(x, end="\r\n")), **b},
            expect="ok",
            check=read_as(N),
        ),
        f(
            27,
            "every number quoted, headerless",
            tv("q.csv", "b.npy"),
            (),
            {"a": text("q.csv", quoted), **b},
            expect="ok",
            check=read_as(N),
        ),
        f(
            28,
            "blank lines at the top and the end",
            tv("bl.csv", "b.npy"),
            (),
            {"a": text("bl.csv", "\n\nf0,f1,f2\n" + rows(x) + "\n\n"), **b},
            expect="ok",
            check=read_as(N),
        ),
    ]


def _kind_cases() -> list[Case]:
    """F29-F36: files whose suffix lies about their content, archives, compressed text."""
    x, b = _gauss(N), {"b": npy("b.npy", _gauss(200, seed=1))}
    return [
        f(
            29,
            "an .npz renamed .npy (one array)",
            tv("z.npy", "b.npy"),
            ("z.npy",),
            {"a": npz_as("z.npy", x), **b},
            expect="either",
            check=read_as(N),
        ),
        f(
            30,
            "an .npy named .npz",
            tv("y.npz", "b.npy"),
            ("y.npz",),
            {"a": npy_as("y.npz", x), **b},
            expect="either",
            check=read_as(N),
        ),
        f(
            31,
            "an .npy named .csv",
            tv("y.csv", "b.npy"),
            ("y.csv",),
            {"a": npy_as("y.csv", x), **b},
            expect="either",
            check=read_as(N),
        ),
        f(
            32,
            "a parquet file named .csv",
            tv("p.csv", "b.npy"),
            ("p.csv",),
            {"a": parquet("p.csv", x), **b},
            expect="either",
            check=read_as(N),
        ),
        f(
            33,
            "a zip that is no .npz (an .xlsx renamed)",
            tv("sheet.npz", "b.npy"),
            ("sheet.npz",),
            {"a": zip_sheet("sheet.npz"), **b},
        ),
        f(
            34,
            "a truncated .npz (half its bytes)",
            tv("cut.npz", "b.npy"),
            ("cut.npz",),
            {"a": lambda tmp: truncated_npz(tmp, x), **b},
        ),
        f(
            35,
            "a gzip-compressed CSV named .csv",
            tv("g.csv", "b.npy"),
            ("g.csv",),
            {"a": gz("g.csv", "f0,f1,f2\n" + rows(x)), **b},
        ),
        f(
            36,
            "a PNG image named .csv",
            tv("img.csv", "b.npy"),
            ("img.csv",),
            {"a": raw("img.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)), **b},
        ),
    ]


def truncated_npz(tmp: Path, x: np.ndarray) -> None:
    np.savez(tmp / "full.npz", x=x)
    data = (tmp / "full.npz").read_bytes()
    (tmp / "cut.npz").write_bytes(data[: len(data) // 2])
