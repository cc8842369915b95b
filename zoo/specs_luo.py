"""Zoo specs: Luo & Yuille (ICCV 2019), "Grouped Spatial-Temporal Aggregation" (GST).

Every 3x3 conv of the ResNet is replaced by the operator (Sec. 3.4); the 1x7x7 stem, the 1x1
convs and the shortcuts stay 2D, there is no temporal striding, and the clip prediction is the
average over frames (reference: chenxuluo/GST-video, GST.py). 8 frames at 224x224, 174 classes
(Something-Something, Table 2). `alpha` (temporal share of output channels) and `beta`
(input split: 1 = GST-Large, 1/2 = GST) are free kwargs of create_model for the gst models.
"""

from __future__ import annotations

from stbench.models.resnet import build_video_resnet
from stbench.zoo.registry import ModelSpec, register

PAPER = "luo2019"
SRC = "papers/003_c8d95147dedad406.txt"
DEPTH = {"resnet18": 18, "resnet34": 34, "resnet50": 50}

VARIANTS = {
    # name: (operator, extra kwargs, description)
    "c2d": ("2d", {}, "C2D: 2D convs on every frame"),
    "c3d": ("3d", {}, "C3D: every 3x3 conv inflated to 3x3x3"),
    "c3d_g2": ("3d", {"groups": 2}, "C3D with groups=2 in every 3x3x3 conv"),
    "p3d": ("p3d", {}, "P3D: 1x3x3 then 3x1x1 cascade (Eq. 1)"),
    "gst_large": ("gst", {"alpha": 0.25, "beta": 1}, "GST-Large: alpha=1/4, beta=1"),
    "gst_a1_2": ("gst", {"alpha": 0.5, "beta": 0.5}, "GST: alpha=1/2, beta=1/2"),
    "gst_a1_4": ("gst", {"alpha": 0.25, "beta": 0.5}, "GST: alpha=1/4, beta=1/2"),
    "gst_a1_8": ("gst", {"alpha": 0.125, "beta": 0.5}, "GST: alpha=1/8, beta=1/2"),
}

for _name, (_op, _extra, _desc) in VARIANTS.items():
    for _bb, _depth in DEPTH.items():
        register(
            ModelSpec(
                name=f"{_name}_{_bb}",
                family=_name.split("_")[0].upper(),
                paper=PAPER,
                backbone=_bb,
                operators=(_op,) * 4,
                builder=build_video_resnet,
                temporal_pool=None,
                default_frames=8,
                default_size=224,
                default_classes=174,
                citation=f"{SRC} Sec. 3, Table 1 (operators), Table 2 (ResNet-50 params); "
                "chenxuluo/GST-video GST.py",
                description=f"{_desc} ({_bb})",
                kwargs={"depth": _depth, "operators": (_op,) * 4, "stem": "2d", **_extra},
            )
        )
