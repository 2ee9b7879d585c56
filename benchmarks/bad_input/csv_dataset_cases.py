"""Audit cases D01-D03: the csv dataset's files (label column, row counts, pandas' index)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .fixtures import RUN, _gauss, tiny, write_yaml
from .harness import Case, State


def csv_dataset_cases() -> list[Case]:
    cat = "csv dataset"

    def ds(name: str, labels_rows: int = 200, index: bool = False):
        def setup(tmp: Path) -> State:
            import pandas as pd

            x = _gauss(200, 5)
            pd.DataFrame(x, columns=list("abcde")).to_csv(tmp / "src.csv", index=index)
            pd.DataFrame(x[:, :3] + 0.1, columns=list("abc")).to_csv(tmp / "tgt.csv", index=False)
            labels = np.arange(labels_rows) % 2
            pd.DataFrame({"y": labels}).to_csv(tmp / "lab.csv", index=False)
            data = {
                "name": "csv",
                "source_path": "src.csv",
                "target_path": "tgt.csv",
                "labels_path": "lab.csv",
                "label_column": name,
            }
            write_yaml(tmp, "c.yaml", tiny(data=data))
            return {}

        return setup

    return [
        Case(
            "D01",
            cat,
            "csv dataset: label_column that does not exist",
            "error",
            ("label_column", "nosuch"),
            RUN,
            setup=ds("nosuch"),
        ),
        Case(
            "D02",
            cat,
            "csv dataset: labels file with fewer rows than the views",
            "error",
            ("lab.csv", "labels"),
            RUN,
            setup=ds("y", labels_rows=150),
        ),
        Case(
            "D03",
            cat,
            "csv dataset: source csv written with pandas' index",
            "error",
            ("src.csv", "index"),
            RUN,
            setup=ds("y", index=True),
        ),
    ]
