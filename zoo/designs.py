"""The design group of each zoo family: the one classification the dashboard's colours and
legend (``stbench.plots.style``) and the CPU estimate's per-family report
(``stbench.bench.predict.cpu_device``) read.

A family outside these groups (a user's model) is ``"unlisted"``.
"""

from __future__ import annotations

# design group: its families
DESIGN_GROUPS: dict[str, tuple[str, ...]] = {
    "2D": ("TSN", "TSN+Avg", "TSN+Max", "R2D", "f-R2D", "C2D", "I2D"),
    "3D": ("I3D", "R3D", "C3D", "SlowFast", "NLN", "Slow"),
    "3D (mixed)": (
        "MC2",
        "MC3",
        "MC4",
        "MC5",
        "rMC2",
        "rMC3",
        "rMC4",
        "rMC5",
        "Top-Heavy-I3D",
        "Bottom-Heavy-I3D",
    ),
    "(2+1)D": ("R(2+1)D", "P3D"),
    "separable": ("S3D", "S3D-G", "Fast-S3D", "Top-Heavy-S3D", "Bottom-Heavy-S3D"),
    "temporal modules": ("TAM", "TSM"),
    "grouped": ("GST",),
    "channel-wise": ("X3D", "ir-CSN", "ip-CSN"),
    "attention": ("Video Swin", "VideoMAE", "TimeSformer", "MViT", "MViTv2", "UniFormer"),
}
UNLISTED = "unlisted"
_GROUP_OF = {family: group for group, families in DESIGN_GROUPS.items() for family in families}


def design_group(family: str) -> str:
    """The family's design group, e.g. ``design_group("TAM") == "temporal modules"``."""
    return _GROUP_OF.get(family, UNLISTED)
