"""`stbench predict` and `bench.predict.predictor.predict`: fields, consistency, scaling and bad input."""

import json

import pytest
from stbench.bench.count.counting import static_count
from stbench.bench.count.static import build_zoo_model
from stbench.bench.predict.predictor import predict, run_traced, stage_operators
from stbench.cli import main
from stbench.zoo import get_spec

MODEL = "r2plus1d_resnet18"
SMALL = ["--frames", "8", "--size", "32"]
FIELDS = {
    "model",
    "frames",
    "size",
    "batch",
    "dtype",
    "gpu",
    "macs",
    "bytes_moved",
    "kernels",
    "peak_memory_bytes",
    "latency_bound_ms",
}
KEY = ("model", "frames", "size", "batch", "num_classes", "device", "dtype", "memory_format")


def run_json(capsys, *argv):
    assert main(["predict", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)  # one JSON list, as every table command


def test_json_fields_and_key(capsys):
    (r,) = run_json(capsys, MODEL, "--gpu", "h100_sxm", "--batch", "2", *SMALL)
    assert FIELDS <= set(r)
    assert r["kind"] == "predicted" and r["gpu"] == "h100_sxm"
    assert tuple(r[k] for k in KEY) == (
        MODEL,
        8,
        32,
        2,
        400,
        "predicted:h100_sxm",
        "float32",
        "contiguous",
    )
    assert r["compile"] is False and r["macs_per"] == "clip"
    assert "train_macs" not in r
    assert r["latency_bound_ms"] == pytest.approx(r["roofline_ms"] + r["launch_overhead_ms"])
    assert r["launch_overhead_ms"] == pytest.approx(r["kernels"] * 3e-3)
    assert r["memory"]["peak_bytes"] == r["peak_memory_bytes"]
    assert r["peak_memory_last_use_bytes"] <= r["peak_memory_bytes"]
    assert r["fits"] is True


def test_train_fields(capsys):
    (r,) = run_json(capsys, MODEL, "--gpu", "a100", "--train", "--optimizer", "adamw", *SMALL)
    assert {"train_macs", "train_peak_memory_bytes", "train_latency_bound_ms"} <= set(r)
    assert r["train_flops"] == 2 * r["train_macs"]
    # backward: grad_weight for every conv, grad_input for all but the stem conv
    assert 2 * r["macs"] < r["train_macs"] < 3 * r["macs"]
    mem = r["train_memory"]
    assert mem["optimizer_state_bytes"] == 2 * mem["gradient_bytes"]  # AdamW: two moments
    assert r["train_peak_memory_bytes"] > r["peak_memory_bytes"]
    assert set(r["train_phases"]) == {"forward", "backward", "optimizer"}


def test_macs_agree_with_the_static_count():
    r = predict(MODEL, gpu="l4", batch=3, frames=8, size=32)
    model = build_zoo_model(MODEL, frames=8, num_classes=400)
    assert r["macs"] == static_count(model, (1, 3, 8, 32, 32)).macs
    assert r["flops"] == 2 * r["macs"]


def test_scaling_with_batch_dtype_and_cuda_graphs():
    one = predict(MODEL, gpu="h100_sxm", batch=1, frames=8, size=64)
    four = predict(MODEL, gpu="h100_sxm", batch=4, frames=8, size=64)
    assert four["macs"] == one["macs"] and four["kernels"] == one["kernels"]
    assert four["bytes_moved"] > 2 * one["bytes_moved"]
    act = [r["memory"]["activation_bytes_at_peak"] for r in (one, four)]
    assert act[1] == pytest.approx(4 * act[0], rel=0.05)
    assert four["latency_bound_ms"] > one["latency_bound_ms"]
    half = predict(MODEL, gpu="h100_sxm", batch=4, frames=8, size=64, dtype="bfloat16")
    assert half["bytes_moved"] < 0.7 * four["bytes_moved"]
    assert half["memory"]["autocast_weight_bytes_at_peak"] > 0
    graphs = predict(MODEL, gpu="h100_sxm", batch=1, frames=8, size=64, cuda_graphs=True)
    assert graphs["launch_overhead_ms"] == 0
    assert graphs["latency_bound_ms"] == pytest.approx(one["roofline_ms"])


def test_per_stage_breakdown_adds_up(capsys):
    (r,) = run_json(capsys, MODEL, "--gpu", "h100_sxm", "--per-stage", *SMALL)
    stages = r["per_stage"]
    assert list(stages)[:2] == ["stem", "stages.0"]
    assert stages["stages.0"]["operator"] == "r2plus1d"
    assert sum(s["kernels"] for s in stages.values()) == r["kernels"]
    assert sum(s["bytes_moved"] for s in stages.values()) == r["bytes_moved"]
    assert {"conv_spatial", "conv_temporal", "norm"} <= set(r["per_kind"])
    for s in stages.values():
        assert s["arithmetic_intensity"] == pytest.approx(s["macs"] / s["bytes_moved"])


def test_stage_operators_of_inception():
    spec = get_spec("s3d_inception_v1")
    stages = ["features.conv_1a", "features.conv_2b", "features.conv_2c"]
    stages += [f"features.mixed_{b}" for b in ("3b", "3c", "4b", "4c", "4d", "4e", "4f")]
    stages += ["features.mixed_5b", "features.mixed_5c", "head"]
    ops = stage_operators(spec, stages)
    assert ops["features.conv_1a"] == spec.stem == "3d(temporal_kernel=3)"
    assert ops["features.conv_2c"] == spec.operators[0]
    assert ops["features.mixed_5c"] == spec.operators[-1] == "sep3d"
    assert "features.conv_2b" not in ops and "head" not in ops


def test_table_says_predicted_and_lower_bound(capsys):
    assert main(["predict", MODEL, "--gpu", "t4", *SMALL, "--per-stage", "--train"]) == 0
    out = capsys.readouterr().out
    assert "PREDICTED" in out and "lower bound" in out and "not modelled" in out
    assert "stages.3" in out and "train peak" in out


def test_list_gpus(capsys):
    assert main(["predict", "--list-gpus"]) == 0
    out = capsys.readouterr().out
    for name in ("h100_sxm", "h200", "a100_80gb", "l4", "t4", "v100_sxm2"):
        assert name in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--gpu", "x100"],
            "gpu: got 'x100'; allowed: h100_sxm, h100_pcie, h200, b200, a100_80gb",
        ),
        (["--gpu", "v100", "--dtype", "bfloat16"], "dtype: got 'bfloat16' for gpu v100_sxm2"),
        (["--gpu", "h100", "--dtype", "int8"], "dtype: got 'int8'; allowed: float32"),
        (["--gpu", "h100", "--batch", "0"], "batch: got 0; allowed: an integer >= 1"),
        (["--gpu", "h100", "--batch", "two"], "batch: got 'two'"),
        (["--gpu", "h100", "--size", "8"], "8x8"),  # the model's own check
        (["--gpu", "h100", "--frames", "2"], "frames: got 2"),
        (["--gpu", "h100", "--optimizer", "adam"], "optimizer: got 'adam'; allowed: sgd, adamw"),
        ([], "gpu: got nothing"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    assert main(["predict", MODEL, *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stbench predict: error: ")
    assert message in lines[0]


def test_a_trace_failure_is_a_one_line_value_error():
    def boom():
        raise RuntimeError("shape mismatch\nsecond line")

    with pytest.raises(
        ValueError, match=r"^configuration: m cannot be traced \(forward\): shape mismatch$"
    ):
        run_traced("m", "forward", boom)


def test_unknown_model_is_one_line(capsys):
    assert main(["predict", "no_such_model", "--gpu", "h100"]) == 2
    assert "unknown model name" in capsys.readouterr().err


def test_predictions_write_through_the_output_layer(tmp_path, capsys):
    out = tmp_path / "sub" / "p.csv"
    assert main(["predict", MODEL, "--gpu", "h100_sxm", *SMALL, "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("model,frames,size,") and "latency_bound_ms" in text
    assert out.stat().st_mode & 0o777 == 0o644
    assert main(["predict", "--list-gpus", "--format", "markdown"]) == 0
    assert "| h100_sxm |" in capsys.readouterr().out
    assert main(["predict", MODEL, "--gpu", "h100_sxm", "--out", str(tmp_path / "x.parquet")]) == 2


REFERENCE_HEAD = "model,frames,size,batch,num_classes,dtype,memory_format,status,latency_ms_median"


def _reference(path, rows):
    path.write_text("\n".join([REFERENCE_HEAD, *rows]) + "\n")
    return str(path)


def _fake_probe(monkeypatch, tmp_path):
    monkeypatch.setenv("STBENCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(
        "stbench.bench.predict.cpu_device.probe",
        lambda threads: (
            {"cpu": "x", "threads": threads, "n": 8, "fp32_flops": 5e10}
            | {"bf16_flops": 1e11, "bandwidth": 1e10, "probed_at": "2026-01-01T00:00:00+00:00"}
            | {"cache_bytes": 2**20, "cache_bandwidth": 5e10}
        ),
    )


SMALL_REFERENCE = [
    f"{m},{f},{s},1,10,float32,contiguous,ok,{ms * f * s * s / 2**13:.2f}"
    for m, ms in (("tsn_resnet18", 1.0), ("i3d_resnet18", 2.5))
    for f in (2, 4)
    for s in (32, 48, 64, 80)
]


def test_validate_cpu_end_to_end_on_a_small_reference(tmp_path, capsys, monkeypatch):
    """Fit on every other row of a CPU reference CSV, the error per design group on the rest."""
    _fake_probe(monkeypatch, tmp_path)
    ref = _reference(tmp_path / "cpu-x.csv", SMALL_REFERENCE)
    assert main(["predict", "--validate-cpu", ref, "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [r["group"] for r in got] == ["2D", "3D"] and [r["n"] for r in got] == [4, 4]
    assert all(r["worst"] >= r["median"] >= 0 for r in got)
    assert main(["predict", "--validate-cpu", ref]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "probed 2026-01-01T00:00:00+00:00" in text and "8 held-out float32 inputs" in text


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "CPU reference: got"),  # no such file
        ("", "is not a CSV"),
        ('a,b\n1,"2\n', "is not a CSV"),
        (REFERENCE_HEAD + "\n", "has 0 ok batch-1 float32 row(s); allowed: at least 16"),
        ("model,frames\ntsn_resnet18,2\n", "lacks column(s) size, batch"),
        ("\n".join([REFERENCE_HEAD, *SMALL_REFERENCE[:3]]), "has 3 ok batch-1 float32 row(s)"),
        (
            "\n".join(
                [REFERENCE_HEAD, *(r.replace("float32", "bfloat16") for r in SMALL_REFERENCE)]
            ),
            "has 0 ok batch-1 float32 row(s)",
        ),
        (
            "\n".join([REFERENCE_HEAD, "no_such_net,2,32,1,10,float32,contiguous,ok,1"]),
            "no_such_net",
        ),
    ],
)
def test_validate_cpu_bad_files_are_one_line(tmp_path, capsys, monkeypatch, content, message):
    _fake_probe(monkeypatch, tmp_path)
    path = tmp_path / "ref.csv"
    if content is not None:
        path.write_text(content)
    assert main(["predict", "--validate-cpu", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


@pytest.mark.parametrize(
    "argv", [["--reprobe"], ["--leave-one-gpu-out"]], ids=["reprobe", "leave-one-gpu-out"]
)
def test_validation_flags_need_their_validation(capsys, argv):
    assert main(["predict", MODEL, "--gpu", "h100", *argv]) == 2
    assert "allowed: only with --validate-" in capsys.readouterr().err
