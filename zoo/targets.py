"""Published params and FLOPs/MACs targets (`zoo/targets.csv`): loader and validation.

Every row is one figure a source publishes, at the input the source used, with the
counting convention it implies. The columns are

``model, frames, size, classes, quantity, value, unit, convention, tolerance_pct,
source, deviation_note``

quantity
    ``params`` (a parameter count), ``macs`` (multiply-accumulates per clip) or
    ``block_params`` (a per-block parameter formula, Luo & Yuille Table 1).
unit
    ``count`` (the value is the exact integer), ``M`` (x 1e6), ``G`` (x 1e9), or
    ``formula`` for ``block_params`` rows (the value is an arithmetic expression).
convention
    ``all_params_with_fc``
        every learnable parameter (convolutions, BatchNorm affine, the final FC sized for
        ``classes``). The IBM table's "Params" column and the papers' "# params".
    ``conv_macs_no_fc``
        multiply-accumulates of the convolutions only, per clip, the final FC excluded.
        The IBM table's "Flops" column (it counts MACs, though it says "Flops").
    ``paper_flops_as_macs``
        a paper's "FLOPs"/"GFLOPs" figure, which is a multiply-add count: compared with the
        zoo's convolution + linear MACs per clip (one multiply-add = 1 MAC).
    ``fvcore_flops_as_total_macs``
        a transformer paper's "FLOPs" counted by fvcore, attention included: multiply-adds of
        convolutions, linear layers and the attention matrix products, compared with the
        zoo's ``total_macs`` (conv + linear + matmul) per clip.
    ``block_conv_weights``
        weights of one k x k conv slot (the operator a spatio-temporal design puts there),
        no bias, no BatchNorm, evaluated with H = W = T = 3 (Luo & Yuille Sec. 3.3, "the
        commonly used kernel size") and C_i = C_o = 64: the zoo value is measured on the 3x3
        slot of the first bottleneck of the model's ResNet-50 (``stages.0.0.conv2``, 64 -> 64).
        Extra bindings follow ``@`` in the value, e.g. ``... @ alpha=1/4``.
tolerance_pct
    allowed |zoo - published| / published in percent (0 = exact).
source
    the paper file (``papers/NNN_*.txt``) with table/section and row, or the repository
    with file, section and rows.
deviation_note
    empty, or ``measured=<zoo value as exact integer count>; reason: <why>`` where the
    faithful architecture cannot meet the number; the tests then pin the measured value.

IBM rows (IBM/action-recognition-pytorch ``benchmark_mini.md``): the file lists every model
twice, first with ``-tp`` ("with temporal pooling") names and then, from its second
"Mini-Something-Something-V2" heading on, with ``-ts`` names carrying identical accuracy,
Flops and Params. They are the same architectures under the same protocol (an older name
for temporal pooling), so ``-tp``/``-ts`` both map to the ``_tp`` zoo name (``-max`` is the
pool type, which changes neither count). Rows identical in (model, frames, classes) are one
target citing every source row (Mini-Kinetics and Mini-Moments both have 200 classes);
param counts include the FC for 87 (Mini-SSV2) or 200 classes.
"""

from __future__ import annotations

import ast
import csv
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from stbench.output import reads

TARGETS_CSV = Path(__file__).with_name("targets.csv")

