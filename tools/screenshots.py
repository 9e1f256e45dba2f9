"""`make screenshots`: docs/screenshots/ from the demo that `make run` serves, desktop and phone.

Builds the demo store (paperfeed init --demo, indexed) under build/screenshots-data once, serves it with
`paperfeed serve`, signs up a user who upvotes and saves a paper, and photographs the daily, search, paper,
For you, settings and taste pages at 1280x900 and 375x740 in Debian's chromium.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "build" / "screenshots-data"
OUT = REPO / "docs" / "screenshots"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 740}}
QUERY = "diffusion models for video generation"


def paperfeed(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(DATA)}
    return subprocess.Popen([sys.executable, "-m", "paperfeed", *args], env=env, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = paperfeed("serve", "--port", str(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(url + "/healthz", timeout=2)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("paperfeed serve did not start")


def featured_paper(url: str) -> str:
    """The demo's most upvoted paper on Hugging Face (its card shows the community signals)."""
    top = httpx.get(url + "/api/daily_papers", params={"sort": "trending", "limit": 1}).json()
    return top[0]["paper"]["id"]


def prepare(page, url: str, paper: str) -> None:
    page.goto(url + "/register")
    page.fill("#username", "ada")
    page.fill("#password", "analytical engine")
    page.fill("#password2", "analytical engine")
    page.click("main button:text('Sign up')")
    if page.locator("header.site .who").count() == 0:  # a second run: ada exists
        page.goto(url + "/login")
        page.fill("#username", "ada")
        page.fill("#password", "analytical engine")
        page.click("main button:text('Log in')")
    page.goto(url + f"/papers/{paper}")
    if page.locator(".actions button.upvote[aria-pressed=false]").count():
        page.click(".actions button.upvote")
    if page.locator("button:text('Save to library')").count():
        page.fill("#tags", "to-read")
        page.click("button:text('Save to library')")
    page.goto(url + "/settings/taste")
    if page.locator("ul.rules li form").count() == 0:  # a boost rule, shown on the For you cards it lifts
        page.fill("input[name=phrase]", "agent")
        page.click("button:text('Add rule')")


def photograph(browser, url: str, paper: str, storage: dict) -> None:
    pages = {"daily": "/", "search": f"/search?q={QUERY.replace(' ', '+')}", "paper": f"/papers/{paper}"}
    pages["foryou"] = "/?sort=foryou"
    pages["settings"] = "/settings/digest"
    pages["taste"] = "/settings/taste"
    for size, viewport in SIZES.items():
        context = browser.new_context(viewport=viewport, is_mobile=size == "phone", storage_state=storage)
        page = context.new_page()
        for name, path in pages.items():
            page.goto(url + path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT / f"{name}-{size}.png"))
            print(f"docs/screenshots/{name}-{size}.png", flush=True)
        context.close()


def main() -> None:
    if not (DATA / "index" / "vectors").exists():
        print("building the demo store and its index (a few minutes, once)", flush=True)
        if paperfeed("init", "--demo").wait() != 0:
            raise SystemExit("paperfeed init --demo failed")
    OUT.mkdir(parents=True, exist_ok=True)
    proc, url = serve()
    try:
        paper = featured_paper(url)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS, headless=True)
            context = browser.new_context(viewport=SIZES["desktop"])
            prepare(context.new_page(), url, paper)
            photograph(browser, url, paper, context.storage_state())
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
