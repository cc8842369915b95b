"""Counting conventions on hand-computable modules: MACs, FLOPs = 2 x MACs, params."""

import pytest
import torch
import torch.nn.functional as F
from stbench.bench.count.counting import static_count
from torch import nn


def conv_out(n: int, k: int, s: int = 1, p: int = 0) -> int:
    return (n + 2 * p - k) // s + 1


def test_single_conv2d():
    m = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
    sc = static_count(m, (2, 3, 11, 11))
    h = conv_out(11, 3, 2, 1)
    assert sc.conv_macs == 2 * 8 * h * h * 3 * 3 * 3
    assert sc.macs == sc.conv_macs and sc.linear_macs == 0
    assert sc.flops == 2 * sc.macs
    assert sc.params == 8 * 3 * 3 * 3


def test_single_conv3d_with_stride():
    m = nn.Conv3d(4, 6, (3, 3, 3), stride=(1, 2, 2), padding=(1, 1, 1), bias=False)
    sc = static_count(m, (1, 4, 5, 8, 8))
    t, h = conv_out(5, 3, 1, 1), conv_out(8, 3, 2, 1)
    assert (t, h) == (5, 4)
    assert sc.macs == 6 * t * h * h * 4 * 27
    assert sc.params == 6 * 4 * 27
    assert sc.output_shape == (1, 6, 5, 4, 4)


def test_grouped_conv3d():
    m = nn.Conv3d(8, 16, 3, groups=4, bias=False)
    sc = static_count(m, (1, 8, 4, 6, 6))
    out = 16 * 2 * 4 * 4
    assert sc.macs == out * (8 // 4) * 27
    assert sc.params == 16 * (8 // 4) * 27


def test_depthwise_conv2d():
    m = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
    sc = static_count(m, (1, 8, 7, 7))
    assert sc.macs == 8 * 7 * 7 * 9
    assert sc.params == 8 * 9


def test_linear_bias_is_a_param_not_a_mac():
    sc = static_count(nn.Linear(10, 7), (3, 10))
    assert sc.linear_macs == sc.macs == 3 * 10 * 7
    assert sc.conv_macs == 0
    assert sc.params == 10 * 7 + 7


def test_conv_bias_adds_params_only():
    with_bias = static_count(nn.Conv3d(2, 3, 1, bias=True), (1, 2, 2, 3, 3))
    without = static_count(nn.Conv3d(2, 3, 1, bias=False), (1, 2, 2, 3, 3))
    assert with_bias.macs == without.macs == 3 * 2 * 3 * 3 * 2
    assert with_bias.params == without.params + 3


def tiny_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv3d(3, 4, 3, padding=1, bias=False),
        nn.BatchNorm3d(4),
        nn.ReLU(),
        nn.MaxPool3d(2),
        nn.AdaptiveAvgPool3d(1),
        nn.Flatten(),
        nn.Linear(4, 5),
    )


def test_tiny_sequential_scopes_and_other_ops():
    sc = static_count(tiny_net(), (2, 3, 4, 6, 6), per_module=True)
    conv = 2 * 4 * 4 * 6 * 6 * 3 * 27
    linear = 2 * 4 * 5
    assert (sc.conv_macs, sc.linear_macs, sc.macs) == (conv, linear, conv + linear)
    assert sc.flops == 2 * (conv + linear)
    assert sc.params == 4 * 3 * 27 + 2 * 4 + 4 * 5 + 5
    act = 2 * 4 * 4 * 6 * 6
    assert sc.other["aten.relu"] == act
    assert sc.other_by_category["norm"] == act
    assert sc.other["aten.max_pool3d_with_indices"] == act
    assert sc.per_module == {"0": conv, "6": linear}
    assert sc.counter == "meta" and sc.scope == "conv+linear"
    assert sc.to_dict()["flops"] == sc.flops


def test_meta_and_cpu_agree_and_model_is_untouched():
    net = tiny_net()
    before = net[0].weight.detach().clone()
    meta = static_count(net, (1, 3, 4, 6, 6))
    cpu = static_count(net, (1, 3, 4, 6, 6), device="cpu")
    assert (meta.macs, meta.params, meta.other) == (cpu.macs, cpu.params, cpu.other)
    assert net[0].weight.device.type == "cpu" and torch.equal(net[0].weight, before)
    assert net.training  # mode restored


def test_model_built_on_meta_is_counted_without_real_tensors():
    with torch.device("meta"):
        net = tiny_net()
    assert static_count(net, (1, 3, 4, 6, 6)).macs == 4 * 4 * 6 * 6 * 3 * 27 + 4 * 5


class SubConv3d(nn.Conv3d):
    """A custom nn.Conv3d subclass (ptflops' pytorch backend matches exact types only)."""


class FunctionalConv(nn.Module):
    """F.conv3d on a parameter of `weight_shape` (no conv module), with `stride`."""

    def __init__(self, weight_shape: tuple[int, ...] = (5, 2, 1, 3, 3), stride: int = 1) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(*weight_shape))
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv3d(x, self.weight, stride=self.stride)


