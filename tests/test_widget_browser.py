"""End-to-end tests of the chat widget in headless Chromium against the real Kysy server.

The module ingests the bundled corpus into a temporary data directory, starts ``kysy serve`` on a
free port and drives the demo page like a user would: typing, clicking, keyboard only, a phone,
200 % zoom, a hostile host page. Only the XSS and error-state tests replace ``/api/chat`` responses
(with ``page.route``) to send what a broken or malicious server could send.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, Route, expect, sync_playwright

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "assistant" / "static"
AXE_JS = ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ADMIN_TOKEN = "widget-test-admin-token-of-32-characters"
POPULATION_Q = "Mikä on Etelä-Karjalan väestöpohja?"
ACTIVE_IN_WIDGET = """() => {
  const host = document.querySelector('[data-kysy="widget"]');
  const active = host && host.shadowRoot.activeElement;
  if (!active) return null;
  return active.getAttribute('data-kysy') || active.tagName.toLowerCase();
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"kysy serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{base}/readyz did not answer 200 in {timeout_s} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embed_cache: Path) -> Iterator[dict[str, Any]]:
    """The real server on the bundled corpus, with its own data directory (and so its own feedback).

    Yields its base URL and data directory. The session's embedding cache is shared, so the
    corpus is embedded once per test session.
    """
    with _served(ROOT / "corpus", tmp_path_factory.mktemp("kysy-data"), embed_cache) as served:
        yield served


@contextlib.contextmanager
def _served(corpus: Path, data_dir: Path, embed_cache: Path) -> Iterator[dict[str, Any]]:
    """``kysy ingest`` of ``corpus`` into ``data_dir``, then ``kysy serve`` on a free port until the block ends."""
    env = {
        **os.environ,
        "KYSY_DATA_DIR": str(data_dir),
        "KYSY_EMBED_CACHE": str(embed_cache),
        "KYSY_CORPUS_DIR": str(corpus),
        "KYSY_ADMIN_TOKEN": ADMIN_TOKEN,
        "KYSY_RATE_LIMIT_PER_MINUTE": "0",
        "KYSY_LLM_BASE_URL": "",
    }
    ingest = subprocess.run(
        [sys.executable, "-m", "cli.main", "ingest", str(corpus)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    if ingest.returncode != 0:
        raise RuntimeError(f"kysy ingest failed ({ingest.returncode}): {ingest.stderr[-2000:]}")
    port = _free_port()
    log = (data_dir / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc)
        yield {"base": base, "data_dir": data_dir}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    with sync_playwright() as playwright:
        chromium = _launch(playwright)
        yield chromium
        chromium.close()


def _launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)


def new_page(browser: Browser, **options: Any) -> Page:
    """A page in a fresh context (desktop size unless ``options`` say otherwise)."""
    options.setdefault("viewport", {"width": 1280, "height": 800})
    context = browser.new_context(locale="fi-FI", **options)
    return context.new_page()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh desktop-sized page."""
    page = new_page(browser)
    yield page
    page.context.close()


def open_chat(page: Page, base: str, path: str = "/") -> None:
    """Load a page with the widget and open the chat panel from the launcher."""
    page.goto(base + path)
    page.locator('[data-kysy="launcher"]').click()
    expect(page.locator('[data-kysy="input"]')).to_be_focused()


def ask(page: Page, question: str) -> Any:
    """Type a question, press Enter and wait for the finished answer; returns its locator."""
    answers = page.locator('[data-kysy="answer"]')
    before = answers.count()
    field = page.locator('[data-kysy="input"]')
    field.click()
    page.keyboard.type(question)
    page.keyboard.press("Enter")
    answer = answers.nth(before)
    expect(answer.locator('[data-kysy="feedback-up"]')).to_be_visible(timeout=60_000)
    expect(answer).to_have_attribute("aria-busy", "false")
    return answer


def _active(page: Page) -> str | None:
    return page.evaluate(ACTIVE_IN_WIDGET)


def _save_screenshot(page: Page, tmp_path: Path) -> None:
    """Keep a screenshot of the answered question; refresh docs/widget.png when asked to."""
    page.screenshot(path=str(tmp_path / "widget.png"))
    if os.environ.get("KYSY_UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=str(ROOT / "docs" / "widget.png"))


# A slow connection: the server's real answer bytes reach the page in 64-byte pieces, 25 ms apart
# (pieces that also split UTF-8 characters and CRLF pairs), instead of in one network read.
SLOW_CHAT_STREAM = """(() => {
  const realFetch = window.fetch;
  window.fetch = async (...args) => {
    const response = await realFetch(...args);
    if (!String(args[0]).endsWith('/api/chat') || !response.body) return response;
    const reader = response.body.getReader();
    const slow = new ReadableStream({
      async pull(controller) {
        const {value, done} = await reader.read();
        if (done) { controller.close(); return; }
        for (let i = 0; i < value.length; i += 64) {
          controller.enqueue(value.slice(i, i + 64));
          await new Promise(resolve => setTimeout(resolve, 25));
        }
      }
    });
    return new Response(slow, {status: response.status, headers: response.headers});
  };
})();"""
RECORD_STREAM = """() => {
  window.__partials = [];
  const root = document.querySelector('[data-kysy="widget"]').shadowRoot;
  new MutationObserver(() => {
    const busy = root.querySelector('[data-kysy="answer"][aria-busy="true"] .answer-text');
    if (busy && busy.textContent) window.__partials.push(busy.textContent);
  }).observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def test_streamed_answer_cites_the_slide_and_opens_it_at_that_page(server, page, tmp_path) -> None:
    page.add_init_script(SLOW_CHAT_STREAM)
    open_chat(page, server["base"])
    page.evaluate(RECORD_STREAM)
    answer = ask(page, POPULATION_Q)

    final = answer.locator(".answer-text").inner_text()
    assert "127 000" in final
    partials = page.evaluate("window.__partials")
    assert partials, "no text was shown while the answer was streaming"
    assert len(partials[0]) < len(final), "the first visible text was already the whole answer"

    card = answer.locator('a[data-kysy="citation"]', has_text="dia 9").first
    expect(card).to_be_visible()
    # Quotes speak in relative time ("ensi vuonna"), so the card says which year the document is from.
    expect(card.locator(".source-page")).to_have_text("2024, dia 9")
    assert card.get_attribute("target") == "_blank"
    assert card.get_attribute("rel") == "noopener noreferrer"
    _save_screenshot(page, tmp_path)
    marker = answer.locator(".answer-text .cite").first
    marker.click()
    assert _active(page) == "citation", "a citation marker should move focus to its source card"

    with page.context.expect_page() as popup_info:
        card.click()
    popup = popup_info.value
    popup.wait_for_load_state("commit")
    assert popup.url.startswith(server["base"] + "/")
    assert popup.url.endswith("#page=9")
    with urllib.request.urlopen(popup.url.split("#")[0], timeout=10) as response:
        assert response.read(5) == b"%PDF-"


def test_follow_up_sends_history_and_cites_the_lapland_slide(server, page) -> None:
    bodies: list[dict[str, Any]] = []
    page.on("request", lambda r: bodies.append(json.loads(r.post_data or "{}")) if r.url.endswith("/api/chat") else None)
    open_chat(page, server["base"])
    first_q = "Mitkä ovat Etelä-Karjalan pilotin painopisteet?"
    ask(page, first_q)
    follow = ask(page, "Entä Lapissa?")

    expect(follow.locator('[data-kysy="citation"]', has_text="dia 12").first).to_be_visible()
    assert bodies[0]["history"] == []
    history = bodies[1]["history"]
    assert [turn["role"] for turn in history] == ["user", "assistant"]
    assert history[0]["content"] == first_q
    assert history[1]["content"].strip()


FUNDERS_QUOTE = "Rahoittajina Kuntaliitto, Hyvil ja STM."
LANG_OF_TEXT = """(scope, text) => {
  const walker = document.createTreeWalker(scope, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.textContent.includes(text)) return node.parentElement.closest('[lang]').getAttribute('lang');
  }
  return null;
}"""
LANG_OF = "e => e.closest('[lang]').getAttribute('lang')"


def _assert_languages(answer: Any, interface: str) -> None:
    """An English answer to "Who funds the project?": each part carries the language a screen reader should speak."""
    text = answer.locator(".answer-text")
    expect(text).to_have_attribute("lang", "en")
    assert text.evaluate(LANG_OF_TEXT, "According to the materials") == "en"
    assert text.evaluate(LANG_OF_TEXT, FUNDERS_QUOTE) == "fi"
    assert text.evaluate(LANG_OF_TEXT, "The quotes are in Finnish") == "en"
    assert text.locator('[data-kysy="cite"]').first.evaluate(LANG_OF) == interface  # "Source 1: ..." is the widget's
    card = answer.locator('[data-kysy="citation"]').first
    expect(card.locator(".source-quote")).to_contain_text(FUNDERS_QUOTE)
    assert card.locator(".source-quote").evaluate(LANG_OF) == "fi"
    assert card.locator(".source-title").evaluate(LANG_OF) == "fi"
    expect(card.locator(".source-page")).to_have_text("2024, slide 3")  # the server labels in the answer's language
    assert card.locator(".source-page").evaluate(LANG_OF) == "en"
    assert answer.locator(".sources-title").evaluate(LANG_OF) == interface
    assert answer.locator('[data-kysy="feedback-down"]').evaluate(LANG_OF) == interface


@pytest.mark.parametrize("interface", ["en", "fi"])
def test_finnish_quotes_in_an_english_answer_are_marked_finnish(server, page, interface) -> None:
    # WCAG 3.1.2: the answer speaks the question's language, the quotes and titles the materials' Finnish.
    open_chat(page, server["base"], f"/?lang={interface}")
    _assert_languages(ask(page, "Who funds the project?"), interface)
    page.reload()  # a restored conversation keeps the languages
    answers = page.locator('[data-kysy="answer"]')
    expect(answers).to_have_count(1)
    _assert_languages(answers.first, interface)


LIST_ANSWER = (
    "The materials do not give the number. The closest passages:\n"
    "Painopisteet:\n- Tiedolla johtaminen [1]\n- Yhdyspintatyön seuraava vaihe [1]\n"
    "The quotes are in Finnish, as in the sources."
)


@pytest.mark.parametrize("mode", ["extractive", "generative"])
def test_a_quoted_list_and_its_heading_are_marked_finnish(server, page, mode) -> None:
    # In a quoting answer the source's list heading is Finnish too; a generated answer is all in its own language.
    citation = {"n": 1, "file": "a.pdf", "title": "Aluepilotit", "page": 9, "label": "slide 9", "quote": "Tiedolla johtaminen"}
    done = {"answer": LIST_ANSWER, "status": "partial", "not_found": True, "language": "en", "mode": mode,
            "citations": [citation]}
    page.route("**/api/chat", lambda route: route.fulfill(
        status=200, content_type="text/event-stream", body=_sse([("done", done)])))
    open_chat(page, server["base"])
    text = ask(page, "How many focus areas are there?").locator(".answer-text")
    quoted = "fi" if mode == "extractive" else "en"
    assert text.evaluate(LANG_OF_TEXT, "The closest passages:") == "en"
    assert text.evaluate(LANG_OF_TEXT, "Painopisteet:") == quoted
    assert text.locator("li").evaluate_all(f"items => items.map({LANG_OF})") == [quoted, quoted]
    assert text.evaluate(LANG_OF_TEXT, "The quotes are in Finnish") == "en"


MIXED_ANSWER = (
    "According to the materials:\n"
    "Yhteistyösopimus allekirjoitettiin. [1]\n"
    "Prioriteringar:\n- Hälsofrämjande [2]\n- Beredskap [2]\n"
    "The quotes are in Finnish and Swedish, as in the sources."
)


def test_each_quote_is_marked_in_the_language_of_the_source_it_cites(server, page) -> None:
    # a Swedish source's lines, its list heading and its card speak Swedish; a citation without a language, Finnish
    citations = [{"n": 1, "file": "a.txt", "title": "Sopimus", "page": None, "label": None,
                  "quote": "Yhteistyösopimus allekirjoitettiin."},
                 {"n": 2, "file": "b.txt", "title": "Avtalet", "page": None, "label": None,
                  "quote": "Hälsofrämjande", "language": "sv"}]
    done = {"answer": MIXED_ANSWER, "status": "answered", "not_found": False, "language": "en", "mode": "extractive",
            "citations": citations}
    page.route("**/api/chat", lambda route: route.fulfill(
        status=200, content_type="text/event-stream", body=_sse([("done", done)])))
    open_chat(page, server["base"])
    answer = ask(page, "What was agreed?")
    text = answer.locator(".answer-text")
    assert text.evaluate(LANG_OF_TEXT, "According to the materials") == "en"
    assert text.evaluate(LANG_OF_TEXT, "Yhteistyösopimus") == "fi"
    assert text.evaluate(LANG_OF_TEXT, "Prioriteringar:") == "sv"
    assert text.locator("li").evaluate_all(f"items => items.map({LANG_OF})") == ["sv", "sv"]
    assert text.evaluate(LANG_OF_TEXT, "The quotes are in Finnish and Swedish") == "en"
    cards = answer.locator('[data-kysy="citation"]')
    assert [cards.nth(i).locator(".source-quote").evaluate(LANG_OF) for i in range(2)] == ["fi", "sv"]
    assert cards.nth(1).locator(".source-title").evaluate(LANG_OF) == "sv"


def _stored_feedback(server: dict[str, Any]) -> str:
    """Everything the server stored as feedback, read back through the admin API."""
    request = urllib.request.Request(
        server["base"] + "/api/admin/feedback", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode("utf-8")


def test_feedback_is_sent_and_stored(server, page) -> None:
    open_chat(page, server["base"])
    answer = ask(page, POPULATION_Q)
    up = answer.locator('[data-kysy="feedback-up"]')
    down = answer.locator('[data-kysy="feedback-down"]')
    up.click()
    expect(up).to_have_attribute("aria-pressed", "true")
    expect(down).to_have_attribute("aria-pressed", "false")
    expect(answer.locator(".feedback-status")).to_have_text("Kiitos palautteesta!")

    stored = _stored_feedback(server)
    assert POPULATION_Q in stored
    assert re.search(r'"up"|\bup\b', stored)


@pytest.mark.parametrize(
    "viewport", [{"width": 320, "height": 256}, {"width": 1280, "height": 800}], ids=["zoom-400-percent", "desktop"],
)
def test_the_comment_field_after_a_thumbs_down_is_wholly_in_view(server, browser, viewport) -> None:
    page = new_page(browser, viewport=viewport)
    try:
        open_chat(page, server["base"])
        ask(page, "Ketkä rahoittavat yhdyspintaprojektia?")
        answer = ask(page, POPULATION_Q)
        answer.locator('[data-kysy="feedback-down"]').press("Enter")
        field = answer.locator('[data-kysy="comment"]')
        expect(field).to_be_focused()
        _in_log_view(page, field)
        assert page.evaluate("window.scrollY") == 0, "showing the comment field scrolled the page behind the panel"

        # Scrolled half out of sight and reached again from its send button, it comes wholly into view again.
        answer.locator('[data-kysy="comment-send"]').focus()
        log = page.locator(".log")
        log.evaluate("(log, field) => { log.scrollTop += field.getBoundingClientRect().top - log.getBoundingClientRect().bottom + 20; }",
                     field.element_handle())
        page.keyboard.press("Shift+Tab")
        expect(field).to_be_focused()
        _in_log_view(page, field)
    finally:
        page.context.close()


def test_enter_sends_the_comment_as_typed_and_a_draft_survives_a_reload(server, page) -> None:
    sent: list[dict[str, Any]] = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data or "{}")) if r.url.endswith("/api/feedback") else None)
    question = "Miten aluepiloteissa toimitaan?"
    open_chat(page, server["base"])
    ask(page, question).locator('[data-kysy="feedback-down"]').click()
    expect(page.locator('[data-kysy="comment"]')).to_be_focused()
    page.keyboard.type("Vuosi puuttuu,")
    page.reload()  # an unsent comment is kept with the conversation, and so is the thumbs down
    answer = page.locator('[data-kysy="answer"]').first
    field = answer.locator('[data-kysy="comment"]')
    expect(answer.locator('[data-kysy="feedback-down"]')).to_have_attribute("aria-pressed", "true")
    expect(field).to_have_value("Vuosi puuttuu,")
    field.click()
    page.keyboard.press("End")
    page.keyboard.press("Shift+Enter")  # a new line in the comment
    page.keyboard.type("ja lähde on vanha.")
    page.keyboard.press("Enter")  # sends it
    expect(answer.locator(".feedback-status")).to_have_text("Kiitos, kommentti lähetetty!")
    expect(field).to_have_count(0)
    assert page.evaluate(IN_PANEL), "focus left the panel with the sent comment"

    typed = "Vuosi puuttuu,\nja lähde on vanha."
    assert [body.get("comment") for body in sent] == [None, typed]  # the thumbs down itself has no (empty) comment
    stored = [item for item in json.loads(_stored_feedback(server))["items"] if item["question"] == question]
    assert [(item["rating"], item["comment"]) for item in stored] == [("down", typed), ("down", None)]  # newest first
    page.reload()  # a sent comment does not come back
    expect(page.locator('[data-kysy="answer"]')).to_have_count(1)
    expect(page.locator('[data-kysy="comment"]')).to_have_count(0)


def _in_log_view(page: Page, locator: Any) -> None:
    box, log = locator.bounding_box(), page.locator(".log").bounding_box()
    assert box and log
    assert box["y"] >= log["y"] - 0.5 and box["y"] + box["height"] <= log["y"] + log["height"] + 0.5, f"{box} not in {log}"


def test_question_outside_the_materials_is_answered_plainly_as_not_found(server, page) -> None:
    open_chat(page, server["base"])
    answer = ask(page, "Mikä on Marsin pääkaupunki?")
    expect(answer).to_have_class(re.compile(r"\bnot-found\b"))
    expect(answer.locator(".not-found-label")).to_have_text("Vastausta ei löytynyt aineistoista")
    expect(answer.locator('[data-kysy="citation"]')).to_have_count(0)
    expect(answer.locator(".answer-text")).to_contain_text("Aineistosta ei löydy vastausta")


def test_the_topics_a_not_found_answer_names_can_be_asked_with_a_click(server, page) -> None:
    open_chat(page, server["base"])
    answer = ask(page, "Mikä on Marsin pääkaupunki?")
    topics = answer.locator('[data-kysy="topic"]')
    expect(topics.first).to_be_visible()
    names = [name.strip() for name in topics.all_inner_texts()]
    assert 1 <= len(names) <= 3 and all(names), names
    topics.first.focus()
    page.keyboard.press("Enter")  # a real button: the keyboard asks it too
    expect(page.locator(".msg.user .bubble").last).to_have_text(names[0])
    asked = page.locator('[data-kysy="answer"]').nth(1)
    expect(asked.locator('[data-kysy="feedback-up"]')).to_be_visible(timeout=60_000)
    expect(asked).not_to_have_class(re.compile(r"\bnot-found\b"))  # a topic of the materials is answered
    expect(asked.locator('[data-kysy="citation"]').first).to_be_visible()
    page.reload()  # the kept conversation offers its topics again
    expect(page.locator('[data-kysy="answer"]')).to_have_count(2)
    expect(page.locator('[data-kysy="answer"]').first.locator('[data-kysy="topic"]')).to_have_count(len(names))


def test_thanks_gets_a_plain_reply_without_a_not_found_label(server, page) -> None:
    open_chat(page, server["base"])
    answer = ask(page, "Kiitos!")
    expect(answer.locator(".answer-text")).to_contain_text("Ole hyvä!")
    expect(answer).not_to_have_class(re.compile(r"\bnot-found\b"))
    expect(answer.locator(".not-found-label")).to_have_count(0)
    expect(answer.locator('[data-kysy="citation"]')).to_have_count(0)


def test_what_happened_after_quotes_later_sources_then_says_there_are_none(server, page) -> None:
    open_chat(page, server["base"])
    first = ask(page, "Mitä Kuntaliitto ehdotti hyvinvointialueille vuonna 2022?")
    expect(first.locator('[data-kysy="citation"]').first).to_contain_text("2022")
    later = ask(page, "Entä mitä siitä on tapahtunut sen jälkeen?")
    titles = later.locator('[data-kysy="citation"]')
    expect(titles.first).to_be_visible()
    assert all("2022" not in text for text in titles.all_inner_texts()), titles.all_inner_texts()
    last = ask(page, "Entä sen jälkeen?")
    expect(last.locator(".answer-text")).to_contain_text("vuoden 2024 jälkeen julkaistua tietoa")
    expect(last).not_to_have_class(re.compile(r"\bnot-found\b"))
    expect(last.locator('[data-kysy="citation"]')).to_have_count(0)


def test_asking_for_more_goes_on_until_the_materials_hold_no_more(tmp_path: Path, embed_cache: Path, page) -> None:
    # a corpus of one short text: each "kerro lisää" quotes what was not quoted yet, then says there is no more
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "laidun.txt").write_text(
        "Kuusamon yhteislaidun\n\n"
        "Kuusamon yhteislaitumella on talvella 4 242 poroa.\n\n"
        "Laidunta hoitaa paliskunta yhdessä kunnan kanssa, ja sen rajat tarkistetaan joka kevät.\n",
        encoding="utf-8",
    )
    data = tmp_path / "data"
    data.mkdir()
    with _served(corpus, data, embed_cache) as served:
        open_chat(page, served["base"])
        first = ask(page, "Montako poroa Kuusamon yhteislaitumella on?")
        expect(first.locator(".answer-text")).to_contain_text("4 242")
        for _ in range(3):
            answer = ask(page, "kerro lisää")
            text = answer.locator(".answer-text").inner_text()
            if "Aineistossa ei ole tästä enempää" in text:
                break
            assert "4 242" not in text, "a request to go on quoted the first answer again"
        expect(answer.locator(".answer-text")).to_contain_text("Aineistossa ei ole tästä enempää")
        expect(answer).not_to_have_class(re.compile(r"\bnot-found\b"))
        expect(answer.locator(".not-found-label")).to_have_count(0)


