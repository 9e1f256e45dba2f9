"""Library import: BibTeX exports of Zotero, Google Scholar and Mendeley, and lists of arXiv ids."""

from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path

import pytest

from paperfeed.ingest.bibtex import NotBibtex, normalise_title, parse_bibtex, parse_id_list

FIXTURES = Path(__file__).parent.parent / "fixtures" / "bibtex"


def read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def by_key(text: str) -> dict:
    return {e.key: e for e in parse_bibtex(text).entries}


def test_zotero_export():
    entries = by_key(read("zotero.bib"))
    assert list(entries) == [
        "vaswani_attention_2017",
        "he_deep_2016",
        "scholkopf_towards_2021",
        "hernandez-lobato_black-box_2016",
    ]
    vaswani = entries["vaswani_attention_2017"]
    assert vaswani.title == "Attention is All you Need"
    assert vaswani.authors[:2] == ["Ashish Vaswani", "Noam Shazeer"] and len(vaswani.authors) == 8
    assert (vaswani.year, vaswani.arxiv_id, vaswani.doi) == (2017, "1706.03762", "10.48550/arxiv.1706.03762")
    assert vaswani.abstract.startswith("The dominant sequence transduction models are based on complex")
    he = entries["he_deep_2016"]
    assert (he.title, he.abstract, he.arxiv_id, he.doi) == (
        "Deep Residual Learning for Image Recognition",
        "",
        None,
        "10.1109/cvpr.2016.90",
    )


def test_zotero_accents_and_math():
    entries = by_key(read("zotero.bib"))
    assert entries["scholkopf_towards_2021"].authors[0] == "Bernhard Schölkopf"
    assert "causal inference" in entries["scholkopf_towards_2021"].abstract
    alpha = entries["hernandez-lobato_black-box_2016"]
    # Zotero escapes a title's $\alpha$ as \${\textbackslash}alpha\$; it comes back as arXiv writes it
    assert alpha.title == r"Black-box $\alpha$-divergence Minimization"
    assert alpha.authors[0] == "José Miguel Hernández-Lobato"
    assert r"(VB) ($\alpha \rightarrow 0$)" in alpha.abstract
    assert alpha.arxiv_id == "1511.03243"


def test_google_scholar_export():
    entries = by_key(read("google-scholar.bib"))
    bert = entries["devlin2018bert"]
    assert bert.title == "Bert: Pre-training of deep bidirectional transformers for language understanding"
    assert bert.authors == ["Jacob Devlin", "Ming-Wei Chang", "Kenton Lee", "Kristina Toutanova"]
    assert (bert.year, bert.arxiv_id, bert.doi, bert.abstract) == (2018, "1810.04805", None, "")
    he = entries["he2016deep"]
    assert (he.title, he.arxiv_id, he.doi, he.year) == (
        "Deep residual learning for image recognition",
        None,
        None,
        2016,
    )
    assert entries["scholkopf2021toward"].authors[0] == "Bernhard Schölkopf"
    assert entries["witten1998anti"].arxiv_id == "hep-th/9802150"


def test_mendeley_export():
    parsed = parse_bibtex(read("mendeley.bib"))
    entries = {e.key: e for e in parsed.entries}
    assert list(entries) == ["Devlin2018", "Vaswani2017", "Gomez-Bombarelli2018", "Kingma2014"]
    bert = entries["Devlin2018"]
    assert bert.title == "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"
    assert (bert.arxiv_id, bert.year, bert.doi) == ("1810.04805", 2018, None)
    assert "GLUE score to 80.5% (7.7% point absolute improvement)" in bert.abstract
    chem = entries["Gomez-Bombarelli2018"]
    assert (chem.arxiv_id, chem.doi) == ("1610.02415", "10.1021/acscentsci.7b00572")
    assert chem.authors[0] == "Rafael Gómez-Bombarelli"
    assert "Benjamín Sánchez-Lengeling" in chem.authors and chem.authors[-1] == "Alán Aspuru-Guzik"
    assert entries["Vaswani2017"].authors[6] == "Łukasz Kaiser"
    # No title, but an arXiv id to look it up by: kept
    assert (entries["Kingma2014"].title, entries["Kingma2014"].arxiv_id) == ("", "1412.6980")


