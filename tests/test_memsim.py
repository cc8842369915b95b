"""bench.predict.memsim: allocator rounding, lifetimes on a hand-made graph, training accounting, and
predicted vs measured (real CPU, live tensors) peaks for a family-covering subset of the zoo."""

import pytest
import torch
from stbench.bench.count.static import build_zoo_model
from stbench.bench.predict.memcheck import check_memory
from stbench.bench.predict.memsim import Interval, intervals, memory_report, round_block, simulate
from stbench.bench.predict.trace import Storage, Trace, TraceOp, trace_training_step
from torch import nn


@pytest.mark.parametrize(("n", "rounded"), [(0, 0), (1, 512), (512, 512), (513, 1024)])
def test_cuda_allocator_rounding(n, rounded):
    assert round_block(n) == rounded
    assert round_block(n, block=1) == n


def test_simulation_on_a_hand_made_chain():
    # weights live throughout; a -> b -> c, each freed after the op that consumes it
    items = [
        Interval(1000, "parameter", -1, None),  # 1024 rounded
        Interval(600, "activation", 0, 1),  # 1024
        Interval(100, "activation", 1, 2),  # 512
        Interval(512, "activation", 2, None),  # 512
    ]
    peak = simulate(items, steps=3)
    # op 0: 1024 + 1024; op 1: 1024 + 1024 + 512; op 2: 1024 + 512 + 512
    assert (peak.peak_bytes, peak.at) == (2560, 1)
    assert peak.live == {"parameters": 1024, "activations": 1536}
    assert simulate(items, steps=3, block=1).peak_bytes == 1000 + 600 + 100


def _op(index, allocs, uses):
    return TraceOp(index, "op", "forward", "", "", "elementwise", "elementwise", 0, 0, 0, 0, True,
                   allocs, uses)  # fmt: skip


def test_observed_versus_last_use_lifetimes():
    # x (input) -> a -> b -> out, but a is only freed at the end (a reference kept, as when a
    # caller holds a stage's input); last_use frees it after op 1, its last reader.
    storages = {
        0: Storage(0, 2048, "input", -1, None),
        1: Storage(1, 4096, "activation", 0, 2),
        2: Storage(2, 4096, "activation", 1, 2),
        3: Storage(3, 1024, "activation", 2, None),
    }
    ops = [_op(0, (1,), (0, 1)), _op(1, (2,), (1, 2)), _op(2, (3,), (2, 3))]
    trace = Trace(ops, storages, (1,), "float32", training=False)
    assert [iv.end for iv in intervals(trace, "observed")] == [None, 2, 2, None]
    assert [iv.end for iv in intervals(trace, "last_use")] == [None, 1, 2, None]
    assert memory_report(trace)["peak_bytes"] == 2048 + 4096 + 4096 + 1024
    assert memory_report(trace, lifetimes="last_use")["peak_bytes"] == 2048 + 4096 + 4096
    with pytest.raises(ValueError, match="lifetimes: got 'eager'"):
        intervals(trace, "eager")


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3, 4)))


@pytest.mark.parametrize(("optimizer", "states"), [("sgd", 1), ("adamw", 2)])
def test_training_step_accounting(optimizer, states):
    with torch.device("meta"):
        model = Tiny()
    trace = trace_training_step(model, (2, 3, 4, 8, 8), optimizer=optimizer)
    report = memory_report(trace)
    params = sum(round_block(p.numel() * 4) for p in model.parameters())
    assert report["parameter_bytes"] == params
    assert report["gradient_bytes"] == params
    assert report["optimizer_state_bytes"] == states * params  # momentum; exp_avg, exp_avg_sq
    # the conv output kept for the backward (ReLU's output) is alive when the forward ends
    assert report["saved_activation_bytes"] >= round_block(2 * 8 * 4 * 8 * 8 * 4)
    assert report["peak_bytes"] >= params * (2 + states) + report["input_bytes"]


# One model per design: 3D, (2+1)D, 2D per frame, clip-as-channels 2D, mixed, P3D, TSM, TAM,
# GST, non-local, SlowFast, temporal pooling, Inception (3D and separable 3D).
SUBSET = [
    "i3d_resnet18",
    "r2plus1d_resnet18",
    "tsn_resnet18",
    "r2d_resnet18",
    "mc3_resnet18",
    "p3d_resnet18",
    "tsm_resnet50",
    "tam_resnet18",
    "gst_a1_4_resnet18",
    "nln_resnet50",
    "slowfast_resnet50_8x8",
    "i3d_resnet18_tp",
    "i3d_inception_v1",
    "s3d_inception_v1",
]


# The issue asks for 10%; the model reaches a fraction of a percent (allocator rounding), so
# the tests hold it to 2% and a lifetime or layout regression shows.
TOLERANCE = 0.02


@pytest.mark.parametrize("name", SUBSET)
def test_predicted_inference_peak_matches_real_cpu_live_tensors(name):
    r = check_memory(name, batch=2, size=32)
    assert abs(r["error"]) < TOLERANCE, r
    assert abs(r["transient_error"]) < TOLERANCE, r  # the activations alone, without weights


@pytest.mark.parametrize("name", ["r2d_resnet18", "tsm_resnet50", "mc3_resnet18"])
def test_predicted_training_peak_matches_real_cpu_live_tensors(name):
    r = check_memory(name, batch=2, size=32, train=True, optimizer="sgd")
    assert abs(r["error"]) < TOLERANCE, r
    assert abs(r["transient_error"]) < TOLERANCE, r


def test_meta_training_step_runs_the_ops_of_a_real_one():
    # MC3: 3-D stage then per-frame 2-D stages. CPU and CUDA batch norms return contiguous
    # outputs where meta keeps the input's strides; unless the tracer corrects that, the
    # next per-frame reshape is a view on meta and a copy for real.
    model = build_zoo_model("mc3_resnet18", frames=8, num_classes=10)
    meta = trace_training_step(model, (2, 3, 8, 32, 32))
    model.to_empty(device="cpu")
    real = trace_training_step(model, (2, 3, 8, 32, 32), device="cpu")
    ops = [[o.op for o in t.ops if o.phase != "optimizer"] for t in (meta, real)]
    assert ops[0] == ops[1]
    sizes = [[s.nbytes for s in t.storages.values() if s.created >= 0] for t in (meta, real)]
    assert sizes[0][: len(sizes[1])] == sizes[1][: len(sizes[0])]


def test_reserved_replay_holds_every_allocation_in_segments():
    from stbench.bench.predict.allocator import (
        LARGE_BUFFER,
        SMALL_BUFFER,
        CachingAllocator,
        reserved_report,
    )
    from stbench.bench.predict.predictor import predict

    a = CachingAllocator()
    a.malloc(1, 100)  # small pool: one 2 MiB segment
    a.malloc(2, 3 << 20)  # large, < 10 MiB: one 20 MiB segment
    assert a.reserved == SMALL_BUFFER + LARGE_BUFFER and a.allocated == 512 + (3 << 20)
    a.free(2)
    a.malloc(3, 4 << 20)  # reuses the cached large segment
    assert a.reserved == SMALL_BUFFER + LARGE_BUFFER
    row = predict("tsn_resnet18", gpu="h100_sxm", frames=2, size=32, train=True)
    assert row["reserved_peak_memory_bytes"] >= row["peak_memory_bytes"]
    assert row["train_reserved_peak_memory_bytes"] >= row["train_peak_memory_bytes"]
    assert "max_memory_reserved" in row["memory_labels"]["reserved_peak_memory_bytes"]
    assert reserved_report.__doc__
