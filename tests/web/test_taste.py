"""Your taste through the app: keyword rules (must / never / boost) change the For you tab and say so, sign-up
topics rank a newcomer's first day, a library import counts as likes (and a bad file imports nothing), seen
papers leave the list (also when a new version is listed) until "show seen", the private feed, and nobody
reaches another user's rules, hooks or feed."""

from __future__ import annotations

import re
from pathlib import Path

from tests.web.conftest import PASSWORD, csrf, post, register

DAY = "2025-03-25"
ENTRY = re.compile(r'<li class="paper" id="p-([^"]+)"')
BIBTEX = Path(__file__).parent.parent / "fixtures" / "bibtex"


def for_you(client, extra: str = "") -> list[str]:
    return ENTRY.findall(client.get(f"/papers/date/{DAY}?sort=foryou{extra}").text)


def texts(sample_papers) -> dict[str, str]:
    return {p.id: f"{p.title} {p.abstract}" for p in sample_papers}


def mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<!\w){word}(?!\w)", text, re.I) is not None


def like_two(client, sample_papers, category: str = "cs.CV") -> None:
    for p in [p for p in sample_papers if category in p.categories and str(p.listed_date) != DAY][:2]:
        assert post(client, f"/papers/{p.id}/upvote", {"next": "/"}).status_code == 303


def drop_rules(client) -> None:
    for rule_id in re.findall(r"/settings/taste/rules/(\d+)/delete", client.get("/settings/taste").text):
        assert post(client, f"/settings/taste/rules/{rule_id}/delete", page="/settings/taste").status_code == 200


def test_never_and_must_rules_filter_and_boost_lifts_with_the_reason_shown(client, sample_papers):
    register(client, "ada")
    like_two(client, sample_papers)
    text = texts(sample_papers)
    before = for_you(client)
    assert any(mentions(text[i], "diffusion") for i in before)

    page = post(client, "/settings/taste/rules", {"kind": "never", "phrase": "  Diffusion "}, page="/settings/taste")
    assert page.status_code == 200 and "Added: never “Diffusion”" in page.text
    after = client.get(f"/papers/date/{DAY}?sort=foryou").text
    left = ENTRY.findall(after)
    assert not any(mentions(text[i], "diffusion") for i in left)
    gone = len(before) - len(left)
    assert gone > 0 and f"{gone} left out by your keyword rules" in after

    drop_rules(client)
    post(client, "/settings/taste/rules", {"kind": "must", "phrase": "language model"}, page="/settings/taste")
    only = for_you(client)
    assert only and all(re.search(r"(?<!\w)language\s+model(?!\w)", text[i], re.I) for i in only)

    drop_rules(client)
    plain = for_you(client)
    post(client, "/settings/taste/rules", {"kind": "boost", "phrase": "speech"}, page="/settings/taste")
    boosted = client.get(f"/papers/date/{DAY}?sort=foryou").text
    order = ENTRY.findall(boosted)
    speech = [i for i in order if mentions(text[i], "speech")]
    assert speech and all(order.index(i) < plain.index(i) for i in speech)  # each one lifted
    others = [i for i in order if i not in speech]
    assert [i for i in plain if i in others] == others  # the rest keep their order
    assert "<strong>speech</strong> (your boost)" in boosted


def test_bad_rules_get_one_line_and_other_users_rules_are_404(client, other):
    register(client, "ada")
    for data, words in (
        ({"kind": "never", "phrase": "  ..  "}, "needs a word"),
        ({"kind": "always", "phrase": "x"}, "one of must, never, boost"),
        ({"kind": "must", "phrase": "x" * 101}, "at most 100"),
    ):
        page = post(client, "/settings/taste/rules", data, page="/settings/taste")
        assert page.status_code == 422 and words in page.text
    post(client, "/settings/taste/rules", {"kind": "never", "phrase": "survey"}, page="/settings/taste")
    rule_id = re.search(r"/settings/taste/rules/(\d+)/delete", client.get("/settings/taste").text).group(1)
    register(other, "bob")
    assert post(other, f"/settings/taste/rules/{rule_id}/delete", page="/settings/taste").status_code == 404
    assert "survey" in client.get("/settings/taste").text  # Ada's rule is still there


def test_sign_up_topics_rank_the_first_day(client, sample_papers):
    data = {"username": "newcomer", "password": PASSWORD, "password2": PASSWORD}
    data |= {"categories": "cs.CL", "keywords": "speech recognition"}
    made = client.post("/register", data={**data, "csrf_token": csrf(client, "/register")}, follow_redirects=False)
    assert made.status_code == 303
    page = client.get(f"/papers/date/{DAY}?sort=foryou").text
    assert "Ranked by the topics you chose" in page and "Matches your interest" in page
    order = ENTRY.findall(page)
    cats = {p.id: p.categories for p in sample_papers}
    text = texts(sample_papers)
    top = order[:10]
    assert sum("cs.CL" in cats[i] for i in top) >= 7
    assert any(mentions(text[i], "speech") for i in order[:3])


