"""brief.pdf: Typst, linked notes, an outline, page numbers, CJK names, the same bytes twice."""

from __future__ import annotations

import re
from pathlib import Path

import pypdf
import pytest
import scripted_model
from fakeserver import FakeOpenAI

from briefing import pipeline
from briefing.config import load_settings
from briefing.errors import RenderError
from briefing.models import Brief, Citation
from briefing.render import _view
from briefing.render.pdf import render_pdf

ROOT = Path(__file__).resolve().parent.parent
SPECIAL = "a quote with # $ @ < * _ [ ] \\ in it"
NAMES = "윤석열, 岸田文雄 and 金正恩"


def build(fake: FakeOpenAI, folder: Path, out: Path) -> pipeline.BuildResult:
    fake.respond_with(scripted_model.respond)
    env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "t"}
    return pipeline.build(load_settings(env, {"out": out}), [folder])


def text_of(path: Path) -> str:
    return " ".join(" ".join(p.extract_text().split()) for p in pypdf.PdfReader(path).pages)


def test_the_seeds_pdf_has_outline_notes_and_page_numbers(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    result = build(fake_openai, ROOT / "seeds", tmp_path / "out")
    pdf = result.paths["pdf"]
    reader = pypdf.PdfReader(pdf)
    titles = [o["/Title"] for o in reader.outline if isinstance(o, dict)]
    assert titles[:2] == ["Key developments", "Timeline"] and titles[-1] == "Notes"
    assert "Sources" in titles
    pages = len(reader.pages)
    assert pages >= 2 and f"1 / {pages}" in reader.pages[0].extract_text()
    text = text_of(pdf)
    squeezed = "".join(text.split())  # text extraction breaks lines where the page does
    notes = {
        (c.file, c.start, c.end): c for claim in result.brief.claims() for c in claim.citations
    }
    for citation in notes.values():  # every note's quote is printed, in Notes
        assert "".join(citation.quote.split()) in squeezed, citation.quote[:60]
    # Each note is printed once ("file:line — “quote”"): a note cited again reuses its number.
    assert len(notes) == len(re.findall(r"\.txt:\d+—“", squeezed))
    again = render_pdf(_view(result.brief))
    assert again == pdf.read_bytes()  # the same brief, the same bytes


def test_special_characters_and_cjk_names_print_as_written(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    folder = tmp_path / "sources"
    folder.mkdir()
    (folder / "names.txt").write_text(
        f"Leaders meet in Seoul\n\nSeoul, 9 December 2024\n\nThe leaders {NAMES} met in Seoul "
        f"and said {SPECIAL}.\n",
        encoding="utf-8",
    )
    result = build(fake_openai, folder, tmp_path / "out")
    text = text_of(result.paths["pdf"])
    assert NAMES in text and SPECIAL in text


def test_an_undecodable_character_of_a_source_prints_as_a_square(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    # Scraped corpora carry U+FFFD where their bytes were lost; the font has no glyph for it.
    folder = tmp_path / "sources"
    folder.mkdir()
    (folder / "lost.txt").write_text(
        "Ministers meet in Seoul\n\nSeoul, 9 December 2024\n\nThe ministers met in Seoul "
        "and agreed on a caf\ufffd plan for talks.\n",
        encoding="utf-8",
    )
    result = build(fake_openai, folder, tmp_path / "out")
    assert "pdf" in result.paths
    assert "caf\u25a1 plan" in text_of(result.paths["pdf"])
    assert "caf\ufffd plan" in (tmp_path / "out" / "brief.md").read_text(encoding="utf-8")


def test_a_character_no_font_has_is_refused(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    brief_file = tmp_path / "ok" / "out"
    result = build(fake_openai, ROOT / "seeds", brief_file)
    odd = result.brief.model_copy(update={"title": "Brief \U0001d11e of music"})  # 𝄞
    with pytest.raises(RenderError, match=r"U\+1D11E"):
        render_pdf(_view(Brief.model_validate(odd.model_dump())))


def test_render_writes_the_last_build_again_without_a_request(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from briefing import cli

    out = tmp_path / "out"
    result = build(fake_openai, ROOT / "seeds", out)
    asked = len(fake_openai.requests)
    before = {k: result.paths[k].read_bytes() for k in ("brief", "html", "pdf")}
    for k in ("html", "pdf"):
        result.paths[k].unlink()
    rendered = CliRunner().invoke(cli.main, ["render", str(out)])
    assert rendered.exit_code == 0, rendered.output
    assert len(fake_openai.requests) == asked  # not one request
    assert {k: result.paths[k].read_bytes() for k in ("brief", "html", "pdf")} == before
    only_md = CliRunner().invoke(cli.main, ["render", str(out), "--format", "md"])
    assert only_md.exit_code == 0 and "brief.html" not in only_md.output
    wrong = CliRunner().invoke(cli.main, ["render", str(out), "--format", "docx"])
    assert wrong.exit_code == 1 and "--format takes md, html and pdf" in wrong.output
    nothing = CliRunner().invoke(cli.main, ["render", str(tmp_path / "none")])
    assert nothing.exit_code == 1 and "no builds in" in nothing.output


def test_build_writes_only_the_formats_asked_for(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    import dataclasses

    fake_openai.respond_with(scripted_model.respond)
    env = {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "t"}
    settings = load_settings(env, {"out": tmp_path / "out", "format": "md,pdf"})
    assert settings.formats == ("md", "pdf")
    result = pipeline.build(dataclasses.replace(settings, merge_questions=0), [ROOT / "seeds"])
    assert "pdf" in result.paths and "html" not in result.paths
    assert not (tmp_path / "out" / "brief.html").exists()


def test_many_long_notes_on_one_line_all_print(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    # Scraped corpora cite paragraph-long "sentences", several on one timeline line. As
    # page-bottom footnotes they overflowed the page and Typst failed ("label <note-23> does not
    # exist": it dropped footnotes; or "tags weren't properly closed"). As notes, all print.
    brief = build(fake_openai, ROOT / "seeds", tmp_path / "out").brief
    every = list(dict.fromkeys(c for claim in brief.claims() for c in claim.citations))

    def long(c: Citation) -> Citation:
        quote = " ".join([c.quote] * 16)
        return c.model_copy(update={"quote": quote, "end": c.start + len(quote)})

    rows = tuple(
        t.model_copy(
            update={
                "claim": t.claim.model_copy(
                    update={
                        "citations": tuple(long(every[(4 * i + j) % len(every)]) for j in range(4))
                    }
                )
            }
        )
        for i, t in enumerate(brief.timeline)
    )
    view = _view(brief.model_copy(update={"timeline": rows}))
    pdf = tmp_path / "crowded.pdf"
    pdf.write_bytes(render_pdf(view))
    squeezed = "".join(text_of(pdf).split())
    assert len(view["notes"]) > 20
    assert len(re.findall(r"\.txt:\d+—“", squeezed)) == len(view["notes"])  # each printed once
    for note in view["notes"]:
        assert "".join(note["quote"].split())[:300] in squeezed
