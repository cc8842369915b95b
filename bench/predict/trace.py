"""Op-level trace of a forward (or training) pass without real tensors: the device model's input.

A ``TorchDispatchMode`` records every aten op of a pass on ``meta`` tensors (no data, no
compute) with: MACs (conv + linear + matmul multiply-accumulates, as in
``bench.count.counting``), FLOPs (2 per MAC, one per element for everything else: a lower bound),
bytes read and written (compulsory traffic: each input read once, each output written once,
at the tensors' own dtype, broadcast dimensions counted once), whether it launches a kernel
(views and bare allocations do not), and the module, stage and phase it ran in.

It also records the storages each op creates and touches, and the moment each storage is
freed. Frees are *observed*: every tensor carries a finalizer, so a storage is freed when its
last tensor dies. On ``meta`` the same Python code holds the same references as on a GPU, so
these are the lifetimes of a real run (``bench.predict.memsim`` also derives ideal free-at-last-use
lifetimes from the same records). The same tracer runs on real CPU tensors to validate this.

``dtype`` bfloat16/float16 emulates CUDA autocast (what ``stbench profile --dtype`` runs):
convolutions and matrix products cast their inputs to the low dtype (casts of parameters are
cached until the autocast region ends, as ``torch.autocast`` does), softmax/log-softmax and
layer/group norm run in float32, every other op runs in its inputs' dtype. Autocast itself
does nothing on ``meta``, hence the emulation; its lists follow the PyTorch AMP docs
(https://pytorch.org/docs/stable/amp.html#cuda-op-specific-behavior).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from stbench.bench.count.counting import ModuleTracker, check_input_shape, classify
from stbench.bench.count.handles import conv_macs
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

TRACE_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
OPTIMIZERS = ("sgd", "adamw")
# Ops that allocate without launching a kernel, and ops whose first argument is overwritten
# without being read.
ALLOC_ONLY = frozenset(
    {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "empty_permuted"}
)
OVERWRITE = frozenset({"copy_", "fill_", "zero_", "normal_", "uniform_", "bernoulli_"})
NORM_BACKWARD = ("batch_norm", "layer_norm", "group_norm")
DATA_MOVEMENT = "memory"  # copies, casts, cat, fills: kernels that move bytes but do no math
MATMUL_CATEGORIES = frozenset({"conv", "linear", "matmul"})


@dataclass(frozen=True)
class TraceOp:
    """One aten op of a traced pass: where it ran, what it cost and which storages it touched."""

    index: int
    op: str  # aten op name, e.g. "convolution"
    phase: str  # forward | backward | optimizer
    module: str  # qualified name of the innermost module ("" = the model itself)
    stage: str  # e.g. "stages.2", "features.mixed_4b", "head" ("" = the model itself)
    category: str  # conv | linear | matmul | pool | norm | elementwise | memory | view | alloc
    kind: str  # category, refined for convolutions (conv_3d, conv_depthwise, ...)
    macs: int
    flops: int
    bytes_read: int
    bytes_written: int
    launches_kernel: bool
    allocs: tuple[int, ...]  # storage ids this op created
    uses: tuple[int, ...]  # storage ids this op read or wrote
    gemm_min_dim: int = 0  # smaller of a GEMM's N and K (0: not a GEMM, or a conv backward)


@dataclass
class Storage:
    """One storage of the pass: size, role and lifetime in op indices (inclusive)."""

    sid: int
    nbytes: int
    category: str  # activation | parameter | buffer | input | gradient | optimizer_state | autocast_weight
    created: int  # index of the op that created it; -1 = existed before the trace
    freed: int | None = None  # index of the last op it was alive for; None = alive at the end


@dataclass
class Trace:
    """Every recorded op and storage of one pass, with its input and settings."""

    ops: list[TraceOp]
    storages: dict[int, Storage]
    input_shape: tuple[int, ...]
    dtype: str
    training: bool
    optimizer: str | None = None
    phases: dict[str, tuple[int, int]] = field(default_factory=dict)  # phase -> [start, end)

    def __len__(self) -> int:
        return len(self.ops)


def unique_bytes(t: torch.Tensor) -> int:
    """Bytes a kernel must touch at least once: elements along stride-0 dims count once."""
    n = math.prod(s for s, st in zip(t.shape, t.stride(), strict=True) if st != 0)
    return n * t.element_size() if t.numel() else 0


def conv_kind(weight_shape: Sequence[int], groups: int) -> str:
    """Convolution family from its weight shape: 3d, spatial, temporal, pointwise, depthwise..."""
    cin_per_group = int(weight_shape[1])
    if groups > 1:
        return "conv_depthwise" if cin_per_group == 1 else "conv_grouped"
    k = [int(s) for s in weight_shape[2:]]
    temporal = len(k) == 3 and k[0] > 1
    spatial = any(s > 1 for s in (k[1:] if len(k) == 3 else k))
    if temporal and spatial:
        return "conv_3d"
    if temporal:
        return "conv_temporal"
    return "conv_spatial" if spatial else "conv_pointwise"


def stage_names(model: nn.Module) -> dict[str, bool]:
    """Top-level children of ``model`` and whether their own children are stages.

    Indexed containers (ModuleList/ModuleDict) and Sequentials with named children (the
    Inception ``features``) hold stages (``stages.2``, ``features.mixed_4b``); anything
    else (``stem``, ``head``) is one stage itself.
    """
    out: dict[str, bool] = {}
    for name, child in model.named_children():
        names = [n for n, _ in child.named_children()]
        indexed = isinstance(child, (nn.ModuleList, nn.ModuleDict))
        named_seq = isinstance(child, nn.Sequential) and any(not n.isdigit() for n in names)
        out[name] = bool(names) and (indexed or named_seq)
    return out


def stage_of(module: str, stages: dict[str, bool]) -> str:
    """The stage of a qualified module name (see :func:`stage_names`)."""
    if not module:
        return ""
    parts = module.split(".")
    return ".".join(parts[:2]) if stages.get(parts[0]) and len(parts) > 1 else parts[0]


class _Book:
    """Live storages of the pass, keyed by storage; frees observed through tensor finalizers."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.storages: dict[int, Storage] = {}
        self.count = 0  # ops recorded so far
        self._by_key: dict[int, int] = {}  # live storage address -> sid
        self._holders: dict[int, int] = {}  # sid -> live tensors on it
        self._seen: dict[int, int] = {}  # id(tensor) -> sid
        self.closed = False  # set when the pass ends: later frees are not part of it

    def tracks(self, t: Any) -> bool:
        return isinstance(t, torch.Tensor) and t.device == self.device

    def sid(self, t: torch.Tensor) -> int | None:
        """The storage id of a tensor already seen (or of a live storage it views)."""
        sid = self._seen.get(id(t))
        return sid if sid is not None else self._by_key.get(t.untyped_storage()._cdata)

    def hold(self, t: torch.Tensor, category: str, created: int) -> tuple[int, bool]:
        """Register ``t`` (once); return its storage id and whether the storage is new."""
        sid = self._seen.get(id(t))
        if sid is not None:
            return sid, False
        key = t.untyped_storage()._cdata
        sid = self._by_key.get(key)
        new = sid is None
        if new:
            sid = len(self.storages)
            nbytes = t.untyped_storage().nbytes()
            self.storages[sid] = Storage(sid, nbytes, category, created)
            self._by_key[key] = sid
            self._holders[sid] = 0
        self._holders[sid] += 1
        self._seen[id(t)] = sid
        weakref.finalize(t, self._release, id(t), sid, key).atexit = False
        return sid, new

    def _release(self, tid: int, sid: int, key: int) -> None:
        if self.closed:
            return
        self._seen.pop(tid, None)
        self._holders[sid] -= 1
        if self._holders[sid] == 0:
            del self._holders[sid]
            self._by_key.pop(key, None)
            self.storages[sid].freed = max(self.count - 1, self.storages[sid].created)


