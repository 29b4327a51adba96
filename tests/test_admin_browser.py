"""The admin page in headless Chromium against a real server: sign in once per tab, manage documents live,
read and export feedback; keyboard usable and axe-clean like the widget."""

from __future__ import annotations

import re
import shutil
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
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
TOKEN = "admin-page-token-" + "a" * 24
QUESTION = "Montako poroa Kuusamon yhteislaitumella on?"
Serve = Callable[[FastAPI], AbstractContextManager[str]]
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.id}: ${v.help} ${JSON.stringify(v.nodes.map(n => n.target))}`);
}"""


@pytest.fixture(scope="module")
def server(corpus_index: Settings, serve_app: Serve, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("admin-page")
    shutil.copytree(corpus_index.corpus_dir, root / "corpus")
    shutil.copytree(corpus_index.data_dir, root / "data")
    settings = corpus_index.model_copy(update={
        "data_dir": root / "data", "corpus_dir": root / "corpus", "admin_token": TOKEN, "rate_limit_per_minute": 0,
    })
    FeedbackStore(settings.feedback_path).add("Mikä on väestöpohja?", "127 000 [1]", "down", "Lähde puuttui")
    with serve_app(create_app(settings)) as base:
        yield {"base": base, "settings": settings, "root": root}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _page(browser: Browser, width: int = 1280, **options: Any) -> Page:
    context = browser.new_context(locale="fi-FI", viewport={"width": width, "height": 900}, **options)
    return context.new_page()


def _axe(page: Page) -> list[str]:
    if not AXE_JS.is_file():
        pytest.fail(f"{AXE_JS} is missing: run `npm ci --prefix tests/js` (make test does)")
    page.add_script_tag(content=AXE_JS.read_text(encoding="utf-8"))
    violations: list[str] = page.evaluate(AXE_RUN)
    return violations


def _submit_token(page: Page, base: str, token: str) -> None:
    page.goto(f"{base}/admin")
    page.get_by_label("Ylläpidon tunnus").fill(token)
    page.keyboard.press("Enter")


def _sign_in(page: Page, base: str) -> None:
    _sign_in_with(page, base, 5)


def _sign_in_with(page: Page, base: str, documents: int) -> None:
    _submit_token(page, base, TOKEN)
    expect(page.locator("#documents tbody tr")).to_have_count(documents, timeout=30_000)


def test_the_admin_page_is_html_and_axe_clean_signed_out_and_in(server: dict[str, Any], browser: Browser) -> None:
    response = httpx.get(f"{server['base']}/admin", timeout=10)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page = _page(browser, bypass_csp=True)
    try:
        page.goto(f"{server['base']}/admin")
        expect(page.get_by_label("Ylläpidon tunnus")).to_be_visible()
        assert _axe(page) == []
        _sign_in(page, server["base"])
        expect(page.locator("#feedback tbody tr")).to_have_count(1)
        expect(page.locator("#feedback")).to_contain_text("Lähde puuttui")
        assert _axe(page) == []
    finally:
        page.context.close()


def test_the_token_is_kept_for_the_tab_only(server: dict[str, Any], browser: Browser) -> None:
    page = _page(browser)
    try:
        _sign_in(page, server["base"])
        page.reload()
        expect(page.locator("#documents tbody tr")).to_have_count(5, timeout=30_000)
        assert page.evaluate("() => sessionStorage.getItem('kysy-admin-token')") == TOKEN
        assert page.evaluate("() => localStorage.length") == 0
        other = page.context.new_page()  # a new tab of the same browser asks again
        other.goto(f"{server['base']}/admin")
        expect(other.get_by_label("Ylläpidon tunnus")).to_be_visible()
    finally:
        page.context.close()


def test_upload_and_delete_from_the_page_change_the_answers_live(
    server: dict[str, Any], browser: Browser, tmp_path: Path
) -> None:
    base = server["base"]
    document = tmp_path / "poro.txt"
    document.write_text("Kuusamon yhteislaidun\n\nKuusamon yhteislaitumella on talvella 4 242 poroa.\n", encoding="utf-8")
    page = _page(browser)
    try:
        _sign_in(page, base)
        page.get_by_label("Lisää tai korvaa asiakirja", exact=False).set_input_files(str(document))
        page.get_by_role("button", name="Lähetä").click()
        expect(page.locator("#status")).to_contain_text("poro.txt lisätty", timeout=120_000)
        expect(page.locator('#documents tr[data-file="poro.txt"]')).to_have_count(1)
        expect(page.locator('#documents tr[data-file="poro.txt"] td').nth(2)).to_have_text("1 sivu")
        expect(page.locator('#documents tr[data-file$=".pdf"] td').nth(2)).to_have_text("12 diaa")
        answer = httpx.post(f"{base}/api/chat", json={"question": QUESTION}, timeout=60).json()
        assert "4 242" in answer["answer"]

        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Poista poro.txt").click()
        expect(page.locator("#status")).to_contain_text("poro.txt poistettu", timeout=120_000)
        expect(page.locator('#documents tr[data-file="poro.txt"]')).to_have_count(0)
        assert httpx.post(f"{base}/api/chat", json={"question": QUESTION}, timeout=60).json()["not_found"]

        with page.expect_download() as download:
            page.get_by_role("button", name="Lataa kaikki palaute CSV-tiedostona").click()
        path = download.value.path()
        assert path is not None and "Lähde puuttui" in Path(path).read_text(encoding="utf-8-sig")
    finally:
        page.context.close()


@pytest.mark.parametrize(
    ("name", "data", "told"),
    [
        ("tyhja.txt", b"", "tyhja.txt on tyhjä tiedosto."),
        ("utf16.txt", "Yhteistyösopimus".encode("utf-16-le"), "utf16.txt ei ole tekstitiedosto, tai sen merkistöä"),
        ("feikki.pdf", b"tavallista tekstia", "feikki.pdf ei ole luettava PDF-tiedosto"),
        ("ohjelma.exe", b"MZ", "ohjelma.exe: tiedostotyyppiä ei tueta"),
        ("tyhja.html", b"<html><body></body></html>", "tyhja.html: no text in the HTML"),  # no Finnish: the API's
    ],
)
def test_a_refused_upload_is_told_in_finnish_and_changes_nothing(
    server: dict[str, Any], browser: Browser, tmp_path: Path, name: str, data: bytes, told: str
) -> None:
    (tmp_path / name).write_bytes(data)
    page = _page(browser)
    try:
        _sign_in(page, server["base"])
        page.get_by_label("Lisää tai korvaa asiakirja", exact=False).set_input_files(str(tmp_path / name))
        page.get_by_role("button", name="Lähetä").click()
        expect(page.locator("#status.error")).to_contain_text(told, timeout=60_000)
        assert page.locator("#status").inner_text().count(name) == 1
        expect(page.locator("#documents tbody tr")).to_have_count(5)
    finally:
        page.context.close()


def test_on_a_phone_the_page_does_not_scroll_sideways_and_names_wrap_between_words(
    server: dict[str, Any], browser: Browser
) -> None:
    page = _page(browser, width=375, bypass_csp=True)
    try:
        _sign_in(page, server["base"])
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
        split = page.evaluate("""() => [...document.querySelectorAll('#documents td.file')].flatMap(td =>
          [...td.childNodes].filter(node => node.nodeType === Node.TEXT_NODE).filter(node => {
            const range = document.createRange();
            range.selectNodeContents(node);
            return new Set([...range.getClientRects()].map(rect => Math.round(rect.top))).size > 1;
          }).map(node => node.textContent))""")
        assert split == []  # no part of a name between - _ / . is broken across lines
        assert _axe(page) == []
    finally:
        page.context.close()


def test_a_wrong_token_is_told_and_nothing_is_shown(server: dict[str, Any], browser: Browser) -> None:
    page = _page(browser)
    try:
        _submit_token(page, server["base"], "x" * 40)
        expect(page.locator("#status")).to_contain_text("Tunnus ei kelpaa")
        expect(page.locator("#panel")).to_be_hidden()
    finally:
        page.context.close()


def test_without_an_admin_token_the_page_says_the_admin_is_off(
    corpus_index: Settings, serve_app: Serve, browser: Browser
) -> None:
    settings = corpus_index.model_copy(update={"admin_token": None, "rate_limit_per_minute": 0})
    with serve_app(create_app(settings)) as base:
        response = httpx.get(f"{base}/api/admin/documents", timeout=30)
        assert response.status_code == 404 and response.json()["error"] == "admin_disabled"
        assert httpx.get(f"{base}/api/config", timeout=30).json()["admin"] is False
        page = _page(browser, bypass_csp=True)
        try:
            page.goto(f"{base}/admin")  # said on load: no token to type in vain
            off = page.locator("#off")
            expect(off).to_be_visible()
            expect(off).to_contain_text("Ylläpito ei ole käytössä")
            expect(off).to_contain_text("KYSY_ADMIN_TOKEN")  # and how to turn it on
            expect(off).to_contain_text("käynnistämällä palvelin uudelleen")
            expect(page.get_by_label("Ylläpidon tunnus")).to_be_hidden()
            expect(page.locator("#panel")).to_be_hidden()
            assert _axe(page) == []
        finally:
            page.context.close()


def test_with_an_admin_token_the_page_never_says_the_admin_is_off(server: dict[str, Any], browser: Browser) -> None:
    assert httpx.get(f"{server['base']}/api/config", timeout=30).json()["admin"] is True
    page = _page(browser)
    try:
        page.goto(f"{server['base']}/admin")
        expect(page.get_by_label("Ylläpidon tunnus")).to_be_visible()
        expect(page.locator("#off")).to_be_hidden()
    finally:
        page.context.close()


def _big_document(path: Path, seed: str, sentences: int = 400) -> Path:
    """A text of its own sentences (never in the session's embedding cache): its job takes some seconds."""
    lines = [f"{seed} {i}: kohteen {i} kustannusarvio on {i * 41 % 1000} tuhatta euroa ja vastuutaho on tiimi {i % 19}."
             for i in range(sentences)]
    path.write_text("Kustannusraportti\n\n" + " ".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_page_follows_an_upload_job_to_its_end_and_cancels_one(
    server: dict[str, Any], browser: Browser, tmp_path: Path
) -> None:
    base = server["base"]
    page = _page(browser, bypass_csp=True)
    try:
        _sign_in(page, base)
        expect(page.locator("#job")).to_be_hidden()
        upload = page.get_by_role("button", name="Lähetä")
        page.get_by_label("Lisää tai korvaa asiakirja", exact=False).set_input_files(
            str(_big_document(tmp_path / "kustannukset.txt", "Selain")))
        upload.click()
        # While it runs: stage and percent, the file listed as waiting, the buttons that change the corpus held.
        expect(page.locator("#job-text")).to_contain_text(re.compile(r"Lasketaan vektoreita [\d\s]+ / [\d\s]+ \(\d+ %\)"),
                                                          timeout=60_000)
        expect(page.locator("#job-text")).to_contain_text("lisätään kustannukset.txt")
        row = page.locator('#documents tr[data-file="kustannukset.txt"]')
        expect(row).to_contain_text("Odottaa indeksointia")
        expect(upload).to_be_disabled()
        expect(page.get_by_role("button", name="Poista kustannukset.txt")).to_be_disabled()
        expect(page.locator("#documents tbody tr")).to_have_count(6)  # the list stays readable
        assert _axe(page) == []

        expect(page.locator("#status")).to_contain_text("kustannukset.txt lisätty. Indeksissä on nyt", timeout=120_000)
        expect(page.locator("#job")).to_be_hidden()
        expect(row).to_contain_text("Indeksoitu")
        expect(upload).to_be_enabled()

        page.get_by_label("Lisää tai korvaa asiakirja", exact=False).set_input_files(
            str(_big_document(tmp_path / "peruttava.txt", "Peruttava")))
        upload.click()
        expect(page.locator("#job-text")).to_contain_text("Lasketaan vektoreita", timeout=60_000)
        page.get_by_role("button", name="Peruuta indeksointi").click()
        expect(page.locator("#status")).to_contain_text("Indeksointi peruttiin (lisätään peruttava.txt). Indeksi on ennallaan.",
                                                        timeout=60_000)
        expect(page.locator('#documents tr[data-file="peruttava.txt"]')).to_contain_text("Odottaa indeksointia")

        for name, told in (("peruttava.txt", "peruttava.txt poistettu."), ("kustannukset.txt", "kustannukset.txt poistettu.")):
            page.once("dialog", lambda dialog: dialog.accept())
            page.get_by_role("button", name=f"Poista {name}").click()
            expect(page.locator("#status")).to_contain_text(told, timeout=120_000)
            expect(page.locator(f'#documents tr[data-file="{name}"]')).to_have_count(0)
        expect(page.locator("#documents tbody tr")).to_have_count(5)
    finally:
        page.context.close()


def test_a_document_whose_file_changed_since_indexing_is_shown_as_changed(
    server: dict[str, Any], browser: Browser
) -> None:
    # a file edited in the corpus directory (or a replace whose job was cancelled) waits for the next reindex
    base, auth = server["base"], {"Authorization": f"Bearer {TOKEN}"}
    name = "muistio.txt"
    uploaded = httpx.post(f"{base}/api/admin/documents?wait=true", headers=auth, timeout=300,
                          files={"file": (name, "Muistio\n\nKokous pidetään torstaina.\n".encode())})
    assert uploaded.status_code == 201, uploaded.text
    page = _page(browser)
    try:
        (server["settings"].corpus_dir / name).write_text("Muistio\n\nKokous siirtyy perjantaille.\n", encoding="utf-8")
        _sign_in_with(page, base, 6)
        row = page.locator(f'#documents tr[data-file="{name}"]')
        expect(row).to_have_attribute("data-state", "changed")
        expect(row.locator("td").nth(5)).to_contain_text("Muuttunut, odottaa indeksointia: the file differs")
        expect(row.locator("td").nth(1)).to_have_text("Muistio")  # still indexed: its title and pages are shown
    finally:
        page.context.close()
        assert httpx.delete(f"{base}/api/admin/documents/{name}?wait=true", headers=auth, timeout=300).status_code == 200
