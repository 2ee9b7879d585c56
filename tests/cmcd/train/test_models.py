"""Tests of cmcd.train.models (encoders, heads, registry) and cmcd._device."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from cmcd._device import select_device
from cmcd.train.models import (
    DEFAULT_ARCHITECTURE,
    ENCODERS,
    ConvEncoder,
    LinearClassifier,
    MLPEncoder,
    ProjectionHead,
    ResNet18Encoder,
    ResNet34Encoder,
    SpectrogramEncoder,
    build_encoder,
    check_arch_name,
    check_encoder,
    file_sha256,
    init_parameters,
    load_teacher_state,
    make_view_encoder,
)


@pytest.fixture(autouse=True)
def _user_encoders_importable(monkeypatch):
    """``user_encoders`` lives in tests/cmcd (one level up since the layout regroup)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))


IMAGE_SHAPES = [(16, 15), (8, 8), (28, 28), (7, 3), (1, 1), (5, 1)]


# --------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("hidden", [(), (16,), (32, 8)])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_mlp_output_shape(hidden, batch_norm):
    encoder = MLPEncoder(12, 5, hidden=hidden, batch_norm=batch_norm, dropout=0.1, seed=0)
    assert encoder(torch.randn(4, 12)).shape == (4, 5)
    assert encoder(torch.randn(4, 3, 4)).shape == (4, 5)  # flattened
    n_linear = sum(isinstance(m, nn.Linear) for m in encoder.modules())
    n_bn = sum(isinstance(m, nn.BatchNorm1d) for m in encoder.modules())
    assert n_linear == len(hidden) + 1 and n_bn == (len(hidden) if batch_norm else 0)


@pytest.mark.parametrize("image_shape", IMAGE_SHAPES)
@pytest.mark.parametrize("layout", ["nhw", "n1hw", "flat"])
def test_cnn_handles_odd_and_tiny_sizes_and_layouts(image_shape, layout):
    h, w = image_shape
    encoder = ConvEncoder(image_shape, 6, channels=(4, 8), seed=0)
    x = torch.randn(3, h, w)
    inputs = {"nhw": x, "n1hw": x[:, None], "flat": x.reshape(3, h * w)}
    out = encoder(inputs[layout])
    assert out.shape == (3, 6) and bool(torch.isfinite(out).all())
    encoder.eval()
    torch.testing.assert_close(encoder(inputs[layout]), encoder(x), rtol=0, atol=0)


def test_cnn_pools_only_while_the_map_is_at_least_2x2():
    pools = {
        shape: sum(isinstance(m, nn.MaxPool2d) for m in ConvEncoder(shape, 4, (2, 2, 2)).modules())
        for shape in [(16, 15), (8, 8), (3, 3), (1, 9)]
    }
    assert pools == {(16, 15): 3, (8, 8): 3, (3, 3): 1, (1, 9): 0}


def test_projection_head_and_classifier_shapes():
    assert ProjectionHead(10, 7, hidden=9, seed=0)(torch.randn(5, 10)).shape == (5, 7)
    assert LinearClassifier(10, 4, seed=0)(torch.randn(5, 10)).shape == (5, 4)


# --------------------------------------------------------------------------- determinism
@pytest.mark.parametrize(
    "build",
    [
        lambda seed: MLPEncoder(9, 4, hidden=(8,), seed=seed),
        lambda seed: ConvEncoder((16, 15), 4, channels=(3, 5), seed=seed),
        lambda seed: ProjectionHead(6, 3, hidden=5, seed=seed),
        lambda seed: LinearClassifier(6, 3, seed=seed),
    ],
)
def test_same_seed_same_weights_whatever_the_global_state(build):
    torch.manual_seed(1)
    a = build(7)
    torch.manual_seed(2)
    b, c = build(7), build(8)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0, msg=name)
    weights = [
        (ma.weight, mc.weight)
        for ma, mc in zip(a.modules(), c.modules(), strict=True)
        if isinstance(ma, (nn.Linear, nn.Conv2d))
    ]
    assert weights and all(not torch.equal(wa, wc) for wa, wc in weights)


def test_seeded_outputs_are_reproducible():
    x = torch.randn(4, 28, 28)
    a = build_encoder("image", (28, 28), 8, seed=3).eval()
    b = build_encoder("image", (28, 28), 8, seed=3).eval()
    torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)


