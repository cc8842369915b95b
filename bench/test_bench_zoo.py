"""pytest-benchmark: forward latency of zoo models (options in bench/conftest.py).

Each round is one forward under `torch.inference_mode` (and autocast for bf16/fp16),
followed by `torch.cuda.synchronize()` on GPU so the wall-clock timer sees finished
work. `extra_info` carries the profile key, params, MACs (per clip, conv+linear, meta
counter), FLOPs (= 2 x MACs) and the input shape, so `stbench import-benchmark out.json`
can store each benchmark as a profile row.
"""

from __future__ import annotations

from typing import Any

import torch
from stbench.bench.config import ProfileConfig
from stbench.bench.static import build_model, count_static
from stbench.bench.timing import DTYPES, device_name, prepare


def _counts(cfg: ProfileConfig, model: torch.nn.Module) -> dict[str, Any]:
    """Params and per-clip MACs from the meta counter (empty if counting fails)."""
    try:
        sc = count_static(cfg, model)
    except Exception as exc:  # noqa: BLE001 - a benchmark should still time the model
        return {"count_error": f"{type(exc).__name__}: {exc}"}
    return {
        "params": sc.params,
        "macs": sc.macs,
        "flops": sc.flops,
        "macs_per": "clip",
        "counter": sc.counter,
        "counter_version": sc.counter_version,
        "scope": sc.scope,
    }


def test_forward_latency(benchmark: Any, zoo_model: str, bench_config: dict[str, Any]) -> None:
    """Latency of one forward of `zoo_model` at the configured input."""
    c = bench_config
    cfg = ProfileConfig.for_model(zoo_model, **c["profile"])
    shape = cfg.input_shape
    model = build_model(cfg, weights=True)
    counts = _counts(cfg, model)
    prep = prepare(model, **cfg.prepare_options())
    x = prep.make_input(shape)
    gpu = prep.device.startswith("cuda")
    sync = torch.cuda.synchronize if gpu else (lambda: None)

    def forward() -> torch.Tensor:
        with prep.forward_context():
            out = prep.model(x)
        sync()
        return out

    old_cudnn = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        benchmark.group = f"{cfg.device} {cfg.dtype} {shape}"
        benchmark.extra_info.update(
            **cfg.key_fields(),
            input_shape=list(shape),
            timer="perf_counter+cuda.synchronize" if gpu else "perf_counter",
            threads=torch.get_num_threads(),
            cudnn_benchmark=True if gpu else None,
            autocast_dtype=None if DTYPES[prep.dtype] is None else prep.dtype,
            device_name=device_name(prep.device),
            **counts,
        )
        out = benchmark.pedantic(
            forward, rounds=c["rounds"], warmup_rounds=c["warmup_rounds"], iterations=1
        )
    finally:
        torch.backends.cudnn.benchmark = old_cudnn
    assert tuple(out.shape) == (cfg.batch, cfg.num_classes)
