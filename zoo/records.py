"""Accuracy records: schema, dataset registry, and one validating loader for CSV files.

Every published accuracy figure is one row of a CSV under ``zoo/records/`` (or of a
user's own file, loaded through the same path). ``load_records`` reads all files,
checks every row and either returns one clean ``pandas.DataFrame`` or raises one
``RecordsError`` that lists every problem as ``file:line: reason`` (nothing is
half-loaded). Column meanings and allowed values: ``zoo/records/README.md``.
"""

from __future__ import annotations

import codecs
import csv
import math
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from stbench.zoo.papers import cite_papers

from stbench.output import reads
from stbench.values import INT64_MAX, FieldError, input_file, integer, number

RECORDS_DIR = Path(__file__).with_name("records")
# Column naming the user's file a record comes from (`--records FILE`); empty when shipped.
ORIGIN = "record_origin"

# What a record carries besides the figure itself: the paper's own cost figures and free
# text. They neither identify a figure nor appear in short listings.
DETAIL_COLUMNS: tuple[str, ...] = (
    "reported_flops",
    "reported_flops_unit",
    "reported_flops_convention",
    "reported_params",
    "reported_params_unit",
    "epochs",
    "note",
)
COLUMNS: tuple[str, ...] = (
    "paper",
    "model",
    "published_name",
    "dataset",
    "split",
    "metric",
    "value",
    "level",
    "views",
    "frames",
    "input_size",
    "pretraining",
    "modality",
    "tp_pool",
    "protocol",
    "variant",
    *DETAIL_COLUMNS,
    "source",
)
# Columns stbench's own output adds (`records list --format csv`): read back and ignored.
WRITTEN_COLUMNS: tuple[str, ...] = ("file", "line", ORIGIN, "num_classes")
# First characters a spreadsheet reads as a formula; stbench's CSV output prefixes them with '.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
REQUIRED: tuple[str, ...] = ("paper", "dataset", "metric", "value", "level", "modality", "source")
KEY: tuple[str, ...] = (
    "paper",
    "name",  # model, or published_name when the zoo does not build the model
    "frames",
    "dataset",
    "split",
    "metric",
    "level",
    "views",
    "modality",
    "pretraining",
    "protocol",
    "variant",
)


@dataclass(frozen=True)
class Dataset:
    """One dataset: canonical id, class count and the spellings that map to it."""

    name: str
    num_classes: int
    aliases: tuple[str, ...]
    description: str


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "kinetics400",
            400,
            ("Kinetics", "Kinetics-400", "Kinetics-Full", "K400"),
            "Kinetics-400",
        ),
        Dataset(
            "kinetics600",
            600,
            ("Kinetics-600", "K600"),
            "Kinetics-600",
        ),
        Dataset(
            "kinetics400_minus40",
            360,
            ("Kinetics-360",),
            "Kinetics-400 without the 40 most temporal classes (Chen et al. Table 10, round 1)",
        ),
        Dataset(
            "kinetics400_minus80",
            320,
            ("Kinetics-320",),
            "Kinetics-400 without 80 temporal classes (Chen et al. Table 10, round 2)",
        ),
        Dataset(
            "mini_kinetics",
            200,
            ("Mini-Kinetics", "Mini-Kinetics400", "mini_kinetics400"),
            "Chen et al./IBM: half of the Kinetics-400 classes, chosen at random (121k train)",
        ),
        Dataset(
            "mini_kinetics_200",
            200,
            ("Mini-Kinetics-200",),
            "Xie et al.: the 200 Kinetics classes with most examples, 400 train/25 val each",
        ),
        Dataset(
            "ssv1",
            174,
            ("Something-Something-V1", "Something v1", "sthv1"),
            "Something-Something V1",
        ),
        Dataset(
            "ssv2",
            174,
            ("Something-Something-V2", "SSV2", "Something v2", "sthv2"),
            "Something-Something V2",
        ),
        Dataset(
            "mini_ssv2",
            87,
            ("Mini-SSV2", "Mini-Something-Something-V2", "mini_st2stv2"),
            "Chen et al./IBM: half of the SSV2 classes",
        ),
        Dataset("mit", 339, ("Moments-in-Time", "MiT"), "Moments in Time"),
        Dataset(
            "mini_mit",
            200,
            ("Mini-MiT", "Mini-Moments", "mini_moments"),
            "Mini Moments in Time (official)",
        ),
        Dataset("sports1m", 487, ("Sports-1M",), "Sports-1M"),
        Dataset(
            "ucf101", 101, ("UCF101", "UCF-101"), "UCF101 (3-split average unless split says so)"
        ),
        Dataset(
            "hmdb51", 51, ("HMDB51", "HMDB-51"), "HMDB51 (3-split average unless split says so)"
        ),
        Dataset("jester", 27, ("Jester",), "20BN Jester"),
        Dataset("diving48", 48, ("Diving48",), "Diving48"),
        Dataset(
            "epic_kitchens_verb",
            125,
            ("Epic-Kitchen", "EPIC-Kitchens verbs"),
            "EPIC-Kitchens verb classes, split of Baradel et al.",
        ),
        Dataset("egtea_gaze_plus", 106, ("EGTEA Gaze+", "EGTEA Gaze++"), "EGTEA Gaze+ split 1"),
    )
}

