"""Text from sources reaches brief.md as the characters it is: no live HTML, no Markdown syntax.

The brief is rendered with markdown-it-py (CommonMark with GFM tables, installed with rich) to
check what a Markdown viewer would make of it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import scripted_model
from fakeserver import FakeOpenAI
from markdown_it import MarkdownIt

from briefing import pipeline
from briefing.config import load_settings
from briefing.escape import markdown_code, markdown_text

HOSTILE = (
    "The envoys met in Seoul, where a banner read <img src=x onerror=alert(1)> and | pipes | "
    "and [^1]: a fake note and *stars* and `ticks` and [a link](http://x.example)."
)


def test_markdown_text_escapes_html_and_inline_syntax() -> None:
    assert markdown_text("<b>&amp;</b>") == "&lt;b&gt;&amp;amp;&lt;/b&gt;"
    assert markdown_text("a | b [^1]: *c* `d` _e_ ~f~ \\") == (
        "a \\| b \\[^1\\]: \\*c\\* \\`d\\` \\_e\\_ \\~f\\~ \\\\"
    )
    assert markdown_text("two\nlines") == "two lines"
    assert markdown_code("a`b|c") == "``a`b\\|c``"


def test_a_hostile_source_renders_as_its_words(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    folder = tmp_path / "sources"
    folder.mkdir()
    (folder / "hostile.txt").write_text(
        f"Envoys meet in Seoul\n\nSeoul, 9 December 2024\n\n{HOSTILE}\n", encoding="utf-8"
    )
    (folder / "page.html").write_text(
        "<html><head><title>Talks</title></head><body><article><h1>Talks in Tokyo</h1>"
        "<p>The ministers met in Tokyo on 9 December 2024.</p>"
        "<p>They agreed to meet again in Seoul next year and called "
        "&lt;script&gt;alert(1)&lt;/script&gt; a test, officials said.</p>"
        "</article></body></html>",
        encoding="utf-8",
    )
    fake_openai.respond_with(scripted_model.respond)
    env = {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "t"}
    settings = load_settings(env, {"out": tmp_path / "out"})
    result = pipeline.build(settings, [folder])
    brief = result.paths["brief"].read_text(encoding="utf-8")
    html = MarkdownIt("commonmark").enable("table").render(brief)
    assert "<img" not in html and "<script" not in html  # shown as text, never as tags
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<a href" not in html  # no live link from a source's words
    assert "| pipes |" in html and "[^1]: a fake note" in html and "*stars*" in html
    # The only footnote definitions are the brief's own notes.
    assert all(re.match(r"\[\^\d+\]: ", line) for line in brief.splitlines() if "]: " in line
               and line.startswith("[^"))  # fmt: skip
    claims = json.loads(result.paths["claims"].read_text(encoding="utf-8"))["claims"]
    quotes = [c["quote"] for claim in claims for c in claim["citations"]]
    assert any("<img src=x onerror=alert(1)>" in q for q in quotes)  # claims.json stays exact
