"""The dashboard in a real headless Chromium: it renders, switching selectors redraws, no JS errors.

The page carries a self-test that runs when its URL ends in `#selftest`: it snapshots the
plot (SVG, points, traces, axis type), switches the dataset, cost and view selectors and the
log toggle, snapshots after each, and writes the JSON result into `#selftest-result`,
together with every JavaScript error collected since <head>.
"""

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from stbench.plots.dashboard import build_payload, render_html

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _joined() -> pd.DataFrame:
    base = dict(split="val", level="clip", views="1x1", input_size=224, num_classes=400)
    base.update(modality="rgb", source="test Table 1", metric="top1", batch=1, device="meta")
    pts = [
        ("tsn_resnet50", "TSN", "kinetics400", 8, 33e9, 24e6, 68.0),
        ("i3d_resnet50", "I3D", "kinetics400", 8, 60e9, 28e6, 71.0),
        ("tam_resnet50", "TAM", "kinetics400", 8, 33e9, 25e6, 72.0),
        ("tsn_resnet18", "TSN", "kinetics400", 8, 14e9, 11e6, 60.0),
        ("gst_a1_4_resnet50", "GST", "ssv1", 8, 29e9, 21e6, 47.6),
        ("gst_a1_8_resnet50", "GST", "ssv1", 8, 27e9, 21e6, 46.7),
    ]
    rows = [
        dict(
            base,
            model=m,
            family=f,
            backbone=m.split("_")[-1],
            dataset=d,
            frames=t,
            macs=c,
            params=p,
            value=v,
        )
        for m, f, d, t, c, p, v in pts
    ]
    rows.append(dict(rows[-2], level="video", views="2x1", value=48.3))
    return pd.DataFrame(rows)


def _selftest(page: str, tmp: Path) -> dict:
    path = tmp / "dashboard.html"
    path.write_text(page, encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            f"{path.as_uri()}#selftest",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    m = re.search(r'<pre id="selftest-result">(.*?)</pre>', proc.stdout, re.S)
    assert m, f"no self-test output; chromium rc={proc.returncode}: {proc.stderr[-2000:]}"
    assert m.group(1).strip(), "the self-test did not finish within the virtual time budget"
    return json.loads(m.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(build_payload(_joined()))


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (make browser installs Debian's)")
def test_dashboard_renders_and_selectors_redraw(page, tmp_path):
    res = _selftest(page, tmp_path)
    assert res["errors"] == []
    steps = {s["step"]: s for s in res["steps"]}
    first = steps["initial"]
    assert first["svg"] and first["dataset"] == "kinetics400" and first["cost"] == "macs"
    assert first["points"] == 4 and first["frontier_rows"] == 1 + 2  # header + tsn_resnet18, tam
    assert "GMACs" in first["title"] and first["xaxis_type"] == "log"
    ds = steps["sel-dataset"]
    assert ds["dataset"] == "ssv1" and ds["points"] == 3 and "Something-Something V1" in ds["title"]
    cost = steps["sel-cost"]
    assert cost["cost"] == "flops" and "GFLOPs" in cost["title"]
    level = steps["sel-level"]  # clip-level accuracy only: the 2-clip video record goes
    assert level["level"] == "clip" and level["points"] == 2 and "clip level" in level["title"]
    assert steps["chk-log"]["xaxis_type"] == "linear" and steps["chk-log"]["svg"]
    view = steps["sel-view"]  # ssv1 has no Xie et al. records: a message, never an empty plot
    assert view["view"] == "xie" and not view["svg"] and "has no records on" in view["message"]


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (make browser installs Debian's)")
def test_javascript_errors_are_caught(page, tmp_path):
    res = _selftest(page.replace("Plotly.react($('plot')", "Plotly.nope($('plot')"), tmp_path)
    assert any("nope" in e for e in res["errors"])
