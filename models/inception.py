"""InceptionV1 (GoogLeNet) skeleton whose conv slots take a per-block spatio-temporal operator.

One skeleton serves the published forms, chosen by `InceptionForm`:

- ``chen2d`` and ``chen3d``: the IBM action-recognition-pytorch code of Chen et al. (2D
  GoogLeNet for TSN/TAM, ``threed_models/i3d.py`` and ``s3d.py`` for I3D/S3D): stem without
  temporal stride, temporal striding only by (optional) temporal pooling, BN after every conv.
- ``xie``: the I3D form of Carreira & Zisserman as used by Xie et al. (TF ``s3dg.py``): a
  7x7x7 stem with temporal stride 2, temporal stride 2 in ``pool_4a`` and ``pool_5a``.

Every conv is a unit ``operator -> BN -> ReLU`` of a registered operator; the operator says
whether BN follows it and which 1x1 conv accompanies it, so the separable convs of S3D (a
bias on the temporal conv; Xie et al.'s S3D without BN after it and with temporal convs on
the 1x1 branches, footnote 5) are options of the ``sep3d`` operator. Optional feature gating
(Xie et al. Sec. 4.6) and temporal modules (IBM's TAM after every unit).

Layer names follow the TF Inception-V1 end points (``conv_1a`` ... ``mixed_5c``); the IBM
GoogLeNet names ``inception3a`` ... ``inception5b`` are ``mixed_3b`` ... ``mixed_5c``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from stbench.models.gating import FeatureGating
from stbench.models.heads import ClassifierHead
from stbench.models.layout import children_frame_wise, frame_wise_flags, run_chain, unfolded
from stbench.models.operators import (
    OpSpec,
    as_op,
    checked,
    get_operator,
    make_operator,
    route_args,
)
from stbench.models.pooling import POOL_MODES, Pool, temporal_pool
from stbench.models.summary import ArchSummary, join_places
from stbench.models.temporal import get_temporal, make_temporal
from stbench.models.validation import ArgumentError, check_choice, check_input, check_min_frames
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
POOL_BEFORE = {"mixed_3b": "pool_3a", "mixed_4b": "pool_4a", "mixed_5b": "pool_5a"}
POOLS = ("pool_2a", *POOL_BEFORE.values())
FEATURES = 1024
NORM_EPS = 1e-3  # BatchNorm eps of the TF and IBM Inception code


@dataclass(frozen=True)
class InceptionForm:
    """Everything that differs between the Chen/IBM and the Xie/TF InceptionV1 forms."""

    name: str
    stem_temporal_stride: int
    pools: Mapping[str, tuple[Pool, ...]]


def _spatial_pool(k: int, pad: int, ceil: bool, mode: str | None = None) -> Pool:
    return Pool((1, k, k), (1, 2, 2), (0, pad, pad), ceil, mode)


def _fixed_pool5(form: str, pool5_kernel: int) -> None:
    if pool5_kernel != 2:
        raise ArgumentError("pool5_kernel", pool5_kernel, f"2 for form {form!r} (fixed)")


def chen_2d_form(tp: bool, pool5_kernel: int = 2) -> InceptionForm:
    """IBM GoogLeNet (TSN/TAM): ceil-mode max pools, then a k3 s2 temporal pool when `tp`."""
    _fixed_pool5("chen2d", pool5_kernel)
    tpool = (temporal_pool(),) if tp else ()
    pools = {
        "pool_2a": (_spatial_pool(3, 0, True, "max"),),
        "pool_3a": (_spatial_pool(3, 0, True, "max"), *tpool),
        "pool_4a": (_spatial_pool(3, 0, True, "max"), *tpool),
        "pool_5a": (_spatial_pool(2, 0, True, "max"), *tpool),
    }
    return InceptionForm("chen2d", 1, pools)


def chen_3d_form(tp: bool, pool5_kernel: int = 2) -> InceptionForm:
    """IBM i3d.py / s3d.py: one 3-D pool per stage, temporal stride 2 only when `tp`."""
    check_choice("pool5_kernel", pool5_kernel, (2, 3))
    ts = 2 if tp else 1
    if pool5_kernel == 2:  # IBM s3d.py, and the i3d.py revision behind most IBM rows
        pool5 = Pool((2, 2, 2), (ts, 2, 2))
    else:  # IBM i3d.py as published
        pool5 = Pool((3, 3, 3), (ts, 2, 2), (1, 1, 1))
    pools = {
        "pool_2a": (_spatial_pool(3, 1, False),),
        "pool_3a": (Pool((3, 3, 3), (ts, 2, 2), (1, 1, 1)),),
        "pool_4a": (Pool((3, 3, 3), (ts, 2, 2), (1, 1, 1)),),
        "pool_5a": (pool5,),
    }
    return InceptionForm("chen3d", 1, pools)


def xie_form(tp: bool = False, pool5_kernel: int = 2) -> InceptionForm:
    """The TF I3D/S3D-G form used by Xie et al.: temporal strides in conv_1a, pool_4a, pool_5a."""
    if tp:
        raise ArgumentError(
            "temporal_pool", tp, "False for form 'xie' (its temporal strides are part of the form)"
        )
    _fixed_pool5("xie", pool5_kernel)
    pools = {
        "pool_2a": (_spatial_pool(3, 1, False, "max"),),
        "pool_3a": (_spatial_pool(3, 1, False, "max"),),
        "pool_4a": (Pool((3, 3, 3), (2, 2, 2), (1, 1, 1), mode="max"),),
        "pool_5a": (Pool((2, 2, 2), (2, 2, 2), mode="max"),),
    }
    return InceptionForm("xie", 2, pools)


FORMS: dict[str, Callable[[bool, int], InceptionForm]] = {
    "chen2d": chen_2d_form,
    "chen3d": chen_3d_form,
    "xie": xie_form,
}


def heavy_ops(
    heavy: str, transition: str, op: str | OpSpec, flat: str | OpSpec = "2d"
) -> tuple[OpSpec, ...]:
    """Operators for SLOTS of a top-/bottom-heavy model switching at block `transition`.

    Top-heavy: `flat` below `transition`, `op` from it on. Bottom-heavy: `op` below it,
    `flat` from it on (Xie et al. Sec. 4.2: `flat` is 2D).
    """
    check_choice("heavy", heavy, ("top", "bottom"))
    if transition not in TRANSITIONS:
        raise ArgumentError(
            "transition",
            transition,
            f"{', '.join(TRANSITIONS)} (the block where 2D and 3D meet)",
        )
    cut = SLOTS.index(transition)
    low, high = (as_op(flat), as_op(op)) if heavy == "top" else (as_op(op), as_op(flat))
    return tuple(low if i < cut else high for i in range(len(SLOTS)))


def _kt(spec: OpSpec) -> int:
    """The operator's temporal extent."""
    return get_operator(spec.name).temporal_kernel(spec)


