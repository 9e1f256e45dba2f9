"""Groups through the app: starting one, invite links (use, reuse after revoke, expiry, use count), the group's
page (picks of the week, shared notes, group collections, discussion, activity), the "what my group picked"
filter on lists, roles, leaving; and what a non-member sees on every route: 404, never the content."""

from __future__ import annotations

import re
from datetime import timedelta

import lxml.html
from sqlalchemy import select, update

from paperfeed.clock import utcnow
from paperfeed.store.schema import collections, group_invites
from tests.web.conftest import api_token, post, register

INVITE = re.compile(r'<code class="invite">[^<]*/groups/join/([\w-]+)</code>')


def start_group(client, name: str = "Vision lab") -> int:
    made = post(client, "/groups", {"name": name, "description": "We read on **Fridays**"}, "/groups")
    assert made.status_code == 303, made.text
    return int(made.headers["location"].rsplit("/", 1)[1])


def invite(client, group_id: int, **form) -> str:
    page = post(client, f"/groups/{group_id}/invites", {"days": 7, "uses": 20} | form, f"/groups/{group_id}")
    assert page.status_code == 200, page.text
    return INVITE.search(page.text).group(1)


def join(client, token: str):
    return post(client, f"/groups/join/{token}", {}, "/groups")


def ids_of(sample_papers, n: int, skip: int = 40) -> list[str]:
    return [p.id for p in sorted(sample_papers, key=lambda p: p.id)[skip : skip + n]]


def listed(page: str, xpath: str = "//ol[@class='papers']/li[@id]/@id") -> list[str]:
    return [i.removeprefix("p-") for i in lxml.html.fromstring(page).xpath(xpath)]


def test_a_lab_joins_by_invite_and_sees_its_picks_notes_and_activity(client, other, app, sample_papers, days):
    a, b, c = ids_of(sample_papers, 3)
    register(client, "alice")
    gid = start_group(client)
    token = invite(client, gid)
    register(other, "bob")
    assert join(other, token).headers["location"] == f"/groups/{gid}"
    assert join(other, token).status_code == 303  # joining twice changes nothing

    post(other, f"/papers/{a}/upvote", {}, f"/papers/{a}")
    post(other, f"/papers/{b}/save", {"tags": "lab"}, f"/papers/{b}")
    post(client, f"/papers/{b}/upvote", {}, f"/papers/{b}")
    post(other, f"/papers/{b}/note", {"note": "Read **section 3**", "state": "reading"}, f"/papers/{b}")
    assert post(other, f"/papers/{b}/note/share", {"group": gid, "on": "true"}, f"/papers/{b}").status_code == 303

    page = client.get(f"/groups/{gid}")
    assert page.status_code == 200
    tree = lxml.html.fromstring(page.text)
    picks = listed(page.text, "//section[@aria-labelledby='picks-h']//li[@id]/@id")
    assert picks == [b, a]  # two members picked b, one picked a
    assert "Picked by alice, bob" in page.text
    assert tree.xpath("//ul[@class='shared-notes']//strong/text()") == ["bob", "section 3"]
    activity = " ".join(tree.xpath("//ul[@class='activity']//li//text()"))
    assert "bob upvoted" in " ".join(activity.split()) and "joined the group" in activity
    # The note shows on the paper's page for a member, never for anyone else.
    assert "Read <strong>section 3</strong>" in client.get(f"/papers/{b}").text
    register(app_client := _third(app), "carol")
    assert "section 3" not in app_client.get(f"/papers/{b}").text

    # The daily list filtered to what the group picked.
    day = next(p.listed_date for p in sample_papers if p.id == a)
    filtered = client.get(f"/papers/date/{day}?group={gid}&sort=new")
    assert filtered.status_code == 200
    everything = listed(client.get(f"/papers/date/{day}?sort=new").text)
    assert set(listed(filtered.text)) == {p for p in (a, b) if p in everything} and len(everything) > 2


def _third(app):
    from fastapi.testclient import TestClient

    return TestClient(app)


