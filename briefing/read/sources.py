"""Load sources: expand paths (:mod:`briefing.listing`), read files one at a time, decode them,
extract HTML main text and number the sentences (:mod:`briefing.sentences`).

Every ``Sentence`` is an exact slice of ``Source.text`` so a citation can quote it verbatim.
"""

from __future__ import annotations

import codecs
import datetime as dt
import errno
import hashlib
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import trafilatura
from charset_normalizer import from_bytes

from ..errors import SourceError
from ..models import Source, SourceFailure
from .listing import KINDS as KINDS  # re-exported: where a source's kind was always looked up
from .listing import LOOP, NOT_REGULAR, Kind, missing_reason
from .listing import expand_paths as expand_paths
from .sentences import SentenceCache, split_sentences

# Signatures of files people rename to .txt by mistake; a PDF can be pure ASCII, so the NUL check
# alone would not catch it.
MAGIC = {
    b"\x89PNG": "a PNG image", b"%PDF-": "a PDF document", b"GIF8": "a GIF image",
    b"\xff\xd8\xff": "a JPEG image", b"PK\x03\x04": "a ZIP archive or Office document",
    b"\x1f\x8b": "a gzip archive", b"\x7fELF": "an executable",
}  # fmt: skip
# Longest first: the UTF-32-LE BOM starts with the UTF-16-LE one.
BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
]  # fmt: skip


MB = 1_000_000
DEFAULT_MAX_MB = 2.0  # Settings.max_source_mb


def load_sources(
    paths: Iterable[Path], max_mb: float = DEFAULT_MAX_MB
) -> tuple[list[Source], list[SourceFailure]]:
    """Read every path; failures (unreadable files, duplicates, files over ``max_mb``) are
    reported, not raised."""
    files, failures = expand_paths(paths)
    reading = read_files(files, max_mb)
    return reading.sources, [*failures, *reading.failures]


@dataclass(frozen=True)
class Reading:
    """What the reading stage gives the build."""

    sources: list[Source]
    failures: list[SourceFailure]
    sizes: dict[str, int]  # bytes of each source's file as read, by path


def read_files(
    files: Sequence[Path],
    max_mb: float = DEFAULT_MAX_MB,
    on_read: Callable[[int, int], None] | None = None,
    cache: SentenceCache | None = None,
) -> Reading:
    """Read ``files`` one at a time, in order, so only one file's bytes are held at once;
    ``on_read(done, total)`` is called after each. Failures are reported, not raised.
    ``cache`` keeps sentence splits between builds (None: every text is segmented)."""
    sources: list[Source] = []
    failures: list[SourceFailure] = []
    sizes: dict[str, int] = {}
    first_path: dict[str, str] = {}
    for done, path in enumerate(files, 1):
        try:
            data = read_bytes(path, max_mb)
            source = source_of(path, data, cache)
        except SourceError as err:
            failures.append(SourceFailure(path=str(path), stage="read", reason=str(err)))
        else:
            if source.id in first_path:
                reason = f"duplicate of {first_path[source.id]}"
                failures.append(SourceFailure(path=str(path), stage="read", reason=reason))
            else:
                first_path[source.id] = source.path
                sources.append(source)
                sizes[source.path] = len(data)
        if on_read is not None:
            on_read(done, len(files))
    return Reading(sources, failures, sizes)


def read_source(
    path: Path, max_mb: float = DEFAULT_MAX_MB, cache: SentenceCache | None = None
) -> Source:
    """Read one file into a ``Source``; raise ``SourceError`` when it holds no usable text or
    is bigger than ``max_mb`` megabytes."""
    return source_of(path, read_bytes(path, max_mb), cache)


def read_bytes(path: Path, max_mb: float = DEFAULT_MAX_MB) -> bytes:
    """The bytes of the regular file ``path``; ``SourceError`` (one line) when it is a folder,
    a pipe or device, over ``max_mb`` megabytes, or cannot be opened."""
    try:
        # Before opening: opening a pipe would wait for a writer.
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise SourceError("is a folder, not a file")
        if not stat.S_ISREG(mode):
            raise SourceError(NOT_REGULAR)
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > max_mb * MB:
                raise SourceError(
                    f"{size / MB:.0f} MB, over the {max_mb:g} MB limit for one source "
                    "(--max-source-mb); split it or raise the limit"
                )
            # Never more than the limit: the file may grow between the stat and the read.
            return fh.read(int(max_mb * MB) + 1)
    except FileNotFoundError as err:
        if path.is_symlink():
            raise SourceError(missing_reason(path)) from err
        raise SourceError("no such file (removed before it was read)") from err
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise SourceError(LOOP) from err
        raise SourceError(f"cannot read the file: {err.strerror or err}") from err


