"""Zoo specs: Tran et al. (CVPR 2018), "A Closer Look at Spatiotemporal Convolutions".

Skeleton of Table 1: 3x7x7 (or 1x7x7 / (2+1)D) conv1 with stride 1x2x2 and no max-pool,
four groups of basic blocks; temporal stride 2 at conv3_1, conv4_1 and conv5_1 only where
that group's convs are temporal (3D or (2+1)D); global spatio-temporal average pool + FC.
Clips: 8 frames at 112x112 (Table 2), 400 Kinetics classes.
- R2D: the L frames stacked as 3L channels at conv1, 2D afterwards (Sec. 3.1).
- f-R2D: 2D per frame, no temporal striding, pooled at the end (Sec. 3.2).
- MCx: 3D in groups 1..x-1 (conv1 is group 1), 2D from group x on; rMCx is the reverse.
- R(2+1)D: every 3D conv factorised with M_i = floor(t d^2 N_{i-1} N_i / (d^2 N_{i-1} + t N_i))
  spatial filters (Sec. 3.5); conv1 uses 45 spatial filters (Sec. 6, Fig. 6).
"""

from __future__ import annotations

from stbench.models.resnet import build_video_resnet
from stbench.zoo.registry import ModelSpec, register

PAPER = "tran2018"
SRC = "papers/002_a287baa9121de811.txt"
DEPTH = {"resnet18": 18, "resnet34": 34}
TEMPORAL_OPS = ("3d", "r2plus1d")


def _strides(ops: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(2 if i > 0 and op in TEMPORAL_OPS else 1 for i, op in enumerate(ops))


FAMILY = {"f_r2d": "f-R2D", "r2plus1d": "R(2+1)D"} | {f"rmc{x}": f"rMC{x}" for x in (2, 3, 4, 5)}


def _variants() -> dict[str, tuple[str, tuple[str, ...], dict, str]]:
    """name -> (stem, per-group operators, stem kwargs, description)."""
    out = {
        "r2d": ("clip2d", ("2d",) * 4, {}, "R2D: clip as 3L channels at conv1, 2D after"),
        "f_r2d": ("2d", ("2d",) * 4, {}, "f-R2D: 2D convs on every frame"),
        "r3d": ("3d", ("3d",) * 4, {}, "R3D: full 3x3x3 convs"),
        "r2plus1d": (
            "r2plus1d",
            ("r2plus1d",) * 4,
            {"mid_channels": 45},
            "R(2+1)D: (2+1)D convs with the M_i parameter-matching rule",
        ),
    }
    for x in (2, 3, 4, 5):
        n3d = x - 2  # groups 2..x-1 are 3D (group 1 is the stem)
        mc = tuple("3d" if i < n3d else "2d" for i in range(4))
        rmc = tuple("2d" if i < n3d else "3d" for i in range(4))
        out[f"mc{x}"] = ("3d", mc, {}, f"MC{x}: 3D in groups 1-{x - 1}, 2D from group {x}")
        out[f"rmc{x}"] = ("2d", rmc, {}, f"rMC{x}: 2D in groups 1-{x - 1}, 3D from group {x}")
    return out


for _name, (_stem, _ops, _stem_kw, _desc) in _variants().items():
    for _bb, _depth in DEPTH.items():
        register(
            ModelSpec(
                name=f"{_name}_{_bb}",
                family=FAMILY.get(_name, _name.upper()),
                paper=PAPER,
                backbone=_bb,
                operators=_ops,
                builder=build_video_resnet,
                temporal_pool="temporal stride 2 in temporal groups 3-5"
                if any(s == 2 for s in _strides(_ops))
                else None,
                default_frames=8,
                default_size=112,
                default_classes=400,
                citation=f"{SRC} Table 1 (architecture), Table 2 (ResNet-18 params)",
                description=f"{_desc} ({_bb})",
                kwargs={
                    "depth": _depth,
                    "operators": _ops,
                    "stem": _stem,
                    "stem_kwargs": _stem_kw,
                    "stem_pool": False,
                    "temporal_strides": _strides(_ops),
                },
            )
        )
