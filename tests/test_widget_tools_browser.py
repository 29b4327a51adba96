"""The widget's copy button, the comment after a thumbs down, the demo page's language switch, the panel beside
the site's navigation and the favicon, in headless Chromium against a real server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright

from assistant.api import create_app
from assistant.feedback import FeedbackStore
from kysy.settings import Settings

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
AXE_JS = ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
QUESTION = "Mikä on Etelä-Karjalan väestöpohja?"
Serve = Callable[[FastAPI], AbstractContextManager[str]]


@pytest.fixture(scope="module")
def server(corpus_index: Settings, serve_app: Serve, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("widget-tools") / "data"
    import shutil

    shutil.copytree(corpus_index.data_dir, data)
    settings = corpus_index.model_copy(update={"data_dir": data, "rate_limit_per_minute": 0})
    with serve_app(create_app(settings)) as base:
        yield {"base": base, "settings": settings}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, server: dict[str, Any]) -> Iterator[Page]:
    context = browser.new_context(locale="fi-FI", viewport={"width": 1280, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server["base"])
    page = context.new_page()
    yield page
    context.close()


def _ask(page: Page, base: str, path: str = "/") -> Any:
    page.goto(base + path)
    page.locator('[data-kysy="launcher"]').click()
    page.locator('[data-kysy="input"]').fill(QUESTION)
    page.keyboard.press("Enter")
    answer = page.locator('[data-kysy="answer"]').last
    expect(answer.locator('[data-kysy="feedback-up"]')).to_be_visible(timeout=60_000)
    return answer


def test_the_copy_button_copies_the_answer_with_its_sources(page: Page, server: dict[str, Any]) -> None:
    answer = _ask(page, server["base"])
    expect(answer.locator('[data-kysy="citation"]').first).to_contain_text("dia 9")  # the server's label
    answer.locator('[data-kysy="copy"]').click()
    expect(answer.locator(".feedback-status")).to_have_text("Vastaus kopioitu lähteineen.")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert "127 000" in copied and "\nLähteet:\n[1] " in copied and "dia 9" in copied
    assert "/api/documents/" in copied and "#page=9" in copied


def test_a_thumbs_down_offers_a_comment_that_is_stored(page: Page, server: dict[str, Any]) -> None:
    answer = _ask(page, server["base"])
    answer.locator('[data-kysy="feedback-down"]').click()
    field = answer.locator('[data-kysy="comment"]')
    expect(field).to_be_focused()
    expect(answer.get_by_label("Mikä vastauksessa oli vialla? (vapaaehtoinen)")).to_be_visible()
    page.keyboard.type("Lähde oli väärä dia")
    answer.locator('[data-kysy="comment-send"]').click()
    expect(answer.locator(".feedback-status")).to_have_text("Kiitos, kommentti lähetetty!")
    stored = FeedbackStore(server["settings"].feedback_path).recent()
    assert stored[0].comment == "Lähde oli väärä dia" and stored[0].rating == "down"
    assert stored[0].question == QUESTION


def test_the_demo_page_switches_the_widget_language(page: Page, server: dict[str, Any]) -> None:
    page.goto(server["base"] + "/?lang=sv")
    expect(page.locator('.lang-switch a[aria-current="true"]')).to_have_text("Svenska")
    page.locator('[data-kysy="launcher"]').click()
    expect(page.locator('[role="dialog"]')).to_contain_text("Fråga om samarbetet")
    english = page.context.new_page()  # a new tab: the widget's open panel is remembered per tab
    english.goto(server["base"] + "/?lang=en")
    english.locator('[data-kysy="launcher"]').click()
    expect(english.locator('[data-kysy="input"]')).to_have_attribute("placeholder", "Type a question…")


def test_the_open_panel_leaves_the_site_navigation_usable(page: Page, server: dict[str, Any]) -> None:
    _ask(page, server["base"])
    links = page.locator(".site-header nav a")
    assert links.count() >= 3
    for i in range(links.count()):
        box = links.nth(i).bounding_box()
        assert box is not None
        hit = page.evaluate(
            "([x, y]) => { const e = document.elementFromPoint(x, y); return e && e.closest('nav') ? e.textContent : null; }",
            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
        )
        assert hit == links.nth(i).text_content(), f"the chat panel covers the navigation link {i}"


def test_axe_finds_nothing_serious_with_the_comment_box_open(browser: Browser, server: dict[str, Any]) -> None:
    context = browser.new_context(locale="fi-FI", viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    try:
        answer = _ask(page, server["base"])
        answer.locator('[data-kysy="feedback-down"]').click()
        expect(answer.locator('[data-kysy="comment"]')).to_be_visible()
        page.add_script_tag(content=AXE_JS.read_text(encoding="utf-8"))
        violations = page.evaluate("""async () => {
          const host = document.querySelector('[data-kysy="widget"]');
          const result = await axe.run(host, {resultTypes: ['violations']});
          return result.violations.filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id);
        }""")
        assert violations == []
    finally:
        context.close()


def test_there_is_a_favicon(server: dict[str, Any]) -> None:
    ico = httpx.get(server["base"] + "/favicon.ico", timeout=10)
    assert ico.status_code == 200 and ico.content[:4] == b"\x00\x00\x01\x00" and ico.headers["content-type"].startswith("image/")
    svg = httpx.get(server["base"] + "/favicon.svg", timeout=10)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert 'rel="icon"' in httpx.get(server["base"] + "/", timeout=10).text
