import itertools

import numpy as np
import torch

from cmcd.config import DEFAULTS
from cmcd.data import ViewSpec
from cmcd.runs.pipeline import _seeded, build_view_encoder
from cmcd.seeding import RUN_STREAMS, rng_for, seed_for

DATASET_STREAMS = ("split", "gap", "subsample", "synthetic-sample", "tv")


def test_no_two_streams_of_runs_with_seeds_0_to_9_coincide():
    streams = RUN_STREAMS + DATASET_STREAMS
    values = [seed_for(s, name) for s, name in itertools.product(range(10), streams)]
    assert len(set(values)) == len(values) == 10 * len(streams)
    first_draws = [rng_for(s, name).random() for s, name in itertools.product(range(10), streams)]
    assert len(set(first_draws)) == len(first_draws)


def test_the_same_seed_and_stream_give_identical_numbers():
    assert seed_for(4, "distill") == seed_for(4, "distill")
    np.testing.assert_array_equal(rng_for(4, "split").random(5), rng_for(4, "split").random(5))


def test_student_of_seed_0_no_longer_starts_from_the_teacher_of_seed_2():
    # the defect of seed + k offsets: student(seed) used seed + 2, the teacher of seed + 2
    view = ViewSpec(name="v", kind="vector", shape=(12,))
    model = {**DEFAULTS["model"], "hidden": [16], "latent_dim": 8}

    def build(seed: int, stream: str, arch_key: str) -> torch.nn.Module:
        return _seeded(seed_for(seed, stream), lambda: build_view_encoder(view, model, arch_key))

    student = build(0, "student-init", "target_arch")
    teacher = build(2, "teacher-init", "source_arch")
    weights = [(a, b) for a, b in zip(student.parameters(), teacher.parameters(), strict=True)]
    random_init = [(a, b) for a, b in weights if a.ndim >= 2]  # norm layers start at 1 / 0
    assert random_init and not any(torch.equal(a, b) for a, b in random_init)
