"""InceptionV1 family: Chen et al./IBM and Xie et al. zoo models, gating, input checks."""

import functools

import pytest
import torch
from stbench.models.gating import FeatureGating
from stbench.models.inception import BLOCKS, SLOTS, TRANSITIONS, heavy_ops
from stbench.zoo import create_model, get_spec, list_models
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

CHEN = list_models("*_inception_v1*")
XIE = list_models("xie_*")


def _meta(name: str, **kw) -> nn.Module:
    with torch.device("meta"):
        return create_model(name, **kw)


@functools.cache
def _zoo(name: str) -> nn.Module:
    """The zoo model with its spec defaults, on meta, built once per test session."""
    return _meta(name).eval()


def _conv_macs(model: nn.Module, frames: int, size: int = 224) -> int:
    x = torch.empty(1, 3, frames, size, size, device="meta")
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model(x)
    flops = counter.get_flop_counts()["Global"]
    return sum(v for k, v in flops.items() if "convolution" in str(k)) // 2


def _temporal_slots(model: nn.Module) -> dict[str, bool]:
    """Per stage, whether it holds a conv with temporal extent > 1 (read from the modules)."""
    out = {}
    for name, stage in model.features.named_children():
        convs = [m for m in stage.modules() if isinstance(m, nn.Conv3d)]
        out[name] = any(c.kernel_size[0] > 1 for c in convs)
    return out


def test_zoo_names_are_registered():
    assert len(CHEN) == 8
    assert {
        "tsn_inception_v1",
        "tam_inception_v1_tp",
        "i3d_inception_v1",
        "s3d_inception_v1_tp",
    } <= set(CHEN)
    fixed = {"xie_i3d", "xie_i2d", "xie_s3d", "xie_s3d_g", "xie_fast_s3d"}
    assert fixed <= set(XIE)
    assert len(XIE) == len(fixed) + 4 * len(TRANSITIONS)
    assert "xie_top_heavy_s3d_mixed_4b" in XIE and "xie_bottom_heavy_i3d_mixed_5c" in XIE


@pytest.mark.parametrize("name", ["tam_inception_v1_tp", "xie_s3d_g"])
def test_real_cpu_forward_at_tiny_input(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=5, frames=8).train()
    x = torch.randn(2, 3, 8, model.min_size, model.min_size)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 5) and torch.isfinite(y).all()
    assert not torch.allclose(y[0], y[1])


# IBM benchmark_mini.md (shared/data/ibm_benchmark_mini.md, IBM/action-recognition-pytorch),
# rows "<arch>-f8" / "<arch>-tp-f8" of Mini-SSV2 (87 classes) and Mini-Kinetics (200 classes).
IBM_F8 = {
    # name: (Params with 87 classes, Params with 200 classes, Flops at f8)
    "tsn_inception_v1": (5_689_079, 5_804_904, 11_978_817_536),
    "tsn_inception_v1_tp": (5_689_079, 5_804_904, 6_521_725_952),
    "tam_inception_v1": (5_706_503, 5_822_328, 12_047_006_720),
    "tam_inception_v1_tp": (5_706_503, 5_822_328, 6_570_863_936),
    "i3d_inception_v1": (12_376_439, 12_492_264, 33_573_614_592),
    "i3d_inception_v1_tp": (12_376_439, 12_492_264, 21_411_353_600),
    "s3d_inception_v1": (7_992_503, 8_108_328, 19_778_626_560),
    "s3d_inception_v1_tp": (7_992_503, 8_108_328, 12_264_670_208),
}


@pytest.mark.parametrize("name", sorted(IBM_F8))
def test_chen_params_and_conv_macs_equal_the_ibm_table(name):
    p87, p200, macs = IBM_F8[name]
    for classes, params in ((87, p87), (200, p200)):
        model = _meta(name, num_classes=classes, frames=8)
        assert sum(p.numel() for p in model.parameters()) == params
    assert _conv_macs(model, 8) == macs


def test_i3d_pool5_kernel_3_is_the_published_i3d_py():
    # IBM table, Mini-Kinetics "i3d-f64": Flops 270,452,654,080 (i3d.py as published);
    # the default 2x2x2 pool5 drops one frame before mixed_5b/5c.
    model = _meta("i3d_inception_v1", frames=64, pool5_kernel=3)
    assert _conv_macs(model, 64) == 270_452_654_080
    assert _conv_macs(_meta("i3d_inception_v1", frames=64), 64) < 270_452_654_080


