"""Cross-check the meta counter against fvcore, ptflops (both backends) and torch's counter.

Counters disagree for known reasons, and each reason is reported, never hidden:

* ``ptflops-pytorch`` (module hooks) counts a module only when ``type(m)`` is exactly a
  known class: a subclass of ``nn.Conv3d`` counts as zero, functional ``F.conv3d`` calls
  are invisible; it adds bias additions, ReLU, BN (2 per element when affine) and pooling
  into its "MACs", and divides the total by the batch size (per-sample figure).
* ``ptflops-aten`` (dispatch) counts only ``aten.convolution/mm/addmm/bmm`` (bias adds
  included); pooling, normalisation and elementwise ops are zero; no batch division.
* ``fvcore`` (JIT trace, real tensors only) counts conv, matmul-family, norms and 2-D
  adaptive pooling; it skips 3-D pooling and elementwise ops ("unsupported operator").
* ``torch-flop-counter`` (``torch.utils.flop_counter``) counts 2 FLOPs per MAC for
  conv and the matmul family only.

Every counter's figure is brought to the conv+linear scope (bias adds removed, matmul
outside ``nn.Linear`` separated) before comparison, except torch-flop-counter's, which cannot
separate matmul: it is compared with meta's conv+linear+matmul and flagged when they differ
from conv+linear. A disagreement beyond 1 % is flagged with the modules that cause it.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.metadata
import io
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from stbench.bench.config import parse_counters
from stbench.bench.count.counting import (
    SCOPE_CONV_LINEAR,
    ModuleTracker,
    OpRecord,
    check_input_shape,
    record_ops,
)
from torch import nn
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

TOLERANCE = 0.01


@dataclass
class CounterResult:
    """One counter's figures, brought to the conv+linear scope where possible."""

    name: str
    version: str
    macs: int | None = None  # conv+linear MACs, bias adds excluded
    conv_macs: int | None = None
    linear_macs: int | None = None
    bias_macs: int = 0  # bias additions the counter folds into its own MACs
    total: int | None = None  # the counter's own headline number, in its own scope
    total_scope: str = ""
    by_category: dict[str, int] = field(default_factory=dict)
    per_module: dict[str, int] = field(default_factory=dict)  # leaf conv+linear MACs
    module_categories: dict[str, dict[str, int]] = field(default_factory=dict)  # leaf, by category
    skipped: dict[str, int] = field(default_factory=dict)  # ops/modules it ignored
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (per-module detail left out)."""
        d = asdict(self)
        d.pop("per_module")
        d.pop("module_categories")
        d["scope"] = SCOPE_CONV_LINEAR
        return d


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _leaf(records: Sequence[OpRecord]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        if r.category in ("conv", "linear"):
            out[r.module] = out.get(r.module, 0) + r.value
    return out


def _cats(records: Sequence[OpRecord]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        out[r.category] = out.get(r.category, 0) + r.value
    return out


def _add(res: CounterResult, module: str, category: str, value: int) -> None:
    """Accumulate one counted value into a result's totals and per-module tables."""
    res.by_category[category] = res.by_category.get(category, 0) + value
    cats = res.module_categories.setdefault(module, {})
    cats[category] = cats.get(category, 0) + value
    if category in ("conv", "linear"):
        res.per_module[module] = res.per_module.get(module, 0) + value


def _finish(res: CounterResult) -> CounterResult:
    res.conv_macs = res.by_category.get("conv", 0)
    res.linear_macs = res.by_category.get("linear", 0)
    res.macs = res.conv_macs + res.linear_macs
    return res


def run_meta(
    model: nn.Module, shape: tuple[int, ...], records: Sequence[OpRecord] | None = None
) -> tuple[CounterResult, list[OpRecord]]:
    """The reference: stbench's dispatch counter on the meta device (or its given records)."""
    records = record_ops(model, shape, device="meta") if records is None else list(records)
    res = CounterResult(
        name="meta",
        version=f"stbench dispatch counter, torch {torch.__version__}",
        by_category=_cats(records),
        per_module=_leaf(records),
        total_scope="conv+linear MACs (other ops reported separately)",
    )
    _finish(res)
    res.total = res.macs
    return res, records