def test_a_paste_over_the_question_limit_is_cut_and_said_so(server, page) -> None:
    open_chat(page, server["base"])
    field = page.locator('[data-kysy="widget"] [data-kysy="input"]')
    note = page.locator('[data-kysy="widget"] [data-kysy="limit-note"]')
    expect(note).to_be_hidden()
    field.focus()
    page.keyboard.insert_text("Mikä on Etelä-Karjalan väestöpohja? " * 100)
    limit = httpx.get(f"{server['base']}/api/config", timeout=30).json()["max_question_chars"]
    assert len(field.input_value()) == limit
    expect(note).to_be_visible()
    expect(note).to_contain_text(f"Kysymykseen mahtuu {limit} merkkiä")
    field.fill("Mikä on Etelä-Karjalan väestöpohja?")
    field.press("End")
    page.keyboard.type("x")
    expect(note).to_be_hidden()


IN_PANEL = """() => {
  const root = document.querySelector('[data-kysy="widget"]').shadowRoot;
  const active = root.activeElement;
  return !!active && root.getElementById('kysy-panel').contains(active);
}"""


def test_keyboard_only_use(server, page) -> None:
    page.goto(server["base"] + "/")
    for _ in range(40):
        page.keyboard.press("Tab")
        if _active(page) == "launcher":
            break
    else:
        pytest.fail("Tab never reached the chat launcher")
    page.keyboard.press("Enter")
    assert _active(page) == "input"
    page.keyboard.type(POPULATION_Q)
    page.keyboard.press("Enter")
    expect(page.locator('[data-kysy="feedback-up"]')).to_be_visible(timeout=60_000)

    for key in ["Tab"] * 30 + ["Shift+Tab"] * 10:
        page.keyboard.press(key)
        assert page.evaluate(IN_PANEL), f"focus left the open chat panel after {key}"
    page.keyboard.press("Escape")
    expect(page.locator('[role="dialog"]')).to_be_hidden()
    assert _active(page) == "launcher"
    expect(page.locator('[data-kysy="launcher"]')).to_have_attribute("aria-expanded", "false")