def test_init_parameters_matches_pytorch_default_scale():
    layer = init_parameters(nn.Linear(400, 300), seed=0).requires_grad_(False)
    bound = 1.0 / 400**0.5  # kaiming_uniform(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert float(layer.weight.abs().max()) <= bound
    assert float(layer.weight.abs().max()) > 0.99 * bound
    torch.testing.assert_close(layer.weight.std().item(), bound / 3**0.5, rtol=0.02, atol=0)
    assert float(layer.bias.abs().max()) <= bound


# --------------------------------------------------------------------------- registry
def test_registry_and_defaults():
    assert ENCODERS == {
        "mlp": MLPEncoder,
        "cnn": ConvEncoder,
        "spec_cnn": SpectrogramEncoder,
        "resnet18": ResNet18Encoder,
        "resnet34": ResNet34Encoder,
    }
    assert DEFAULT_ARCHITECTURE == {"vector": "mlp", "image": "cnn", "spectrogram": "spec_cnn"}
    assert isinstance(build_encoder("spectrogram", (32, 56), 8), SpectrogramEncoder)
    assert isinstance(build_encoder("vector", (64,), 8), MLPEncoder)
    assert isinstance(build_encoder("image", (16, 15), 8), ConvEncoder)
    assert isinstance(build_encoder("mlp", (16, 15), 8), MLPEncoder)  # images as vectors
    assert isinstance(build_encoder("cnn", (1, 8, 8), 8), ConvEncoder)


def test_build_encoder_passes_parameters():
    mlp = build_encoder("mlp", (10,), 3, hidden=(7,), dropout=0.2, batch_norm=False)
    assert [m.out_features for m in mlp.modules() if isinstance(m, nn.Linear)] == [7, 3]
    cnn = build_encoder("cnn", (8, 8), 3, channels=(5,))
    assert [m.out_channels for m in cnn.modules() if isinstance(m, nn.Conv2d)] == [5]


@pytest.mark.parametrize(
    "kind, shape, params, message",
    [
        ("audio", (10,), {}, r"unknown encoder kind 'audio'.*'cnn'.*'vector'"),
        ("vector", (0,), {}, "shape must be"),
        ("vector", (), {}, "shape must be"),
        ("vector", "ab", {}, "shape must be"),
        ("vector", (2.5,), {}, "shape must be"),
        ("image", (10,), {}, "image_shape"),
        ("cnn", (2, 8, 8), {}, "image_shape"),
        ("vector", (10,), {"channels": (3,)}, r"\['channels'\].*'mlp'.*'hidden'"),
        ("image", (8, 8), {"hidden": (3,)}, r"\['hidden'\].*'cnn'.*'channels'"),
        ("vector", (10,), {"dropout": 1.0}, "dropout"),
        ("vector", (10,), {"hidden": (4, 0)}, "hidden"),
        ("image", (8, 8), {"channels": ()}, "channels"),
    ],
)
def test_build_encoder_bad_arguments(kind, shape, params, message):
    with pytest.raises(ValueError, match=message):
        build_encoder(kind, shape, 4, **params)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "module, x, message",
    [
        (MLPEncoder(6, 2, hidden=(4,)), torch.randn(3, 5), r"shape \(n, 6\)"),
        (MLPEncoder(6, 2, hidden=(4,)), torch.randn(6), r"shape \(n, 6\)"),
        (MLPEncoder(6, 2, hidden=(4,)), torch.ones(3, 6, dtype=torch.long), "floating"),
        (MLPEncoder(6, 2, hidden=(4,)), torch.randn(1, 6), "batch norm"),
        (ConvEncoder((8, 8), 2), torch.randn(3, 8, 7), r"\(n, 8, 8\)"),
        (ConvEncoder((8, 8), 2), torch.randn(3, 3, 8, 8), r"\(n, 8, 8\)"),
        (ConvEncoder((8, 8), 2), torch.randn(64), r"\(n, 8, 8\)"),
        (ProjectionHead(5), torch.randn(3, 4), r"shape \(n, 5\)"),
        (LinearClassifier(5, 3), torch.randn(3, 4), r"shape \(n, 5\)"),
    ],
)
def test_bad_inputs_raise_value_error(module, x, message):
    with pytest.raises(ValueError, match=message):
        module(x)