def run_torch_flop_counter(model: nn.Module, shape: tuple[int, ...]) -> CounterResult:
    """torch.utils.flop_counter.FlopCounterMode on meta (2 FLOPs per MAC, halved here)."""

    res = CounterResult(
        name="torch-flop-counter",
        version=f"torch {torch.__version__}",
        total_scope="FLOPs (2 per MAC) of conv + mm/addmm/bmm/baddbmm + attention",
    )
    state = {n: torch.empty_like(t, device="meta") for n, t in model.state_dict().items()}
    mode = FlopCounterMode(display=False)
    with torch.no_grad(), mode:
        functional_call(model, state, (torch.zeros(shape, device="meta"),), strict=False)
    ops = {str(op): int(v) for op, v in mode.get_flop_counts().get("Global", {}).items()}
    res.total = int(mode.get_total_flops())
    conv = sum(v for k, v in ops.items() if "conv" in k) // 2
    res.by_category = {"conv": conv, "conv+linear+matmul": res.total // 2}
    res.macs = res.total // 2  # linear and matmul are not separable by this counter
    res.conv_macs = conv
    return res


_FV_CATEGORY = {
    "conv": "conv",
    "bmm": "matmul",
    "einsum": "matmul",
    "batch_norm": "norm",
    "group_norm": "norm",
    "layer_norm": "norm",
    "instance_norm": "norm",
    "adaptive_avg_pool2d": "pool",
}


def run_fvcore(model: nn.Module, shape: tuple[int, ...]) -> CounterResult:
    """fvcore's FlopCountAnalysis on a real CPU tensor; unsupported ops are captured."""
    res = CounterResult(
        name="fvcore",
        version=_version("fvcore"),
        total_scope="fvcore default handles (1 per MAC; BN 2 per element when affine); "
        "3-D pooling and elementwise ops skipped",
    )
    with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit deprecation notices
        from fvcore.nn import FlopCountAnalysis

        fca = FlopCountAnalysis(model.eval(), (torch.zeros(shape),))  # inference BN
        fca.unsupported_ops_warnings(False)  # captured below via unsupported_ops()
        fca.uncalled_modules_warnings(False)
        fca.tracer_warnings("none")
        by_mo = fca.by_module_and_operator()
        res.total = int(fca.total())
        res.skipped = {str(k): int(v) for k, v in fca.unsupported_ops().items()}
    modules = dict(model.named_modules())
    children = {
        n: [f"{n}.{c}" if n else c for c, _ in m.named_children()] for n, m in modules.items()
    }
    for name, counter in by_mo.items():
        own = dict(counter)
        for child in children.get(name, []):
            for op, v in by_mo.get(child, {}).items():
                own[op] = own.get(op, 0) - v
        is_linear = isinstance(modules.get(name), nn.Linear)
        for op, v in own.items():
            if v <= 0:
                continue
            if op in ("addmm", "linear", "mm", "matmul"):
                cat = "linear" if is_linear else "matmul"
            else:
                cat = _FV_CATEGORY.get(op, "elementwise" if "upsample" in op else "other")
            _add(res, name, cat, int(v))
    return _finish(res)


def _module_category(mod: nn.Module) -> str:
    if isinstance(mod, (nn.modules.conv._ConvNd,)):
        return "conv"
    if isinstance(mod, nn.Linear):
        return "linear"
    if isinstance(mod, (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)):
        return "norm"
    if "Pool" in type(mod).__name__:
        return "pool"
    return "elementwise"


def _bias_part(mod: nn.Module, out: Any) -> int:
    if getattr(mod, "bias", None) is None or not isinstance(out, torch.Tensor):
        return 0
    if isinstance(mod, nn.modules.conv._ConvNd):
        return out.numel()
    if isinstance(mod, nn.Linear):
        return out.numel()
    return 0


def _ptflops_result(backend: str, scope: str) -> CounterResult:
    """An empty result of one ptflops backend, named and versioned."""
    version = f"ptflops {_version('ptflops')} backend={backend}"
    return CounterResult(name=f"ptflops-{backend}", version=version, total_scope=scope)


def _run_ptflops(
    model: nn.Module,
    shape: tuple[int, ...],
    res: CounterResult,
    backend: str,
    hooks: dict,
    **options: Any,
) -> str:
    """Run ptflops quietly on zeros of `shape`; set res.total or res.error; return its log."""
    from ptflops import get_model_complexity_info

    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        macs, _params = get_model_complexity_info(
            model,
            tuple(shape[1:]),
            input_constructor=lambda _res: torch.zeros(shape),
            print_per_layer_stat=False,
            as_strings=False,
            ost=log,
            custom_modules_hooks=hooks,
            backend=backend,
            **options,
        )
    if macs is None:
        lines = log.getvalue().strip().splitlines() or ["no output"]
        res.error = f"ptflops ({backend} backend) failed: {lines[-1]}"
    else:
        res.total = int(macs)
    return log.getvalue()


def run_ptflops_pytorch(model: nn.Module, shape: tuple[int, ...]) -> CounterResult:
    """ptflops' default (module-hook) backend, with a recorder on every hook it installs."""
    from ptflops.pytorch_ops import MODULES_MAPPING

    res = _ptflops_result(
        "pytorch",
        "per-sample MACs of exactly-typed known modules (conv/linear with bias, "
        "BN 2 per element when affine, pooling, ReLU) + patched torch functions",
    )
    names = {id(m): n for n, m in model.named_modules()}
    raw: list[tuple[str, nn.Module, int, int]] = []

    def wrap(hook: Callable[..., None]) -> Callable[..., None]:
        def recorder(mod: nn.Module, inputs: Any, out: Any) -> None:
            before = mod.__flops__
            hook(mod, inputs, out)
            raw.append(
                (names.get(id(mod), "?"), mod, int(mod.__flops__ - before), _bias_part(mod, out))
            )

        return recorder

    hooks = {t: wrap(h) for t, h in MODULES_MAPPING.items()}
    log = _run_ptflops(model, shape, res, "pytorch", hooks, verbose=True)
    if res.error:
        return res
    leaf_types = {type(m).__name__ for m in model.modules() if next(m.children(), None) is None}
    for line in log.splitlines():
        if "is treated as a zero-op" in line:
            mod_type = line.split("module ")[-1].split(" is treated")[0]
            if mod_type in leaf_types:  # containers are zero-ops by design; count instances
                res.skipped[mod_type] = sum(type(m).__name__ == mod_type for m in model.modules())
    for name, mod, value, bias in raw:
        cat = _module_category(mod)
        if cat in ("conv", "linear"):
            res.bias_macs += bias
            value -= bias
        _add(res, name, cat, value)
    # ptflops divides module counts by the batch size but adds patched-functional counts
    # (F.relu, F.max_pool3d, torch.matmul, ...) undivided, on top of the module hooks.
    modules_total = sum(v for _n, _m, v, _b in raw)
    functional = round(res.total - modules_total / shape[0])
    if functional > 0:
        res.by_category["functional"] = functional
    return _finish(res)


def run_ptflops_aten(model: nn.Module, shape: tuple[int, ...]) -> CounterResult:
    """ptflops' aten (dispatch) backend, with a recorder on each aten op handler."""
    from ptflops.aten_ops import ATEN_OPS_MAPPING

    res = _ptflops_result(
        "aten",
        "whole-batch MACs of aten.convolution/mm/addmm/bmm (bias adds included); "
        "every other op is a zero-op",
    )
    tracker = ModuleTracker(model)

    def wrap(fn: Callable[..., int], is_conv: bool) -> Callable[..., int]:
        def recorder(inputs: Any, outputs: Any) -> int:
            value = int(fn(inputs, outputs))
            name, mod = tracker.current
            bias = 0
            if is_conv and inputs[2] is not None:
                bias = outputs[0].numel()
            elif not is_conv and len(inputs) == 3 and inputs[0] is not None:
                bias = outputs[0].numel()  # addmm: bias added to every output element
            if is_conv:
                cat = "conv"
            else:
                cat = "linear" if isinstance(mod, nn.Linear) else "matmul"
            res.bias_macs += bias
            _add(res, name, cat, value - bias)
            return value

        return recorder

    hooks = {op: wrap(fn, "conv" in str(op)) for op, fn in ATEN_OPS_MAPPING.items()}
    with tracker:
        _run_ptflops(model, shape, res, "aten", hooks)
    return res if res.error else _finish(res)


RUNNERS: dict[str, Callable[[nn.Module, tuple[int, ...]], CounterResult]] = {
    "torch-flop-counter": run_torch_flop_counter,
    "fvcore": run_fvcore,
    "ptflops-pytorch": run_ptflops_pytorch,
    "ptflops-aten": run_ptflops_aten,
}


def _real_copy(model: nn.Module) -> nn.Module:
    """The model itself if its weights are real CPU tensors, else a CPU copy (uninitialised)."""
    tensors = list(model.parameters()) + list(model.buffers())
    if all(t.device.type == "cpu" for t in tensors):
        return model
    return copy.deepcopy(model).to_empty(device="cpu")


def _pct(a: int, ref: int) -> float:
    return 100.0 * (a - ref) / ref if ref else (0.0 if a == 0 else float("inf"))


def _module_diffs(
    ref: dict[str, int], other: dict[str, int], types: dict[str, str], limit: int = 5
) -> str:
    diffs = []
    for name in set(ref) | set(other):
        d = other.get(name, 0) - ref.get(name, 0)
        if d:
            diffs.append((abs(d), name, d))
    diffs.sort(reverse=True)
    parts = [
        f"'{name or '(model)'}' ({types.get(name, '?')}): {other.get(name, 0):,} vs {ref.get(name, 0):,}"
        for _a, name, _d in diffs[:limit]
    ]
    more = f" and {len(diffs) - limit} more" if len(diffs) > limit else ""
    return "; ".join(parts) + more if parts else "no per-module difference found (op-level)"


def blind_spot_flags(
    name: str, model: nn.Module, records: Sequence[OpRecord], res: CounterResult
) -> list[str]:
    """Flags for what a counter cannot see, even when totals happen to agree."""
    flags: list[str] = []
    cats = _cats(records)
    if name == "ptflops-pytorch":
        from ptflops.pytorch_ops import MODULES_MAPPING

        modules = dict(model.named_modules())
        missed: dict[str, int] = {}
        for r in records:
            if r.category not in ("conv", "linear"):
                continue
            mod = modules.get(r.module)
            if r.in_conv_module or isinstance(mod, nn.Linear):
                if type(mod) not in MODULES_MAPPING:
                    base = next(
                        (b.__name__ for b in type(mod).__mro__[1:] if b in MODULES_MAPPING), "?"
                    )
                    key = f"'{r.module}' ({r.module_type}, a subclass of nn.{base})"
                    missed[key] = missed.get(key, 0) + r.value
            else:
                key = f"functional {r.op} in '{r.module or '(model)'}' ({r.module_type})"
                missed[key] = missed.get(key, 0) + r.value
        for key, value in missed.items():
            flags.append(
                f"ptflops-pytorch blind spot: {key} counted as zero ({value:,} MACs missed)"
            )
        if cats.get("matmul"):
            flags.append(
                f"ptflops-pytorch: {cats['matmul']:,} matmul/bmm MACs outside nn.Linear are counted "
                "only when called as torch.matmul/mm/bmm (not the @ operator); outside conv+linear scope"
            )
        if res.by_category.get("functional"):
            flags.append(
                f"ptflops-pytorch: its total adds {res.by_category['functional']:,} patched-functional "
                "op counts on top of module hooks (nn.ReLU/pooling modules counted twice: hook + F.*; "
                "functional counts not divided by the batch size)"
            )
    elif name == "ptflops-aten":
        zero = {k: v for k, v in cats.items() if k in ("pool", "norm", "elementwise") and v}
        if zero:
            listed = ", ".join(f"{k} {v:,} elements" for k, v in zero.items())
            flags.append(f"ptflops-aten blind spot: treats as zero-ops: {listed}")
    elif name == "fvcore":
        if res.skipped:
            listed = ", ".join(f"{op} x{n}" for op, n in sorted(res.skipped.items()))
            flags.append(
                f"fvcore blind spot: unsupported operators skipped (not in its total): {listed}"
            )
        if cats.get("elementwise"):
            flags.append(
                f"fvcore blind spot: elementwise ops ({cats['elementwise']:,} elements, e.g. ReLU, "
                "residual adds) are ignored"
            )
    if res.bias_macs:
        flags.append(
            f"{name}: adds {res.bias_macs:,} bias additions into its MACs "
            "(removed here for the conv+linear comparison)"
        )
    return flags


def wider_scope_flags(
    name: str,
    model: nn.Module,
    records: Sequence[OpRecord],
    res: CounterResult,
    tolerance: float = TOLERANCE,
) -> list[str]:
    """Compare normalisation (and, for ptflops-pytorch, pooling) in the counter's convention."""
    if name not in ("fvcore", "ptflops-pytorch"):
        return []
    modules = dict(model.named_modules())

    def norm_cost(r: OpRecord) -> int:  # both count 2 per element when affine, else 1
        return r.value * (2 if getattr(modules.get(r.module), "affine", True) else 1)

    cats = ("norm", "pool") if name == "ptflops-pytorch" else ("norm",)
    types = {n: type(m).__name__ for n, m in modules.items()}
    flags = []
    for cat in cats:
        ref_mod: dict[str, int] = {}
        for r in records:
            if r.category == cat:
                cost = norm_cost(r) if cat == "norm" else r.value
                ref_mod[r.module] = ref_mod.get(r.module, 0) + cost
        got_mod = {m: c[cat] for m, c in res.module_categories.items() if c.get(cat)}
        ref, got = sum(ref_mod.values()), sum(got_mod.values())
        if ref and abs(got - ref) > tolerance * ref:
            flags.append(
                f"{name} disagrees with meta by {_pct(got, ref):+.2f}% on {cat} ops "
                f"({got:,} vs {ref:,} in {name}'s convention); modules: "
                + _module_diffs(ref_mod, got_mod, types)
            )
    return flags


def cross_check(
    model: nn.Module,
    input_shape: Sequence[int],
    counters: str | Sequence[str] = "all",
    *,
    tolerance: float = TOLERANCE,
    meta_records: Sequence[OpRecord] | None = None,
) -> tuple[dict[str, CounterResult], list[str]]:
    """Run the chosen counters on ``model`` at ``input_shape``; return results and flags.

    ``meta_records`` (from `static_count(...).records`) spares counting meta again.
    """
    shape = check_input_shape(input_shape)
    names = parse_counters(counters)
    meta, records = run_meta(model, shape, meta_records)
    results: dict[str, CounterResult] = {"meta": meta}
    flags: list[str] = []
    types = {n: type(m).__name__ for n, m in model.named_modules()}
    real = (
        _real_copy(model)
        if any(n in ("fvcore", "ptflops-pytorch", "ptflops-aten") for n in names)
        else model
    )
    was_training = real.training
    for name in names:
        if name == "meta":
            continue
        try:
            res = RUNNERS[name](real if name != "torch-flop-counter" else model, shape)
        except Exception as exc:  # a counter's crash is a finding, not the end of the profile
            res = CounterResult(name=name, version="?", error=f"{type(exc).__name__}: {exc}")
        finally:
            real.train(was_training)
        results[name] = res
        if res.error:
            flags.append(f"{name}: failed ({res.error})")
            continue
        ref = meta.macs + (meta.by_category.get("matmul", 0) if name == "torch-flop-counter" else 0)
        if name == "torch-flop-counter" and ref != meta.macs and res.macs is not None:
            flags.append(
                f"torch-flop-counter: its figure ({res.macs:,}) is compared with total_macs "
                f"(conv+linear+matmul, {ref:,}): it cannot separate the {ref - meta.macs:,} "
                "matmul/bmm MACs outside nn.Linear"
            )
        if res.macs is not None and abs(res.macs - ref) > tolerance * max(ref, 1):
            flag = f"{name} disagrees with meta by {_pct(res.macs, ref):+.2f}% on "
            if name == "torch-flop-counter":  # no module attribution from this counter
                flag += f"conv+linear+matmul MACs ({res.macs:,} vs {ref:,})"
            else:
                flag += f"conv+linear MACs ({res.macs:,} vs {ref:,}); modules: "
                flag += _module_diffs(meta.per_module, res.per_module, types)
            flags.append(flag)
        flags.extend(blind_spot_flags(name, model, records, res))
        flags.extend(wider_scope_flags(name, model, records, res, tolerance))
    return results, flags
