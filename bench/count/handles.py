"""The op-handle table: which aten ops the meta counter counts, and how.

One table maps an aten op name to a *handle* ``handle(args, out, module) -> (category,
value) | None``: ``category`` is one of `CATEGORIES`, ``value`` MACs for conv/linear/matmul
and elements otherwise (as fvcore's ``_DEFAULT_SUPPORTED_OPS`` and torch's
``register_flop_formula`` do). Two rules cover whole families without naming each op:
every op tagged ``torch.Tag.pointwise`` is elementwise and every ``*pool*`` op is pooling.
Ops that do no arithmetic (views, copies, allocations, concatenation) are declared in
`ARITHMETIC_FREE`, or are views (``OpOverload.is_view``).

Every other op is *uncounted*: the counter lists it with its call count
(`StaticCount.uncounted_ops`) and `profile` flags it; nothing is zero without a word.
`register_op_handle` adds a handle, or declares an op arithmetic-free with ``None``::

    import stbench

    def rfft(args, out, module):  # aten._fft_r2c: ~ n log2 n complex MACs per signal
        x = args[0]
        n = x.shape[args[1][-1]]
        return "elementwise", x.numel() * max(1, n.bit_length())

    stbench.register_op_handle("aten::_fft_r2c", rfft)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

CATEGORIES = ("conv", "linear", "matmul", "pool", "norm", "elementwise")
OpHandle = Callable[[Sequence[Any], Any, nn.Module], "tuple[str, int] | None"]
UNCOUNTED = "uncounted"  # `handle_for`'s answer for an op with no handle


def _numel(shape: Sequence[int]) -> int:
    return math.prod(int(s) for s in shape)


def first_tensor(out: Any) -> torch.Tensor | None:
    """The first tensor of an op's output (a tensor, or a tuple/list holding tensors)."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)):
        for o in out:
            if isinstance(o, torch.Tensor):
                return o
    return None


def conv_macs(
    x_shape: Sequence[int], w_shape: Sequence[int], out_shape: Sequence[int], transposed: bool
) -> int:
    """MACs of one convolution from its shapes (bias adds excluded)."""
    batch = int(x_shape[0])
    positions = _numel((x_shape if transposed else out_shape)[2:])
    return batch * positions * _numel(w_shape)


def mm_macs(op: str, args: Sequence[Any]) -> int:
    """MACs of a (batched) matrix product op from its argument shapes."""
    a, b = (args[0], args[1]) if op in ("mm", "bmm") else (args[1], args[2])
    return _numel(a.shape) * int(b.shape[-1])


def _conv(args: Sequence[Any], out: Any, mod: nn.Module) -> tuple[str, int]:
    transposed = bool(args[6]) if len(args) > 6 else False
    return "conv", conv_macs(args[0].shape, args[1].shape, first_tensor(out).shape, transposed)


def _product(op: str) -> OpHandle:
    def handle(args: Sequence[Any], out: Any, mod: nn.Module) -> tuple[str, int]:
        return ("linear" if isinstance(mod, nn.Linear) else "matmul"), mm_macs(op, args)

    return handle


def _input_elements(category: str) -> OpHandle:
    def handle(args: Sequence[Any], out: Any, mod: nn.Module) -> tuple[str, int] | None:
        first = args[0] if args and isinstance(args[0], torch.Tensor) else None
        return (category, first.numel()) if first is not None else None

    return handle


def _output_elements(args: Sequence[Any], out: Any, mod: nn.Module) -> tuple[str, int] | None:
    t = first_tensor(out)
    return ("elementwise", t.numel()) if t is not None else None


