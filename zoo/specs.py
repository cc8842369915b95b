"""Imports every paper's spec module so that each registers its models."""

from stbench.zoo import (  # noqa: F401
    specs_chen,
    specs_chen_inception,
    specs_luo,
    specs_modern,
    specs_tran,
    specs_xie,
)