COLUMNS = (
    "model",
    "frames",
    "size",
    "classes",
    "quantity",
    "value",
    "unit",
    "convention",
    "tolerance_pct",
    "source",
    "deviation_note",
)
QUANTITIES = ("params", "macs", "block_params")
UNITS = {"count": 1, "M": 10**6, "G": 10**9}
CONVENTIONS = {
    "all_params_with_fc": "params",
    "conv_macs_no_fc": "macs",
    "paper_flops_as_macs": "macs",
    "fvcore_flops_as_total_macs": "macs",
    "block_conv_weights": "block_params",
}
# Source prefix -> paper key (the keys of zoo.registry.PAPERS, plus the IBM code release).
SOURCE_PAPERS = {
    "papers/000_2720627b97b46dad.txt": "chen2021",
    "papers/001_108aa75c7b5a30b7.txt": "xie2018",
    "papers/002_a287baa9121de811.txt": "tran2018",
    "papers/003_c8d95147dedad406.txt": "luo2019",
    "IBM/action-recognition-pytorch": "ibm",
    "arXiv:2004.04730": "feichtenhofer2020",
    "arXiv:2106.13230": "liu2022",
    "arXiv:2203.12602": "tong2022",
    "arXiv:2102.05095": "bertasius2021",
    "arXiv:2104.11227": "fan2021",
    "arXiv:2112.01526": "li2022",
    "arXiv:1904.02811": "tran2019",
    "arXiv:1812.03982": "feichtenhofer2019",
    "arXiv:2111.09887": "fan2021ptv",
    "arXiv:2201.04676": "li2022uniformer",
}
PAPER_KEYS = tuple(dict.fromkeys(SOURCE_PAPERS.values()))
# Default bindings of the `block_conv_weights` convention (see the module docstring).
FORMULA_DEFAULTS = {"H": 3, "W": 3, "T": 3, "Ci": 64, "Co": 64}
_MEASURED = re.compile(r"measured=(\d+)\s*;\s*reason:\s*\S")


@dataclass(frozen=True)
class Target:
    """One published params or MACs figure with its input, convention and source."""

    model: str
    frames: int
    size: int
    classes: int
    quantity: str
    value: int | float | str
    unit: str
    convention: str
    tolerance_pct: float
    source: str
    deviation_note: str = ""
    line: int = 0

    @property
    def paper(self) -> str:
        """The paper key (chen2021, xie2018, tran2018, luo2019, ibm) the source belongs to."""
        return paper_of_source(self.source)

    @property
    def key(self) -> tuple[str, int, int, int, str, str]:
        """The identity of a target: no two rows may share it."""
        return (self.model, self.frames, self.size, self.classes, self.quantity, self.convention)

    @property
    def recorded_measurement(self) -> int | None:
        """The zoo value pinned in `deviation_note` (exact count), or None."""
        m = _MEASURED.search(self.deviation_note)
        return int(m.group(1)) if m else None

    def expected_count(self) -> float:
        """The published value as an absolute count (formulas evaluated)."""
        if self.unit == "formula":
            expr, bindings = split_formula(str(self.value))
            return float(evaluate_formula(expr, {**FORMULA_DEFAULTS, **bindings}))
        return float(self.value) * UNITS[self.unit]


def paper_of_source(source: str) -> str:
    """Map a source string to its paper key, or raise ValueError."""
    for prefix, key in SOURCE_PAPERS.items():
        if source.startswith(prefix):
            return key
    raise ValueError(
        f"source: {source[:60]!r} does not start with a known source; "
        f"allowed prefixes: {', '.join(SOURCE_PAPERS)}"
    )


_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def evaluate_formula(expr: str, bindings: dict[str, int | Fraction]) -> Fraction:
    """Evaluate an arithmetic formula (+ - * / parentheses, names, numbers) exactly."""

    def ev(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return Fraction(node.value)
        if isinstance(node, ast.Name):
            if node.id not in bindings:
                raise ValueError(f"formula: unknown name {node.id!r} in {expr!r}")
            return Fraction(bindings[node.id])
        raise ValueError(f"formula: unsupported syntax in {expr!r}")

    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"formula: cannot parse {expr!r}: {exc.msg}") from None
    return ev(tree)


def split_formula(value: str) -> tuple[str, dict[str, Fraction]]:
    """Split ``"expr @ a=1/4, g=2"`` into the expression and its exact bindings."""
    expr, _, rest = value.partition("@")
    bindings: dict[str, Fraction] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        name, eq, num = part.partition("=")
        if not eq or not name.strip().isidentifier():
            raise ValueError(f"formula: bad binding {part!r} in {value!r}; allowed: name=number")
        try:
            bindings[name.strip()] = Fraction(num.strip())
        except ValueError:
            raise ValueError(f"formula: bad number {num.strip()!r} in {value!r}") from None
    return expr.strip(), bindings