def test_a_panel_reopened_by_a_reload_takes_the_focus_and_keeps_it(server, page) -> None:
    # The panel is a modal dialog: restored open, it must not leave focus on the page behind it.
    open_chat(page, server["base"])
    ask(page, POPULATION_Q)
    page.reload()
    expect(page.locator('[data-kysy="answer"]')).to_have_count(1)
    expect(page.locator('[data-kysy="input"]')).to_be_focused()
    at_end = "e => e.scrollHeight > e.clientHeight && e.scrollHeight - e.scrollTop - e.clientHeight < 2"
    assert page.locator(".log").evaluate(at_end), "the restored conversation should show its latest answer"
    for key in ["Tab"] * 12 + ["Shift+Tab"] * 4:
        page.keyboard.press(key)
        assert page.evaluate(IN_PANEL), f"focus left the reopened chat panel after {key}"


AXE_RUN = """async () => {
  const host = document.querySelector('[data-kysy="widget"]');
  // Let opening animations end first: mid-fade text has a lower contrast than the finished panel.
  const finite = host.shadowRoot.getAnimations()
    .filter(a => a.effect && a.effect.getComputedTiming().iterations !== Infinity);
  await Promise.all(finite.map(a => a.finished.catch(() => null)));
  const result = await axe.run(host, {resultTypes: ['violations']});
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.id}: ${v.help} ${JSON.stringify(v.nodes.map(n => n.target))}`);
}"""


