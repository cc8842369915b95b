"""A fingerprint of every zoo model: params/MACs at its default input and its output for
deterministic weights, so that a rewrite of the model code can prove it changed nothing.

``python tests/zoo_fingerprint.py OUT.json`` writes the fingerprint of the current code;
``tests/data/zoo_fingerprint.json`` holds the one taken before the stbench-namespace redesign.
Weights are filled in ``state_dict`` order from one seeded generator (independent of the
order in which modules are constructed), so the comparison pins the computation.
"""

from __future__ import annotations

import json
import math
import sys

import torch
from stbench.bench.count.counting import static_count
from stbench.zoo import create_model, get_spec, list_models

PROBE_CLASSES = 10
# Backbones whose forward at the default clip takes tens of seconds on a CPU (position tables
# built for 224x224 and 16-32 frames): the output is probed on a smaller instance of the same
# network (plan option `size` and `frames`), which runs every block, pooling and position
# table at fewer tokens. Params and MACs are still counted at the default input.
SMALL_PROBE = {"mvit": {"frames": 8, "size": 64}}


def fill_deterministic(model: torch.nn.Module, seed: int = 0) -> list[tuple[int, ...]]:
    """Overwrite every floating-point parameter and buffer; return their shapes in order."""
    g = torch.Generator().manual_seed(seed)
    shapes = []
    with torch.no_grad():
        for name, t in model.state_dict().items():
            shapes.append(tuple(t.shape))
            if not t.is_floating_point():
                continue
            r = torch.rand(t.shape, generator=g)
            if name.endswith("running_var"):
                t.copy_(0.5 + r)
            elif name.endswith("running_mean") or t.dim() <= 1:
                t.copy_(0.9 + 0.2 * r) if name.endswith("weight") else t.copy_(0.1 * (r - 0.5))
            else:
                fan_in = t[0].numel()
                t.copy_((r - 0.5) * math.sqrt(12.0 / fan_in))
    return shapes


def fingerprint(name: str) -> dict:
    """Params/MACs at the default input (meta) and the output at a small real input."""
    spec = get_spec(name)
    f, s = spec.default_frames, spec.default_size
    with torch.device("meta"):
        meta = create_model(name)
    sc = static_count(meta, (1, 3, f, s, s))
    probe = SMALL_PROBE.get(spec.backbone, {})
    model = create_model(name, num_classes=PROBE_CLASSES, **probe).eval()
    shapes = fill_deterministic(model)
    size = max(getattr(model, "min_size", 32), 32)
    frames = probe.get("frames", f)
    x = torch.randn(1, 3, frames, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = model(x)
    return {
        "params": sc.params,
        "macs": sc.macs,
        "conv_macs": sc.conv_macs,
        "linear_macs": sc.linear_macs,
        "other": sc.other_elements + sc.matmul_macs,  # as counted before matmul had its own field
        "state_shapes": len(shapes),
        "size": size,
        "out": [round(v, 6) for v in y.flatten().tolist()],
    }


if __name__ == "__main__":
    json.dump({n: fingerprint(n) for n in list_models()}, open(sys.argv[1], "w"), indent=0)
