"""Tests for the load-sources stage: decoding, HTML main text, sentences, dates and outlets."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from briefing.errors import SourceError
from briefing.models import Source
from briefing.read.sentences import split_sentences
from briefing.read.sources import (
    expand_paths,
    find_outlet,
    find_published,
    load_sources,
    read_files,
    read_source,
)

SEEDS = sorted((Path(__file__).parent.parent / "seeds").glob("*.txt"))


@pytest.fixture(scope="module")
def seeds() -> dict[str, Source]:
    return {p.name[:3]: read_source(p) for p in SEEDS}


def texts(source: Source) -> list[str]:
    return [s.text for s in source.sentences]


def test_there_are_five_seeds() -> None:
    assert len(SEEDS) == 5


# --- sentences ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name[:3])
def test_seed_sentences_are_exact_trimmed_slices_numbered_from_one(path: Path) -> None:
    source = read_source(path)
    text = source.text
    assert [s.number for s in source.sentences] == list(range(1, len(source.sentences) + 1))
    previous_end = 0
    for s in source.sentences:
        assert text[s.start : s.end] == s.text
        assert s.text and s.text == s.text.strip()
        assert s.line == text.count("\n", 0, s.start) + 1
        # In order, not overlapping, and nothing but whitespace left out between them.
        assert s.start >= previous_end
        assert not text[previous_end : s.start].strip()
        previous_end = s.end
    assert not text[previous_end:].strip()


@pytest.mark.parametrize(
    ("prefix", "sentence"),
    [
        ("001", "S. Korea, US, Japan Meet on N. Korea’s Cyber Threats"),
        ("003", "2 min read Last Updated : Dec 07 2023 | 11:21 AM IST"),
        ("003", "First Published: Dec 07 2023 | 11:21 AM IST"),
        (
            "003",
            "Both Pyongyang and Moscow have denied U.S. and South Korean claims that the North has "
            "been shipping artillery shells and other arms supplies to Russia in recent months.",
        ),
        (
            "003",
            "Japan's prime minister's office said the discussions on North Korea will include "
            "that country's recent launch of its first military reconnaissance satellite, a device "
            "North Korean leader Kim Jong Un described as crucial for monitoring U.S. and South "
            "Korean military movements and enhancing the threat of his nuclear-capable missiles.",
        ),
        (
            "004",
            "U.S., South Korea, and Japan Address Escalating DPRK Threats in Trilateral Meeting",
        ),
        ("004", "Image Credit, US Gov. Assistant Secretary of State Social Media"),
    ],
)
def test_abbreviations_and_dates_do_not_split_seed_sentences(
    seeds: dict[str, Source], prefix: str, sentence: str
) -> None:
    assert sentence in texts(seeds[prefix])


def test_abbreviations_do_not_split_synthetic_sentences() -> None:
    text = (
        "The U.S. and S. Korea met on Dec. 7, 2023 in Seoul. Martin Luther King Jr. was quoted. "
        "N. Korea's envoy left early."
    )
    assert [s.text for s in split_sentences(text)] == [
        "The U.S. and S. Korea met on Dec. 7, 2023 in Seoul.",
        "Martin Luther King Jr. was quoted.",
        "N. Korea's envoy left early.",
    ]


@pytest.mark.parametrize(
    ("prefix", "line"),
    [
        ("001", "Previous Story"),
        ("001", "Next Story"),
        ("001", "UAE receives first Rafale jet"),
        ("001", "Chad Ends French Military Presence"),
        ("001", "ALSO READ: ‘This must stop’: Guterres On Spiraling Deaths In Gaza"),
        ("001", "December 7, 2023"),
        ("001", "2 mins read"),
        ("000", "Also Read: Secretary Blinken attends ROK’s third democracy summit"),
        ("000", "Also Read: Prime Minister Trudeau attends third summit for democracy"),
        ("000", "Cyber threat"),
        ("000", "Sabah Khan Tareen"),
        ("003", "AP Seoul"),
        ("003", "Photo: Istock"),
        ("003", "Topics : South Korea North Korea United States Japan"),
        ("002", "3\xa0min read"),
        (
            "002",
            "japan seeks to bolster relations with south korea and us amid threats from "
            "north korea",
        ),
        ("004", "• Kingston Bailey"),
    ],
)
def test_page_furniture_lines_are_sentences_of_their_own(
    seeds: dict[str, Source], prefix: str, line: str
) -> None:
    assert line in texts(seeds[prefix])


def test_article_sentences_stay_apart_from_neighbouring_furniture(seeds: dict[str, Source]) -> None:
    sentences = texts(seeds["001"])
    lede = next(s for s in sentences if s.startswith("South Korea, the US and Japan held"))
    assert lede.endswith("Seoul’s Foreign Ministry said on Thursday.")
    teaser = next(s for s in sentences if s.startswith("In November 2024, Chad announced"))
    assert "Rafale" not in teaser and "Chad Ends" not in teaser
    assert sentences[sentences.index("UAE receives first Rafale jet") + 1].startswith(
        "In a landmark deal with France’s Dassault Aviation"
    )


def test_blank_lines_and_short_lines_split_but_wrapped_prose_joins() -> None:
    text = (
        "Teaser headline without a stop\n\nThe body starts here. It goes on.\n\n"
        "This paragraph is hard wrapped at about seventy columns, the way plain\n"
        "text and Markdown files often are, so a sentence runs over the line\n"
        "Break and must stay whole. A second sentence follows.\n\n"
        "- first item of a list\n- second item of a list\n\n"
        "AP Seoul\n2 min read Last Updated : Dec 07 2023 | 11:21 AM IST\n"
        "The advisers of the three countries will meet in Seoul.\n"
    )
    assert [s.text for s in split_sentences(text)] == [
        "Teaser headline without a stop",
        "The body starts here.",
        "It goes on.",
        "This paragraph is hard wrapped at about seventy columns, the way plain\n"
        "text and Markdown files often are, so a sentence runs over the line\n"
        "Break and must stay whole.",
        "A second sentence follows.",
        "- first item of a list",
        "- second item of a list",
        "AP Seoul",
        "2 min read Last Updated : Dec 07 2023 | 11:21 AM IST",
        "The advisers of the three countries will meet in Seoul.",
    ]
    assert [s.line for s in split_sentences(text)] == [1, 3, 3, 5, 7, 9, 10, 12, 13, 14]


# --- what the text says about itself ------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "published"),
    [
        ("000", "2024-04-01"),
        ("001", "2023-12-07"),
        ("002", None),
        ("003", "2023-12-07"),
        ("004", "2024-12-09"),
    ],
)
def test_seed_publication_dates(
    seeds: dict[str, Source], prefix: str, published: str | None
) -> None:
    assert seeds[prefix].published == published


@pytest.mark.parametrize(
    ("prefix", "outlet"),
    [
        ("000", "TDI"),
        ("001", "Asian Lite News"),
        ("002", None),
        ("003", "Business Standard"),
        ("004", None),
    ],
)
def test_seed_outlets(seeds: dict[str, Source], prefix: str, outlet: str | None) -> None:
    assert seeds[prefix].outlet == outlet


def test_seed_titles_are_headlines(seeds: dict[str, Source]) -> None:
    assert seeds["003"].title == (
        "NSAs of US, South Korea and Japan will meet to discuss North Korean threat"
    )
    # A date line and a reading time come before the headline.
    assert seeds["001"].title == "S. Korea, US, Japan Meet on N. Korea’s Cyber Threats"
    # A breadcrumb glued to the headline, and the clean headline repeated below it.
    assert seeds["000"].title == "United States plans trilateral summit with Korea and Japan"


@pytest.mark.parametrize(
    ("text", "published"),
    [
        ("Headline\n\nBy Jane Doe | Dec. 5, 2023\n\nBody.", "2023-12-05"),
        ("Headline\nPublished: 2024-03-01 09:00\nBody.", "2024-03-01"),
        ("Headline\nSept. 14, 2022\nBody.", "2022-09-14"),
        ("SEOUL, 3rd March 2021 - Officials met on Friday to discuss the plan.", "2021-03-03"),
        ("Headline\n30 February 2024\nBody.", None),  # no such day
        ("Headline\nDecoy 7, 2023\nBody.", None),  # not a month
        (
            "Headline\n\nOn August 18, 2023, the leaders of the three countries met at Camp David "
            "and agreed to hold a summit every year from now on.",
            None,  # a date in the news is not the publication date
        ),
        ("Headline\n" + "Filler line.\n" * 60 + "December 1, 2023\n", None),  # too far down
    ],
)
def test_published_patterns(text: str, published: str | None) -> None:
    assert find_published(text) == published


@pytest.mark.parametrize(
    ("text", "outlet"),
    [
        ("WASHINGTON (AP) — The president said on Monday that talks will go ahead.", "AP"),
        ("Seoul, Dec. 7 (Yonhap) -- South Korea said on Thursday it will join.", "Yonhap"),
        ("North Korea (DPRK): a primer\n\nThe country is isolated.", None),
        ("Officials said the ministry reports North Korea fired a missile.", None),
        ("Talks went well…reports Example Daily\n\nBody text here.", "Example Daily"),
        ("Body text.\n\n© 2024 The Harbour Times. All rights reserved.\n", "The Harbour Times"),
        ("Body text only, with no outlet named anywhere.", None),
    ],
)
def test_outlet_patterns(text: str, outlet: str | None) -> None:
    assert find_outlet(text) == outlet


# --- encodings and newlines ---------------------------------------------------------------------

BODY = (
    "Le café “Zürich” opened on 3 May 2024 in the old town. The owner, Müller, said the crème "
    "brûlée was “très bon”.\nCritics praised the naïve décor — and the smörgåsbord. Prices "
    "rose by 5 % in the first week.\n"
)
PLAIN_BODY = BODY.replace("“", '"').replace("”", '"').replace("—", "-")  # latin-1 has no “ ” —


@pytest.mark.parametrize(
    ("codec", "body", "encodings"),
    [
        ("cp1252", BODY, {"cp1252"}),
        ("latin-1", PLAIN_BODY, {"cp1252", "latin_1", "iso8859_15"}),
        ("utf-16", BODY, {"utf-16"}),
        ("utf-16-le", BODY, {"utf_16_le"}),
        ("utf-8-sig", BODY, {"utf-8-sig"}),
    ],
)
def test_other_encodings_decode_and_are_not_verbatim(
    tmp_path: Path, codec: str, body: str, encodings: set[str]
) -> None:
    path = tmp_path / "article.txt"
    path.write_bytes(body.encode(codec))
    source = read_source(path)
    assert source.text == body
    assert source.encoding in encodings
    assert source.verbatim is False
    assert "The owner, Müller, said the crème brûlée was " in source.sentences[1].text


def test_crlf_and_cr_newlines_become_lf_and_are_not_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"First line ends here.\r\nSecond line.\r\n\r\nOld Mac line.\rLast one.\r")
    source = read_source(path)
    assert source.text == "First line ends here.\nSecond line.\n\nOld Mac line.\nLast one.\n"
    assert source.encoding == "utf-8"
    assert source.verbatim is False
    assert [(s.text, s.line) for s in source.sentences] == [
        ("First line ends here.", 1),
        ("Second line.", 2),
        ("Old Mac line.", 4),
        ("Last one.", 5),
    ]


def test_utf8_seed_is_verbatim_and_sentences_slice_the_file(seeds: dict[str, Source]) -> None:
    for source in seeds.values():
        assert source.verbatim is True
        assert source.encoding == "utf-8"
        assert source.kind == "text"
        on_disk = Path(source.path).read_text(encoding="utf-8")
        assert on_disk == source.text
        for s in source.sentences:
            assert on_disk[s.start : s.end] == s.text


def test_id_is_sha256_of_bytes_and_path_as_given(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"One sentence here.\n")
    source = read_source(path)
    assert source.id == hashlib.sha256(b"One sentence here.\n").hexdigest()
    assert source.path == str(path)
    assert source.title == "One sentence here."


def test_markdown_kind_and_title_without_hashes(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("---\n\n## Talks in Seoul\n\nThe envoys met. They agreed.\n", encoding="utf-8")
    source = read_source(path)
    assert source.kind == "markdown"
    assert source.title == "Talks in Seoul"
    assert texts(source) == ["---", "## Talks in Seoul", "The envoys met.", "They agreed."]


# --- HTML ---------------------------------------------------------------------------------------

PARAGRAPHS = [
    "Defence ministers from the three countries agreed on Tuesday to run joint maritime patrols "
    "in the strait, officials said after a day of talks in the capital.",
    "The patrols will begin next month and will involve coast guard vessels as well as naval "
    "ships, according to a joint statement released after the meeting.",
    "The ministers also pledged to share radar data in real time, a step analysts described as "
    "the most significant expansion of cooperation in a decade.",
    "Critics in the opposition said the agreement had been negotiated without consulting "
    "parliament and called for a debate before the first patrol sails.",
]
PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="{charset}">
<title>Allies agree on new maritime patrols | The Harbour Times</title>
<meta property="og:site_name" content="The Harbour Times">
<meta property="article:published_time" content="2024-03-05T08:00:00Z">
</head><body>
<header><nav><ul>
<li><a href="/">Home</a></li><li><a href="/world">World News Section</a></li>
<li><a href="/sport">Sport Pages</a></li><li><a href="/subscribe">Subscribe Today</a></li>
</ul></nav></header>
<aside class="sidebar"><h3>Trending now</h3><ul>
<li><a href="/a">Celebrity chef opens bistro</a></li>
<li><a href="/b">Weather warning for weekend</a></li></ul></aside>
<main><article>
<h1>Allies agree on new maritime patrols</h1>
{body}
</article></main>
<footer><p>Contact us | Privacy policy | Terms of use</p>
<p>© 2024 The Harbour Times. All rights reserved.</p></footer>
</body></html>
"""