def test_axe_finds_no_serious_violations(server, browser) -> None:
    page = new_page(browser, bypass_csp=True)
    try:
        if not AXE_JS.is_file():
            pytest.fail(f"{AXE_JS} is missing: run `npm ci --prefix tests/js` (make test does)")
        open_chat(page, server["base"])
        page.add_script_tag(content=AXE_JS.read_text(encoding="utf-8"))
        assert page.evaluate(AXE_RUN) == []
        ask(page, POPULATION_Q)
        assert page.evaluate(AXE_RUN) == []
    finally:
        page.context.close()


def _sse(events: list[tuple[str, dict[str, Any]]]) -> str:
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


XSS_TEXT = (
    "Vastaus <script>window.__pwned=1</script> ja <img src=x onerror=\"window.__pwned=1\"> [1]\n"
    "- [klik](javascript:window.__pwned=1)\n"
    "- ![x](https://evil.example/x.png) [2]"
)
XSS_CITATIONS = [
    {"n": 1, "file": "a.pdf", "title": "<img src=x onerror=\"window.__pwned=1\">", "page": 3,
     "quote": "<b>lainaus</b>", "url": "javascript:alert(1)"},
    {"n": 2, "file": "b.pdf", "title": "Oikea lähde", "page": 2, "quote": "lainaus",
     "url": "/api/documents/abc/file#page=2"},
]
SHADOW_COUNT = """sel => document.querySelector('[data-kysy="widget"]').shadowRoot.querySelectorAll(sel).length"""