def _mutated(func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> list[tuple[Any, bool]]:
    """(argument, overwritten-without-read) for every argument the op writes in place."""
    out = []
    op = func.overloadpacket.__name__
    for i, a in enumerate(func._schema.arguments):
        if a.alias_info is None or not a.alias_info.is_write:
            continue
        value = args[i] if i < len(args) else kwargs.get(a.name)
        for t in tree_flatten(value)[0]:
            out.append((t, a.kwarg_only or (i == 0 and op in OVERWRITE)))
    return out


def _classify(func: Any, args: Sequence[Any], out: Any, mod: nn.Module) -> tuple[str, str, int]:
    """(category, kind, value): value is MACs for conv/linear/matmul, elements otherwise."""
    op = func.overloadpacket.__name__
    if op == "convolution_backward":
        grad_out, x, w = args[0], args[1], args[2]
        mask = args[10] if len(args) > 10 else (True, True, True)
        macs = conv_macs(x.shape, w.shape, grad_out.shape, bool(args[7]))
        return "conv", conv_kind(w.shape, int(args[9])), macs * (int(mask[0]) + int(mask[1]))
    hit = classify(func, args, out, mod)
    if hit is not None:
        cat, value = hit
        if cat == "conv":
            groups = int(args[8]) if len(args) > 8 else 1
            return cat, conv_kind(args[1].shape, groups), value
        return cat, cat, value
    first = next((t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)), None)
    n = first.numel() if first is not None else 0
    if any(s in op for s in NORM_BACKWARD):
        return "norm", "norm", n
    if op.endswith("_backward"):
        return "elementwise", "elementwise", n
    return DATA_MOVEMENT, DATA_MOVEMENT, 0


