"""Family colours and backbone symbols: fixed, unique, far apart within a paper."""

import itertools

from stbench.plots.style import (
    BACKBONE_SYMBOL,
    FAMILY_COLOR,
    MIN_DISTANCE,
    backbone_symbol,
    family_color,
    rgb_distance,
)
from stbench.zoo.registry import list_specs


def test_every_zoo_family_and_backbone_has_a_fixed_style():
    specs = [s for s in list_specs() if s.family]
    assert {s.family for s in specs} <= set(FAMILY_COLOR)
    assert {s.backbone for s in specs} <= set(BACKBONE_SYMBOL)


def test_colours_are_unique_and_far_apart_within_each_paper():
    colours = list(FAMILY_COLOR.values())
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


def test_any_two_families_drawn_together_look_different():
    from stbench.plots.style import MIN_DELTA_E, delta_e, distinct_colors

    # "All models" and "FLOPs vs latency" draw every family at once, so every pair counts;
    # families outside the table (yours, or new ones) get the colour farthest from the rest
    zoo = sorted({s.family for s in list_specs() if s.family})
    for extra in ([], ["MyNet", "uxlab2025", "ViT-S", "Video-Swin", "X3D"]):
        colours = distinct_colors([*zoo, *extra])
        assert set(colours) == {*zoo, *extra}
        close = [
            (a, b, round(delta_e(colours[a], colours[b]), 1))
            for a, b in itertools.combinations(sorted(colours), 2)
            if delta_e(colours[a], colours[b]) < MIN_DELTA_E
        ]
        assert not close, close
    assert distinct_colors(zoo) == {f: family_color(f) for f in zoo}  # the table's, fixed
