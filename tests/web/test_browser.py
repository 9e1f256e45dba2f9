"""End to end in a real browser: Debian's chromium driven by Playwright, against `paperfeed serve`.

Walks a researcher's morning (register, log in, browse a day, search, open a paper, upvote, save with a tag,
find it in the library, log out), checks phone width and the keyboard, and takes screenshots
(build/screenshots/, or docs/screenshots/ with `make screenshots`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from paperfeed.search.lexical import query_stems, stem
from tests.conftest import REPO, free_port

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Tests leave the working tree clean: screenshots go under build/ unless asked for elsewhere
# (`make screenshots` points this at docs/screenshots).
SHOTS = Path(os.environ.get("PAPERFEED_SCREENSHOTS_DIR") or REPO / "build" / "screenshots")


@pytest.fixture(scope="module")
def server(tmp_path_factory, indexed_dir, model_cache):
    """`paperfeed serve` on a copy of the indexed sample, as a separate process."""
    import shutil

    data = tmp_path_factory.mktemp("browser") / "data"
    shutil.copytree(indexed_dir, data)
    port = free_port()
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(data), "PAPERFEED_MODEL_CACHE_DIR": str(model_cache)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + "/healthz", timeout=2)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("paperfeed serve did not start")
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


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
    expect(page.locator("nav.account .who")).to_have_text("ada")

    page.click("text=Log out")
    expect(page.locator("nav.account")).to_contain_text("Log in")
    page.click("nav.account >> text=Log in")
    page.fill("#username", "ada")
    page.fill("#password", "analytical engine")
    page.click("main button:text('Log in')")
    expect(page.locator("nav.account .who")).to_have_text("ada")

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

    page.click("nav.primary >> text=Library")
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
        if page.evaluate("document.activeElement.tagName") == "SUMMARY":
            break
    page.keyboard.press("Enter")
    opened = page.locator("details.abstract").first
    expect(opened).to_have_attribute("open", "")
    # The whole abstract, once: its first words are not shown twice (excerpt above the full text).
    text = opened.inner_text()
    assert text.count(opened.locator("p").inner_text()[:80]) == 1, text[:300]
