"""ResNet-family building blocks: operators, temporal modules, skeleton, input errors."""

from __future__ import annotations

import pytest
import torch
from stbench.models.convs import r2plus1d_mid_channels
from stbench.models.operators import get_operator, make_operator, op
from stbench.models.pooling import temporal_pool
from stbench.models.resnet import temporal_positions, video_resnet
from stbench.models.slowfast import slowfast
from stbench.models.temporal import NonLocalBlock, make_temporal
from stbench.models.validation import check_input
from stbench.zoo import create_model, get_spec
from torch.utils.flop_counter import FlopCounterMode

IBM = "shared/data/ibm_benchmark_mini.md (IBM/action-recognition-pytorch benchmark_mini.md)"


def _n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _params_and_conv_macs(name: str, shape: tuple[int, ...], **kw) -> tuple[int, int]:
    with torch.device("meta"):
        model = create_model(name, **kw).eval()
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(torch.empty(shape, device="meta"))
    flops = sum(v for k, v in fc.get_flop_counts()["Global"].items() if "convolution" in str(k))
    return _n_params(model), flops // 2


# --- R(2+1)D: the M_i rule (Tran et al. Sec. 3.5) -------------------------------------------


def test_mid_channels_rule_by_hand():
    # 3*9*64*64 / (9*64 + 3*64) = 110592 / 768 = 144 exactly
    assert r2plus1d_mid_channels(64, 64) == 144
    # 3*9*64*128 / (9*64 + 3*128) = 221184 / 960 = 230.4 -> floor 230
    assert r2plus1d_mid_channels(64, 128) == 230


def test_r2plus1d_matches_3d_parameter_count():
    op = make_operator("r2plus1d", 64, 128)
    conv_weights = op.spatial.weight.numel() + op.temporal.weight.numel()
    assert op.spatial.out_channels == 230
    full = make_operator("3d", 64, 128).weight.numel()
    assert abs(conv_weights - full) / full < 0.01


def test_r2plus1d_stem_uses_45_spatial_filters():
    model = create_model("r2plus1d_resnet18")
    stem_op = model.stem[0]
    assert stem_op.spatial.weight.shape == (45, 3, 1, 7, 7)
    assert stem_op.temporal.weight.shape == (64, 45, 3, 1, 1)


# --- operators --------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["sep3d", "p3d", "r2plus1d", "3d"])
def test_factorised_operators_stride_in_space_and_time(op):
    m = make_operator(op, 4, 6, stride=2, temporal_stride=2)
    assert m(torch.zeros(1, 4, 8, 8, 8)).shape == (1, 6, 4, 4, 4)


def test_sep3d_has_bn_between_and_p3d_has_not():
    assert isinstance(make_operator("sep3d", 4, 4).mid[0], torch.nn.BatchNorm3d)
    assert isinstance(make_operator("p3d", 4, 4).mid, torch.nn.Identity)


def test_gst_channel_split_beta_half():
    op = make_operator("gst", 8, 8, alpha=0.25, beta=0.5)
    assert op.spatial.weight.shape == (6, 4, 1, 3, 3)
    assert op.temporal.weight.shape == (2, 4, 3, 3, 3)
    x = torch.randn(1, 8, 4, 6, 6)
    y = op(x)
    x2 = x.clone()
    x2[:, 4:] += 1.0  # only the temporal half of the input changes
    y2 = op(x2)
    assert torch.equal(y[:, :6], y2[:, :6])
    assert not torch.allclose(y[:, 6:], y2[:, 6:])


def test_gst_large_reads_all_inputs_in_both_paths():
    op = make_operator("gst", 8, 8, alpha=0.25, beta=1)
    assert op.spatial.weight.shape == (6, 8, 1, 3, 3)
    assert op.temporal.weight.shape == (2, 8, 3, 3, 3)


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"alpha": 0.0}, r"alpha: got 0.0 for operator 'gst'; allowed: a fraction 0 < alpha < 1"),
        ({"alpha": 1.5}, r"alpha: got 1.5 for operator 'gst'; allowed"),
        ({"alpha": 1 / 3}, r"alpha: got 0.333.*allowed: .*alpha \* out_channels \(64\)"),
        ({"beta": 0.3}, r"beta: got 0.3 for operator 'gst'; allowed: 1 \(GST-Large\) or 1/2"),
    ],
)
def test_gst_rejects_bad_alpha_beta(kw, msg):
    with pytest.raises(ValueError, match=msg):
        make_operator("gst", 64, 64, **kw)