def test_answer_text_and_citations_are_never_html(server, browser) -> None:
    # CSP is bypassed so that only the widget itself stands between the payloads and the page.
    page = new_page(browser, bypass_csp=True)
    evil: list[str] = []
    page.on("request", lambda r: evil.append(r.url) if "evil.example" in r.url else None)
    body = _sse([("token", {"text": XSS_TEXT[:40]}), ("token", {"text": XSS_TEXT[40:]}),
                 ("done", {"answer": XSS_TEXT, "not_found": False, "language": "fi", "mode": "extractive",
                           "citations": XSS_CITATIONS})])
    page.route("**/api/chat", lambda route: route.fulfill(status=200, content_type="text/event-stream", body=body))
    page.route("**/*evil.example*/**", lambda route: route.abort())
    try:
        open_chat(page, server["base"])
        answer = ask(page, "Testi")
        text = answer.locator(".answer-text")
        expect(text).to_contain_text("<script>window.__pwned=1</script>")
        expect(text).to_contain_text("[klik](javascript:window.__pwned=1)")
        expect(text).to_contain_text("![x](https://evil.example/x.png)")
        page.wait_for_timeout(300)
        assert page.evaluate("window.__pwned") is None
        assert page.evaluate(SHADOW_COUNT, "img, script, iframe, object, embed") == 0
        assert page.evaluate("document.querySelectorAll('img').length") == 0
        assert page.evaluate(SHADOW_COUNT, "[href^='javascript:' i], [src]") == 0
        assert evil == []

        bad, good = answer.locator('[data-kysy="citation"]').all()
        assert bad.evaluate("e => e.tagName") != "A" and bad.get_attribute("href") is None
        expect(bad).to_contain_text('<img src=x onerror="window.__pwned=1">')
        assert good.get_attribute("href") == server["base"] + "/api/documents/abc/file#page=2"
        assert answer.locator(".answer-text a.cite").count() == 1  # only [2] links to a document
    finally:
        page.context.close()


def test_hostile_host_css_cannot_hide_or_restyle_the_widget(server, page) -> None:
    page.goto(server["base"] + "/demo-hostile.html")
    heading = page.locator("h1").evaluate("e => [getComputedStyle(e).color, getComputedStyle(e).fontSize]")
    assert heading == ["rgb(255, 0, 0)", "40px"], "the hostile stylesheet is not in effect"
    launcher = page.locator('[data-kysy="launcher"]')
    expect(launcher).to_be_visible()
    box = launcher.bounding_box()
    assert box and box["width"] >= 44 and box["height"] >= 44
    assert box["x"] + box["width"] <= 1280 and box["y"] + box["height"] <= 800
    color, size = launcher.evaluate("e => [getComputedStyle(e).color, getComputedStyle(e).fontSize]")
    assert color == "rgb(255, 255, 255)" and size == "17px"

    launcher.click()
    answer = ask(page, POPULATION_Q)
    text = answer.locator(".answer-text p").first
    color, size = text.evaluate("e => [getComputedStyle(e).color, getComputedStyle(e).fontSize]")
    assert color == "rgb(27, 31, 36)" and size == "16px"
    panel = page.locator('[role="dialog"]').bounding_box()
    assert panel and panel["x"] >= 0 and panel["y"] >= 0 and panel["x"] + panel["width"] <= 1280


def _fits(page: Page, selector: str, width: int, height: int) -> None:
    box = page.locator(selector).bounding_box()
    assert box, f"{selector} is not rendered"
    assert box["x"] >= 0 and box["y"] >= 0, f"{selector} starts off screen: {box}"
    assert box["x"] + box["width"] <= width + 0.5 and box["y"] + box["height"] <= height + 0.5, f"{selector}: {box}"


NO_SIDEWAYS_SCROLL = """() => {
  const root = document.querySelector('[data-kysy="widget"]').shadowRoot;
  return [...root.querySelectorAll('.panel, .log')].every(e => e.scrollWidth <= e.clientWidth + 1);
}"""


PANEL_ANIMATIONS = """() => document.querySelector('[data-kysy="widget"]').shadowRoot
  .querySelector('.panel').getAnimations().filter(a => a.playState !== 'finished').length"""


@pytest.mark.parametrize(
    ("viewport", "motion"),
    [({"width": 360, "height": 740}, "reduce"), ({"width": 640, "height": 400}, "no-preference")],
    ids=["phone-360x740-reduced-motion", "zoom-200-percent"],
)
def test_small_screens_and_200_percent_zoom(server, browser, viewport, motion) -> None:
    # 200 % zoom of a 1280x800 window is a 640x400 CSS-pixel viewport at twice the pixel density.
    page = new_page(
        browser, viewport=viewport, device_scale_factor=2, has_touch=viewport["width"] < 480, reduced_motion=motion,
    )
    try:
        open_chat(page, server["base"])
        if motion == "reduce":
            assert page.evaluate(PANEL_ANIMATIONS) == 0, "the panel animates although reduced motion is asked for"
        else:
            page.wait_for_function(PANEL_ANIMATIONS.replace(".length", ".length === 0"))
        width, height = viewport["width"], viewport["height"]
        panel = page.locator('[role="dialog"]').bounding_box()
        assert panel == pytest.approx({"x": 0, "y": 0, "width": width, "height": height}, abs=0.5)
        for selector in ('[data-kysy="input"]', '[data-kysy="send"]', '[data-kysy="new-conversation"]'):
            _fits(page, selector, width, height)
        answer = ask(page, POPULATION_Q)
        expect(answer.locator(".answer-text")).to_contain_text("127 000")
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        _fits(page, '[data-kysy="input"]', width, height)
    finally:
        page.context.close()


def test_400_percent_zoom_leaves_the_messages_half_the_panel(server, browser) -> None:
    # 400 % zoom of a 1280x1024 window is a 320x256 CSS-pixel viewport: the header shrinks to one slim line.
    page = new_page(browser, viewport={"width": 320, "height": 256}, device_scale_factor=4)
    try:
        open_chat(page, server["base"])
        page.wait_for_function(PANEL_ANIMATIONS.replace(".length", ".length === 0"))
        panel = page.locator('[role="dialog"]').bounding_box()
        assert panel == pytest.approx({"x": 0, "y": 0, "width": 320, "height": 256}, abs=0.5)
        log = page.locator(".log").bounding_box()
        assert panel and log and log["height"] >= panel["height"] / 2, f"the messages get {log} of {panel}"
        expect(page.locator(".title")).to_be_visible()
        for selector in ('[data-kysy="input"]', '[data-kysy="send"]', '[data-kysy="new-conversation"]', '[data-kysy="close"]'):
            _fits(page, selector, 320, 256)
        answer = ask(page, POPULATION_Q)
        expect(answer.locator(".answer-text")).to_contain_text("127 000")
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
    finally:
        page.context.close()


SLASHED = "Yhteistyöfoorumit/verkostot/työryhmät/toimikunnat: HYTE-johtoryhmä (maakunnallinen)"
LINES_OF_WORD = """(scope, word) => {
  const walker = document.createTreeWalker(scope, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.textContent.indexOf(word);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + word.length);
    return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
  }
  return 0;
}"""


