"""What users read names the papers, never the text files they were transcribed from."""

import pytest
from stbench.zoo import PAPERS, get_spec, list_specs
from stbench.zoo.papers import FILE_CITATIONS, PAPER_INFO, SHORT, cite_papers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "000_2720627b97b46dad.txt Table 5, row X",
            "Chen et al. 2021 (arXiv:2010.11757), Table 5, row X",
        ),
        ("papers/001_108aa75c7b5a30b7.txt", "Xie et al. 2018 (arXiv:1712.04851)"),
        ("002_a287baa9121de811.txt Table 2", "Tran et al. 2018 (arXiv:1711.11248), Table 2"),
        ("003_c8d95147dedad406.txt Table 7", "Luo & Yuille 2019 (arXiv:1909.13130), Table 7"),
        (
            "papers/002_a287baa9121de811.txt (Tran et al. CVPR 2018), Table 2 (ResNet-18), row R2D",
            "Tran et al. 2018 (arXiv:1711.11248), Table 2 (ResNet-18), row R2D",
        ),
        ("999_0000000000000000.txt Table 1", "999_0000000000000000.txt Table 1"),  # unknown
        ("my notebook, run 17", "my notebook, run 17"),
    ],
)
def test_cite_papers(text, expected):
    assert cite_papers(text) == expected


def test_one_mapping_of_the_papers():
    assert (
        set(PAPER_INFO)
        == set(PAPERS)
        == set(SHORT)
        == {
            "chen2021",
            "xie2018",
            "tran2018",
            "luo2019",
            "feichtenhofer2020",
            "liu2022",
            "tong2022",
            "bertasius2021",
            "fan2021",
            "li2022",
            "tran2019",
            "feichtenhofer2019",
            "fan2021ptv",
            "li2022uniformer",
        }
    )
    assert len(FILE_CITATIONS) == 4  # the four transcribed papers; the others cite releases
    for key, full in PAPERS.items():
        assert ".txt" not in full and SHORT[key].split(" (")[1] in f"({full.split(', ')[-1]}"


def test_spec_citations_name_the_paper():
    assert get_spec("tsn_resnet50").citation.startswith("Chen et al. 2021 (arXiv:2010.11757); ")
    assert get_spec("r2plus1d_resnet18").citation.startswith(
        "Tran et al. 2018 (arXiv:1711.11248), "
    )
    for spec in list_specs():
        assert ".txt" not in spec.citation, spec.name
        assert spec.citation.startswith(SHORT[spec.paper]), spec.name
