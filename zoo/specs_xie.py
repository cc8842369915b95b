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
  it; `stem_temporal_kernel=1` gives a 1x7x7 stem.
- Fast-S3D (Sec. 4.4): top-heavy S3D with the top two blocks (mixed_5b, mixed_5c) separable.
"""

from __future__ import annotations

from typing import Any

from stbench.models.inception import inception_v1
from stbench.models.operators import op
from stbench.zoo.papers import SHORT
from stbench.zoo.spec import ModelSpec, declare

PAPER = "xie2018"
SRC = SHORT[PAPER]
CODE = "tensorflow/models research/slim/nets/s3dg.py"
# s3dg.py's separable conv: temporal conv with a bias and no BN, also on the 1x1 branches
SEP3D = op("sep3d", temporal_bias=True, temporal_norm=False, temporal_1x1=True)
I3D = {"stem": op("3d", temporal_kernel=7), "op": "3d"}
S3D = {"stem": op("3d", temporal_kernel=3), "op": SEP3D}
TOP, BOTTOM = "top", "bottom"
XIE = {
    "paper": PAPER,
    "backbone": "inception_v1",
    "plan": inception_v1,
    "default_frames": 64,
    "views": ("xie",),
}


def xie(
    name: str, family: str, model: dict[str, Any], cite: str, about: str, curve: str = "", **kw: Any
) -> None:
    """Register one Xie et al. InceptionV1 (TF form) with stem/operator `model`; `curve`
    places it on the cost curves of Fig. 4 (`ModelSpec.curve`)."""
    kwargs = {"form": "xie", **model, **kw}
    cite = f"{SRC}, {cite}; {CODE}"
    spec = ModelSpec(
        name, family, kwargs=kwargs, citation=cite, description=about, curve=curve, **XIE
    )
    declare(spec)


def xie_heavy(name: str, family: str, model: dict[str, Any], heavy: str, transition: str) -> None:
    """Register one top-/bottom-heavy model switching between 2D and `model` at `transition`."""
    about = f"{family}, 2D/3D transition at {transition}"
    cite = "Sec. 4.2/4.4, Fig. 2c/d, Fig. 4"
    xie(name, family, model, cite, about, "curve", heavy=heavy, transition=transition)


I2D = {"stem": op("3d", temporal_kernel=1), "op": "2d"}  # TF first_temporal_kernel_size=1

# fmt: off
#   name            family      model  cite                                      about
xie("xie_i3d",      "I3D",      I3D,   "Sec. 4.1, Table 2 row I3D",              "I3D (Fig. 2a)", curve="mark")
xie("xie_i2d",      "I2D",      I2D,   "Sec. 4.1, footnote 4, Table 1/3 row I2D", "I2D (Fig. 2b): all 2D, two temporal max-pools kept", curve="mark")
xie("xie_s3d",      "S3D",      S3D,   "Sec. 4.4, footnote 5, Table 2 row S3D",  "S3D (Fig. 6): separable temporal convs in all 4 branches", curve="mark")
xie("xie_s3d_g",    "S3D-G",    S3D,   "Sec. 4.6, Table 2 row S3D-G",            "S3D-G: S3D + spatio-temporal feature gating", gating=True)
xie("xie_fast_s3d", "Fast-S3D", S3D,   "Sec. 4.4 (43.47 GFLOPS)",                "Fast-S3D: top-heavy S3D, separable 3D in mixed_5b/5c only", curve="mark", heavy=TOP, transition="mixed_5b")

#         name                                  family                model heavy   transition
xie_heavy("xie_top_heavy_i3d_mixed_3b",          "Top-Heavy-I3D",      I3D, TOP,    "mixed_3b")
xie_heavy("xie_top_heavy_i3d_mixed_3c",          "Top-Heavy-I3D",      I3D, TOP,    "mixed_3c")
xie_heavy("xie_top_heavy_i3d_mixed_4b",          "Top-Heavy-I3D",      I3D, TOP,    "mixed_4b")
xie_heavy("xie_top_heavy_i3d_mixed_4c",          "Top-Heavy-I3D",      I3D, TOP,    "mixed_4c")
xie_heavy("xie_top_heavy_i3d_mixed_4d",          "Top-Heavy-I3D",      I3D, TOP,    "mixed_4d")
xie_heavy("xie_top_heavy_i3d_mixed_4e",          "Top-Heavy-I3D",      I3D, TOP,    "mixed_4e")
xie_heavy("xie_top_heavy_i3d_mixed_4f",          "Top-Heavy-I3D",      I3D, TOP,    "mixed_4f")
xie_heavy("xie_top_heavy_i3d_mixed_5b",          "Top-Heavy-I3D",      I3D, TOP,    "mixed_5b")
xie_heavy("xie_top_heavy_i3d_mixed_5c",          "Top-Heavy-I3D",      I3D, TOP,    "mixed_5c")
xie_heavy("xie_top_heavy_s3d_mixed_3b",          "Top-Heavy-S3D",      S3D, TOP,    "mixed_3b")
xie_heavy("xie_top_heavy_s3d_mixed_3c",          "Top-Heavy-S3D",      S3D, TOP,    "mixed_3c")
xie_heavy("xie_top_heavy_s3d_mixed_4b",          "Top-Heavy-S3D",      S3D, TOP,    "mixed_4b")
xie_heavy("xie_top_heavy_s3d_mixed_4c",          "Top-Heavy-S3D",      S3D, TOP,    "mixed_4c")
xie_heavy("xie_top_heavy_s3d_mixed_4d",          "Top-Heavy-S3D",      S3D, TOP,    "mixed_4d")
xie_heavy("xie_top_heavy_s3d_mixed_4e",          "Top-Heavy-S3D",      S3D, TOP,    "mixed_4e")
xie_heavy("xie_top_heavy_s3d_mixed_4f",          "Top-Heavy-S3D",      S3D, TOP,    "mixed_4f")
xie_heavy("xie_top_heavy_s3d_mixed_5b",          "Top-Heavy-S3D",      S3D, TOP,    "mixed_5b")
xie_heavy("xie_top_heavy_s3d_mixed_5c",          "Top-Heavy-S3D",      S3D, TOP,    "mixed_5c")
xie_heavy("xie_bottom_heavy_i3d_mixed_3b",       "Bottom-Heavy-I3D",   I3D, BOTTOM, "mixed_3b")
xie_heavy("xie_bottom_heavy_i3d_mixed_3c",       "Bottom-Heavy-I3D",   I3D, BOTTOM, "mixed_3c")
xie_heavy("xie_bottom_heavy_i3d_mixed_4b",       "Bottom-Heavy-I3D",   I3D, BOTTOM, "mixed_4b")
xie_heavy("xie_bottom_heavy_i3d_mixed_4c",       "Bottom-Heavy-I3D",   I3D, BOTTOM, "mixed_4c")
xie_heavy("xie_bottom_heavy_i3d_mixed_4d",       "Bottom-Heavy-I3D",   I3D, BOTTOM, "mixed_4d")
xie_heavy("xie_bottom_heavy_i3d_mixed_4e",       "Bottom-Heavy-I3D",   I3D, BOTTOM, "mixed_4e")
xie_heavy("xie_bottom_heavy_i3d_mixed_4f",       "Bottom-Heavy-I3D",   I3D, BOTTOM, "mixed_4f")
xie_heavy("xie_bottom_heavy_i3d_mixed_5b",       "Bottom-Heavy-I3D",   I3D, BOTTOM, "mixed_5b")
xie_heavy("xie_bottom_heavy_i3d_mixed_5c",       "Bottom-Heavy-I3D",   I3D, BOTTOM, "mixed_5c")
xie_heavy("xie_bottom_heavy_s3d_mixed_3b",       "Bottom-Heavy-S3D",   S3D, BOTTOM, "mixed_3b")
xie_heavy("xie_bottom_heavy_s3d_mixed_3c",       "Bottom-Heavy-S3D",   S3D, BOTTOM, "mixed_3c")
xie_heavy("xie_bottom_heavy_s3d_mixed_4b",       "Bottom-Heavy-S3D",   S3D, BOTTOM, "mixed_4b")
xie_heavy("xie_bottom_heavy_s3d_mixed_4c",       "Bottom-Heavy-S3D",   S3D, BOTTOM, "mixed_4c")
xie_heavy("xie_bottom_heavy_s3d_mixed_4d",       "Bottom-Heavy-S3D",   S3D, BOTTOM, "mixed_4d")
xie_heavy("xie_bottom_heavy_s3d_mixed_4e",       "Bottom-Heavy-S3D",   S3D, BOTTOM, "mixed_4e")
xie_heavy("xie_bottom_heavy_s3d_mixed_4f",       "Bottom-Heavy-S3D",   S3D, BOTTOM, "mixed_4f")
xie_heavy("xie_bottom_heavy_s3d_mixed_5b",       "Bottom-Heavy-S3D",   S3D, BOTTOM, "mixed_5b")
xie_heavy("xie_bottom_heavy_s3d_mixed_5c",       "Bottom-Heavy-S3D",   S3D, BOTTOM, "mixed_5c")
# fmt: on