def gemm_min_dim(category: str, macs: int, out: Any) -> int:
    """The smaller of a GEMM's output columns N and reduction length K, from its output and MACs.

    A convolution's output is ``(B, C_out, ...)`` (N = C_out, K = C_in/groups x kernel volume);
    a linear layer's or matrix product's is ``(..., M, N)``. K = MACs / output elements. 0 when
    ``category`` is not a GEMM or the output is not one tensor (a convolution backward's
    gradients); a linear layer's backward products are ``mm`` ops and get theirs.
    """
    if category not in MATMUL_CATEGORIES or not isinstance(out, torch.Tensor) or out.dim() < 2:
        return 0
    n = int(out.shape[1] if category == "conv" else out.shape[-1])
    k = macs // max(out.numel(), 1)
    return min(n, k)


def _dense_like_kernels(op: str, out: Any) -> Any:
    """Batch-norm outputs in the layout the CPU and CUDA kernels give them.

    Those kernels allocate outputs in the input's suggested memory format (contiguous
    unless channels-last), while the meta kernels keep the input's strides; a strided BN
    output would let the next per-frame reshape be a view where a real run copies.
    """
    if "batch_norm" not in op or not isinstance(out, (tuple, list)):
        return out
    first = out[0]
    formats = {4: torch.channels_last, 5: torch.channels_last_3d}
    if not isinstance(first, torch.Tensor) or first.is_contiguous():
        return out
    if first.dim() in formats and first.is_contiguous(memory_format=formats[first.dim()]):
        return out
    dense = torch.empty(first.shape, dtype=first.dtype, device=first.device)
    return type(out)([dense, *out[1:]])


class Tracer(TorchDispatchMode):
    """Dispatch mode recording a :class:`TraceOp` per aten op touching ``device`` tensors."""

    def __init__(self, model: nn.Module, device: torch.device | str = "meta") -> None:
        super().__init__()
        self.model = model
        self.book = _Book(torch.device(device))
        self.ops: list[TraceOp] = []
        self.phase = "forward"
        self.modules = ModuleTracker(model)
        self._stages = stage_names(model)

    def hold(self, t: torch.Tensor, category: str) -> int:
        """Register a tensor that exists before the trace (weights, input, state)."""
        return self.book.hold(t, category, -1)[0]

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        book = self.book
        if book.device.type == "meta":
            out = _dense_like_kernels(func.overloadpacket.__name__, out)
        inputs = [t for t in tree_flatten((args, kwargs))[0] if book.tracks(t)]
        outputs = [t for t in tree_flatten(out)[0] if book.tracks(t)]
        if not inputs and not outputs:
            return out
        index = book.count
        op = func.overloadpacket.__name__
        mutated = _mutated(func, args, kwargs)
        skip_read = {id(t) for t, overwritten in mutated if overwritten}
        uses = {s for t in inputs if (s := book.sid(t)) is not None}
        allocs = []
        for t in outputs:
            sid, new = book.hold(t, "activation", index)
            uses.add(sid)
            if new:
                allocs.append(sid)
        written = {id(t): t for t, _ in mutated}
        if allocs and op not in ALLOC_ONLY:
            written.update((id(t), t) for t in outputs if book.sid(t) in allocs)
        module, mod = self.modules.current
        if written:
            category, kind, value = _classify(func, args, out, mod)
            read = sum(unique_bytes(t) for t in inputs if id(t) not in skip_read)
            wbytes = sum(unique_bytes(t) for t in written.values())
        else:
            category = kind = "alloc" if allocs else "view"
            value = read = wbytes = 0
        macs = value if category in MATMUL_CATEGORIES else 0
        self.ops.append(
            TraceOp(
                index=index,
                op=op,
                phase=self.phase,
                module=module,
                stage=stage_of(module, self._stages),
                category=category,
                kind=kind,
                macs=macs,
                flops=2 * macs if category in MATMUL_CATEGORIES else value,
                bytes_read=read,
                bytes_written=wbytes,
                launches_kernel=bool(written),
                allocs=tuple(allocs),
                uses=tuple(sorted(uses)),
                gemm_min_dim=gemm_min_dim(category, macs, out),
            )
        )
        book.count += 1
        return out

    @contextmanager
    def in_phase(self, phase: str) -> Iterator[None]:
        """Label the ops recorded inside the block with ``phase``."""
        previous, self.phase = self.phase, phase
        try:
            yield
        finally:
            self.phase = previous


