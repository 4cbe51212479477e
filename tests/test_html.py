"""brief.html: one self-contained page whose citations link to their notes and back."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
import scripted_model
from fakeserver import FakeOpenAI

from briefing import pipeline
from briefing.config import load_settings

ROOT = Path(__file__).resolve().parent.parent


class Page(HTMLParser):
    """Every tag with its attributes, the ids, the links and the text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ids: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if found.get("id"):
            self.ids.add(str(found["id"]))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def links(self) -> list[str]:
        return [str(a["href"]) for t, a in self.tags if t == "a" and a.get("href")]


@pytest.fixture(scope="module")
def seeds_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Page, str]:
    out = tmp_path_factory.mktemp("html") / "out"
    with pytest.MonkeyPatch.context() as mp, FakeOpenAI() as fake:
        mp.chdir(ROOT)
        fake.respond_with(scripted_model.respond)
        env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "t"}
        settings = load_settings(env, {"out": out, "brief_file": Path("brief.toml")})
        result = pipeline.build(settings, [Path("seeds")])
    text = result.paths["html"].read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    return page, text


def test_every_citation_links_to_its_note_and_every_note_back(seeds_page: tuple[Page, str]) -> None:
    page, _ = seeds_page
    cites = [h for h in page.links() if h.startswith("#note-")]
    backs = [h for h in page.links() if h.startswith("#cite-")]
    assert cites and backs
    assert all(h[1:] in page.ids for h in cites + backs)  # no dangling link either way
    notes = {i for i in page.ids if i.startswith("note-")}
    assert notes == {h[1:] for h in cites}  # every note is cited, every citation has its note


def test_the_page_is_self_contained(seeds_page: tuple[Page, str]) -> None:
    page, text = seeds_page
    assert not [t for t, _ in page.tags if t in ("script", "link", "img", "iframe")]
    assert "http://" not in text and "https://" not in text  # nothing fetched from a network
    assert "@media print" in text
    headings = [t for t, _ in page.tags if t == "h2"]
    assert len(headings) >= 6  # key developments, timeline, disagreements, actors, sources, notes


def test_source_text_is_escaped_in_the_page(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    folder = tmp_path / "sources"
    folder.mkdir()
    (folder / "hostile.txt").write_text(
        "Envoys meet in Seoul\n\nSeoul, 9 December 2024\n\nThe envoys met in Seoul, where a "
        "banner read <img src=x onerror=alert(1)> and <script>alert(2)</script>.\n",
        encoding="utf-8",
    )
    fake_openai.respond_with(scripted_model.respond)
    env = {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "t"}
    result = pipeline.build(load_settings(env, {"out": tmp_path / "out"}), [folder])
    page = Page()
    page.feed(result.paths["html"].read_text(encoding="utf-8"))
    assert not [t for t, _ in page.tags if t in ("img", "script")]
    assert "<img src=x onerror=alert(1)>" in "".join(page.text)  # shown as the words it is
