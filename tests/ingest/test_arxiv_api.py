import re

import httpx
import pytest

from paperfeed.ingest import arxiv_api
from paperfeed.models import Paper, Rejected, SourceError
from paperfeed.store.importer import Importer
from tests.support.replay import API, URL, Replay, key, recorded


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client(replay: Replay, fake: FakeTime, delay=3.0) -> arxiv_api.ArxivApi:
    http = httpx.Client(transport=httpx.MockTransport(replay))
    return arxiv_api.ArxivApi(URL, delay=delay, client=http, sleep=fake.sleep, clock=fake.clock)


def listing_page(params):
    start = int(params["start"][0])
    return 200, (API / f"cs-listing_arxiv_raw_{start}.xml").read_bytes()


def test_saved_listing_page_parses_every_entry():
    items = list(arxiv_api.read(API / "cs-listing_arxiv_raw_0.xml"))
    assert len(items) == 100 and all(isinstance(i, Paper) for i in items)
    p = items[0]
    assert (p.id, p.version) == ("2512.13690", 1)
    assert p.title == "DiffusionBrowser: Interactive Diffusion Previews via Multi-Branch Decoders"
    assert p.categories[0] == "cs.CV" and "cs.GR" in p.categories
    assert p.authors[:2] == ["Susung Hong", "Chongjian Ge"]
    assert p.comments.startswith("Project page:")
    assert p.listed_date.isoformat() == "2025-12-15"


def test_live_listing_pages_through_results_three_seconds_apart():
    fake = FakeTime()
    replay = Replay(listing_page)
    api = client(replay, fake)
    query = arxiv_api.build_query(categories=["cs.AI", "cs.LG"])
    items = list(api.fetch(search_query=query, max_results=500, page_size=100))
    assert len(items) == 500 and len({i.id for i in items}) == 500
    assert [int(r["start"][0]) for r in replay.requests] == [0, 100, 200, 300, 400]
    assert replay.requests[0]["search_query"] == ["(cat:cs.AI OR cat:cs.LG)"]
    assert fake.sleeps == [3.0] * 4  # arXiv's requested spacing between calls


def test_recorded_query_pages_ten_at_a_time():
    calls = recorded()
    replay = Replay(lambda p: calls[key(p)])
    items = list(client(replay, FakeTime(), delay=0).fetch(search_query="testing", max_results=60, page_size=10))
    assert len(items) == 60
    assert [int(r["start"][0]) for r in replay.requests] == [0, 10, 20, 30, 40, 50]


def test_transient_errors_are_retried_with_backoff():
    fake = FakeTime()
    calls = recorded()
    replay = Replay(lambda p: calls[key(p)], fail=[503, 500])
    items = list(client(replay, fake).fetch(id_list=["1707.08567"]))
    assert [i.id for i in items] == ["1707.08567"]
    assert len(replay.requests) == 3
    assert fake.sleeps[:2] == [3.0, 6.0]


def test_gives_up_after_retries_with_a_clear_error():
    replay = Replay(lambda p: (200, b""), fail=[503] * 10)
    with pytest.raises(SourceError, match=r"unreachable after 5 tries: HTTP 503"):
        list(client(replay, FakeTime()).fetch(id_list=["1707.08567"]))


def test_malformed_id_is_reported_from_arxivs_error_entry():
    calls = recorded()
    replay = Replay(lambda p: calls[key(p)])
    with pytest.raises(SourceError, match="incorrect id format for abc"):
        list(client(replay, FakeTime()).fetch(id_list=["abc"]))


def test_unknown_id_and_old_style_ids():
    calls = recorded()
    api = client(Replay(lambda p: calls[key(p)]), FakeTime())
    assert list(api.fetch(id_list=["0000.0000"])) == []
    [old] = list(api.fetch(id_list=["astro-ph/0601001"]))
    assert old.id == "astro-ph/0601001"
    [versioned] = list(api.fetch(id_list=["2104.12255v1"]))
    assert (versioned.id, versioned.version) == ("2104.12255", 1)


def test_entry_missing_its_abstract_is_rejected_and_the_rest_kept(tmp_path, engine):
    xml = (API / "cs-listing_arxiv_raw_0.xml").read_text()
    second = [m.start() for m in re.finditer("<summary>", xml)][1]
    end = xml.index("</summary>", second) + len("</summary>")
    path = tmp_path / "page.xml"
    path.write_text(xml[:second] + xml[end:])
    items = list(arxiv_api.read(path))
    [bad] = [i for i in items if isinstance(i, Rejected)]
    assert bad.source_ref == "page.xml#entry2 (2512.13689)"
    assert bad.reason == "missing abstract"
    assert Importer(engine).run(items, "arxiv-api", str(path)).new == 99


def test_truncated_and_badly_encoded_responses(tmp_path):
    data = (API / "cs-listing_arxiv_raw_100.xml").read_bytes()
    cut = tmp_path / "cut.xml"
    cut.write_bytes(data[: len(data) // 3])
    items = list(arxiv_api.read(cut))
    papers = [i for i in items if isinstance(i, Paper)]
    assert 20 < len(papers) < 50
    assert "malformed or truncated XML" in items[-1].reason
    assert items[-1].source_ref.startswith("cut.xml:")

    # One title re-encoded as Latin-1 inside a UTF-8 document: that entry alone is rejected.
    text = data.decode()
    title_start = text.index("<title>", text.index("<entry>")) + len("<title>")
    latin = text[:title_start].encode() + "Caf\u00e9 ".encode("latin-1") + text[title_start:].encode()
    enc = tmp_path / "latin.xml"
    enc.write_bytes(latin)
    items = list(arxiv_api.read(enc))
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert "not UTF-8" in rejected[0].reason and rejected[0].source_ref.startswith("latin.xml:")
    assert rejected[1].reason == "text is not valid UTF-8"
    assert len([i for i in items if isinstance(i, Paper)]) == 99


def test_build_query():
    from datetime import date

    q = arxiv_api.build_query("diffusion", ["cs.CV"], date(2025, 12, 13), date(2025, 12, 15))
    assert q == "all:diffusion AND cat:cs.CV AND submittedDate:[202512130000 TO 202512152359]"
    assert arxiv_api.build_query("ti:transformer") == "ti:transformer"
