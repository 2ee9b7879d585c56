"""Tests of cmcd.train.training: batches never of one row, non-finite losses stop the loops."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from cmcd.train.losses import CMCLoss
from cmcd.train.training import NonFiniteLossError, _batches, distill, pretrain_ssl


def _identity_augment(batch: Tensor, generator: torch.Generator) -> Tensor:
    return batch + 0.01 * torch.randn(batch.shape, generator=generator)


def _pretrain(x: Tensor, batch_size: int, epochs: int = 1) -> list[float]:
    torch.manual_seed(0)
    encoder, head = nn.Linear(x.shape[1], 4), nn.Linear(4, 4)
    return pretrain_ssl(
        encoder,
        head,
        x,
        _identity_augment,
        epochs=epochs,
        batch_size=batch_size,
        lr=1e-3,
        weight_decay=0.0,
        temperature=0.5,
        seed=0,
        progress=False,
    )


@pytest.mark.parametrize("n", range(2, 40))
@pytest.mark.parametrize("batch_size", [2, 3, 4, 7, 16])
def test_batches_never_hold_a_single_row(n, batch_size):
    generator = torch.Generator().manual_seed(0)
    for drop_last in (True, False):
        cuts = _batches(n, batch_size, generator, drop_last)
        assert min(len(c) for c in cuts) >= 2
        assert len(torch.cat(cuts).unique()) == sum(len(c) for c in cuts)  # no repeats


def test_a_last_batch_of_one_is_dropped():
    cuts = _batches(9, 4, torch.Generator().manual_seed(0), drop_last=False)
    assert [len(c) for c in cuts] == [4, 4]


@pytest.mark.parametrize("batch_size", [1])
def test_a_batch_size_of_one_is_refused(batch_size):
    # before: it trained on batches of one, i.e. on an exactly-zero loss with no gradient
    with pytest.raises(ValueError, match="batch_size must be >= 2, got 1"):
        _pretrain(torch.randn(10, 3), batch_size)


def test_a_single_training_row_is_refused():
    with pytest.raises(ValueError, match="needs at least 2 rows to form a batch, got 1"):
        _pretrain(torch.randn(1, 3), batch_size=8)


def test_pretraining_learns_on_small_data():
    history = _pretrain(torch.randn(5, 3), batch_size=4, epochs=3)  # batches of 4, last dropped
    assert len(history) == 3 and all(h > 0 for h in history)


class _NanAfter(nn.Module):
    """CMC loss that turns NaN from its ``calls``-th call on."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.inner, self.calls, self.seen = CMCLoss(), calls, 0

    def forward(self, z_t: Tensor, z_s: Tensor, index: Tensor | None = None) -> Tensor:
        self.seen += 1
        loss = self.inner(z_t, z_s, index)
        return loss * float("nan") if self.seen >= self.calls else loss


def test_a_non_finite_distillation_loss_names_the_step_and_epoch():
    torch.manual_seed(0)
    student = nn.Linear(3, 4)
    z_teacher, x = torch.randn(16, 4), torch.randn(16, 3)
    loss_fn = _NanAfter(calls=3)  # batches of 8: epoch 1 has calls 1-2, epoch 2 starts at 3

    def train() -> list[float]:
        return distill(
            student,
            z_teacher,
            x,
            loss_fn,
            epochs=4,
            batch_size=8,
            lr=1e-2,
            weight_decay=0.0,
            seed=0,
            progress=False,
        )

    with pytest.raises(NonFiniteLossError, match=r"step 'distill' at epoch 2 of 4"):
        train()
    for param in student.parameters():  # the broken update was never applied
        assert torch.isfinite(param).all()


def test_a_non_finite_pretraining_loss_names_the_step():
    x = torch.randn(16, 3)
    x[3, 1] = float("nan")
    with pytest.raises(NonFiniteLossError, match=r"step 'pretrain' at epoch 1 of 2"):
        _pretrain(x, batch_size=8, epochs=2)