def test_nobody_outside_the_group_sees_any_of_it(client, other, app, sample_papers):
    a, b = ids_of(sample_papers, 2, 60)
    register(client, "alice")
    gid = start_group(client, "Secret <script>alert(1)</script> lab")
    post(client, f"/papers/{a}/save", {"tags": "lab-list"}, f"/papers/{a}")
    post(client, f"/papers/{a}/note", {"note": "private thoughts", "state": ""}, f"/papers/{a}")
    post(client, f"/papers/{a}/note/share", {"group": gid, "on": "true"}, f"/papers/{a}")
    shared = post(
        client, "/library/lab-list/collection", {"title": "Lab list", "visibility": f"group:{gid}"}, "/library/lab-list"
    )
    assert shared.status_code == 303
    cid = int(re.search(r'href="/collections/(\d+)"', client.get(f"/groups/{gid}").text).group(1))
    with app.state.ctx.engine.connect() as conn:
        secret = conn.execute(select(collections.c.secret).where(collections.c.id == cid)).scalar_one()
    page = client.get(f"/groups/{gid}").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    collection_page = client.get(f"/collections/{cid}").text
    assert "for the members of Secret &lt;script&gt;" in collection_page and "/feeds/collection/" not in collection_page

    register(other, "mallory")
    token = {"Authorization": f"Bearer {api_token(other)}"}
    for path in (
        f"/groups/{gid}",
        f"/collections/{cid}",
        f"/feeds/collection/{cid}.xml",
        f"/api/collections/{cid}",
        f"/api/groups/{gid}",
        f"/papers/date/{next(p.listed_date for p in sample_papers if p.id == a)}?group={gid}",
    ):
        assert other.get(path, headers=token).status_code == 404, path
        assert other.get(path).status_code == 404, path
    assert client.get(f"/collections/s/{secret}").status_code == 200  # a member (the owner) reads it
    assert other.get(f"/collections/s/{secret}").status_code == 404  # the secret link is no way in
    assert other.get(f"/feeds/collection/s/{secret}.xml").status_code == 404
    assert client.get(f"/feeds/collection/{cid}.xml").status_code == 404  # no feed: a reader cannot sign in
    assert other.get("/api/groups", headers=token).json() == []
    assert "private thoughts" not in other.get(f"/papers/{a}").text
    assert "Lab list" not in other.get("/collections").text and "Lab list" not in other.get(f"/papers/{a}").text
    assert "Secret" not in other.get("/groups").text
    for path, form in (
        (f"/groups/{gid}/invites", {"days": 7, "uses": 5}),
        (f"/groups/{gid}/edit", {"name": "mine now"}),
        (f"/groups/{gid}/delete", {}),
        (f"/groups/{gid}/leave", {}),
    ):
        assert post(other, path, form, "/groups").status_code == 404, path
    assert post(other, f"/papers/{b}/note/share", {"group": gid, "on": "true"}, f"/papers/{b}").status_code == 404
    assert client.get(f"/groups/{gid}").status_code == 200  # the owner's group is untouched


