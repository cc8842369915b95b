"""The ResNet-family zoo: contract names, registry look-ups, GST overrides (every model's
build, output shape and input errors: tests/test_zoo_contract.py)."""

from __future__ import annotations

import pytest
import torch
from stbench.zoo import ModelSpec, create_model, get_spec, list_models
from stbench.zoo.registry import builder_plan


def _contract_names() -> set[str]:
    names: set[str] = set()
    for arch in ("tsn", "tam", "i3d", "s3d"):
        for bb in ("resnet18", "resnet50", "resnet101"):
            names |= {f"{arch}_{bb}", f"{arch}_{bb}_tp"}
    names |= {"tsn_resnet18_tavg", "tsn_resnet18_tmax", "tsm_resnet50", "nln_resnet50"}
    names |= {"slowfast_resnet50_8x8", "slowfast_resnet101_8x8", "slowfast_resnet101_16x8"}
    tran = ["r2d", "f_r2d", "r3d", "r2plus1d"] + [f"{p}{x}" for p in ("mc", "rmc") for x in "2345"]
    names |= {f"{v}_{bb}" for v in tran for bb in ("resnet18", "resnet34")}
    luo = ["c2d", "c3d", "c3d_g2", "p3d", "gst_large", "gst_a1_2", "gst_a1_4", "gst_a1_8"]
    names |= {f"{v}_{bb}" for v in luo for bb in ("resnet18", "resnet34", "resnet50")}
    return names


RESNET_FAMILY = sorted(_contract_names())


def test_every_contract_name_is_registered():
    missing = set(RESNET_FAMILY) - set(list_models())
    assert not missing, f"not registered: {sorted(missing)}"
    assert len(RESNET_FAMILY) == 79


@pytest.mark.parametrize(
    ("name", "papers"),
    [("tam_resnet50", "chen2021"), ("rmc3_resnet34", "tran2018"), ("gst_a1_8_resnet50", "luo2019")],
)
def test_spec_paper_and_citation(name, papers):
    spec = get_spec(name)
    assert spec.paper == papers
    assert spec.citation and spec.description


def test_unknown_name_lists_closest_names():
    with pytest.raises(ValueError, match=r"unknown model name 'tsn_resnet19'.*tsn_resnet18"):
        create_model("tsn_resnet19")


def test_list_models_pattern_matching():
    assert list_models("mc*") == [f"mc{x}_{bb}" for x in "2345" for bb in ("resnet18", "resnet34")]
    assert list_models("SLOWFAST_*") == [
        "slowfast_resnet101_16x8",
        "slowfast_resnet101_8x8",
        "slowfast_resnet50_8x8",
    ]
    assert "gst_large_resnet50" in list_models("gst_*_resnet50")
    assert list_models("no_such_*") == []


def test_alpha_beta_are_free_kwargs_of_create_model():
    with torch.device("meta"):
        model = create_model("gst_a1_4_resnet50", alpha=0.5, beta=1)
    params_half = sum(p.numel() for p in model.parameters())
    with torch.device("meta"):
        default = create_model("gst_a1_4_resnet50")
    assert params_half > sum(p.numel() for p in default.parameters())


def test_slowfast_documents_its_input_frames():
    assert get_spec("slowfast_resnet50_8x8").default_frames == 32
    assert get_spec("slowfast_resnet101_16x8").default_frames == 64
    assert "fast" in get_spec("slowfast_resnet50_8x8").description


def test_gst_alpha_beta_are_spec_fields():
    assert (get_spec("gst_a1_8_resnet34").gst_alpha, get_spec("gst_a1_8_resnet34").gst_beta) == (
        1 / 8,
        1 / 2,
    )
    assert get_spec("gst_large_resnet50").gst_beta == 1
    assert get_spec("c3d_resnet50").gst_alpha is None


def test_display_fields_come_from_the_architecture():
    assert get_spec("tam_resnet18").operators == ("2d+tam",) * 4
    assert get_spec("nln_resnet50").operators == ("2d", "2d+nonlocal", "2d+nonlocal", "2d")
    assert get_spec("tsn_resnet50_tp").temporal_pool == "max pool k3 s2 after stages 1-3"
    assert get_spec("i3d_resnet50_tp").temporal_pool == "temporal stride 2 in stages 2-4"
    assert get_spec("r2plus1d_resnet18").stem == "r2plus1d(mid_channels=45)"
    assert get_spec("mc4_resnet34").transition == "stage 3"


def test_a_spec_can_wrap_any_builder_and_the_old_positional_form_still_works():
    def builder(num_classes: int, frames: int, width: int = 4) -> torch.nn.Module:
        return torch.nn.Linear(width, num_classes)

    old = ModelSpec("x", "X", "xie2018", "none", ("3d",), builder)
    assert old.operators == ("3d",) and old.temporal_pool is None and old.gst_alpha is None
    assert old.build(num_classes=3, frames=8, width=5).weight.shape == (3, 5)
    new = ModelSpec(
        "y", "Y", "xie2018", "none", builder_plan, {"builder": builder, "operators": ("2d",)}
    )
    assert new.operators == ("2d",) and new.build(num_classes=2, frames=8).weight.shape == (2, 4)
