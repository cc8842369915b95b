"""Zoo specs: Chen et al. (CVPR 2021) InceptionV1 models, as built by the IBM code release.

Reference implementation: IBM/action-recognition-pytorch (models/twod_models/inception_v1.py,
temporal_modeling.py, common.py; models/threed_models/i3d.py, s3d.py). Params and conv MACs
equal the IBM table (shared/data/ibm_benchmark_mini.md, "Params" and "Flops" columns) exactly.
- TSN: 2D GoogLeNet per frame; TAM: + TAM-b3-sum after every conv stage and Inception block.
- I3D: 7x7x7 stem, 3x3x3 convs; S3D: 3x7x7 stem, 1x3x3 -> BN/ReLU -> 3x1x1 (+bias) -> BN/ReLU.
- `_tp`: temporal stride 2 with the last three spatial poolings (kernel 3; `tp_pool` avg/max,
  default max). Without `_tp` the 3D models keep every frame.
- `pool5_kernel` (I3D/S3D): the pool before mixed_5b is 2x2x2 (IBM s3d.py, and the i3d.py
  revision behind the IBM I3D rows f8, f16 and Mini-SSV2 f32) or 3x3x3 pad 1 (IBM i3d.py as
  published, behind the I3D rows Mini-Kinetics/Mini-Moments f32 and all f64). Without `_tp`
  the 2x2x2 pool drops one frame before mixed_5b/5c. Default 2; pass `pool5_kernel=3` for
  those five I3D rows.
"""

from __future__ import annotations

from stbench.models.inception import inception_v1
from stbench.zoo.registry import ModelSpec, register

PAPER = "chen2021"
SRC = "papers/000_2720627b97b46dad.txt Sec. 3/Appendix; IBM/action-recognition-pytorch"

ARCHS = {
    # arch: (family, stem, slot operator, extra kwargs, IBM file, description)
    "tsn": ("TSN", "2d", "2d", {}, "twod_models/inception_v1.py", "2D GoogLeNet per frame"),
    "tam": (
        "TAM",
        "2d",
        "2d",
        {"tam": True},
        "twod_models/inception_v1.py, temporal_modeling.py",
        "TSN + TAM-b3-sum after every conv stage and Inception block",
    ),
    "i3d": ("I3D", "i3d", "3d", {}, "threed_models/i3d.py", "7x7x7 stem, 3x3x3 convs"),
    "s3d": (
        "S3D",
        "s3d",
        "sep3d",
        {},
        "threed_models/s3d.py",
        "3x7x7 stem, separable 1x3x3 + 3x1x1 convs",
    ),
}

for _arch, (_family, _stem, _op, _extra, _file, _about) in ARCHS.items():
    for _tp in (False, True):
        _kwargs = {"form": "chen", "stem": _stem, "op": _op, "temporal_pool": _tp, **_extra}
        if _tp:
            _kwargs["tp_pool"] = "max"
        register(
            ModelSpec(
                name=f"{_arch}_inception_v1{'_tp' if _tp else ''}",
                family=_family,
                paper=PAPER,
                backbone="inception_v1",
                operators=("2d" if _stem == "2d" else "3d",) + (_op,) * 10,
                builder=inception_v1,
                temporal_pool="max k3 s2 with pool_3a/4a/5a" if _tp else None,
                default_frames=8,
                default_size=224,
                default_classes=200,
                citation=f"{SRC} (models/{_file}); params/FLOPs: IBM benchmark_mini.md "
                f"rows '{'TAM-b3-sum-' if _arch == 'tam' else ''}"
                f"{'inception-v1' if _arch in ('tsn', 'tam') else _arch}"
                f"{'-tp' if _tp else ''}-f*'",
                description=f"{_family}-InceptionV1{'-tp' if _tp else ''}: {_about}",
                kwargs=_kwargs,
            )
        )
