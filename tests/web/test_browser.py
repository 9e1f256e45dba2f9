"""End to end in a real browser: Debian's chromium driven by Playwright, against `paperfeed serve`.

Walks a researcher's morning (register, log in, browse a day, search, open a paper, upvote, save with a tag,
find it in the library, log out), checks phone width and the keyboard, and takes screenshots
(build/screenshots/, or docs/screenshots/ with `make screenshots`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from paperfeed.search.lexical import query_stems, stem
from tests.conftest import REPO, new_store, served

# `make test-fast` leaves these out; `make test` runs them, all in one worker (one browser, one server).
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Tests leave the working tree clean: screenshots go under build/ unless asked for elsewhere
# (`make screenshots` points this at docs/screenshots).
SHOTS = Path(os.environ.get("PAPERFEED_SCREENSHOTS_DIR") or REPO / "build" / "screenshots")


@pytest.fixture(scope="module")
def server(tmp_path_factory, indexed_dir, model_cache, postgres):
    """`paperfeed serve` on a copy of the indexed sample, as a separate process."""
    import shutil

    data = tmp_path_factory.mktemp("browser") / "data"
    shutil.copytree(indexed_dir, data)
    new_store(postgres, data, sample=True)
    # Every test here signs up its own readers from one address: more than the ten an hour allowed by default.
    with served(data, model_cache, registrations_per_ip=100) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=False)


def test_a_researchers_morning(page: Page, server, sample_papers):
    page.goto(server + "/register")
    expect(page).to_have_title("Sign up · paperfeed")
    page.fill("#username", "ada")
    page.fill("#email", "ada@example.org")
    page.fill("#password", "analytical engine")
    page.fill("#password2", "analytical engine")
    page.click("button:text('Sign up')")
    expect(page.locator("header.site > nav.account .who")).to_have_text("ada")

    page.click("text=Log out")
    expect(page.locator("header.site > nav.account")).to_contain_text("Log in")
    page.click("header.site > nav.account >> text=Log in")
    page.fill("#username", "ada")
    page.fill("#password", "analytical engine")
    page.click("main button:text('Log in')")
    expect(page.locator("header.site > nav.account .who")).to_have_text("ada")

    # Browse a day.
    page.goto(server + "/papers/date/2025-03-25")
    expect(page).to_have_title("Daily Papers — Tuesday, Mar 25, 2025 · paperfeed")
    expect(page.locator("li.paper")).to_have_count(80)
    shot(page, "daily.png")
    page.click("a[rel=prev]")
    expect(page).to_have_url(server + "/papers/date/2025-03-24")

    # Search and open the paper.
    target = sample_papers[42]
    page.fill("#site-q", target.title)
    page.press("#site-q", "Enter")
    first = page.locator("li.paper").first
    expect(first).to_have_attribute("id", f"p-{target.id}")
    expect(page.locator("mark").first).to_be_visible()
    wanted = query_stems(target.title.split())
    marked = page.locator("mark").all_text_contents()
    assert {stem(m) for m in marked} <= wanted, [m for m in marked if stem(m) not in wanted]  # only query words
    shot(page, "search.png")
    first.locator("h2 a").click()
    expect(page.locator("h1")).to_have_text(target.title)
    expect(page.locator("section.similar li.paper")).to_have_count(10)

    # Upvote, save with a tag.
    page.click(".actions button.upvote")
    expect(page.locator(".actions button.upvote")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".actions .count")).to_have_text("1")
    page.fill("#tags", "morning-read")
    page.click("button:text('Save to library')")
    expect(page.locator("p.saved")).to_contain_text("morning-read")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "paper.png")

    page.click("header.site > nav.primary >> text=Library")
    expect(page.locator("li.paper")).to_have_count(1)
    page.click("a.chip:text('morning-read (1)')")
    expect(page).to_have_url(server + "/library/morning-read")
    expect(page.locator(f"[id='p-{target.id}']")).to_be_visible()

    page.click("text=Log out")
    page.goto(server + "/library")
    expect(page).to_have_title("Log in · paperfeed")


def test_api_docs_render_and_try_it_out_works(page: Page, server):
    """The bundled Swagger UI reads FastAPI's OpenAPI 3.1: the operations are listed and a call succeeds
    (the rendered page, not just its files loading: 4.x showed "Unable to render this definition")."""
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(server + "/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/papers/search").first).to_be_visible()
    expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
    assert page.locator(".opblock").count() >= 10
    page.locator(".opblock-summary", has_text="/api/daily_papers").first.click()
    op = page.locator(".opblock.is-open").first
    op.get_by_role("button", name="Try it out").click()
    op.get_by_role("button", name="Execute").click()
    expect(op.locator(".live-responses-table tr.response .response-col_status").first).to_have_text("200")
    expect(op.locator(".live-responses-table .microlight").first).to_contain_text('"title"')
    shot(page, "api-docs.png")
    assert not [u for u in failed if not u.startswith(server)], failed  # nothing fetched from elsewhere


def test_gibberish_says_no_good_match(page: Page, server):
    page.goto(server + "/search?q=zycidpyo+umzgdpa+qwvtx")
    expect(page.locator(".no-match")).to_contain_text("No good match for zycidpyo umzgdpa qwvtx")
    expect(page.locator("p.count")).to_have_count(0)  # no "About 100 results"
    assert page.locator("ol.papers.weak li.paper").count() <= 5
    shot(page, "no-match.png")


def test_phone_width_has_no_sideways_scroll(browser, server, sample_papers):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    for path in ("/", "/search?q=robot+grasping", f"/papers/{sample_papers[0].id}", "/trending", "/login"):
        page.goto(server + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
    page.goto(server + "/")
    shot(page, "daily-phone.png")
    context.close()


def test_keyboard_alone(page: Page, server):
    page.goto(server + "/")
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()
    # Tab to the search box, type, submit with Enter.
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "site-q":
            break
    assert page.evaluate("document.activeElement.id") == "site-q"
    page.keyboard.type("reinforcement learning")
    page.keyboard.press("Enter")
    expect(page).to_have_title("reinforcement learning — Search · paperfeed")
    # An abstract opens with the keyboard: tab to the first summary and press Enter.
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("!!document.activeElement.closest('details.abstract')"):
            break
    page.keyboard.press("Enter")
    opened = page.locator("details.abstract").first
    expect(opened).to_have_attribute("open", "")
    # The whole abstract, once: its first words are not shown twice (excerpt above the full text).
    text = opened.inner_text()
    assert text.count(opened.locator("p").inner_text()[:80]) == 1, text[:300]


AXE = REPO / "tests" / "vendor" / "axe-core" / "axe.min.js"


def axe_violations(page: Page, rules: tuple[str, ...] = ()) -> list[str]:
    """Serious and critical accessibility violations on the page, by axe-core (vendored from npm): every rule,
    or only `rules`."""
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    options = {"resultTypes": ["violations"]} | ({"runOnly": list(rules)} if rules else {})
    result = page.evaluate("async (options) => await axe.run(document, options)", options)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


# Dark mode changes only the colour variables (static/style.css, one prefers-color-scheme block), so in dark
# only the rules that read colours can find anything new: each page is loaded once, checked by every rule in
# light and by these in dark (checking every rule in both took 28 s of the browser per pass, and found nothing
# the colour rules do not).
COLOUR_RULES = ("color-contrast", "link-in-text-block")


def register_in_browser(page: Page, server: str, name: str) -> None:
    page.goto(server + "/register")
    page.fill("#username", name)
    page.fill("#password", "analytical engine")
    page.fill("#password2", "analytical engine")
    page.click("main button:text('Sign up')")
    expect(page.locator("header.site > nav.account .who")).to_have_text(name)


def test_main_pages_have_no_serious_accessibility_violations(browser, server, sample_papers):
    # bypass_csp: the app's policy (rightly) refuses the injected axe script; the pages are unchanged.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light", bypass_csp=True)
    page = context.new_page()
    register_in_browser(page, server, "axe")
    pages = [
        "/",
        "/papers/date/2025-03-25",
        "/trending",
        "/search?q=diffusion+video",
        "/search?q=zycidpyo+umzgdpa",
        f"/papers/{sample_papers[0].id}",
        "/settings",
        "/settings/digest",
        "/settings/taste",
        "/library",
        "/submit",
        "/discussed",
        "/notifications",
        "/authors/" + quote(sample_papers[0].authors[0], safe=""),
        "/authors",
    ]
    found = {}
    for path in pages:
        page.emulate_media(color_scheme="light")
        page.goto(server + path)
        page.wait_for_load_state("load")
        if problems := axe_violations(page):
            found[f"{path} (light)"] = problems
        page.emulate_media(color_scheme="dark")
        assert page.evaluate("() => matchMedia('(prefers-color-scheme: dark)').matches")
        if problems := axe_violations(page, COLOUR_RULES):
            found[f"{path} (dark)"] = problems
    context.close()
    assert not found, found


def test_dark_mode_follows_the_system_setting(browser, server):
    colours = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
        page = context.new_page()
        page.goto(server + "/papers/date/2025-03-25")
        colours[scheme] = page.evaluate(
            "() => [getComputedStyle(document.body).backgroundColor,"
            " getComputedStyle(document.querySelector('li.paper h2 a')).color]"
        )
        if scheme == "dark":
            shot(page, "daily-dark.png")
        context.close()

    def luminance(css: str) -> float:
        r, g, b = (int(x) for x in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light_bg, light_fg = (luminance(c) for c in colours["light"])
    dark_bg, dark_fg = (luminance(c) for c in colours["dark"])
    assert light_bg > 200 and light_fg < 80, colours  # dark text on a light page
    assert dark_bg < 40 and dark_fg > 180, colours  # light text on a dark page


def test_tex_in_titles_and_abstracts_is_rendered(page: Page, server, sample_papers):
    """`GenM$^3$` reads as GenM³ (KaTeX, served from /static, no CDN), not as dollar signs."""
    paper = next(p for p in sample_papers if "$^3$" in p.title)
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(server + f"/papers/{paper.id}")
    title = page.locator("h1")
    expect(title.locator(".katex")).to_have_count(1)
    assert "$" not in title.locator(".katex-html").inner_text() and "$" not in title.inner_text().replace("\n", "")
    # ... in the list too, and a highlighted search does not break a formula.
    page.goto(server + "/search?q=generative+motion+model+GenM")
    card = page.locator(f"[id='p-{paper.id}']")
    expect(card.locator("h2 .katex")).to_have_count(1)
    # Text-mode macros, which KaTeX does not render, read as bold words, not as "\textbf{...}".
    page.goto(server + "/papers/2503.16566")
    abstract = page.locator(".abstract.full")
    expect(abstract.locator("strong", has_text="VAL")).to_have_count(1)
    assert "\\textbf" not in abstract.inner_text()
    assert not failed, failed


def test_a_misspelled_query_is_corrected_with_links_both_ways(page: Page, server):
    page.goto(server + "/search?q=imgae+segmentaton&category=cs.CV")
    note = page.locator(".did-you-mean")
    expect(note).to_contain_text("Showing results for image segmentation")
    expect(page.locator("li.paper").first).to_be_visible()
    note.get_by_role("link", name="imgae segmentaton").click()  # search instead for what was typed
    expect(page).to_have_url(server + "/search?q=imgae%20segmentaton&spell=0&category=cs.CV")
    expect(page.locator(".did-you-mean")).to_have_count(0)
    page.go_back()
    page.locator(".did-you-mean").get_by_role("link", name="image segmentation").click()
    expect(page).to_have_url(server + "/search?q=image%20segmentation&category=cs.CV")
    expect(page.locator("#q")).to_have_value("image segmentation")


def test_phone_header_is_one_row_with_a_menu(browser, server):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.goto(server + "/")
    header = page.locator("header.site").bounding_box()
    assert header["height"] < 64, header  # one row: brand, search, menu (it took three rows)
    expect(page.locator("header.site > nav.primary")).to_be_hidden()
    page.click("details.menu summary")
    page.locator(".menu-panel").get_by_role("link", name="Log in").click()
    expect(page).to_have_title("Log in · paperfeed")
    context.close()


def test_search_filters_are_folded_and_plainly_named(page: Page, server):
    page.goto(server + "/search?q=robot+grasping")
    expect(page.locator("details.filters")).not_to_have_attribute("open", "")
    page.click("details.filters summary")
    match = page.locator("label:has-text('Match') select[name=mode]")
    assert match.locator("option").all_inner_texts() == ["both", "meaning", "keywords"]
    match.select_option(label="keywords")
    page.click("form.search button:text('Search')")
    expect(page).to_have_url(re.compile(r"mode=lexical"))
    expect(page.locator("details.filters")).to_have_attribute("open", "")  # a filter in use stays visible


def test_for_you_in_the_browser(browser, server, sample_papers):
    """Like a paper: the For you tab reorders with a reason; Not interested removes a card; Undo restores it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    register_in_browser(page, server, "foryou-fan")
    liked = next(p for p in sample_papers if "cs.RO" in p.categories and str(p.listed_date) != "2025-03-25")
    page.goto(server + f"/papers/{liked.id}")
    page.click(".actions button.upvote")
    page.goto(server + "/papers/date/2025-03-25")
    page.get_by_role("link", name="For you").click()
    expect(page.locator("p.because").first).to_contain_text(liked.title[:40])
    first = page.locator("li.paper").first.get_attribute("id")
    page.locator("li.paper").first.get_by_role("button", name=re.compile("^Not interested")).click()
    expect(page.locator("form.undo")).to_contain_text("Marked as not interested")
    expect(page.locator(f"[id='{first}']")).to_have_count(0)
    page.locator("form.undo").get_by_role("button", name="Undo").click()
    expect(page.locator(f"[id='{first}']")).to_have_count(1)
    shot(page, "foryou.png")
    context.close()