def test_mendeley_duplicates_and_untitled_are_rejected():
    rejected = {r.key: r.reason for r in parse_bibtex(read("mendeley.bib")).rejected}
    assert rejected == {
        "Devlin2019": "duplicate of Devlin2018 (same arXiv id 1810.04805)",
        "Vaswani2017a": "duplicate of Vaswani2017 (same title)",
        "Smith": "no title, arXiv id or DOI",
    }


def test_duplicates_across_exports_keep_the_first():
    parsed = parse_bibtex(read("google-scholar.bib") + read("zotero.bib") + read("mendeley.bib"))
    assert {r.key: r.reason for r in parsed.rejected} == {
        "he_deep_2016": "duplicate of he2016deep (same title)",
        "Devlin2018": "duplicate of devlin2018bert (same arXiv id 1810.04805)",
        "Devlin2019": "duplicate of devlin2018bert (same arXiv id 1810.04805)",
        "Vaswani2017": "duplicate of vaswani_attention_2017 (same arXiv id 1706.03762)",
        "Vaswani2017a": "duplicate of vaswani_attention_2017 (same title)",
        "Smith": "no title, arXiv id or DOI",
    }
    # Scholar's "Toward causal representation learning" is not arXiv's "Towards ...": both kept
    assert {"scholkopf2021toward", "scholkopf_towards_2021"} <= {e.key for e in parsed.entries}


def test_same_doi_is_a_duplicate():
    text = """
@article{first, title = {One title}, doi = {10.1000/XYZ.1}}
@article{second, title = {Another title}, doi = {https://doi.org/10.1000/xyz.1}}
"""
    parsed = parse_bibtex(text)
    assert [e.key for e in parsed.entries] == ["first"]
    assert parsed.rejected[0].reason == "duplicate of first (same DOI 10.1000/xyz.1)"


def test_same_title_with_different_arxiv_ids_is_two_papers():
    text = """
@misc{a, title = {Scaling Laws}, eprint = {2001.08361}, archivePrefix = {arXiv}}
@misc{b, title = {Scaling laws.}, eprint = {2102.01293}, archivePrefix = {arXiv}}
"""
    assert [e.key for e in parse_bibtex(text).entries] == ["a", "b"]


def test_repeated_citation_key_of_another_paper_is_kept():
    # Scholar's keys are author+year+word, and collide across papers
    text = (
        read("google-scholar.bib")
        + "\n@article{he2016deep,\n  title={Identity mappings in deep residual networks},\n}\n"
    )
    parsed = parse_bibtex(text)
    assert [e.title for e in parsed.entries if e.key == "he2016deep"] == [
        "Deep residual learning for image recognition",
        "Identity mappings in deep residual networks",
    ]
    assert parsed.rejected == []


def test_broken_entry_in_the_middle_loses_nothing_else():
    first, rest = read("google-scholar.bib").split("\n\n", 1)
    broken = "@article{broken2020,\n  title={Unclosed {brace},\n  author={Doe, Jane},\n  year={2020}\n}\n"
    no_comma = "@article{nocomma title={x}, year={2020}}\n"
    parsed = parse_bibtex(f"{first}\n\n{broken}\n{no_comma}\n{rest}")
    assert [e.key for e in parsed.entries] == ["devlin2018bert", "he2016deep", "scholkopf2021toward", "witten1998anti"]
    assert [r.key for r in parsed.rejected] == ["broken2020", "nocomma"]
    for r in parsed.rejected:
        assert r.reason.startswith("could not be parsed: ") and "\n" not in r.reason


def test_only_a_truncated_entry_is_bibtex_with_a_reject():
    parsed = parse_bibtex(read("google-scholar.bib")[:150])
    assert parsed.entries == []
    assert parsed.rejected[0].key == "devlin2018bert"
    assert "end of file" in parsed.rejected[0].reason


def test_repeated_field_is_rejected_with_its_name():
    parsed = parse_bibtex("@article{twice, title = {A}, title = {B}, year = {2020}}")
    assert parsed.rejected[0].reason == "could not be parsed: the field title appears twice"


def test_string_macros_months_comments_and_preambles():
    text = r"""
@comment{jabref-meta: databaseType:bibtex;}
@preamble{ "\newcommand{\noopsort}[1]{}" }
@string{nips = "Advances in Neural Information Processing Systems"}
@STRING{ttl = {Attention {Is} All You Need}}
@inproceedings{a, title = ttl, booktitle = nips, month = dec, year = 2017,
  note = "Reprinted as " # "arXiv:1706.03762" # { in } # nips}
@article(b, title = "Quoted " # {and braced}, month = "jan", year = "2019")
"""
    parsed = parse_bibtex(text)
    assert [(e.key, e.title, e.year) for e in parsed.entries] == [
        ("a", "Attention Is All You Need", 2017),
        ("b", "Quoted and braced", 2019),
    ]
    assert parsed.entries[0].arxiv_id == "1706.03762"
    assert parsed.rejected == []


