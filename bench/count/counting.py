"""Static counting of params and MACs on the ``meta`` device (no real tensors needed).

One MAC is one multiply-accumulate (the papers' "FLOPs"); ``flops = 2 * macs``. The
headline ``macs`` scope is convolutions + linear layers (the IBM table's "Flops" column
equals ``conv_macs`` at 224x224: the FC layer is excluded). Matrix products outside
``nn.Linear`` (attention, non-local blocks: ``aten.bmm``/``mm``) are MACs of their own
category, ``matmul_macs``, reported beside conv and linear and included in
``total_macs`` = conv + linear + matmul. ``other`` holds only element counts (one per
element touched) of pooling, reductions, normalisation and elementwise ops, per aten op,
so the scope of every number is explicit.

Counting is done by a ``TorchDispatchMode`` that sees every aten op after
decomposition, so functional convolutions (``F.conv3d`` outside a module) and
``nn.Conv3d`` subclasses are counted like any other convolution. The pass runs every
operator's reference formulation (``models/formulations.py``: TAM as its depthwise conv),
whatever the device, so the count is the design's and never depends on where it runs.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import torch
from stbench.bench.count.handles import (
    UNCOUNTED,
    apply_handle,
    first_tensor,
    handle_for,
    handle_key,
)
from stbench.bench.count.macs_scope import MATMUL_FLAG_SHARE, matmul_flag, uncounted_flag
from stbench.models.formulations import REFERENCE, forced
from stbench.zoo.usercode import check_output
from torch import nn
from torch.func import functional_call
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.module_tracker import ModuleTracker as TorchModuleTracker

COUNTER_NAME = "meta"
SCOPE_CONV_LINEAR = "conv+linear"
SCOPE_NOTE = (
    "macs = conv + linear multiply-accumulates (bias adds excluded); matmul_macs = matmul/bmm "
    "MACs outside nn.Linear (attention, non-local); total_macs = macs + matmul_macs; "
    "other = element counts of pooling/reduction/norm/elementwise ops (not MACs)"
)
MAC_CATEGORIES = ("conv", "linear", "matmul")


@dataclass(frozen=True)
class OpRecord:
    """One counted aten op: where it ran, what it was and how much it cost."""

    module: str  # qualified name of the innermost module running the op ("" = root)
    module_type: str
    op: str  # aten op name, e.g. "convolution"
    category: str  # conv | linear | matmul | pool | norm | elementwise
    value: int  # MACs for conv/linear/matmul, elements for the rest
    in_conv_module: bool  # the op ran directly inside an nn.modules.conv._ConvNd


@dataclass
class StaticCount:
    """Params and MACs of one model at one input shape, with the counter and scope.

    ``macs`` = conv + linear (the papers' convention); ``matmul_macs`` = matrix products
    outside ``nn.Linear``; ``other`` = element counts per aten op (no MACs in it)."""

    params: int
    macs: int
    conv_macs: int
    linear_macs: int
    other: dict[str, int]
    counter: str
    counter_version: str
    scope: str
    input_shape: tuple[int, ...]
    per_module: dict[str, int] | None = None
    other_by_category: dict[str, int] = field(default_factory=dict)
    output_shape: tuple[int, ...] | None = None
    records: list[OpRecord] = field(default_factory=list, repr=False, compare=False)
    # Elements of the largest tensor any op produced (a lower bound on activation memory).
    largest_activation: int = 0
    matmul_macs: int = 0
    # ops with no handle (`bench.count.handles`), "aten.<op>" -> calls: counted as nothing
    uncounted_ops: dict[str, int] = field(default_factory=dict)

    @property
    def flops(self) -> int:
        """FLOPs in the 2-per-MAC convention."""
        return 2 * self.macs

    @property
    def total_macs(self) -> int:
        """conv + linear + matmul MACs (``macs`` leaves matmul/bmm outside nn.Linear out)."""
        return self.macs + self.matmul_macs

    @property
    def other_elements(self) -> int:
        """Element counts of pooling, reductions, normalisation and elementwise ops."""
        return sum(self.other.values())

    def matmul_flag(self, share: float = MATMUL_FLAG_SHARE) -> str | None:
        """A one-line warning when matmul/bmm MACs are a sizeable share of total_macs."""
        ops = sorted({r.op for r in self.records if r.category == "matmul"})
        return matmul_flag(self.matmul_macs, self.total_macs, ops, share)

    def uncounted_flag(self) -> str | None:
        """A one-line warning naming the ops no handle counts (None when there are none)."""
        return uncounted_flag(self.uncounted_ops)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field (input_shape as a list)."""
        d = asdict(self)
        d.pop("records")
        d["input_shape"] = list(self.input_shape)
        d["output_shape"] = None if self.output_shape is None else list(self.output_shape)
        d["flops"] = self.flops
        d["total_macs"] = self.total_macs
        return d


class CountedRun(NamedTuple):
    """What one counted forward pass saw (`run_counted`)."""

    records: list[OpRecord]
    output_shape: tuple[int, ...] | None
    largest: int  # elements of the largest tensor an op produced (or of the input)
    uncounted: dict[str, int]  # "aten.<op>" -> calls, for ops no handle counts


class MetaUnsupportedError(RuntimeError):
    """The model's forward needs real data (e.g. ``.item()``), so it cannot run on meta."""


class ModuleTracker(TorchModuleTracker):
    """stbench's one module tracker (the counter's and the device-model trace's): torch's
    `ModuleTracker` (forward and backward, two global hooks), which also answers which of
    ``model``'s modules runs innermost (`current`)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.by_name = dict(model.named_modules())

    @property
    def current(self) -> tuple[str, nn.Module]:
        """Qualified name ("" = the root) and module of the innermost running module."""
        names = [n for n in self.parents if n != "Global"]
        if not names:
            return "", self.model
        name = max(names, key=lambda n: n.count(".")).partition(".")[2]
        return name, self.by_name.get(name, self.model)


def classify(func: Any, args: Sequence[Any], out: Any, mod: nn.Module) -> tuple[str, int] | None:
    """(category, value) of one aten op by its handle (`bench.count.handles`), or None when
    it does no arithmetic or has no handle (`uncounted` tells those apart)."""
    handle = handle_for(func)
    if handle is None or handle == UNCOUNTED:
        return None
    return apply_handle(handle, func, args, out, mod)


def uncounted(func: Any) -> bool:
    """Whether aten op `func` has no handle and is not declared arithmetic-free."""
    return handle_for(func) == UNCOUNTED


def _meta_batch_norm(x: torch.Tensor, *args: Any) -> tuple[torch.Tensor, ...]:
    """Shapes of aten.native_batch_norm on meta, without its slow Python decomposition."""
    c = x.shape[1]
    stats = torch.empty((c,), dtype=torch.float32, device=x.device)
    return torch.empty_like(x), stats, torch.empty_like(stats)


class OpCounter(TorchDispatchMode):
    """Dispatch mode recording an :class:`OpRecord` for every arithmetic aten op."""

    def __init__(self, tracker: ModuleTracker) -> None:
        super().__init__()
        self.tracker = tracker
        self.records: list[OpRecord] = []
        self.uncounted: dict[str, int] = {}
        self.largest = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if func is torch.ops.aten.native_batch_norm.default and args[0].is_meta:
            out = _meta_batch_norm(*args)
        else:
            out = func(*args, **(kwargs or {}))
        first = first_tensor(out)
        if first is not None and first.numel() > self.largest:
            self.largest = first.numel()
        name, mod = self.tracker.current
        handle = handle_for(func)
        if handle == UNCOUNTED:
            key = handle_key(func)
            self.uncounted[key] = self.uncounted.get(key, 0) + 1
            return out
        hit = None if handle is None else apply_handle(handle, func, args, out, mod)
        if hit is not None:
            cat, value = hit
            self.records.append(
                OpRecord(
                    module=name,
                    module_type=type(mod).__name__,
                    op=func.overloadpacket.__name__,
                    category=cat,
                    value=int(value),
                    in_conv_module=isinstance(mod, nn.modules.conv._ConvNd),
                )
            )
        return out


def check_input_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    """Validate a ``(B, C, T, H, W)``-style shape: a sequence of positive integers."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise ValueError(
            f"input_shape: got {input_shape!r}; allowed: a tuple of integers"
        ) from None
    if len(shape) < 2 or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape
    ):
        raise ValueError(
            f"input_shape: got {input_shape!r}; allowed: at least 2 integers >= 1, e.g. (1, 3, 8, 224, 224)"
        )
    return shape


