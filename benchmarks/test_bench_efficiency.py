"""pytest-benchmark: how close the zoo's designs run to what their arithmetic allows (issue 21).

- "pool share": the time an Inception network spends inside its pooling modules, per
  forward (forward hooks on the leaf modules whose class name says Pool) over the forward's
  time, at the input the issue measured (1x3x8x224x224). Target on CPU, 1 thread: <= 0.10.
- "family rates": each family's achieved GMAC/s (conv+linear MACs, counted on the meta
  device, over its median latency) on one backbone at one input (1x3x8x112x112), all models
  interleaved round by round, and its fraction of the backbone's best. Target: >= 0.5, or
  explained in the README (Speed: "Families below half the best rate on their backbone").

Eager float32, batch 1, 2 threads (``STBENCH_BENCH_THREADS`` to change; the targets are for
1 thread; ``STBENCH_BENCH_CLOCK=thread`` times this thread's CPU time, for a shared core).
Results in ``extra_info``; the benchmark itself times the first model's forward.
"""

from __future__ import annotations

import os
import statistics

import pytest
import torch
from baselines import CLOCK_NAME, clock, interleaved
from stbench.bench.count.counting import static_count
from stbench.zoo import create_model
from torch import nn

THREADS = int(os.environ.get("STBENCH_BENCH_THREADS", "2"))
SHARE_ROUNDS, RATE_ROUNDS = 7, 5
SHARE_INPUT = (1, 3, 8, 224, 224)
RATE_INPUT = (1, 3, 8, 112, 112)
POOL_SHARE_MODELS = ("tsn_inception_v1", "tam_inception_v1", "i3d_inception_v1")
# One model per family of the reference CPU file on each backbone (the default variant).
FAMILIES = {
    "resnet18": (
        "tsn_resnet18",
        "tam_resnet18",
        "i3d_resnet18",
        "s3d_resnet18",
        "mc3_resnet18",
        "r3d_resnet18",
        "r2plus1d_resnet18",
        "f_r2d_resnet18",
    ),
    "resnet50": (
        "tsn_resnet50",
        "tam_resnet50",
        "tsm_resnet50",
        "i3d_resnet50",
        "s3d_resnet50",
        "nln_resnet50",
        "gst_a1_4_resnet50",
    ),
    "inception_v1": (
        "tsn_inception_v1",
        "tam_inception_v1",
        "i3d_inception_v1",
        "s3d_inception_v1",
        "xie_s3d",
        "xie_i2d",
    ),
}


def pool_shares(model: nn.Module, x: torch.Tensor, rounds: int) -> dict[str, list[float]]:
    """Per forward: seconds inside the model's leaf pooling modules and of the whole forward."""
    pools = [m for m in model.modules() if "Pool" in type(m).__name__ and not list(m.children())]
    spent, start = [0.0], {}

    def pre(mod: nn.Module, _args: object) -> None:
        start[id(mod)] = clock()

    def post(mod: nn.Module, _args: object, _out: object) -> None:
        spent[0] += clock() - start.pop(id(mod))

    handles = [
        h for m in pools for h in (m.register_forward_pre_hook(pre), m.register_forward_hook(post))
    ]
    out: dict[str, list[float]] = {"pools": [], "forward": []}
    try:
        with torch.inference_mode():
            for i in range(rounds + 2):  # two warm-up forwards
                spent[0] = 0.0
                t0 = clock()
                model(x)
                if i >= 2:
                    out["forward"].append(clock() - t0)
                    out["pools"].append(spent[0])
    finally:
        for h in handles:
            h.remove()
    return out


@pytest.mark.parametrize("name", POOL_SHARE_MODELS)
def test_pool_share(benchmark, name):
    """An Inception network's pooling modules as a share of its forward (target <= 0.10)."""
    benchmark.group = "pool share of the forward"
    torch.set_num_threads(THREADS)
    model = create_model(name, frames=SHARE_INPUT[2]).eval()
    x = torch.randn(SHARE_INPUT)
    t = pool_shares(model, x, SHARE_ROUNDS)
    shares = [p / f for p, f in zip(t["pools"], t["forward"], strict=True)]
    benchmark.extra_info.update(
        {
            "share_median": round(statistics.median(shares), 4),
            "share_min": round(min(shares), 4),
            "share_max": round(max(shares), 4),
            "pools_ms_median": round(statistics.median(t["pools"]) * 1e3, 2),
            "forward_ms_median": round(statistics.median(t["forward"]) * 1e3, 2),
            "input": list(SHARE_INPUT),
            "rounds": SHARE_ROUNDS,
            "clock": CLOCK_NAME,
        }
    )
    with torch.inference_mode():
        benchmark.pedantic(lambda: model(x), rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("backbone", list(FAMILIES))
def test_family_rates(benchmark, backbone):
    """Every family's GMAC/s on one backbone and input, as a fraction of the best (>= 0.5)."""
    benchmark.group = "family rates (GMAC/s)"
    torch.set_num_threads(THREADS)
    x = torch.randn(RATE_INPUT)
    models = {n: create_model(n, frames=RATE_INPUT[2]).eval() for n in FAMILIES[backbone]}
    macs = {n: static_count(m, RATE_INPUT).macs for n, m in models.items()}
    times = interleaved({n: (lambda m=m: m(x)) for n, m in models.items()}, RATE_ROUNDS, warmup=2)
    rates = {n: macs[n] / statistics.median(v) / 1e9 for n, v in times.items()}
    best = max(rates.values())
    benchmark.extra_info.update(
        {
            "gmacs_per_s": {n: round(r, 1) for n, r in rates.items()},
            "fraction_of_best": {n: round(r / best, 3) for n, r in rates.items()},
            "below_half": sorted(n for n, r in rates.items() if r < best / 2),
            "median_ms": {n: round(statistics.median(v) * 1e3, 2) for n, v in times.items()},
            "input": list(RATE_INPUT),
            "rounds": RATE_ROUNDS,
            "clock": CLOCK_NAME,
        }
    )
    first = models[FAMILIES[backbone][0]]
    with torch.inference_mode():
        benchmark.pedantic(lambda: first(x), rounds=3, iterations=1, warmup_rounds=1)