def test_arxiv_id_found_where_each_tool_puts_it():
    cases = {
        "eprint = {1810.04805v2}, archivePrefix = {arXiv}": "1810.04805",
        "eprint = {2012.06858}, eprinttype = {arxiv}": "2012.06858",
        "eprint = {2020/123}, archivePrefix = {IACR}, note = {arXiv:1706.03762}": "1706.03762",
        "arxivId = {1412.6980}": "1412.6980",
        "journal = {arXiv preprint arXiv:2401.01234}": "2401.01234",
        "journal = {arXiv:1912.06971 [cs]}": "1912.06971",
        "url = {https://arxiv.org/pdf/1706.03762v5}": "1706.03762",
        "howpublished = {\\url{https://arxiv.org/abs/math.AG/0601001}}": "math/0601001",
        "doi = {10.48550/ARXIV.2211.06679}": "2211.06679",
        "journal = {Nature}, url = {https://www.nature.com/articles/s41586-021-03819-2}": None,
    }
    for fields, expected in cases.items():
        entry = parse_bibtex(f"@article{{k, title = {{T}}, {fields}}}").entries[0]
        assert entry.arxiv_id == expected, fields


def test_doi_cleaned():
    cases = {
        "doi = {https://doi.org/10.21105/joss.00656}": "10.21105/joss.00656",
        "doi = {10.1007/978-3-540-89689-0{\\_}23}": "10.1007/978-3-540-89689-0_23",
        "url = {http://dx.doi.org/10.1016/j.enpol.2017.04.030}": "10.1016/j.enpol.2017.04.030",
        "url = {https://pubs.acs.org/doi/10.1021/acscentsci.7b00572}": None,
        "doi = {not a doi}": None,
    }
    for fields, expected in cases.items():
        assert parse_bibtex(f"@article{{k, title = {{T}}, {fields}}}").entries[0].doi == expected, fields


def test_text_cleaning():
    text = r"""@article{k,
  title = {{\"{O}}zt{\"u}rk's {R\&D}: 50% of {$\mathcal{O}(n)$} --   a
           na{\"\i}ve \emph{study}},
  author = {{Google Brain Team} and Smith, Jr., John and von Luxburg, Ulrike and others},
  date = {2021-03-04},
}"""
    entry = parse_bibtex(text).entries[0]
    assert entry.title == r"Öztürk's R&D: 50% of $\mathcal{O}(n)$ – a naïve study"
    assert entry.authors == ["Google Brain Team", "John Smith Jr.", "Ulrike von Luxburg"]
    assert entry.year == 2021


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\n",
        json.dumps({"papers": [{"title": "Attention", "contact": "a@b.org"}]}, indent=2),
        "title,authors,email\nAttention Is All You Need,Vaswani,vaswani@google.com\n@handle,x,y\n",
        "%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        "@string{nips = {NeurIPS}}\n@comment{nothing else}\n",
        random.Random(7).randbytes(100_000).decode("utf-8", errors="replace"),  # 364 of them "@"
    ],
    ids=["empty", "blank", "json", "csv", "pdf", "macros-only", "binary"],
)
def test_not_bibtex(text):
    with pytest.raises(NotBibtex, match=r"^this file is not BibTeX: no @article\{\.\.\.\} or similar entry found$"):
        parse_bibtex(text)


def test_id_list():
    text = """# my reading list
https://arxiv.org/abs/2401.01234
http://arxiv.org/pdf/2401.01235v3.pdf
https://arxiv.org/pdf/2401.01236v1
arxiv.org/abs/2401.01237?context=cs
https://arxiv.org/html/2401.01238v2#S3

arXiv:2401.01239v2
  2401.01240   # with a comment
hep-th/9901001
http://arxiv.org/abs/math.AG/0601001v2
Attention is all you need
https://example.org/2401.01234
arXiv:2401.01234v4
"""
    parsed = parse_id_list(text)
    assert [e.arxiv_id for e in parsed.entries] == [
        "2401.01234",
        "2401.01235",
        "2401.01236",
        "2401.01237",
        "2401.01238",
        "2401.01239",
        "2401.01240",
        "hep-th/9901001",
        "math/0601001",
    ]
    assert all(e.title == "" for e in parsed.entries)
    assert parsed.entries[0].key == "line 2"
    assert [(r.key, r.reason) for r in parsed.rejected] == [
        ("line 12", "not an arXiv id or URL"),
        ("line 13", "not an arXiv id or URL"),
        ("line 14", "duplicate of line 2 (same arXiv id 2401.01234)"),
    ]