# Xie et al. Table 2 (Kinetics-Full, 400 classes, 64 frames at 224x224) and Sec. 4.4: "FLOPS"
# are multiply-adds. Our conv MACs land within 5% (params do not; see zoo/specs_xie.py).
XIE_GFLOPS = {"xie_i3d": 107.89, "xie_s3d": 66.38, "xie_s3d_g": 71.38, "xie_fast_s3d": 43.47}


@pytest.mark.parametrize("name", sorted(XIE_GFLOPS))
def test_xie_macs_within_5_percent_of_the_papers_flops(name):
    macs = _conv_macs(_zoo(name), 64)
    assert abs(macs / 1e9 / XIE_GFLOPS[name] - 1) < 0.05


def test_tam_adds_one_module_per_stage():
    tam = _meta("tam_inception_v1")
    names = [n for n, _ in tam.features.named_children() if n.startswith("tam_")]
    assert names == ["tam_conv_1a", "tam_conv_2b", "tam_conv_2c"] + [f"tam_{b}" for b in BLOCKS]


@pytest.mark.parametrize("transition", ["mixed_3b", "mixed_4b", "mixed_5c"])
@pytest.mark.parametrize("family", ["i3d", "s3d"])
def test_top_and_bottom_heavy_split_at_the_transition(family, transition):
    cut = SLOTS.index(transition)
    top = _temporal_slots(_zoo(f"xie_top_heavy_{family}_{transition}"))
    bottom = _temporal_slots(_zoo(f"xie_bottom_heavy_{family}_{transition}"))
    top_3d = [s for s in SLOTS if top[s]]
    bottom_3d = [s for s in SLOTS if bottom[s]]
    assert top_3d == list(SLOTS[cut:])
    assert bottom_3d == list(SLOTS[:cut])
    assert len(top_3d) + len(bottom_3d) == len(SLOTS)
    assert top["conv_1a"] and bottom["conv_1a"]


def test_heavy_models_report_their_operators():
    model = _zoo("xie_top_heavy_s3d_mixed_4b")
    ops = model.block_ops()
    assert [ops[s] for s in SLOTS] == ["2d"] * 3 + ["sep3d"] * 7
    assert [o.name for o in heavy_ops("bottom", "mixed_4b", "3d")] == ["3d"] * 3 + ["2d"] * 7


def test_fast_s3d_is_top_heavy_s3d_at_mixed_5b():
    fast = _temporal_slots(_zoo("xie_fast_s3d"))
    assert [s for s in SLOTS if fast[s]] == ["mixed_5b", "mixed_5c"]


def test_i2d_has_no_temporal_conv_but_keeps_two_temporal_pools():
    model = _zoo("xie_i2d")
    assert not any(_temporal_slots(model).values())
    pools = [
        m
        for m in model.features.modules()
        if isinstance(m, nn.MaxPool3d) and isinstance(m.stride, tuple) and m.stride[0] == 2
    ]
    assert len(pools) == 2


def test_s3d_has_temporal_convs_on_all_four_branches():
    block = _zoo("xie_s3d").features.mixed_4b
    for branch in (block.branch1, block.branch2, block.branch3, block.branch4):
        assert any(
            isinstance(m, nn.Conv3d) and m.kernel_size == (3, 1, 1) for m in branch.modules()
        )


def test_s3d_g_gates_conv_2c_and_every_branch():
    gates = [m for m in _zoo("xie_s3d_g").modules() if isinstance(m, FeatureGating)]
    assert len(gates) == 1 + 4 * len(BLOCKS)
    assert not any(isinstance(m, FeatureGating) for m in _zoo("xie_s3d").modules())


def test_gating_preserves_shape_and_scales_each_channel():
    torch.manual_seed(0)
    gate = FeatureGating(6)
    x = torch.randn(2, 6, 3, 5, 5)
    y = gate(x)
    assert y.shape == x.shape
    ratio = y / x
    assert torch.allclose(ratio, ratio[:, :, :1, :1, :1].expand_as(ratio), atol=1e-5)
    assert ((ratio > 0) & (ratio < 1)).all()
    assert not torch.allclose(ratio[0], ratio[1])


