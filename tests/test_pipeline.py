"""One profiling pipeline: the configuration, build/count/prepare once, the store as cache,
and one join and one set of frontiers per `frontier`/`demo` run."""

import csv
import functools
import importlib
import json

import pytest
from stbench.bench.config import ProfileConfig
from stbench.bench.count import static
from stbench.bench.store.results import KEY_FIELDS, ResultsStore
from stbench.bench.sweep import fill
from stbench.bench.sweep.driver import Task
from stbench.cli import main
from stbench.zoo.records import COLUMNS

SMALL = dict(frames=2, size=32)


def spy_on(monkeypatch, module, name):
    """Replace ``module.name`` with a wrapper that records each call's arguments."""
    calls = []
    real = getattr(module, name)

    @functools.wraps(real)
    def wrapper(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


# ---------------------------------------------------------------- the configuration


def test_config_key_is_the_store_key_and_options_are_not():
    cfg = ProfileConfig.for_model("tsn_resnet18", channels_last=True, dtype="bf16", timing=True)
    assert cfg.key == ("tsn_resnet18", 8, 224, 1, 200, "cpu", "bfloat16", "channels_last_3d", 0)
    assert list(cfg.key_fields()) == list(KEY_FIELDS)
    assert (
        cfg.key
        == ProfileConfig.for_model(
            "tsn_resnet18", channels_last=True, dtype="bfloat16", memory=True, counters="all"
        ).key
    )
    assert cfg.counters == ("meta",) and cfg.measures and cfg.needs_weights
    static_cfg = cfg.static()
    assert static_cfg.key == ("tsn_resnet18", 8, 224, 1, 200, "cpu", "float32", "contiguous", 0)
    assert not static_cfg.measures and not static_cfg.needs_weights


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(frames=0), "frames: got 0; allowed: an integer >= 1"),
        (dict(batch=True), "batch: got True"),
        (dict(num_classes=-1), "num_classes: got -1"),
        (dict(throughput_batch=0), "throughput_batch: got 0"),
        (dict(device="tpu"), "device: got 'tpu'; allowed: cpu, cuda, cuda:N"),
        (dict(dtype="float64"), "dtype: got 'float64'; allowed: float32, bfloat16, float16"),
        (dict(counters="ptflops"), "counters: unknown counter 'ptflops'"),
        (dict(model="nope_resnet"), "unknown model name 'nope_resnet'"),
    ],
)
def test_config_refuses_bad_fields_in_one_line(kwargs, message):
    model = kwargs.pop("model", "tsn_resnet18")
    with pytest.raises(ValueError) as err:
        ProfileConfig.for_model(model, **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ValueError, match="memory_format: got 'nchw'"):
        ProfileConfig("tsn_resnet18", 8, 224, memory_format="nchw")


def test_task_runs_its_config_and_shares_its_key():
    t = Task("tsn_resnet18", frames=2, size=32, num_classes=5, channels_last=True, time=True)
    cfg = t.config()
    assert cfg.key == t.key and cfg.timing and cfg.channels_last
    assert ProfileConfig.for_model(cfg.model, **cfg.options()) == cfg  # options() round-trip


# ---------------------------------------------------------------- one build, count, prepare