def test_long_finnish_words_break_only_where_they_must_on_a_phone(server, browser) -> None:
    # A slide's "foorumit/verkostot/työryhmät" wraps after a slash, not inside "työryhmät"; a word wider than
    # the bubble still breaks, and nothing scrolls sideways.
    too_long = "Hyvinvointialueyhteistyöneuvottelukuntatyöryhmäsuunnitelmaluonnos"
    citation = {"n": 1, "file": "a.pdf", "title": "Aluepilotit", "page": 10, "label": "dia 10", "quote": SLASHED}
    done = {"answer": f"Aineiston mukaan:\n- {SLASHED} [1]\n- {too_long} [1]", "status": "answered",
            "not_found": False, "language": "fi", "mode": "extractive", "citations": [citation]}
    page = new_page(browser, viewport={"width": 390, "height": 844}, device_scale_factor=2, has_touch=True)
    page.route("**/api/chat", lambda route: route.fulfill(
        status=200, content_type="text/event-stream", body=_sse([("done", done)])))
    try:
        open_chat(page, server["base"])
        answer = ask(page, "Miten muut alueet ovat järjestäneet hyte-yhteistyön?")
        for part in (".answer-text", ".source-quote"):
            scope = answer.locator(part)
            for word in ("Yhteistyöfoorumit/", "verkostot/", "työryhmät/", "toimikunnat:", "HYTE-", "johtoryhmä"):
                assert scope.evaluate(LINES_OF_WORD, word) == 1, f"{word!r} is broken across lines in {part}"
        assert answer.locator(".answer-text").evaluate(LINES_OF_WORD, too_long) > 1
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        page.context.close()