def write_page(path: Path, paragraphs: list[str], charset: str = "utf-8") -> Path:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    path.write_bytes(PAGE.format(charset=charset, body=body).encode(charset))
    return path


def test_html_main_text_without_navigation(tmp_path: Path) -> None:
    source = read_source(write_page(tmp_path / "page.html", PARAGRAPHS))
    assert source.kind == "html"
    assert source.verbatim is False
    for paragraph in PARAGRAPHS:
        assert paragraph in source.text
    for furniture in ["World News Section", "Trending now", "Celebrity chef", "Privacy policy"]:
        assert furniture not in source.text
    assert source.title == "Allies agree on new maritime patrols"
    assert source.outlet == "The Harbour Times"
    assert source.published == "2024-03-05"
    assert PARAGRAPHS[0] in texts(source)
    assert all(source.text[s.start : s.end] == s.text for s in source.sentences)


def test_html_without_a_date_in_its_markup_has_no_publication_date(tmp_path: Path) -> None:
    path = write_page(tmp_path / "page.html", PARAGRAPHS)
    dated = '<meta property="article:published_time" content="2024-03-05T08:00:00Z">'
    path.write_text(path.read_text(encoding="utf-8").replace(dated, ""), encoding="utf-8")
    # The footer's "© 2024" is not a publication date.
    assert read_source(path).published is None


