"""Family colours and backbone symbols: fixed, unique, far apart within a paper."""

import itertools

from stbench.plots.style import (
    BACKBONE_SYMBOL,
    FAMILY_STYLE,
    MIN_DISTANCE,
    backbone_symbol,
    family_color,
    rgb_distance,
)
from stbench.zoo.registry import list_specs


def test_every_zoo_family_and_backbone_has_a_fixed_style():
    specs = [s for s in list_specs() if s.family]
    assert {s.family for s in specs} <= set(FAMILY_STYLE)
    assert {s.backbone for s in specs} <= set(BACKBONE_SYMBOL)


def test_colours_are_unique_and_far_apart_within_each_paper():
    colours = [c for _, c in FAMILY_STYLE.values()]
    assert len(set(colours)) == len(colours)
    by_paper: dict[str, set[str]] = {}
    for s in list_specs():
        if s.family:
            by_paper.setdefault(s.paper, set()).add(s.family)
    for paper, fams in by_paper.items():
        for a, b in itertools.combinations(sorted(fams), 2):
            d = rgb_distance(family_color(a), family_color(b))
            assert d >= MIN_DISTANCE, (paper, a, b, d)


def test_no_two_families_share_a_colour_symbol_pair_and_unlisted_ones_are_stable():
    pairs = {(family_color(s.family), backbone_symbol(s.backbone)): s.family for s in list_specs()}
    fams = {s.family for s in list_specs()}
    assert len(set(pairs.values())) == len(fams)
    assert family_color("MyNet") == family_color("MyNet") and backbone_symbol("vit") in (
        "cross x pentagon hexagon triangle-down hourglass bowtie".split()
    )