# metric -> (lowest, highest) allowed value
METRICS: dict[str, tuple[float, float]] = {
    "top1": (0.0, 100.0),
    "top5": (0.0, 100.0),
    "class_overlap_pct": (0.0, 100.0),
    "temporal_gain": (-100.0, 100.0),
    "avg_temporal_gain_all": (-100.0, 100.0),
    "avg_temporal_gain_tc": (-100.0, 100.0),
    "phi": (0.0, 1.0),
    "psi_ta": (-1.0, 1.0),
    "psi_ta_tp": (-1.0, 1.0),
}
LEVELS = ("clip", "video", "unspecified")
MODALITIES = ("rgb", "flow", "two_stream", "rgb_flow_audio", "unspecified")
TP_POOLS = ("", "avg", "max")
FLOPS_UNITS = ("", "count", "M", "G")
PARAMS_UNITS = ("", "count", "M")
FLOPS_CONVENTIONS = ("", "conv_macs_no_fc", "paper_flops_as_macs", "fvcore_flops_as_total_macs")
SPLITS = ("val", "test", "3_split_avg", "split1")
_VIEWS = re.compile(r"^[1-9]\d*x[1-9]\d*$")


class RecordsError(ValueError):
    """Raised once per load with every problem found, one ``file:line: reason`` per line."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        head = f"records: {len(self.problems)} problem(s)"
        super().__init__(head + "\n" + "\n".join(self.problems))


def resolve_dataset(name: str) -> Dataset:
    """The dataset for a canonical id or any alias (case-insensitive), else ValueError."""
    low = name.strip().lower()
    for d in DATASETS.values():
        if low == d.name or low in (a.lower() for a in d.aliases):
            return d
    raise FieldError("dataset", name, f"{', '.join(DATASETS)} or one of their aliases")


def num_classes(dataset: str) -> int:
    """Class count of a dataset given by id or alias."""
    return resolve_dataset(dataset).num_classes


def shipped_files() -> list[Path]:
    """The records CSV files shipped with stbench, sorted by name."""
    return sorted(RECORDS_DIR.glob("*.csv"))


def _zoo_names() -> set[str]:
    """Registered names: from the torch-free zoo index unless models were registered here."""
    if {"stbench.zoo.registry", "stbench.zoo.plugins"} & set(sys.modules):
        from stbench.zoo import list_models

        return set(list_models())
    from stbench.zoo.index import zoo_rows

    return {r["model"] for r in zoo_rows()}


def _parse_number(text: str, kind: type, field: str) -> tuple[float | int | None, str | None]:
    """A cell as a number checked by the one rule of its kind (`stbench.values`): plain
    ASCII digits, finite; integers >= 1, other numbers >= 0 (an accuracy: any sign)."""
    if text == "":
        return None, None
    try:
        if kind is int:
            return integer(field, text, low=1, high=INT64_MAX), None
        low = -math.inf if field == "value" else 0.0
        return number(
            field,
            text,
            low=low,
            strict=False,
            what="a finite number" + ("" if field == "value" else " >= 0"),
        ), None
    except FieldError as exc:
        return None, str(exc)


def _level_views_problems(level: str, views: str) -> list[str]:
    """Why ``level`` contradicts ``views`` (empty if it does not): several views are video level."""
    clips, crops = (int(n) for n in views.split("x"))
    if clips * crops > 1 and level != "video":
        return [
            f"level: got {level!r} with views {views!r} ({clips * crops} views combined); "
            "allowed: 'video' when views has more than one view (clip level is one view)"
        ]
    return []


def _check_row(raw: dict[str, str], zoo_names: set[str] | None) -> tuple[dict, list[str]]:
    """Normalise one CSV row; return it with the list of reasons it is bad (empty if good)."""
    row = {c: (raw.get(c) or "").strip() for c in COLUMNS}
    bad: list[str] = []
    for c in REQUIRED:
        if row[c] == "":
            bad.append(f"{c}: missing (required)")
    if not row["model"] and not row["published_name"]:
        bad.append("model/published_name: both empty; one of them names the model")
    if row["dataset"]:
        try:
            row["dataset"] = resolve_dataset(row["dataset"]).name
        except ValueError as exc:
            bad.append(str(exc))
    if row["metric"] and row["metric"] not in METRICS:
        bad.append(str(FieldError("metric", row["metric"], ", ".join(METRICS))))
    value, err = _parse_number(row["value"], float, "value")
    if err:
        bad.append(err)
    elif value is not None and row["metric"] in METRICS:
        lo, hi = METRICS[row["metric"]]
        if not lo <= value <= hi:
            bad.append(f"value: {value:g} outside [{lo:g}, {hi:g}] for metric {row['metric']}")
    row["value"] = value
    for field in ("frames", "input_size", "epochs"):
        row[field], err = _parse_number(row[field], int, field)
        if err:
            bad.append(err)
    for field in ("reported_flops", "reported_params"):
        row[field], err = _parse_number(row[field], float, field)
        if err:
            bad.append(err)
    choices = {
        "level": LEVELS,
        "modality": MODALITIES,
        "tp_pool": TP_POOLS,
        "reported_flops_unit": FLOPS_UNITS,
        "reported_params_unit": PARAMS_UNITS,
        "reported_flops_convention": FLOPS_CONVENTIONS,
    }
    for field, allowed in choices.items():
        if row[field] and row[field] not in allowed:
            bad.append(str(FieldError(field, row[field], ", ".join(a for a in allowed if a))))
    if row["split"] and row["split"] not in SPLITS:
        bad.append(str(FieldError("split", row["split"], ", ".join(SPLITS))))
    if row["views"] and not _VIEWS.match(row["views"]):
        bad.append(str(FieldError("views", row["views"], "CLIPSxCROPS, e.g. 10x3")))
    elif row["views"] and row["level"] in LEVELS:
        bad += _level_views_problems(row["level"], row["views"])
    if row["reported_flops"] is not None and not (
        row["reported_flops_unit"] and row["reported_flops_convention"]
    ):
        bad.append(
            "reported_flops: given without reported_flops_unit and reported_flops_convention"
        )
    if row["reported_params"] is not None and not row["reported_params_unit"]:
        bad.append("reported_params: given without reported_params_unit")
    if row["model"] and zoo_names is not None and row["model"] not in zoo_names:
        bad.append(
            f"model: {row['model']!r} is not a registered zoo model (see `stbench list`; "
            "a model of your own counts once its file or module is given with --module)"
        )
    return row, bad


def _unguard(cell: str | None) -> str | None:
    """A cell as written before stbench's CSV output guarded it against formula injection
    (`'=...` reads back as `=...`), so what stbench writes it reads back."""
    if cell and cell[0] == "'" and cell[1:2] in FORMULA_STARTS:
        return cell[1:]
    return cell


CHUNK = 1 << 20  # bytes read at a time: a records file is streamed, never held whole


def _utf8_problem(path: Path) -> str | None:
    """Why `path` is not UTF-8 text (one line), or None; read in chunks, nothing kept."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                byte = exc.object[exc.start : exc.start + 1].hex()
                where = offset + exc.start
                return f"'utf-8' codec can't decode byte 0x{byte} in position {where}: {exc.reason}"
            if not chunk:
                return None
            offset += len(chunk)


