"""The device model's prediction of each zoo model in each operator formulation on one GPU:
the reference kernels (what CUDA runs, ``models/formulations.py``) and the shifted ones (the
CPU's), forced on the meta trace. Predictions, never measurements.

Usage: ``python scripts/formulation_predictions.py tam_resnet50 tsn_inception_v1 --gpu h100_sxm``
"""

from __future__ import annotations

import argparse

from stbench.bench.predict.predictor import predict
from stbench.models.formulations import FORMULATIONS, forced

FIELDS = ("kernels", "latency_ms", "latency_ms_low", "latency_ms_high", "latency_bound_ms")


def rows(names: list[str], gpu: str, frames: int, size: int, batch: int) -> list[dict]:
    """One prediction row per model and formulation (the FIELDS only)."""
    out = []
    for name in names:
        for how in FORMULATIONS:
            with forced(how):
                row = predict(name, gpu=gpu, frames=frames, size=size, batch=batch)
            out.append({"model": name, "formulation": how, **{k: row[k] for k in FIELDS}})
    return out


def main() -> None:
    """Print a markdown table of the predictions."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--gpu", default="h100_sxm")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=1)
    args = p.parse_args()
    print(f"| model | formulation | {' | '.join(FIELDS)} |")
    print("|" + " --- |" * (2 + len(FIELDS)))
    for r in rows(args.models, args.gpu, args.frames, args.size, args.batch):
        cells = [f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]) for k in FIELDS]
        print(f"| {r['model']} | {r['formulation']} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
