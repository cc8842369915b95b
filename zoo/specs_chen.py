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

from typing import Any

from stbench.models.resnet import video_resnet
from stbench.models.slowfast import slowfast
from stbench.zoo.papers import SHORT
from stbench.zoo.spec import ModelSpec, declare

PAPER = "chen2021"
SRC = f"{SHORT[PAPER]}; IBM/action-recognition-pytorch"
RESNET = {
    "paper": PAPER,
    "plan": video_resnet,
    "default_classes": 200,
    "citation": f"{SRC} (models/twod_models/resnet.py, models/threed_models/)",
}
# temporal pooling of a `_tp` row: IBM's 2D nets pool after stages 1-3, its 3D nets stride
NO_TP: dict[str, Any] = {}
POOL = {"temporal_pool": (0, 1, 2), "tp_pool": "max"}
STRIDE = {"temporal_downsample": True}
# designs: (video_resnet arguments, what the model is)
TSN = ({"operators": ("2d",) * 4, "stem": "2d"}, "2D per-frame ResNet, no temporal modelling")
TAM = ({**TSN[0], "temporal": "tam"}, "TSN + TAM-b3-sum in every residual branch")
I3D = ({"operators": ("3d",) * 4, "stem": "3d"}, "inflated 3x3x3 convs, 3x7x7 stem")
S3D = ({"operators": ("sep3d",) * 4, "stem": "3d"}, "separable 1x3x3 + 3x1x1 convs, 3x7x7 stem")
# Table 5 aggregations on TSN-ResNet
AVG = ({**TSN[0], "temporal": "tavg"}, "TSN + average of frames t-1, t, t+1 in each branch")
MAX = ({**TSN[0], "temporal": "tmax"}, "TSN + max over frames t-1, t, t+1 in each branch")
TSM = ({**TSN[0], "temporal": "tsm"}, "TSN + TSM (shift 1/8 channels each way) in each branch")
NLN = (
    {**TSN[0], "temporal": "nonlocal", "temporal_blocks": (0, 3, 2, 0)},
    "TSN + 5 non-local blocks: 3 in stage 2, 2 in stage 3 (Table 5, Sec. 5.1)",
)


def chen(name: str, family: str, depth: int, design: tuple, tp: dict[str, Any]) -> None:
    """Register one IBM ResNet of `design`; `tp` is its temporal pooling (NO_TP: none)."""
    kwargs, about = design
    about = f"{family}-resnet{depth}{'-tp' if tp else ''}: {about}"
    kwargs = {"depth": depth, **kwargs, **tp}
    declare(
        ModelSpec(
            name, family, backbone=f"resnet{depth}", kwargs=kwargs, description=about, **RESNET
        )
    )


# fmt: off
#    name                    family     depth design pooling
chen("tsn_resnet18",         "TSN",     18,   TSN,   NO_TP)
chen("tsn_resnet18_tp",      "TSN",     18,   TSN,   POOL)
chen("tsn_resnet50",         "TSN",     50,   TSN,   NO_TP)
chen("tsn_resnet50_tp",      "TSN",     50,   TSN,   POOL)
chen("tsn_resnet101",        "TSN",     101,  TSN,   NO_TP)
chen("tsn_resnet101_tp",     "TSN",     101,  TSN,   POOL)
chen("tam_resnet18",         "TAM",     18,   TAM,   NO_TP)
chen("tam_resnet18_tp",      "TAM",     18,   TAM,   POOL)
chen("tam_resnet50",         "TAM",     50,   TAM,   NO_TP)
chen("tam_resnet50_tp",      "TAM",     50,   TAM,   POOL)
chen("tam_resnet101",        "TAM",     101,  TAM,   NO_TP)
chen("tam_resnet101_tp",     "TAM",     101,  TAM,   POOL)
chen("i3d_resnet18",         "I3D",     18,   I3D,   NO_TP)
chen("i3d_resnet18_tp",      "I3D",     18,   I3D,   STRIDE)
chen("i3d_resnet50",         "I3D",     50,   I3D,   NO_TP)
chen("i3d_resnet50_tp",      "I3D",     50,   I3D,   STRIDE)
chen("i3d_resnet101",        "I3D",     101,  I3D,   NO_TP)
chen("i3d_resnet101_tp",     "I3D",     101,  I3D,   STRIDE)
chen("s3d_resnet18",         "S3D",     18,   S3D,   NO_TP)
chen("s3d_resnet18_tp",      "S3D",     18,   S3D,   STRIDE)
chen("s3d_resnet50",         "S3D",     50,   S3D,   NO_TP)
chen("s3d_resnet50_tp",      "S3D",     50,   S3D,   STRIDE)
chen("s3d_resnet101",        "S3D",     101,  S3D,   NO_TP)
chen("s3d_resnet101_tp",     "S3D",     101,  S3D,   STRIDE)
chen("tsn_resnet18_tavg",    "TSN+Avg", 18,   AVG,   NO_TP)
chen("tsn_resnet18_tmax",    "TSN+Max", 18,   MAX,   NO_TP)
chen("tsm_resnet50",         "TSM",     50,   TSM,   NO_TP)
chen("nln_resnet50",         "NLN",     50,   NLN,   NO_TP)
# fmt: on


SLOWFAST = {
    "paper": PAPER,
    "plan": slowfast,
    "citation": f"{SHORT[PAPER]}, Table 6; Feichtenhofer et al. "
    "(facebookresearch/SlowFast) Table 1 configuration",
}


def chen_slowfast(name: str, depth: int, slow: int, fusion_kernel: int, blocks: tuple) -> None:
    """Register one SlowFast: `slow` slow frames, alpha 4, `blocks` temporal conv_a per stage."""
    kwargs = {"depth": depth, "alpha": 4, "fusion_kernel": fusion_kernel, "temporal_blocks": blocks}
    about = (
        f"SlowFast R{depth} {slow}x8: slow {slow} frames, fast {slow * 4} frames "
        "(alpha=4, beta=1/8); input T = fast frames"
    )
    declare(
        ModelSpec(
            name,
            "SlowFast",
            backbone=f"resnet{depth}",
            kwargs=kwargs,
            description=about,
            default_frames=slow * 4,
            **SLOWFAST,
        )
    )


# facebookresearch/SlowFast configs/Kinetics/c2: SLOWFAST_8x8_R50.yaml,
# SLOWFAST_8x8_R101_101_101.yaml, SLOWFAST_16x8_R101_50_50.yaml
# fmt: off
#             name                        depth slow fusion kernel  blocks with t x 1 x 1 conv_a
chen_slowfast("slowfast_resnet50_8x8",    50,   8,   7,             (3, 4, 6, 3))
chen_slowfast("slowfast_resnet101_8x8",   101,  8,   5,             (3, 4, 23, 3))
chen_slowfast("slowfast_resnet101_16x8",  101,  16,  5,             (3, 4, 6, 3))
# fmt: on