@pytest.fixture
def spy(monkeypatch):
    """Call counts of building, counting, preparing and of each measurement's model."""
    from stbench.bench.count import counting, crosscheck

    prof = importlib.import_module(
        "stbench.bench.measure.profiler"
    )  # the package exports profile()

    seen = {
        "build": spy_on(monkeypatch, static, "build_zoo_model"),
        "count": spy_on(monkeypatch, counting, "static_count"),
        "recount": spy_on(monkeypatch, crosscheck, "record_ops"),
        "prepare": spy_on(monkeypatch, prof, "prepare"),
        "measured": [],
    }
    for name, field in (
        ("measure_latency", "latency_ms_median"),
        ("measure_throughput", "throughput_clips_per_s"),
        ("measure_peak_memory", "peak_mem_mib"),
    ):
        # the real ones are covered in test_timing; here only which model they get
        def fake(model, *args, _field=field, **kwargs):
            seen["measured"].append(model)
            return {_field: 1.0}

        monkeypatch.setattr(prof, name, fake)
    return seen


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_a_profile_builds_counts_prepares_and_compiles_once(spy):
    from stbench.bench.measure.profiler import profile

    row = profile(
        "tsn_resnet18",
        **SMALL,
        timing=True,
        memory=True,
        throughput_batch=4,
        compile=True,
        counters="torch-flop-counter",
    )
    assert len(spy["build"]) == 1 and spy["build"][0][1]["device"] == "cpu"  # real weights
    assert len(spy["count"]) == 1 and spy["recount"] == []  # the cross-check reuses the count
    assert len(spy["prepare"]) == 1 and spy["prepare"][0][1]["compile"] is True
    assert len(spy["measured"]) == 3 and len({id(m) for m in spy["measured"]}) == 1
    assert row["compile"] is True and row["counters"]["torch-flop-counter"]["macs"] == row["macs"]
    assert row["latency_ms_median"] == row["peak_mem_mib"] == row["throughput_clips_per_s"] == 1


def test_a_static_profile_builds_on_meta_and_prepares_nothing(spy):
    from stbench.bench.measure.profiler import profile

    profile("tsn_resnet18", **SMALL)
    assert [c[1]["device"] for c in spy["build"]] == ["meta"]
    assert len(spy["count"]) == 1 and spy["prepare"] == [] and spy["measured"] == []


def test_cli_profile_of_many_models_counts_each_once_before_any_row(spy, capsys):
    assert main(["profile", "tsn_resnet18", "tam_resnet18", "--frames", "2", "--size", "32"]) == 0
    assert len(spy["build"]) == 2 and len(spy["count"]) == 2
    assert "tam_resnet18" in capsys.readouterr().out


# ---------------------------------------------------------------- the store as cache


def _records(path):
    rows = [
        ("tsn_resnet18", "TSN-R18", 30.5, 4),
        ("tam_resnet18", "TAM-R18", 35.0, 4),
        ("tsn_resnet18", "TSN-R18", 31.0, 8),
        ("", "Unbuilt-Net", 50.0, 4),
    ]
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for model, name, value, frames in rows:
            w.writerow(
                dict(
                    paper="chen2021",
                    model=model,
                    published_name=name,
                    dataset="mini_ssv2",
                    split="val",
                    metric="top1",
                    value=value,
                    level="clip",
                    views="1x1",
                    frames=frames,
                    input_size=32,
                    pretraining="imagenet",
                    modality="rgb",
                    source=f"made up for a test: {name} at {frames} frames",
                )
            )
    return path


@pytest.fixture
def tiny_records(tmp_path, monkeypatch):
    """`load_records` reads only a three-configuration records file."""
    from stbench.zoo import records

    path = _records(tmp_path / "records.csv")
    real = records.load_records
    monkeypatch.setattr(records, "load_records", lambda paths=None, **kw: real([path], **kw))
    return path


def test_a_second_frontier_counts_nothing_and_says_the_same(tmp_path, capsys, tiny_records):
    store = tmp_path / "new" / "s.sqlite"
    argv = ["frontier", "--out", str(tmp_path / "f.html"), "--store", str(store), "--json"]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    with ResultsStore(store, readonly=True) as db:
        rows = db.rows()
    assert {(r["model"], r["frames"]) for r in rows} == {
        ("tsn_resnet18", 4),
        ("tam_resnet18", 4),
        ("tsn_resnet18", 8),
    }
    assert all(r["status"] == "ok" and r["device"] == "cpu" and r["batch"] == 1 for r in rows)
    assert [r["model"] for r in first] == ["tsn_resnet18", "tam_resnet18"]

    def no_counting(*_a, **_k):
        raise AssertionError("the second run counted")

    mp = pytest.MonkeyPatch()
    mp.setattr(fill, "count_many", no_counting)
    try:
        assert main(argv) == 0
        assert json.loads(capsys.readouterr().out) == first
        assert main(["demo", "--out-dir", str(tmp_path / "demo"), "--store", str(store)]) == 0
        assert "3 records plotted" in capsys.readouterr().out
    finally:
        mp.undo()
    with ResultsStore(store, readonly=True) as db:
        assert len(db.rows()) == 3


