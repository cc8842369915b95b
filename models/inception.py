"""InceptionV1 (GoogLeNet) skeleton whose conv slots take a per-block spatio-temporal operator.

One skeleton serves two published forms, chosen by `InceptionForm`:

- ``CHEN``: the IBM action-recognition-pytorch code of Chen et al. (2D GoogLeNet for TSN/TAM,
  ``threed_models/i3d.py`` and ``s3d.py`` for I3D/S3D): stem without temporal stride, temporal
  striding only by (optional) temporal pooling, BN after every conv, separable temporal convs
  with a bias.
- ``XIE``: the I3D form of Carreira & Zisserman as used by Xie et al. (TF ``s3dg.py``): a
  7x7x7 stem with temporal stride 2, temporal stride 2 in ``pool_4a`` and ``pool_5a``,
  separable temporal convs with a bias and no BN, optional temporal convs on the 1x1 branches
  (Xie et al. footnote 5) and optional feature gating (Sec. 4.6).

Layer names follow the TF Inception-V1 end points (``conv_1a`` ... ``mixed_5c``); the IBM
GoogLeNet names ``inception3a`` ... ``inception5b`` are ``mixed_3b`` ... ``mixed_5c``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from stbench.models.gating import FeatureGating
from stbench.models.heads import ClassifierHead
from stbench.models.operators import make_operator
from stbench.models.temporal import make_temporal
from stbench.models.validation import check_input, check_min_frames
from torch import nn

# GoogLeNet Table 1: in, #1x1, #3x3 reduce, #3x3, #"5x5" reduce, #"5x5", pool proj.
# The "5x5" branch uses a 3x3 kernel, as in torchvision/IBM GoogLeNet and in TF I3D/S3D-G.
BLOCK_CHANNELS: dict[str, tuple[int, int, int, int, int, int, int]] = {
    "mixed_3b": (192, 64, 96, 128, 16, 32, 32),
    "mixed_3c": (256, 128, 128, 192, 32, 96, 64),
    "mixed_4b": (480, 192, 96, 208, 16, 48, 64),
    "mixed_4c": (512, 160, 112, 224, 24, 64, 64),
    "mixed_4d": (512, 128, 128, 256, 24, 64, 64),
    "mixed_4e": (512, 112, 144, 288, 32, 64, 64),
    "mixed_4f": (528, 256, 160, 320, 32, 128, 128),
    "mixed_5b": (832, 256, 160, 320, 32, 128, 128),
    "mixed_5c": (832, 384, 192, 384, 48, 128, 128),
}
BLOCKS = tuple(BLOCK_CHANNELS)
# Conv slots that take a spatio-temporal operator, bottom to top (the stem conv_1a is separate).
SLOTS = ("conv_2c", *BLOCKS)
# Transition points of top-/bottom-heavy models: the block where the operator changes.
TRANSITIONS = BLOCKS
OPS = ("2d", "3d", "sep3d")
FEATURES = 1024


@dataclass(frozen=True)
class Pool:
    """One pooling layer: kernel/stride/padding as (t, h, w); mode None = the model's pool mode."""

    kernel: tuple[int, int, int]
    stride: tuple[int, int, int]
    padding: tuple[int, int, int] = (0, 0, 0)
    ceil_mode: bool = False
    mode: str | None = None

    def out_size(self, n: int, axis: int) -> int:
        """Output length along `axis` (0=t, 1=h, 2=w) for input length `n`; 0 if invalid."""
        k, s, p = self.kernel[axis], self.stride[axis], self.padding[axis]
        span = n + 2 * p - k
        if span < 0:
            return 0
        out = (-(-span // s) if self.ceil_mode else span // s) + 1
        if self.ceil_mode and (out - 1) * s >= n + p:
            out -= 1
        return out


@dataclass(frozen=True)
class InceptionForm:
    """Everything that differs between the Chen/IBM and the Xie/TF InceptionV1 forms."""

    name: str
    stem_temporal_kernel: int
    stem_temporal_stride: int
    pools: dict[str, tuple[Pool, ...]]
    sep_temporal_bn: bool


def _spatial_pool(k: int, pad: int, ceil: bool, mode: str | None = None) -> Pool:
    return Pool((1, k, k), (1, 2, 2), (0, pad, pad), ceil, mode)


def _chen_2d_pools(tp: bool) -> dict[str, tuple[Pool, ...]]:
    # IBM GoogLeNet: ceil-mode max pools, then TemporalPooling(3, 2, pad 1) when -tp.
    tpool = (Pool((3, 1, 1), (2, 1, 1), (1, 0, 0)),) if tp else ()
    return {
        "pool_2a": (_spatial_pool(3, 0, True, "max"),),
        "pool_3a": (_spatial_pool(3, 0, True, "max"), *tpool),
        "pool_4a": (_spatial_pool(3, 0, True, "max"), *tpool),
        "pool_5a": (_spatial_pool(2, 0, True, "max"), *tpool),
    }


def _chen_3d_pools(tp: bool, pool5_kernel: int) -> dict[str, tuple[Pool, ...]]:
    # IBM i3d.py / s3d.py: one 3-D pool per stage, temporal stride 2 only when -tp.
    ts = 2 if tp else 1
    if pool5_kernel == 2:
        pool5 = Pool((2, 2, 2), (ts, 2, 2))
    else:
        pool5 = Pool((3, 3, 3), (ts, 2, 2), (1, 1, 1))
    return {
        "pool_2a": (_spatial_pool(3, 1, False),),
        "pool_3a": (Pool((3, 3, 3), (ts, 2, 2), (1, 1, 1)),),
        "pool_4a": (Pool((3, 3, 3), (ts, 2, 2), (1, 1, 1)),),
        "pool_5a": (pool5,),
    }


def chen_form(stem: str, tp: bool, pool5_kernel: int = 2) -> InceptionForm:
    """The IBM form for a `stem` of "2d" (TSN/TAM), "i3d" (7x7x7) or "s3d" (3x7x7)."""
    if stem not in ("2d", "i3d", "s3d"):
        raise ValueError(f"stem: got {stem!r}; allowed: '2d', 'i3d', 's3d'")
    if pool5_kernel not in (2, 3):
        raise ValueError(
            f"pool5_kernel: got {pool5_kernel!r}; allowed: 2 (IBM s3d.py and the i3d.py behind "
            "most IBM rows) or 3 (IBM i3d.py as published)"
        )
    if stem == "2d":
        return InceptionForm("chen-2d", 1, 1, _chen_2d_pools(tp), sep_temporal_bn=True)
    kt = 7 if stem == "i3d" else 3
    return InceptionForm(f"chen-{stem}", kt, 1, _chen_3d_pools(tp, pool5_kernel), True)


def xie_form(stem_temporal_kernel: int = 7) -> InceptionForm:
    """The TF I3D/S3D-G form used by Xie et al.: temporal strides in conv_1a, pool_4a, pool_5a."""
    pools = {
        "pool_2a": (_spatial_pool(3, 1, False, "max"),),
        "pool_3a": (_spatial_pool(3, 1, False, "max"),),
        "pool_4a": (Pool((3, 3, 3), (2, 2, 2), (1, 1, 1), mode="max"),),
        "pool_5a": (Pool((2, 2, 2), (2, 2, 2), mode="max"),),
    }
    return InceptionForm("xie", stem_temporal_kernel, 2, pools, sep_temporal_bn=False)


def heavy_ops(heavy: str, transition: str, op: str) -> tuple[str, ...]:
    """Operators for SLOTS of a top-/bottom-heavy model switching at block `transition`.

    Top-heavy: "2d" below `transition`, `op` from it on. Bottom-heavy: `op` below it, "2d"
    from it on.
    """
    if heavy not in ("top", "bottom"):
        raise ValueError(f"heavy: got {heavy!r}; allowed: 'top', 'bottom'")
    if transition not in TRANSITIONS:
        raise ValueError(
            f"transition: got {transition!r}; allowed: {', '.join(TRANSITIONS)} "
            "(the block where 2D and 3D meet)"
        )
    cut = SLOTS.index(transition)
    low, high = ("2d", op) if heavy == "top" else (op, "2d")
    return tuple(low if i < cut else high for i in range(len(SLOTS)))


def _check_op(name: str, op: str) -> None:
    if op not in OPS:
        raise ValueError(f"{name}: got {op!r}; allowed: {', '.join(OPS)}")


class SepConv3d(nn.Module):
    """1 x k x k conv, BN, ReLU, then k x 1 x 1 temporal conv (with bias) and BN (optional), ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        temporal_stride: int = 1,
        temporal_kernel: int = 3,
        temporal_bn: bool = True,
        temporal_bias: bool = True,
        eps: float = 1e-3,
    ) -> None:
        super().__init__()
        k, t = kernel_size, temporal_kernel
        self.spatial = make_operator("3d", in_channels, out_channels, k, stride, temporal_kernel=1)
        self.bn_s = nn.BatchNorm3d(out_channels, eps=eps)
        self.temporal = nn.Conv3d(
            out_channels,
            out_channels,
            (t, 1, 1),
            (temporal_stride, 1, 1),
            (t // 2, 0, 0),
            bias=temporal_bias,
        )
        self.bn_t = nn.BatchNorm3d(out_channels, eps=eps) if temporal_bn else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn_s(self.spatial(x)))
        return torch.relu(self.bn_t(self.temporal(x)))


class ConvUnit(nn.Module):
    """conv -> BN -> ReLU where the conv is the operator `op` ("2d", "3d" or "sep3d")."""

    def __init__(
        self,
        op: str,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        form: InceptionForm,
        stride: int = 1,
        temporal_kernel: int = 3,
        temporal_stride: int = 1,
        eps: float = 1e-3,
    ) -> None:
        super().__init__()
        _check_op("op", op)
        self.op = op
        if op == "sep3d":
            self.body: nn.Module = SepConv3d(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                temporal_stride,
                temporal_kernel,
                form.sep_temporal_bn,
                eps=eps,
            )
            return
        if op == "2d":
            conv = make_operator("2d", in_channels, out_channels, kernel_size, stride)
        else:
            conv = make_operator(
                "3d",
                in_channels,
                out_channels,
                kernel_size,
                stride,
                temporal_stride,
                temporal_kernel=temporal_kernel,
            )
        self.body = nn.Sequential(conv, nn.BatchNorm3d(out_channels, eps=eps), nn.ReLU(True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _pointwise(op: str, cin: int, cout: int, form: InceptionForm, temporal: bool) -> nn.Module:
    """A 1x1 branch conv; with `temporal` (Xie footnote 5) a k x 1 x 1 temporal conv follows."""
    if temporal and op != "2d":
        return ConvUnit("sep3d", cin, cout, 1, form)
    return ConvUnit("2d" if op == "2d" else "3d", cin, cout, 1, form, temporal_kernel=1)


class InceptionBlock(nn.Module):
    """Four-branch Inception block; `op` fills the two 3x3 slots, 1x1 convs follow its rank."""

    def __init__(
        self,
        channels: tuple[int, int, int, int, int, int, int],
        op: str,
        form: InceptionForm,
        temporal_1x1: bool = False,
        gating: bool = False,
    ) -> None:
        super().__init__()
        cin, c1, c3r, c3, c5r, c5, cp = channels
        self.op = op
        self.branch1 = _pointwise(op, cin, c1, form, temporal_1x1)
        self.branch2 = nn.Sequential(
            _pointwise(op, cin, c3r, form, False), ConvUnit(op, c3r, c3, 3, form)
        )
        self.branch3 = nn.Sequential(
            _pointwise(op, cin, c5r, form, False), ConvUnit(op, c5r, c5, 3, form)
        )
        kt = 1 if op == "2d" else 3
        self.branch4 = nn.Sequential(
            nn.MaxPool3d((kt, 3, 3), 1, (kt // 2, 1, 1)),
            _pointwise(op, cin, cp, form, temporal_1x1),
        )
        outs = (c1, c3, c5, cp)
        self.gates = nn.ModuleList(FeatureGating(c) if gating else nn.Identity() for c in outs)
        self.out_channels = sum(outs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([g(b(x)) for b, g in zip(branches, self.gates, strict=True)], 1)


def _make_pool(pool: Pool, mode: str) -> nn.Module:
    mode = pool.mode or mode
    if mode == "max":
        return nn.MaxPool3d(pool.kernel, pool.stride, pool.padding, ceil_mode=pool.ceil_mode)
    if mode == "avg":
        return nn.AvgPool3d(pool.kernel, pool.stride, pool.padding, ceil_mode=pool.ceil_mode)
    raise ValueError(f"tp_pool: got {mode!r}; allowed: 'avg', 'max'")


@dataclass(frozen=True)
class InceptionConfig:
    """A full InceptionV1 variant: form, stem operator, one operator per slot, extras."""

    form: InceptionForm
    stem_op: str
    ops: tuple[str, ...]
    pool_mode: str = "max"
    tam: bool = False
    temporal_1x1: bool = False
    gating: bool = False
    dropout: float = 0.5


class InceptionV1(nn.Module):
    """InceptionV1 video backbone + classifier: (B, 3, T, H, W) -> (B, num_classes)."""

    def __init__(self, config: InceptionConfig, num_classes: int, frames: int) -> None:
        super().__init__()
        _validate_config(config)
        self.config, self.frames = config, frames
        self.min_size, self.min_frames = _min_input(config.form)
        check_min_frames(frames, self.min_frames, f"temporal striding of {config.form.name}")
        form, ops = config.form, dict(zip(SLOTS, config.ops, strict=True))
        stem_kt = form.stem_temporal_kernel if config.stem_op == "3d" else 1
        layers: dict[str, nn.Module] = {
            "conv_1a": ConvUnit(
                "3d" if form.stem_temporal_stride > 1 or stem_kt > 1 else "2d",
                3,
                64,
                7,
                form,
                stride=2,
                temporal_kernel=stem_kt,
                temporal_stride=form.stem_temporal_stride,
            ),
            "pool_2a": self._pools("pool_2a"),
            "conv_2b": ConvUnit("2d" if ops["conv_2c"] == "2d" else "3d", 64, 64, 1, form, 1, 1),
            "conv_2c": ConvUnit(ops["conv_2c"], 64, 192, 3, form),
        }
        if config.gating and ops["conv_2c"] != "2d":
            layers["conv_2c"] = nn.Sequential(layers["conv_2c"], FeatureGating(192))
        for name, channels in BLOCK_CHANNELS.items():
            if name in ("mixed_3b", "mixed_4b", "mixed_5b"):
                pool = "pool_" + name[-2] + "a"
                layers[pool] = self._pools(pool)
            temporal = ops[name] != "2d"
            layers[name] = InceptionBlock(
                channels,
                ops[name],
                form,
                config.temporal_1x1 and temporal,
                config.gating and temporal,
            )
        if config.tam:
            layers = _with_tam(layers)
        self.features = nn.Sequential(OrderedDict(layers))
        self.head = ClassifierHead(FEATURES, num_classes, config.dropout)

    def _pools(self, name: str) -> nn.Module:
        pools = self.config.form.pools[name]
        return nn.Sequential(*(_make_pool(p, self.config.pool_mode) for p in pools))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.frames, self.min_size)
        return self.head(self.features(x))

    def block_ops(self) -> dict[str, str]:
        """Operator of every conv slot, bottom to top (conv_1a is "2d" or "3d")."""
        return {"conv_1a": self.config.stem_op, **dict(zip(SLOTS, self.config.ops, strict=True))}


_TAM_CHANNELS = {"conv_1a": 64, "conv_2b": 64, "conv_2c": 192} | {
    n: c[1] + c[3] + c[5] + c[6] for n, c in BLOCK_CHANNELS.items()
}


def _with_tam(layers: dict[str, nn.Module]) -> dict[str, nn.Module]:
    # IBM GoogLeNet places a TAM after every conv stage and Inception block.
    out: dict[str, nn.Module] = {}
    for name, module in layers.items():
        out[name] = module
        if name in _TAM_CHANNELS:
            out[f"tam_{name}"] = make_temporal("tam", _TAM_CHANNELS[name])
    return out


def _validate_config(config: InceptionConfig) -> None:
    if len(config.ops) != len(SLOTS):
        raise ValueError(
            f"ops: got {len(config.ops)} operators; allowed: exactly {len(SLOTS)}, one per slot "
            f"({', '.join(SLOTS)})"
        )
    for op in config.ops:
        _check_op("ops", op)
    if config.stem_op not in ("2d", "3d"):
        raise ValueError(f"stem_op: got {config.stem_op!r}; allowed: '2d', '3d'")
    if config.pool_mode not in ("avg", "max"):
        raise ValueError(f"tp_pool: got {config.pool_mode!r}; allowed: 'avg', 'max'")


def _walk(form: InceptionForm, n: int, axis: int) -> int:
    """Length along `axis` after every strided layer for input length `n`; 0 if a layer fails."""
    if axis == 0:
        kt, st = form.stem_temporal_kernel, form.stem_temporal_stride
        n = (n + 2 * (kt // 2) - kt) // st + 1 if n >= 1 else 0
    else:
        n = (n + 2 * 3 - 7) // 2 + 1 if n >= 1 else 0
    for name in ("pool_2a", "pool_3a", "pool_4a", "pool_5a"):
        for pool in form.pools[name]:
            n = pool.out_size(n, axis) if n >= 1 else 0
    return n


def _min_input(form: InceptionForm) -> tuple[int, int]:
    """Smallest spatial size and frame count every stride and pool of `form` accepts."""
    size = next(s for s in range(1, 1024) if _walk(form, s, 1) >= 1)
    min_frames = next(t for t in range(1, 1024) if _walk(form, t, 0) >= 1)
    return size, min_frames


def inception_v1(
    num_classes: int,
    frames: int,
    *,
    form: str = "chen",
    stem: str = "2d",
    op: str = "2d",
    heavy: str | None = None,
    transition: str | None = None,
    temporal_pool: bool = False,
    tp_pool: str = "max",
    tam: bool = False,
    temporal_1x1: bool = False,
    gating: bool = False,
    pool5_kernel: int = 2,
    stem_temporal_kernel: int = 7,
    dropout: float = 0.5,
) -> InceptionV1:
    """Build an InceptionV1 video model from a handful of spec-level choices.

    `form` "chen": `stem` is "2d" (TSN/TAM), "i3d" or "s3d"; `temporal_pool` adds the IBM
    temporal striding, `tp_pool` picks avg/max. `form` "xie": `stem_temporal_kernel` is the
    stem's temporal extent (1 gives I2D's 2-D stem). Every slot gets `op` unless `heavy`
    ("top"/"bottom") and `transition` (a block name) make a top-/bottom-heavy model.
    """
    _check_op("op", op)
    if (heavy is None) != (transition is None):
        raise ValueError(
            f"transition: got heavy={heavy!r}, transition={transition!r}; allowed: both set "
            "(a top-/bottom-heavy model) or both None"
        )
    ops = heavy_ops(heavy, transition, op) if heavy is not None else (op,) * len(SLOTS)
    if form == "chen":
        inception_form = chen_form(stem, temporal_pool, pool5_kernel)
        stem_op = "2d" if stem == "2d" else "3d"
    elif form == "xie":
        if temporal_pool:
            raise ValueError(
                "temporal_pool: got True; allowed: False for form 'xie' (its temporal strides "
                "are part of the form)"
            )
        if tp_pool != "max":
            raise ValueError(
                f"tp_pool: got {tp_pool!r}; allowed: 'max' for form 'xie' (its pools are fixed)"
            )
        if stem_temporal_kernel not in (1, 3, 5, 7):
            raise ValueError(
                f"stem_temporal_kernel: got {stem_temporal_kernel!r}; allowed: 1, 3, 5 or 7"
            )
        inception_form = xie_form(stem_temporal_kernel)
        stem_op = "2d" if stem_temporal_kernel == 1 else "3d"
    else:
        raise ValueError(f"form: got {form!r}; allowed: 'chen', 'xie'")
    config = InceptionConfig(
        inception_form, stem_op, ops, tp_pool, tam, temporal_1x1, gating, dropout
    )
    return InceptionV1(config, num_classes, frames)