def test_single_sample_works_in_eval_mode():
    encoder = MLPEncoder(6, 2, hidden=(4,)).eval()
    assert encoder(torch.randn(1, 6)).shape == (1, 2)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: MLPEncoder(0, 2), "in_dim"),
        (lambda: MLPEncoder(3, 2, hidden=8), "hidden"),
        (lambda: ConvEncoder((8,), 2), "image_shape"),
        (lambda: ConvEncoder((8, 8), 0), "out_dim"),
        (lambda: ProjectionHead(4, hidden=0), "hidden"),
        (lambda: LinearClassifier(4, 1), "n_classes"),
        (lambda: MLPEncoder(3, 2, seed=-1), "seed"),
    ],
)
def test_bad_constructor_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()


# --------------------------------------------------------------------------- devices
def test_select_device():
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("CPU") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device().type == expected and select_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_select_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        select_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_encoders_run_on_cuda():
    device = select_device("cuda")
    encoder = build_encoder("image", (16, 15), 8, seed=0).to(device)
    assert encoder(torch.randn(4, 16, 15, device=device)).device.type == "cuda"


@pytest.mark.parametrize("preference", ["gpu", "", None, 1])
def test_select_device_bad_preference(preference):
    with pytest.raises(ValueError, match=r"must be one of \['auto', 'cpu', 'cuda'\]"):
        select_device(preference)


def test_numpy_integer_shapes_and_sizes_are_accepted():
    mlp = build_encoder("vector", (np.int64(10),), np.int64(4), hidden=(np.int32(8),))
    assert mlp(torch.randn(3, 10)).shape == (3, 4)
    cnn = build_encoder("image", np.array([8, 7]).tolist(), 4, channels=(np.int64(3),))
    assert cnn(torch.randn(2, 8, 7)).shape == (2, 4)
    assert build_encoder("image", tuple(np.array([8, 7])), 4)(torch.randn(2, 8, 7)).shape == (2, 4)


# --------------------------------------------------------------------------- spectrogram CNN
@pytest.mark.parametrize("spec_shape", [(32, 56), (8, 1), (1, 7), (5, 3)])
@pytest.mark.parametrize("layout", ["nmt", "n1mt", "flat"])
def test_spectrogram_encoder_shapes_and_layouts(spec_shape, layout):
    m, t = spec_shape
    x = torch.randn(3, m, t)
    x = {"nmt": x, "n1mt": x[:, None], "flat": x.reshape(3, -1)}[layout]
    encoder = SpectrogramEncoder(spec_shape, 6, channels=(4, 5), seed=0)
    assert encoder(x).shape == (3, 6)
    convs = [c for c in encoder.modules() if isinstance(c, nn.Conv1d)]
    assert [c.in_channels for c in convs] == [m, 4] and [c.kernel_size for c in convs] == [
        (5,),
        (3,),
    ]


def test_spectrogram_encoder_is_seeded_and_differs_from_the_image_cnn():
    a = SpectrogramEncoder((32, 56), 8, seed=3)
    b = SpectrogramEncoder((32, 56), 8, seed=3)
    x = torch.randn(4, 32, 56)
    torch.testing.assert_close(a.eval()(x), b.eval()(x), rtol=0, atol=0)
    assert not any(isinstance(m, nn.Conv2d) for m in a.modules())


def test_spectrogram_encoder_bad_input():
    with pytest.raises(ValueError, match=r"\(n, 32, 56\)"):
        SpectrogramEncoder((32, 56), 8)(torch.randn(3, 56, 32))
    with pytest.raises(ValueError, match="spec_shape"):
        build_encoder("spec_cnn", (10,), 4)


# --------------------------------------------------------------------------- user encoders
def test_auto_gives_teacher_and_student_different_architectures():
    teacher = make_view_encoder("auto", "image", (8, 8), 16, key="model.source_arch")
    student = make_view_encoder("auto", "spectrogram", (32, 56), 16, key="model.target_arch")
    assert isinstance(teacher, ConvEncoder) and isinstance(student, SpectrogramEncoder)
    mlp = make_view_encoder("mlp", "image", (8, 8), 16, hidden=(7,))
    assert [m.out_features for m in mlp.modules() if isinstance(m, nn.Linear)] == [7, 16]


def test_user_factory_is_imported_built_and_checked():
    encoder = make_view_encoder("user_encoders:tiny", "spectrogram", (32, 56), 12)
    assert type(encoder).__name__ == "TinyEncoder" and encoder.training
    assert encoder(torch.randn(5, 32, 56)).shape == (5, 12)
    assert check_arch_name("user_encoders:TinyEncoder", "model.target_arch") == (
        "user_encoders:TinyEncoder"
    )
    assert make_view_encoder("user_encoders:TinyEncoder", "vector", (6,), 3)(
        torch.ones(2, 6)
    ).shape == (2, 3)


