"""Chen et al. Eq. 1-2 (Phi, Psi) on hand-computed data, and Table 8 from the IBM figures."""

import pandas as pd
import pytest
from stbench.cli import main
from stbench.zoo.analysis import (
    compare_table8,
    per_model_effects,
    spatial_contribution,
    table8,
    temporal_improvement,
)
from stbench.zoo.records import load_records


def _rec(model: str, frames: int, value: float, dataset: str = "mini_ssv2") -> dict:
    return dict(
        paper="ibm_action_recognition_pytorch",
        variant="ibm_names=tp",
        metric="top1",
        model=model,
        frames=frames,
        dataset=dataset,
        value=value,
    )


@pytest.fixture
def tiny() -> pd.DataFrame:
    return pd.DataFrame(
        [
            _rec("tsn_resnet18", 8, 30.0),
            _rec("tsn_resnet18", 16, 40.0),
            _rec("i3d_resnet18", 8, 60.0),
            _rec("i3d_resnet18", 16, 50.0),
            _rec("i3d_resnet18_tp", 8, 20.0),
            _rec("i3d_resnet18_tp", 16, 55.0),
            _rec("tam_resnet18", 32, 70.0),  # no TSN at 32 frames: not used
            {**_rec("i3d_resnet18", 8, 99.0), "variant": "ibm_names=ts"},  # other copy: ignored
        ]
    )


def test_eq1_worked_example():
    # Sec. 5.3: TAM-ResNet50 71.6 vs TSN-ResNet50 36.8 on Mini-SSV2
    assert temporal_improvement(71.6, 36.8) == pytest.approx(34.8 / 63.2)
    assert round(temporal_improvement(71.6, 36.8), 3) == 0.551
    assert spatial_contribution(71.6, 36.8) == pytest.approx(36.8 / 71.6)
    assert temporal_improvement(71.6, 36.8, "eq1") == pytest.approx(34.8 / 71.6)
    # a model worse than TSN: phi is 1 and psi negative
    assert spatial_contribution(50.0, 60.0) == 1.0
    assert temporal_improvement(50.0, 60.0) == pytest.approx(-0.25)
    assert temporal_improvement(50.0, 60.0, "eq1") == pytest.approx(-10 / 60)


@pytest.mark.parametrize("bad", [0.0, -1.0, 101.0])
def test_bad_accuracy_is_refused(bad):
    with pytest.raises(ValueError, match="accuracy: got"):
        spatial_contribution(bad, 50.0)
    with pytest.raises(ValueError, match="denominator: got 'x'"):
        temporal_improvement(50.0, 40.0, "x")


def test_hand_computed_averages(tiny):
    eff = per_model_effects(tiny, datasets=["mini_ssv2"])
    assert len(eff) == 4  # (8, 16) x (ta, ta+tp), resnet18 only
    t8 = table8(eff).set_index(["metric", "architecture"])["value"]
    # phi over models without temporal pooling: 30/60 and 40/50
    assert t8["phi", "i3d"] == pytest.approx((0.5 + 0.8) / 2)
    # psi_ta: (60-30)/70 and (50-40)/60
    assert t8["psi_ta", "i3d"] == pytest.approx((30 / 70 + 10 / 60) / 2)
    # psi_ta_tp: (20-30)/70 and (55-40)/60, always against TSN without pooling
    assert t8["psi_ta_tp", "i3d"] == pytest.approx((-10 / 70 + 15 / 60) / 2)
    assert ("phi", "tam") not in t8.index
    eq1 = table8(per_model_effects(tiny, datasets=["mini_ssv2"], denominator="eq1"))
    eq1 = eq1.set_index(["metric", "architecture"])["value"]
    assert eq1["psi_ta", "i3d"] == pytest.approx((30 / 60 + 10 / 50) / 2)


def test_duplicate_figures_are_refused(tiny):
    dup = pd.concat([tiny, tiny.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match="more than one top-1 record"):
        per_model_effects(dup)


@pytest.fixture(scope="module")
def records():
    return load_records(check_zoo_names=False)


def test_table8_reproduction(records):
    cmp = compare_table8(records)
    assert len(cmp) == 27 and (cmp["present"] == "both").all() and (cmp["n"] == 12).all()
    assert cmp["diff"].abs().max() < 0.025
    misses = cmp[~cmp["rounds_to_paper"]]
    # every miss is an I3D/S3D pair whose published values look exchanged
    assert set(zip(misses["dataset"], misses["metric"], strict=True)) == {
        ("mini_ssv2", "psi_ta"),
        ("mini_kinetics", "psi_ta"),
        ("mini_mit", "psi_ta"),
        ("mini_mit", "phi"),
    }
    assert set(misses["architecture"]) == {"i3d", "s3d"} and len(misses) == 8
    swapped = cmp.set_index(["dataset", "metric", "architecture"])
    for ds, metric in set(zip(misses["dataset"], misses["metric"], strict=True)):
        ours_i3d = swapped.loc[(ds, metric, "i3d"), "reproduced"]
        ours_s3d = swapped.loc[(ds, metric, "s3d"), "reproduced"]
        assert round(ours_i3d, 2) == swapped.loc[(ds, metric, "s3d"), "paper"]
        assert round(ours_s3d, 2) == swapped.loc[(ds, metric, "i3d"), "paper"]


def test_eq1_as_printed_fits_table8_worse(records):
    headroom = compare_table8(records)["diff"].abs().mean()
    eq1 = compare_table8(records, denominator="eq1")["diff"].abs().mean()
    assert headroom < 0.01 < eq1


def test_second_ibm_copy_gives_the_same_table(records):
    a = compare_table8(records)["reproduced"]
    b = compare_table8(records, variant="ibm_names=ts")["reproduced"]
    assert (a == b).all()


def test_cli_phi_psi_csv(capsys):
    assert main(["records", "phi-psi", "--csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("dataset,metric,architecture,reproduced,paper,diff")
    assert len(out) == 28
    assert main(["records", "phi-psi", "--markdown"]) == 0
    assert "19/27 reproduced values round to the paper's" in capsys.readouterr().out