def test_sign_up_with_a_bad_category_makes_no_account(client):
    data = {"username": "newcomer", "password": PASSWORD, "password2": PASSWORD, "categories": "not a/category"}
    page = client.post("/register", data={**data, "csrf_token": csrf(client, "/register")})
    assert page.status_code == 422 and "not an arXiv category" in page.text
    login = client.post("/login", data={"username": "newcomer", "password": PASSWORD, "csrf_token": csrf(client)})
    assert "/settings" not in login.headers.get("location", "")


def bib_of(papers, extra: str = "") -> str:
    entries = [
        f"@article{{k{i},\n  title = {{{p.title}}},\n  journal = {{arXiv preprint arXiv:{p.id}}},\n  year = 2025\n}}"
        for i, p in enumerate(papers)
    ]
    return "\n\n".join(entries) + extra


def upload(client, body: bytes, name: str = "library.bib"):
    token = csrf(client, "/settings/taste")
    files = {"file": (name, body, "text/x-bibtex")}
    return client.post("/settings/taste/import", data={"csrf_token": token, "kind": "bibtex"}, files=files)


def test_a_bibtex_import_counts_as_likes_and_reports_what_it_did(client, sample_papers):
    register(client, "ada")
    assert "Upvote or save a few papers" in client.get(f"/papers/date/{DAY}?sort=foryou").text
    vision = [p for p in sample_papers if "cs.CV" in p.categories and str(p.listed_date) != DAY][:3]
    more = [p for p in sample_papers if "cs.CV" in p.categories and p not in vision and str(p.listed_date) != DAY]
    extra = f"\n\n@inproceedings{{bytitle, title = {{{more[0].title}.}}, year = 2024}}"
    extra += "\n\n@misc{notitle, year = 2020}"
    page = upload(client, bib_of(vision, extra).encode())
    assert page.status_code == 200, page.text
    assert "Imported: 4 matched to papers here, 0 kept by their text, 1 rejected; 4 new to your profile" in page.text
    assert "<code>notitle</code>" in page.text
    tab = client.get(f"/papers/date/{DAY}?sort=foryou").text
    assert "Upvote or save a few papers" not in tab and "Because you liked" in tab
    cats = {p.id: p.categories for p in sample_papers}
    assert sum("cs.CV" in cats[i] for i in ENTRY.findall(tab)[:10]) >= 8
    again = upload(client, bib_of(vision).encode())
    assert "0 new to your profile" in again.text  # importing the same library twice adds nothing


def test_a_real_zotero_export_keeps_unmatched_entries_by_their_text(client):
    register(client, "ada")
    page = upload(client, (BIBTEX / "zotero.bib").read_bytes(), "My Library.bib")
    assert page.status_code == 200 and "kept by their text" in page.text
    kept = int(re.search(r"(\d+) kept by their text", page.text).group(1))
    assert kept >= 2
    tab = client.get(f"/papers/date/{DAY}?sort=foryou").text
    assert "in your imported library" in tab  # the reason names the imported entry


def test_a_file_that_is_not_bibtex_imports_nothing(client):
    register(client, "ada")
    for body in (b'{"papers": [1, 2]}', b"", "\x00\x01 PDF-1.7 \xff".encode("latin-1")):
        page = upload(client, body)
        assert page.status_code == 422 and "Nothing imported" in page.text
        assert page.text.count('class="error"') == 1
    assert "0 papers matched here and 0 kept by their text" in client.get("/settings/taste").text


def test_ids_and_my_papers_import(client, sample_papers):
    register(client, "ada")
    ids = [p.id for p in sample_papers[:3]]
    token = csrf(client, "/settings/taste")
    text = f"https://arxiv.org/abs/{ids[0]}v2\narXiv:{ids[1]}\n{ids[2]}\nnot an id\n"
    page = client.post("/settings/taste/import", data={"csrf_token": token, "kind": "ids", "text": text})
    assert "Imported: 3 matched to papers here" in page.text and "line 4" in page.text
    author = sample_papers[5].authors[0]
    mine = sum(author in p.authors for p in sample_papers)
    token = csrf(client, "/settings/taste")
    page = client.post("/settings/taste/import", data={"csrf_token": token, "kind": "author", "author": author.upper()})
    assert f"Imported: {mine} matched to papers here" in page.text
    token = csrf(client, "/settings/taste")
    page = client.post("/settings/taste/import", data={"csrf_token": token, "kind": "author", "author": "Nobody Atall"})
    assert page.status_code == 422 and "no paper here lists" in page.text