def test_taste_page_in_the_browser(browser, server, sample_papers, tmp_path):
    """Import a BibTeX file and add a never rule on the taste page; the For you tab follows both and says so."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    register_in_browser(page, server, "taste-fan")
    vision = [p for p in sample_papers if "cs.CV" in p.categories and str(p.listed_date) != "2025-03-25"][:3]
    bib = tmp_path / "My Library.bib"
    bib.write_text(
        "\n\n".join(f"@misc{{k{i}, title = {{{p.title}}}, eprint = {{{p.id}}}}}" for i, p in enumerate(vision))
    )
    page.goto(server + "/settings/taste")
    page.set_input_files("#i-file", str(bib))
    page.get_by_role("button", name="Import file").click()
    expect(page.locator("p.note[role=status]")).to_contain_text("Imported: 3 matched to papers here")
    page.select_option("select[name=kind]", "never")
    page.fill("input[name=phrase]", "diffusion")
    page.get_by_role("button", name="Add rule").click()
    expect(page.locator("ul.rules")).to_contain_text("diffusion")
    page.goto(server + "/papers/date/2025-03-25?sort=foryou")
    expect(page.locator("p.foryou-note")).to_contain_text("left out by your keyword rules")
    expect(page.locator("p.because").first).to_contain_text("Because you liked")
    shot(page, "foryou-rules.png")
    context.close()


def test_for_you_interests_and_is_this_relevant_in_the_browser(browser, server, sample_papers):
    """Save papers under two tags: the For-you tab offers both interests as chips and each ranks by its own
    papers; the "Is this relevant to you?" card answers with one click and the list is ranked again. Desktop
    and phone screenshots."""
    away = [p for p in sample_papers if str(p.listed_date) != "2025-03-25"]
    groups = {
        "robots": [p for p in away if p.categories[0] == "cs.RO"][:3],
        "language": [p for p in away if p.categories[0] == "cs.CL"][:3],
    }
    for width, height, suffix in ((1280, 900, "desktop"), (375, 740, "phone")):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        register_in_browser(page, server, f"interests-{suffix}")
        for tag, papers in groups.items():
            for p in papers:
                page.goto(server + f"/papers/{p.id}")
                page.fill("form.save input[name=tags]", tag)
                page.locator("form.save button").click()
        page.goto(server + "/papers/date/2025-03-25?sort=foryou")
        chips = page.get_by_role("navigation", name="Your interests")
        expect(chips).to_contain_text("robots (3)")
        expect(chips).to_contain_text("language (3)")
        card = page.locator("section.ask")
        expect(card.get_by_role("heading", name="Is this relevant to you?")).to_be_visible()
        asked = card.locator("li a").first.inner_text()
        before = page.locator("li.paper h2").all_inner_texts()
        shot(page, f"foryou-ask-{suffix}.png")
        card.get_by_role("button", name=re.compile("^Yes")).first.click()
        expect(page.locator("li.paper h2", has_text=asked)).to_have_count(0)
        assert page.locator("li.paper h2").all_inner_texts() != [t for t in before if t != asked]
        chips.get_by_role("link", name=re.compile("^robots")).click()
        expect(page.locator("p.foryou-note")).to_contain_text("saved under robots")
        expect(chips.get_by_role("link", name=re.compile("^robots"))).to_have_attribute("aria-current", "true")
        shot(page, f"foryou-interest-{suffix}.png")
        context.close()


def test_a_discussion_in_the_browser(browser, server, sample_papers):
    """Ada writes a comment with math and mentions Bob; Bob sees the unread count, opens the notification,
    replies; Ada sees the reply. TeX renders, the mention shows, the pages pass axe-core, and the thread reads
    on a phone."""
    pid = sample_papers[3].id

    def person(name: str, width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
        page = context.new_page()
        register_in_browser(page, server, name)
        return context, page

    ada_context, ada = person("ada-talk")
    bob_context, bob = person("bob-talk", 390, 844)

    ada.goto(server + f"/papers/{pid}")
    ada.fill("#comment-body", "The bound $O(n \\log n)$ in **Theorem 2** looks loose, @bob-talk?")
    ada.click("button:text('Comment')")
    comment = ada.locator("ol.comments > li.comment").first
    expect(comment.locator(".comment-body .katex")).to_have_count(1)  # KaTeX rendered the formula
    assert "$" not in comment.locator(".comment-body").inner_text().replace("\n", "")
    expect(comment.locator(".mention")).to_have_text("@bob-talk")
    expect(comment.locator("strong", has_text="Theorem 2")).to_have_count(1)
    expect(ada.locator("#talk-h")).to_have_text("Discussion (1)")

    bob.goto(server + "/")
    bob.locator("details.menu summary").click()  # a phone: the account links are in the menu
    expect(bob.locator(".menu-panel .notifications .count")).to_have_text("1")
    bob.locator(".menu-panel .notifications").click()
    expect(bob.locator("li.notification")).to_contain_text("ada-talk mentioned you")
    if problems := axe_violations(bob):
        pytest.fail(f"/notifications: {problems}")
    bob.locator("li.notification a").first.click()
    mentioned = bob.locator("ol.comments > li.comment").first
    mentioned.locator("summary", has_text="Reply").click()
    mentioned.locator("textarea").fill("It is tight for $n \\geq 2$; see the appendix.")
    mentioned.locator("button", has_text="Reply").click()
    reply = bob.locator("ol.replies > li.comment")
    expect(reply).to_contain_text("see the appendix")
    expect(reply.locator(".katex")).to_have_count(1)
    bob.locator("#talk-h").scroll_into_view_if_needed()
    width = bob.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, width  # no sideways scroll on a phone
    shot(bob, "discussion-phone.png")
    if problems := axe_violations(bob):
        pytest.fail(f"thread: {problems}")

    ada.goto(server + "/")
    expect(ada.locator("header.site > nav.account .notifications .count")).to_have_text("1")
    ada.goto(server + "/notifications")
    expect(ada.locator("li.notification")).to_contain_text("bob-talk replied to you")
    ada.goto(server + f"/papers/{pid}#discussion")
    expect(ada.locator("ol.replies > li.comment")).to_contain_text("see the appendix")
    shot(ada, "discussion-desktop.png")
    ada.goto(server + "/discussed")
    expect(ada.locator(f"[id='p-{pid}'] .signal.talk")).to_contain_text("2 comments")
    if problems := axe_violations(ada):
        pytest.fail(f"/discussed: {problems}")
    ada_context.close()
    bob_context.close()


def test_a_note_and_a_reading_state_in_the_browser(browser, server, sample_papers):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    register_in_browser(page, server, "noter")
    pid = sample_papers[5].id
    page.goto(server + f"/papers/{pid}")
    page.click("button:text('Save to library')")
    page.select_option("#state", "reading")
    page.fill("#note", "Check $\\\\mathcal{O}(n)$ against **Table 2**.")
    page.click("button:text('Save note and state')")
    shown = page.locator("#library .note-text")
    expect(shown.locator(".katex")).to_have_count(1)
    expect(shown.locator("strong")).to_have_text("Table 2")
    expect(page.locator("#state")).to_have_value("reading")
    if problems := axe_violations(page):
        pytest.fail(f"paper page with a note: {problems}")
    page.goto(server + "/library")
    page.select_option("#lib-state", "reading")
    page.click(".library-filter button")
    expect(page.locator("ol.papers > li")).to_have_count(1)
    expect(page.locator(f"[id='p-{pid}'] .card-note")).to_contain_text("Table 2")
    expect(page.locator(f"[id='p-{pid}'] .state")).to_have_text("Reading")
    if problems := axe_violations(page):
        pytest.fail(f"library filtered by state: {problems}")
    page.select_option("#lib-state", "read")
    page.click(".library-filter button")
    expect(page.locator("ol.papers > li")).to_have_count(0)
    context.close()


def test_an_author_page_in_the_browser(browser, server, sample_papers):
    """From a paper, click an author: their page, follow them, find them under "Authors you follow"; on a phone
    too, without sideways scrolling."""
    paper = max(sample_papers, key=lambda p: len(p.authors))
    name = paper.authors[0]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    register_in_browser(page, server, "follower")
    page.goto(server + f"/papers/{paper.id}")
    page.locator("p.authors.full a", has_text=name).first.click()
    expect(page.locator("h1")).to_have_text(name)
    expect(page.locator(f"[id='p-{paper.id}']")).to_have_count(1)
    shot(page, "author-desktop.png")
    page.click("button:text('Follow')")
    expect(page.locator("button[aria-pressed='true']")).to_have_text("Following ✓")
    page.goto(server + "/authors")
    expect(page.locator("ul.following li a")).to_have_text([name])
    context.close()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    small = phone.new_page()
    small.goto(server + "/authors/" + quote(name, safe=""))
    expect(small.locator("h1")).to_have_text(name)
    assert small.evaluate("() => document.documentElement.scrollWidth") <= 390
    shot(small, "author-phone.png")
    phone.close()


def test_a_collection_made_in_the_browser_and_read_on_a_phone(browser, server, sample_papers):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    register_in_browser(page, server, "curator")
    picks = [p.id for p in sample_papers[10:13]]
    for pid in picks:
        page.goto(server + f"/papers/{pid}")
        page.fill("#tags", "friday-group")
        page.click("button:text('Save to library')")
    page.goto(server + "/library/friday-group")
    page.fill("#col-title", "Friday reading group")
    page.fill("#col-description", "Three papers on **world models**, $O(n)$ each.")
    page.select_option("#col-visibility", "public")
    page.click("#collection button:text('Share')")
    link = page.locator("#collection a[href^='/collections/']").first.get_attribute("href")
    if problems := axe_violations(page):
        pytest.fail(f"library tag with its collection: {problems}")
    context.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, bypass_csp=True)
    small = phone.new_page()
    small.goto(server + link)
    expect(small.locator("h1")).to_have_text("Friday reading group")
    expect(small.locator(".collection-description strong")).to_have_text("world models")
    expect(small.locator(".collection-description .katex")).to_have_count(1)
    expect(small.locator("ol.papers > li.paper")).to_have_count(3)
    assert small.evaluate("() => document.documentElement.scrollWidth") <= 390
    shot(small, "collection-phone.png")
    if problems := axe_violations(small):
        pytest.fail(f"collection page: {problems}")
    small.goto(server + f"/papers/{picks[0]}")
    expect(small.locator(".in-collections")).to_contain_text("Friday reading group")
    phone.close()


def test_a_group_started_joined_and_read_in_the_browser(browser, server, sample_papers):
    """An owner starts a lab, invites; a member joins by the link and saves a paper with a shared note; the owner
    sees the pick and the note on the group's page, and the daily list filtered to the group; an outsider
    opening the group's page gets "not found"."""
    owner_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    owner = owner_ctx.new_page()
    register_in_browser(owner, server, "labhead")
    owner.goto(server + "/groups")
    owner.fill("#group-name", "Robot lab")
    owner.fill("#group-description", "We meet on **Fridays**.")
    owner.click("button:text('Start the group')")
    group_url = owner.url
    owner.click("button:text('Make an invite link')")
    token = owner.locator("code.invite").inner_text().rsplit("/", 1)[1]

    member_ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, bypass_csp=True)
    member = member_ctx.new_page()
    register_in_browser(member, server, "student")
    member.goto(f"{server}/groups/join/{token}")
    member.click("button:text('Join the group')")
    expect(member.locator("h1")).to_have_text("Robot lab")
    pid = sample_papers[30].id
    member.goto(server + f"/papers/{pid}")
    member.fill("#tags", "robots")
    member.click("button:text('Save to library')")
    member.fill("#note", "Section 4 is *the* trick")
    member.click("button:text('Save note and state')")
    member.click(".note-sharing button:text('Robot lab')")
    expect(member.locator(".note-sharing button")).to_contain_text("shared")
    assert member.evaluate("() => document.documentElement.scrollWidth") <= 390

    owner.goto(group_url)
    expect(owner.locator("section[aria-labelledby='picks-h'] li.paper")).to_have_count(1)
    expect(owner.locator(".picked")).to_have_text("Picked by student")
    expect(owner.locator(".shared-notes em")).to_have_text("the")
    shot(owner, "group-desktop.png")
    if problems := axe_violations(owner):
        pytest.fail(f"group page: {problems}")
    day = sample_papers[30].listed_date
    owner.goto(server + f"/papers/date/{day}?sort=new")
    owner.click("nav.groups a:text('Robot lab')")
    expect(owner.locator("ol.papers > li.paper")).to_have_count(1)
    member.goto(group_url)
    expect(member.locator(".shared-notes em")).to_have_text("the")
    assert member.evaluate("() => document.documentElement.scrollWidth") <= 390
    shot(member, "group-phone.png")
    owner_ctx.close()
    member_ctx.close()

    outsider_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    outsider = outsider_ctx.new_page()
    register_in_browser(outsider, server, "stranger")
    response = outsider.goto(group_url)
    assert response.status == 404 and "Robot lab" not in outsider.content()
    outsider_ctx.close()