def test_gst_rejects_odd_split_and_temporal_stride():
    with pytest.raises(ValueError, match=r"beta: got 0.5 with 7 input channels"):
        make_operator("gst", 7, 8, alpha=0.5, beta=0.5)
    with pytest.raises(
        ValueError, match=r"temporal_stride: got 2 for operator 'gst'; allowed: 1 \(no temporal"
    ):
        make_operator("gst", 8, 8, temporal_stride=2)


def test_groups_must_divide_channels():
    with pytest.raises(
        ValueError, match=r"groups: got 3 for operator '3d'; allowed: a positive divisor"
    ):
        make_operator("3d", 64, 64, groups=3)
    with pytest.raises(ValueError, match=r"groups: got 3 for operator '3d' in stage 1; allowed"):
        create_model("c3d_g2_resnet18", groups=3)


# --- temporal modules -------------------------------------------------------------------------


def test_tam_blends_previous_current_next_frames():
    tam = make_temporal("tam", 2)
    with torch.no_grad():
        tam.prev.weight.fill_(1.0)
        tam.curr.weight.fill_(0.0)
        tam.next.weight.fill_(0.0)
    x = torch.arange(1.0, 5.0).reshape(1, 1, 4, 1, 1).repeat(1, 2, 1, 1, 1)
    y = tam(x)
    assert y[0, 0, :, 0, 0].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert _n_params(tam) == 3 * 2


def test_tsm_shifts_one_eighth_each_way():
    tsm = make_temporal("tsm", 16)
    x = torch.arange(4.0).reshape(1, 1, 4, 1, 1).repeat(1, 16, 1, 1, 1)
    y = tsm(x)[0, :, :, 0, 0]
    assert y[0].tolist() == [1.0, 2.0, 3.0, 0.0]  # channels 0-1: from the next frame
    assert y[2].tolist() == [0.0, 0.0, 1.0, 2.0]  # channels 2-3: from the previous frame
    assert y[4].tolist() == [0.0, 1.0, 2.0, 3.0]  # the rest untouched


def test_temporal_avg_max_aggregation_keep_t():
    x = torch.tensor([1.0, 5.0, 2.0, 0.0]).reshape(1, 1, 4, 1, 1)
    assert make_temporal("tmax", 1)(x).flatten().tolist() == [5.0, 5.0, 5.0, 2.0]
    avg = make_temporal("tavg", 1)(x).flatten()
    assert torch.allclose(avg, torch.tensor([3.0, 8 / 3, 7 / 3, 1.0]))


def test_unknown_temporal_module():
    with pytest.raises(ValueError, match=r"temporal: got 'x'; allowed: nonlocal, tam, tavg"):
        make_temporal("x", 4)


def test_temporal_pool_halves_t_and_rejects_unknown_mode():
    assert temporal_pool().make("max")(torch.zeros(1, 2, 8, 3, 3)).shape[2] == 4
    with pytest.raises(ValueError, match=r"tp_pool: got 'median'; allowed: 'avg', 'max'"):
        temporal_pool().make("median")


def test_nonlocal_positions_and_count():
    assert temporal_positions(4, 3, "stage 2") == [1, 2, 3]
    assert temporal_positions(6, 2, "stage 3") == [3, 5]
    assert temporal_positions(6, 3, "stage 3") == [1, 3, 5]
    with pytest.raises(ValueError, match=r"temporal_blocks: got 5; allowed: 0 to 4, the blocks"):
        temporal_positions(4, 5, "stage 2")
    with torch.device("meta"):
        model = create_model("nln_resnet50")
    per_stage = [sum(isinstance(m, NonLocalBlock) for m in s) for s in model.stages]
    assert per_stage == [0, 3, 2, 0]


def test_nonlocal_block_starts_as_identity():
    nl = NonLocalBlock(8).eval()
    x = torch.randn(1, 8, 2, 4, 4)
    assert torch.allclose(nl(x), x)


# --- input validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "msg"),
    [
        ((3, 8, 32, 32), r"x: got a tensor of rank 4 .* allowed: rank 5"),
        ((1, 1, 8, 32, 32), r"x: got 1 channels .* allowed: 3"),
        ((1, 3, 4, 32, 32), r"x: got T=4 frames .* allowed: T == frames == 8"),
        ((1, 3, 8, 16, 40), r"x: got spatial size 16x40; allowed: H and W >= 32"),
    ],
)
def test_forward_rejects_bad_input(shape, msg):
    with torch.device("meta"):
        model = create_model("tsn_resnet18")
    with pytest.raises(ValueError, match=msg):
        model(torch.empty(shape, device="meta"))