def test_gating_rejects_wrong_channels():
    with pytest.raises(ValueError, match=r"x: got shape \(1, 4, 2, 3, 3\); allowed: \(B, 6"):
        FeatureGating(6)(torch.zeros(1, 4, 2, 3, 3))


# --- bad input -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tsn():
    return _meta("tsn_inception_v1", frames=8)


def test_wrong_rank_is_refused(tsn):
    with pytest.raises(ValueError, match=r"x: got a tensor of rank 4 .*allowed: rank 5"):
        tsn(torch.empty(1, 3, 224, 224, device="meta"))


def test_wrong_channel_count_is_refused(tsn):
    with pytest.raises(ValueError, match=r"x: got 1 channels .*allowed: 3"):
        tsn(torch.empty(1, 1, 8, 224, 224, device="meta"))


def test_frames_other_than_built_is_refused(tsn):
    with pytest.raises(ValueError, match=r"x: got T=16 frames .*allowed: T == frames == 8"):
        tsn(torch.empty(1, 3, 16, 224, 224, device="meta"))


@pytest.mark.parametrize("name", ["tsn_inception_v1_tp", "i3d_inception_v1", "xie_s3d"])
def test_smallest_spatial_size_works_and_one_less_is_refused(name):
    model = _meta(name, frames=8).eval()
    s = model.min_size
    with torch.inference_mode():
        assert model(torch.empty(1, 3, 8, s, s, device="meta")).shape[0] == 1
    with pytest.raises(
        ValueError, match=rf"x: got spatial size {s - 1}x{s - 1}; allowed: H and W >= {s}"
    ):
        model(torch.empty(1, 3, 8, s - 1, s - 1, device="meta"))


@pytest.mark.parametrize(
    "name, least", [("xie_i3d", 5), ("s3d_inception_v1_tp", 5), ("i3d_inception_v1", 2)]
)
def test_too_few_frames_for_the_temporal_striding_is_refused(name, least):
    with torch.inference_mode():
        model = _meta(name, frames=least)
        assert model(torch.empty(1, 3, least, 64, 64, device="meta")).shape == (
            1,
            model.head.fc.out_features,
        )
    with pytest.raises(ValueError, match=rf"frames: got {least - 1}; allowed: >= {least}"):
        _meta(name, frames=least - 1)


def test_unknown_transition_point_is_refused():
    with pytest.raises(
        ValueError, match=r"transition: got 'mixed_9z'; allowed: mixed_3b, .*mixed_5c"
    ):
        _meta("xie_top_heavy_s3d_mixed_4b", transition="mixed_9z")
    with pytest.raises(ValueError, match=r"transition: got None with heavy='top'; allowed"):
        _meta("xie_s3d", heavy="top")


@pytest.mark.parametrize(
    "name, kw, message",
    [
        (
            "tsn_inception_v1_tp",
            {"tp_pool": "median"},
            r"tp_pool: got 'median'; allowed: 'avg', 'max'",
        ),
        ("i3d_inception_v1", {"pool5_kernel": 4}, r"pool5_kernel: got 4; allowed: 2, 3"),
        ("xie_i3d", {"pool5_kernel": 3}, r"pool5_kernel: got 3; allowed: 2 for form 'xie'"),
        ("tsn_inception_v1", {"tp_pool": "avg"}, r"tp_pool: got 'avg'; allowed: 'max' for form"),
        ("xie_i3d", {"temporal_pool": True}, r"temporal_pool: got True; allowed: False"),
        ("xie_i3d", {"tp_pool": "avg"}, r"tp_pool: got 'avg'; allowed: 'max' for form 'xie'"),
        (
            "xie_i3d",
            {"stem_temporal_kernel": 4},
            r"temporal_kernel: got 4 for operator '3d' in conv_1a; allowed: a positive odd",
        ),
        ("xie_i3d", {"op": "4d"}, r"operator: got '4d' in conv_2c; allowed: 2d, 3d, gst, p3d"),
        ("xie_i3d", {"form": "tf"}, r"form: got 'tf'; allowed: 'chen2d', 'chen3d', 'xie'"),
        ("i3d_inception_v1", {"stem": "c3d"}, r"operator: got 'c3d' in conv_1a; allowed: 2d"),
        (
            "tsn_inception_v1",
            {"stem_temporal_kernel": 3},
            r"temporal_kernel: got 3 for operator "
            r"'2d' in conv_1a; allowed: the arguments of '2d': bias, groups",
        ),
        ("xie_i3d", {"stem": "2d"}, r"temporal_stride: got 2 for operator '2d' in conv_1a"),
        ("xie_s3d", {"alpha": 0.5}, r"alpha: got 0.5; allowed: an option of inception_v1 \("),
    ],
)
def test_bad_build_options_name_argument_value_and_allowed(name, kw, message):
    with pytest.raises(ValueError, match=message):
        _meta(name, **kw)


