import pytest

from paperfeed.models import normalize_title, parse_arxiv_id, title_id


@pytest.mark.parametrize(
    ("text", "canonical", "version"),
    [
        ("2410.17243", "2410.17243", None),
        ("2410.17243v3", "2410.17243", 3),
        ("arXiv:2410.17243v2", "2410.17243", 2),
        ("https://arxiv.org/abs/2410.17243v1", "2410.17243", 1),
        ("https://arxiv.org/pdf/2410.17243.pdf", "2410.17243", None),
        ("http://arxiv.org/abs/2512.13690v1", "2512.13690", 1),
        ("0704.0001", "0704.0001", None),
        ("hep-th/9901001", "hep-th/9901001", None),
        ("hep-th/9901001v2", "hep-th/9901001", 2),
        ("math.AG/0601001", "math/0601001", None),
        ("http://arxiv.org/abs/quant-ph/0201082v1", "quant-ph/0201082", 1),
    ],
)
def test_parse_arxiv_id(text, canonical, version):
    parsed = parse_arxiv_id(text)
    assert parsed is not None
    assert (parsed.canonical, parsed.version) == (canonical, version)


@pytest.mark.parametrize("text", ["abc", "", "2410.172", "12345.67890", "hep-th/99", "2410.17243vX"])
def test_parse_arxiv_id_rejects(text):
    assert parse_arxiv_id(text) is None


def test_normalize_title_ignores_case_accents_punctuation_and_wrapping():
    a = "Breaking the Memory Barrier: Near Infinite Batch Size Scaling for\n  Contrastive Loss"
    b = "breaking the memory barrier — near-infinite batch size scaling for contrastive loss"
    assert normalize_title(a) == normalize_title(b)
    assert normalize_title("Café Über") == "cafe uber"
    assert title_id(a) == title_id(b)
    assert title_id(a).startswith("t-")
    assert title_id(a) != title_id("Another title")
