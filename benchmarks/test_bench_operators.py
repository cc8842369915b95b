"""pytest-benchmark: every temporal operator and family network of the zoo against
straightforward implementations written in ``benchmarks/baselines.py`` (same weights, outputs
checked equal first). The zoo formulation and its baselines run interleaved round by round
(shared noise); ``extra_info`` records zoo / fastest baseline per round (median, min, max),
the best baseline and each one's median. Target on CPU: ratio_median <= 1.05.

Inputs: operators at a ResNet-50 stage-2 shape (B=1, T=8, C=256 or 64, 28x28; the layout the
zoo's networks feed them), networks at 1x3x8x112x112, eager float32, 2 threads
(``STBENCH_BENCH_THREADS`` to change; ``STBENCH_BENCH_CLOCK=thread`` times this thread's CPU
time instead of the wall clock, for 1 thread on a shared core).
Cases "... vs old" and "networks: old formulation" compare the shifted formulations
(``models/formulations.py``) with the kernels the zoo ran before; "networks: design / TSN"
times a temporal design against its TSN (target <= 1.10).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import torch
from baselines import (
    AttentionNonLocal,
    DepthwiseConvTAM,
    FramesTAM,
    IndexedMaxPool,
    OnFrames,
    ReferenceFormulation,
    ThreeConvTAM,
    ZeroFillTSM,
    interleaved,
    plain_2d,
    plain_3d,
    ratio_summary,
)
from stbench.models.convs import conv3d
from stbench.models.layout import fold, unfold
from stbench.models.operators import make_operator
from stbench.models.pooling import Pool
from stbench.models.slowfast import Lateral
from stbench.models.temporal import make_temporal
from stbench.zoo import create_model

B, T, HW = 1, 8, 28
THREADS = int(os.environ.get("STBENCH_BENCH_THREADS", "2"))  # intra-op threads of every case
OP_ROUNDS, NET_ROUNDS = 30, 7

Case = tuple[Callable[[], torch.Tensor], dict[str, Callable[[], torch.Tensor]]]


def _x(c: int, t: int = T, hw: int = HW) -> torch.Tensor:
    return torch.randn(B, c, t, hw, hw)


def _folded_case(name: str, channels: int) -> Case:
    """A temporal module as the zoo runs it inside a 2-D network (folded), against the same
    operator on (B*T, C, H, W) frames and on an unfolded copy."""
    module = make_temporal(name, channels, T).eval()
    x = fold(_x(channels))
    frames = x.squeeze(2)
    if name == "tam":
        framewise = FramesTAM(module, T)
    elif name == "tsm":
        framewise = OnFrames(ZeroFillTSM.of(module), T)
    else:
        framewise = OnFrames(module.pool, T)
    return lambda: module(x), {"frames (B*T,C,H,W)": lambda: framewise(frames)}


def _volume_case(name: str, channels: int) -> Case:
    """A temporal module on (B, C, T, H, W) against its paper formulation."""
    module = make_temporal(name, channels, T).eval()
    x = _x(channels)
    if name == "tam":
        base: dict[str, Callable[[], torch.Tensor]] = {
            "three convs": lambda: ThreeConvTAM(module)(x)
        }
    elif name == "tsm":
        base = {"zero fill + slices": lambda: ZeroFillTSM.of(module)(x)}
    else:
        base = {"3-D pool": lambda: module.pool(x)}
    return lambda: module(x), base


def _nonlocal_case() -> Case:
    block = make_temporal("nonlocal", 256).eval()
    x = _x(256, hw=14)
    return lambda: block(x), {"sdpa": lambda: AttentionNonLocal(block)(x)}


def _conv_case(spec: str, **args: object) -> Case:
    """A factorised operator against the same convs as plain nn.Conv3d modules in sequence."""
    module = make_operator(spec, 64, 64, **args).eval()
    x = _x(64)
    plain = torch.nn.Sequential(*module.children()) if spec != "gst" else None
    if plain is not None:
        return lambda: module(x), {"nn.Sequential": lambda: plain(x)}
    half = module.in_split

    def split() -> torch.Tensor:
        return torch.cat([module.spatial(x[:, :half]), module.temporal(x[:, half:])], 1)

    return lambda: module(x), {"slice + cat": split}


def _lateral_case() -> Case:
    lateral = Lateral(32, 4, 5).eval()
    x = _x(32, t=32)
    conv = conv3d(32, 64, (5, 1, 1), (4, 1, 1))
    conv.weight = lateral.conv.weight
    return lambda: lateral(x), {"conv+bn+relu": lambda: torch.relu(lateral.bn(conv(x)))}


def _unfolded_pool_case(name: str) -> Case:
    module = make_temporal(name, 256, T).eval()
    x = fold(_x(256))
    pool = IndexedMaxPool(module.pool) if name == "tmax" else module.pool  # the indexed kernel
    return lambda: module(x), {"unfold + 3-D pool + fold": lambda: fold(pool(unfold(x, B)))}


def _old_tam_case(folded: bool) -> Case:
    """TAM's shifted multiply-adds against its old depthwise t=3 conv formulation."""
    module = make_temporal("tam", 256, T).eval()
    x = fold(_x(256)) if folded else _x(256)
    old = DepthwiseConvTAM(module)
    return lambda: module(x), {"depthwise t=3 conv (old)": lambda: old(x)}


