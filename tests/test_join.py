"""Profiles x records: joined on (model, frames, size, num_classes); nothing dropped."""

import pandas as pd
import pytest
from stbench.bench.join import join_profiles_records, join_summary
from stbench.cli import main
from stbench.zoo.records import load_records


def _record(model, frames, size, dataset, num_classes, value, modality="rgb", **kw):
    return dict(
        model=model,
        published_name=model or "Other net",
        frames=frames,
        input_size=size,
        dataset=dataset,
        num_classes=num_classes,
        metric="top1",
        value=value,
        modality=modality,
        source="test",
        **kw,
    )


@pytest.fixture
def records() -> pd.DataFrame:
    return pd.DataFrame(
        [
            _record("tsn_resnet50", 8, 224, "mini_ssv2", 87, 33.9),
            _record("tsn_resnet50", 8, 224, "mini_kinetics", 200, 72.1),
            _record("tsn_resnet50", 16, 224, "mini_ssv2", 87, 35.3),
            _record("r2plus1d_resnet34", 32, 112, "sports1m", 487, 46.4, modality="flow"),
            _record("", 8, 224, "ssv1", 174, 42.0),
            _record("r3d_resnet34", None, 112, "sports1m", 487, 53.8),
        ]
    )


@pytest.fixture
def profiles() -> pd.DataFrame:
    rows = [(224, 87, 32_697_090_048), (224, 400, 32_700_000_000), (112, 87, 8_000_000_000)]
    return pd.DataFrame(
        [
            dict(model="tsn_resnet50", frames=8, size=s, num_classes=c, macs=m, source="stbench")
            for s, c, m in rows
        ]
    )


def test_join_matches_all_four_keys(records, profiles):
    j = join_profiles_records(profiles, records)
    both = j[j["match"] == "both"]
    assert len(both) == 1
    row = both.iloc[0]
    assert (row["model"], row["frames"], row["size"], row["num_classes"]) == (
        "tsn_resnet50",
        8,
        224,
        87,
    )
    assert row["value"] == 33.9 and row["macs"] == 32_697_090_048
    assert row["source"] == "test" and row["source_profile"] == "stbench"


def test_nothing_is_dropped_and_reasons_are_given(records, profiles):
    j = join_profiles_records(profiles, records)
    assert join_summary(j) == {"both": 1, "record_only": 5, "profile_only": 2, "records_joined": 1}
    rec_only = j[j["match"] == "record_only"].set_index("dataset")["unmatched_reason"]
    assert rec_only["mini_kinetics"] == "no profile with this (model, frames, size, num_classes)"
    assert rec_only["ssv1"] == "no zoo model (published_name only)"
    assert sorted(rec_only["sports1m"]) == [
        "frames not published",
        "modality flow: profiles are of the single RGB network",
    ]
    prof_only = j[j["match"] == "profile_only"]
    assert sorted(zip(prof_only["size"], prof_only["num_classes"], strict=True)) == [
        (112, 87),
        (224, 400),
    ]
    assert (
        prof_only["unmatched_reason"] == "no record with this (model, frames, size, num_classes)"
    ).all()


def test_same_name_other_frames_or_classes_never_joins(records, profiles):
    prof = profiles.iloc[[1]]  # tsn_resnet50, 8 frames, 224, 400 classes
    j = join_profiles_records(prof, records)
    assert (j["match"] != "both").all()


def test_missing_key_columns_are_refused(records, profiles):
    with pytest.raises(ValueError, match=r"profiles: missing column\(s\) \['num_classes'\]"):
        join_profiles_records(profiles.drop(columns="num_classes"), records)
    with pytest.raises(ValueError, match=r"records: missing column\(s\) \['input_size'\]"):
        join_profiles_records(profiles, records.drop(columns="input_size"))


def test_shipped_records_join_ibm_figures():
    rec = load_records(check_zoo_names=False)
    prof = pd.DataFrame(
        [dict(model="i3d_resnet18_tp", frames=16, size=224, num_classes=200, macs=1)]
    )
    j = join_profiles_records(prof, rec)
    both = j[j["match"] == "both"]
    # Mini-Kinetics and Mini-MiT both have 200 classes; top1/top5; two IBM copies
    assert sorted(set(both["dataset"])) == ["mini_kinetics", "mini_mit"]
    assert len(both) == 8
    assert len(j) == len(rec) - 8 + 8  # every record appears once, none dropped


def test_cli_join_writes_csv(tmp_path, capsys):
    from stbench.bench.store.results import ResultsStore

    store = tmp_path / "s.sqlite"
    with ResultsStore(store) as s:
        s.add_row(dict(model="tam_resnet50", frames=8, size=224, batch=1, num_classes=87, macs=123))
    out = tmp_path / "joined.csv"
    assert main(["records", "join", "--store", str(store), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().err  # stdout carries data only
    df = pd.read_csv(out)
    both = df[df["match"] == "both"]
    assert set(both["metric"]) == {"top1", "top5"} and set(both["dataset"]) == {"mini_ssv2"}
    assert 65.4378 in set(both["value"])
    assert (
        main(["records", "join", "--store", str(tmp_path / "none.sqlite"), "--out", str(out)]) == 2
    )
