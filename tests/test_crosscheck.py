"""Counter cross-checks: like-with-like agreement and flags for every known blind spot."""

import pytest
import torch
from stbench.bench.config import COUNTERS, parse_counters
from stbench.bench.count.crosscheck import cross_check
from test_counting import FunctionalConv, SubConv3d
from torch import nn

pytest.importorskip("fvcore")
pytest.importorskip("ptflops")

SHAPE = (1, 3, 4, 6, 6)
CONV = 4 * 4 * 6 * 6 * 3 * 27  # Conv3d(3, 4, 3, padding=1) on SHAPE
FC = 4 * 5


def net(conv: type[nn.Module] = nn.Conv3d, bias: bool = False, extra: bool = False) -> nn.Module:
    layers = [conv(3, 4, 3, padding=1, bias=bias)]
    if extra:
        layers += [nn.BatchNorm3d(4), nn.ReLU(), nn.MaxPool3d(2)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 5, bias=bias))


def test_plain_model_all_counters_agree_without_disagreement_flags():
    results, flags = cross_check(net(), SHAPE, "all")
    assert set(results) == set(COUNTERS)
    for name, res in results.items():
        assert res.error is None, name
        assert res.macs == CONV + FC, name
    assert not [f for f in flags if "disagrees" in f]


def test_conv3d_subclass_is_flagged_for_ptflops_pytorch():
    results, flags = cross_check(
        net(SubConv3d), SHAPE, ["ptflops-pytorch", "ptflops-aten", "fvcore"]
    )
    assert results["meta"].macs == CONV + FC
    assert results["ptflops-pytorch"].macs == FC  # the subclass counted as zero
    assert results["ptflops-aten"].macs == results["fvcore"].macs == CONV + FC
    disagree = [f for f in flags if f.startswith("ptflops-pytorch disagrees")]
    assert len(disagree) == 1
    assert "'0' (SubConv3d)" in disagree[0] and f"0 vs {CONV:,}" in disagree[0]
    blind = [f for f in flags if "ptflops-pytorch blind spot" in f]
    assert blind == [
        f"ptflops-pytorch blind spot: '0' (SubConv3d, a subclass of nn.Conv3d) counted as zero "
        f"({CONV:,} MACs missed)"
    ]
    assert not [f for f in flags if f.startswith(("fvcore disagrees", "ptflops-aten disagrees"))]


def test_small_blind_spot_is_flagged_even_within_tolerance():
    # a strided 1x1x1 functional conv is < 1 % of the total yet must still be flagged
    model = nn.Sequential(
        nn.Conv3d(3, 4, 3, padding=1, bias=False), FunctionalConv((4, 4, 1, 1, 1), stride=2)
    )
    results, flags = cross_check(model, SHAPE, "ptflops-pytorch")
    small = 4 * 4 * 2 * 3 * 3  # stride 2 on (4, 6, 6)
    assert results["meta"].macs == CONV + small
    assert small < 0.01 * (CONV + small)
    assert not [f for f in flags if "disagrees" in f]
    assert any(
        "functional convolution in '1' (FunctionalConv)" in f and f"{small:,} MACs missed" in f
        for f in flags
    )


def test_fvcore_unsupported_ops_are_captured_and_flagged():
    results, flags = cross_check(net(extra=True), SHAPE, "fvcore")
    skipped = results["fvcore"].skipped
    assert "aten::max_pool3d" in skipped and "aten::adaptive_avg_pool3d" in skipped
    assert any(
        f.startswith("fvcore blind spot: unsupported operators") and "max_pool3d" in f
        for f in flags
    )
    assert any(f.startswith("fvcore blind spot: elementwise") for f in flags)
    assert results["fvcore"].macs == results["meta"].macs


def test_ptflops_aten_zero_ops_and_bias_are_flagged():
    results, flags = cross_check(net(bias=True, extra=True), SHAPE, "ptflops-aten")
    aten = results["ptflops-aten"]
    bias = 4 * 4 * 6 * 6 + 5  # one add per conv output element, one per FC output
    assert aten.bias_macs == bias
    assert aten.total == CONV + FC + bias
    assert aten.macs == CONV + FC
    assert any(
        f.startswith("ptflops-aten blind spot: treats as zero-ops") and "pool" in f for f in flags
    )
    assert f"ptflops-aten: adds {bias:,} bias additions into its MACs" in " ".join(flags)


def test_ptflops_pytorch_double_counting_is_flagged():
    _, flags = cross_check(net(extra=True), SHAPE, "ptflops-pytorch")
    assert any("counted twice" in f for f in flags)


def test_meta_model_is_cross_checked_on_a_real_copy():
    with torch.device("meta"):
        model = net()
    results, flags = cross_check(model, SHAPE, "fvcore")
    assert results["fvcore"].macs == CONV + FC
    assert next(model.parameters()).device.type == "meta"


def test_parse_counters():
    assert parse_counters("meta") == ("meta",)
    assert parse_counters("all") == COUNTERS
    assert parse_counters("fvcore,ptflops-aten") == ("meta", "fvcore", "ptflops-aten")
    assert parse_counters(("fvcore",)) == ("meta", "fvcore")
    with pytest.raises(ValueError, match="counters: unknown counter 'ptflops'; allowed: all, meta"):
        parse_counters("ptflops")


class TemporalMean(nn.Module):
    """Temporal average written as a reduction: no pooling module for ptflops to hook."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(2, keepdim=True)


def test_wider_scope_norm_agrees_in_training_mode_and_stats_are_untouched():
    model = net(extra=True).train()
    bn = model[1]
    results, flags = cross_check(model, SHAPE, ["fvcore", "ptflops-pytorch"])
    assert not [f for f in flags if "on norm ops" in f]  # both counted in inference mode
    affine_bn = 2 * 4 * 4 * 6 * 6  # 2 per element when affine, their convention
    assert results["fvcore"].by_category["norm"] == affine_bn
    assert results["ptflops-pytorch"].by_category["norm"] == affine_bn
    assert model.training and int(bn.num_batches_tracked) == 0


def test_wider_scope_pool_disagreement_names_the_module():
    model = nn.Sequential(nn.Conv3d(3, 4, 3, padding=1, bias=False), TemporalMean())
    _, flags = cross_check(model, SHAPE, "ptflops-pytorch")
    (flag,) = [f for f in flags if "on pool ops" in f]
    assert flag.startswith("ptflops-pytorch disagrees with meta by -100.00% on pool ops")
    assert flag.endswith(f"modules: '1' (TemporalMean): 0 vs {4 * 4 * 6 * 6:,}")