def test_check_input_names_the_argument():
    with pytest.raises(ValueError, match=r"^clip: got 4 channels"):
        check_input(torch.empty(1, 4, 2, 8, 8), 2, 8, "clip")


@pytest.mark.parametrize(
    ("name", "frames", "msg"),
    [
        ("tsn_resnet18_tp", 4, r"frames: got 4; allowed: >= 8 \(the model halves T 3 times\)"),
        ("i3d_resnet50_tp", 2, r"frames: got 2; allowed: >= 8"),
        ("r3d_resnet18", 4, r"frames: got 4; allowed: >= 8"),
        ("slowfast_resnet50_8x8", 30, r"frames: got 30; allowed: a multiple of 4"),
    ],
)
def test_too_few_frames(name, frames, msg):
    with pytest.raises(ValueError, match=msg), torch.device("meta"):
        create_model(name, frames=frames)


def test_tp_pool_only_where_pooling_exists():
    with torch.device("meta"):
        create_model("tsn_resnet18_tp", tp_pool="avg")
    with pytest.raises(ValueError, match=r"tp_pool: got 'avg'; allowed: only for models with"):
        create_model("i3d_resnet18_tp", tp_pool="avg")


@pytest.mark.parametrize(
    ("name", "kw", "takers"),
    [
        ("c3d_resnet18", {"alpha": 0.5}, "3d: bias, groups, temporal_kernel"),
        ("p3d_resnet18", {"groups": 2}, "p3d: temporal_kernel"),
    ],
)
def test_operator_argument_no_stage_takes_is_an_error(name, kw, takers):
    ((arg, value),) = kw.items()
    with pytest.raises(ValueError) as err:
        create_model(name, **kw)
    assert str(err.value).startswith(f"{arg}: got {value}; allowed: an option of video_resnet (")
    assert str(err.value).endswith(f"or an argument of its operators ({takers})")


def test_gst_model_rejects_bad_alpha():
    with pytest.raises(ValueError, match=r"alpha: got 2"):
        create_model("gst_a1_4_resnet18", alpha=2)


# --- real CPU forwards at tiny inputs ---------------------------------------------------------

CPU_SAMPLE = [
    ("tam_resnet18_tp", 8, 32),
    ("i3d_resnet18_tp", 8, 32),
    ("s3d_resnet18", 4, 32),
    ("tsm_resnet50", 2, 32),
    ("nln_resnet50", 2, 32),
    ("r2d_resnet18", 4, 16),
    ("r2plus1d_resnet18", 8, 16),
    ("rmc3_resnet18", 8, 16),
    ("gst_a1_4_resnet18", 4, 32),
    ("p3d_resnet18", 4, 32),
    ("slowfast_resnet50_8x8", 8, 32),
]


@pytest.mark.parametrize(("name", "frames", "size"), CPU_SAMPLE)
def test_cpu_forward_tiny(name, frames, size):
    torch.manual_seed(0)
    model = create_model(name, num_classes=5, frames=frames).eval()
    with torch.no_grad():
        y = model(torch.randn(2, 3, frames, size, size))
    assert y.shape == (2, 5)
    assert torch.isfinite(y).all()


def test_tsn_ignores_frame_order_but_tam_does_not():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 4, 32, 32)
    perm = x[:, :, [2, 0, 3, 1]]
    with torch.no_grad():
        tsn = create_model("tsn_resnet18", frames=4).eval()
        assert torch.allclose(tsn(x), tsn(perm), atol=1e-5)
        tam = create_model("tam_resnet18", frames=4).eval()
        for m in tam.modules():
            if isinstance(m, torch.nn.Conv3d) and m.groups > 1:
                torch.nn.init.uniform_(m.weight, 0.5, 1.5)
        assert not torch.allclose(tam(x), tam(perm), atol=1e-5)


# --- published counts (spot checks; the full table lives in zoo/targets.csv) -----------------


