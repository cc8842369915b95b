"""The dashboard views pick and group points by zoo spec fields, not by parsing model names."""

import pandas as pd
from stbench.plots.views import assign_views


def _members(models: list[str], **extra) -> dict[str, dict]:
    points = pd.DataFrame({"model": models, "frames": [8] * len(models), **extra})
    return dict(zip(models, assign_views(points), strict=True))


def test_views_follow_spec_fields():
    m = _members(
        [
            "xie_top_heavy_i3d_mixed_4b",
            "xie_i3d",
            "gst_a1_8_resnet18",
            "gst_large_resnet18",
            "c3d_resnet18",
            "tsn_resnet50",
            "tsn_resnet50_tp",
            "tsn_resnet18_tp",
            "i3d_resnet18",
            "r3d_resnet18",
            "not_in_zoo",
        ],
        zoo_paper=[""] * 10 + ["tran2018"],
    )
    assert m["xie_top_heavy_i3d_mixed_4b"]["xie"] == ["Top-Heavy-I3D", None]
    assert m["xie_i3d"]["xie"] == ["", 0.0]
    assert m["gst_a1_8_resnet18"]["gst"] == [
        "GST beta=1/2, alpha sweep (resnet18, 8 frames)",
        0.125,
    ]
    assert m["gst_large_resnet18"]["gst"] == ["", 0.0] and m["c3d_resnet18"]["gst"] == ["", 0.0]
    assert m["tsn_resnet50_tp"]["tp"] == ["tsn_resnet50 @ 8 frames", 1.0]
    assert m["tsn_resnet50"]["tp"] == ["tsn_resnet50 @ 8 frames", 0.0]
    assert m["tsn_resnet18_tp"]["tp"] == ["tsn_resnet18 @ 8 frames", 1.0]
    assert "tp" not in m["i3d_resnet18"]  # its pooled twin is not among the points
    assert "tp" not in m["r3d_resnet18"]  # strides in time, but has no unpooled twin
    assert "tran" in m["r3d_resnet18"] and "tran" in m["not_in_zoo"]
    assert "xie" not in m["not_in_zoo"] and "gst" not in m["not_in_zoo"]