_pool = _input_elements("pool")
OP_HANDLES: dict[str, OpHandle] = {
    **dict.fromkeys(("convolution", "_convolution", "convolution_overrideable"), _conv),
    **{op: _product(op) for op in ("mm", "addmm", "bmm", "baddbmm")},
    **dict.fromkeys(("mean", "sum", "amax", "amin", "max", "min"), _pool),
    **dict.fromkeys(
        (
            "native_batch_norm",
            "_native_batch_norm_legit",
            "_native_batch_norm_legit_no_training",
            "native_layer_norm",
            "native_group_norm",
        ),
        _input_elements("norm"),
    ),
    **dict.fromkeys(("_softmax", "_log_softmax"), _output_elements),
    # elementwise, but not tagged pointwise in every torch build
    "floor_divide": _output_elements,
}
# Ops that move, copy or allocate data without arithmetic (views need no entry).
ARITHMETIC_FREE: set[str] = {
    *("copy_", "_to_copy", "clone", "detach", "fill_", "zero_", "lift_fresh", "alias"),
    *("empty", "empty_like", "empty_strided", "new_empty", "zeros", "zeros_like", "new_zeros"),
    *("ones", "ones_like", "new_ones", "full", "full_like", "new_full", "scalar_tensor"),
    *("_unsafe_view", "cat", "stack", "constant_pad_nd", "repeat", "roll", "flip"),
    *("index", "index_select", "gather", "lift_fresh_copy", "_local_scalar_dense", "arange"),
}


def op_name(op: str | Any) -> str:
    """The table's name of an op: 'aten::_fft_r2c', 'aten._fft_r2c', '_fft_r2c' and
    ``torch.ops.aten._fft_r2c`` (or one of its overloads) are all '_fft_r2c'; another
    library's op keeps its namespace ('mylib::scan' and ``torch.ops.mylib.scan``: 'mylib.scan')."""
    packet = getattr(op, "overloadpacket", op)
    if isinstance(packet, str):
        name = packet.replace("::", ".")
    else:
        name = f"{getattr(packet, '_qualified_op_name', '')}".replace("::", ".")
    if not name or not all(name.split(".")):
        raise ValueError(f"op: got {op!r}; allowed: an op name such as 'aten::_fft_r2c'")
    return name.removeprefix("aten.")


def register_op_handle(op: str | Any, handle: OpHandle | None) -> None:
    """Count aten op `op` with `handle` (``handle(args, out, module) -> (category, value)``,
    `category` one of `CATEGORIES`, `value` MACs or elements); ``None`` declares it
    arithmetic-free. A later registration replaces an earlier one."""
    name = op_name(op)
    if handle is None:
        OP_HANDLES.pop(name, None)
        ARITHMETIC_FREE.add(name)
        return
    if not callable(handle):
        raise ValueError(
            f"handle: got {handle!r}; allowed: a function (args, out, module) -> "
            "(category, value), or None for an op that does no arithmetic"
        )
    ARITHMETIC_FREE.discard(name)
    OP_HANDLES[name] = handle


def handle_key(func: Any) -> str:
    """How rows name op `func` (an ``OpOverload``): 'aten._fft_r2c', 'mylib.scan'."""
    return f"{func.namespace}.{func.overloadpacket.__name__}"


def handle_for(func: Any) -> OpHandle | str | None:
    """The handle of op `func` (an ``OpOverload``); None when it does no arithmetic;
    `UNCOUNTED` when nothing says how to count it."""
    name = func.overloadpacket.__name__
    if func.namespace != "aten":  # another library's op: only its own entry counts it
        name = handle_key(func)
    if name in OP_HANDLES:
        return OP_HANDLES[name]
    if "pool" in name:
        return _pool
    if name in ARITHMETIC_FREE:
        return None
    if torch.Tag.pointwise in func.tags:
        return _output_elements
    return None if func.is_view else UNCOUNTED


def apply_handle(
    handle: OpHandle, func: Any, args: Sequence[Any], out: Any, mod: nn.Module
) -> tuple[str, int] | None:
    """Run one handle, checking what it answers (a user's handle is named if it errs)."""
    hit = handle(args, out, mod)
    if hit is None:
        return None
    try:
        category, value = hit
        ok = category in CATEGORIES and int(value) >= 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"op handle of aten.{func.overloadpacket.__name__}: got {hit!r}; allowed: None or "
            f"(category, value >= 0) with category one of {', '.join(CATEGORIES)}"
        )
    return category, int(value)
