"""Tests of the loop options of cmcd.train.training: checks every k batches, precision, etc."""

from __future__ import annotations

import math
import sys

import pytest
import torch
from torch import Tensor, nn

from cmcd.config import resolve_config
from cmcd.train.losses import CMCLoss
from cmcd.train.models import ConvEncoder, MLPEncoder, ProjectionHead
from cmcd.train.training import (
    LoopOptions,
    NonFiniteLossError,
    distill,
    epoch_loop,
    pretrain_ssl,
)


def _augment(batch: Tensor, generator: torch.Generator) -> Tensor:
    return batch + 0.05 * torch.randn(batch.shape, generator=generator)


def _pretrain(x: Tensor, loop: LoopOptions | None, epochs: int = 2, batch_size: int = 8):
    encoder = MLPEncoder(x.shape[1], 6, hidden=(12,), seed=0)
    head = ProjectionHead(6, 4, 8, seed=1)
    history = pretrain_ssl(
        encoder,
        head,
        x,
        _augment,
        epochs=epochs,
        batch_size=batch_size,
        lr=1e-2,
        weight_decay=0.0,
        temperature=0.5,
        seed=0,
        progress=False,
        loop=loop,
    )
    return history, encoder


# --------------------------------------------------------------------------- finiteness
def _check_steps(n_batches: int, epochs: int, every: int) -> list[int]:
    """Global (1-based) steps whose loss is read before their update."""
    return [
        e * n_batches + b + 1
        for e in range(epochs)
        for b in range(n_batches)
        if (b + 1) % every == 0 or b + 1 == n_batches
    ]


def _train_quadratic(every: int, nan_from: int | None, seen: list[Tensor], w: nn.Parameter):
    """40 rows in batches of 8 (5 per epoch), 4 epochs; NaN loss from call ``nan_from`` on."""
    target = torch.linspace(-1, 1, 40)[:, None] * torch.ones(1, 3)

    def step(idx: Tensor) -> Tensor:
        seen.append(w.detach().clone())  # the state after len(seen) - 1 updates
        loss = ((w - target[idx]) ** 2).sum(dim=1).mean()
        return loss * math.nan if nan_from and len(seen) >= nan_from else loss

    return epoch_loop(
        step,
        torch.optim.SGD([w], lr=0.1, momentum=0.5),
        40,
        epochs=4,
        batch_size=8,
        generator=torch.Generator().manual_seed(0),
        desc="demo",
        progress=False,
        loop=LoopOptions(check_every=every),
    )


@pytest.mark.parametrize("every", [1, 2, 3, 50])
@pytest.mark.parametrize("bad_call", [1, 4, 5, 6, 12, 19])
def test_a_loss_that_turns_nan_at_step_k_is_caught_and_rolled_back(every, bad_call):
    states: list[Tensor] = []
    clean = _train_quadratic(every, None, states, nn.Parameter(torch.zeros(3)))
    assert len(clean) == 4 and all(math.isfinite(h) for h in clean)
    epoch, batch = (bad_call - 1) // 5 + 1, (bad_call - 1) % 5 + 1
    w = nn.Parameter(torch.zeros(3))
    with pytest.raises(NonFiniteLossError, match=rf"'demo' at epoch {epoch} of 4 \(batch {batch}"):
        _train_quadratic(every, bad_call, [], w)
    # the parameters are put back as they were after the last checked update before step k
    last_checked = max([s for s in _check_steps(5, 4, every) if s < bad_call], default=0)
    torch.testing.assert_close(w.detach(), states[last_checked], rtol=0, atol=0)
    if every > 1 and last_checked < bad_call - 1:  # unchecked updates happened, then undone
        assert not torch.equal(states[bad_call - 1], states[last_checked])


