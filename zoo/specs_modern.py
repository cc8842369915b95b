"""Zoo specs beyond the four papers: the designs users compare against today (issue 23).

Video Swin T/S/B, VideoMAE ViT-S/B/L, TimeSformer (base, HR, L), MViT-B and MViTv2-S/B,
UniFormer-S/B, ir-/ip-CSN, Slow-only, C2D and R(2+1)D-50 (pytorchvideo): see their
tables below.

X3D (Feichtenhofer, CVPR 2020, arXiv:2004.04730), as the author's release builds it
(facebookresearch/SlowFast ``slowfast/models/video_model_builder.py`` X3D, configs
``configs/Kinetics/X3D_{XS,S,M,L}.yaml``; the same network as pytorchvideo
``models/x3d.py`` create_x3d): gamma_w = 2, gamma_b = 2.25, gamma_d = 2.2 (XS, S, M) or 5
(L); the variants differ in clip and crop: XS 4x160, S 13x160, M 16x224, L 16x312 (the
configs' NUM_FRAMES and TRAIN_CROP_SIZE; the default input of each spec). Testing with 3
crops uses TEST_CROP_SIZE 182, 182, 256, 356.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from stbench.models.attention import mvit, timesformer, video_swin, video_vit
from stbench.models.csn import csn
from stbench.models.slow import r2plus1d_resnet, slow_resnet
from stbench.models.summary import Plan
from stbench.models.uniformer import uniformer
from stbench.models.x3d import x3d
from stbench.zoo.papers import SHORT
from stbench.zoo.spec import ModelSpec, declare


@dataclass(frozen=True)
class Family:
    """What the specs of one family share: family, paper, backbone, plan, the section cited,
    and (for `row`) the templates of the code citation and the description."""

    family: str
    paper: str
    backbone: str
    plan: Callable[..., Plan]
    where: str
    code: str = ""
    about: str = ""

    def row(
        self, name: str, variant: str, frames: int, size: int, config: str = "", **arch: Any
    ) -> None:
        """Declare one spec of plan options `arch`; `code` and `about` are filled with the
        variant (`{v}`; `{V}` its initial, upper case), the release's `config` (`{c}`), the
        clip and the options."""
        keys = {"v": variant, "V": variant[:1].upper(), "c": config, "frames": frames, "size": size}
        keys |= arch
        self.spec(name, arch, frames, size, self.code.format(**keys), self.about.format(**keys))

    def spec(self, name: str, kwargs: dict, frames: int, size: int, code: str, about: str) -> None:
        """Declare one spec: clip `frames` x `size`, the paper cited at `where`, then `code`."""
        declare(
            ModelSpec(
                name,
                self.family,
                self.paper,
                backbone=self.backbone,
                plan=self.plan,
                kwargs=kwargs,
                default_frames=frames,
                default_size=size,
                citation=f"{SHORT[self.paper]}, {self.where}; {code}",
                description=about,
            )
        )


X3D_PAPER = "feichtenhofer2020"
X3D_CODE = "facebookresearch/SlowFast configs/Kinetics/X3D_{v}.yaml"
X3D = Family("X3D", X3D_PAPER, "x3d", x3d, "Sec. 3 and Table 1")


def x3d_spec(name: str, variant: str, depth: float, frames: int, size: int) -> None:
    """Register one X3D variant: depth factor gamma_d, clip `frames` x `size` (train crop)."""
    about = (
        f"X3D-{variant}: channel-wise 3x3x3 bottlenecks with SE and swish, gamma_w=2, "
        f"gamma_b=2.25, gamma_d={depth:g}; {frames} frames at {size}x{size}"
    )
    X3D.spec(name, {"depth": depth}, frames, size, X3D_CODE.format(v=variant), about)


# fmt: off
#        name       variant gamma_d frames size
x3d_spec("x3d_xs",  "XS",   2.2,    4,     160)
x3d_spec("x3d_s",   "S",    2.2,    13,    160)
x3d_spec("x3d_m",   "M",    2.2,    16,    224)
x3d_spec("x3d_l",   "L",    5.0,    16,    312)
# fmt: on


# Video Swin (Liu et al., CVPR 2022, arXiv:2106.13230) as its release and mmaction2 build it
# (mmaction2 configs/recognition/swin/swin-{tiny,small,base}_p244-w877-in1k-pre_8xb8-amp-
# 32x2x1-30e_kinetics400-rgb.py): tubelets 2x4x4, window 8x7x7, 32 frames at 224x224.
SWIN_PAPER = "liu2022"
SWIN_CODE = "open-mmlab/mmaction2 configs/recognition/swin/swin-{v}_p244-w877-in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py"
SWIN = Family(
    "Video Swin",
    SWIN_PAPER,
    "swin",
    video_swin,
    "Sec. 3",
    SWIN_CODE,
    "Video Swin-{V}: shifted 8x7x7 window attention, C={embed_dim}, blocks {depths}, "
    "heads {heads}; {frames} frames at {size}x{size}",
)
# fmt: off
#        name            variant  clip      C              blocks per stage      heads per stage
SWIN.row("video_swin_t", "tiny",  32, 224, embed_dim=96,  depths=(2, 2, 6, 2),  heads=(3, 6, 12, 24))
SWIN.row("video_swin_s", "small", 32, 224, embed_dim=96,  depths=(2, 2, 18, 2), heads=(3, 6, 12, 24))
SWIN.row("video_swin_b", "base",  32, 224, embed_dim=128, depths=(2, 2, 18, 2), heads=(4, 8, 16, 32))
# fmt: on


# VideoMAE (Tong et al., NeurIPS 2022, arXiv:2203.12602): the fine-tuned classifier of
# MCG-NJU/VideoMAE modeling_finetune.py (vit_{small,base,large}_patch16_224: 2x16x16 tubelets,
# fixed sine-cosine positions, q/v biases, mean pooling + fc_norm); 16 frames at 224x224.
VIDEOMAE_PAPER = "tong2022"
VIDEOMAE_CODE = "MCG-NJU/VideoMAE modeling_finetune.py vit_{v}_patch16_224"
VIDEOMAE = Family(
    "VideoMAE",
    VIDEOMAE_PAPER,
    "vit_tubelet",
    video_vit,
    "Sec. 4",
    VIDEOMAE_CODE,
    "VideoMAE ViT-{V}: joint space-time attention over 2x16x16 tubelets, width {embed_dim}, "
    "{depth} blocks, {heads} heads; {frames} frames at {size}x{size}",
)
# fmt: off
#            name              variant  clip      width           depth     heads
VIDEOMAE.row("videomae_vit_s", "small", 16, 224, embed_dim=384,  depth=12, heads=6)
VIDEOMAE.row("videomae_vit_b", "base",  16, 224, embed_dim=768,  depth=12, heads=12)
VIDEOMAE.row("videomae_vit_l", "large", 16, 224, embed_dim=1024, depth=24, heads=16)
# fmt: on


# TimeSformer (Bertasius et al., ICML 2021, arXiv:2102.05095): divided space-time attention
# on a ViT-B/16 as facebookresearch/TimeSformer timesformer/models/vit.py builds it; the
# variants of its configs/Kinetics: TimeSformer_divST_8x32_224 (8 frames at 224),
# _16x16_448 (HR: 16 frames at 448, position table for 448) and _96x4_224 (L: 96 frames).
TIMESFORMER_PAPER = "bertasius2021"
TIMESFORMER_CODE = "facebookresearch/TimeSformer configs/Kinetics/TimeSformer_divST_{c}.yaml"
TIMESFORMER = Family(
    "TimeSformer",
    TIMESFORMER_PAPER,
    "vit_frame_patches",
    timesformer,
    "Sec. 3",
    TIMESFORMER_CODE,
    "TimeSformer{v}: ViT-B/16 with divided space-time attention (temporal, then spatial, per "
    "block); {frames} frames at {size}x{size}",
)
# fmt: off
#               name              variant clip      config      position table's size
TIMESFORMER.row("timesformer",    "",     8,  224, "8x32_224",  train_size=224)
TIMESFORMER.row("timesformer_hr", "-HR",  16, 448, "16x16_448", train_size=448)
TIMESFORMER.row("timesformer_l",  "-L",   96, 224, "96x4_224",  train_size=224)
# fmt: on


# MViT (Fan et al., ICCV 2021, arXiv:2104.11227) and MViTv2 (Li et al., CVPR 2022,
# arXiv:2112.01526) as torchvision models/video/mvit.py builds mvit_v1_b and mvit_v2_s (and
# MViTv2-B with SlowFast configs/Kinetics/MVITv2_B_32x3.yaml's depths 2, 3, 16, 3): 3x7x7
# cube embedding, pooling attention with channel-wise conv pooling; v2 adds decomposed
# relative positions and the pooled-q residual, and widens in the attention.
MVIT_CODE = "pytorch/vision torchvision/models/video/mvit.py {fn}"
MVIT = Family("MViT", "fan2021", "mvit", mvit, "Sec. 3-4")


def mvit_spec(name: str, family: str, paper: str, version: int, depths: tuple, frames: int) -> None:
    """Register one MViT: version, blocks per stage, clip length (224x224 crops)."""
    about = (
        f"{family}: pooling attention, blocks per stage {depths}, widths 96-768, "
        f"{frames} frames at 224x224"
        + (", relative positions, residual pooling" if version == 2 else "")
    )
    fn = (
        "mvit_v1_b"
        if version == 1
        else "mvit_v2_s (MViTv2-B: SlowFast configs/Kinetics/MVITv2_B_32x3.yaml)"
    )
    replace(MVIT, family=family, paper=paper).spec(
        name, {"version": version, "depths": depths}, frames, 224, MVIT_CODE.format(fn=fn), about
    )


# fmt: off
#         name             family    paper     version blocks per stage  frames
mvit_spec("mvit_b_16x4",   "MViT",   "fan2021", 1,     (1, 2, 11, 2),    16)
mvit_spec("mvit_b_32x3",   "MViT",   "fan2021", 1,     (1, 2, 11, 2),    32)
mvit_spec("mvitv2_s_16x4", "MViTv2", "li2022",  2,     (1, 2, 11, 2),    16)
mvit_spec("mvitv2_b_32x3", "MViTv2", "li2022",  2,     (2, 3, 16, 3),    32)
# fmt: on


# CSN (Tran et al., ICCV 2019, arXiv:1904.02811) as VMZ and mmaction2 resnet3d_csn.py build
# it: channel-wise 3x3x3 bottlenecks (ip-CSN: with a 1x1x1 conv before), T halved in stages
# 2-4; 32 frames at 224x224 (mmaction2 configs/recognition/csn, 32x2x1 sampling).
CSN_PAPER = "tran2019"
CSN_CODE = "open-mmlab/mmaction2 mmaction/models/backbones/resnet3d_csn.py"
CSN = Family("ir-CSN", CSN_PAPER, "resnet50", csn, "Sec. 4")


def csn_spec(name: str, family: str, depth: int, mode: str) -> None:
    """Register one CSN: ResNet depth and bottleneck mode (ir or ip)."""
    about = (
        f"{family}-{depth}: ResNet-{depth} bottlenecks with a channel-wise 3x3x3 conv"
        + (" after a 1x1x1 conv" if mode == "ip" else "")
        + "; 32 frames at 224x224"
    )
    replace(CSN, family=family, backbone=f"resnet{depth}").spec(
        name, {"depth": depth, "mode": mode}, 32, 224, CSN_CODE, about
    )


# fmt: off
#        name               family    depth mode
csn_spec("ircsn_resnet50",  "ir-CSN", 50,   "ir")
csn_spec("ircsn_resnet101", "ir-CSN", 101,  "ir")
csn_spec("ircsn_resnet152", "ir-CSN", 152,  "ir")
csn_spec("ipcsn_resnet152", "ip-CSN", 152,  "ip")
# fmt: on


# Slow-only and C2D as PySlowFast/pytorchvideo build them (Feichtenhofer et al., SlowFast,
# ICCV 2019, arXiv:1812.03982): facebookresearch/SlowFast configs/Kinetics/pytorchvideo/
# SLOW_{4x16,8x8}_R50.yaml and C2D_8x8_R50.yaml (ARCH slow / c2d), 224 training crops.
SLOW_PAPER = "feichtenhofer2019"
SLOW_CODE = "facebookresearch/SlowFast configs/Kinetics/pytorchvideo/{c}_R50.yaml"
SLOW = Family("Slow", SLOW_PAPER, "resnet50", slow_resnet, "Table 1")


def slow_spec(name: str, family: str, config: str, frames: int, **kw: object) -> None:
    """Register one pytorchvideo ResNet-50 (Slow-only or C2D) for clips of `frames`."""
    c2d = family == "C2D"
    about = (
        "C2D ResNet-50 as pytorchvideo builds it: 2-D convs, 2x1x1 max-pool after res2"
        if c2d
        else "Slow-only ResNet-50: SlowFast's slow pathway alone (3x1x1 conv_a in res4-res5)"
    ) + f"; {frames} frames at 224x224"
    replace(SLOW, family=family).spec(
        name, dict(kw), frames, 224, SLOW_CODE.format(c=config), about
    )


C2D_POOLED = {"conv_a_t": (1, 1, 1, 1), "pool_after_res2": True}
# fmt: off
#         name                  family  config       frames
slow_spec("slow_resnet50_4x16", "Slow", "SLOW_4x16", 4)
slow_spec("slow_resnet50_8x8",  "Slow", "SLOW_8x8",  8)
slow_spec("c2d_resnet50_8x8",   "C2D",  "C2D_8x8",   8, **C2D_POOLED)
# fmt: on


# R(2+1)D-50 as pytorchvideo builds it (Fan et al., PyTorchVideo, arXiv:2111.09887;
# models/r2plus1d.py create_r2plus1d; SlowFast configs/Kinetics/pytorchvideo/
# R2PLUS1D_16x4_R50.yaml): Tran et al.'s (2+1)D factorisation inside ResNet-50 bottlenecks.
Family("R(2+1)D", "fan2021ptv", "resnet50", r2plus1d_resnet, "model zoo").spec(
    "r2plus1d_resnet50_16x4",
    {"depth": 50},
    16,
    224,
    "pytorchvideo models/r2plus1d.py create_r2plus1d",
    "R(2+1)D-50 as pytorchvideo builds it: (2+1)D bottlenecks (3x1x1 then 1x3x3 "
    "at the bottleneck width), no stem pool, T halved in stages 3-4; 16 frames at 224x224",
)


# UniFormer(-V1) (Li et al., ICLR 2022, arXiv:2201.04676) as Sense-X/UniFormer
# video_classification/slowfast/models/uniformer.py builds it (exp/uniformer_{s,b}16x4_k400
# configs: DEPTH, EMBED_DIM 64-128-320-512, HEAD_DIM 64): local MHRA (depthwise 5x5x5) in
# stages 1-2, global joint space-time attention in stages 3-4, a dynamic position encoding
# in every block; clip length free (records at 8, 16 and 32 frames), 16 frames at 224 by default.
UNIFORMER_CODE = "Sense-X/UniFormer video_classification/slowfast/models/uniformer.py"
UNIFORMER = Family(
    "UniFormer",
    "li2022uniformer",
    "uniformer",
    uniformer,
    "Sec. 3.4",
    UNIFORMER_CODE,
    "UniFormer-{V}: local MHRA (depthwise 5x5x5) in stages 1-2, global attention in stages "
    "3-4, blocks {depths}; {frames} frames at {size}x{size}",
)
# fmt: off
#             name           variant clip      blocks per stage
UNIFORMER.row("uniformer_s", "S",    16, 224, depths=(3, 4, 8, 3))
UNIFORMER.row("uniformer_b", "B",    16, 224, depths=(5, 8, 20, 7))
# fmt: on