def _read_rows(path: Path, problems: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows with their 1-based line numbers, streamed; the file-level problems are appended
    to `problems` (a file that cannot be read yields nothing). A UTF-8 BOM (Excel's "CSV
    UTF-8") is allowed; a quoted cell may hold a newline."""
    try:
        input_file("records", path)
        reads(path, "records")
        bad_text = _utf8_problem(path)
        fh = path.open(encoding="utf-8-sig")  # universal newlines, as read_text() had
    except (OSError, FieldError) as exc:
        problems.append(f"{path}: cannot read: {exc}")
        return
    if bad_text:
        fh.close()
        problems.append(f"{path}: cannot read: {bad_text}")
        return
    with fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader, [])]
            unknown = [c for c in header if c not in COLUMNS and c not in WRITTEN_COLUMNS]
            missing = [c for c in REQUIRED if c not in header]
            twice = sorted({c for c in header if header.count(c) > 1})
            if unknown:
                problems.append(
                    f"{path}:1: unknown column(s) {unknown}; allowed: {', '.join(COLUMNS)}"
                )
            if missing:
                problems.append(f"{path}:1: missing required column(s) {missing}")
            if twice:
                problems.append(f"{path}:1: column(s) given twice {twice}; allowed: each once")
            if unknown or missing or twice:
                return
            line = reader.line_num + 1
            for cells in reader:
                start, line = line, reader.line_num + 1
                if len(cells) > len(header):
                    problems.append(f"{path}:{start}: more cells than columns ({len(header)})")
                    continue
                raw = {h: _unguard(c) for h, c in zip(header, cells, strict=False)}
                if all(not (v or "").strip() for v in raw.values()):
                    continue
                yield start, raw
        except csv.Error as exc:  # e.g. a field over the csv module's limit (128 KiB)
            problems.append(f"{path}:{reader.line_num}: cannot read as CSV ({exc})")
        except (OSError, UnicodeDecodeError) as exc:  # changed or gone while read
            problems.append(f"{path}: cannot read: {exc}")


