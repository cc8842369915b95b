"""bench.predict.trace: MACs and bytes of single ops against hand computation, kernels, stages, backward."""

import pytest
import torch
from stbench.bench.count.counting import static_count
from stbench.bench.count.static import build_zoo_model
from stbench.bench.predict.trace import (
    conv_kind,
    stage_names,
    stage_of,
    trace_forward,
    trace_training_step,
    unique_bytes,
)
from torch import nn

F32 = 4


def meta(module_fn):
    with torch.device("meta"):
        return module_fn()


def only(trace, op):
    hits = [o for o in trace.ops if o.op == op]
    assert len(hits) == 1, [o.op for o in trace.ops]
    return hits[0]


class Operand(nn.Module):
    """``fn(x, self.b)`` with ``b`` a buffer of the given shape."""

    def __init__(self, fn, shape):
        super().__init__()
        self.fn = fn
        self.register_buffer("b", torch.empty(shape))

    def forward(self, x):
        return self.fn(x, self.b)


def test_conv3d_macs_and_bytes_by_hand():
    conv = meta(lambda: nn.Conv3d(4, 8, 3, padding=1, bias=False))
    op = only(trace_forward(conv, (2, 4, 4, 8, 8)), "convolution")
    # MACs = B * output positions (T*H*W) * Cout * Cin * kT*kH*kW
    assert op.macs == 2 * (4 * 8 * 8) * (8 * 4 * 27) == 442_368
    assert op.flops == 2 * op.macs
    # read: input 2*4*4*8*8 + weight 8*4*27 floats; written: output 2*8*4*8*8 floats
    assert op.bytes_read == (2 * 4 * 4 * 8 * 8 + 8 * 4 * 27) * F32 == 11_648
    assert op.bytes_written == 2 * 8 * 4 * 8 * 8 * F32 == 16_384
    assert op.launches_kernel and op.category == "conv" and op.kind == "conv_3d"


def test_conv3d_bias_is_read_once():
    conv = meta(lambda: nn.Conv3d(4, 8, 3, padding=1, bias=True))
    op = only(trace_forward(conv, (2, 4, 4, 8, 8)), "convolution")
    assert op.bytes_read == 11_648 + 8 * F32


def test_depthwise_temporal_conv_by_hand():
    conv = meta(lambda: nn.Conv3d(8, 8, (3, 1, 1), padding=(1, 0, 0), groups=8, bias=False))
    op = only(trace_forward(conv, (2, 8, 4, 8, 8)), "convolution")
    assert op.macs == 2 * (4 * 8 * 8) * (8 * 1 * 3) == 12_288  # Cin per group = 1
    assert op.bytes_read == (2 * 8 * 4 * 8 * 8 + 8 * 3) * F32 == 16_480
    assert op.bytes_written == 2 * 8 * 4 * 8 * 8 * F32
    assert op.kind == "conv_depthwise"
    # 0.75 MACs per byte: memory-bound on any GPU of the device table
    assert op.macs / (op.bytes_read + op.bytes_written) < 1


def test_batched_matmul_by_hand():
    mod = meta(lambda: Operand(torch.bmm, (3, 7, 4)))
    op = only(trace_forward(mod, (3, 5, 7)), "bmm")
    assert op.macs == 3 * 5 * 7 * 4 == 420
    assert op.bytes_read == (3 * 5 * 7 + 3 * 7 * 4) * F32 == 756
    assert op.bytes_written == 3 * 5 * 4 * F32 == 240
    assert op.category == "matmul"


def test_linear_is_linear_and_reads_weight_bias_input():
    fc = meta(lambda: nn.Linear(16, 10))
    trace = trace_forward(fc, (2, 16))
    op = only(trace, "addmm")
    assert (op.category, op.macs) == ("linear", 2 * 16 * 10)
    assert op.bytes_read == (2 * 16 + 16 * 10 + 10) * F32
    assert op.bytes_written == 2 * 10 * F32
    assert not only(trace, "t").launches_kernel  # the weight transpose is a view


def test_broadcast_elementwise_reads_the_small_operand_once():
    mod = meta(lambda: Operand(torch.add, (1, 4, 1, 1, 1)))
    op = only(trace_forward(mod, (2, 4, 4, 8, 8)), "add")
    n = 2 * 4 * 4 * 8 * 8
    assert (op.category, op.macs, op.flops) == ("elementwise", 0, n)
    assert op.bytes_read == (n + 4) * F32
    assert op.bytes_written == n * F32


def test_pooling_by_hand():
    n_in, n_out = 2 * 4 * 4 * 8 * 8, 2 * 4 * 4 * 4 * 4
    avg = only(trace_forward(nn.AvgPool3d((1, 2, 2)), (2, 4, 4, 8, 8)), "avg_pool3d")
    assert (avg.category, avg.bytes_read, avg.bytes_written) == ("pool", n_in * 4, n_out * 4)
    mx = only(trace_forward(nn.MaxPool3d((1, 2, 2)), (2, 4, 4, 8, 8)), "max_pool3d_with_indices")
    assert mx.bytes_written == n_out * F32 + n_out * 8  # values and int64 indices
    assert len(mx.allocs) == 2


