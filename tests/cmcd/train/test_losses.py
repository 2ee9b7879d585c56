"""Tests of cmcd.train.losses: naive references, closed forms, symmetries, gradients, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from naive_losses import (
    naive_cmc,
    naive_cmd,
    naive_cmd_cmc,
    naive_cosine,
    naive_crd,
    naive_info_nce,
    naive_l2,
)

from cmcd.train.losses import (
    DISTILL_LOSSES,
    CMCLoss,
    CMDCMCLoss,
    CMDLoss,
    CosineLoss,
    CRDLoss,
    InfoNCELoss,
    L2Loss,
    cmc_loss,
    cmd_cmc_loss,
    cmd_loss,
    cosine_loss,
    crd_loss,
    distill_loss_defaults,
    info_nce,
    l2_loss,
    make_distill_loss,
)

DTYPES = [torch.float32, torch.float64]
DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
    ),
]
# float64 matches the float64 loops to rounding; float32 to single-precision rounding of
# logits of size up to 1 / tau = 25.
TOL = {torch.float64: {"rtol": 1e-10, "atol": 1e-10}, torch.float32: {"rtol": 2e-5, "atol": 2e-5}}


def _pair(n: int, d: int, seed: int, dtype=torch.float64, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(n, d, generator=g, dtype=torch.float64)
    s = 0.6 * t + torch.randn(n, d, generator=g, dtype=torch.float64)  # correlated pairs
    return t.to(dtype=dtype, device=device), s.to(dtype=dtype, device=device)


def _np(z: torch.Tensor) -> np.ndarray:
    return z.detach().cpu().double().numpy()


def _negatives(k: int, d: int, seed: int, dtype, device):
    g = torch.Generator().manual_seed(seed + 1000)
    return torch.randn(k, d, generator=g, dtype=torch.float64).to(dtype=dtype, device=device)


# Each case: (vectorised loss, naive loop, keyword arguments).
PAIR_CASES = {
    "info_nce": (info_nce, naive_info_nce, {"temperature": 0.2}),
    "cmd_default": (cmd_loss, naive_cmd, {}),
    "cmd_temps": (
        cmd_loss,
        naive_cmd,
        {"teacher_temperature": 0.5, "student_temperature": 0.07},
    ),
    "cmc_symmetric": (cmc_loss, naive_cmc, {"temperature": 0.1}),
    "cmc_one_way": (cmc_loss, naive_cmc, {"temperature": 0.3, "symmetric": False}),
    "cmd+cmc": (cmd_cmc_loss, naive_cmd_cmc, {"cmc_weight": 0.3, "cmc_temperature": 0.2}),
    "l2": (l2_loss, naive_l2, {}),
    "cosine": (cosine_loss, naive_cosine, {}),
}


# --------------------------------------------------------------------------- naive references
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, d, seed", [(1, 3, 0), (5, 4, 1), (12, 16, 2)])
@pytest.mark.parametrize("case", sorted(PAIR_CASES))
def test_pair_losses_equal_naive_loops(case, n, d, seed, dtype, device):
    loss_fn, naive_fn, kwargs = PAIR_CASES[case]
    t, s = _pair(n, d, seed, dtype, device)
    got = loss_fn(t, s, **kwargs)
    assert got.dtype == dtype and got.shape == () and got.device.type == device
    expected = torch.tensor(naive_fn(_np(t), _np(s), **kwargs), dtype=dtype)
    torch.testing.assert_close(got.cpu(), expected, **TOL[dtype])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", [1, 7, 20])
def test_cmd_with_external_anchors_equals_naive(m, dtype, device):
    t, s = _pair(6, 5, 3, dtype, device)
    anchors = _negatives(m, 5, 3, dtype, device)
    got = cmd_loss(t, s, anchors, teacher_temperature=0.05, student_temperature=0.2)
    expected = naive_cmd(_np(t), _np(s), _np(anchors), 0.05, 0.2)
    torch.testing.assert_close(got.cpu(), torch.tensor(expected, dtype=dtype), **TOL[dtype])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("masked", [False, True])
def test_crd_equals_naive(masked, dtype, device):
    t, s = _pair(8, 6, 4, dtype, device)
    negatives = _negatives(11, 6, 4, dtype, device)
    g = torch.Generator().manual_seed(5)
    mask = (torch.rand(8, 11, generator=g) < 0.3).to(device) if masked else None
    got = crd_loss(t, s, negatives, temperature=0.1, negative_mask=mask)
    expected = naive_crd(_np(t), _np(s), _np(negatives), 0.1, None if mask is None else mask.cpu())
    torch.testing.assert_close(got.cpu(), torch.tensor(expected, dtype=dtype), **TOL[dtype])


# --------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 9])
def test_info_nce_collinear_is_log_2n_minus_1(n, dtype):
    direction = torch.randn(1, 5, dtype=dtype)
    scales = torch.rand(n, 1, dtype=dtype) + 0.5  # same direction, different lengths
    z1, z2 = scales * direction, 2.0 * scales * direction
    expected = torch.tensor(math.log(2 * n - 1), dtype=dtype)
    torch.testing.assert_close(info_nce(z1, z2, temperature=0.07), expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("symmetric", [True, False])
def test_cmc_identical_embeddings_is_log_n(symmetric, dtype):
    z = torch.ones(6, 3, dtype=dtype)
    expected = torch.tensor(math.log(6), dtype=dtype)
    torch.testing.assert_close(cmc_loss(z, z, symmetric=symmetric), expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tau", [0.05, 0.3, 1.0])
def test_cmd_student_equals_teacher_gives_entropy_of_p(tau, dtype):
    t, _ = _pair(7, 4, 6, dtype)
    u = torch.nn.functional.normalize(t, dim=1)
    p = torch.softmax(u @ u.T / tau, dim=1)
    entropy = -(p * torch.log(p)).sum(dim=1).mean()
    got = cmd_loss(t, 3.0 * t, teacher_temperature=tau, student_temperature=tau)
    torch.testing.assert_close(got, entropy, **TOL[dtype])


def test_cmd_orthogonal_teacher_closed_form():
    # One-hot teacher embeddings and anchors: p_ii = e^{1/tt} / (e^{1/tt} + n - 1); a student
    # equal to the teacher gives the cross-entropy of p with itself at temperature ts.
    n, tt, ts = 4, 0.5, 0.25
    z = torch.eye(n, dtype=torch.float64)
    p_self = math.exp(1 / tt) / (math.exp(1 / tt) + n - 1)
    log_q_self = 1 / ts - math.log(math.exp(1 / ts) + n - 1)
    log_q_other = -math.log(math.exp(1 / ts) + n - 1)
    expected = -(p_self * log_q_self + (1 - p_self) * log_q_other)
    got = cmd_loss(z, z, teacher_temperature=tt, student_temperature=ts)
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64))


@pytest.mark.parametrize("dtype", DTYPES)
def test_l2_and_cosine_closed_forms(dtype):
    t, _ = _pair(5, 3, 7, dtype)
    zero = torch.tensor(0.0, dtype=dtype)
    torch.testing.assert_close(l2_loss(t, 2.0 * t), zero, **TOL[dtype])
    torch.testing.assert_close(cosine_loss(t, 2.0 * t), zero, **TOL[dtype])
    torch.testing.assert_close(l2_loss(t, -t), torch.tensor(4.0, dtype=dtype), **TOL[dtype])
    torch.testing.assert_close(cosine_loss(t, -t), torch.tensor(2.0, dtype=dtype), **TOL[dtype])
    _, s = _pair(5, 3, 8, dtype)
    torch.testing.assert_close(l2_loss(t, s), 2.0 * cosine_loss(t, s), **TOL[dtype])


@pytest.mark.parametrize("k", [1, 10])
def test_crd_identical_embeddings_is_log_k_plus_1(k):
    z = torch.ones(4, 3, dtype=torch.float64)
    got = crd_loss(z, z, torch.ones(k, 3, dtype=torch.float64), temperature=0.07)
    torch.testing.assert_close(got, torch.tensor(math.log(k + 1), dtype=torch.float64))


def test_cmd_cmc_weight_endpoints():
    t, s = _pair(6, 4, 9)
    torch.testing.assert_close(cmd_cmc_loss(t, s, cmc_weight=0.0), cmd_loss(t, s))
    torch.testing.assert_close(cmd_cmc_loss(t, s, cmc_weight=1.0), cmc_loss(t, s))


# --------------------------------------------------------------------------- symmetries
def test_symmetric_cmc_invariant_to_swapping_arguments():
    t, s = _pair(9, 5, 10)
    torch.testing.assert_close(cmc_loss(t, s), cmc_loss(s, t), rtol=1e-12, atol=1e-12)
    one_way_sum = cmc_loss(t, s, symmetric=False) + cmc_loss(s, t, symmetric=False)
    torch.testing.assert_close(cmc_loss(t, s), 0.5 * one_way_sum, rtol=1e-12, atol=1e-12)


def test_one_way_cmc_is_not_symmetric():
    t, s = _pair(9, 5, 11)
    gap = abs(float(cmc_loss(t, s, symmetric=False) - cmc_loss(s, t, symmetric=False)))
    assert gap > 1e-3


@pytest.mark.parametrize("loss_fn", [info_nce, l2_loss, cosine_loss])
def test_swap_invariant_losses(loss_fn):
    a, b = _pair(7, 4, 12)
    torch.testing.assert_close(loss_fn(a, b), loss_fn(b, a), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", sorted(PAIR_CASES))
def test_losses_invariant_to_permuting_the_batch(case):
    loss_fn, _, kwargs = PAIR_CASES[case]
    t, s = _pair(10, 4, 13)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(1))
    got = loss_fn(t[perm], s[perm], **kwargs)
    torch.testing.assert_close(got, loss_fn(t, s, **kwargs), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", sorted(PAIR_CASES))
def test_losses_invariant_to_rescaling_rows(case):
    loss_fn, _, kwargs = PAIR_CASES[case]
    t, s = _pair(6, 4, 14)
    scale = torch.rand(6, 1, dtype=torch.float64) * 5 + 0.1
    got = loss_fn(scale * t, s / scale, **kwargs)
    torch.testing.assert_close(got, loss_fn(t, s, **kwargs), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- gradients
DISTILL_FUNCTIONS = {
    "cmd": lambda t, s: cmd_loss(t, s),
    "cmd_anchors": lambda t, s: cmd_loss(t, s, anchors=t * 1.0 + 0.1),
    "cmc": lambda t, s: cmc_loss(t, s),
    "cmc_one_way": lambda t, s: cmc_loss(t, s, symmetric=False),
    "cmd+cmc": lambda t, s: cmd_cmc_loss(t, s),
    "l2": l2_loss,
    "cosine": cosine_loss,
    "crd": lambda t, s: crd_loss(t, s, negatives=t.roll(1, dims=0) * 2.0),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(DISTILL_FUNCTIONS))
def test_gradients_reach_student_and_never_teacher(name, device):
    t, s = _pair(6, 5, 15, torch.float32, device)
    teacher_in = t.clone().requires_grad_(True)
    student_weight = torch.randn(5, 5, device=device, requires_grad=True)
    loss = DISTILL_FUNCTIONS[name](teacher_in, s @ student_weight)
    loss.backward()
    assert teacher_in.grad is None
    grad = student_weight.grad
    assert grad is not None and bool(torch.isfinite(grad).all())
    assert float(grad.abs().sum()) > 1e-6


@pytest.mark.parametrize("name", sorted(DISTILL_FUNCTIONS))
def test_student_gradients_match_finite_differences(name):
    t, s = _pair(5, 4, 16)
    s = s.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: DISTILL_FUNCTIONS[name](t, x), (s,))


def test_info_nce_gradients_reach_both_views_and_match_finite_differences():
    z1, z2 = _pair(5, 4, 17)
    z1.requires_grad_(True)
    z2.requires_grad_(True)
    assert torch.autograd.gradcheck(info_nce, (z1, z2))


def _queue_params(name: str, size: int) -> dict[str, int]:
    """Exercise the CMD queue in the module-level tests."""
    return {"queue_size": size} if name.startswith("cmd") else {}


@pytest.mark.parametrize("name", sorted(DISTILL_LOSSES))
def test_modules_never_send_gradients_to_the_teacher(name):
    module = make_distill_loss(name, n_data=20, dim=5, **_queue_params(name, 8))
    if module is None:
        assert name == "none"
        return
    t, s = _pair(6, 5, 18, torch.float32)
    teacher_in = t.clone().requires_grad_(True)
    student_in = s.clone().requires_grad_(True)
    module(teacher_in, student_in, torch.arange(6)).backward()
    assert teacher_in.grad is None
    assert student_in.grad is not None and float(student_in.grad.abs().sum()) > 0


# --------------------------------------------------------------------------- modules
@pytest.mark.parametrize(
    "module, function",
    [
        (CMDLoss(teacher_temperature=0.1), lambda t, s: cmd_loss(t, s, teacher_temperature=0.1)),
        (CMCLoss(0.2, symmetric=False), lambda t, s: cmc_loss(t, s, 0.2, symmetric=False)),
        (CMDCMCLoss(cmc_weight=0.25), lambda t, s: cmd_cmc_loss(t, s, cmc_weight=0.25)),
        (L2Loss(), l2_loss),
        (CosineLoss(), cosine_loss),
        (InfoNCELoss(0.3), lambda a, b: info_nce(a, b, 0.3)),
    ],
)
def test_modules_equal_their_functions(module, function):
    t, s = _pair(6, 4, 19)
    torch.testing.assert_close(module(t, s), function(t, s), rtol=1e-12, atol=1e-12)


def test_cmd_queue_is_fifo():
    loss = CMDLoss(dim=2, queue_size=5)
    batches = [torch.randn(3, 2, dtype=torch.float32) for _ in range(4)]
    seen: list[torch.Tensor] = []
    for batch in batches:
        loss(batch, batch)
        seen.extend(torch.nn.functional.normalize(batch, dim=1))
        expected = torch.stack(seen[-5:])
        torch.testing.assert_close(loss.queued_anchors(), expected)
    assert int(loss.queue_count) == 5


def test_cmd_queue_batch_larger_than_queue_keeps_the_newest():
    loss = CMDLoss(dim=3, queue_size=4)
    batch = torch.randn(10, 3)
    loss(batch, batch)
    torch.testing.assert_close(
        loss.queued_anchors(), torch.nn.functional.normalize(batch[-4:], dim=1)
    )


def test_cmd_queue_loss_uses_batch_then_queue_as_anchors():
    loss = CMDLoss(dim=4, queue_size=6, teacher_temperature=0.1, student_temperature=0.2)
    t1, s1 = _pair(4, 4, 20, torch.float32)
    t2, s2 = _pair(4, 4, 21, torch.float32)
    first = loss(t1, s1)
    torch.testing.assert_close(first, cmd_loss(t1, s1, None, 0.1, 0.2), rtol=1e-6, atol=1e-6)
    second = loss(t2, s2)
    expected = naive_cmd(_np(t2), _np(s2), np.concatenate([_np(t2), _np(t1)]), 0.1, 0.2)
    expected = torch.tensor(expected, dtype=torch.float32)
    torch.testing.assert_close(second, expected, rtol=1e-6, atol=1e-6)


def test_cmd_queue_not_updated_in_eval_mode_and_survives_state_dict():
    loss = CMDLoss(dim=2, queue_size=4)
    loss(torch.randn(3, 2), torch.randn(3, 2))
    loss.eval()
    before = loss.queued_anchors().clone()
    loss(torch.randn(3, 2), torch.randn(3, 2))
    torch.testing.assert_close(loss.queued_anchors(), before)
    copy = CMDLoss(dim=2, queue_size=4)
    copy.load_state_dict(loss.state_dict())
    torch.testing.assert_close(copy.queued_anchors(), before)


def test_crd_memory_bank_updates_only_given_rows():
    crd = CRDLoss(n_data=12, dim=4, n_negatives=16, momentum=0.5, seed=3)
    start = crd.memory.clone()
    index = torch.tensor([1, 7, 10])
    z1 = torch.randn(3, 4)
    crd(z1, torch.randn(3, 4), index)
    untouched = torch.ones(12, dtype=torch.bool)
    untouched[index] = False
    torch.testing.assert_close(crd.memory[untouched], start[untouched], rtol=0, atol=0)
    # first write copies the normalised teacher embedding
    torch.testing.assert_close(crd.memory[index], torch.nn.functional.normalize(z1, dim=1))
    # second write mixes with momentum, then renormalises
    z2 = torch.randn(3, 4)
    crd(z2, torch.randn(3, 4), index)
    mixed = 0.5 * torch.nn.functional.normalize(z1, dim=1) + 0.5 * torch.nn.functional.normalize(
        z2, dim=1
    )
    torch.testing.assert_close(crd.memory[index], torch.nn.functional.normalize(mixed, dim=1))
    torch.testing.assert_close(crd.memory[untouched], start[untouched], rtol=0, atol=0)
    assert int(crd.filled.sum()) == 3 and int(crd.step) == 2


def test_crd_module_equals_functional_core_with_its_draws():
    crd = CRDLoss(n_data=9, dim=3, n_negatives=20, temperature=0.2, seed=1)
    bank = crd.memory.clone()
    t, s = _pair(4, 3, 22, torch.float32)
    index = torch.tensor([0, 2, 4, 8])
    drawn = torch.randint(9, (20,), generator=torch.Generator().manual_seed(1 * 1_000_003 + 0))
    mask = drawn[None, :] == index[:, None]
    expected = naive_crd(_np(t), _np(s), _np(bank[drawn]), 0.2, mask.numpy())
    got = crd(t, s, index)
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float32))


def test_crd_is_deterministic_and_resumable():
    a = CRDLoss(n_data=30, dim=4, n_negatives=8, seed=5)
    b = CRDLoss(n_data=30, dim=4, n_negatives=8, seed=5)
    batches = [(*_pair(5, 4, 30 + k, torch.float32), torch.arange(5) + 5 * k) for k in range(4)]
    losses_a = [a(t, s, i) for t, s, i in batches]
    for t, s, i in batches[:2]:
        b(t, s, i)
    resumed = CRDLoss(n_data=30, dim=4, n_negatives=8, seed=5)
    resumed.load_state_dict(b.state_dict())
    losses_resumed = [resumed(t, s, i) for t, s, i in batches[2:]]
    torch.testing.assert_close(torch.stack(losses_resumed), torch.stack(losses_a[2:]))


def test_crd_eval_mode_leaves_bank_untouched():
    crd = CRDLoss(n_data=6, dim=2, n_negatives=4).eval()
    before = crd.memory.clone()
    crd(torch.randn(2, 2), torch.randn(2, 2), torch.tensor([0, 1]))
    torch.testing.assert_close(crd.memory, before, rtol=0, atol=0)
    assert int(crd.step) == 0


@pytest.mark.parametrize("device", DEVICES)
def test_modules_follow_the_device(device):
    for name in sorted(DISTILL_LOSSES):
        module = make_distill_loss(name, n_data=10, dim=3, **_queue_params(name, 4))
        if module is None:
            continue
        module.to(device)
        t, s = _pair(4, 3, 23, torch.float32, device)
        loss = module(t, s, torch.arange(4, device=device))
        assert loss.device.type == device and bool(torch.isfinite(loss))


# --------------------------------------------------------------------------- registry
def test_registry_names():
    assert set(DISTILL_LOSSES) == {"cmd", "cmc", "cmd+cmc", "l2", "cosine", "crd", "none"}
    assert make_distill_loss("none", n_data=5, dim=3) is None


def test_make_distill_loss_passes_parameters():
    loss = make_distill_loss("cmc", n_data=5, dim=3, temperature=0.5, symmetric=False)
    assert isinstance(loss, CMCLoss) and loss.temperature == 0.5 and loss.symmetric is False
    crd = make_distill_loss("crd", n_data=50, dim=7, n_negatives=9)
    assert isinstance(crd, CRDLoss) and tuple(crd.memory.shape) == (50, 7)
    mixed = make_distill_loss("cmd+cmc", n_data=5, dim=3, queue_size=2, cmc_weight=0.1)
    assert mixed.cmd.queue_size == 2 and mixed.cmc_weight == 0.1


def test_make_distill_loss_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown distillation loss 'cmx'.*'cmd\+cmc'.*'none'"):
        make_distill_loss("cmx", n_data=5, dim=3)


def test_make_distill_loss_unknown_parameter_names_it_and_valid_ones():
    message = r"\['temprature'\].*'cmc'.*\['symmetric', 'temperature'\]"
    with pytest.raises(ValueError, match=message):
        make_distill_loss("cmc", n_data=5, dim=3, temprature=0.1)
    with pytest.raises(ValueError, match=r"\['temperature'\].*'none'"):
        make_distill_loss("none", n_data=5, dim=3, temperature=0.1)


def test_distill_loss_defaults():
    assert distill_loss_defaults("crd") == {
        "n_negatives": 512,
        "temperature": 0.07,
        "momentum": 0.5,
        "seed": 0,
    }
    assert "queue_size" in distill_loss_defaults("cmd")
    with pytest.raises(ValueError, match="unknown distillation loss"):
        distill_loss_defaults("nope")


# --------------------------------------------------------------------------- bad input
BAD_PAIRS = {
    "batch sizes": (torch.randn(4, 3), torch.randn(5, 3), "same batch size"),
    "dimensions": (torch.randn(4, 3), torch.randn(4, 2), "same embedding dimension"),
    "1-D": (torch.randn(4), torch.randn(4), "2-D"),
    "3-D": (torch.randn(2, 2, 2), torch.randn(2, 2, 2), "2-D"),
    "empty": (torch.randn(0, 3), torch.randn(0, 3), "empty"),
    "integer": (torch.ones(2, 2, dtype=torch.long), torch.ones(2, 2, dtype=torch.long), "floating"),
    "numpy": (np.ones((2, 2)), np.ones((2, 2)), "torch.Tensor"),
}
ALL_FUNCTIONS = {
    "info_nce": info_nce,
    "cmd": cmd_loss,
    "cmc": cmc_loss,
    "cmd+cmc": cmd_cmc_loss,
    "l2": l2_loss,
    "cosine": cosine_loss,
    "crd": lambda t, s: crd_loss(t, s, torch.randn(3, 3)),
}


@pytest.mark.parametrize("bad", sorted(BAD_PAIRS))
@pytest.mark.parametrize("name", sorted(ALL_FUNCTIONS))
def test_bad_embeddings_raise_value_error(name, bad):
    a, b, message = BAD_PAIRS[bad]
    with pytest.raises(ValueError, match=message):
        ALL_FUNCTIONS[name](a, b)


@pytest.mark.parametrize("tau", [0.0, -0.1, float("nan"), float("inf"), "0.1", True])
@pytest.mark.parametrize(
    "call",
    [
        lambda z, tau: info_nce(z, z, temperature=tau),
        lambda z, tau: cmd_loss(z, z, teacher_temperature=tau),
        lambda z, tau: cmd_loss(z, z, student_temperature=tau),
        lambda z, tau: cmc_loss(z, z, temperature=tau),
        lambda z, tau: cmd_cmc_loss(z, z, cmc_temperature=tau),
        lambda z, tau: crd_loss(z, z, z, temperature=tau),
        lambda z, tau: InfoNCELoss(tau),
        lambda z, tau: CMDLoss(student_temperature=tau),
        lambda z, tau: CRDLoss(5, 3, temperature=tau),
    ],
)
def test_bad_temperature_raises_value_error(call, tau):
    with pytest.raises(ValueError, match="temperature"):
        call(torch.randn(3, 3), tau)


def test_other_bad_arguments_raise_value_error():
    z = torch.randn(4, 3)
    with pytest.raises(ValueError, match="anchors"):
        cmd_loss(z, z, anchors=torch.randn(5, 2))
    with pytest.raises(ValueError, match="negative_mask"):
        crd_loss(z, z, torch.randn(6, 3), negative_mask=torch.zeros(4, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="cmc_weight"):
        cmd_cmc_loss(z, z, cmc_weight=1.5)
    with pytest.raises(ValueError, match="dim must be given"):
        CMDLoss(queue_size=3)
    with pytest.raises(ValueError, match="queue_size"):
        CMDLoss(dim=3, queue_size=-1)
    with pytest.raises(ValueError, match="CMD queue"):
        CMDLoss(dim=5, queue_size=3)(z, z)
    with pytest.raises(ValueError, match="momentum"):
        CRDLoss(5, 3, momentum=1.0)
    with pytest.raises(ValueError, match="n_negatives"):
        CRDLoss(5, 3, n_negatives=0)


@pytest.mark.parametrize(
    "index, message",
    [
        (None, "index .* is required"),
        (torch.tensor([0.0, 1.0, 2.0, 3.0]), "integer tensor"),
        (torch.tensor([0, 1, 2]), r"shape \(4,\)"),
        (torch.tensor([0, 1, 2, 10]), r"\[0, 10\)"),
        (torch.tensor([0, -1, 2, 3]), r"\[0, 10\)"),
    ],
)
def test_crd_bad_index_raises_value_error(index, message):
    z = torch.randn(4, 3)
    with pytest.raises(ValueError, match=message):
        CRDLoss(10, 3)(z, z, index)


def test_numpy_scalar_hyper_parameters_are_accepted():
    loss = make_distill_loss(
        "crd",
        n_data=np.int64(10),
        dim=np.int64(3),
        n_negatives=np.int32(4),
        temperature=np.float32(0.5),
    )
    assert loss.n_data == 10 and type(loss.n_data) is int and loss.temperature == 0.5
    z = torch.randn(4, 3)
    torch.testing.assert_close(
        cmc_loss(z, z, temperature=np.float64(0.2)), cmc_loss(z, z, temperature=0.2)
    )


# --------------------------------------------------------------------------- batch of one
@pytest.mark.parametrize(
    "loss",
    [
        lambda a, b: info_nce(a, b),
        lambda a, b: cmc_loss(a, b),
        lambda a, b: cmc_loss(a, b, symmetric=False),
        lambda a, b: cmd_loss(a, b),
    ],
    ids=["info_nce", "cmc", "cmc_one_way", "cmd"],
)
def test_a_batch_of_one_gives_exactly_zero_and_no_gradient(loss):
    """Documented in the losses: why the training loops never form a batch of one."""
    z_a = torch.randn(1, 5, requires_grad=True)
    z_b = torch.randn(1, 5, requires_grad=True)
    value = loss(z_a, z_b)
    value.backward()
    assert value.item() == 0.0
    grads = [g for g in (z_a.grad, z_b.grad) if g is not None]
    assert grads, "no gradient was computed at all"
    for grad in grads:
        torch.testing.assert_close(grad, torch.zeros_like(grad), atol=1e-7, rtol=0)