def count_params(model: nn.Module) -> int:
    """Number of parameters (shared parameters once; buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


def _on_device(model: nn.Module, device: torch.device) -> bool:
    tensors = list(model.parameters()) + list(model.buffers())
    return all(t.device == device for t in tensors)


@contextlib.contextmanager
def _forward_on(model: nn.Module, device: torch.device) -> Iterator[Any]:
    """Yield a callable running ``model`` with its weights on ``device``, never mutating it."""
    if _on_device(model, device):
        yield model
        return

    state = {
        **{n: torch.empty_like(p, device=device) for n, p in model.named_parameters()},
        **{n: torch.empty_like(b, device=device) for n, b in model.named_buffers()},
    }
    if device.type != "meta":
        state = {n: t.zero_() for n, t in state.items()}
    yield lambda x: functional_call(model, state, (x,))


def record_ops(
    model: nn.Module, input_shape: Sequence[int], *, device: str | torch.device = "meta"
) -> list[OpRecord]:
    """Run one forward pass of ``model`` on ``input_shape`` and record every arithmetic op."""
    return run_counted(model, input_shape, device=device).records


def run_counted(
    model: nn.Module, input_shape: Sequence[int], *, device: str | torch.device = "meta"
) -> CountedRun:
    """Op records of one forward pass, the output's shape (None if not a tensor), the
    element count of the largest tensor an op produced and the ops no handle counts."""
    shape = check_input_shape(input_shape)
    dev = torch.device(device)
    was_training = model.training
    model.eval()
    try:
        with _forward_on(model, dev) as fwd, ModuleTracker(model) as tracker:
            x = torch.zeros(shape, device=dev)
            counter = OpCounter(tracker)
            with torch.no_grad(), forced(REFERENCE), counter:
                out = fwd(x)
    except (RuntimeError, IndexError, NotImplementedError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if dev.type == "meta" and (isinstance(exc, NotImplementedError) or "meta" in first.lower()):
            raise MetaUnsupportedError(
                f"{type(model).__name__} cannot run on meta: {first}"
            ) from exc
        raise ValueError(
            f"input_shape: {type(model).__name__} cannot run on input_shape {shape}: {first}"
        ) from exc
    finally:
        model.train(was_training)
    first = first_tensor(check_output(out))  # never None: a forward returns tensors
    out_shape = tuple(first.shape) if first is not None else None
    largest = max(counter.largest, math.prod(shape))
    return CountedRun(counter.records, out_shape, largest, counter.uncounted)


def summarize(
    records: Sequence[OpRecord],
    *,
    params: int,
    input_shape: Sequence[int],
    per_module: bool = False,
    output_shape: tuple[int, ...] | None = None,
) -> StaticCount:
    """Fold op records into a :class:`StaticCount`."""
    conv = sum(r.value for r in records if r.category == "conv")
    linear = sum(r.value for r in records if r.category == "linear")
    matmul = sum(r.value for r in records if r.category == "matmul")
    other: dict[str, int] = {}
    by_cat: dict[str, int] = {}
    for r in records:
        if r.category in MAC_CATEGORIES:
            continue
        other[f"aten.{r.op}"] = other.get(f"aten.{r.op}", 0) + r.value
        by_cat[r.category] = by_cat.get(r.category, 0) + r.value
    modules: dict[str, int] | None = None
    if per_module:
        modules = {}
        for r in records:
            if r.category in ("conv", "linear"):
                modules[r.module] = modules.get(r.module, 0) + r.value
    return StaticCount(
        params=params,
        macs=conv + linear,
        conv_macs=conv,
        linear_macs=linear,
        other=other,
        counter=COUNTER_NAME,
        counter_version=f"stbench dispatch counter, torch {torch.__version__}",
        scope=SCOPE_CONV_LINEAR,
        input_shape=tuple(input_shape),
        per_module=modules,
        other_by_category=by_cat,
        output_shape=output_shape,
        records=list(records),
        matmul_macs=matmul,
    )


def static_count(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    device: str | torch.device = "meta",
    per_module: bool = False,
) -> StaticCount:
    """Params and conv+linear MACs of ``model`` at ``input_shape`` (whole batch), on ``device``.

    The model is never modified: weights living elsewhere are swapped for empty tensors on
    ``device`` for the duration of the pass. Build zoo models directly on meta with
    ``with torch.device("meta"): create_model(...)`` to skip weight initialisation. A
    forward that needs real data on meta is counted on CPU zeros instead (noted in
    ``counter_version``).
    """
    shape = check_input_shape(input_shape)
    note = ""
    try:
        run = run_counted(model, shape, device=device)
    except MetaUnsupportedError:  # data-dependent forward: count on real (zero) CPU tensors
        run = run_counted(model, shape, device="cpu")
        note = " (meta unsupported: counted on cpu)"
    sc = summarize(
        run.records,
        params=count_params(model),
        input_shape=shape,
        per_module=per_module,
        output_shape=run.output_shape,
    )
    sc.counter_version += note
    sc.largest_activation = run.largest
    sc.uncounted_ops = dict(sorted(run.uncounted.items()))
    return sc
