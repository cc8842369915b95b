"""A CPU reference file in the shipped format, for tests that must not depend on the real one.

`data/reference/cpu-sample.csv` holds real measurements (tsn_resnet18 and tam_resnet18, batch
1, float32 and bfloat16, one thread on an AMD EPYC) written by `scripts/cpu_reference.py
--dry-run`, with the columns of `bench/reference/cpu-*.csv`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FIXTURE_DIR = Path(__file__).resolve().parent / "data" / "reference"
ROOT = Path(__file__).resolve().parent.parent


def reference_joined(directory: Path = FIXTURE_DIR) -> pd.DataFrame:
    """The reference rows in `directory` joined with the shipped accuracy records."""
    from stbench.plots.pipeline import split_diagnostic
    from stbench.plots.sources import join, load_reference, timed_rows
    from stbench.zoo.records import load_records

    ref, notes = load_reference(directory)
    assert not notes, notes
    records, _ = split_diagnostic(load_records(None, check_zoo_names=False))
    joined, _ = join(timed_rows(ref), records)
    return joined


def shipped_cpu_files() -> list[Path]:
    """The CPU reference files shipped in bench/reference/."""
    return sorted((ROOT / "bench" / "reference").glob("cpu-*.csv"))
