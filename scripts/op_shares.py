"""Self-time share of each aten op (``torch.profiler``) and of each module type (forward
hooks, ``bench.measure.efficiency.per_module_time``) in a zoo model's forward on CPU.

Usage: ``python scripts/op_shares.py tsn_inception_v1 --frames 8 --size 112 --threads 1``
(``--formulation reference`` runs the kernels the zoo ran before the shifted ones).
"""

from __future__ import annotations

import argparse
import contextlib

import torch
from stbench.bench.measure.efficiency import per_module_time
from stbench.models.formulations import FORMULATIONS, forced
from stbench.zoo import create_model
from torch.profiler import ProfilerActivity, profile


def op_shares(name: str, frames: int, size: int, calls: int) -> dict[str, float]:
    """aten op -> share of the forward's CPU self time over `calls` forwards."""
    model = create_model(name, frames=frames).eval()
    x = torch.randn(1, 3, frames, size, size)
    with torch.inference_mode():
        model(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(calls):
                model(x)
    events = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    total = sum(e.self_cpu_time_total for e in events) or 1
    shares = {e.key: e.self_cpu_time_total / total for e in events}
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))


def module_type_shares(name: str, frames: int, size: int, calls: int) -> dict[str, float]:
    """Module class -> share of the forward's time (self time of its instances)."""
    model = create_model(name, frames=frames).eval()
    x = torch.randn(1, 3, frames, size, size)
    kinds = {n: type(m).__name__ for n, m in model.named_modules()}
    with torch.inference_mode():
        shares = per_module_time(model, lambda: model(x), calls=calls)
    out: dict[str, float] = {}
    for n, share in shares.items():
        kind = kinds.get(n, "(outside modules)") if n else "(outside modules)"
        out[kind] = out.get(kind, 0.0) + share
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def main() -> None:
    """Print the top ops of each model named."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--calls", type=int, default=3)
    p.add_argument("--top", type=int, default=8)
    p.add_argument("--formulation", choices=FORMULATIONS, help="default: the device table's")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.models:
        how = forced(args.formulation) if args.formulation else contextlib.nullcontext()
        with how:
            shares = op_shares(name, args.frames, args.size, args.calls)
            kinds = module_type_shares(name, args.frames, args.size, args.calls)
        pools = sum(s for kind, s in kinds.items() if "Pool" in kind)
        print(
            f"{name} ({args.formulation or 'cpu table'}, 1x3x{args.frames}x{args.size}^2, {args.threads} thr)"
        )
        print(f"  pooling modules (hooks): {100 * pools:.1f}% of the forward")
        for kind, s in list(kinds.items())[: args.top]:
            print(f"  module {kind:33s} {100 * s:5.1f}%")
        for op, s in list(shares.items())[: args.top]:
            print(f"  {op:40s} {100 * s:5.1f}%")


if __name__ == "__main__":
    main()