def record_key(row: dict) -> tuple:
    """The identity of a record (see ``KEY``); two rows with the same key are duplicates."""
    name = row["model"] or row["published_name"]
    return tuple(name if k == "name" else row[k] for k in KEY)


# Every column of a clean record: the file's columns, then where it was read from.
ROW_COLUMNS: tuple[str, ...] = (*COLUMNS, "file", "line", ORIGIN)
# Text columns of few distinct values: one string object per value, shared by its records.
_SHARED = frozenset(ROW_COLUMNS) - {
    *("published_name", "note", "source", "line"),
    *("value", "frames", "input_size", "epochs", "reported_flops", "reported_params"),
}


@dataclass
class Checked:
    """One validation pass: the clean records column by column (``ROW_COLUMNS``), how
    many clean records each file gave (in the order given) and every problem found."""

    columns: dict[str, list]
    counts: list[int]
    problems: list[str]

    def rows(self) -> list[dict]:
        """The clean records as one dict per record (in file order)."""
        names, columns = list(self.columns), self.columns.values()
        return [dict(zip(names, cells, strict=True)) for cells in zip(*columns, strict=True)]

    def frame(self) -> pd.DataFrame:
        """The clean records as a DataFrame of ``ROW_COLUMNS`` (no per-record dicts)."""
        return pd.DataFrame(self.columns, columns=list(ROW_COLUMNS))


