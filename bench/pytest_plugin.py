"""stbench's pytest plugin (entry point ``pytest11``): benchmark any model under pytest-benchmark.

Fixtures: ``stbench_bench(model, input_shape=None, *, frames=, size=, ...)`` times one
forward of a zoo name or any ``nn.Module`` with stbench's protocol (warm-up until stable,
then ``benchmark.pedantic`` for the protocol's rounds) and fills ``extra_info`` with the
store key, params, MACs and device facts; ``stbench_zoo_model`` is parametrized over the
zoo models ``--bench-models`` selects; ``stbench_options`` holds the validated ``--bench-*``
options. ``--stbench-store PATH`` writes one profile row per benchmark into a results store
at the end of the session (what ``stbench import-benchmark`` does with ``--benchmark-json``).
Importing this module imports neither torch nor the store: pytest starts as fast as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

# One model per operator family, cheap enough for a CPU run at the default input.
DEFAULT_MODELS = (
    "r2d_resnet18,tam_resnet18,gst_a1_4_resnet18,s3d_inception_v1,r2plus1d_resnet18,r3d_resnet18"
)
BENCHMARK_PLUGIN = "benchmark"  # pytest-benchmark's plugin name
SHAPE = ("frames", "size", "batch")  # options an explicit input shape replaces
NEEDS_BENCHMARK = "needs pytest-benchmark (pip install pytest-benchmark)"
RUN_FIELDS = ("timestamp", "git_commit", "git_dirty")
_OPTIONS = pytest.StashKey[dict]()
_WRITTEN = pytest.StashKey[str]()
_SAVED = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the --bench-* options and --stbench-store."""
    g = parser.getgroup("stbench", "stbench benchmarks (the stbench_bench fixture)")
    g.addoption("--bench-models", default=DEFAULT_MODELS, help="zoo name patterns, comma-separated")
    g.addoption("--bench-frames", type=int, default=8, help="clip length T (default 8)")
    g.addoption("--bench-size", type=int, default=64, help="frame size H=W (default 64)")
    g.addoption("--bench-batch", type=int, default=1, help="batch size (default 1)")
    g.addoption("--bench-classes", type=int, default=None, help="classes (default: spec's)")
    g.addoption("--bench-device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    g.addoption("--bench-dtype", default="float32", help="float32, bfloat16, float16 (autocast)")
    g.addoption("--bench-channels-last", action="store_true", help="channels_last_3d")
    g.addoption("--bench-compile", action="store_true", help="torch.compile each model")
    g.addoption("--bench-rounds", type=int, default=None, help="rounds (default: the protocol's)")
    g.addoption("--bench-warmup", type=int, default=None, help="warm-up rounds (default: stable)")
    g.addoption(
        "--bench-threads", type=int, default=None, help="intra-op threads (default: torch's)"
    )
    g.addoption("--stbench-store", default=None, metavar="PATH", help="write rows to this store")


def _check_device(device: str) -> str:
    """A canonical device that exists on this machine, else a one-line usage error."""
    from stbench.bench.config import canonical_device

    name = canonical_device(device)
    if name == "cpu":
        return name
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise pytest.UsageError(
            f"--bench-device {device}: CUDA is not available on this machine; allowed: cpu"
        )
    index = int(name.split(":")[1]) if ":" in name else 0
    if index >= count:
        raise pytest.UsageError(
            f"--bench-device {device}: this machine has {count} GPU(s); "
            f"allowed: cpu, cuda:0 .. cuda:{count - 1}"
        )
    return name


def bench_options(config: pytest.Config) -> dict[str, Any]:
    """The validated --bench-* options (a one-line `pytest.UsageError` for a bad one)."""
    opts = {
        k: config.getoption(f"--bench-{k.replace('_', '-')}")
        for k in ("frames", "size", "batch", "classes", "rounds", "warmup", "threads")
    }
    for k, v in opts.items():
        least = 0 if k == "warmup" else 1
        if v is not None and v < least:
            raise pytest.UsageError(f"--bench-{k}: got {v}; allowed: an integer >= {least}")
    device, dtype = config.getoption("--bench-device"), config.getoption("--bench-dtype")
    if device != "cpu" or dtype != "float32":
        from stbench.bench.config import dtype_name

        try:
            device, dtype = _check_device(device), dtype_name(dtype)
        except ValueError as exc:
            option = "--bench-" + str(exc).split(":", 1)[0]
            raise pytest.UsageError(f"{option}: {str(exc).split(':', 1)[1].strip()}") from None
    return {
        "models": config.getoption("--bench-models"),
        "frames": opts["frames"],
        "size": opts["size"],
        "batch": opts["batch"],
        "num_classes": opts["classes"],
        "device": device,
        "dtype": dtype,
        "channels_last": config.getoption("--bench-channels-last"),
        "compile": config.getoption("--bench-compile"),
        "rounds": opts["rounds"],
        "warmup_rounds": opts["warmup"],
        "threads": opts["threads"],
    }


def pytest_configure(config: pytest.Config) -> None:
    """Validate the options once, before any test runs, so a bad one is one usage line."""
    config.stash[_OPTIONS] = bench_options(config)
    store = config.getoption("--stbench-store")
    if store is None:
        return
    if not config.pluginmanager.hasplugin(BENCHMARK_PLUGIN):
        raise pytest.UsageError(f"--stbench-store: {NEEDS_BENCHMARK}")
    from stbench.output import check_writable

    try:
        check_writable(store, option="--stbench-store")
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def selected_models(pattern: str) -> list[str]:
    """Zoo names matching any of the comma-separated patterns, in pattern order."""
    from stbench.zoo import list_models

    names: list[str] = []
    for pat in (p.strip() for p in pattern.split(",") if p.strip()):
        names.extend(n for n in list_models(pat) if n not in names)
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `stbench_zoo_model` over the zoo names --bench-models selects."""
    if "stbench_zoo_model" in metafunc.fixturenames:
        pattern = metafunc.config.getoption("--bench-models")
        names = selected_models(pattern)
        if not names:
            raise pytest.UsageError(f"--bench-models: no zoo model matches {pattern!r}")
        metafunc.parametrize("stbench_zoo_model", names)


@pytest.fixture(scope="session")
def stbench_options(pytestconfig: pytest.Config) -> dict[str, Any]:
    """The validated --bench-* options: input, device, dtype, format, compile, rounds."""
    return dict(pytestconfig.stash[_OPTIONS])


@pytest.fixture
def stbench_bench(request: pytest.FixtureRequest, stbench_options: dict[str, Any]) -> Callable:
    """``stbench_bench(model, input_shape=None, **overrides)``: time one forward with
    pytest-benchmark under stbench's protocol; returns the last output. Unset keywords
    (frames, size, batch, num_classes, device, dtype, channels_last, compile, rounds,
    warmup_rounds, threads) come from the --bench-* options; also ``name`` and ``protocol``.
    ``extra_info`` records the threads, the machine's load and ``timing_flags``: rounds
    quantised to scheduler ticks or a load above the CPUs (each also a `NoisyTiming`
    warning)."""
    if not request.config.pluginmanager.hasplugin(BENCHMARK_PLUGIN):
        pytest.skip(f"stbench_bench {NEEDS_BENCHMARK}")
    benchmark = request.getfixturevalue("benchmark")
    defaults = {k: v for k, v in stbench_options.items() if k != "models"}

    def run(model: Any, input_shape: Any = None, **overrides: Any) -> Any:
        from stbench.bench.measure.benchmark_run import benchmark_model

        given = {k: v for k, v in defaults.items() if input_shape is None or k not in SHAPE}
        return benchmark_model(benchmark, model, input_shape, **{**given, **overrides})

    return run


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """Add host, CPU, GPU, driver, torch/CUDA/cuDNN and counter versions (asked for only
    when pytest-benchmark saves or compares a run)."""
    from stbench.bench.environment import collect_environment

    device = config.stash[_OPTIONS]["device"]
    env = collect_environment(init_cuda=device.startswith("cuda"))
    # what changes from run to run lives in the document's datetime and commit_info, so
    # that --benchmark-compare does not see a different machine every time
    machine_info["stbench"] = {k: v for k, v in env.items() if k not in RUN_FIELDS}


def _benchmark_document(config: pytest.Config) -> dict[str, Any] | None:
    """The session's results as `--benchmark-json` writes them (None: nothing was timed)."""
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return None
    hook = config.hook
    saved = config.stash.get(_SAVED, None)
    if saved is None:
        saved = {
            "machine_info": session.get_machine_info(),
            "commit_info": hook.pytest_benchmark_generate_commit_info(config=config),
        }
    return hook.pytest_benchmark_generate_json(
        config=config, benchmarks=session.benchmarks, include_data=True, **saved
    )


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config: pytest.Config, output_json: dict) -> None:
    """Keep the machine and commit info pytest-benchmark saved (not collected twice)."""
    keys = ("machine_info", "commit_info")
    config.stash[_SAVED] = {k: output_json[k] for k in keys}


def pytest_sessionfinish(session: pytest.Session) -> None:
    """With --stbench-store, write the session's benchmarks as profile rows."""
    config = session.config
    path = config.getoption("--stbench-store")
    doc = None if path is None else _benchmark_document(config)
    if doc is None:
        return
    from stbench.bench.store.results import ResultsStore

    try:
        with ResultsStore(path) as store:
            added, skipped = store.import_benchmark_doc(doc, f"pytest session {config.rootpath}")
    except ValueError as exc:  # StoreError included
        config.stash[_WRITTEN] = f"stbench: --stbench-store: {exc}"
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
        return
    extra = f", skipped {skipped} without stbench extra_info" if skipped else ""
    config.stash[_WRITTEN] = f"stbench: wrote {added} row(s) to {path}{extra}"


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Say what --stbench-store wrote."""
    line = config.stash.get(_WRITTEN, None)
    if line is not None:
        terminalreporter.write_line(line)
