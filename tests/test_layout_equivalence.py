"""The fast formulations (frame folding, one-kernel TAM/TSM/tavg/tmax, shifted TAM and max
pools) compute what the slow references in ``slow_reference.py`` and the reference kernels
compute, for the same weights, in float64."""

from __future__ import annotations

import copy
import dataclasses
from types import SimpleNamespace

import pytest
import torch
from slow_reference import reference_forward, reference_module, with_references
from stbench.bench.count.counting import static_count
from stbench.models.formulations import (
    REFERENCE,
    SHIFTED,
    forced,
    formulation,
    formulation_for,
    shifted,
)
from stbench.models.layout import fold, frame_wise, unfold
from stbench.models.pooling import Pool, SeparableMaxPool3d
from stbench.models.temporal import make_temporal
from stbench.zoo import create_model, get_spec
from torch import nn

FRAMES, BATCH = 4, 2


def _random_state(model: nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            r = torch.rand(t.shape, generator=g, dtype=t.dtype)
            if name.endswith("running_var"):
                t.copy_(0.5 + r)
            elif t.dim() <= 1:
                t.copy_(0.5 + r if name.endswith("weight") else r - 0.5)
            else:
                t.copy_((r - 0.5) * (12.0 / t[0].numel()) ** 0.5)


# (the 3-D pools of tavg/tmax refuse T < 3 in both formulations)
CASES = [
    (n, t)
    for n in ("tam", "tsm", "tavg", "tmax")
    for t in (1, 2, 3, 5)
    if t > 2 or n in ("tam", "tsm")
]


@pytest.mark.parametrize(("name", "frames"), CASES)
def test_temporal_module_matches_its_reference_on_both_layouts(name, frames):
    module = make_temporal(name, 16, frames).double()
    _random_state(module)
    ref = reference_module(module)
    x = torch.randn(BATCH, 16, frames, 3, 5, dtype=torch.float64)
    want = ref(x)
    torch.testing.assert_close(module(x), want)
    assert frame_wise(module)
    torch.testing.assert_close(unfold(module(fold(x)), BATCH), want)


def test_fold_and_unfold_are_inverse_and_unfold_is_a_view():
    x = torch.randn(BATCH, 3, FRAMES, 4, 5)
    folded = fold(x)
    assert folded.shape == (BATCH * FRAMES, 3, 1, 4, 5)
    torch.testing.assert_close(folded[1 * FRAMES + 2, :, 0], x[1, :, 2])
    back = unfold(folded, BATCH)
    assert back.data_ptr() == folded.data_ptr() and torch.equal(back, x)
    channels_last = x.contiguous(memory_format=torch.channels_last_3d)
    assert fold(channels_last).data_ptr() == channels_last.data_ptr()  # a view, no copy


def test_a_module_that_mixes_frames_is_not_frame_wise():
    assert not frame_wise(nn.Conv3d(2, 2, (3, 1, 1)))
    assert not frame_wise(nn.MaxPool3d((3, 1, 1), (2, 1, 1), (1, 0, 0)))
    assert not frame_wise(make_temporal("nonlocal", 4))
    assert not frame_wise(make_temporal("tam", 4))  # no frame count given: cannot fold
    assert frame_wise(nn.Sequential(nn.Conv3d(2, 2, (1, 3, 3)), nn.BatchNorm3d(2), nn.ReLU()))


MODELS = [
    "tsn_resnet18",
    "tsn_resnet18_tp",
    "tam_resnet18",
    "tam_resnet18_tp",
    "tsn_resnet18_tavg",
    "tsn_resnet18_tmax",
    "tsm_resnet50",
    "nln_resnet50",
    "r2d_resnet18",
    "mc3_resnet18",
    "rmc3_resnet18",
    "i3d_resnet18",
    "s3d_resnet18",
    "gst_a1_4_resnet18",
    "tsn_inception_v1",
    "tam_inception_v1_tp",
    "xie_top_heavy_s3d_mixed_4b",
    "xie_bottom_heavy_i3d_mixed_4b",
    "slowfast_resnet50_8x8",
]


@pytest.mark.parametrize("name", MODELS)
def test_zoo_model_matches_the_unfolded_reference(name):
    frames = min(get_spec(name).default_frames, 8)
    model = create_model(name, num_classes=5, frames=frames).double().eval()
    _random_state(model)
    size = max(getattr(model, "min_size", 32), 32)
    x = torch.randn(BATCH, 3, frames, size, size, dtype=torch.float64)
    reference = with_references(copy.deepcopy(model))
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference_forward(reference, x))


# ------------------------------------------- shifted formulations against today's kernels


@pytest.mark.parametrize("frames", [1, 2, 3, 8])
def test_shifted_tam_equals_the_depthwise_conv_on_both_layouts(frames):
    module = make_temporal("tam", 16, frames).double()
    _random_state(module, seed=frames)
    x = torch.randn(BATCH, 16, frames, 3, 5, dtype=torch.float64)
    with forced(REFERENCE):
        want, want_folded = module(x), module(fold(x))
    assert shifted(x, "tam")
    torch.testing.assert_close(module(x), want)
    torch.testing.assert_close(module(fold(x)), want_folded)
    layout = x.contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(module(fold(layout)), want_folded)


def test_shifted_tam_gradients_equal_the_depthwise_conv():
    module = make_temporal("tam", 8, 4).double()
    _random_state(module)
    x = torch.randn(BATCH * 4, 8, 1, 3, 3, dtype=torch.float64)
    grads = []
    for name in (REFERENCE, SHIFTED):
        module.zero_grad()
        xi = x.clone().requires_grad_()
        with forced(name):
            module(xi).square().sum().backward()
        grads.append([xi.grad, *(p.grad for p in module.parameters())])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b)