class _NanAfter(nn.Module):
    """CMC loss that turns NaN from its ``calls``-th call on."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.inner, self.calls, self.seen = CMCLoss(), calls, 0

    def forward(self, z_t: Tensor, z_s: Tensor, index: Tensor | None = None) -> Tensor:
        self.seen += 1
        loss = self.inner(z_t, z_s, index)
        return loss * float("nan") if self.seen >= self.calls else loss


def test_distill_with_check_every_names_the_epoch_and_restores_batch_norm_buffers():
    student = MLPEncoder(3, 4, hidden=(5,), seed=0)
    x, z_teacher = torch.randn(48, 3), torch.randn(48, 4)
    # 6 batches per epoch; NaN at call 9 = epoch 2, batch 3; checks at batches 4 and 6
    with pytest.raises(NonFiniteLossError, match=r"'distill' at epoch 2 of 3 \(batch 3 of 6\)"):
        distill(
            student,
            z_teacher,
            x,
            _NanAfter(calls=9),
            epochs=3,
            batch_size=8,
            lr=1e-2,
            weight_decay=0.0,
            seed=0,
            progress=False,
            loop=LoopOptions(check_every=4),
        )
    for name, tensor in student.state_dict().items():
        assert torch.isfinite(tensor.float()).all(), name


def test_history_equals_the_naive_row_weighted_mean_per_epoch():
    w = nn.Parameter(torch.tensor([2.0, -1.0]))
    target = torch.randn(23, 2, generator=torch.Generator().manual_seed(3))
    losses: list[list[tuple[float, int]]] = [[], [], []]
    epoch = [0]

    def step(idx: Tensor) -> Tensor:
        loss = ((w - target[idx]) ** 2).sum(dim=1).mean()
        losses[epoch[0] // 3].append((loss.item(), len(idx)))  # batches 8, 8, 7 per epoch
        epoch[0] += 1
        return loss

    history = epoch_loop(
        step,
        torch.optim.Adam([w], lr=0.1),
        23,
        epochs=3,
        batch_size=8,
        generator=torch.Generator().manual_seed(0),
        desc="demo",
        progress=False,
        loop=LoopOptions(check_every=2),
    )
    naive = [sum(v * k for v, k in rows) / sum(k for _, k in rows) for rows in losses]
    assert [len(rows) for rows in losses] == [3, 3, 3]
    torch.testing.assert_close(history, naive, rtol=1e-15, atol=0)
    assert history[0] != pytest.approx(sum(v for v, _ in losses[0]) / 3, rel=1e-9)  # weighted


# --------------------------------------------------------------------------- no sync per batch
_SYNCS = ("item", "tolist", "__bool__", "__float__", "__int__")


def _count_syncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count host reads of tensors made by code of cmcd.train.training."""
    calls: list[str] = []
    for name in _SYNCS:
        original = getattr(torch.Tensor, name)

        def counted(self: Tensor, *args, _original=original, _name=name, **kwargs):
            if sys._getframe(1).f_globals.get("__name__") == "cmcd.train.training":
                calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return calls


@pytest.mark.parametrize("every, expected_per_epoch", [(5, 4), (16, 1), (1, 16)])
def test_the_loop_reads_the_loss_only_at_checks(monkeypatch, every, expected_per_epoch):
    x = torch.randn(64, 5, generator=torch.Generator().manual_seed(0))  # 16 batches of 4
    calls = _count_syncs(monkeypatch)
    _pretrain(x, LoopOptions(check_every=every), epochs=3, batch_size=4)
    assert len(calls) <= 3 * (math.ceil(16 / every) + 1)
    assert len(calls) == 3 * expected_per_epoch, calls


def test_distillation_reads_the_loss_only_at_checks(monkeypatch):
    student = MLPEncoder(3, 4, hidden=(5,), seed=0)
    x, z_teacher = torch.randn(60, 3), torch.randn(60, 4)  # 10 batches of 6
    calls = _count_syncs(monkeypatch)
    distill(
        student,
        z_teacher,
        x,
        CMCLoss(),
        epochs=2,
        batch_size=6,
        lr=1e-3,
        weight_decay=0.0,
        seed=0,
        progress=False,
    )  # default options: check_every=50, so once per epoch
    assert calls == ["item", "item"]


# --------------------------------------------------------------------------- options
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"precision": "fp8"}, r"precision must be one of \['auto', 'fp32', 'bf16', 'fp16'\]"),
        ({"precision": None}, r"precision must be one of"),
        ({"channels_last": "yes"}, r"channels_last must be 'auto', true or false, got 'yes'"),
        ({"channels_last": 1}, r"channels_last must be 'auto', true or false, got 1"),
        ({"compile": 1}, r"compile must be true or false, got 1"),
        ({"check_every": 0}, r"check_every must be an integer >= 1, got 0"),
        ({"check_every": 2.5}, r"check_every must be an integer >= 1, got 2.5"),
        ({"check_every": True}, r"check_every must be an integer >= 1, got True"),
        ({"check_every": 10**7}, r"check_every must be at most 1000000"),
    ],
)
def test_loop_options_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LoopOptions(**kwargs)


def test_loop_options_are_frozen():
    with pytest.raises(AttributeError):
        LoopOptions().precision = "bf16"  # type: ignore[misc]