def source_of(path: Path, data: bytes, cache: SentenceCache | None = None) -> Source:
    """The ``Source`` of ``data``, the bytes read from ``path``; ``SourceError`` when they hold
    no usable text. ``cache``: see :func:`read_files`."""
    if not data:
        raise SourceError("empty file (0 bytes)")
    kind = KINDS.get(path.suffix.lower(), "text")
    raw, encoding = _decode(data)
    if not raw.strip():
        raise SourceError("empty file (only whitespace)")
    title = outlet = published = None
    if kind == "html":
        text, title, outlet, published = _html_main_text(raw)
        verbatim = False
    else:
        # Read the way a UTF-8 reader without newline translation would; any CR makes the text
        # differ from the file, so the build must write a copy.
        text = raw.replace("\r\n", "\n").replace("\r", "\n")
        verbatim = encoding == "utf-8" and text == raw
    return Source(
        id=hashlib.sha256(data).hexdigest(),
        path=str(path),
        kind=kind,
        encoding=encoding,
        verbatim=verbatim,
        title=(title or "").strip()[:200] or _first_line(text, kind),
        outlet=(outlet or "").strip() or find_outlet(text),
        published=published or find_published(text),
        text=text,
        sentences=tuple(split_sentences(text, cache)),
    )


# --- decoding -----------------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, str]:
    for bom, codec in BOMS:
        if data.startswith(bom):
            return _checked(data, codec), codec
    for magic, name in MAGIC.items():
        if data.startswith(magic):
            raise SourceError(f"binary file ({name}), not text")
    if b"\x00" in data:
        # UTF-16 without a BOM is the one text format full of NULs; let the detector decide.
        guess = _detect(data)
        if not guess or not guess.startswith(("utf_16", "utf_32")):
            raise SourceError("binary file (contains NUL bytes), not text")
        return _checked(data, guess), guess
    try:
        return _checked(data, "utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    guess = _detect(data)
    if guess is None:
        raise SourceError("cannot decode the file: not UTF-8 and no other text encoding fits")
    return _checked(data, guess), guess


def _detect(data: bytes) -> str | None:
    # charset_normalizer also honours an HTML page's <meta charset> declaration.
    results = from_bytes(data)
    best = results.best()
    if best is None:
        return None
    # Code pages tie on short texts (cp1250 reads "Müller" like cp1252 but not "smörgåsbord");
    # Windows-1252, the usual non-UTF-8 encoding of English and Western text, wins a tie.
    for match in results:
        tied = (match.chaos, match.coherence) == (best.chaos, best.coherence)
        if tied and "cp1252" in match.could_be_from_charset:
            return "cp1252"
    return best.encoding


ODD = {"Cc", "Co", "Cn"}  # control, private-use and unassigned code points


def _checked(data: bytes, codec: str) -> str:
    """Decode, refusing results that are mostly control characters (binary data decodes too)."""
    text = data.decode(codec)
    odd = sum(1 for c in text if unicodedata.category(c) in ODD and c not in "\t\n\r\f\v")
    if "\x00" in text or odd > max(2, len(text) // 100):
        raise SourceError("binary file (control characters), not text")
    return text


# --- HTML ---------------------------------------------------------------------------------------


def _html_main_text(html: str) -> tuple[str, str | None, str | None, str | None]:
    """Main text, then the title, site name and ISO date of the page's metadata."""
    main = trafilatura.extract(
        html, include_comments=False, include_tables=False, favor_recall=True, with_metadata=False
    )
    # A nav-only page still yields a stray link text ("Home"): too few words is no article.
    if not main or len(main.split()) < 8:
        raise SourceError("no main text found in the HTML page")
    # trafilatura puts one paragraph per line; blank lines keep headings and teasers from being
    # glued to the paragraph that follows them.
    text = "\n\n".join(line.strip() for line in main.splitlines() if line.strip())
    # extensive=False: dates from markup only; the full search takes "© 2024" for 2024-01-01.
    meta = trafilatura.extract_metadata(html, extensive=False)
    date = getattr(meta, "date", None)
    try:
        iso = dt.date.fromisoformat(date[:10]).isoformat() if date else None
    except ValueError:
        iso = None
    return text, getattr(meta, "title", None), getattr(meta, "sitename", None), iso


def _first_line(text: str, kind: Kind) -> str | None:
    """The headline: the first line of a few words that is not a date or a reading time.

    Scraped pages often glue a breadcrumb to the headline ("HomeWorldAsiaUnited States plans…")
    and repeat the clean headline just below; a later line that ends the first one wins.
    """
    lines = []
    for raw in text.splitlines()[:15]:
        if kind == "markdown" and raw.startswith("#") and raw.lstrip("#").strip():
            return raw.lstrip("#").strip()[:200]  # a Markdown heading says what it is
        line = raw.strip()
        if not any(c.isalnum() for c in line):
            continue  # a "---" rule or front-matter fence
        lines.append(line)
    candidates = [
        line
        for line in lines
        if len(line.split()) >= 4 and not find_published(line) and not _READ_TIME.search(line)
    ]
    if not candidates:
        return lines[0][:200].rstrip() if lines else None
    first = candidates[0]
    for later in candidates[1:]:
        if first != later and first.endswith(later):
            return later[:200].rstrip()
    return first[:200].rstrip()


_READ_TIME = re.compile(r"\b\d+\s*mins?\s+read\b", re.IGNORECASE)


# --- what the text says about itself ------------------------------------------------------------

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august"]
MONTHS += ["september", "october", "november", "december"]
_MON = r"(?P<mon>[A-Za-z]{3,9})\.?"
DATE_PATTERNS = [
    re.compile(rf"\b{_MON}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>\d{{4}})\b"),
    re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MON},?\s+(?P<year>\d{{4}})\b"),
    re.compile(r"\b(?P<year>\d{4})-(?P<mon>\d{2})-(?P<day>\d{2})\b"),
]
# Text before a date on a long line that still makes it a dateline: "Tokyo, ", "Monday, ".
DATELINE_PREFIX = re.compile(r"^\W*(?:[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,3},\s*)?$")


def _head(text: str, max_lines: int = 15, max_chars: int = 600) -> list[str]:
    """The non-blank lines starting in the top of the text, where datelines and bylines sit."""
    lines: list[str] = []
    pos = 0
    for line in text.split("\n"):
        if pos >= max_chars or len(lines) >= max_lines:
            break
        pos += len(line) + 1
        if line.strip():
            lines.append(line)  # whole: a cut-off prose line would pass for a short byline
    return lines


def _month(name: str) -> int:
    # "Dec", "Sept" and "December" all name December; "Decoy" does not.
    name = name.lower()
    return next((i for i, m in enumerate(MONTHS, 1) if m.startswith(name)), 0)


def _dates(line: str) -> Iterator[tuple[re.Match[str], str]]:
    matches = [m for pattern in DATE_PATTERNS for m in pattern.finditer(line)]
    for m in sorted(matches, key=lambda m: m.start()):
        mon = m.group("mon")
        month = int(mon) if mon.isdigit() else _month(mon)
        try:
            day = dt.date(int(m.group("year")), month, int(m.group("day")))
        except ValueError:
            continue
        if 1900 <= day.year <= 2100:
            yield m, day.isoformat()


def find_published(text: str) -> str | None:
    """The publication date a dateline or byline at the top states, as YYYY-MM-DD, else None."""
    for line in _head(text):
        for m, iso in _dates(line):
            # Long lines are article prose: a date there is the news, unless it leads a dateline.
            if len(line.strip()) <= 100 or DATELINE_PREFIX.match(line[: m.start()]):
                return iso
    return None


OUTLET_NAME = r"[A-Z][\w&.'’-]*(?:\s+(?:of\s+)?[A-Z][\w&.'’-]*){0,4}"
# "Tokyo, 1 April 2024 (TDI): ..." or "WASHINGTON (AP) — ...": a comma-separated or all-caps
# dateline, then the agency tag, then a colon or dash and the article.
DATELINE_TAG = re.compile(
    r"^\s*(?:[A-Z][A-Z .'-]{2,}|[A-Z][\w .'’-]{0,30},[\w .,'’-]{0,30}?)"
    r"\s*\((?P<name>[A-Z][\w&.' -]{1,30})\)"
    r"\s*(?::|—|–|-{1,2})\s+\S"
)
# "... programs…reports Asian Lite News" closing a teaser line.
REPORTS = re.compile(rf"(?:…|\.\.\.|\s[—–-])\s*reports\s+(?P<name>{OUTLET_NAME})\s*$")
# "(... may have been reworked by the Business Standard staff; ...)".
STAFF = re.compile(rf"\bby the (?P<name>{OUTLET_NAME}) (?:staff|newsroom|news desk)\b")
COPYRIGHT = re.compile(
    rf"^\s*(?:©|\([cC]\)|Copyright)\s*©?\s*(?:\d{{4}}(?:\s*[-–]\s*\d{{4}})?)?,?\s*"
    rf"(?P<name>{OUTLET_NAME})\.?(?:[.,]?\s+All rights reserved\.?)?\s*$",
    re.M,
)


def find_outlet(text: str) -> str | None:
    """The outlet the text names for itself (dateline tag, "…reports X", staff note), else None."""
    found = [
        DATELINE_TAG.match(line) or REPORTS.search(line.strip()) for line in _head(text, 15, 1200)
    ]
    m = next((m for m in found if m), None) or STAFF.search(text) or COPYRIGHT.search(text)
    return m.group("name").strip().rstrip(".") if m else None  # "Times." ends a sentence