# ------------------------------------------------------------------ autocast emulation

_LOW_PRECISION = (
    torch.conv1d,
    torch.conv2d,
    torch.conv3d,
    torch.conv_transpose1d,
    torch.conv_transpose2d,
    torch.conv_transpose3d,
    F.linear,
    torch.matmul,
    torch.Tensor.matmul,
    torch.Tensor.__matmul__,
    torch.mm,
    torch.Tensor.mm,
    torch.bmm,
    torch.Tensor.bmm,
    torch.addmm,
    torch.baddbmm,
)
_FLOAT32 = (
    torch.softmax,
    F.softmax,
    torch.Tensor.softmax,
    torch.log_softmax,
    F.log_softmax,
    torch.Tensor.log_softmax,
    F.layer_norm,
    F.group_norm,
    F.cross_entropy,
    F.nll_loss,
)


class AutocastEmulation(TorchFunctionMode):
    """CUDA autocast's casting policy, applied above autograd so casts are differentiable."""

    def __init__(self, dtype: torch.dtype) -> None:
        super().__init__()
        self.dtype = dtype
        self._cache: dict[int, torch.Tensor] = {}  # cast leaf parameters, until the mode exits

    def _cast(self, t: Any, dtype: torch.dtype) -> Any:
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.dtype == dtype:
            return t
        if dtype == self.dtype and t.is_leaf and t.requires_grad:
            if id(t) not in self._cache:
                self._cache[id(t)] = t.to(dtype)
            return self._cache[id(t)]
        return t.to(dtype)

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func in _LOW_PRECISION or func in _FLOAT32:
            dtype = self.dtype if func in _LOW_PRECISION else torch.float32
            args = tuple(self._cast(a, dtype) for a in args)
            kwargs = {k: self._cast(v, dtype) for k, v in kwargs.items()}
        return func(*args, **kwargs)

    def __exit__(self, *exc: Any) -> Any:
        self._cache.clear()
        return super().__exit__(*exc)


def _precision(dtype: str) -> Callable[[], Any]:
    low = check_trace_dtype(dtype)
    return (lambda: AutocastEmulation(low)) if low != torch.float32 else ExitStack


def check_trace_dtype(dtype: str) -> torch.dtype:
    """The torch dtype of a run dtype name (float32, bfloat16, float16)."""
    if dtype not in TRACE_DTYPES:
        raise ValueError(f"dtype: got {dtype!r}; allowed: {', '.join(TRACE_DTYPES)}")
    return TRACE_DTYPES[dtype]


# ------------------------------------------------------------------ running a pass


def _on(model: nn.Module, device: torch.device) -> None:
    for t in (*model.parameters(), *model.buffers()):
        if t.device != device:
            raise ValueError(
                f"model: its tensors are on {t.device}; allowed: all on {device} "
                "(build zoo models with stbench.bench.count.static.build_zoo_model(..., device='meta'))"
            )


def make_input(shape: Sequence[int], device: torch.device) -> torch.Tensor:
    """The pass's input clip: random on a real device, storage only on ``meta``."""
    if device.type == "meta":
        return torch.empty(tuple(shape), device=device)
    return torch.randn(tuple(shape), device=device)


def make_optimizer(name: str, params: Sequence[torch.Tensor]) -> torch.optim.Optimizer:
    """SGD with momentum 0.9 or AdamW, with the multi-tensor (foreach) step used on GPUs."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4, foreach=True)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05, foreach=True)
    raise ValueError(f"optimizer: got {name!r}; allowed: {', '.join(OPTIMIZERS)}")


def warm_optimizer(model: nn.Module, name: str) -> torch.optim.Optimizer:
    """``name``'s optimizer over the trainable parameters, its state created by one step on
    zero gradients (the state of every later step; weight decay moves the weights a little)."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(name, params)
    for p in params:
        p.grad = torch.zeros_like(p)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return opt


