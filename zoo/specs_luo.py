"""Zoo specs: Luo & Yuille (ICCV 2019), "Grouped Spatial-Temporal Aggregation" (GST).

Every 3x3 conv of the ResNet is replaced by the operator (Sec. 3.4); the 1x7x7 stem, the 1x1
convs and the shortcuts stay 2D, there is no temporal striding, and the clip prediction is the
average over frames (reference: chenxuluo/GST-video, GST.py). 8 frames at 224x224, 174 classes
(Something-Something, Table 2). `alpha` (temporal share of output channels) and `beta`
(input split: 1 = GST-Large, 1/2 = GST) are free kwargs of create_model for the gst models.
"""

from __future__ import annotations

from fractions import Fraction

from stbench.models.operators import OpSpec, op
from stbench.models.resnet import video_resnet
from stbench.zoo.papers import SHORT
from stbench.zoo.spec import ModelSpec, declare

PAPER = "luo2019"
SRC = SHORT[PAPER]
ABOUT = {
    "2d": "2D convs on every frame",
    "3d": "every 3x3 conv inflated to 3x3x3",
    "p3d": "1x3x3 then 3x1x1 cascade (Eq. 1)",
    "gst": "grouped spatial-temporal aggregation (Sec. 3; beta=1 is GST-Large)",
}
LUO = {
    "paper": PAPER,
    "views": ("gst",),
    "plan": video_resnet,
    "default_classes": 174,
    "citation": f"{SRC}, Sec. 3, Table 1 (operators), Table 2 (ResNet-50 params); "
    "chenxuluo/GST-video GST.py",
}


def gst(alpha: float, beta: float) -> OpSpec:
    """The GST operator with temporal share `alpha` and input split `beta`."""
    return op("gst", alpha=alpha, beta=beta)


C2D, C3D, C3D_G2, P3D = op("2d"), op("3d"), op("3d", groups=2), op("p3d")
GST_LARGE, GST_1_2 = gst(1 / 4, 1), gst(1 / 2, 1 / 2)
GST_1_4, GST_1_8 = gst(1 / 4, 1 / 2), gst(1 / 8, 1 / 2)


def luo(name: str, family: str, depth: int, operator: OpSpec) -> None:
    """Register one Luo & Yuille ResNet with `operator` in every stage."""
    args = "".join(f", {k}={Fraction(v).limit_denominator()}" for k, v in operator.args)
    about = f"{family}: {ABOUT[operator.name]}{args} (resnet{depth})"
    kwargs = {"depth": depth, "operators": (operator,) * 4, "stem": "2d"}
    declare(
        ModelSpec(name, family, backbone=f"resnet{depth}", kwargs=kwargs, description=about, **LUO)
    )


# fmt: off
#   name                    family depth operator
luo("c2d_resnet18",          "C2D", 18,   C2D)
luo("c2d_resnet34",          "C2D", 34,   C2D)
luo("c2d_resnet50",          "C2D", 50,   C2D)
luo("c3d_resnet18",          "C3D", 18,   C3D)
luo("c3d_resnet34",          "C3D", 34,   C3D)
luo("c3d_resnet50",          "C3D", 50,   C3D)
luo("c3d_g2_resnet18",       "C3D", 18,   C3D_G2)
luo("c3d_g2_resnet34",       "C3D", 34,   C3D_G2)
luo("c3d_g2_resnet50",       "C3D", 50,   C3D_G2)
luo("p3d_resnet18",          "P3D", 18,   P3D)
luo("p3d_resnet34",          "P3D", 34,   P3D)
luo("p3d_resnet50",          "P3D", 50,   P3D)
luo("gst_large_resnet18",    "GST", 18,   GST_LARGE)
luo("gst_large_resnet34",    "GST", 34,   GST_LARGE)
luo("gst_large_resnet50",    "GST", 50,   GST_LARGE)
luo("gst_a1_2_resnet18",     "GST", 18,   GST_1_2)
luo("gst_a1_2_resnet34",     "GST", 34,   GST_1_2)
luo("gst_a1_2_resnet50",     "GST", 50,   GST_1_2)
luo("gst_a1_4_resnet18",     "GST", 18,   GST_1_4)
luo("gst_a1_4_resnet34",     "GST", 34,   GST_1_4)
luo("gst_a1_4_resnet50",     "GST", 50,   GST_1_4)
luo("gst_a1_8_resnet18",     "GST", 18,   GST_1_8)
luo("gst_a1_8_resnet34",     "GST", 34,   GST_1_8)
luo("gst_a1_8_resnet50",     "GST", 50,   GST_1_8)
# fmt: on
