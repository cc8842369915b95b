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

from typing import Any

from stbench.models.inception import inception_v1
from stbench.models.operators import OpSpec, op
from stbench.zoo.papers import SHORT
from stbench.zoo.spec import ModelSpec, declare

PAPER = "chen2021"
SRC = f"{SHORT[PAPER]}, Sec. 3/Appendix; IBM/action-recognition-pytorch"
CHEN = {"paper": PAPER, "backbone": "inception_v1", "plan": inception_v1, "default_classes": 200}
I3D_STEM = op("3d", temporal_kernel=7)
S3D_STEM = op("3d", temporal_kernel=3)
S3D_OP = op("sep3d", temporal_bias=True)  # IBM s3d.py: the temporal conv has a bias and a BN
# IBM source file and what the model is
GOOGLENET = ("twod_models/inception_v1.py", "2D GoogLeNet per frame")
TAM = (
    "twod_models/inception_v1.py, temporal_modeling.py",
    "TSN + TAM-b3-sum after every conv stage and Inception block",
)
I3D = ("threed_models/i3d.py", "7x7x7 stem, 3x3x3 convs")
S3D = ("threed_models/s3d.py", "3x7x7 stem, separable 1x3x3 + 3x1x1 convs")


def chen_inception(
    name: str,
    family: str,
    form: str,
    stem: str | OpSpec,
    operator: str | OpSpec,
    tp: bool,
    ibm_row: str,
    source: tuple[str, str],
    **kw: Any,
) -> None:
    """Register one IBM InceptionV1; `ibm_row` names its rows in IBM benchmark_mini.md."""
    kwargs = {"form": form, "stem": stem, "op": operator, "temporal_pool": tp, **kw}
    kwargs |= {"tp_pool": "max"} if tp else {}
    about = f"{family}-InceptionV1{'-tp' if tp else ''}: {source[1]}"
    cite = f"{SRC} (models/{source[0]}); params/FLOPs: IBM benchmark_mini.md rows '{ibm_row}-f*'"
    declare(ModelSpec(name, family, kwargs=kwargs, citation=cite, description=about, **CHEN))


# fmt: off
#              name                    family form      stem      operator tp     IBM rows                     source
chen_inception("tsn_inception_v1",     "TSN", "chen2d", "2d",     "2d",    False, "inception-v1",              GOOGLENET)
chen_inception("tsn_inception_v1_tp",  "TSN", "chen2d", "2d",     "2d",    True,  "inception-v1-tp",           GOOGLENET)
chen_inception("tam_inception_v1",     "TAM", "chen2d", "2d",     "2d",    False, "TAM-b3-sum-inception-v1",    TAM, temporal="tam")
chen_inception("tam_inception_v1_tp",  "TAM", "chen2d", "2d",     "2d",    True,  "TAM-b3-sum-inception-v1-tp", TAM, temporal="tam")
chen_inception("i3d_inception_v1",     "I3D", "chen3d", I3D_STEM, "3d",    False, "i3d",                       I3D)
chen_inception("i3d_inception_v1_tp",  "I3D", "chen3d", I3D_STEM, "3d",    True,  "i3d-tp",                    I3D)
chen_inception("s3d_inception_v1",     "S3D", "chen3d", S3D_STEM, S3D_OP,  False, "s3d",                       S3D)
chen_inception("s3d_inception_v1_tp",  "S3D", "chen3d", S3D_STEM, S3D_OP,  True,  "s3d-tp",                    S3D)
# fmt: on
