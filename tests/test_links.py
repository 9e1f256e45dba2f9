"""Code and project links found in abstracts and comments: a table of real snippets from
../shared/corpus/arxiv-listings (arXiv id, field), with the links each must give, and ones that must give none."""

import pytest

from paperfeed.links import Link, code_url, find_links

C, P, M, D, S = "code", "project", "model", "dataset", "space"

CASES = [
    # 2503.21187 abstract: a repository called a project page, glued to the sentence before it
    (
        "ized fields within image segmentation.Project page: https://github.com/CheneyXuYiMin/SAM2DINO-Seg",
        [(C, "https://github.com/CheneyXuYiMin/SAM2DINO-Seg")],
    ),
    # 2505.20291 abstract: the sentence's full stop
    (
        "ode and the new benchmark are publicly available at https://github.com/xiaowu0162/Visualize-then-Retrieve.",
        [(C, "https://github.com/xiaowu0162/Visualize-then-Retrieve")],
    ),
    # 2505.16663 abstract
    (
        "n embodied navigation. Project Page: https://oceanhao.github.io/CoNav/",
        [(P, "https://oceanhao.github.io/CoNav")],
    ),
    # 2505.08725 abstract
    (
        "ding task. The dataset and code will be released at https://github.com/zc-zhao/DriveMonkey.",
        [(C, "https://github.com/zc-zhao/DriveMonkey")],
    ),
    # 2504.07174 comments: arXiv's line-wrapping spaces
    (
        "22 pages, 3 figures, code link:   https://github.com/ChicagoHAI/HypoEval-Gen",
        [(C, "https://github.com/ChicagoHAI/HypoEval-Gen")],
    ),
    # 2503.19199 abstract: a bare github.io host
    ("scene graphs. See our project page at https://openfungraph.github.io", [(P, "https://openfungraph.github.io")]),
    # 2505.19795 abstract: TeX \href remains, the link twice
    (
        "The code and pretrained models are available at: https://github.com/sajjad-sh33/ViT-P}{https://github.com/sajjad-sh33/ViT-P.",
        [(C, "https://github.com/sajjad-sh33/ViT-P")],
    ),
    # 2503.14483 abstract: " ." after the link
    (
        "pplementary materials are available at https://zju3dv.github.io/murre/ .",
        [(P, "https://zju3dv.github.io/murre")],
    ),
    # 2505.09921 abstract
    (
        "t \\href{https://github.com/redwyd/PrivacyJailbreak}{https://github.com/redwyd/PrivacyJailbreak}.",
        [(C, "https://github.com/redwyd/PrivacyJailbreak")],
    ),
    # 2505.15232 abstract
    (
        "form exhaustive training. Code will be available at https://github.com/AIGeeksGroup/DC-Scene.",
        [(C, "https://github.com/AIGeeksGroup/DC-Scene")],
    ),
    # 2505.16334 abstract
    (
        "our data engine and method. Project page: https://visual-ai.github.io/pancap/",
        [(P, "https://visual-ai.github.io/pancap")],
    ),
    # 2504.13519 abstract: a clone URL
    (
        "etable noise reduction. Our code is demonstrated at https://github.com/sypsyp97/Filter2Noise.git .",
        [(C, "https://github.com/sypsyp97/Filter2Noise")],
    ),
    # 2504.10419 abstract
    (
        "nd finance.   The dataset is publicly available at: https://github.com/Snowflake-Labs/CheckboxQA",
        [(C, "https://github.com/Snowflake-Labs/CheckboxQA")],
    ),
    # 2503.19839 abstract: a page whose path looks like a host
    (
        "editing methods. Our project is available at https://zjgans.github.io/fireedit.github.io.",
        [(P, "https://zjgans.github.io/fireedit.github.io")],
    ),
    # 2504.21472 abstract: an account, not a repository
    ("excellent robustness. The code will be available at https://github.com/slinda-liu.", []),
    # 2503.14505 abstract
    (
        "ect page and code are available at https://susunghong.github.io/MusicInfuser.",
        [(P, "https://susunghong.github.io/MusicInfuser")],
    ),
    # 2503.13587 comments
    ("The project page is at https://github.com/dk-liang/UniFuture", [(C, "https://github.com/dk-liang/UniFuture")]),
    # 2505.09608 comments
    ("Project Page: https://nadmag.github.io/LightLab/", [(P, "https://nadmag.github.io/LightLab")]),
    # 2504.07793 abstract: \href with .git, \texttt
    (
        "The code of our work can be found at $\\href{https://github.com/limchaos/Likelihood-OOD.git}{\\texttt{https://github.com/limchaos/",
        [(C, "https://github.com/limchaos/Likelihood-OOD")],
    ),
    # 2505.18175 abstract: in parentheses
    (
        "we propose a unified evaluation protocol, EEGain (https://github.com/EmotionLab/EEGain), which enables",
        [(C, "https://github.com/EmotionLab/EEGain")],
    ),
    # 2504.10486 comments
    (
        "16 pages, 8 figures, Project pages:   https://jzr99.github.io/DNF-Avatar/",
        [(P, "https://jzr99.github.io/DNF-Avatar")],
    ),
    # 2504.08125 abstract: the tail of an \href pair
    (
        "github.io/}{https://shalini-maiti.github.io/gen3deval.github.io/}.",
        [(P, "https://shalini-maiti.github.io/gen3deval.github.io")],
    ),
    # 2505.17235 abstract: http, a dataset
    (
        "Data and code are publicly available at: http://huggingface.co/datasets/omoured/CHAOS.",
        [(D, "https://huggingface.co/datasets/omoured/CHAOS")],
    ),
    # 2503.13441 abstract
    ("ion efficiency. Code and data: https://human-as-robot.github.io/", [(P, "https://human-as-robot.github.io")]),
    # 2506.11097 abstract: code and dataset together
    (
        "//github.com/parameterlab/c-seo-bench and https://huggingface.co/datasets/parameterlab/c-seo-bench.",
        [(D, "https://huggingface.co/datasets/parameterlab/c-seo-bench")],
    ),
    # 2506.05398 abstract
    (
        "ly improving sample quality. Code is available on GitHub: https://github.com/FATE4869/IGSM-Official",
        [(C, "https://github.com/FATE4869/IGSM-Official")],
    ),
    # 2506.18841 abstract: a model
    (
        "urce our data and model checkpoints under https://huggingface.co/THU-KEG/LongWriter-Zero-32B",
        [(M, "https://huggingface.co/THU-KEG/LongWriter-Zero-32B")],
    ),
    # 2506.09958 abstract: repository and dataset
    (
        "https://github.com/Simula/Kvasir-VQA-x1 and https://huggingface.co/datasets/SimulaMet/Kvasir-VQA-x1",
        [
            (C, "https://github.com/Simula/Kvasir-VQA-x1"),
            (D, "https://huggingface.co/datasets/SimulaMet/Kvasir-VQA-x1"),
        ],
    ),
    # 2507.20527 abstract: \href around a dataset
    (
        "SAND-Math dataset is released here: \\href{https://huggingface.co/datasets/amd/SAND-MATH}{https://huggingface.co/datasets/amd",
        [(D, "https://huggingface.co/datasets/amd/SAND-MATH")],
    ),
    # 2507.16746 comments
    (
        "dataset link:   https://huggingface.co/datasets/multimodal-reasoning-lab/Zebra-CoT",
        [(D, "https://huggingface.co/datasets/multimodal-reasoning-lab/Zebra-CoT")],
    ),
    # 2507.05319 abstract
    (
        "Our project and demo video are in the GitHub repository https://github.com/ycycyc02/LCDS.",
        [(C, "https://github.com/ycycyc02/LCDS")],
    ),
    # 2507.03488 abstract
    (
        "icating, and updating the dataset is available on GitHub: https://github.com/EvaSeidlmayer/FourShadesofLifeSciences",
        [(C, "https://github.com/EvaSeidlmayer/FourShadesofLifeSciences")],
    ),
    # Not links: "GitHub" and "Hugging Face" in prose, e-mail addresses, DOIs, HF's own pages.
    ("esults studied in this paper are available at the GitHub repository.", []),  # 2506.02672
    ("s of our framework. We will release our code in a GitHub repository.", []),  # 2506.23189
    ("t and the test set. Our full code is available on GitHub.", []),  # 2508.01999
    # 2503.17247
    ("ents. We release all tokenizers and code through GitHub and Hugging Face to support further research", []),
    ("onardLi/easy-dataset and have garnered over 9,000 GitHub stars.", []),  # 2507.04009
    ("By organizing GitHub issues into chronologically ordered sequences that reflect", []),  # 2507.00014
    ("For example, Hugging Face, one of the most popular platforms, hosted 1.8 million mode", []),  # 2507.14240
    ("n and Computer Vision (2025). Contact to nomodeset@qq.com. Source code will open in 4 months", []),  # 2506.14541
    ("d Personalization (UMAP Adjunct   '24), http://dx.doi.org/10.1145/3631700.3665233", []),  # 2506.04851
    ("omaly detection dataset is available at   https://doi.org/10.5281/zenodo.16283852", []),  # 2507.16946
    ("The dataset is available at https://flemme-docs.readthedocs.io/en/latest/medpoints.html.", []),  # 2504.13015
    # 2508.18255
    ("l model weights are published publicly at https://huggingface.co/collections/NousResearch/hermes-4", []),
    ("write to maintainer@github.io or see github.com alone", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_real_snippets(text, expected):
    assert find_links(text) == [Link(kind, url) for kind, url in expected]


def test_the_table_is_big_enough():
    assert len(CASES) >= 40 and sum(1 for _, e in CASES if not e) >= 10


def test_code_url_takes_the_first_repository_of_abstract_then_comments():
    abstract = "Project page: https://a.github.io/x. Code: https://github.com/a/x and https://github.com/b/y."
    assert code_url(abstract, "https://github.com/c/z") == "https://github.com/a/x"
    assert code_url("no links", None) is None
