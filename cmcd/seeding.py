"""Named random streams: every random choice of a run is derived from its seed by name.

A run has one integer ``seed``. Each use of randomness (a dataset split, an encoder's initial
weights, the batch order of a training loop...) draws from its own stream,
``SeedSequence([seed, crc32(name)])`` (our choice), so that

- the same seed gives identical numbers, and
- streams never coincide, neither within a run nor across runs: with ``seed + k`` offsets
  the student of seed 0 would start from the teacher weights of seed 2.

Examples
--------
>>> seed_for(0, "student-init") == seed_for(0, "student-init")
True
>>> seed_for(0, "student-init") == seed_for(2, "teacher-init")
False
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["RUN_STREAMS", "rng_for", "seed_for"]

#: Streams the pipeline draws from (dataset loaders add their own: split, gap, subsample...).
RUN_STREAMS: tuple[str, ...] = (
    "teacher-init",
    "source-ssl-head",
    "source-ssl",
    "student-init",
    "target-ssl-head",
    "target-ssl",
    "distill",
    "finetune",
    "validation-split",
    "labeled",
    "paired",
    "bound",
    "certificate-halves",
)


def _sequence(seed: int, stream: str) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(seed), zlib.crc32(stream.encode())])


def rng_for(seed: int, stream: str) -> np.random.Generator:
    """Independent numpy generator for one named use of ``seed``.

    Examples
    --------
    >>> a, b = rng_for(0, "split").random(), rng_for(0, "split").random()
    >>> a == b, a == rng_for(0, "noise").random()
    (True, False)
    """
    return np.random.default_rng(_sequence(seed, stream))


def seed_for(seed: int, stream: str) -> int:
    """Integer seed in [0, 2**32) of one named stream (for ``torch.manual_seed`` or sklearn).

    Examples
    --------
    >>> 0 <= seed_for(3, "distill") < 2**32
    True
    """
    return int(_sequence(seed, stream).generate_state(1, dtype=np.uint32)[0])