def test_tp_pool_avg_switches_the_temporal_pools():
    model = _meta("tsn_inception_v1_tp", tp_pool="avg")
    temporal = [m for m in model.modules() if isinstance(m, nn.AvgPool3d)]
    assert len(temporal) == 3 and all(m.stride == (2, 1, 1) for m in temporal)


# --- one operator vocabulary: separable convs are sep3d with options -----------------------


def test_separable_units_are_the_sep3d_operator_with_each_papers_options():
    chen = _zoo("s3d_inception_v1").features.mixed_4b.branch2[1].body
    xie = _zoo("xie_s3d").features.mixed_4b.branch2[1].body
    for body in (chen, xie):
        assert body[0].temporal.bias is not None  # IBM s3d.py and TF s3dg.py: a bias
        assert body[0].mid[0].eps == 1e-3
    assert isinstance(chen[1], nn.BatchNorm3d)  # IBM: BN after the temporal conv
    assert isinstance(xie[1], nn.Identity)  # TF: none (temporal_norm=False)
    # footnote 5: Xie's 1x1 branches are separable too, IBM's are 1x1x1 convs
    assert isinstance(_zoo("xie_s3d").features.mixed_4b.branch1.body[0].temporal, nn.Conv3d)
    assert isinstance(_zoo("s3d_inception_v1").features.mixed_4b.branch1.body[0], nn.Conv3d)


def test_checkpoints_with_the_old_separable_key_names_still_load():
    model = create_model("s3d_inception_v1", frames=8)
    state = model.state_dict()
    legacy = {}
    for key, value in state.items():
        unit = key.split("body.")[0]
        if f"{unit}body.0.spatial.weight" in state:  # a separable unit
            key = (
                key.replace("body.0.spatial.", "body.spatial.")
                .replace("body.0.mid.0.", "body.bn_s.")
                .replace("body.0.temporal.", "body.temporal.")
                .replace("body.1.", "body.bn_t.")
            )
        legacy[key] = value.clone()
    assert "features.mixed_3b.branch2.1.body.bn_t.running_var" in legacy
    fresh = create_model("s3d_inception_v1", frames=8)
    fresh.load_state_dict(legacy)
    assert all(
        torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), state.values(), strict=True)
    )


def test_any_registered_operator_fills_the_inception_slots():
    model = _meta("tsn_inception_v1", frames=4, op="gst", alpha=0.5).eval()
    assert model.block_ops()["mixed_4b"] == "gst"
    with torch.inference_mode():
        assert model(torch.empty(1, 3, 4, 64, 64, device="meta")).shape == (1, 200)


def test_derived_display_fields():
    assert get_spec("tam_inception_v1").operators == ("2d+tam",) * len(SLOTS)
    assert get_spec("tam_inception_v1").stem == "2d+tam"
    assert get_spec("xie_i2d").stem == "3d(temporal_kernel=1)"
    assert get_spec("xie_i3d").temporal_pool == (
        "temporal stride 2 in conv_1a; max pool k3 s2 in pool_4a; max pool k2 s2 in pool_5a"
    )
    assert get_spec("tsn_inception_v1_tp").temporal_pool == (
        "max pool k3 s2 in pool_3a, pool_4a, pool_5a"
    )
    assert get_spec("i3d_inception_v1").temporal_pool is None
    assert get_spec("xie_top_heavy_i3d_mixed_4c").transition == "mixed_4c"
