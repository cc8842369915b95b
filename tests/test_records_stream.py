"""A large records file is streamed: read in chunks, never held whole, the clean records
kept column by column; what it yields is what the generator wrote."""

import runpy
import tracemalloc
from pathlib import Path

import pytest
from stbench.zoo import records as rec

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "big_records.py"


@pytest.fixture(scope="module")
def gen() -> dict:
    """scripts/big_records.py's functions (`record`, `write_records`)."""
    return runpy.run_path(str(SCRIPT))


def _no_whole_reads(monkeypatch, records: Path) -> None:
    """Reading `records` whole (read_text, read_bytes) fails the test."""
    for name in ("read_text", "read_bytes"):
        read = getattr(Path, name)

        def whole(self, *a, _read=read, **k):
            assert self != records, f"{self} read whole"
            return _read(self, *a, **k)

        monkeypatch.setattr(Path, name, whole)


def test_a_file_of_many_chunks_yields_every_generated_record(gen, tmp_path, monkeypatch):
    n = 12_000  # ~2.3 MB: several of the reader's chunks
    path = gen["write_records"](tmp_path / "big.csv", n)
    assert path.stat().st_size > 2 * rec.CHUNK
    _no_whole_reads(monkeypatch, path)
    rows, problems = rec.validate_files([path], user_files=[path])
    assert problems == [] and len(rows) == n
    for i in (0, 1, 7, 10, 4321, n - 1):
        want, got = gen["record"](i), rows[i]
        assert got["line"] == i + 2 and got["record_origin"] == str(path), i
        assert got["dataset"] == "kinetics400" and got["value"] == float(want["value"])
        assert (got["variant"], got["note"], got["source"]) == (
            want["variant"],
            want["note"],
            want["source"],
        )
        assert got["frames"] == int(want["frames"]) and got["epochs"] == (
            int(want["epochs"]) if want["epochs"] else None
        )
    df = rec.load_records([path], check_zoo_names=False)
    assert (
        list(df["variant"]) == [r["variant"] for r in rows] and df["line"].is_monotonic_increasing
    )


def test_a_late_problem_keeps_its_file_and_line_and_the_file_level_order(gen, tmp_path):
    path = gen["write_records"](tmp_path / "big.csv", 9_000)
    with path.open("a") as fh:
        fh.write(path.read_text().splitlines()[5] + "\n")  # line 6 again, at the end
        fh.write(f"x,{'y' * 200_000}\n")  # over the csv module's 128 KiB field limit
    problems = rec.check_files([path], keep=False).problems
    assert problems[0] == (
        f"{path}:9003: cannot read as CSV (field larger than field limit (131072))"
    )
    assert problems[1].startswith(f"{path}:9002: duplicate key") and problems[1].endswith(
        f"(first at {path}:6)"
    )
    assert len(problems) == 2


def test_a_bad_byte_past_the_first_chunk_is_one_line_and_nothing_is_loaded(gen, tmp_path):
    path = gen["write_records"](tmp_path / "big.csv", 8_000)
    size = path.stat().st_size
    with path.open("ab") as fh:
        fh.write(b"\xff\n")
    checked = rec.check_files([path], check_zoo_names=False)
    assert checked.problems == [
        f"{path}: cannot read: 'utf-8' codec can't decode byte 0xff in position {size}: "
        "invalid start byte"
    ]
    assert checked.counts == [0] and checked.rows() == []


def test_memory_stays_below_the_file_text(gen, tmp_path):
    """Wide rows (4 KB notes): holding the text once would exceed the bound; a check keeps
    nothing but the keys, a load the records' cells (once) and no per-row dicts."""
    path = gen["write_records"](tmp_path / "wide.csv", 2_000, note_bytes=4_000)
    size = path.stat().st_size
    rec.check_files([path], check_zoo_names=False, keep=False)  # imports, caches: warm
    tracemalloc.start()
    try:
        rec.check_files([path], check_zoo_names=False, keep=False)
        check_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        df = rec.load_records([path], check_zoo_names=False)
        load_peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert len(df) == 2_000
    assert check_peak < size / 2, (check_peak, size)  # keys and a chunk: ~2 MB of 8.4
    assert load_peak < 1.6 * size, (load_peak, size)  # the notes once (~1x), not twice