def test_seen_papers_leave_for_you_until_show_seen_also_as_a_new_version(client, sample_papers, settings):
    from dataclasses import replace

    from paperfeed.store import make_engine, taste
    from paperfeed.store.importer import Importer

    register(client, "ada")
    like_two(client, sample_papers)
    first = for_you(client)
    opened = first[0]
    assert client.get(f"/papers/{opened}").status_code == 200  # opened: seen from now on
    page = client.get(f"/papers/date/{DAY}?sort=foryou").text
    assert opened not in ENTRY.findall(page) and "1 you have already seen are hidden" in page
    assert opened in for_you(client, "&seen=1")

    # Shown in a digest yesterday: hidden today; shown in a feed today: still there today.
    engine = make_engine(settings.db_url)
    uid = 1
    from datetime import datetime, timedelta

    taste.mark_seen(engine, uid, [first[1]], "digest", at=datetime.utcnow() - timedelta(days=1))
    taste.mark_seen(engine, uid, [first[2]], "feed")
    now = for_you(client)
    assert first[1] not in now and first[2] in now

    # A new version of a seen paper is listed again: still seen.
    old = next(p for p in sample_papers if p.id == first[1])
    newer = replace(old, version=(old.version or 1) + 1, title=old.title + " (revised)")
    counts = Importer(engine).run([newer], source="arxiv-api", target="test")
    assert counts.updated == 1 or counts.seen == 1
    assert first[1] not in for_you(client)
    assert first[1] in for_you(client, "&seen=1")


def test_the_private_for_you_feed(client, other, sample_papers):
    register(client, "ada")
    like_two(client, sample_papers)
    page = post(client, "/settings/tokens", {"name": "reader", "kind": "feed"}, page="/settings")
    token = re.search(r"/feeds/foryou/([^.<]+)\.xml", page.text).group(1)
    feed = other.get(f"/feeds/foryou/{token}.xml")  # no session needed
    assert feed.status_code == 200 and "<rss" in feed.text and "Because you liked" in feed.text
    first_title = re.findall(r"<item>\s*<title>([^<]+)</title>", feed.text)[0]
    assert first_title
    assert other.get(f"/feeds/foryou/{token}.xml").text.count("<item>") == feed.text.count("<item>")  # same day
    tid = re.search(r"/settings/tokens/(\d+)/revoke", client.get("/settings").text).group(1)
    post(client, f"/settings/tokens/{tid}/revoke", page="/settings")
    assert other.get(f"/feeds/foryou/{token}.xml").status_code == 404
    assert other.get("/feeds/foryou/pf_feed_guess.xml").status_code == 404


def test_the_cli_imports_a_library_and_says_what_it_rejected(client, sample_papers, tmp_path):
    from typer.testing import CliRunner

    from paperfeed.cli import app as cli

    register(client, "ada")
    bib = tmp_path / "mendeley.bib"
    bib.write_bytes((BIBTEX / "mendeley.bib").read_bytes())
    run = CliRunner().invoke(cli, ["import-library", "--user", "ada", str(bib)])
    assert run.exit_code == 0 and "kept by their text" in run.output and "rejected" in run.output
    junk = tmp_path / "notes.txt"
    junk.write_text("just some notes, no entries")
    run = CliRunner().invoke(cli, ["import-library", "--user", "ada", str(junk)])
    assert run.exit_code == 2 and "nothing imported: this file is not BibTeX" in run.output
    author = sample_papers[5].authors[0]
    run = CliRunner().invoke(cli, ["import-library", "--user", "ada", "--author", author])
    assert run.exit_code == 0 and "matched to papers here" in run.output
    assert CliRunner().invoke(cli, ["import-library", "--user", "nobody", str(bib)]).exit_code == 2
    run = CliRunner().invoke(cli, ["webhooks"])
    assert run.exit_code == 0 and "webhooks: 0 sent" in run.output


def test_only_a_signed_in_user_may_send_a_large_library(client, other, sample_papers):
    register(client, "ada")
    big = bib_of(sample_papers[:3], "\n% " + "x" * 2_000_000 + "\n").encode()  # 2 MB, over the 1 MB form limit
    assert upload(client, big).status_code == 200
    token = csrf(other, "/login")
    stranger = other.post("/settings/taste/import", data={"csrf_token": token}, files={"file": ("a.bib", big)})
    assert stranger.status_code == 413


def test_show_seen_stays_on_through_the_pages(client, sample_papers, settings):
    register(client, "ada")
    like_two(client, sample_papers)
    settings.page_size = 10  # the app reads it per request: several pages of the day
    page = client.get(f"/papers/date/{DAY}?sort=foryou&seen=1").text
    assert "seen=1&amp;page=2" in page or "seen=1&page=2" in page