def test_subclass_and_functional_conv_are_counted():
    assert static_count(SubConv3d(2, 5, (1, 3, 3), bias=False), (1, 2, 3, 5, 5)).macs == (
        5 * 3 * 3 * 3 * 2 * 9
    )
    sc = static_count(FunctionalConv(), (1, 2, 3, 5, 5), per_module=True)
    assert sc.conv_macs == 5 * 3 * 3 * 3 * 2 * 9
    assert sc.per_module == {"": sc.conv_macs}


class NonLocalMatmul(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        f = x.reshape(b, c, t * h * w)
        return torch.bmm(f.transpose(1, 2), f)


def test_matmul_outside_linear_is_its_own_mac_category():
    sc = static_count(NonLocalMatmul(), (2, 4, 2, 3, 3))
    n = 2 * 3 * 3
    assert sc.macs == 0
    assert sc.matmul_macs == 2 * n * 4 * n
    assert sc.total_macs == sc.macs + sc.matmul_macs
    assert "aten.bmm" not in sc.other and "matmul" not in sc.other_by_category
    assert "aten.bmm" in sc.matmul_flag()


def test_attention_in_a_user_model_is_matmul_and_flagged():
    class Attn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv3d(3, 16, 1)
            self.attn = nn.MultiheadAttention(16, 2, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = self.conv(x).flatten(2).transpose(1, 2)
            return self.attn(f, f, f, need_weights=False)[0]

    sc = static_count(Attn(), (1, 3, 4, 8, 8))
    tokens, dim = 4 * 8 * 8, 16
    scores = 2 * tokens * tokens * dim  # q @ k^T and attn @ v, over the heads
    # nn.MultiheadAttention runs its packed q/k/v and output projections as functional
    # matrix products inside itself, not through an nn.Linear module: matmul too.
    projections = tokens * dim * 3 * dim + tokens * dim * dim
    assert sc.matmul_macs == scores + projections
    assert sc.linear_macs == 0 and sc.matmul_flag() is not None
    assert set(sc.other_by_category) <= {"pool", "norm", "elementwise"}


def test_no_matmul_no_flag():
    sc = static_count(nn.Conv3d(3, 4, 1), (1, 3, 2, 4, 4))
    assert sc.matmul_macs == 0 and sc.total_macs == sc.macs and sc.matmul_flag() is None


def test_impossible_shape_names_input_shape():
    with pytest.raises(
        ValueError, match=r"input_shape: Conv3d cannot run on input_shape \(1, 2, 1, 2, 2\)"
    ):
        static_count(nn.Conv3d(2, 2, 3), (1, 2, 1, 2, 2))


@pytest.mark.parametrize("shape", [(1, 3, 0, 4, 4), (1,), "abc", (1, 3, 2.0, 4, 4), 5])
def test_bad_input_shape(shape):
    with pytest.raises(ValueError, match="input_shape"):
        static_count(nn.Conv3d(3, 2, 1), shape)


def test_zoo_model_on_meta():
    from stbench import zoo

    names = zoo.list_models("tsn_resnet18")
    if not names:
        pytest.skip("zoo model tsn_resnet18 not registered")
    with torch.device("meta"):
        model = zoo.create_model("tsn_resnet18", frames=8)
    spec = zoo.get_spec("tsn_resnet18")
    sc = static_count(model, (1, 3, 8, 224, 224))
    assert sc.macs == sc.conv_macs + sc.linear_macs > 0
    assert sc.output_shape == (1, spec.default_classes)
    # ResNet-18 per frame: ~1.8 GMACs at 224 (He et al.), 8 frames folded into the batch
    assert 8 * 1.7e9 < sc.conv_macs < 8 * 1.9e9


class DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(2, 3, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y * (1.0 if float(y.sum().item()) >= 0 else -1.0)


def test_data_dependent_forward_falls_back_to_cpu():
    sc = static_count(DataDependent(), (1, 2, 2, 3, 3))
    assert sc.macs == 3 * 2 * 3 * 3 * 2
    assert sc.counter_version.endswith("(meta unsupported: counted on cpu)")