def test_a_stored_measurement_answers_the_static_count(tmp_path, capsys, monkeypatch):
    store = tmp_path / "s.sqlite"
    with ResultsStore(store) as db:  # a GPU row of another batch carries per-clip counts
        cfg = ProfileConfig.for_model("tsn_resnet18", frames=2, size=32)
        row = {**cfg.key_fields(), "device": "cuda", "batch": 8, "latency_ms_median": 3.0}
        db.add_row({**row, "params": 11, "macs": 22, "counter": "meta"})
    calls = spy_on(monkeypatch, fill, "count_many")
    argv = ["compare", "tsn_resnet18", "--frames", "2", "--size", "32", "--store", str(store)]
    assert main([*argv, "--json"]) == 0
    out = {r["figure"]: r["value"] for r in json.loads(capsys.readouterr().out)}
    assert calls == [] and out["GMACs per clip"] == pytest.approx(22e-9)
    assert out["params (M)"] == pytest.approx(11e-6)
    assert out["latency (ms) cuda b8 float32"] == 3.0


def test_missing_static_keeps_one_config_per_clip_and_ignores_failures():
    a = ProfileConfig("m", 8, 224, num_classes=10, timing=True, device="cpu", batch=4)
    b = ProfileConfig("m", 8, 224, num_classes=10)
    c = ProfileConfig("m", 16, 224, num_classes=10)
    stored = [
        {**c.key_fields(), "status": "failed", "error": "x"},
        {**a.key_fields(), "status": "ok", "counter": "meta", "params": None, "macs": None},
    ]
    todo = static.missing_static([a, b, c], stored)
    assert [t.key for t in todo] == [b.key, c.key]
    assert static.missing_static(
        [a, c], [*stored, {**c.key_fields(), "counter": "meta", "params": 1, "macs": 2}]
    ) == [b]


def test_frontier_and_demo_read_the_store_and_the_reference_files_once(
    tmp_path, capsys, tiny_records, monkeypatch
):
    from stbench.plots import sources

    store = str(tmp_path / "s.sqlite")
    assert main(["frontier", "--out", str(tmp_path / "f.html"), "--store", store]) == 0
    seen = {
        "store": spy_on(monkeypatch, ResultsStore, "rows"),
        "reference": spy_on(monkeypatch, sources, "load_reference"),
    }
    argv = ["frontier", "--out", str(tmp_path / "f.html"), "--store", store]
    assert main(argv) == 0  # the up-front checks read what the pipeline then uses
    assert {k: len(v) for k, v in seen.items()} == {"store": 1, "reference": 1}
    assert main(["demo", "--out-dir", str(tmp_path / "d"), "--store", store]) == 0
    assert {k: len(v) for k, v in seen.items()} == {"store": 2, "reference": 2}
    capsys.readouterr()


def test_one_join_one_set_of_points_and_frontiers_per_run(
    tmp_path, capsys, tiny_records, monkeypatch
):
    from stbench.bench import join
    from stbench.plots import data

    seen = {
        "join": spy_on(monkeypatch, join, "join_profiles_records"),
        "points": spy_on(monkeypatch, data, "build_points"),
        "frontiers": spy_on(monkeypatch, data, "frontier_ids"),
    }
    store = str(tmp_path / "s.sqlite")
    assert main(["frontier", "--out", str(tmp_path / "f.html"), "--store", store]) == 0
    assert {k: len(v) for k, v in seen.items()} == {"join": 1, "points": 1, "frontiers": 1}
    assert main(["demo", "--out-dir", str(tmp_path / "d"), "--store", store]) == 0
    assert {k: len(v) for k, v in seen.items()} == {"join": 2, "points": 2, "frontiers": 2}
    capsys.readouterr()
