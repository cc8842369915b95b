"""Predicted vs measured peak memory for the whole zoo on CPU: a Markdown error table.

Prediction: the model traced on ``meta`` (no data), lifetimes replayed with 512 B CUDA
allocator blocks (``stbench predict``'s number). Measurement: the same model run for real on
the CPU, live tensor storages tracked through C++ weak references (``bench.predict.memcheck``).
``transient`` is the peak minus what stays across passes (weights, optimizer state, input).

    .venv/bin/python scripts/validate_memory.py                  # inference, batch 2, 64 px
    .venv/bin/python scripts/validate_memory.py 'r3d_*' tsm_resnet50 --train --optimizer adamw
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    """Run the validation and print one row per model, then the worst error per family."""
    from stbench.bench.predict.memcheck import check_memory
    from stbench.zoo import list_models

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("patterns", nargs="*", default=["*"], help="zoo names or patterns (all)")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--train", action="store_true", help="one training step instead")
    p.add_argument("--optimizer", default="sgd")
    args = p.parse_args(argv)
    names = sorted({n for pattern in args.patterns for n in list_models(pattern)})
    if not names:
        print(f"validate_memory: error: patterns: no zoo model matches {args.patterns}")
        return 2
    start = time.perf_counter()
    print(
        "| model | family | input | predicted (MiB) | measured (MiB) | error | "
        "transient pred. (MiB) | transient meas. (MiB) | transient error |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    worst: dict[str, tuple[float, float]] = {}
    for name in names:
        r = check_memory(
            name, batch=args.batch, size=args.size, train=args.train, optimizer=args.optimizer
        )
        mib = [r[k] / 2**20 for k in ("predicted_bytes", "measured_bytes")]
        tmib = [r[k] / 2**20 for k in ("predicted_transient_bytes", "measured_transient_bytes")]
        print(
            f"| {name} | {r['family']} | {'x'.join(map(str, r['input_shape']))} | "
            f"{mib[0]:,.2f} | {mib[1]:,.2f} | {100 * r['error']:+.2f}% | "
            f"{tmib[0]:,.2f} | {tmib[1]:,.2f} | {100 * r['transient_error']:+.2f}% |",
            flush=True,
        )
        old = worst.get(r["family"], (0.0, 0.0))
        worst[r["family"]] = (
            max(old[0], abs(r["error"])),
            max(old[1], abs(r["transient_error"])),
        )
    print(f"\n{len(names)} models, {r['pass']}, {time.perf_counter() - start:.0f} s\n")
    print("| family | worst abs. error | worst abs. transient error |")
    print("|---|---:|---:|")
    for family, (err, terr) in sorted(worst.items()):
        print(f"| {family} | {100 * err:.2f}% | {100 * terr:.2f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