def test_check_encoder_leaves_batch_norm_statistics_and_mode_alone():
    encoder = MLPEncoder(6, 4, hidden=(5,), seed=0).train()
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    check_encoder(encoder, (6,), 4, "model.source_arch")
    assert encoder.training
    for k, v in encoder.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)


@pytest.mark.parametrize(
    "arch, message",
    [
        ("resnet", r"model.target_arch must be 'auto', one of \['cnn', 'mlp', 'resnet18', "),
        ("no_such_pkg.mod:f", r"model.target_arch: cannot import module 'no_such_pkg.mod'"),
        ("user_encoders:missing", r"model.target_arch: module 'user_encoders' has no attr"),
        ("user_encoders:NOT_CALLABLE", r"model.target_arch: .*is not callable"),
        ("user_encoders:crashes", r"model.target_arch: factory .* failed .*no GPU"),
        ("user_encoders:not_a_module", r"model.target_arch: the encoder must be a torch.nn.Module"),
        ("user_encoders:wrong_width", r"model.target_arch: .* to \(2, 9\), expected \(2, 8\)"),
        ("user_encoders:fails_forward", r"model.target_arch: the encoder fails on a dummy batch"),
    ],
)
def test_bad_user_encoders_name_the_key(arch, message):
    with pytest.raises(ValueError, match=message):
        make_view_encoder(arch, "vector", (6,), 8, key="model.target_arch")


def test_auto_for_an_unknown_kind_lists_the_kinds():
    with pytest.raises(ValueError, match=r"model.source_arch: no auto encoder.*'spectrogram'"):
        make_view_encoder("auto", "video", (3, 4), 8)


# --------------------------------------------------------------------------- pretrained teacher
def test_teacher_state_round_trip_and_cmcd_checkpoints(tmp_path):
    source = SpectrogramEncoder((8, 10), 4, seed=1)
    bare, ckpt = tmp_path / "bare.pt", tmp_path / "ckpt.pt"
    torch.save(source.state_dict(), bare)
    torch.save({"model": source.state_dict(), "history": torch.tensor([1.0])}, ckpt)
    x = torch.randn(3, 8, 10)
    for path in (bare, ckpt):
        loaded = load_teacher_state(path, SpectrogramEncoder((8, 10), 4, seed=2))
        torch.testing.assert_close(loaded.eval()(x), source.eval()(x), rtol=0, atol=0)


def test_teacher_of_another_architecture_names_the_file_and_keys(tmp_path):
    path = tmp_path / "mlp_teacher.pt"
    torch.save(MLPEncoder(64, 4, hidden=(8,)).state_dict(), path)
    with pytest.raises(
        ValueError,
        match=r"mlp_teacher.pt does not fit the ConvEncoder.*"
        r"missing keys \['features.0.bias'.*unexpected keys \['net.0.bias'",
    ):
        load_teacher_state(path, ConvEncoder((8, 8), 4))
    with pytest.raises(
        ValueError, match=r"shape mismatches \['net.0.weight: \(8, 64\) vs \(8, 6\)"
    ):
        load_teacher_state(path, MLPEncoder(6, 4, hidden=(8,)))


class _Payload:
    def __reduce__(self):
        return (print, ("pickled code ran",))


@pytest.mark.parametrize(
    "obj, message",
    [
        (MLPEncoder(6, 4), "refused; not a plain state-dict file"),
        ({"weight": _Payload()}, "refused; not a plain state-dict file"),
        ({"weight": "a string"}, "expected a state dict mapping names to tensors"),
    ],
)
def test_pickled_objects_are_refused(tmp_path, obj, message, capsys):
    path = tmp_path / "evil.pt"
    torch.save(obj, path)
    with pytest.raises(ValueError, match=message):
        load_teacher_state(path, MLPEncoder(6, 4))
    assert "pickled code ran" not in capsys.readouterr().out


