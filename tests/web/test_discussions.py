"""Discussions under papers, through the app: write, reply, mention and be notified, edit, delete, report and
moderate; what a comment may contain (nothing that runs, only safe links); who may change what; rate limits;
the comment counts on cards and in the API; the thread's feed; the Discussed list."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import lxml.html
import pytest

from tests.web.conftest import api_token, csrf, post, register

COMMENT_ID = re.compile(r'id="c-(\d+)"')


def paper_of(sample_papers, n: int = 0) -> str:
    return sorted(sample_papers, key=lambda p: p.id)[n].id


def write(client, pid: str, body: str, reply_to: int | None = None):
    data = {"body": body} | ({"reply_to": str(reply_to)} if reply_to else {})
    return post(client, f"/papers/{pid}/comments", data, f"/papers/{pid}")


def written(answer) -> int:
    assert answer.status_code == 303, answer.text[-800:]
    return int(answer.headers["location"].split("#c-")[1])


def comment_body(page: str, cid: int):
    """The rendered body of comment `cid` on a page, parsed."""
    tree = lxml.html.fromstring(page)
    found = tree.xpath(f'//li[@id="c-{cid}"]/div[contains(@class, "comment-body")]')
    return found[0] if found else None


def test_comment_with_math_reply_and_mention_notify(client, other, sample_papers, days):
    pid = paper_of(sample_papers)
    register(client, "alice")
    register(other, "bob")
    first = written(write(client, pid, "Nice bound: $O(n \\log n)$ with $a_1 * b_2$. What do you think, @bob?"))
    page = client.get(f"/papers/{pid}").text
    body = comment_body(page, first)
    assert body.xpath('.//span[@class="math"]/text()') == ["$O(n \\log n)$", "$a_1 * b_2$"]  # TeX kept for KaTeX
    assert body.xpath('.//span[@class="mention"]/text()') == ["@bob"]
    assert "Discussion (1)" in page

    bob_home = other.get("/").text
    assert 'aria-label="1 unread"' in bob_home
    inbox = other.get("/notifications").text
    assert "mentioned you" in inbox and f"#c-{first}" in inbox
    assert 'aria-label="1 unread"' not in other.get("/").text  # seen

    reply = written(write(other, pid, "Agreed, but see Lemma 2.", reply_to=first))
    tree = lxml.html.fromstring(client.get(f"/papers/{pid}").text)
    assert tree.xpath(f'//li[@id="c-{first}"]/ol[@class="replies"]/li/@id') == [f"c-{reply}"]
    assert "replied to you" in client.get("/notifications").text

    # A reply to the reply joins the same thread and notifies the reply's author.
    third = written(write(client, pid, "Lemma 2 holds.", reply_to=reply))
    tree = lxml.html.fromstring(client.get(f"/papers/{pid}").text)
    assert tree.xpath(f'//li[@id="c-{first}"]/ol[@class="replies"]/li/@id') == [f"c-{reply}", f"c-{third}"]
    assert "replied to you" in other.get("/notifications").text

    # Our count on the cards, labelled, beside Hugging Face's.
    day = next(p.listed_date for p in sample_papers if p.id == pid)
    card = lxml.html.fromstring(client.get(f"/papers/date/{day}").text).xpath(f'//li[@id="p-{pid}"]')[0]
    assert "3 comments here" in card.text_content()


HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    "[click](javascript:alert(3))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCg0KTwvc2NyaXB0Pg==)",
    '<a href="https://evil.example" onclick="alert(5)">raw</a>',
    "![tracker](https://evil.example/pixel.png)",
    "[ok](https://example.org/paper) and <https://example.org/auto>",
    '<span class="mention">@alice</span> <style>body{display:none}</style>',
    "$</span><script>alert(6)</script>$",
    "`<b>code</b>` and\n\n```html\n<iframe src=https://evil.example></iframe>\n```",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_nothing_in_a_comment_runs_and_every_link_is_safe(client, sample_papers, text):
    pid = paper_of(sample_papers, 1)
    register(client, "mallory")
    cid = written(write(client, pid, text))
    body = comment_body(client.get(f"/papers/{pid}").text, cid)
    assert body is not None
    for el in body.iter():
        assert el.tag in {"div", "p", "a", "code", "pre", "span", "em", "strong"}, el.tag
        assert not [a for a in el.attrib if a.startswith("on") or a in {"style", "src"}], el.attrib
    for a in body.xpath(".//a"):
        assert a.get("href").startswith("https://"), a.get("href")
        assert a.get("rel") == "nofollow ugc noopener"
    assert all(s.get("class") == "math" for s in body.xpath(".//span"))  # no spoofed mention, no other class
    # The API gives the Markdown as written (data) and the same sanitised HTML; so does the thread's feed.
    [served] = client.get(f"/api/papers/{pid}/comments").json()["comments"]
    assert served["body"] == text.strip() and safe(served["html"])
    feed = ET.fromstring(client.get(f"/feeds/comments.xml?paper={pid}").content)
    assert safe(feed.find("./channel/item").findtext("description"))


def safe(html: str) -> bool:
    tree = lxml.html.fragment_fromstring(html, create_parent="div")
    tags = {el.tag for el in tree.iter()}
    handlers = [a for el in tree.iter() for a in el.attrib if a.startswith("on") or a in {"style", "src"}]
    return not tags & {"script", "img", "iframe", "style"} and not handlers


def test_mentions_only_of_people_here_outside_code_and_not_oneself(client, other, sample_papers):
    pid = paper_of(sample_papers, 2)
    register(client, "alice")
    register(other, "bob")
    text = "`@bob` in code, mail bob@bob.com, @nobody, @alice (me), [@bob](https://x.org) too? No: @Bob!"
    cid = written(write(client, pid, text))
    body = comment_body(client.get(f"/papers/{pid}").text, cid)
    assert body.xpath('.//span[@class="mention"]/text()') == ["@alice", "@bob", "@Bob"]
    assert body.xpath(".//code/text()") == ["@bob"]
    items = other.get("/api/notifications").json()
    assert [(n["kind"], n["comment"]) for n in items] == [("mention", cid)]  # once, though named twice
    assert client.get("/api/notifications").json() == []  # mentioning yourself notifies nobody


def test_only_the_author_edits_or_deletes(client, other, sample_papers):
    pid = paper_of(sample_papers, 3)
    register(client, "alice")
    cid = written(write(client, pid, "First version"))
    register(other, "bob")
    for action, data in (("edit", {"body": "bob was here"}), ("delete", {})):
        answer = post(other, f"/comments/{cid}/{action}", data, f"/papers/{pid}")
        assert answer.status_code == 404, answer.text[-300:]
    assert "First version" in client.get(f"/papers/{pid}").text
    # No CSRF token: refused before anything is read.
    assert other.post(f"/comments/{cid}/delete", data={}, follow_redirects=False).status_code == 403
    # Signed out: sent to log in.
    other.cookies.clear()
    answer = post(other, f"/comments/{cid}/delete", {}, f"/papers/{pid}")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert "First version" in client.get(f"/papers/{pid}").text


def test_edit_is_marked_and_delete_keeps_the_replies(client, other, sample_papers):
    pid = paper_of(sample_papers, 4)
    register(client, "admin")  # the first account is the admin
    register(other, "alice")
    cid = written(write(other, pid, "A claim with a typo"))
    reply = written(write(client, pid, "Which typo?", reply_to=cid))
    assert post(other, f"/comments/{cid}/edit", {"body": "A claim, fixed"}, f"/papers/{pid}").status_code == 303
    page = other.get(f"/papers/{pid}").text
    assert "A claim, fixed" in page and "A claim with a typo" not in page
    assert lxml.html.fromstring(page).xpath(f'//li[@id="c-{cid}"]//span[@class="edited"]')
    assert "A claim with a typo" in client.get(f"/papers/{pid}").text  # the admin sees the earlier text

    assert post(other, f"/comments/{cid}/delete", {}, f"/papers/{pid}").status_code == 303
    tree = lxml.html.fromstring(other.get(f"/papers/{pid}").text)
    item = tree.xpath(f'//li[@id="c-{cid}"]')[0]
    assert "[deleted]" in item.text_content() and "A claim, fixed" not in item.text_content()
    assert tree.xpath(f'//li[@id="c-{cid}"]/ol[@class="replies"]/li/@id') == [f"c-{reply}"]
    assert "Discussion (1)" in other.get(f"/papers/{pid}").text  # the reply still counts; the deleted one not
    assert post(other, f"/comments/{cid}/edit", {"body": "back"}, f"/papers/{pid}").status_code == 404


def test_report_queue_hide_and_restore(client, other, sample_papers):
    pid = paper_of(sample_papers, 5)
    register(client, "admin")
    register(other, "troll")
    cid = written(write(other, pid, "Buy cheap followers at example.com"))
    assert post(other, f"/comments/{cid}/report", {"reason": "mine"}, f"/papers/{pid}").status_code == 422
    assert other.get("/admin/comments").status_code == 403
    assert post(other, f"/admin/comments/{cid}", {"hidden": "1"}, f"/papers/{pid}").status_code == 403

    reader = other  # a third account reports it
    reader.cookies.clear()
    register(reader, "reader")
    answer = post(reader, f"/comments/{cid}/report", {"reason": "spam <b>ads</b>"}, f"/papers/{pid}")
    assert answer.status_code == 303
    assert "the admins will look at it" in reader.get(answer.headers["location"]).text
    queue = client.get("/admin/comments").text
    assert "Buy cheap followers" in queue and "spam &lt;b&gt;ads&lt;/b&gt;" in queue

    hide = post(client, f"/admin/comments/{cid}", {"hidden": "1", "next": "queue"}, "/admin/comments")
    assert hide.status_code == 303 and hide.headers["location"] == "/admin/comments"
    assert "No open reports" in client.get("/admin/comments").text
    page = reader.get(f"/papers/{pid}").text
    assert "Buy cheap followers" not in page and "No comments here yet" in page  # hidden, and no replies
    assert "Buy cheap followers" in client.get(f"/papers/{pid}").text  # admins still see it, marked
    assert "[hidden by an admin]" in client.get(f"/papers/{pid}").text
    post(client, f"/admin/comments/{cid}", {"hidden": "0"}, f"/papers/{pid}")
    assert "Buy cheap followers" in reader.get(f"/papers/{pid}").text


def test_limits_answer_in_one_line_and_keep_the_text(client, sample_papers, settings):
    pid = paper_of(sample_papers, 6)
    register(client, "alice")
    settings.comments_per_minute = 2
    written(write(client, pid, "one"))
    written(write(client, pid, "two"))
    answer = write(client, pid, "three, a long thought I do not want to lose")
    assert answer.status_code == 429
    error = lxml.html.fromstring(answer.text).xpath('//p[@class="error"]/text()')
    assert error == ["at most 2 comments in a minute; wait a little and post it again"]
    assert ">three, a long thought I do not want to lose</textarea>" in answer.text

    settings.comments_per_minute = 100
    for text, message in (("   ", "the comment is empty"), ("x" * 10_001, "at most 10,000 characters")):
        answer = write(client, pid, text)
        assert answer.status_code == 422 and message in answer.text
    assert write(client, pid, "reply to nothing", reply_to=999_999).status_code == 404


def test_the_json_api(client, sample_papers):
    pid = paper_of(sample_papers, 7)
    register(client, "alice")
    token = api_token(client)
    script = {"Authorization": f"Bearer {token}"}
    assert client.post(f"/api/papers/{pid}/comments", json={"body": "hi"}).status_code == 403  # a session needs CSRF
    client.cookies.clear()
    assert client.post(f"/api/papers/{pid}/comments", json={"body": "hi"}).status_code == 401
    answer = client.post(f"/api/papers/{pid}/comments", json={"body": "From a **script**"}, headers=script)
    assert answer.status_code == 200, answer.text
    cid = answer.json()["id"]
    reply = client.post(f"/api/papers/{pid}/comments", json={"body": "me again", "replyTo": cid}, headers=script)
    assert reply.status_code == 200
    thread = client.get(f"/api/papers/{pid}/comments").json()
    assert thread["numComments"] == 2
    [top] = thread["comments"]
    assert top["author"] == "alice" and top["html"] == "<p>From a <strong>script</strong></p>\n"
    assert [r["body"] for r in top["replies"]] == ["me again"]
    bad = client.post(f"/api/papers/{pid}/comments", json={"body": ""}, headers=script)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "body"]
    blank = client.post(f"/api/papers/{pid}/comments", json={"body": "  "}, headers=script)
    assert blank.status_code == 422 and "empty" in blank.json()["detail"][0]["msg"]
    shown = client.get(f"/api/papers/{pid}").json()  # ours where HF's shape has a count, and labelled
    assert (shown["numComments"], shown["ownComments"]) == (2 + shown["externalComments"], 2)
    assert client.get("/api/notifications").status_code == 401


def test_feed_and_discussed_list(client, sample_papers):
    pid = paper_of(sample_papers, 8)
    register(client, "alice")
    written(write(client, pid, "Worth reading for the ablations."))
    written(write(client, pid, "Also section 5."))
    feed = ET.fromstring(client.get(f"/feeds/comments.xml?paper={pid}").content)
    items = feed.findall("./channel/item")
    assert [i.findtext("title") for i in items][0].startswith("alice on ")
    assert any("ablations" in (i.findtext("description") or "") for i in items) and len(items) == 2
    discussed = lxml.html.fromstring(client.get("/discussed").text)
    assert discussed.xpath("//ol[@class='papers']/li/@id") == [f"p-{pid}"]


def test_a_hidden_papers_thread_is_not_served(client, other, sample_papers):
    pid = paper_of(sample_papers, 9)
    register(client, "admin")
    register(other, "alice")
    written(write(other, pid, "about to vanish"))
    assert post(client, f"/papers/{pid}/hide", {"hidden": "1"}, f"/papers/{pid}").status_code == 303
    assert other.get(f"/api/papers/{pid}/comments").status_code == 404
    assert other.get(f"/feeds/comments.xml?paper={pid}").status_code == 404
    assert other.get("/discussed").text.count(f'id="p-{pid}"') == 0
    assert write(other, pid, "still here?").status_code == 404


def test_the_csrf_token_of_another_session_is_refused(client, other, sample_papers):
    pid = paper_of(sample_papers, 10)
    register(client, "alice")
    register(other, "bob")
    token = csrf(other, f"/papers/{pid}")
    answer = client.post(f"/papers/{pid}/comments", data={"body": "forged", "csrf_token": token})
    assert answer.status_code == 403


def test_ids_past_what_the_database_holds_are_a_422_not_a_500(client, sample_papers):
    pid = paper_of(sample_papers, 11)
    register(client, "alice")
    huge = str(2**70)
    assert write(client, pid, "hello", reply_to=int(huge)).status_code == 422
    assert post(client, f"/comments/{huge}/delete", {}, f"/papers/{pid}").status_code == 422
    token = {"Authorization": f"Bearer {api_token(client)}"}
    answer = client.post(f"/api/papers/{pid}/comments", json={"body": "x", "replyTo": 2**70}, headers=token)
    assert answer.status_code == 422
    assert client.get(f"/collections/{huge}").status_code == 422
    assert client.get(f"/api/authors/{sample_papers[0].authors[0]}?offset={huge}").status_code == 422


def test_a_long_thread_comes_in_pages_and_a_link_finds_its_comment(client, app, sample_papers):
    from paperfeed.store import accounts
    from paperfeed.store import discussions as talk

    pid = paper_of(sample_papers, 7)
    register(client, "alice")
    engine = app.state.ctx.engine
    with engine.connect() as conn:
        alice = accounts.get_user(conn, "alice")
    limits = talk.Limits(per_minute=1000, per_hour=1000)
    ids = [talk.post(engine, alice, pid, f"comment number {n}", None, limits) for n in range(230)]
    reply = talk.post(engine, alice, pid, "a reply to the first", ids[0], limits)

    def shown(page: str) -> list[int]:
        return [int(i) for i in lxml.html.fromstring(page).xpath("//ol[@class='comments']/li/@id") for i in [i[2:]]]

    latest = client.get(f"/papers/{pid}")
    assert shown(latest.text) == ids[200:]  # the last page, where new comments land
    assert "Page 3 of 3 (230 threads)" in " ".join(latest.text.split())
    first = client.get(f"/papers/{pid}?comments=1")
    assert shown(first.text) == ids[:100] and comment_body(first.text, reply) is not None
    assert shown(client.get(f"/papers/{pid}?c={ids[150]}").text) == ids[100:200]
    assert shown(client.get(f"/papers/{pid}?c={reply}").text) == ids[:100]  # a reply: its thread's page
    assert client.get(f"/papers/{pid}?comments=x").status_code == 422
    assert shown(client.get(f"/papers/{pid}?comments=99").text) == ids[200:]
    api = client.get(f"/api/papers/{pid}/comments?page=2").json()
    assert (api["page"], api["pages"], len(api["comments"])) == (2, 3, 100)
    assert api["comments"][0]["url"].endswith(f"/papers/{pid}?c={ids[100]}#c-{ids[100]}")
    assert client.get(f"/api/papers/{pid}/comments?page=4").json()["comments"] == []  # past the end: nothing
    assert client.get(f"/papers/{pid}?c=²").status_code == 422
    talk.post(engine, alice, pid, "a late reply in the first thread", ids[0], limits)
    feed = ET.fromstring(client.get(f"/feeds/comments.xml?paper={pid}").content)
    texts = " ".join(i.findtext("description") or "" for i in feed.findall("./channel/item"))
    assert len(feed.findall("./channel/item")) > 50 and "a late reply in the first thread" in texts

    # A refused reply in a thread on page 1: the answer is page 1, with the draft in the reply form.
    refused = write(client, pid, "x" * 10_001, reply_to=ids[0])
    assert refused.status_code == 422 and "x" * 10_001 in refused.text and f'id="c-{ids[0]}"' in refused.text

    # Deleted comments without replies are on no page: deleting the only one on the last page leaves 2 pages.
    for cid in ids[200:]:
        talk.remove(engine, alice, cid)
    assert shown(client.get(f"/papers/{pid}").text) == ids[100:200]