def _max_pool_case(kernel: tuple[int, int, int], folded: bool) -> Case:
    """An Inception branch's stride-1 max pool (mixed_3b input: 192 channels, 28x28):
    separable maxima over shifted views against the indexed ``max_pool3d`` (old)."""
    pool = Pool(kernel, (1, 1, 1), tuple(k // 2 for k in kernel), mode="max").make()
    x = fold(_x(192)) if folded else _x(192)
    old = IndexedMaxPool(pool)
    return lambda: pool(x), {"max_pool3d with indices (old)": lambda: old(x)}


OPERATORS: dict[str, Callable[[], Case]] = {
    "tam (folded) vs old": lambda: _old_tam_case(True),
    "tam (B,C,T,H,W) vs old": lambda: _old_tam_case(False),
    "max pool 1x3x3 s1 (folded) vs old": lambda: _max_pool_case((1, 3, 3), True),
    "max pool 3x3x3 s1 (B,C,T,H,W) vs old": lambda: _max_pool_case((3, 3, 3), False),
    "tam (folded)": lambda: _folded_case("tam", 256),
    "tam (B,C,T,H,W)": lambda: _volume_case("tam", 256),
    "tsm (folded)": lambda: _folded_case("tsm", 256),
    "tsm (B,C,T,H,W)": lambda: _volume_case("tsm", 256),
    "tavg (folded)": lambda: _unfolded_pool_case("tavg"),
    "tmax (folded)": lambda: _unfolded_pool_case("tmax"),
    "nonlocal": _nonlocal_case,
    "r2plus1d": lambda: _conv_case("r2plus1d"),
    "sep3d": lambda: _conv_case("sep3d"),
    "p3d": lambda: _conv_case("p3d"),
    "gst": lambda: _conv_case("gst"),
    "slowfast lateral": _lateral_case,
}

NETWORKS: dict[str, tuple[str, Callable]] = {
    "tsn_resnet50": ("tsn_resnet50", plain_2d),
    "tam_resnet50": ("tam_resnet50", plain_2d),
    "tsm_resnet50": ("tsm_resnet50", plain_2d),
    "tsn_resnet18_tmax": ("tsn_resnet18_tmax", plain_2d),
    "tsn_inception_v1": ("tsn_inception_v1", plain_2d),
    "tam_inception_v1": ("tam_inception_v1", plain_2d),
    "mc3_resnet18": ("mc3_resnet18", plain_3d),
    "r2plus1d_resnet18": ("r2plus1d_resnet18", plain_3d),
    "i3d_resnet50": ("i3d_resnet50", plain_3d),
}


def _network_case(name: str) -> Case:
    zoo_name, baseline = NETWORKS[name]
    model = create_model(zoo_name, frames=T).eval()
    base = baseline(model)
    x = torch.randn(B, 3, T, 112, 112)
    label = "plain 2-D over B*T frames" if baseline is plain_2d else "plain Conv3d (B,C,T,H,W)"
    return lambda: model(x), {label: lambda: base(x)}


# Networks whose operators changed formulation: the zoo model against itself with the old
# kernels (ReferenceFormulation), and each design against its TSN at the same input
# (target on CPU, 1 thread: design / TSN <= 1.10).
OLD_FORMULATION = ("tam_resnet50", "tam_inception_v1", "tsn_inception_v1", "i3d_inception_v1")
DESIGN_PAIRS = {"tam_resnet50": "tsn_resnet50", "tam_inception_v1": "tsn_inception_v1"}


def _old_formulation_case(name: str) -> Case:
    model = create_model(name, frames=T).eval()
    old = ReferenceFormulation(model)
    x = torch.randn(B, 3, T, 112, 112)
    return lambda: model(x), {"old formulation": lambda: old(x)}


def _design_pair(name: str) -> Case:
    """A design and its TSN (not the same function: outputs are not compared)."""
    model, tsn = (create_model(n, frames=T).eval() for n in (name, DESIGN_PAIRS[name]))
    x = torch.randn(B, 3, T, 112, 112)
    return lambda: model(x), {DESIGN_PAIRS[name]: lambda: tsn(x)}


def _compare(benchmark, case: Case, rounds: int, same_function: bool = True) -> None:
    zoo, baselines = case
    torch.set_num_threads(THREADS)
    with torch.inference_mode():
        want = zoo()
        for fn in baselines.values():
            got = fn()
            if same_function:
                torch.testing.assert_close(got.reshape(want.shape), want, rtol=1e-4, atol=1e-4)
    summary = ratio_summary(interleaved({"zoo": zoo, **baselines}, rounds), "zoo")
    benchmark.extra_info.update(summary)
    with torch.inference_mode():
        benchmark.pedantic(zoo, rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("name", list(OPERATORS))
def test_operator(benchmark, name):
    """One temporal operator: zoo formulation vs baselines, interleaved."""
    benchmark.group = "operators"
    _compare(benchmark, OPERATORS[name](), OP_ROUNDS)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_network(benchmark, name):
    """One family's network: zoo model vs a plain implementation with the same weights."""
    benchmark.group = "networks"
    _compare(benchmark, _network_case(name), NET_ROUNDS)


@pytest.mark.parametrize("name", OLD_FORMULATION)
def test_network_old_formulation(benchmark, name):
    """A network whose operators went shifted: now vs its old kernels, interleaved."""
    benchmark.group = "networks: old formulation"
    _compare(benchmark, _old_formulation_case(name), NET_ROUNDS)


@pytest.mark.parametrize("name", list(DESIGN_PAIRS))
def test_design_against_its_tsn(benchmark, name):
    """A temporal design against TSN on the same backbone and input (target <= 1.10)."""
    benchmark.group = "networks: design / TSN"
    _compare(benchmark, _design_pair(name), NET_ROUNDS, same_function=False)