def _parse_row(row: dict[str, str], line: int) -> Target:
    """Convert one CSV row into a Target, raising ValueError on any bad field."""
    missing = [c for c in COLUMNS if row.get(c) is None]
    if missing:
        raise ValueError(f"missing columns {missing}")
    ints = {}
    for col in ("frames", "size", "classes"):
        try:
            ints[col] = int(row[col])
        except ValueError:
            raise ValueError(f"{col}: got {row[col]!r}; allowed: a positive integer") from None
        if ints[col] < 1:
            raise ValueError(f"{col}: got {row[col]!r}; allowed: a positive integer")
    quantity, unit, convention = row["quantity"], row["unit"], row["convention"]
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity: got {quantity!r}; allowed: {', '.join(QUANTITIES)}")
    if convention not in CONVENTIONS:
        raise ValueError(f"convention: got {convention!r}; allowed: {', '.join(CONVENTIONS)}")
    if CONVENTIONS[convention] != quantity:
        raise ValueError(f"convention: {convention!r} does not apply to quantity {quantity!r}")
    value: int | float | str
    if quantity == "block_params":
        if unit != "formula":
            raise ValueError(f"unit: got {unit!r}; allowed for block_params: formula")
        value = row["value"]
        expr, bindings = split_formula(value)
        evaluate_formula(expr, {**FORMULA_DEFAULTS, **bindings})
    else:
        if unit not in UNITS:
            raise ValueError(f"unit: got {unit!r}; allowed: {', '.join(UNITS)}")
        try:
            value = int(row["value"]) if unit == "count" else float(row["value"])
        except ValueError:
            kind = "an integer" if unit == "count" else "a number"
            raise ValueError(f"value: got {row['value']!r}; allowed: {kind}") from None
        if value <= 0:
            raise ValueError(f"value: got {row['value']!r}; allowed: > 0")
    try:
        tol = float(row["tolerance_pct"])
    except ValueError:
        raise ValueError(
            f"tolerance_pct: got {row['tolerance_pct']!r}; allowed: a number"
        ) from None
    if not 0 <= tol <= 100:
        raise ValueError(f"tolerance_pct: got {tol}; allowed: 0..100")
    if not row["model"].strip() or row["model"] != row["model"].strip().lower():
        raise ValueError(f"model: got {row['model']!r}; allowed: a lowercase zoo name")
    source = row["source"].strip()
    if not source:
        raise ValueError("source: empty; every target must cite its source")
    paper_of_source(source)
    note = row["deviation_note"].strip()
    if note and not _MEASURED.search(note):
        raise ValueError(
            f"deviation_note: got {note[:40]!r}; allowed: 'measured=<count>; reason: <text>'"
        )
    return Target(
        model=row["model"],
        quantity=quantity,
        value=value,
        unit=unit,
        convention=convention,
        tolerance_pct=tol,
        source=source,
        deviation_note=note,
        line=line,
        **ints,
    )


def parse_targets(rows: Iterable[dict[str, str]], filename: str = "<rows>") -> list[Target]:
    """Validate dict rows (CSV line numbers from 2) and return Targets; report every bad row."""
    targets: list[Target] = []
    errors: list[str] = []
    seen: dict[tuple, int] = {}
    for line, row in enumerate(rows, start=2):
        try:
            t = _parse_row(row, line)
        except ValueError as exc:
            errors.append(f"{filename}:{line}: {exc}")
            continue
        if t.key in seen:
            errors.append(
                f"{filename}:{line}: duplicate target {t.key} (first at line {seen[t.key]})"
            )
            continue
        seen[t.key] = line
        targets.append(t)
    if errors:
        raise ValueError(f"{len(errors)} bad target row(s):\n" + "\n".join(errors))
    return targets


def load_targets(path: str | Path | None = None, paper: str | None = None) -> list[Target]:
    """Load and validate the targets file (default `zoo/targets.csv`), optionally one paper's."""
    if paper is not None and paper not in PAPER_KEYS:
        raise ValueError(f"paper: got {paper!r}; allowed: {', '.join(PAPER_KEYS)}")
    path = Path(path) if path is not None else TARGETS_CSV
    reads(path, "the published targets")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(
                f"{path}: header {reader.fieldnames}; allowed: exactly {', '.join(COLUMNS)}"
            )
        targets = parse_targets(reader, str(path))
    return [t for t in targets if paper is None or t.paper == paper]
