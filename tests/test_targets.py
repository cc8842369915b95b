"""The zoo against every published params/MACs figure of `zoo/targets.csv`.

One test per target row: the zoo model is built on the meta device at the row's input
and counted once per (model, frames, size, classes) (cached in bench.count.reproduce). A row
within its tolerance passes; a row with a recorded deviation must measure exactly the
recorded value (so a changed architecture still fails). An unregistered model fails.
"""

from __future__ import annotations

import collections
import csv
import io

import pytest
from stbench.bench.count.reproduce import evaluate, measure
from stbench.zoo.targets import (
    COLUMNS,
    TARGETS_CSV,
    Target,
    evaluate_formula,
    load_targets,
    parse_targets,
    split_formula,
)

TARGETS = load_targets()

# How many figures each source contributes; a lost or duplicated row changes these.
EXPECTED_PER_PAPER = {
    "ibm": 384,
    "tran2018": 12,
    "xie2018": 7,
    "luo2019": 22,
    "chen2021": 7,
    "feichtenhofer2020": 8,
    "liu2022": 6,
    "tong2022": 6,
    "bertasius2021": 4,
    "fan2021": 4,
    "li2022": 4,
    "tran2019": 7,
    "feichtenhofer2019": 6,
    "fan2021ptv": 2,
    "li2022uniformer": 7,
}


def _id(t: Target) -> str:
    return f"{t.paper}-{t.model}-f{t.frames}-s{t.size}-c{t.classes}-{t.quantity}-L{t.line}"


@pytest.mark.parametrize("target", TARGETS, ids=[_id(t) for t in TARGETS])
def test_zoo_meets_published_figure(target: Target) -> None:
    zoo = measure(target)
    row = evaluate(target, zoo)
    if target.deviation_note:
        assert zoo == target.recorded_measurement, (
            f"{target.model}: measured {zoo}, but the deviation note records "
            f"{target.recorded_measurement}; update the note or fix the model"
        )
        assert row.status == "recorded", "a recorded deviation that is within tolerance: drop it"
    else:
        assert row.status == "met", (
            f"{target.model} {target.quantity} at f{target.frames} s{target.size} "
            f"c{target.classes}: zoo {zoo} vs published {target.expected_count():.6g} "
            f"({row.deviation_pct:+.3f}% > {target.tolerance_pct}%); source: {target.source}"
        )


def test_targets_per_source() -> None:
    assert collections.Counter(t.paper for t in TARGETS) == EXPECTED_PER_PAPER


def test_every_target_cites_its_source_and_convention() -> None:
    for t in TARGETS:
        assert t.source and ("Table" in t.source or "Sec." in t.source or "rows L" in t.source)
        if t.paper == "ibm":
            assert t.tolerance_pct == 0 and t.size == 224 and t.unit == "count"
            assert t.classes in (87, 200)
            expected = "all_params_with_fc" if t.quantity == "params" else "conv_macs_no_fc"
            assert t.convention == expected


def test_ibm_params_do_not_depend_on_frames_and_fc_matches_class_count() -> None:
    """IBM params: equal across frames; 200 - 87 classes add exactly 113 x (features + 1)."""
    params: dict[tuple[str, int], set[int]] = collections.defaultdict(set)
    for t in TARGETS:
        if t.paper == "ibm" and t.quantity == "params":
            params[(t.model, t.classes)].add(int(t.value))
    features = {"inception_v1": 1024, "resnet18": 512, "resnet50": 2048}
    models = {m for m, _ in params}
    assert len(models) == 24
    for m in models:
        (p87,) = params[(m, 87)]
        (p200,) = params[(m, 200)]
        bb = next(b for b in features if b in m)
        assert p200 - p87 == 113 * (features[bb] + 1), m


def test_ibm_ts_rows_are_cited_with_their_tp_twins() -> None:
    """The '-ts' section repeats the '-tp' rows with the same figures: one target, both rows."""
    tp = [t for t in TARGETS if t.paper == "ibm" and t.model.endswith("_tp")]
    assert len(tp) == 192
    for t in tp:
        assert "-tp-" in t.source and "-ts-" in t.source, t.source