def test_invite_links_stop_when_revoked_expired_or_used_up(client, other, app):
    register(client, "alice")
    gid = start_group(client)
    revoked = invite(client, gid)
    invite_id = int(re.search(rf"/groups/{gid}/invites/(\d+)/revoke", client.get(f"/groups/{gid}").text).group(1))
    assert post(client, f"/groups/{gid}/invites/{invite_id}/revoke", {}, f"/groups/{gid}").status_code == 303
    register(other, "bob")
    refused = join(other, revoked)
    assert refused.status_code == 404 and "expired, been used up or been revoked" in refused.text
    assert other.get(f"/groups/join/{revoked}").status_code == 404
    assert other.get(f"/groups/{gid}").status_code == 404

    once = invite(client, gid, uses=1)
    assert join(other, once).status_code == 303
    carol = _third(app)
    register(carol, "carol")
    assert join(carol, once).status_code == 404  # used up

    late = invite(client, gid)
    with app.state.ctx.engine.begin() as conn:  # a week later
        conn.execute(update(group_invites).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert join(carol, late).status_code == 404
    assert [m["username"] for m in client.get(f"/api/groups/{gid}").json()["members"]] == ["alice", "bob"]
    assert (
        invite(client, gid, days=1)
        and post(client, f"/groups/{gid}/invites", {"days": 91}, "/groups").status_code == 422
    )


def test_roles_leaving_and_the_last_owner(client, other):
    register(client, "alice")
    gid = start_group(client)
    register(other, "bob")
    join(other, invite(client, gid))
    bob_id = int(re.search(rf'/groups/{gid}/members/(\d+)"', client.get(f"/groups/{gid}").text).group(1))
    # A member cannot invite, remove or rename.
    assert post(other, f"/groups/{gid}/invites", {"days": 7, "uses": 5}, "/groups").status_code == 422
    assert "only an owner" in post(other, f"/groups/{gid}/edit", {"name": "x"}, "/groups").text
    alone = post(client, f"/groups/{gid}/leave", {}, f"/groups/{gid}")
    assert alone.status_code == 422 and "the last owner cannot leave" in alone.text
    assert post(client, f"/groups/{gid}/members/{bob_id}", {"action": "owner"}, f"/groups/{gid}").status_code == 303
    assert post(client, f"/groups/{gid}/leave", {}, f"/groups/{gid}").status_code == 303
    assert client.get(f"/groups/{gid}").status_code == 404
    assert other.get(f"/api/groups/{gid}").json()["members"] == [{"username": "bob", "role": "owner"}]


def test_the_api_lists_joins_and_reads_a_group(client, other, app, sample_papers):
    register(client, "alice")
    gid = start_group(client, "Reading group")
    token = invite(client, gid)
    register(other, "bob")
    bob = {"Authorization": f"Bearer {api_token(other)}"}
    assert other.post("/api/groups/join", json={"token": "x"}, headers=bob).status_code == 422
    assert other.post("/api/groups/join", json={"token": "a" * 30}, headers=bob).status_code == 404
    joined = other.post("/api/groups/join", json={"token": token}, headers=bob)
    assert joined.status_code == 200 and joined.json()["id"] == gid
    [mine] = other.get("/api/groups", headers=bob).json()
    assert mine["name"] == "Reading group" and mine["role"] == "member" and mine["members"] == 2
    (a,) = ids_of(sample_papers, 1, 80)
    post(client, f"/papers/{a}/upvote", {}, f"/papers/{a}")
    info = other.get(f"/api/groups/{gid}", headers=bob).json()
    assert [p["paper"]["id"] for p in info["picks"]] == [a] and info["picks"][0]["pickedBy"] == ["alice"]
    assert other.get("/api/groups/99999", headers=bob).status_code == 404
    assert _third(app).get(f"/api/groups/{gid}").status_code == 401
    made = other.post("/api/groups", json={"name": "Bob's <b>club</b>"}, headers=bob)
    assert (
        made.status_code == 201 and other.get(f"/api/groups/{made.json()['id']}", headers=bob).json()["role"] == "owner"
    )
    nameless = other.post("/api/groups", json={"name": ""}, headers=bob)
    assert nameless.status_code == 422 and nameless.json()["detail"][0]["loc"] == ["body", "name"]


def test_a_members_feed_of_the_picks_stops_when_they_leave(client, other, app, sample_papers):
    import xml.etree.ElementTree as ET

    (a,) = ids_of(sample_papers, 1, 90)
    register(client, "alice")
    gid = start_group(client, "Feed lab")
    register(other, "bob")
    join(other, invite(client, gid))
    post(client, f"/papers/{a}/upvote", {}, f"/papers/{a}")
    bob_feed = f"/feeds/group/{api_token(other, kind='feed')}.xml?group={gid}"
    feed = ET.fromstring(_third(app).get(bob_feed).content)  # a feed reader: no session
    assert feed.findtext("./channel/title") == "Feed lab: picked this week"
    assert [i.findtext("link").rsplit("/", 1)[1] for i in feed.findall("./channel/item")] == [a]
    carol = _third(app)
    register(carol, "carol")
    assert _third(app).get(f"/feeds/group/{api_token(carol, kind='feed')}.xml?group={gid}").status_code == 404
    assert _third(app).get(f"/feeds/group/nonsense.xml?group={gid}").status_code == 404
    opml = post(other, "/feeds/opml", {}, "/settings").text
    assert "Picked in Feed lab" in opml and f"group={gid}" in opml
    assert post(other, f"/groups/{gid}/leave", {}, f"/groups/{gid}").status_code == 303
    assert _third(app).get(bob_feed).status_code == 404