def test_the_demo_page_reflows_at_320_px(server, browser) -> None:
    # WCAG 1.4.10: at 320 CSS px long Finnish compounds ("hyvinvointialueiden") wrap; nothing scrolls sideways.
    page = new_page(browser, viewport={"width": 320, "height": 640})
    try:
        page.goto(server["base"] + "/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        for heading in page.locator("h1, h2").all():
            assert heading.evaluate("e => e.scrollWidth <= e.clientWidth"), f"{heading.inner_text()!r} is clipped"
    finally:
        page.context.close()


def test_error_states_explain_and_retry(server, page) -> None:
    state = {"mode": "rate"}

    def handle(route: Route) -> None:
        mode = state["mode"]
        if mode == "rate":
            route.fulfill(status=429, headers={"Retry-After": "2"}, json={"error": "rate_limited", "message": "x"})
        elif mode == "offline":
            route.abort("internetdisconnected")
        elif mode == "busy":
            route.fulfill(status=503, json={"error": "busy", "message": "x"})
        elif mode == "broken":
            route.fulfill(status=200, content_type="text/event-stream", body=_sse([("error", {"error": "x", "message": "y"})]))
        else:
            route.continue_()

    page.route("**/api/chat", handle)
    open_chat(page, server["base"])
    page.keyboard.type(POPULATION_Q)
    page.keyboard.press("Enter")
    error = page.locator('[data-kysy="error"]')
    retry = error.locator('[data-kysy="retry"]')
    expect(error).to_contain_text("2 sekunnin kuluttua")
    expect(retry).to_be_disabled()
    expect(retry).to_be_enabled(timeout=5_000)

    for mode, message in [("offline", "verkkoyhteys"), ("busy", "ruuhkautunut"), ("broken", "virhe")]:
        state["mode"] = mode
        retry.click()
        expect(error).to_contain_text(message)
        expect(error).to_have_count(1)
        expect(page.locator('[data-kysy="answer"]')).to_have_count(0)

    state["mode"] = "real"
    retry.click()
    expect(error).to_have_count(0)
    answer = page.locator('[data-kysy="answer"]')
    expect(answer.locator('[data-kysy="citation"]').first).to_be_visible(timeout=60_000)
    expect(page.locator(".msg.user")).to_have_count(1)


def test_failed_attempts_are_replaced_in_place_not_piled_up(server, page) -> None:
    state = {"mode": "offline"}

    def handle(route: Route) -> None:
        if state["mode"] == "offline":
            route.abort("internetdisconnected")
        elif state["mode"] == "rate":
            route.fulfill(status=429, headers={"Retry-After": "1"}, json={"error": "rate_limited", "message": "x"})
        else:
            route.continue_()

    page.route("**/api/chat", handle)
    open_chat(page, server["base"])
    errors = page.locator('[data-kysy="error"]')
    retries = page.locator('[data-kysy="retry"]')
    questions = page.locator(".msg.user")
    for _ in range(2):  # the same question sent again takes the failed attempt's place
        page.keyboard.type(POPULATION_Q)
        page.keyboard.press("Enter")
        expect(errors).to_contain_text("verkkoyhteys")
        expect(questions).to_have_count(1)
        expect(errors).to_have_count(1)

    page.keyboard.type("Entä Lapissa?")  # another question: the earlier error stays, its retry goes
    page.keyboard.press("Enter")
    expect(errors).to_have_count(2)
    expect(retries).to_have_count(1)
    expect(errors.last.locator('[data-kysy="retry"]')).to_have_count(1)

    state["mode"] = "rate"
    for _ in range(2):  # each retry replaces the error, and waits out the Retry-After again
        retries.click()
        expect(errors.last).to_contain_text("1 sekunnin kuluttua")
        expect(errors).to_have_count(2)
        expect(retries).to_have_count(1)
        expect(retries).to_be_disabled()
        expect(retries).to_be_enabled(timeout=5_000)
        expect(errors.last).to_contain_text("Voit nyt yrittää uudelleen")

    state["mode"] = "real"
    retries.click()
    expect(errors).to_have_count(1)
    expect(retries).to_have_count(0)
    expect(page.locator('[data-kysy="answer"] [data-kysy="feedback-up"]')).to_be_visible(timeout=60_000)
    kinds = page.locator(".log > .msg").evaluate_all("ms => ms.map(m => m.dataset.kysy || m.textContent)")
    assert kinds == [f"Sinä: {POPULATION_Q}", "error", "Sinä: Entä Lapissa?", "answer"]


HUNG_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>Jumissa</title></head>
<body><main><h1>Palvelin jumissa</h1></main>
<script src="/widget.js" data-lang="{lang}" data-timeout="1.5" defer></script></body></html>"""


class _HungKysy(BaseHTTPRequestHandler):
    """Serves a page with the widget; its ``/api/chat`` says nothing at all (``mode`` "silent", like a
    stopped process), starts the event stream with one token and stalls ("stalling"), or answers with a
    token every 0.5 s for 3 s ("slow"). A hung chat waits until ``release`` is set."""

    release: threading.Event
    mode: str
    lang: str

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        files = {"/widget.js": "text/javascript", "/widget.css": "text/css"}
        if self.path in files:
            body, kind = (STATIC / self.path[1:]).read_bytes(), files[self.path]
        elif self.path == "/":
            body, kind = HUNG_PAGE.format(lang=self.lang).encode(), "text/html; charset=utf-8"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        if self.mode == "silent":
            self.release.wait(30)
            return
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for _ in range(6 if self.mode == "slow" else 1):
            self.wfile.write(_sse([("token", {"text": "Hidas "})]).encode())
            self.wfile.flush()
            time.sleep(0.5)
        if self.mode == "stalling":
            self.release.wait(30)
            return
        done = {"answer": "Hidas mutta valmis vastaus.", "status": "answered", "not_found": False, "citations": []}
        self.wfile.write(_sse([("done", done)]).encode())

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        pass


@pytest.fixture
def hung_kysy(request: pytest.FixtureRequest) -> Iterator[str]:
    """A ``_HungKysy`` on 127.0.0.1 in the (mode, lang) the test is parametrized with; yields its address."""
    release = threading.Event()
    mode, lang = request.param
    handler = type("Handler", (_HungKysy,), {"release": release, "mode": mode, "lang": lang})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


TIMED_OUT = {"fi": "Palvelu ei vastannut ajoissa. Yritä uudelleen.", "en": "The service did not answer in time."}


@pytest.mark.parametrize(
    "hung_kysy", [("silent", "fi"), ("stalling", "en")], ids=["silent-fi", "stalling-after-a-token-en"], indirect=True,
)
def test_a_hung_server_times_out_with_a_retry(page, hung_kysy) -> None:
    page.goto(hung_kysy + "/")
    lang = page.locator("html").get_attribute("lang") or "fi"
    page.locator('[data-kysy="launcher"]').click()
    page.keyboard.type(POPULATION_Q)
    page.keyboard.press("Enter")
    log = page.locator(".log")
    send = page.locator('[data-kysy="send"]')
    error = page.locator('[data-kysy="error"]')
    expect(send).to_have_attribute("aria-disabled", "true")
    expect(log).to_have_attribute("aria-busy", "true")

    expect(error).to_contain_text(TIMED_OUT[lang], timeout=10_000)
    expect(send).to_have_attribute("aria-disabled", "false")
    expect(log).to_have_attribute("aria-busy", "false")
    expect(page.locator('[data-kysy="answer"]')).to_have_count(0)  # nor is a half-streamed answer left

    error.locator('[data-kysy="retry"]').click()  # the retry hangs too, and its error takes the same place
    expect(send).to_have_attribute("aria-disabled", "true")
    expect(error).to_have_count(0)
    expect(error).to_have_count(1, timeout=10_000)
    expect(send).to_have_attribute("aria-disabled", "false")
    expect(page.locator(".msg.user")).to_have_count(1)


@pytest.mark.parametrize("hung_kysy", [("slow", "fi")], ids=["slow"], indirect=True)
def test_a_slow_answer_that_keeps_streaming_is_not_cut_off(page, hung_kysy) -> None:
    # 3 s in all against a 1.5 s timeout: only a silence that long fails a question.
    page.goto(hung_kysy + "/")
    page.locator('[data-kysy="launcher"]').click()
    page.keyboard.type(POPULATION_Q)
    page.keyboard.press("Enter")
    answer = page.locator('[data-kysy="answer"]')
    expect(answer.locator(".answer-text")).to_have_text("Hidas mutta valmis vastaus.", timeout=10_000)
    expect(answer).to_have_attribute("aria-busy", "false")
    expect(page.locator('[data-kysy="error"]')).to_have_count(0)


def test_new_conversation_clears_history_and_offers_starters(server, page) -> None:
    bodies: list[dict[str, Any]] = []
    page.on("request", lambda r: bodies.append(json.loads(r.post_data or "{}")) if r.url.endswith("/api/chat") else None)
    open_chat(page, server["base"])
    starters = page.locator(".starter")
    expect(starters).to_have_count(4)
    ask(page, POPULATION_Q)
    expect(starters).to_have_count(0)

    page.locator('[data-kysy="new-conversation"]').click()
    expect(page.locator('[data-kysy="answer"]')).to_have_count(0)
    expect(page.locator('[data-kysy="input"]')).to_be_focused()
    starters.filter(has_text="Miten aluepiloteissa toimitaan?").click()
    expect(page.locator('[data-kysy="answer"] [data-kysy="citation"]').first).to_be_visible(timeout=60_000)
    assert bodies[-1] == {"question": "Miten aluepiloteissa toimitaan?", "history": []}


EMBED_PAGE = """<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>Inbäddning</title></head>
<body><main><h1>Inbäddad chatt</h1><div id="chat-here" style="{style}"></div></main>
<script src="/widget.js" data-kysy-api="{api}" {attrs} defer></script></body></html>"""


def _embed(page: Page, base: str, attrs: str, api: str = "", style: str = "") -> None:
    """Load a host page on the server's origin whose script tag carries ``attrs`` (and ``api`` as its API);
    ``style`` is the inline style of its ``#chat-here`` element."""
    body = EMBED_PAGE.format(api=api, attrs=attrs, style=style)
    page.route(base + "/embed-test.html", lambda route: route.fulfill(
        status=200, content_type="text/html; charset=utf-8", body=body))
    page.goto(base + "/embed-test.html")


def test_inline_mode_language_title_and_unreadable_accent(server, page) -> None:
    _embed(page, server["base"], 'data-lang="sv" data-title="Fråga oss" data-accent="#ffd800" data-target="#chat-here"')
    expect(page.locator('[data-kysy="launcher"]')).to_have_count(0)
    expect(page.locator("#chat-here > [data-kysy='widget']")).to_have_count(1)
    expect(page.locator(".title")).to_have_text("Fråga oss")
    expect(page.locator(".starter").first).to_have_text("Vem finansierar projektet om samarbetsytor?")
    expect(page.locator('[data-kysy="input"]')).to_have_attribute("placeholder", "Skriv en fråga…")
    # Yellow fails 4.5:1 against white text, so the default blue is kept.
    header = page.locator(".header").evaluate("e => getComputedStyle(e).backgroundColor")
    assert header == "rgb(0, 85, 160)"


@pytest.mark.parametrize(
    ("style", "height"),
    [("width: 600px; height: 500px; border: 1px solid #ccc", 500), ("width: 600px", 600)],
    ids=["element-600x500", "element-without-a-height"],
)
def test_inline_chat_fills_its_element_and_scrolls_inside_it(server, page, style, height) -> None:
    # The integrator sizes the element; one without a height of its own gets 600 px, not a page that grows.
    _embed(page, server["base"], 'data-lang="fi" data-target="#chat-here"', style=style)
    target, panel, log = page.locator("#chat-here"), page.locator(".panel"), page.locator(".log")
    expect(page.locator(".starter").first).to_be_visible()
    for question in ("Ketkä rahoittavat yhdyspintaprojektia?", POPULATION_Q):
        ask(page, question)
        inner = target.evaluate("e => { const r = e.getBoundingClientRect(); return {x: r.x + e.clientLeft, "
                                "y: r.y + e.clientTop, width: e.clientWidth, height: e.clientHeight}; }")
        assert inner == pytest.approx({**inner, "width": 600, "height": height}, abs=0.5)
        assert panel.bounding_box() == pytest.approx(inner, abs=0.5), "the chat does not fill its element"
        field = page.locator('[data-kysy="input"]').bounding_box()
        assert field and field["y"] + field["height"] <= inner["y"] + inner["height"], "the input left the element"
    assert log.evaluate("e => e.scrollHeight > e.clientHeight"), "the answers should scroll inside the element"
    assert page.evaluate("document.documentElement.scrollHeight") <= 800, "the page grew with the conversation"


def test_custom_accent_and_left_position(server, page) -> None:
    _embed(page, server["base"], 'data-accent="#7a1f5c" data-position="bottom-left" data-lang="en"')
    launcher = page.locator('[data-kysy="launcher"]')
    expect(launcher).to_have_attribute("aria-label", "Open the Kysy chat")
    assert launcher.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(122, 31, 92)"
    box = launcher.bounding_box()
    assert box and box["x"] < 100
    launcher.click()
    page.keyboard.press("Escape")
    assert _active(page) == "launcher"


@pytest.mark.parametrize(
    ("lang", "open_name", "close_name"),
    [
        ("fi", "Avaa Kysy-chat", "Sulje Kysy-chat"),
        ("sv", "Öppna Kysy-chatten", "Stäng Kysy-chatten"),
        ("en", "Open the Kysy chat", "Close the Kysy chat"),
    ],
)
def test_the_launcher_is_named_for_what_it_does(server, page, lang, open_name, close_name) -> None:
    page.goto(f"{server['base']}/?lang={lang}")
    launcher = page.locator('[data-kysy="launcher"]')
    expect(launcher).to_have_accessible_name(open_name)
    launcher.click()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(launcher).to_have_accessible_name(close_name)  # it shows ✕ and closes the chat now
    launcher.click()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(launcher).to_have_accessible_name(open_name)
    launcher.click()
    page.keyboard.press("Escape")
    expect(launcher).to_have_accessible_name(open_name)
    launcher.click()
    page.reload()  # the panel reopens as it was, and the launcher's name with it
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(launcher).to_have_accessible_name(close_name)


def test_the_conversation_survives_a_reload_and_uusi_keskustelu_clears_it(server, page) -> None:
    bodies: list[dict[str, Any]] = []
    page.on("request", lambda r: bodies.append(json.loads(r.post_data or "{}")) if r.url.endswith("/api/chat") else None)
    open_chat(page, server["base"])
    ask(page, POPULATION_Q)
    page.reload()  # the panel opens again with the conversation, and a follow-up still has its topic
    answers = page.locator('[data-kysy="answer"]')
    expect(answers).to_have_count(1)
    expect(answers.first.locator('[data-kysy="citation"]', has_text="2024, dia 9").first).to_be_visible()
    follow = ask(page, "Entä henkilöstön määrä?")
    expect(follow.locator(".answer-text")).to_contain_text("5500")
    assert [turn["content"] for turn in bodies[-1]["history"]][0] == POPULATION_Q

    page.goto(server["base"] + "/?toinen-sivu")  # another page of the same site, same tab
    expect(page.locator('[data-kysy="answer"]')).to_have_count(2)
    page.locator('[data-kysy="new-conversation"]').click()
    expect(page.locator('[data-kysy="answer"]')).to_have_count(0)
    page.reload()
    page.locator('[data-kysy="launcher"]').click()
    expect(page.locator(".starter")).to_have_count(4)
    expect(page.locator('[data-kysy="answer"]')).to_have_count(0)
    ask(page, "Ketkä rahoittavat yhdyspintaprojektia?")
    assert bodies[-1]["history"] == []


def test_the_history_sent_is_bounded_by_the_servers_limits(server, page) -> None:
    limits = json.loads(urllib.request.urlopen(server["base"] + "/api/config", timeout=10).read())
    turns = [{"question": f"Kysymys {i}?", "answer": "x" * 9000, "citations": [], "notFound": False} for i in range(40)]
    page.add_init_script(
        f"sessionStorage.setItem('kysy-conversation:{server['base']}', JSON.stringify({{turns: {json.dumps(turns)}, open: true}}))"
    )
    bodies: list[dict[str, Any]] = []
    page.on("request", lambda r: bodies.append(json.loads(r.post_data or "{}")) if r.url.endswith("/api/chat") else None)
    page.goto(server["base"] + "/")
    expect(page.locator('[data-kysy="answer"]')).to_have_count(40)  # restored, and the panel open
    ask(page, POPULATION_Q)
    history = bodies[-1]["history"]
    assert len(history) == limits["max_history_turns"]
    assert history[-1] == {"role": "assistant", "content": "x" * limits["max_history_message_chars"]}
    assert history[-2] == {"role": "user", "content": "Kysymys 39?"}


def test_the_scripts_use_no_lookbehind_which_older_safari_refuses() -> None:
    # A lookbehind pattern ("(?<=", "(?<!") is a syntax error in Safari before 16.4: the whole script would not run.
    for script in sorted(STATIC.glob("*.js")):
        assert not re.search(r"\(\?<[=!]", script.read_text(encoding="utf-8")), script.name


class _HostPage(BaseHTTPRequestHandler):
    """An integrator's page on an origin of its own (another port of 127.0.0.1) that embeds the widget."""

    body = b""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        pass


def test_a_page_of_another_origin_that_cors_refuses_tells_the_integrator_in_the_console(server, page) -> None:
    # The server allows no other origin (KYSY_CORS_ORIGINS is empty): the user sees "offline", as a page cannot
    # tell a CORS refusal from a network failure, and the console names the setting and the page's origin.
    body = (f'<!doctype html><html lang="fi"><head><meta charset="utf-8"><title>Kunta</title></head><body>'
            f'<div id="chat-here" style="height: 500px"></div><script src="{server["base"]}/widget.js" '
            f'data-kysy-api="{server["base"]}" data-target="#chat-here" defer></script></body></html>').encode()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_HostPage,), {"body": body}))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    host = f"http://127.0.0.1:{httpd.server_address[1]}"
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text) if message.type == "warning" else None)
    try:
        page.goto(host + "/")
        page.locator('[data-kysy="input"]').click()
        page.keyboard.type(POPULATION_Q)
        page.keyboard.press("Enter")
        expect(page.locator('[data-kysy="error"]')).to_contain_text("Yhteyttä palveluun ei saatu", timeout=30_000)
    finally:
        httpd.shutdown()
        httpd.server_close()
    hints = [text for text in warnings if "KYSY_CORS_ORIGINS" in text]
    assert len(hints) == 1 and host in hints[0] and server["base"] in hints[0], warnings
