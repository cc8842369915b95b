"""Zoo specs: Xie et al. (ECCV 2018), "Rethinking Spatiotemporal Feature Learning".

Form: the I3D InceptionV1 of Carreira & Zisserman as in the authors' TF release
(tensorflow/models research/slim/nets/s3dg.py, i3d.py, i3d_utils.py): 7x7 stem with stride
2 in time and space, temporal stride 2 in pool_4a (3x3x3) and pool_5a (2x2x2); 64 frames at
224x224 (Sec. 3.3), 400 classes (Kinetics-Full, Table 2).
- I3D: 7x7x7 stem, 3x3x3 convs. I2D: all 2D (1x7x7 stem keeping its temporal stride, as TF
  builds it with first_temporal_kernel_size=1) with the two temporal max-pools (footnote 4).
- S3D: 1x3x3 -> BN/ReLU -> 3x1x1 (+bias, ReLU, no BN) in conv_2c and every Inception block,
  a 3x1x1 temporal conv also on both 1x1 branches (footnote 5); stem a full 3x7x7 conv (TF
  s3dg.py never separates conv_1a; first_temporal_kernel_size defaults to 3 there).
- S3D-G: S3D + feature gating (Sec. 4.6) after conv_2c and every branch of every block.
- Top-/Bottom-Heavy (Sec. 4.2, Fig. 2c/d, Fig. 4), name suffix `{p}` = the transition point,
  the Inception block where the operator changes, one of mixed_3b, mixed_3c, mixed_4b, ...,
  mixed_5c (TF end-point names; the `temporal_conv_startat` sweep of s3dg.py):
  top-heavy: 2D in conv_2c and every block below `{p}`, 3D/sep3D from `{p}` up;
  bottom-heavy: 3D/sep3D below `{p}`, 2D from `{p}` up. The stem conv_1a stays the family's
  3D stem (I3D 7x7x7, S3D 3x7x7) as in s3dg.py, where only first_temporal_kernel_size sets
  it; `stem_temporal_kernel=1` gives a 2D stem.
- Fast-S3D (Sec. 4.4): top-heavy S3D with the top two blocks (mixed_5b, mixed_5c) separable.
"""

from __future__ import annotations

from stbench.models.inception import BLOCKS, TRANSITIONS, heavy_ops, inception_v1
from stbench.zoo.registry import ModelSpec, register

PAPER = "xie2018"
SRC = "papers/001_108aa75c7b5a30b7.txt"
CODE = "tensorflow/models research/slim/nets/s3dg.py"
S3D_KW = {"op": "sep3d", "temporal_1x1": True, "stem_temporal_kernel": 3}
I3D_KW = {"op": "3d", "stem_temporal_kernel": 7}


def _register(name: str, family: str, ops: tuple[str, ...], kw: dict, cite: str, desc: str):
    register(
        ModelSpec(
            name=name,
            family=family,
            paper=PAPER,
            backbone="inception_v1",
            operators=("3d" if kw.get("stem_temporal_kernel", 7) > 1 else "2d", *ops),
            builder=inception_v1,
            temporal_pool=None,
            default_frames=64,
            default_size=224,
            default_classes=400,
            citation=f"{SRC} {cite}; {CODE}",
            description=desc,
            kwargs={"form": "xie", **kw},
        )
    )


N = len(BLOCKS) + 1
_register("xie_i3d", "I3D", ("3d",) * N, I3D_KW, "Sec. 4.1, Table 2 row I3D", "I3D (Fig. 2a)")
_register(
    "xie_i2d",
    "I2D",
    ("2d",) * N,
    {"op": "2d", "stem_temporal_kernel": 1},
    "Sec. 4.1, footnote 4, Table 1/3 row I2D",
    "I2D (Fig. 2b): all 2D, two temporal max-pools kept",
)
_register(
    "xie_s3d",
    "S3D",
    ("sep3d",) * N,
    S3D_KW,
    "Sec. 4.4, footnote 5, Table 2 row S3D",
    "S3D (Fig. 6): separable temporal convs in all 4 branches",
)
_register(
    "xie_s3d_g",
    "S3D-G",
    ("sep3d",) * N,
    {**S3D_KW, "gating": True},
    "Sec. 4.6, Table 2 row S3D-G",
    "S3D-G: S3D + spatio-temporal feature gating",
)
_register(
    "xie_fast_s3d",
    "Fast-S3D",
    heavy_ops("top", "mixed_5b", "sep3d"),
    {**S3D_KW, "heavy": "top", "transition": "mixed_5b"},
    "Sec. 4.4 (43.47 GFLOPS)",
    "Fast-S3D: top-heavy S3D, separable 3D in mixed_5b/5c only",
)
for _heavy in ("top", "bottom"):
    for _fam, _kw in (("i3d", I3D_KW), ("s3d", S3D_KW)):
        for _p in TRANSITIONS:
            _register(
                f"xie_{_heavy}_heavy_{_fam}_{_p}",
                f"{_heavy.capitalize()}-Heavy-{_fam.upper()}",
                heavy_ops(_heavy, _p, _kw["op"]),
                {**_kw, "heavy": _heavy, "transition": _p},
                "Sec. 4.2/4.4, Fig. 2c/d, Fig. 4",
                f"{_heavy.capitalize()}-Heavy-{_fam.upper()}, 2D/3D transition at {_p}",
            )
