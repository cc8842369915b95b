"""pytest-benchmark: the meta fast path against fvcore on real CPU tensors, same zoo models.

Run: ``pytest benchmarks/test_bench_counting.py --benchmark-only --benchmark-json=out.json``.
Each model gets a benchmark group ``count:<model>`` holding both counters, so the
pytest-benchmark table shows their ratio directly. ``STBENCH_COUNT_MODELS`` (comma
list) overrides the model set; ``STBENCH_COUNT_SHAPE`` (``T,S``) the small input.
``test_whole_zoo_static`` times building + counting every zoo model on meta at its
papers' default input.
"""

from __future__ import annotations

import os
import time

import pytest
import torch
from stbench.bench.config import ProfileConfig
from stbench.bench.count.static import build_model, count_static

DEFAULT_MODELS = (
    "tsn_resnet18",
    "i3d_resnet18",
    "s3d_resnet18",
    "tam_resnet18",
    "tsm_resnet50",
    "i3d_resnet50",
    "r2plus1d_resnet18",
    "mc3_resnet18",
)


def _registered() -> list[str]:
    try:
        from stbench.zoo import list_models
    except ImportError:
        return []
    return list_models()


def _models() -> list[str]:
    wanted = os.environ.get("STBENCH_COUNT_MODELS")
    names = [n for n in wanted.split(",") if n] if wanted else list(DEFAULT_MODELS)
    have = set(_registered())
    return [n for n in names if n in have]


def _small_shape() -> tuple[int, ...]:
    t, s = (int(v) for v in os.environ.get("STBENCH_COUNT_SHAPE", "8,112").split(","))
    return (1, 3, t, s, s)


MODELS = _models()
needs_zoo = pytest.mark.skipif(
    not MODELS, reason="none of the benchmark's zoo models is registered"
)
PARAMS = MODELS or ["(none)"]


def _config(name: str) -> ProfileConfig:
    _b, _c, frames, size, _s = _small_shape()
    return ProfileConfig.for_model(name, frames=frames, size=size)


def _info(benchmark, name: str, counter: str, macs: int, params: int) -> None:
    benchmark.extra_info.update(
        model=name,
        counter=counter,
        macs=int(macs),
        params=int(params),
        input_shape=list(_small_shape()),
        torch_version=torch.__version__,
        threads=torch.get_num_threads(),
    )


@needs_zoo
@pytest.mark.parametrize("name", PARAMS)
def test_meta_static_count(benchmark, name):
    """Build on meta + count conv+linear MACs (no real tensors)."""
    benchmark.group = f"count:{name}"
    cfg = _config(name)

    def run():
        return count_static(cfg)

    sc = benchmark.pedantic(run, rounds=5, warmup_rounds=1, iterations=1)
    _info(benchmark, name, "meta", sc.macs, sc.params)
    assert sc.macs > 0


@needs_zoo
@pytest.mark.parametrize("name", PARAMS)
def test_fvcore_real_tensors(benchmark, name):
    """fvcore FlopCountAnalysis (JIT trace + real CPU forward) on the same model and input."""
    pytest.importorskip("fvcore")
    from stbench.bench.count.crosscheck import run_fvcore

    benchmark.group = f"count:{name}"
    cfg, shape = _config(name), _small_shape()
    model = build_model(cfg, weights=True).eval()
    res = benchmark.pedantic(
        lambda: run_fvcore(model, shape), rounds=3, warmup_rounds=1, iterations=1
    )
    _info(benchmark, name, "fvcore", res.macs, sum(p.numel() for p in model.parameters()))
    assert res.macs == count_static(cfg, model).macs  # same conv+linear scope


@pytest.mark.skipif(not _registered(), reason="the zoo is empty")
def test_whole_zoo_static(benchmark):
    """Every zoo model built on meta and counted at its spec's default input."""
    names = _registered()
    per_model: dict[str, float] = {}

    def run():
        for name in names:
            t0 = time.perf_counter()
            count_static(ProfileConfig.for_model(name))
            per_model[name] = time.perf_counter() - t0

    benchmark.group = "count:whole-zoo"
    benchmark.pedantic(run, rounds=1, warmup_rounds=1, iterations=1)
    benchmark.extra_info.update(
        models=len(names),
        slowest_model=max(per_model, key=per_model.get),
        slowest_s=max(per_model.values()),
        threads=torch.get_num_threads(),
    )
