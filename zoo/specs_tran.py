"""Zoo specs: Tran et al. (CVPR 2018), "A Closer Look at Spatiotemporal Convolutions".

Skeleton of Table 1: 3x7x7 (or 1x7x7 / (2+1)D) conv1 with stride 1x2x2 and no max-pool,
four groups of basic blocks; temporal stride 2 at conv3_1, conv4_1 and conv5_1 only where
that group's convs are temporal (3D or (2+1)D: the operators that take a temporal stride);
global spatio-temporal average pool + FC. Clips: 8 frames at 112x112 (Table 2), 400 Kinetics
classes. Tran et al. number conv1 as group 1, so ResNet stage i is their group i + 1.
- R2D: the L frames stacked as 3L channels at conv1, 2D afterwards (Sec. 3.1).
- f-R2D: 2D per frame, no temporal striding, pooled at the end (Sec. 3.2).
- MCx: 3D in groups 1..x-1 (conv1 is group 1), 2D from group x on; rMCx is the reverse.
- R(2+1)D: every 3D conv factorised with M_i = floor(t d^2 N_{i-1} N_i / (d^2 N_{i-1} + t N_i))
  spatial filters (Sec. 3.5); conv1 uses 45 spatial filters (Sec. 6, Fig. 6).
"""

from __future__ import annotations

from typing import Any

from stbench.models.operators import OpSpec, as_op, op
from stbench.models.resnet import video_resnet
from stbench.zoo.papers import SHORT
from stbench.zoo.spec import ModelSpec, declare

PAPER = "tran2018"
SRC = SHORT[PAPER]
D2, D3, R21 = "2d", "3d", "r2plus1d"
R21_STEM = op(R21, mid_channels=45)
# Table 1: no max-pool after conv1; temporal stride 2 at conv3_1..conv5_1 where convs are temporal
SKELETON = {"stem_pool": False, "temporal_downsample": True}
TRAN = {
    "paper": PAPER,
    "views": ("tran",),
    "plan": video_resnet,
    "default_size": 112,
    "citation": f"{SRC}, Table 1 (architecture), Table 2 (ResNet-18 params)",
}


def _mixed(groups: tuple[str, ...]) -> str:
    """MCx/rMCx in Tran et al.'s words: which groups (conv1 = group 1) are 3D and 2D."""
    cut = next(i for i, g in enumerate(groups) if g != groups[0])
    low, high = groups[0].upper(), groups[cut].upper()
    first = "group 1" if cut == 1 else f"groups 1-{cut}"
    return f"{low} in {first}, {high} from group {cut + 1}"


def tran(
    name: str,
    family: str,
    depth: int,
    stem: str | OpSpec,
    operators: tuple[str, ...],
    about: str = "",
    **kw: Any,
) -> None:
    """Register one Tran et al. ResNet; `about` defaults to the MCx/rMCx group wording."""
    about = f"{family}: {about or _mixed((as_op(stem).name, *operators))} (resnet{depth})"
    kwargs = {"depth": depth, "operators": operators, "stem": stem, **kw, **SKELETON}
    declare(
        ModelSpec(name, family, backbone=f"resnet{depth}", kwargs=kwargs, description=about, **TRAN)
    )


R2D = "clip as 3L channels at conv1, 2D after"
F_R2D = "2D convs on every frame"
R3D = "full 3x3x3 convs"
R21D = "(2+1)D convs with the M_i parameter-matching rule"

# fmt: off
#    name                      family     depth stem      stage operators       about
tran("r2d_resnet18",           "R2D",     18,   D2,       (D2, D2, D2, D2),     R2D, clip_as_channels=True)
tran("r2d_resnet34",           "R2D",     34,   D2,       (D2, D2, D2, D2),     R2D, clip_as_channels=True)
tran("f_r2d_resnet18",         "f-R2D",   18,   D2,       (D2, D2, D2, D2),     F_R2D)
tran("f_r2d_resnet34",         "f-R2D",   34,   D2,       (D2, D2, D2, D2),     F_R2D)
tran("r3d_resnet18",           "R3D",     18,   D3,       (D3, D3, D3, D3),     R3D)
tran("r3d_resnet34",           "R3D",     34,   D3,       (D3, D3, D3, D3),     R3D)
tran("r2plus1d_resnet18",      "R(2+1)D", 18,   R21_STEM, (R21, R21, R21, R21), R21D)
tran("r2plus1d_resnet34",      "R(2+1)D", 34,   R21_STEM, (R21, R21, R21, R21), R21D)
tran("mc2_resnet18",           "MC2",     18,   D3,       (D2, D2, D2, D2))
tran("mc2_resnet34",           "MC2",     34,   D3,       (D2, D2, D2, D2))
tran("mc3_resnet18",           "MC3",     18,   D3,       (D3, D2, D2, D2))
tran("mc3_resnet34",           "MC3",     34,   D3,       (D3, D2, D2, D2))
tran("mc4_resnet18",           "MC4",     18,   D3,       (D3, D3, D2, D2))
tran("mc4_resnet34",           "MC4",     34,   D3,       (D3, D3, D2, D2))
tran("mc5_resnet18",           "MC5",     18,   D3,       (D3, D3, D3, D2))
tran("mc5_resnet34",           "MC5",     34,   D3,       (D3, D3, D3, D2))
tran("rmc2_resnet18",          "rMC2",    18,   D2,       (D3, D3, D3, D3))
tran("rmc2_resnet34",          "rMC2",    34,   D2,       (D3, D3, D3, D3))
tran("rmc3_resnet18",          "rMC3",    18,   D2,       (D2, D3, D3, D3))
tran("rmc3_resnet34",          "rMC3",    34,   D2,       (D2, D3, D3, D3))
tran("rmc4_resnet18",          "rMC4",    18,   D2,       (D2, D2, D3, D3))
tran("rmc4_resnet34",          "rMC4",    34,   D2,       (D2, D2, D3, D3))
tran("rmc5_resnet18",          "rMC5",    18,   D2,       (D2, D2, D2, D3))
tran("rmc5_resnet34",          "rMC5",    34,   D2,       (D2, D2, D2, D3))
# fmt: on