def test_views_and_bare_allocations_launch_no_kernel():
    class Shuffle(nn.Module):
        def forward(self, x):
            y = x.transpose(1, 2)  # view
            z = torch.empty_like(x)  # allocation, no kernel
            return y.reshape(x.shape[0], -1) + z.flatten(1)  # copy kernel, add kernel

    trace = trace_forward(Shuffle(), (2, 3, 4, 5, 5))
    kernels = [o.op for o in trace.ops if o.launches_kernel]
    assert "transpose" not in kernels and "empty_like" not in kernels
    assert {o.category for o in trace.ops if o.op == "empty_like"} == {"alloc"}
    assert "add" in kernels
    copy = [o for o in trace.ops if o.launches_kernel and o.op != "add"]
    assert len(copy) == 1 and copy[0].category == "memory"  # reshape of a transposed view
    assert copy[0].bytes_read == copy[0].bytes_written == 2 * 3 * 4 * 5 * 5 * F32


def test_unique_bytes_counts_broadcast_dimensions_once():
    t = torch.empty(4, 1, device="meta").expand(4, 6)
    assert unique_bytes(t) == 4 * F32
    assert unique_bytes(torch.empty(0, 3, device="meta")) == 0


@pytest.mark.parametrize(
    ("shape", "groups", "kind"),
    [
        ((8, 4, 3, 3, 3), 1, "conv_3d"),
        ((8, 4, 1, 3, 3), 1, "conv_spatial"),
        ((8, 4, 3, 3), 1, "conv_spatial"),
        ((8, 4, 3, 1, 1), 1, "conv_temporal"),
        ((8, 4, 1, 1, 1), 1, "conv_pointwise"),
        ((8, 1, 3, 1, 1), 8, "conv_depthwise"),
        ((8, 2, 3, 3, 3), 2, "conv_grouped"),
    ],
)
def test_conv_kind(shape, groups, kind):
    assert conv_kind(shape, groups) == kind


def test_stage_names_from_containers():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Identity(), nn.Identity())
            self.stages = nn.ModuleList([nn.Identity(), nn.Identity()])
            self.features = nn.Sequential()
            self.features.add_module("mixed_4b", nn.Identity())
            self.head = nn.Linear(2, 2)

    stages = stage_names(Net())
    assert stage_of("stem.1", stages) == "stem"
    assert stage_of("stages.1.0.conv1", stages) == "stages.1"
    assert stage_of("features.mixed_4b.branch", stages) == "features.mixed_4b"
    assert stage_of("head.fc", stages) == "head"
    assert stage_of("", stages) == ""


def test_zoo_trace_agrees_with_static_count_and_names_stages():
    model = build_zoo_model("r2plus1d_resnet18", frames=8, num_classes=10)
    trace = trace_forward(model, (1, 3, 8, 32, 32))
    macs = sum(o.macs for o in trace.ops if o.category in ("conv", "linear"))
    assert macs == static_count(model, (1, 3, 8, 32, 32)).macs
    stages = [o.stage for o in trace.ops if o.category == "conv"]
    assert stages[0] == "stem" and {"stages.0", "stages.3"} <= set(stages)
    assert {"conv_spatial", "conv_temporal"} <= {o.kind for o in trace.ops}
    assert {o.phase for o in trace.ops} == {"forward"}


class TwoConvs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv3d(3, 4, 3, padding=1, bias=False)
        self.b = nn.Conv3d(4, 4, 3, padding=1, bias=False)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        return self.fc(self.b(self.a(x)).mean(dim=(2, 3, 4)))


def test_training_step_backward_macs_and_phases():
    model = meta(TwoConvs)
    trace = trace_training_step(model, (2, 3, 2, 4, 4))
    assert list(trace.phases) == ["forward", "backward", "optimizer"]
    fwd = {o.module: o.macs for o in trace.ops if o.phase == "forward" and o.category == "conv"}
    bwd = [o for o in trace.ops if o.op == "convolution_backward"]
    assert len(bwd) == 2
    by_module = {o.module: o.macs for o in bwd}
    # the first conv's input needs no gradient: only grad_weight (= forward MACs);
    # the second computes grad_input and grad_weight (2 x forward MACs)
    assert by_module == {"a": fwd["a"], "b": 2 * fwd["b"]}
    grads = [s for s in trace.storages.values() if s.category == "gradient"]
    assert sum(s.nbytes for s in grads) == sum(p.numel() for p in model.parameters()) * F32
    assert all(s.freed is not None for s in grads)  # zero_grad(set_to_none=True)


def test_autocast_emulation_casts_weights_once_and_halves_activations():
    model = meta(TwoConvs)
    f32 = trace_forward(model, (2, 3, 2, 4, 4))
    bf16 = trace_forward(model, (2, 3, 2, 4, 4), dtype="bfloat16")
    conv32 = [o for o in f32.ops if o.op == "convolution"]
    conv16 = [o for o in bf16.ops if o.op == "convolution"]
    assert [o.bytes_written for o in conv16] == [o.bytes_written // 2 for o in conv32]
    cached = [s for s in bf16.storages.values() if s.category == "autocast_weight"]
    assert len(cached) == 4  # two conv weights, the fc weight and bias
    last = len(bf16.ops) - 1
    assert {s.freed for s in cached} == {last}  # kept by the cache until autocast ends
    assert sum(o.op == "_to_copy" for o in bf16.ops) == 5  # the four weights and the input


def test_bad_input():
    with pytest.raises(ValueError, match="dtype: got 'int8'"):
        trace_forward(meta(TwoConvs), (1, 3, 2, 4, 4), dtype="int8")
    with pytest.raises(ValueError, match="allowed: all on meta"):
        trace_forward(TwoConvs(), (1, 3, 2, 4, 4))
    with pytest.raises(ValueError, match="input_shape"):
        trace_forward(meta(TwoConvs), (1, 0, 2))
