"""Paired datasets for cross-modality distillation.

Every loader returns a :class:`PairedDataset`: aligned ``(x_source, x_target, y)`` with a
fixed train/test split by seed. Use :func:`load_dataset` with a name of :data:`DATASETS`
(``mfeat``, ``digits``, ``fashion``, ``spoken_digits``, ``synthetic``, ``npz``, ``csv``,
``parquet``, ``paired_files``: a manifest of files streamed from disk as a
:class:`StreamingPairedDataset`);
:func:`dataset_options` lists each dataset's options and defaults.

Examples
--------
>>> from cmcd.data import load_dataset
>>> ds = load_dataset("mfeat", source="fac", target="zer", seed=0)
>>> ds.x_source.shape, ds.x_target.shape, ds.n_classes
((2000, 216), (2000, 47), 10)
"""

from cmcd.data import (  # noqa: F401  (register the loaders)
    files,
    images,
    mfeat,
    paired_files,
    spoken,
    synthetic,
)
from cmcd.data._base import (
    DATASETS,
    DEFAULT_TEST_FRACTION,
    PairedDataset,
    ViewSpec,
    dataset_options,
    load_dataset,
)
from cmcd.data.images import FASHION_ROOT, load_fashion_mnist, read_idx
from cmcd.data.mfeat import MFEAT_VIEWS, read_mfeat_view
from cmcd.data.paired_files import export_paired_files
from cmcd.data.streaming import StreamingPairedDataset
from cmcd.data.synthetic import mixture_shift_tv
from cmcd.data.transforms import GAP_FAMILIES, apply_gap, check_gap, plot_modality_gap_examples

__all__ = [
    "DATASETS",
    "DEFAULT_TEST_FRACTION",
    "FASHION_ROOT",
    "GAP_FAMILIES",
    "MFEAT_VIEWS",
    "PairedDataset",
    "StreamingPairedDataset",
    "ViewSpec",
    "apply_gap",
    "check_gap",
    "dataset_options",
    "export_paired_files",
    "load_dataset",
    "load_fashion_mnist",
    "mixture_shift_tv",
    "plot_modality_gap_examples",
    "read_idx",
    "read_mfeat_view",
]