@pytest.mark.parametrize(
    ("name", "frames", "classes", "params", "macs"),
    [
        # IBM benchmark_mini.md, Mini-SSV2, row mini_st2stv2-TAM-b3-sum-resnet-18-tp-max-f8
        ("tam_resnet18_tp", 8, 87, 11_225_559, 7_535_155_712),
        # IBM benchmark_mini.md, Mini-Kinetics, row mini_kinetics400-s3d-resnet-50-f8
        ("s3d_resnet50", 8, 200, 27_716_616, 39_517_814_784),
        # IBM benchmark_mini.md, Mini-Kinetics, row mini_kinetics400-i3d-resnet-18-tp-max-f16
        ("i3d_resnet18_tp", 16, 200, 33_268_872, 44_944_850_944),
    ],
)
def test_ibm_rows_exact(name, frames, classes, params, macs):
    got = _params_and_conv_macs(name, (1, 3, frames, 224, 224), num_classes=classes, frames=frames)
    assert got == (params, macs), IBM


def test_slowfast_r50_table6_flops():
    # papers/000_2720627b97b46dad.txt Table 6, SlowFast-ResNet50-8x8: 65.7G at 32 x 256 x 256
    _, macs = _params_and_conv_macs("slowfast_resnet50_8x8", (1, 3, 32, 256, 256))
    assert abs(macs / 1e9 - 65.7) / 65.7 < 0.05


# --- operators own their settings: mixing, misplaced arguments, stride rule, layout ---------


def test_resnet50_mixes_2d_and_gst_stages():
    plan = video_resnet(depth=50, operators=("2d", "2d", "gst", "gst"), alpha=0.5, beta=1)
    assert [s.name for _, s in plan.summary().slots] == ["2d", "2d", "gst", "gst"]
    assert plan.summary().operator_arg("gst", "alpha") == 0.5
    torch.manual_seed(0)
    model = plan.build(num_classes=3, frames=2).eval()
    gst = model.stages[2][0].conv2
    assert gst.temporal.weight.shape == (128, 256, 3, 3, 3)  # alpha = 1/2, beta = 1: all inputs
    with torch.no_grad():
        assert model(torch.randn(1, 3, 2, 32, 32)).shape == (1, 3)


def test_argument_given_to_an_operator_that_lacks_it_names_stage_operator_and_allowed():
    with pytest.raises(
        ValueError,
        match=r"^alpha: got 0.25 for operator '2d' in stage 2; allowed: the arguments of '2d': "
        r"bias, groups$",
    ):
        video_resnet(depth=18, operators=("2d", op("2d", alpha=0.25), "gst", "gst"))


def test_bad_value_names_the_stage_and_operator():
    plan = video_resnet(depth=18, operators=("2d", "2d", op("gst", alpha=0.3), "2d"))
    with pytest.raises(ValueError, match=r"^alpha: got 0.3 for operator 'gst' in stage 3; allowed"):
        plan.build(num_classes=2, frames=4)


def test_unknown_operator_in_a_stage():
    with pytest.raises(ValueError, match=r"^operator: got '4d' in stage 4; allowed: 2d, 3d, gst"):
        video_resnet(depth=18, operators=("2d", "2d", "2d", "4d"))


def test_stride_rule_is_declared_by_the_operator():
    assert get_operator("3d").temporal_stride and get_operator("r2plus1d").temporal_stride
    assert not get_operator("2d").temporal_stride and not get_operator("gst").temporal_stride
    plan = video_resnet(depth=18, operators=("3d", "gst", "2d", "p3d"), temporal_downsample=True)
    assert [s[0].temporal_stride for s in plan.stages] == [1, 1, 1, 2]
    assert plan.summary().temporal_pool == "temporal stride 2 in stage 4"


def test_mc4_halves_time_once_and_says_so():
    assert get_spec("mc4_resnet18").temporal_pool == "temporal stride 2 in stage 2"
    assert get_spec("r3d_resnet18").temporal_pool == "temporal stride 2 in stages 2-4"
    assert get_spec("mc3_resnet18").temporal_pool is None


def test_layout_rule_drops_the_norm_after_an_operator():
    plan = video_resnet(depth=18, operators=(op("sep3d", temporal_norm=False),) * 4)
    with torch.device("meta"):
        block = plan.build(num_classes=2, frames=4).stages[0][0]
    assert isinstance(block.bn1, torch.nn.Identity) and isinstance(block.bn2, torch.nn.Identity)


def test_slowfast_alpha_must_be_a_positive_integer():
    with pytest.raises(ValueError, match=r"^alpha: got 0.25; allowed: a positive integer"):
        create_model("slowfast_resnet50_8x8", alpha=0.25)
    with pytest.raises(ValueError, match=r"^beta_inv: got 3; allowed: a divisor of 64"):
        slowfast(beta_inv=3)