def test_luo_table1_formulas_evaluate_exactly() -> None:
    expr, b = split_formula("(1 - alpha + alpha*T)*H*W*Ci*Co/2 @ alpha=1/8")
    assert b == {"alpha": pytest.approx(0.125)}
    val = evaluate_formula(expr, {"H": 3, "W": 3, "T": 3, "Ci": 64, "Co": 64, **b})
    assert val == (1 - 0.125 + 0.375) * 9 * 64 * 64 / 2 == 23040


def _rows_csv(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS)
    w.writeheader()
    w.writerows(rows)
    return list(csv.DictReader(io.StringIO(buf.getvalue())))


GOOD = {
    "model": "r3d_resnet18",
    "frames": "8",
    "size": "112",
    "classes": "400",
    "quantity": "params",
    "value": "33.4",
    "unit": "M",
    "convention": "all_params_with_fc",
    "tolerance_pct": "2",
    "source": "papers/002_a287baa9121de811.txt, Table 2, row R3D",
    "deviation_note": "",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"unit": "K"}, "unit: got 'K'"),
        ({"quantity": "flops"}, "quantity: got 'flops'"),
        ({"convention": "conv_macs_no_fc"}, "does not apply to quantity 'params'"),
        ({"value": "abc"}, "value: got 'abc'"),
        ({"value": "-1"}, "value: got '-1'"),
        ({"frames": "0"}, "frames: got '0'"),
        ({"source": ""}, "source: empty"),
        ({"source": "somewhere, Table 1"}, "does not start with a known source"),
        ({"tolerance_pct": "x"}, "tolerance_pct: got 'x'"),
        ({"model": "R3D"}, "model: got 'R3D'"),
        ({"deviation_note": "too big"}, "deviation_note: got 'too big'"),
        (
            {"quantity": "block_params", "convention": "block_conv_weights"},
            "allowed for block_params",
        ),
    ],
)
def test_bad_rows_are_reported_with_line(change: dict[str, str], message: str) -> None:
    rows = _rows_csv([GOOD, {**GOOD, "frames": "16"}, {**GOOD, **change}])
    with pytest.raises(ValueError, match="f.csv:4: ") as exc:
        parse_targets(rows, "f.csv")
    assert message in str(exc.value)


def test_every_bad_row_is_reported_and_nothing_half_loaded() -> None:
    rows = _rows_csv([{**GOOD, "unit": "K"}, GOOD, GOOD, {**GOOD, "source": ""}])
    with pytest.raises(ValueError) as exc:
        parse_targets(rows, "f.csv")
    text = str(exc.value)
    assert text.startswith("3 bad target row(s)")
    assert "f.csv:2: unit" in text and "f.csv:4: duplicate" in text and "f.csv:5: source" in text


def test_bad_formula_is_rejected() -> None:
    bad = {
        **GOOD,
        "quantity": "block_params",
        "convention": "block_conv_weights",
        "unit": "formula",
        "value": "H*W*Ci*Co*__import__('os')",
    }
    with pytest.raises(ValueError, match="formula: unsupported syntax"):
        parse_targets(_rows_csv([bad]))
    with pytest.raises(ValueError, match="unknown name 'K'"):
        parse_targets(_rows_csv([{**bad, "value": "K*Ci"}]))


def test_load_targets_rejects_unknown_paper_and_bad_header(tmp_path) -> None:
    with pytest.raises(ValueError, match="paper: got 'nope'; allowed: chen2021"):
        load_targets(paper="nope")
    f = tmp_path / "t.csv"
    f.write_text("model,frames\nx,1\n")
    with pytest.raises(ValueError, match="header"):
        load_targets(f)
    assert TARGETS_CSV.name == "targets.csv"
    assert len(load_targets(paper="tran2018")) == 12