def check_files(
    paths: Iterable[str | Path],
    *,
    check_zoo_names: bool = True,
    zoo_names: Callable[[], set[str]] = _zoo_names,
    user_files: Iterable[str | Path] = (),
    keep: bool = True,
) -> Checked:
    """Check every row of every file, streamed: the clean records (kept column by column;
    none with ``keep=False``, for a check only) and every problem as ``file:line: reason``.
    ``record_origin`` is the path of a row from one of ``user_files``, else ''. A model
    counts as known when it is registered (the zoo's or your own)."""
    names = zoo_names() if check_zoo_names else None
    user = {Path(p) for p in user_files}
    columns: dict[str, list] = {c: [] for c in ROW_COLUMNS}
    shared: dict[str, str] = {}
    counts: list[int] = []
    problems: list[str] = []
    seen: dict[tuple, tuple[Path, int]] = {}
    for p in paths:
        path = Path(p)
        own: list[str] = []  # the file's own problems: listed before its rows'
        at, count = len(problems), 0
        cells = {"file": path.name, ORIGIN: str(path) if path in user else ""}
        for line, raw in _read_rows(path, own):
            row, bad = _check_row(raw, names)
            if not bad:
                key = record_key(row)
                if key in seen:
                    first, at_line = seen[key]
                    bad.append(f"duplicate key {key} (first at {first}:{at_line})")
                else:
                    seen[key] = (path, line)
            if bad:
                problems += [f"{path}:{line}: {reason}" for reason in bad]
                continue
            count += 1
            if keep:
                row.update(cells, line=line)
                for c, column in columns.items():
                    v = row[c]
                    column.append(shared.setdefault(v, v) if c in _SHARED else v)
        problems[at:at] = own
        counts.append(count)
    return Checked(columns, counts, problems)


def validate_files(
    paths: Iterable[str | Path],
    *,
    check_zoo_names: bool = True,
    zoo_names: Callable[[], set[str]] = _zoo_names,
    user_files: Iterable[str | Path] = (),
) -> tuple[list[dict], list[str]]:
    """Check every row of every file; return (clean rows with ``file``/``line`` and
    ``record_origin``: the path of a row from one of ``user_files``, else '', problems).
    A model counts as known when it is registered (the zoo's or your own)."""
    checked = check_files(
        paths, check_zoo_names=check_zoo_names, zoo_names=zoo_names, user_files=user_files
    )
    return checked.rows(), checked.problems


def load_records(
    paths: Iterable[str | Path] | None = None,
    *,
    check_zoo_names: bool = True,
    user_files: Iterable[str | Path] = (),
) -> pd.DataFrame:
    """All records of ``paths`` (default: the shipped files) and of ``user_files`` (your
    own, marked in ``record_origin`` with their path) as a DataFrame, or RecordsError."""
    user = list(dict.fromkeys(Path(p) for p in user_files))
    files = shipped_files() if paths is None else [Path(p) for p in paths]
    files = [*(f for f in files if f not in user), *user]
    if not files:
        raise RecordsError([f"{RECORDS_DIR}: no records files found"])
    checked = check_files(files, check_zoo_names=check_zoo_names, user_files=user)
    if checked.problems:
        raise RecordsError(checked.problems)
    df = checked.frame()
    del checked  # the columns now live in the frame
    for col in ("frames", "input_size", "epochs"):
        df[col] = df[col].astype("Int64")
    for col in ("value", "reported_flops", "reported_params"):
        df[col] = df[col].astype("float64")
    df["num_classes"] = df["dataset"].map(lambda d: DATASETS[d].num_classes).astype("Int64")
    df["source"] = df["source"].map(cite_papers)  # the paper files' names -> the papers
    return df


def check_user_files(paths: Iterable[str | Path], option: str = "--records") -> list[Path]:
    """Your records files, each checked with the shipped ones (models against the registry,
    keys against every file) before any work; the first problem is one ValueError line
    ``--records FILE: ...`` naming the file."""
    files = list(dict.fromkeys(Path(p) for p in paths))
    for f in files:
        if not f.is_file():
            raise ValueError(f"{option} {f}: not found or not a file")
    if not files:
        return files
    given = {f.resolve() for f in files}
    shipped = [s for s in shipped_files() if s.resolve() not in given]
    problems = check_files([*shipped, *files], user_files=files, keep=False).problems
    for f in files:
        mine = [p[len(str(f)) + 1 :].strip() for p in problems if p.startswith(f"{f}:")]
        if mine:
            where, _, reason = mine[0].partition(": ")
            first = f"line {where}: {reason}" if where.isdigit() else mine[0]
            more = (
                f" (and {len(mine) - 1} more; `stbench records validate {f}` lists them all)"
                if len(mine) > 1
                else ""
            )
            raise ValueError(f"{option} {f}: {first}{more}")
    return files
