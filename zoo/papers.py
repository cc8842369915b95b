"""The zoo's papers: their short citations and the paper files that cite them.

The shipped records, targets and specs were transcribed from the papers' text files
(``papers/NNN_<hash>.txt``, see ``zoo/records/README.md``); what a user reads names the
paper instead, through `cite_papers`.
"""

from __future__ import annotations

import re

# paper key -> (short citation, full citation, transcribed text file)
PAPER_INFO = {
    "chen2021": (
        "Chen et al. 2021 (arXiv:2010.11757)",
        "Chen et al., Deep Analysis of CNN-based Spatio-temporal Representations for Action "
        "Recognition (CVPR 2021, arXiv:2010.11757)",
        "000_2720627b97b46dad.txt",
    ),
    "xie2018": (
        "Xie et al. 2018 (arXiv:1712.04851)",
        "Xie et al., Rethinking Spatiotemporal Feature Learning: Speed-Accuracy Trade-offs in "
        "Video Classification (ECCV 2018, arXiv:1712.04851)",
        "001_108aa75c7b5a30b7.txt",
    ),
    "tran2018": (
        "Tran et al. 2018 (arXiv:1711.11248)",
        "Tran et al., A Closer Look at Spatiotemporal Convolutions for Action Recognition "
        "(CVPR 2018, arXiv:1711.11248)",
        "002_a287baa9121de811.txt",
    ),
    "luo2019": (
        "Luo & Yuille 2019 (arXiv:1909.13130)",
        "Luo & Yuille, Grouped Spatial-Temporal Aggregation for Efficient Action Recognition "
        "(ICCV 2019, arXiv:1909.13130)",
        "003_c8d95147dedad406.txt",
    ),
    # The frontier beyond the four papers (issue 23): no transcribed text file; their figures
    # are cited from the authors' releases (repository, file, commit, row).
    "feichtenhofer2020": (
        "Feichtenhofer 2020 (arXiv:2004.04730)",
        "Feichtenhofer, X3D: Expanding Architectures for Efficient Video Recognition "
        "(CVPR 2020, arXiv:2004.04730)",
        "",
    ),
    "liu2022": (
        "Liu et al. 2022 (arXiv:2106.13230)",
        "Liu et al., Video Swin Transformer (CVPR 2022, arXiv:2106.13230)",
        "",
    ),
    "tong2022": (
        "Tong et al. 2022 (arXiv:2203.12602)",
        "Tong et al., VideoMAE: Masked Autoencoders are Data-Efficient Learners for "
        "Self-Supervised Video Pre-Training (NeurIPS 2022, arXiv:2203.12602)",
        "",
    ),
    "bertasius2021": (
        "Bertasius et al. 2021 (arXiv:2102.05095)",
        "Bertasius et al., Is Space-Time Attention All You Need for Video Understanding? "
        "(ICML 2021, arXiv:2102.05095)",
        "",
    ),
    "fan2021": (
        "Fan et al. 2021 (arXiv:2104.11227)",
        "Fan et al., Multiscale Vision Transformers (ICCV 2021, arXiv:2104.11227)",
        "",
    ),
    "li2022": (
        "Li et al. 2022 (arXiv:2112.01526)",
        "Li et al., MViTv2: Improved Multiscale Vision Transformers for Classification and "
        "Detection (CVPR 2022, arXiv:2112.01526)",
        "",
    ),
    "tran2019": (
        "Tran et al. 2019 (arXiv:1904.02811)",
        "Tran et al., Video Classification with Channel-Separated Convolutional Networks "
        "(ICCV 2019, arXiv:1904.02811)",
        "",
    ),
    "feichtenhofer2019": (
        "Feichtenhofer et al. 2019 (arXiv:1812.03982)",
        "Feichtenhofer et al., SlowFast Networks for Video Recognition (ICCV 2019, "
        "arXiv:1812.03982)",
        "",
    ),
    "fan2021ptv": (
        "Fan et al. 2021 (arXiv:2111.09887)",
        "Fan et al., PyTorchVideo: A Deep Learning Library for Video Understanding (ACM MM 2021, "
        "arXiv:2111.09887)",
        "",
    ),
    "li2022uniformer": (
        "Li et al. 2022 (arXiv:2201.04676)",
        "Li et al., UniFormer: Unified Transformer for Efficient Spatiotemporal Representation "
        "Learning (ICLR 2022, arXiv:2201.04676)",
        "",
    ),
}
PAPERS = {key: full for key, (_, full, _) in PAPER_INFO.items()}
SHORT = {key: short for key, (short, _, _) in PAPER_INFO.items()}
FILE_CITATIONS = {file: short for short, _, file in PAPER_INFO.values() if file}
# A paper file, with or without its folder, the "(Tran et al. CVPR 2018)" the targets add
# and the space before what follows it
# ("000_....txt Table 5" -> "Chen et al. 2021 (arXiv:2010.11757), Table 5").
_FILE = re.compile(r"(?:papers/)?(\d{3}_[0-9a-f]{16}\.txt)(?: \([^()]*\d{4}\))?( (?=[A-Za-z]))?")


def cite_papers(text: str) -> str:
    """``text`` with every paper file name replaced by the paper's short citation."""

    def cite(m: re.Match[str]) -> str:
        short = FILE_CITATIONS.get(m.group(1))
        if short is None:
            return m.group(0)
        return short + (", " if m.group(2) else "")

    return _FILE.sub(cite, text)
