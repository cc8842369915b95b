"""The op-handle table: every op with no handle is listed (`uncounted_ops`) and flagged, never
counted as zero in silence; a registered handle (or an arithmetic-free declaration) counts it."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch
from stbench.bench.count import handles
from stbench.bench.count.counting import static_count
from stbench.bench.count.static import build_zoo_model
from stbench.cli import main
from stbench.zoo import list_specs
from torch import nn

import stbench

SHAPE = (1, 3, 4, 8, 8)


class Scan(torch.autograd.Function):
    """A custom autograd op: a running sum over time."""

    @staticmethod
    def forward(ctx, x):  # noqa: ANN001, ANN205
        return torch.cumsum(x, dim=2)

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        return grad.flip(2).cumsum(2).flip(2)


class Spectral(nn.Module):
    """A conv, a spectrum over time (torch.fft.rfft) and a custom autograd op."""

    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 1, bias=False)
        self.fc = nn.Linear(4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        spectrum = torch.fft.rfft(y, dim=2).abs()
        return self.fc(Scan.apply(spectrum).mean((2, 3, 4)))


@pytest.fixture
def table(monkeypatch):
    """Handles a test registers are gone afterwards."""
    monkeypatch.setattr(handles, "OP_HANDLES", dict(handles.OP_HANDLES))
    monkeypatch.setattr(handles, "ARITHMETIC_FREE", set(handles.ARITHMETIC_FREE))


def test_fft_and_a_custom_autograd_op_are_listed_and_flagged():
    sc = static_count(Spectral(), SHAPE)
    assert sc.uncounted_ops == {"aten._fft_r2c": 1, "aten.cumsum": 1}
    flag = sc.uncounted_flag()
    assert flag is not None and "aten._fft_r2c x1" in flag and "aten.cumsum x1" in flag
    assert "register_op_handle" in flag
    assert sc.conv_macs == 4 * 3 * 4 * 8 * 8 and sc.linear_macs == 4 * 5  # the rest counts


def test_registering_handles_counts_them_and_the_flag_goes(table):
    def rfft(args, out, module):
        return "elementwise", args[0].numel()

    stbench.register_op_handle("aten::_fft_r2c", rfft)
    stbench.register_op_handle(torch.ops.aten.cumsum, lambda args, out, module: ("pool", 7))
    sc = static_count(Spectral(), SHAPE)
    assert sc.uncounted_ops == {} and sc.uncounted_flag() is None
    assert sc.other["aten._fft_r2c"] == 4 * 4 * 8 * 8 and sc.other["aten.cumsum"] == 7


def test_an_op_declared_arithmetic_free_is_neither_counted_nor_listed(table):
    stbench.register_op_handle("aten._fft_r2c", None)
    stbench.register_op_handle("cumsum", None)
    sc = static_count(Spectral(), SHAPE)
    assert sc.uncounted_ops == {} and "aten.cumsum" not in sc.other


def test_profile_flags_uncounted_ops_and_stores_them(tmp_path, capsys, clean_registry):
    module = tmp_path / "spectral_models.py"
    module.write_text(
        textwrap.dedent("""
            import stbench
            from test_op_handles import Spectral

            @stbench.register_model(source="mylab2025", citation="My Lab, unpublished")
            def spectral_net(num_classes, frames):
                return Spectral(num_classes)
        """)
    )
    store = tmp_path / "s.sqlite"
    argv = ["profile", "spectral_net", "--module", str(module), "--frames", "4", "--size", "8"]
    assert main([*argv, "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "flag spectral_net: 2 op(s) not counted" in " ".join(out.split())
    assert main([*argv, "--json"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["uncounted_ops"] == {"aten._fft_r2c": 1, "aten.cumsum": 1}
    from stbench.bench.store.results import ResultsStore

    with ResultsStore(store, readonly=True) as db:
        (stored,) = db.rows()
    assert stored["uncounted_ops"] == {"aten._fft_r2c": 1, "aten.cumsum": 1}


def test_a_handle_answering_nonsense_is_named(table):
    handles.register_op_handle("aten.cumsum", lambda args, out, module: ("flops", 1))
    with pytest.raises(ValueError, match=r"op handle of aten.cumsum: got \('flops', 1\)"):
        static_count(Spectral(), SHAPE)


@pytest.mark.parametrize(
    ("op", "name"),
    [
        ("aten::_fft_r2c", "_fft_r2c"),
        ("aten._fft_r2c", "_fft_r2c"),
        ("_fft_r2c", "_fft_r2c"),
        (torch.ops.aten._fft_r2c, "_fft_r2c"),
        (torch.ops.aten._fft_r2c.default, "_fft_r2c"),
        ("mylib::scan", "mylib.scan"),
    ],
)
def test_op_names_in_every_spelling(op, name):
    assert handles.op_name(op) == name


@pytest.mark.parametrize(("op", "handle"), [("", None), (3, None), ("aten.cumsum", "not callable")])
def test_bad_registration_is_one_line(op, handle):
    with pytest.raises(ValueError, match=r"^(op|handle): got "):
        handles.register_op_handle(op, handle)


def _one_per_family() -> list[str]:
    return sorted({s.family: s.name for s in reversed(list_specs())}.values())


@pytest.mark.parametrize("name", _one_per_family())
def test_the_zoo_counts_every_op(name):
    spec = next(s for s in list_specs(name))
    model = build_zoo_model(name, frames=spec.default_frames, num_classes=spec.default_classes)
    shape = (1, 3, spec.default_frames, spec.default_size, spec.default_size)
    assert static_count(model, shape).uncounted_ops == {}


def test_the_dashboard_hover_names_uncounted_ops():
    from stbench.plots.dashboard import build_payload
    from test_dashboard import sample_joined

    joined = sample_joined()
    joined["uncounted_ops"] = joined["model"].map({"i3d_resnet50": {"aten._fft_r2c": 2}})
    hovers = {x["model"]: x["hover"] for x in build_payload(joined)["points"]}
    assert "ops not counted (no handle): aten._fft_r2c x2" in hovers["i3d_resnet50"]
    assert "not counted" not in hovers["tsn_resnet50"]


def test_compare_shows_uncounted_ops():
    from stbench.plots.tables import compare_rows

    def profiler(name, frames, size, classes):
        extra = {"uncounted_ops": {"aten.cumsum": 3}} if name == "tsm_resnet50" else {}
        return {"params": 1, "macs": 2, **extra}

    rows, notes = compare_rows(["tsn_resnet50", "tsm_resnet50"], profiler=profiler)
    assert [r.get("uncounted ops") for r in rows] == [None, "aten.cumsum x3"]
    assert any(
        n.startswith("tsm_resnet50: ops not counted, no handle: aten.cumsum x3") for n in notes
    )
