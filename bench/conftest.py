"""pytest-benchmark options for the zoo suite, and stbench run metadata in machine_info.

Run: ``pytest bench/ --benchmark-only --benchmark-json=out.json`` then
``stbench import-benchmark out.json``. Select with --bench-models (comma-separated
shell patterns), --bench-frames, --bench-size, --bench-batch, --bench-device,
--bench-dtype, --bench-channels-last, --bench-compile, --bench-rounds, --bench-warmup.
The defaults are a small CPU selection at 8x64x64 that finishes in a couple of minutes.
"""

from __future__ import annotations

from typing import Any

import pytest

# One model per operator family, cheap enough for a CPU run at the default input.
DEFAULT_MODELS = (
    "r2d_resnet18,tam_resnet18,gst_a1_4_resnet18,s3d_inception_v1,r2plus1d_resnet18,r3d_resnet18"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the --bench-* options."""
    g = parser.getgroup("stbench", "stbench zoo benchmarks (bench/test_bench_zoo.py)")
    g.addoption("--bench-models", default=DEFAULT_MODELS, help="comma-separated name patterns")
    g.addoption("--bench-frames", type=int, default=8, help="clip length T (default 8)")
    g.addoption("--bench-size", type=int, default=64, help="frame size H=W (default 64)")
    g.addoption("--bench-batch", type=int, default=1, help="batch size (default 1)")
    g.addoption("--bench-classes", type=int, default=None, help="classes (default: spec's)")
    g.addoption("--bench-device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    g.addoption("--bench-dtype", default="float32", help="float32, bfloat16, float16 (autocast)")
    g.addoption("--bench-channels-last", action="store_true", help="channels_last_3d")
    g.addoption("--bench-compile", action="store_true", help="torch.compile each model")
    g.addoption("--bench-rounds", type=int, default=None, help="rounds (default 3 CPU, 30 GPU)")
    g.addoption("--bench-warmup", type=int, default=None, help="warm-up rounds (1 CPU, 5 GPU)")


def bench_options(config: pytest.Config) -> dict[str, Any]:
    """The validated --bench-* options: ``profile`` holds the `ProfileConfig` fields."""
    from stbench.bench.timing import check_device, check_dtype

    device = check_device(config.getoption("--bench-device"))
    gpu = device.startswith("cuda")
    fields = ("frames", "size", "batch", "classes", "dtype", "channels_last", "compile")
    profile = {f: config.getoption(f"--bench-{f.replace('_', '-')}") for f in fields}
    profile["num_classes"] = profile.pop("classes")
    profile["dtype"] = check_dtype(profile["dtype"])
    for k in ("frames", "size", "batch"):
        if profile[k] < 1:
            raise pytest.UsageError(f"--bench-{k}: got {profile[k]}; allowed: >= 1")
    opts = {
        "models": config.getoption("--bench-models"),
        "profile": {**profile, "device": device},
        "rounds": config.getoption("--bench-rounds") or (30 if gpu else 3),
        "warmup_rounds": config.getoption("--bench-warmup"),
    }
    if opts["warmup_rounds"] is None:
        opts["warmup_rounds"] = 5 if gpu else 1
    if opts["rounds"] < 1:
        raise pytest.UsageError(f"--bench-rounds: got {opts['rounds']}; allowed: >= 1")
    return opts


def selected_models(pattern: str) -> list[str]:
    """Zoo names matching any of the comma-separated patterns, in pattern order."""
    from stbench.zoo import list_models

    names: list[str] = []
    for pat in (p.strip() for p in pattern.split(",") if p.strip()):
        names.extend(n for n in list_models(pat) if n not in names)
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `zoo_model` over the selected zoo names."""
    if "zoo_model" in metafunc.fixturenames:
        pattern = metafunc.config.getoption("--bench-models")
        names = selected_models(pattern)
        if not names:
            raise pytest.UsageError(f"--bench-models: no zoo model matches {pattern!r}")
        metafunc.parametrize("zoo_model", names)


@pytest.fixture(scope="session")
def bench_config(pytestconfig: pytest.Config) -> dict[str, Any]:
    """The suite's options (device, dtype, input, rounds)."""
    try:
        return bench_options(pytestconfig)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """Add host, CPU, GPU, driver, torch/CUDA/cuDNN and counter versions, git commit."""
    from stbench.bench.environment import collect_environment

    device = str(config.getoption("--bench-device", default="cpu"))
    machine_info["stbench"] = collect_environment(init_cuda=device.startswith("cuda"))
