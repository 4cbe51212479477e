"""The review page in a real headless Chromium (Debian's chromium, driven by Playwright for
Python, as in test_browser.py): keys decide claims, each decision is stored at once, and the
next build of the same folder writes the brief as decided."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import scripted_model
from fakeserver import FakeOpenAI

from briefing import pipeline
from briefing.config import load_settings
from briefing.escape import markdown_text
from briefing.review.server import ReviewServer
from briefing.store import state

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
CURRENT = re.compile(r"\bcurrent\b")  # the selected claim

pytestmark = pytest.mark.usefixtures("chromium")  # skipped without it, except in CI


def test_keys_decide_claims_and_the_next_build_applies_them(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    fake_openai.respond_with(scripted_model.respond)
    out = tmp_path / "out"
    settings = load_settings(
        {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "t"}, {"out": out}
    )
    pipeline.build(settings, [ROOT / "seeds"])
    edited = "The three leaders met and agreed to meet every year (checked by hand)."

    with ReviewServer(out, 0) as server, sync_playwright() as p:
        thread = server.in_thread()
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url)
            cards = page.locator("article.claim")
            total = cards.count()
            assert total >= 4
            progress = page.locator("#progress")
            expect(progress).to_have_text(f"0 of {total} decided")
            texts = [cards.nth(i).locator("p.text").inner_text() for i in range(3)]
            assert len(set(texts)) == 3
            expect(cards.nth(0)).to_have_class(CURRENT)
            # Each cited span is marked inside its paragraph, with the file it is from.
            assert cards.nth(0).locator(".evidence mark").count() >= 1
            assert ".txt:" in cards.nth(0).locator(".evidence figcaption").first.inner_text()

            page.keyboard.press("a")  # accept the first claim; the second is selected
            expect(cards.nth(1)).to_have_class(CURRENT)
            page.keyboard.press("x")  # reject the second
            expect(cards.nth(2)).to_have_class(CURRENT)
            page.keyboard.press("e")  # edit the third
            area = cards.nth(2).locator("textarea")
            expect(area).to_be_focused()
            expect(area).to_have_value(texts[2])
            area.fill(edited)
            cards.nth(2).locator("input[name=comment]").fill("shorter")
            area.press("Control+Enter")
            expect(progress).to_have_text(f"3 of {total} decided")
            expect(cards.nth(0).locator(".badge")).to_have_text("accepted")
            expect(cards.nth(1).locator(".badge")).to_have_text("rejected")
            expect(cards.nth(2).locator(".yours")).to_have_text(edited)
            expect(cards.nth(3)).to_have_class(CURRENT)
            assert page.evaluate(
                "(() => { const r = document.querySelector('article.current')"
                ".getBoundingClientRect(); return r.top < innerHeight && r.bottom > 0; })()"
            )

            # j/k move the selection; u on a decided claim undoes it, and a again redoes it.
            page.keyboard.press("k")
            page.keyboard.press("k")
            expect(cards.nth(1)).to_have_class(CURRENT)
            page.keyboard.press("u")
            expect(progress).to_have_text(f"2 of {total} decided")
            page.keyboard.press("x")
            expect(progress).to_have_text(f"3 of {total} decided")
            assert errors == []

            # A build while the page is open: the server holds no lock, the build applies all.
            pipeline.build(settings, [ROOT / "seeds"])
        finally:
            browser.close()
            server.shutdown()
            thread.join(5)

    brief = (out / "brief.md").read_text(encoding="utf-8")
    assert markdown_text(texts[0]) in brief
    assert markdown_text(texts[1]) not in brief
    assert markdown_text(texts[2]) not in brief
    assert f"{markdown_text(edited)} *(edited in review)*" in brief
    with state.open_state(out, exclusive=False, existing=True) as st:
        decisions = {d.claim.text: d for d in st.decisions()}
    assert len(decisions) == 3
    assert [decisions[t].action for t in texts] == ["accept", "reject", "edit"]
    assert decisions[texts[2]].text == edited and decisions[texts[2]].comment == "shorter"
