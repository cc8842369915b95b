"""The contract every zoo model keeps: found by grep in zoo/, builds on the meta device at its
default input, maps (B, 3, T, S, S) to (B, classes), refuses bad input and misplaced overrides
in one line, and shows display fields derived from its architecture."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch
from stbench.zoo import create_model, get_spec, list_models
from torch import nn

ZOO = Path(__file__).resolve().parents[1] / "zoo"
NAMES = list_models()


@functools.cache
def _zoo_source() -> str:
    return "\n".join(p.read_text() for p in sorted(ZOO.glob("*.py")))


@functools.cache
def _meta(name: str) -> nn.Module:
    with torch.device("meta"):
        return create_model(name, num_classes=7).eval()  # eval: meta batch-norm is slow


def _clip(name: str, **change: int) -> torch.Tensor:
    spec = get_spec(name)
    shape = {"b": 2, "c": 3, "t": spec.default_frames, "s": spec.default_size} | change
    return torch.empty(shape["b"], shape["c"], shape["t"], shape["s"], shape["s"], device="meta")


def test_the_zoo_is_whole():
    # the four papers' 128 + X3D 4, Video Swin 3, VideoMAE 3, TimeSformer 3, MViT/MViTv2 4,
    # CSN 4, Slow-only 2, C2D and R(2+1)D-50 (pytorchvideo) 2, UniFormer 2
    assert len(NAMES) == 155


@pytest.mark.parametrize("name", NAMES)
def test_name_is_written_literally_in_zoo(name):
    assert f'"{name}"' in _zoo_source(), f"grep for {name!r} in zoo/ finds nothing"


@pytest.mark.parametrize("name", NAMES)
def test_meta_build_and_output_shape_at_the_default_input(name):
    with torch.no_grad():
        assert _meta(name)(_clip(name)).shape == (2, 7)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_one_line_naming_x(name):
    model = _meta(name)
    spec = get_spec(name)
    bad = {
        "rank": torch.empty(3, spec.default_frames, 32, 32, device="meta"),
        "channels": _clip(name, c=1),
        "frames": _clip(name, t=spec.default_frames + 1),
        "size": _clip(name, s=model.min_size - 1),
    }
    for what, x in bad.items():
        with pytest.raises(ValueError, match=r"^x: got .*; allowed: ") as err:
            model(x)
        assert "\n" not in str(err.value), what


@pytest.mark.parametrize("name", NAMES)
def test_misplaced_override_is_one_line_at_build_time(name):
    with pytest.raises(ValueError, match=r"^no_such_option: got 1; allowed: an option of ") as err:
        create_model(name, no_such_option=1)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", NAMES)
def test_display_fields_are_derived_from_the_architecture(name):
    spec = get_spec(name)
    slots = spec.summary.slots
    assert spec.operators and len(spec.operators) == len(slots)
    assert all(
        label.startswith(s.name) for label, (_, s) in zip(spec.operators, slots, strict=True)
    )
    assert spec.stem
    assert spec.temporal_pool is None or spec.temporal_pool.strip()
    assert (spec.gst_alpha is None) == ("gst" not in {s.name for _, s in slots})