def test_empty_id_list():
    assert parse_id_list("# nothing yet\n\n").entries == []


def test_normalise_title():
    same = ["Attention Is All You Need", "{Attention} is all you need.", "  attention   is all you NEED!  "]
    assert {normalise_title(t) for t in same} == {"attention is all you need"}
    assert normalise_title("Schölkopf: Towards Causal—Learning") == normalise_title(
        "Scholkopf  towards causal learning"
    )
    assert normalise_title("Deep Residual Learning for Image Recognition") != normalise_title("Deep residual learning")


def _copy(text: str, n: int) -> str:
    """The fixtures again with distinct keys, titles, arXiv ids and DOIs."""
    text = re.sub(r"^@(\w+)\{([^,\s]+),", rf"@\1{{\2_{n},", text, flags=re.M)
    text = re.sub(r"^(\s*(?:title|abstract)\s*=\s*\{)", rf"\g<1>Copy {n}: ", text, flags=re.M)
    text = re.sub(r"(\d{4})\.\d{4,5}", rf"\g<1>.{n:05d}", text)
    text = text.replace("hep-th/9802150", f"hep-th/98{n:05d}")
    return re.sub(r"(10\.\d{4,5}/[^\s},]+)", rf"\1.{n}", text)


def test_five_megabytes():
    shapes = read("zotero.bib") + read("google-scholar.bib") + read("mendeley.bib")
    copies = 5 * 1024 * 1024 // len(shapes.encode()) + 1
    text = "".join(_copy(shapes, n) for n in range(copies))
    assert len(text.encode()) > 5 * 1024 * 1024
    started = time.perf_counter()
    parsed = parse_bibtex(text)
    elapsed = time.perf_counter() - started
    print(f"\n{len(text.encode()) / 2**20:.1f} MB, {copies * 15} entries: parsed in {elapsed:.1f} s")
    # per copy, as in test_duplicates_across_exports_keep_the_first: 9 kept, 5 duplicates and 1 untitled rejected
    assert (len(parsed.entries), len(parsed.rejected)) == (copies * 9, copies * 6)
    assert elapsed < 60


def test_an_unparseable_concatenation_is_read_in_linear_time():
    start = time.perf_counter()
    parsed = parse_bibtex("@misc{k, title = x # " + "a" * 200_000 + " b, year = 2020}")
    assert time.perf_counter() - start < 2.0  # findall made this quadratic: 18 s at 40 kB
    assert len(parsed.entries) + len(parsed.rejected) == 1


def test_a_big_library_is_read_in_linear_time_and_its_titles_still_decode():
    """@string macros with one repeated key used to be quadratic (1,000 + 1,000 entries: 38 s); TeX abstracts
    past the file's TeX budget are read quickly, and accents in titles and names still come out right."""
    macros = "\n".join(f'@string{{m{i} = "Proceedings {i}"}}' for i in range(3000))
    same_key = "\n".join(f'@article{{same, title = m{i} # " and title {i}", year = 2020}}' for i in range(3000))
    started = time.monotonic()
    parsed = parse_bibtex(macros + "\n" + same_key)
    assert time.monotonic() - started < 5 and len(parsed.entries) == 3000
    assert parsed.entries[-1].title == "Proceedings 2999 and title 2999"
    abstract = r"We study \emph{operators} with $\alpha$-stable noise and the Schr\"odinger equation. " * 20
    entries = [
        f'@article{{k{i}, title = {{On Schr\\"odinger Operators {i}}}, author = {{J\\"org M\\"uller}},'
        f" abstract = {{{abstract}}}}}"
        for i in range(400)
    ]
    parsed = parse_bibtex("\n".join(entries))
    assert len(parsed.entries) == 400
    assert {e.title for e in parsed.entries[-5:]} == {f"On Schrödinger Operators {i}" for i in range(395, 400)}
    assert parsed.entries[-1].authors == ["Jörg Müller"] and "Schrödinger" in parsed.entries[-1].abstract