def test_shifted_tam_computes_in_the_autocast_dtype_like_the_conv():
    module = make_temporal("tam", 8, 4)
    x = fold(torch.randn(1, 8, 4, 3, 3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with forced(REFERENCE):
            want = module(x)
        got = module(x)
    assert got.dtype == want.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), want.float(), rtol=2e-2, atol=2e-2)


S1 = (1, 1, 1)
POOLS = [
    (Pool((1, 3, 3), S1, (0, 1, 1)), (BATCH * 4, 8, 1, 7, 6)),  # Inception branch, folded
    (Pool((3, 3, 3), S1, (1, 1, 1)), (BATCH, 8, 4, 5, 7)),  # 3-D Inception branch
    (Pool((3, 3, 3), S1, (1, 1, 1)), (1, 4, 1, 2, 1)),
    (Pool((1, 3, 3), S1, (0, 1, 1)), (3, 4, 1, 1, 2)),
    (Pool((3, 1, 1), S1, (1, 0, 0)), (1, 4, 2, 3, 3)),  # tmax at T = 2
    (Pool((1, 3, 3), (1, 2, 2), (0, 0, 0), True), (4, 3, 1, 7, 8)),  # chen2d pool_2a (ceil)
    (Pool((1, 2, 2), (1, 2, 2), (0, 0, 0), True), (4, 3, 1, 7, 5)),  # chen2d pool_5a
    (Pool((3, 3, 3), (2, 2, 2), (1, 1, 1)), (1, 3, 5, 7, 6)),  # chen3d/xie pool_4a
    (Pool((2, 2, 2), (2, 2, 2)), (1, 3, 5, 7, 6)),  # pool_5a
    (Pool((1, 3, 3), (1, 2, 2), (0, 1, 1)), (4, 3, 1, 9, 8)),  # ResNet stem
]


@pytest.mark.parametrize(("spec", "shape"), POOLS)
def test_separable_max_pool_equals_the_indexed_pool(spec, shape):
    pool = dataclasses.replace(spec, mode="max").make()
    assert isinstance(pool, SeparableMaxPool3d)
    x = torch.randn(shape, dtype=torch.float64).relu()  # ties, as after a ReLU
    x.view(-1)[3] = float("nan")
    x.view(-1)[7] = float("-inf")
    with forced(REFERENCE):
        want = pool(x)
    got = pool(x)
    assert torch.equal(got.isnan(), want.isnan())
    assert torch.equal(got.nan_to_num(), want.nan_to_num())


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
@pytest.mark.parametrize("layout", ["channels_last_3d", "strided"])
def test_separable_max_pool_on_other_layouts_and_dtypes(layout, dtype):
    """Not contiguous (the pool's strided views, not max_pool1d's rows), or bfloat16."""
    x = torch.randn(2, 3, 4, 9, 16, dtype=torch.float64).relu().to(dtype)
    x.view(-1)[5] = float("nan")
    if layout == "channels_last_3d":
        x = x.contiguous(memory_format=torch.channels_last_3d)
    else:
        x = x[..., ::2]
    for spec in (Pool((1, 3, 3), (1, 2, 2), ceil_mode=True), Pool((3, 3, 3), S1, (1, 1, 1))):
        pool = dataclasses.replace(spec, mode="max").make()
        with forced(REFERENCE):
            want = pool(x)
        got = pool(x)
        assert got.dtype == want.dtype and torch.equal(got.isnan(), want.isnan())
        assert torch.equal(got.nan_to_num(), want.nan_to_num())


def test_separable_max_pool_keeps_the_pools_gradient():
    pool = Pool((1, 3, 3), (1, 1, 1), (0, 1, 1), mode="max").make()
    x = torch.randn(2, 3, 1, 5, 5, dtype=torch.float64).relu()
    grads = []
    for name in (REFERENCE, SHIFTED):
        xi = x.clone().requires_grad_()
        with forced(name):
            pool(xi).sum().backward()
        grads.append(xi.grad)
    assert torch.equal(*grads)


def test_the_device_table_chooses_one_formulation_per_device_and_operator():
    assert formulation_for("cpu", "tam") == formulation_for("cpu", "max_pool") == SHIFTED
    assert formulation_for("cuda", "tam") == formulation_for("cuda", "max_pool") == REFERENCE
    assert formulation_for("meta", "tam") == REFERENCE
    assert formulation(torch.empty(1, device="meta"), "max_pool") == REFERENCE
    cpu, meta = torch.empty(1), torch.empty(1, device="meta")
    with forced(REFERENCE):
        assert not shifted(cpu, "tam") and not shifted(cpu, "max_pool")
        with forced(SHIFTED, "tam"):
            assert shifted(meta, "tam") and not shifted(meta, "max_pool")
    assert shifted(cpu, "tam")
    with pytest.raises(ValueError, match="formulation"), forced("fast"):
        pass
    with pytest.raises(ValueError, match="operator"):
        formulation_for("cpu", "conv")


def test_a_cuda_tensor_runs_what_the_table_says(monkeypatch):
    from stbench.models import formulations

    monkeypatch.setitem(formulations.BY_DEVICE, "cuda", {"tam": SHIFTED, "max_pool": REFERENCE})
    cuda = SimpleNamespace(device=torch.device("cuda"))  # what the table reads of a tensor
    assert shifted(cuda, "tam") and not shifted(cuda, "max_pool")


@pytest.mark.parametrize("name", ["tam_resnet18", "tam_inception_v1", "i3d_inception_v1"])
def test_zoo_models_count_the_same_macs_on_cpu_and_meta(name):
    model = create_model(name, frames=4).eval()
    shape = (1, 3, 4, 64, 64)
    assert static_count(model, shape, device="cpu").macs == static_count(model, shape).macs