def test_resolve_on_cpu_gives_fp32_and_no_channels_last_for_auto():
    assert LoopOptions().resolve("cpu") == LoopOptions("fp32", False, False, 50)
    asked = LoopOptions(precision="bf16", channels_last=True, compile=True, check_every=3)
    assert asked.resolve(torch.device("cpu")) == asked
    assert asked.resolve("cpu").resolve("cpu") == asked


@pytest.mark.parametrize("bf16, expected", [(True, "bf16"), (False, "fp16")])
def test_resolve_on_cuda_prefers_bf16_and_falls_back_to_fp16(monkeypatch, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    resolved = LoopOptions().resolve("cuda")
    assert (resolved.precision, resolved.channels_last) == (expected, True)
    assert LoopOptions(precision="fp32", channels_last=False).resolve("cuda").precision == "fp32"


def test_bf16_requested_on_a_cuda_device_without_it_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    with pytest.raises(ValueError, match="does not support bfloat16"):
        LoopOptions(precision="bf16").resolve("cuda")


def test_from_config_reads_the_loop_section():
    cfg = resolve_config({"loop": {"precision": "bf16", "check_every": 7}})
    assert LoopOptions.from_config(cfg) == LoopOptions("bf16", "auto", False, 7)
    assert LoopOptions.from_config(resolve_config({})) == LoopOptions()
    assert LoopOptions.from_config({}) == LoopOptions()
    with pytest.raises(ValueError, match=r"config key 'loop.precision' must be one of"):
        LoopOptions.from_config({"loop": {"precision": "half"}})
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['loop.fast'\]"):
        LoopOptions.from_config({"loop": {"fast": True}})


# --------------------------------------------------------------------------- precision, layout
def test_default_options_equal_none_bitwise_on_cpu():
    x = torch.randn(30, 5, generator=torch.Generator().manual_seed(1))
    for every in (1, 50):
        a, enc_a = _pretrain(x, None)
        b, enc_b = _pretrain(x, LoopOptions(check_every=every))
        assert a == b
        for (k, va), vb in zip(
            enc_a.state_dict().items(), enc_b.state_dict().values(), strict=True
        ):
            torch.testing.assert_close(va, vb, rtol=0, atol=0, msg=k)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_low_precision_on_cpu_runs_and_stays_close_to_fp32(precision):
    x = torch.randn(40, 5, generator=torch.Generator().manual_seed(2))
    fp32, _ = _pretrain(x, None, epochs=3)
    low, encoder = _pretrain(x, LoopOptions(precision=precision), epochs=3)
    assert all(math.isfinite(h) for h in low)
    assert low != fp32  # autocast was on
    torch.testing.assert_close(low, fp32, rtol=0.02, atol=0)
    assert all(p.dtype == torch.float32 for p in encoder.parameters())


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def test_channels_last_when_asked_on_cpu_and_the_layout_is_restored():
    x = torch.rand(24, 8, 8, generator=torch.Generator().manual_seed(0))
    layouts: list[bool] = []

    def run(channels_last: bool) -> tuple[list[float], nn.Module]:
        encoder = ConvEncoder((8, 8), 6, channels=(4, 8), seed=0)
        conv = _convs(encoder)[1]  # (8, 4, 3, 3): the layouts differ (not so with 1 channel)
        conv.register_forward_hook(
            lambda m, i, o: layouts.append(
                m.weight.is_contiguous(memory_format=torch.channels_last)
            )
        )
        head = ProjectionHead(6, 4, 8, seed=1)
        loop = LoopOptions(precision="fp32", channels_last=channels_last)
        history = pretrain_ssl(
            encoder, head, x, _augment, epochs=2, batch_size=8, lr=1e-2, weight_decay=0.0,
            temperature=0.5, seed=0, progress=False, loop=loop,
        )  # fmt: skip
        return history, encoder

    plain, _ = run(False)
    assert not any(layouts)
    layouts.clear()
    cl, encoder = run(True)
    assert layouts and all(layouts)
    torch.testing.assert_close(cl, plain, rtol=1e-5, atol=0)
    weight = _convs(encoder)[1].weight
    assert weight.is_contiguous() and not weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.slow
def test_compiled_loop_matches_eager():
    x = torch.randn(24, 5, generator=torch.Generator().manual_seed(4))
    eager, _ = _pretrain(x, None)
    compiled, _ = _pretrain(x, LoopOptions(precision="fp32", compile=True))
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=0)
