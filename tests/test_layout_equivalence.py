"""The fast formulations (frame folding, one-kernel TAM/TSM/tavg/tmax) compute what the slow
references in ``slow_reference.py`` compute, for the same weights, in float64."""

from __future__ import annotations

import copy

import pytest
import torch
from slow_reference import reference_forward, reference_module, with_references
from stbench.models.layout import fold, frame_wise, unfold
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
