"""Fixed marker style per family and backbone, the same whatever subset a view shows.

Each zoo family has one colour, grouped by design (``stbench.zoo.designs``: 2D, 3D and mixed
3D, (2+1)D, separable 3D, temporal modules, grouped, channel-wise, attention); each backbone
has one marker symbol. Colours are unique across families, at least `MIN_DISTANCE` apart (RGB)
between families of one paper and at least `MIN_DELTA_E` apart (CIE76, perceptual) between any
two families, so families drawn in one figure never look alike. A family outside this table (a user's model) gets a colour
from `EXTRA` by a stable hash of its name and is named as unlisted; `distinct_colors` gives
the families of one figure their colours, an unlisted family the one farthest from the rest.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from stbench.zoo.designs import design_group as family_group

# Marker outlines: your records (--records FILE) stand out from the published ones.
OUTLINES: dict[str, dict[str, object]] = {
    "published": {"width": 1, "color": "#333"},
    "user": {"width": 3, "color": "#000"},
}

# family: colour (its design group: stbench.zoo.designs)
FAMILY_COLOR: dict[str, str] = {
    "TSN": "#1f77b4",
    "TSN+Avg": "#9ecae1",
    "TSN+Max": "#08306b",
    "R2D": "#17becf",
    "f-R2D": "#0e6e6e",
    "C2D": "#525252",
    "I2D": "#969696",
    "I3D": "#cc1122",
    "R3D": "#8c564b",
    "C3D": "#ee6600",
    "SlowFast": "#ff9922",
    "NLN": "#dfc27d",
    "Slow": "#0000ff",
    "MC2": "#fdae6b",
    "MC3": "#ff3311",
    "MC4": "#a63603",
    "MC5": "#ffd92f",
    "rMC2": "#c994c7",
    "rMC3": "#756bb1",
    "rMC4": "#dd1c77",
    "rMC5": "#49006a",
    "Top-Heavy-I3D": "#fb6a4a",
    "Bottom-Heavy-I3D": "#67000d",
    "R(2+1)D": "#bcbd22",
    "P3D": "#808000",
    "S3D": "#2ca02c",
    "S3D-G": "#b8e186",
    "Fast-S3D": "#119966",
    "Top-Heavy-S3D": "#66c2a5",
    "Bottom-Heavy-S3D": "#00441b",
    "TAM": "#9966cc",
    "TSM": "#e377c2",
    "GST": "#000000",
    "X3D": "#ff11ff",
    "ir-CSN": "#0033cc",
    "ip-CSN": "#00dd00",
    "Video Swin": "#bb11aa",
    "VideoMAE": "#ff9999",
    "TimeSformer": "#0088ff",
    "MViT": "#882255",
    "MViTv2": "#9922ee",
    "UniFormer": "#996600",
}
BACKBONE_SYMBOL: dict[str, str] = {
    "resnet18": "circle",
    "resnet34": "square",
    "resnet50": "diamond",
    "resnet101": "triangle-up",
    "inception_v1": "star",
    "x3d": "hexagon",
    "swin": "pentagon",
    "vit_tubelet": "star-diamond",
    "vit_frame_patches": "star-square",
    "mvit": "hourglass",
    "resnet152": "diamond-tall",
    "uniformer": "octagon",
}
EXTRA = "#4d4d4d #a6761d #e7298a #66a61e #7570b3 #d95f02 #1b7837 #762a83".split()
EXTRA_SYMBOLS = "cross x pentagon hexagon triangle-down hourglass bowtie".split()
MIN_DISTANCE = 60.0
MIN_DELTA_E = 20.0  # CIE76 between any two families (2.3 is just noticeable)
# what an unlisted family may get in one figure: a grid of sRGB, neither too dark nor too light
_CANDIDATES = [
    f"#{r:02x}{g:02x}{b:02x}"
    for r in range(0, 256, 51)
    for g in range(0, 256, 51)
    for b in range(0, 256, 51)
]


def _stable(name: str, choices: list[str]) -> str:
    return choices[zlib.crc32(name.encode()) % len(choices)]


def family_color(family: str) -> str:
    """The family's fixed colour (a stable fallback for families outside the table)."""
    return FAMILY_COLOR.get(family) or _stable(family, EXTRA)


def backbone_symbol(backbone: str) -> str:
    """The backbone's fixed marker symbol (a stable fallback for other backbones)."""
    return BACKBONE_SYMBOL.get(backbone) or _stable(backbone, EXTRA_SYMBOLS)


def rgb_distance(a: str, b: str) -> float:
    """Euclidean distance of two #rrggbb colours in RGB (0..441)."""
    ca, cb = (tuple(int(h[i : i + 2], 16) for i in (1, 3, 5)) for h in (a, b))
    return sum((x - y) ** 2 for x, y in zip(ca, cb, strict=True)) ** 0.5


def lab(color: str) -> tuple[float, float, float]:
    """CIE L*a*b* (D65 white) of a #rrggbb colour."""
    srgb = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in srgb)
    xyz = (
        (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047,
        0.2126 * r + 0.7152 * g + 0.0722 * b,
        (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883,
    )
    fx, fy, fz = (t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in xyz)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e(a: str, b: str) -> float:
    """CIE76 colour difference of two #rrggbb colours (perceptual; 2.3 is just noticeable)."""
    return sum((x - y) ** 2 for x, y in zip(lab(a), lab(b), strict=True)) ** 0.5


def distinct_colors(families: Iterable[str]) -> dict[str, str]:
    """The colours of the families drawn in one figure: the table's, and for each family
    outside it (in a stable order) the candidate farthest from every colour already used."""
    fams = sorted(set(families))
    out = {f: FAMILY_COLOR[f] for f in fams if f in FAMILY_COLOR}
    for f in sorted((f for f in fams if f not in out), key=lambda f: zlib.crc32(f.encode())):
        own = family_color(f)
        usable = [c for c in (own, *_CANDIDATES) if 30 <= lab(c)[0] <= 80]
        out[f] = max(usable, key=lambda c: min((delta_e(c, u) for u in out.values()), default=1e9))
    return out


def legend_markdown() -> str:
    """The colour table as Markdown (group, family, colour) plus the backbone symbols."""
    rows = [f"| {family_group(f)} | {f} | `{c}` |" for f, c in FAMILY_COLOR.items()]
    syms = ", ".join(f"{b}: {s}" for b, s in BACKBONE_SYMBOL.items())
    head = "| design | family | colour |\n|---|---|---|\n"
    return head + "\n".join(rows) + f"\n\nSymbols per backbone: {syms}.\n"