@pytest.mark.parametrize(
    ("charset", "codec", "quote"),
    [
        ("windows-1252", "cp1252", "The minister called it “a new era” for the région’s navies."),
        # A guess reads "Gdañsk" (cp1252): the declaration decides.
        ("windows-1250", "cp1250", "The talks took place in Gdańsk on Monday."),
    ],
)
def test_html_in_a_declared_legacy_charset(
    tmp_path: Path, charset: str, codec: str, quote: str
) -> None:
    paragraphs = [*PARAGRAPHS[:3], quote]
    source = read_source(write_page(tmp_path / "page.htm", paragraphs, charset=charset))
    assert source.encoding == codec
    assert quote in source.text


def test_html_without_main_text_fails(tmp_path: Path) -> None:
    path = tmp_path / "nav.html"
    path.write_text("<html><body><nav><a href='/'>Home</a></nav></body></html>", encoding="utf-8")
    with pytest.raises(SourceError, match="no main text"):
        read_source(path)


# --- failures -----------------------------------------------------------------------------------


def test_unreadable_files_fail_with_reasons_and_the_rest_loads(tmp_path: Path) -> None:
    files = {
        "empty.txt": b"",
        "blank.txt": b"  \n\t\n \r\n",
        "nul.txt": b"abc\x00\x01\x02def" * 20,
        "image.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
        "paper.txt": b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        "noise.txt": bytes(b for b in random.Random(0).randbytes(2000) if b),
        "good.txt": b"A readable sentence. Another one.\n",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    paths = [tmp_path / name for name in files]
    sources, failures = load_sources([tmp_path / "missing.txt", *paths])
    assert [Path(s.path).name for s in sources] == ["good.txt"]
    reasons = {Path(f.path).name: f.reason for f in failures}
    assert all(f.stage == "read" for f in failures)
    assert reasons["missing.txt"] == "no such file or folder"
    assert reasons["empty.txt"] == "empty file (0 bytes)"
    assert reasons["blank.txt"] == "empty file (only whitespace)"
    assert "binary" in reasons["nul.txt"] and "NUL" in reasons["nul.txt"]
    assert "binary" in reasons["image.txt"] and "PNG" in reasons["image.txt"]
    assert "binary" in reasons["paper.txt"] and "PDF" in reasons["paper.txt"]
    assert "cannot decode" in reasons["noise.txt"]
    assert len(failures) == 7
    assert all("\n" not in f.reason for f in failures)


def test_read_source_raises_for_a_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="folder"):
        read_source(tmp_path)


