"""Zoo specs: Chen et al. (CVPR 2021) ResNet models, as built by the IBM code release.

Reference implementation: IBM/action-recognition-pytorch (models/twod_models/resnet.py,
temporal_modeling.py, common.py; models/threed_models/i3d_resnet.py, s3d_resnet.py).
- TSN/TAM: 2D per frame; `_tp` = max temporal pooling (k=3, s=2) after stages 1-3.
- I3D/S3D: 3x7x7 stem, 3x3x3 (I3D) or 1x3x3 -> BN/ReLU -> 3x1x1 (S3D) convs;
  `_tp` = temporal stride 2 in the first block of stages 2-4 (conv and shortcut).
- Table 5 aggregations on TSN without temporal pooling: `_tavg`/`_tmax` (parameter-free
  average/max of frames t-1, t, t+1 in each residual branch, our reading of "Avg."/"Max."),
  TSM (1/8 channels shifted each way in each residual branch), NLN (non-local blocks:
  3 in stage 2 and 2 in stage 3, per the paper's Sec. 5.1.5 text).
- SlowFast (Feichtenhofer et al. configuration): see models/slowfast.py; input T is the
  fast pathway's frame count (32 for 8x8, 64 for 16x8); the slow pathway takes every 4th.
"""

from __future__ import annotations

from stbench.models.resnet import build_video_resnet
from stbench.models.slowfast import build_slowfast
from stbench.zoo.registry import ModelSpec, register

PAPER = "chen2021"
SRC = "papers/000_2720627b97b46dad.txt; IBM/action-recognition-pytorch"
DEPTH = {"resnet18": 18, "resnet50": 50, "resnet101": 101}

ARCHS = {
    # arch: (family, operator, stem, block_temporal, description)
    "tsn": ("TSN", "2d", "2d", None, "2D per-frame ResNet, no temporal modelling"),
    "tam": ("TAM", "2d", "2d", "tam", "TSN + TAM-b3-sum in every residual branch"),
    "i3d": ("I3D", "3d", "3d", None, "inflated 3x3x3 convs, 3x7x7 stem"),
    "s3d": ("S3D", "sep3d", "3d", None, "separable 1x3x3 + 3x1x1 convs, 3x7x7 stem"),
}


def _display_ops(kwargs: dict) -> tuple[str, ...]:
    """Per-stage operator names, with the residual-branch module and non-local marked."""
    extra = f"+{kwargs['block_temporal']}" if kwargs.get("block_temporal") else ""
    nl = kwargs.get("nonlocal_blocks", (0, 0, 0, 0))
    return tuple(
        f"{op}{extra}{'+nl' if n else ''}" for op, n in zip(kwargs["operators"], nl, strict=True)
    )


def _register_chen(
    name: str,
    arch: str,
    bb: str,
    tp: bool,
    extra: dict | None = None,
    desc: str = "",
    family: str = "",
) -> None:
    arch_family, op, stem, temporal, about = ARCHS[arch]
    family = family or arch_family
    kwargs: dict = {"depth": DEPTH[bb], "operators": (op,) * 4, "stem": stem}
    if temporal:
        kwargs["block_temporal"] = temporal
    pool = None
    if tp and arch in ("tsn", "tam"):
        kwargs["temporal_pool_after"] = (0, 1, 2)
        kwargs["tp_pool"] = "max"
        pool = "max pool k3 s2 after stages 1-3"
    elif tp:
        kwargs["temporal_strides"] = (1, 2, 2, 2)
        pool = "temporal stride 2 in stages 2-4"
    kwargs.update(extra or {})
    register(
        ModelSpec(
            name=name,
            family=family,
            paper=PAPER,
            backbone=bb,
            operators=_display_ops(kwargs),
            builder=build_video_resnet,
            temporal_pool=pool,
            default_frames=8,
            default_size=224,
            default_classes=200,
            citation=f"{SRC} (models/twod_models/resnet.py, models/threed_models/)",
            description=desc or f"{family}-{bb}{'-tp' if tp else ''}: {about}",
            kwargs=kwargs,
        )
    )


for _arch in ARCHS:
    for _bb in DEPTH:
        _register_chen(f"{_arch}_{_bb}", _arch, _bb, tp=False)
        _register_chen(f"{_arch}_{_bb}_tp", _arch, _bb, tp=True)

for _agg in ("tavg", "tmax"):
    _register_chen(
        f"tsn_resnet18_{_agg}",
        "tsn",
        "resnet18",
        False,
        {"block_temporal": _agg},
        f"TSN-ResNet18 + temporal {_agg[1:]} aggregation in every residual branch (Table 5)",
        family=f"TSN+{_agg[1:].capitalize()}",
    )
_register_chen(
    "tsm_resnet50",
    "tsn",
    "resnet50",
    False,
    {"block_temporal": "tsm"},
    "TSN-ResNet50 + TSM (shift 1/8 channels each way) in every residual branch (Table 5)",
    family="TSM",
)
_register_chen(
    "nln_resnet50",
    "tsn",
    "resnet50",
    False,
    {"nonlocal_blocks": (0, 3, 2, 0)},
    "TSN-ResNet50 + 5 non-local blocks: 3 in stage 2, 2 in stage 3 (Table 5, Sec. 5.1)",
    family="NLN",
)

SLOWFAST = {
    # name: (depth, slow frames, alpha, fusion kernel, blocks with temporal conv_a per stage)
    # from facebookresearch/SlowFast configs/Kinetics/c2/SLOWFAST_8x8_R50.yaml,
    # SLOWFAST_8x8_R101_101_101.yaml and SLOWFAST_16x8_R101_50_50.yaml
    "slowfast_resnet50_8x8": (50, 8, 4, 7, (3, 4, 6, 3)),
    "slowfast_resnet101_8x8": (101, 8, 4, 5, (3, 4, 23, 3)),
    "slowfast_resnet101_16x8": (101, 16, 4, 5, (3, 4, 6, 3)),
}
for _name, (_depth, _slow, _alpha, _fk, _tb) in SLOWFAST.items():
    register(
        ModelSpec(
            name=_name,
            family="SlowFast",
            paper=PAPER,
            backbone=f"resnet{_depth}",
            operators=("2d", "2d", "2d", "2d"),
            builder=build_slowfast,
            temporal_pool=None,
            default_frames=_slow * _alpha,
            default_size=224,
            default_classes=400,
            citation="papers/000_2720627b97b46dad.txt Table 6; Feichtenhofer et al. "
            "(facebookresearch/SlowFast) Table 1 configuration",
            description=f"SlowFast R{_depth} {_slow}x8: slow {_slow} frames, fast "
            f"{_slow * _alpha} frames (alpha={_alpha}, beta=1/8); input T = fast frames",
            kwargs={
                "depth": _depth,
                "alpha": _alpha,
                "fusion_kernel": _fk,
                "temporal_blocks": _tb,
            },
        )
    )
