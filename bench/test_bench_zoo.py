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
from stbench.bench.timing import DTYPES, device_name, prepare


def _counts(model: torch.nn.Module, shape_b1: tuple[int, ...]) -> dict[str, Any]:
    """Params and per-clip MACs from the meta counter (empty if counting fails)."""
    try:
        from stbench.bench.counting import static_count

        sc = static_count(model, shape_b1)
    except Exception as exc:  # noqa: BLE001 - a benchmark should still time the model
        return {"count_error": f"{type(exc).__name__}: {exc}"}
    return {
        "params": sc.params,
        "macs": sc.macs,
        "flops": 2 * sc.macs,
        "macs_per": "clip",
        "counter": sc.counter,
        "counter_version": sc.counter_version,
        "scope": sc.scope,
    }


def test_forward_latency(benchmark: Any, zoo_model: str, bench_config: dict[str, Any]) -> None:
    """Latency of one forward of `zoo_model` at the configured input."""
    from stbench.zoo import create_model, get_spec

    c = bench_config
    num_classes = c["num_classes"] or get_spec(zoo_model).default_classes
    shape = (c["batch"], 3, c["frames"], c["size"], c["size"])
    model = create_model(zoo_model, num_classes=num_classes, frames=c["frames"])
    counts = _counts(model, (1, *shape[1:]))
    prep = prepare(
        model,
        device=c["device"],
        dtype=c["dtype"],
        channels_last=c["channels_last"],
        compile=c["compile"],
    )
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
        benchmark.group = f"{c['device']} {c['dtype']} {shape}"
        benchmark.extra_info.update(
            model=zoo_model,
            frames=c["frames"],
            size=c["size"],
            batch=c["batch"],
            num_classes=num_classes,
            device=prep.device,
            dtype=prep.dtype,
            memory_format=prep.memory_format,
            compile=prep.compiled,
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
    assert tuple(out.shape) == (c["batch"], num_classes)