def _legacy_separable_keys(module: nn.Module, state_dict: dict, prefix: str, *args: Any) -> None:
    # Checkpoints from before the separable conv became the sep3d operator named its parts
    # body.spatial / bn_s / temporal / bn_t; same tensors, same order.
    renames = {
        "body.spatial.": "body.0.spatial.",
        "body.bn_s.": "body.0.mid.0.",
        "body.temporal.": "body.0.temporal.",
        "body.bn_t.": "body.1.",
    }
    for key in [k for k in state_dict if k.startswith(prefix)]:
        for old, new in renames.items():
            if key.startswith(prefix + old):
                state_dict[prefix + new + key[len(prefix + old) :]] = state_dict.pop(key)


class ConvUnit(nn.Module):
    """operator -> BN (unless the operator's layout drops it) -> ReLU, for one conv slot."""

    runs_per_frame = children_frame_wise

    def __init__(
        self,
        spec: OpSpec,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        where: str,
        stride: int = 1,
        temporal_stride: int = 1,
    ) -> None:
        super().__init__()
        conv = make_operator(
            spec,
            in_channels,
            out_channels,
            kernel_size,
            stride,
            temporal_stride,
            where=where,
            norm_eps=NORM_EPS,
        )
        keep = get_operator(spec.name).norm_after(spec)
        norm = nn.BatchNorm3d(out_channels, eps=NORM_EPS) if keep else nn.Identity()
        self.body = nn.Sequential(conv, norm, nn.ReLU(True))
        self.register_load_state_dict_pre_hook(_legacy_separable_keys)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class InceptionBlock(nn.Module):
    """Four-branch Inception block; `spec` fills the two 3x3 slots, its 1x1 companions the rest."""

    runs_per_frame = children_frame_wise

    def __init__(
        self,
        channels: tuple[int, int, int, int, int, int, int],
        spec: OpSpec,
        where: str,
        gating: bool = False,
    ) -> None:
        super().__init__()
        cin, c1, c3r, c3, c5r, c5, cp = channels
        operator = get_operator(spec.name)
        alone, reduce = operator.pointwise(spec, True), operator.pointwise(spec, False)
        self.op = spec.name
        self.branch1 = ConvUnit(alone, cin, c1, 1, where)
        self.branch2 = nn.Sequential(
            ConvUnit(reduce, cin, c3r, 1, where), ConvUnit(spec, c3r, c3, 3, where)
        )
        self.branch3 = nn.Sequential(
            ConvUnit(reduce, cin, c5r, 1, where), ConvUnit(spec, c5r, c5, 3, where)
        )
        kt = _kt(spec)
        self.branch4 = nn.Sequential(
            Pool((kt, 3, 3), (1, 1, 1), (kt // 2, 1, 1), mode="max").make(),
            ConvUnit(alone, cin, cp, 1, where),
        )
        outs = (c1, c3, c5, cp)
        self.gates = nn.ModuleList(FeatureGating(c) if gating else nn.Identity() for c in outs)
        self.out_channels = sum(outs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([g(b(x)) for b, g in zip(branches, self.gates, strict=True)], 1)


@dataclass(frozen=True)
class InceptionPlan:
    """A full InceptionV1 variant: form, stem operator, one operator per slot, extras.

    `temporal` names a registered temporal module placed after every conv unit and block
    (IBM's TAM GoogLeNet); `gating` adds feature gating to every slot with a temporal
    operator (S3D-G).
    """

    form: InceptionForm
    stem: OpSpec
    ops: tuple[OpSpec, ...]
    tp_pool: str = "max"
    temporal: str | None = None
    gating: bool = False
    dropout: float = 0.5

    def build(self, num_classes: int, frames: int) -> InceptionV1:
        """The module for `num_classes` classes and clips of `frames` frames."""
        return InceptionV1(self, num_classes, frames)

    def walk(self, n: int, axis: int) -> int:
        """Length along `axis` (0=t, 1=h) after every strided layer; 0 if a layer fails."""
        k, s = (_kt(self.stem), self.form.stem_temporal_stride) if axis == 0 else (7, 2)
        n = (n + 2 * (k // 2) - k) // s + 1 if n >= 1 else 0
        for name in POOLS:
            for pool in self.form.pools[name]:
                n = pool.out_size(n, axis) if n >= 1 else 0
        return n

    def min_input(self) -> tuple[int, int]:
        """Smallest spatial size and frame count every stride and pool accepts."""
        size = next(s for s in range(1, 1024) if self.walk(s, 1) >= 1)
        frames = next(t for t in range(1, 1024) if self.walk(t, 0) >= 1)
        return size, frames

    def summary(self) -> ArchSummary:
        """Stem, per-slot operators and where T is halved, in words."""
        extra = f"+{self.temporal}" if self.temporal else ""
        down = [("temporal stride 2", "conv_1a")] if self.form.stem_temporal_stride > 1 else []
        for name in POOLS:
            down += [
                (p.label(self.tp_pool), name) for p in self.form.pools[name] if p.stride[0] > 1
            ]
        return ArchSummary(
            stem=f"{self.stem}{extra}",
            operators=tuple(f"{o.name}{extra}" for o in self.ops),
            temporal_pool=join_places(down),
            slots=tuple(zip(SLOTS, self.ops, strict=True)),
        )


class InceptionV1(nn.Module):
    """InceptionV1 video backbone + classifier: (B, 3, T, H, W) -> (B, num_classes)."""

    def __init__(self, plan: InceptionPlan, num_classes: int, frames: int) -> None:
        super().__init__()
        self.plan, self.frames = plan, frames
        self.min_size, self.min_frames = plan.min_input()
        check_min_frames(frames, self.min_frames, f"temporal striding of form {plan.form.name}")
        ops = dict(zip(SLOTS, plan.ops, strict=True))
        layers: dict[str, nn.Module] = {}
        stem_t = plan.form.stem_temporal_stride
        k = _kt(plan.stem)
        t = (frames + 2 * (k // 2) - k) // stem_t + 1  # T after conv_1a, for temporal modules

        def add(name: str, module: nn.Module, channels: int = 0) -> None:
            # A conv unit or block (`channels` > 0) is followed by the plan's temporal module.
            layers[name] = module
            if channels and plan.temporal:
                layers[f"{plan.temporal}_{name}"] = make_temporal(plan.temporal, channels, t)

        add("conv_1a", ConvUnit(plan.stem, 3, 64, 7, "conv_1a", 2, stem_t), 64)
        add("pool_2a", self._pools("pool_2a"))
        t = self._frames_after("pool_2a", t)
        conv_2b = get_operator(ops["conv_2c"].name).pointwise(ops["conv_2c"], False)
        add("conv_2b", ConvUnit(conv_2b, 64, 64, 1, "conv_2b"), 64)
        conv_2c: nn.Module = ConvUnit(ops["conv_2c"], 64, 192, 3, "conv_2c")
        if plan.gating and _kt(ops["conv_2c"]) > 1:
            conv_2c = nn.Sequential(conv_2c, FeatureGating(192))
        add("conv_2c", conv_2c, 192)
        for name, channels in BLOCK_CHANNELS.items():
            if name in POOL_BEFORE:
                add(POOL_BEFORE[name], self._pools(POOL_BEFORE[name]))
                t = self._frames_after(POOL_BEFORE[name], t)
            block = InceptionBlock(channels, ops[name], name, plan.gating and _kt(ops[name]) > 1)
            add(name, block, block.out_channels)
        self.features = nn.Sequential(OrderedDict(layers))
        self.head = ClassifierHead(FEATURES, num_classes, plan.dropout)
        self._folds = frame_wise_flags(self.features)  # frame-wise runs go folded (layout.py)

    def _pools(self, name: str) -> nn.Module:
        return nn.Sequential(*(p.make(self.plan.tp_pool) for p in self.plan.form.pools[name]))

    def _frames_after(self, name: str, t: int) -> int:
        for pool in self.plan.form.pools[name]:
            t = pool.out_size(t, 0)
        return t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.frames, self.min_size)
        batch = x.shape[0]
        return self.head(unfolded(run_chain(self.features, self._folds, x, batch), batch))

    def block_ops(self) -> dict[str, str]:
        """Operator of every conv slot, bottom to top (conv_1a is the stem's)."""
        return {
            "conv_1a": self.plan.stem.name,
            **{s: o.name for s, o in zip(SLOTS, self.plan.ops, strict=True)},
        }


def inception_v1(
    *,
    form: str = "chen2d",
    stem: str | OpSpec = "2d",
    op: str | OpSpec = "2d",
    heavy: str | None = None,
    transition: str | None = None,
    temporal_pool: bool = False,
    tp_pool: str = "max",
    temporal: str | None = None,
    gating: bool = False,
    pool5_kernel: int = 2,
    stem_temporal_kernel: int | None = None,
    dropout: float = 0.5,
    **operator_args: Any,
) -> InceptionPlan:
    """Plan an InceptionV1 video model from a handful of spec-level choices.

    `form` is "chen2d" (TSN/TAM), "chen3d" (I3D/S3D) or "xie"; `temporal_pool` adds the IBM
    temporal striding (chen forms), `tp_pool` picks avg/max for the pools a form leaves open,
    `pool5_kernel` (chen3d) 2 or 3. `stem` is conv_1a's operator (`stem_temporal_kernel`
    sets its temporal kernel: 1 gives I2D's 1x7x7 stem). Every slot gets `op` unless `heavy`
    ("top"/"bottom") and `transition` (a block name) make a top-/bottom-heavy model. Other
    keyword arguments go to every slot whose operator takes them.
    """
    check_choice("form", form, FORMS)
    if (heavy is None) != (transition is None):
        raise ArgumentError(
            "transition",
            transition,
            "set together with heavy (a top-/bottom-heavy model) or both None",
            f" with heavy={heavy!r}",
        )
    ops = heavy_ops(heavy, transition, op) if heavy is not None else (as_op(op),) * len(SLOTS)
    slots = {s: checked(o, s) for s, o in zip(SLOTS, ops, strict=True)}
    slots = route_args(slots, operator_args, inception_v1)
    inception_form = FORMS[form](temporal_pool, pool5_kernel)
    check_choice("tp_pool", tp_pool, POOL_MODES)
    open_pools = any(p.mode is None for ps in inception_form.pools.values() for p in ps)
    if tp_pool != "max" and not open_pools:
        raise ArgumentError("tp_pool", tp_pool, f"'max' for form {form!r} (its pools are fixed)")
    if temporal is not None:
        get_temporal(temporal)
    stem_spec = as_op(stem)
    if stem_temporal_kernel is not None:
        stem_spec = stem_spec.with_args(temporal_kernel=stem_temporal_kernel)
    return InceptionPlan(
        inception_form,
        checked(stem_spec, "conv_1a"),
        tuple(slots.values()),
        tp_pool,
        temporal,
        gating,
        dropout,
    )
