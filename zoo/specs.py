"""Imports every paper's spec module so that each registers its models."""

from zoo import specs_chen, specs_luo, specs_tran, specs_xie  # noqa: F401