def training_step(
    model: nn.Module,
    x: torch.Tensor,
    opt: torch.optim.Optimizer,
    *,
    dtype: str = "float32",
    tracer: Tracer | None = None,
) -> None:
    """Forward and cross-entropy (under the dtype's autocast), backward, optimizer step and
    ``zero_grad(set_to_none=True)``; phases and gradients labelled on ``tracer`` if given."""
    phase = tracer.in_phase if tracer is not None else (lambda _name: ExitStack())
    with _precision(dtype)():
        out = model(x)
        loss = F.cross_entropy(out, torch.zeros(x.shape[0], dtype=torch.long, device=x.device))
    del out
    with phase("backward"):
        loss.backward()
    if tracer is not None:
        for group in opt.param_groups:
            for p in group["params"]:
                if p.grad is not None and (sid := tracer.book.sid(p.grad)) is not None:
                    tracer.book.storages[sid].category = "gradient"
    with phase("optimizer"):
        opt.step()
        opt.zero_grad(set_to_none=True)


@contextmanager
def _tracing(
    model: nn.Module,
    input_shape: Sequence[int],
    device: str | torch.device,
    dtype: str,
    optimizer: str | None,
) -> Iterator[tuple[Tracer, torch.Tensor, torch.optim.Optimizer | None]]:
    """Check the request, set the model's mode, register what exists before the pass."""
    shape = check_input_shape(input_shape)
    dev = torch.device(device)
    _on(model, dev)
    check_trace_dtype(dtype)
    opt = warm_optimizer(model, optimizer) if optimizer is not None else None
    was_training = model.training
    model.train(opt is not None)
    tracer = Tracer(model, dev)
    x = make_input(shape, dev)
    try:
        for p in model.parameters():
            tracer.hold(p, "parameter")
        for b in model.buffers():
            tracer.hold(b, "buffer")
        states = opt.state.values() if opt is not None else ()
        for t in (t for state in states for t in state.values()):
            if tracer.book.tracks(t):
                tracer.hold(t, "optimizer_state")
        tracer.hold(x, "input")
        yield tracer, x, opt
    finally:
        model.train(was_training)
        if opt is not None:
            opt.zero_grad(set_to_none=True)


def _finish(tracer: Tracer, x: torch.Tensor, dtype: str, optimizer: str | None) -> Trace:
    tracer.book.closed = True
    phases: dict[str, tuple[int, int]] = {}
    for op in tracer.ops:
        start, _ = phases.get(op.phase, (op.index, 0))
        phases[op.phase] = (start, op.index + 1)
    shape = tuple(x.shape)
    trace = Trace(tracer.ops, tracer.book.storages, shape, dtype, optimizer is not None, optimizer)
    trace.phases = phases
    _label_autocast_weights(trace)
    return trace


def trace_forward(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    dtype: str = "float32",
    device: str | torch.device = "meta",
) -> Trace:
    """Trace one inference forward (eval mode, ``no_grad``) of ``model`` at ``input_shape``."""
    with _tracing(model, input_shape, device, dtype, None) as (tracer, x, _):
        with torch.no_grad(), tracer.modules, tracer, _precision(dtype)():
            model(x)
        return _finish(tracer, x, dtype, None)


def trace_training_step(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    dtype: str = "float32",
    optimizer: str = "sgd",
    device: str | torch.device = "meta",
) -> Trace:
    """Trace one steady-state training step (see :func:`training_step`).

    The optimizer's state exists before the step (as from the second step on); gradients are
    created by the backward and dropped by ``zero_grad(set_to_none=True)`` after the step.
    """
    with _tracing(model, input_shape, device, dtype, optimizer) as (tracer, x, opt):
        with tracer.modules, tracer:
            training_step(model, x, opt, dtype=dtype, tracer=tracer)
        return _finish(tracer, x, dtype, optimizer)


def _label_autocast_weights(trace: Trace) -> None:
    """Label storages cast from parameters under autocast (``_to_copy`` of a parameter)."""
    roles = trace.storages
    for op in trace.ops:
        if op.op == "_to_copy" and op.allocs:
            sources = [roles[s].category for s in op.uses if s not in op.allocs]
            if sources and all(c == "parameter" for c in sources):
                for s in op.allocs:
                    roles[s].category = "autocast_weight"
