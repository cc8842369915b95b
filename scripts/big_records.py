"""Write a large, valid accuracy-records file for load tests (never committed: generated).

Every row is a distinct record of one of eight zoo models at a configuration the shipped
Kinetics-400 records already use (so a frontier run counts nothing new for them): run `i`
of a model is ``variant='run i'`` with its own top-1 value, and every tenth row carries a
reported cost and a note, so all cell kinds the reader checks are present. The rows are a
pure function of their index: the same `rows` always writes the same file.

Usage: python scripts/big_records.py OUT.csv [--rows 158000] [--note-bytes 0] [--recipes 100]
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterator
from pathlib import Path

from stbench.zoo.records import COLUMNS

# (model, frames, input_size, reported GMACs): configurations of the shipped K400 records
MODELS = (
    ("r2plus1d_resnet18", 8, 112, 20.0),
    ("r3d_resnet18", 8, 112, 19.0),
    ("mc3_resnet18", 8, 112, 22.0),
    ("rmc3_resnet18", 8, 112, 15.0),
    ("i3d_resnet50", 32, 256, 160.0),
    ("tam_resnet50", 32, 256, 130.0),
    ("slow_resnet50_8x8", 8, 256, 55.0),
    ("ircsn_resnet50", 32, 224, 50.0),
)
RECIPES = 100


def record(i: int, note_bytes: int = 0, recipes: int = RECIPES) -> dict[str, str]:
    """Row `i` of the generated file (all cells as text, as a CSV holds them); with
    `note_bytes`, every row's note is that long (a file of few, wide rows). Each model's
    runs are spread over `recipes` training recipes (the `protocol` cell): 1 puts all of a
    model's runs in one configuration, values 0.001 apart (the densest duplicate scan)."""
    model, frames, size, gmacs = MODELS[i % len(MODELS)]
    run = i // len(MODELS)
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        paper="loadtest",
        model=model,
        published_name=f"{model} (run {run})",
        dataset="Kinetics-400" if i % 3 else "kinetics400",
        split="val",
        metric="top1",
        value=f"{40 + (run * 7919 % 40000) / 1000:.3f}",
        level="video" if i % 2 else "clip",
        views="10x3" if i % 2 else "1x1",
        frames=str(frames),
        input_size=str(size),
        pretraining="imagenet",
        modality="rgb",
        protocol=f"recipe {run % recipes}" if recipes > 1 else "",
        variant=f"run {run}",
        source=f"generated load-test record {i} (scripts/big_records.py)",
    )
    if i % 10 == 0:
        row.update(
            reported_flops=f"{gmacs:g}",
            reported_flops_unit="G",
            reported_flops_convention="paper_flops_as_macs",
            epochs="100",
            note=f"seed {run}, trained with the recipe of run {run // 2}",
        )
    if note_bytes:
        row["note"] = f"run {i}: ".ljust(note_bytes, "x")
    return row


def records(rows: int, note_bytes: int = 0, recipes: int = RECIPES) -> Iterator[dict[str, str]]:
    """The first `rows` generated records, in file order."""
    return (record(i, note_bytes, recipes) for i in range(rows))


def write_records(path: Path, rows: int, note_bytes: int = 0, recipes: int = RECIPES) -> Path:
    """Write the first `rows` generated records to `path` as CSV (header first)."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records(rows, note_bytes, recipes))
    return Path(path)


def main() -> None:
    """Command line: the output path and the row count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=158_000)
    parser.add_argument("--note-bytes", type=int, default=0, help="every note this long")
    parser.add_argument("--recipes", type=int, default=RECIPES, help="configurations a model")
    args = parser.parse_args()
    path = write_records(args.out, args.rows, args.note_bytes, args.recipes)
    print(f"{path}: {args.rows} records, {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