def test_missing_teacher_file_and_content_hash(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_teacher_state(tmp_path / "nope.pt", MLPEncoder(6, 4))
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    torch.save(MLPEncoder(6, 4, seed=0).state_dict(), a)
    torch.save(MLPEncoder(6, 4, seed=1).state_dict(), b)
    assert file_sha256(a) != file_sha256(b) and len(file_sha256(a)) == 64
    (tmp_path / "c.pt").write_bytes(a.read_bytes())
    assert file_sha256(tmp_path / "c.pt") == file_sha256(a)


# --------------------------------------------------------------------------- torchvision
def _torchvision_fails(monkeypatch, error: Exception) -> None:
    import importlib

    real = importlib.import_module

    def fake(name: str, *args, **kwargs):
        if name.startswith("torchvision"):
            raise error
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", fake)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("operator torchvision::nms does not exist\nmore lines"),
        ModuleNotFoundError("No module named 'torchvision'"),
    ],
)
def test_resnet_without_torchvision_is_a_one_line_error_naming_the_key(monkeypatch, error):
    from cmcd.config import resolve_config

    _torchvision_fails(monkeypatch, error)
    first = str(error).splitlines()[0]
    calls = {
        "model.target_arch": lambda: make_view_encoder(
            "resnet18", "image", (28, 28), 8, key="model.target_arch"
        ),
        "model.source_arch": lambda: check_arch_name("resnet34", "model.source_arch"),
        "config key 'model.source_arch'": lambda: resolve_config(
            {"model": {"source_arch": "resnet18"}}
        ),
        "encoder 'resnet34'": lambda: build_encoder("resnet34", (28, 28), 8),
    }
    for key, call in calls.items():
        with pytest.raises(ValueError) as info:
            call()
        message = str(info.value)
        assert message.startswith(f"{key}: this encoder needs torchvision"), message
        assert "\n" not in message and first in message
        assert "pip install torch==2.14.1 torchvision==0.29.1" in message
        assert info.value.__cause__ is None and info.value.__suppress_context__


def _torchvision_or_skip() -> None:
    try:  # importorskip catches ImportError only: a mismatched build raises RuntimeError
        import torchvision  # noqa: F401
    except Exception as exc:
        pytest.skip(f"torchvision does not import here: {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("arch, blocks", [("resnet18", [2, 2, 2, 2]), ("resnet34", [3, 4, 6, 3])])
def test_resnet_encoders_keep_small_images_at_full_resolution_in_the_stem(arch, blocks):
    _torchvision_or_skip()
    encoder = make_view_encoder(arch, "image", (28, 28), 16, key="model.source_arch")
    net = encoder.net
    assert [len(getattr(net, f"layer{k}")) for k in range(1, 5)] == blocks
    assert (net.conv1.in_channels, net.conv1.kernel_size, net.conv1.stride) == (1, (3, 3), (1, 1))
    assert isinstance(net.maxpool, nn.Identity)
    shapes: dict[str, tuple[int, ...]] = {}

    def record(name: str):
        def hook(module, inputs, output) -> None:
            shapes[name] = tuple(output.shape)

        return hook

    for name in ("conv1", "layer1", "layer2", "layer4"):
        getattr(net, name).register_forward_hook(record(name))
    out = encoder.train()(torch.randn(5, 28, 28))
    assert out.shape == (5, 16)
    assert shapes["conv1"] == (5, 64, 28, 28) and shapes["layer1"] == (5, 64, 28, 28)
    assert shapes["layer2"] == (5, 128, 14, 14) and shapes["layer4"] == (5, 512, 4, 4)


def test_resnet_gradients_reach_every_layer_and_seeds_are_reproducible():
    _torchvision_or_skip()
    state = torch.random.get_rng_state()
    encoder = build_encoder("resnet18", (28, 28), 8, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global stream is untouched
    again = build_encoder("resnet18", (28, 28), 8, seed=3)
    other = build_encoder("resnet18", (28, 28), 8, seed=4)
    assert torch.equal(encoder.net.conv1.weight, again.net.conv1.weight)
    assert not torch.equal(encoder.net.conv1.weight, other.net.conv1.weight)
    loss = encoder(torch.randn(4, 1, 28, 28)).pow(2).sum()
    loss.backward()
    for name, param in encoder.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


def test_resnet_takes_spectrograms_and_refuses_vectors():
    _torchvision_or_skip()
    spec = make_view_encoder("resnet18", "spectrogram", (32, 56), 8, key="model.target_arch")
    assert spec.eval()(torch.randn(2, 32, 56)).shape == (2, 8)
    with pytest.raises(ValueError, match="image_shape must be"):
        build_encoder("resnet18", (64,), 8)
    with pytest.raises(ValueError, match="x must have shape"):
        spec(torch.randn(2, 32, 55))