def test_duplicate_files_keep_the_first(tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    for path in (first, second):
        path.write_bytes(b"The same words twice.\n")
    sources, failures = load_sources([first, second])
    assert [s.path for s in sources] == [str(first)]
    assert [(f.path, f.reason) for f in failures] == [(str(second), f"duplicate of {first}")]


def test_expand_paths_folders_filters_sorts_and_deduplicates(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / ".git").mkdir()
    for name in ["b.md", "a.txt", "c.HTML", "d.pdf", ".hidden.txt", "sub/e.htm", ".git/f.txt"]:
        (folder / name).write_text("Text.\n", encoding="utf-8")
    (tmp_path / "empty").mkdir()
    (tmp_path / "other.dat").write_text("Given explicitly.\n", encoding="utf-8")
    files, failures = expand_paths(
        [
            folder / "b.md",
            folder,
            tmp_path / "empty",
            tmp_path / "nope",
            tmp_path / "other.dat",
            folder / "sub" / ".." / "a.txt",
        ]
    )
    assert [p.relative_to(tmp_path).as_posix() for p in files] == [
        "in/b.md",
        "in/a.txt",
        "in/c.HTML",
        "in/sub/e.htm",
        "other.dat",
    ]
    assert [(Path(f.path).name, f.reason) for f in failures] == [
        ("empty", "folder has no .txt, .md, .markdown, .html or .htm files"),
        ("nope", "no such file or folder"),
    ]


def test_load_sources_reads_a_folder_of_seeds() -> None:
    sources, failures = load_sources([SEEDS[0].parent, SEEDS[0]])
    assert failures == []
    assert [s.path for s in sources] == [str(p) for p in SEEDS]


def test_a_file_over_the_size_limit_is_one_line_and_the_rest_is_read(tmp_path: Path) -> None:
    from briefing.read.sources import load_sources

    (tmp_path / "huge.txt").write_text("Seoul said so. " * 200_000, encoding="utf-8")  # 3 MB
    (tmp_path / "news.txt").write_text("Title\n\nJapan and Korea met in Seoul on Monday.\n")
    read, failures = load_sources([tmp_path])
    assert [Path(s.path).name for s in read] == ["news.txt"]
    (failure,) = failures
    assert failure.path.endswith("huge.txt")
    assert "3 MB, over the 2 MB limit for one source (--max-source-mb)" in failure.reason
    read, failures = load_sources([tmp_path], max_mb=5)
    assert len(read) == 2 and not failures


def test_one_enormous_line_is_segmented_in_pieces_and_loses_nothing() -> None:
    from briefing.read import sentences

    text = "North Korea fired a missile on Monday, officials said. " * 2_000  # one 110 KB line
    found = sentences.split_sentences(text)
    assert len(found) == 2_000
    assert all(text[s.start : s.end] == s.text for s in found)
    # A run with no sentence end at all is cut at spaces, never inside a word.
    words = "word " * 3 * sentences.MAX_UNIT
    pieces = sentences.split_sentences(words)
    assert sum(p.text.split().count("word") for p in pieces) == 3 * sentences.MAX_UNIT
    assert len(pieces) > 1
    assert all(p.text.startswith("word") and p.text.endswith("word") for p in pieces)


# --- hard inputs: permissions, symlinks, many files -------------------------------------------

NOBODY = 65534  # the uid and gid of "nobody" on Debian; used only when the tests run as root


@contextlib.contextmanager
def unprivileged() -> Iterator[None]:
    """As root, chmod 000 blocks nothing: act as nobody meanwhile (only the effective ids
    change, so root can take them back)."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder nobody may enter too (pytest's own tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="briefing-perm-"))
    path.chmod(0o755)
    yield path
    for p in [path, *path.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(path)


def test_unreadable_file_and_folder_give_one_line_each_and_the_rest_is_read(
    shared_tmp: Path,
) -> None:
    (shared_tmp / "sub").mkdir()
    (shared_tmp / "locked").mkdir()
    for name in ["good.txt", "secret.txt", "sub/fine.txt", "locked/inside.txt"]:
        (shared_tmp / name).write_text(f"{name} says Japan and Korea met.\n", encoding="utf-8")
    (shared_tmp / "secret.txt").chmod(0)
    (shared_tmp / "locked").chmod(0)
    with unprivileged():
        sources, failures = load_sources([shared_tmp])
        # Named on its own, a file in a folder that cannot be entered: one line too.
        named, named_failures = load_sources([shared_tmp / "locked" / "inside.txt"])
    assert named == []
    assert [f.reason for f in named_failures] == ["cannot read it: Permission denied"]
    assert [Path(s.path).relative_to(shared_tmp).as_posix() for s in sources] == [
        "good.txt",
        "sub/fine.txt",
    ]
    assert [(Path(f.path).name, f.reason) for f in failures] == [
        ("locked", "cannot list the folder: Permission denied"),
        ("secret.txt", "cannot read the file: Permission denied"),
    ]


def test_symlink_loops_dangling_links_and_links_up_give_one_line_each(tmp_path: Path) -> None:
    folder, elsewhere = tmp_path / "in", tmp_path / "elsewhere"
    (folder / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    for path in [folder / "real.txt", folder / "sub" / "deep.md", elsewhere / "far.txt"]:
        path.write_text(f"{path.name}: Japan and Korea met in Seoul.\n", encoding="utf-8")
    (folder / "a.txt").symlink_to("b.txt")
    (folder / "b.txt").symlink_to("a.txt")  # a -> b -> a
    (folder / "gone.txt").symlink_to("nowhere.txt")
    (folder / "gone.jpg").symlink_to("nowhere.jpg")  # not a source either way: no line
    (folder / "sub" / "up").symlink_to("..")  # a folder that contains its parent
    (folder / "self").symlink_to(".")
    (folder / "again").symlink_to("sub")  # a second way into a folder already listed
    (folder / "far").symlink_to(elsewhere)  # a folder outside: followed
    (folder / "alias.txt").symlink_to("real.txt")  # the same file twice: the first name kept
    os.mkfifo(folder / "pipe.txt")  # reading it would wait forever
    files, failures = expand_paths([folder])
    assert [p.relative_to(folder).as_posix() for p in files] == [
        "alias.txt",
        "far/far.txt",
        "sub/deep.md",
    ]
    loop = "symlink loop: following its links never reaches a file"
    up = "symlink to a folder that contains it: not followed (it would be listed forever)"
    assert [(Path(f.path).relative_to(folder).as_posix(), f.reason) for f in failures] == [
        ("a.txt", loop),
        ("b.txt", loop),
        ("gone.txt", "dangling symlink: it points at nowhere.txt, which does not exist"),
        ("pipe.txt", "not a regular file (a pipe, socket or device)"),
        ("self", up),
        ("sub/up", up),
    ]
    # Named on their own, the same lines; the build reads the rest.
    sources, failures = load_sources(
        [folder / "a.txt", folder / "gone.txt", folder / "pipe.txt", folder / "real.txt"]
    )
    assert [Path(s.path).name for s in sources] == ["real.txt"]
    assert [f.reason for f in failures] == [
        loop,
        "dangling symlink: it points at nowhere.txt, which does not exist",
        "not a regular file (a pipe, socket or device)",
    ]


def test_ten_thousand_files_are_listed_without_opening_one(
    tmp_path: Path, watch_opens: Callable[[Path], list[str]]
) -> None:
    folder = tmp_path / "many"
    for k in range(10):
        (folder / f"day{k}").mkdir(parents=True)
    for n in range(10_000):
        (folder / f"day{n % 10}" / f"{n:05d}.txt").write_bytes(b"Seoul said so.\n")
    opened = watch_opens(folder)
    started = time.monotonic()
    files, failures = expand_paths([folder])
    seconds = time.monotonic() - started
    assert len(files) == 10_000 and not failures
    assert files == sorted(files)
    assert opened == [] and seconds < 10


def test_files_are_read_one_at_a_time_with_progress(
    tmp_path: Path, watch_opens: Callable[[Path], list[str]]
) -> None:
    paths = []
    for n in range(30):
        path = tmp_path / f"{n:02d}.txt"
        path.write_text(f"Article {n}. Japan and Korea met in Seoul on day {n}.\n")
        paths.append(path)
    opened = watch_opens(tmp_path)
    seen: list[tuple[int, int, int]] = []
    reading = read_files(paths, on_read=lambda done, total: seen.append((done, total, len(opened))))
    # Each call comes after one more file was opened, and before the next one is.
    assert seen == [(n, 30, n) for n in range(1, 31)]
    assert [s.path for s in reading.sources] == [str(p) for p in paths]
    assert reading.sizes == {str(p): p.stat().st_size for p in paths}


_WATCHED: list[tuple[str, list[str]]] = []  # (folder prefix, opens seen) while a test watches


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and _WATCHED and str(args[0]).startswith(_WATCHED[0][0]):
        _WATCHED[0][1].append(str(args[0]))


@pytest.fixture
def watch_opens() -> Iterator[Callable[[Path], list[str]]]:
    """``watch_opens(folder)``: every file below ``folder`` Python opens from then on, in order
    (an audit hook sees ``open`` and ``os.open``). Hooks cannot be removed: one is added once
    and watches only while a test asks it to."""
    if not getattr(_audit, "added", False):
        sys.addaudithook(_audit)
        _audit.added = True  # type: ignore[attr-defined]

    def watch(folder: Path) -> list[str]:
        opened: list[str] = []
        _WATCHED[:] = [(str(folder) + os.sep, opened)]
        return opened

    yield watch
    _WATCHED.clear()
