"""brief.html in a real headless Chromium (Debian's chromium, driven by Playwright for Python;
no browser is downloaded): citations land on their notes and back, source text never runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import scripted_model
from fakeserver import FakeOpenAI

from briefing import pipeline
from briefing.config import load_settings

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.usefixtures("chromium")  # skipped without it, except in CI


def built_html(fake: FakeOpenAI, folder: Path, out: Path) -> Path:
    fake.respond_with(scripted_model.respond)
    env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "t"}
    return pipeline.build(load_settings(env, {"out": out}), [folder]).paths["html"]


def test_a_citation_lands_on_its_note_and_back(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    page_file = built_html(fake_openai, ROOT / "seeds", tmp_path / "out")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(page_file.as_uri())
            first = page.locator("sup.cite a").first
            cite_id = first.get_attribute("id")
            note = first.get_attribute("href")
            assert cite_id and note and note.startswith("#note-")
            first.click()
            assert page.evaluate("location.hash") == note
            assert page.evaluate("document.querySelector(':target').id") == note[1:]
            page.locator(f"{note} a.back").first.click()
            assert page.evaluate("location.hash") == f"#{cite_id}"
        finally:
            browser.close()


def test_source_text_never_runs_and_cjk_names_show(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    folder = tmp_path / "sources"
    folder.mkdir()
    (folder / "hostile.txt").write_text(
        "Leaders meet in Seoul\n\nSeoul, 9 December 2024\n\nThe leaders 윤석열, 岸田文雄 and "
        "金正恩 met in Seoul, where a banner read <img src=x onerror=alert(1)> and "
        "<script>alert(2)</script>.\n",
        encoding="utf-8",
    )
    page_file = built_html(fake_openai, folder, tmp_path / "out")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(page_file.as_uri())
            page.wait_for_timeout(300)
            assert dialogs == []  # nothing from the source ran
            assert page.locator("img").count() == 0 and page.locator("script").count() == 0
            text = page.inner_text("body")
            assert "<img src=x onerror=alert(1)>" in text and "윤석열, 岸田文雄 and 金正恩" in text
        finally:
            browser.close()
