import numpy as np
import pytest
import torch

from bounds.target.probe import LinearProbe
from cmcd.train.finetune import accuracy, finetune, linear_probe


@pytest.mark.slow
def test_linear_probe_reproduces_the_package_probe():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(60, 5))
    y = rng.integers(0, 3, size=60)
    head = linear_probe(z, y, n_classes=4, C=None, seed=0)
    ref = LinearProbe(random_state=0).fit(z, y)
    with torch.no_grad():
        pred = head(torch.as_tensor(z, dtype=torch.float32)).argmax(1).numpy()
    np.testing.assert_array_equal(pred, ref.predict(z))
    assert pred.max() < 3  # the absent class 3 is never predicted


def test_linear_probe_binary_case_matches_the_package_probe():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(40, 3))
    y = (z[:, 0] > 0).astype(int)
    head = linear_probe(z, y, n_classes=2, C=1.0, seed=0)
    ref = LinearProbe(C=1.0, random_state=0).fit(z, y)
    with torch.no_grad():
        proba = torch.softmax(head(torch.as_tensor(z, dtype=torch.float32)), 1)[:, 1].numpy()
    np.testing.assert_allclose(proba, ref.predict_proba(z)[:, 1], atol=1e-5)


@pytest.mark.slow
def test_full_finetuning_fits_the_labeled_rows():
    torch.manual_seed(0)
    x = torch.randn(40, 6)
    y = (x[:, 0] > 0).long()
    encoder = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8))
    before = [p.clone() for p in encoder.parameters()]
    model = finetune(encoder, x, y, n_classes=2, epochs=200, lr=1e-2, C=1.0, seed=0)
    assert accuracy(model, x, y) == 1.0
    assert any(not torch.equal(a, b) for a, b in zip(before, encoder.parameters(), strict=True))


def test_zero_epochs_leaves_the_encoder_unchanged():
    encoder = torch.nn.Linear(4, 3)
    before = [p.clone() for p in encoder.parameters()]
    x, y = torch.randn(20, 4), torch.arange(20) % 2
    finetune(encoder, x, y, n_classes=2, epochs=0, lr=1e-2, C=None, seed=0)
    for a, b in zip(before, encoder.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_one_label_per_class_warns_and_uses_the_fallback(recwarn):
    encoder = torch.nn.Linear(4, 3)
    x, y = torch.randn(2, 4), torch.tensor([0, 1])
    with pytest.warns(UserWarning, match="fallback C"):
        finetune(encoder, x, y, n_classes=2, epochs=0, lr=1e-2, C=None, seed=0)


class _NanWhenTraining(torch.nn.Linear):
    """Finite latents for the probe (eval mode), NaN once fine-tuning trains it."""

    def forward(self, x):
        out = super().forward(x)
        return out * float("nan") if self.training else out


def test_a_non_finite_finetuning_loss_names_the_step_and_epoch():
    from cmcd.train.training import NonFiniteLossError

    torch.manual_seed(0)
    encoder = _NanWhenTraining(4, 3)
    x, y = torch.randn(12, 4), torch.arange(12) % 3
    weight = encoder.weight.detach().clone()
    with pytest.raises(NonFiniteLossError, match=r"step 'finetune' at epoch 1 of 5"):
        finetune(encoder, x, y, 3, epochs=5, lr=1e-2, C=1.0, seed=0)
    torch.testing.assert_close(encoder.weight.detach(), weight)  # no broken update applied
