"""The brief as PDF, through Typst (the ``typst`` wheel: one binary, no system libraries).

The text goes into Typst as data, never as markup: :func:`document` builds plain strings from
the brief, they travel as JSON in ``sys.inputs``, and ``templates/brief.typ`` places them. A
quote holding ``# $ @ < * _ [ ] \\`` prints as written. Citations are superscript numbers that
link to their note in Notes at the end, as in ``brief.md``: page-bottom footnotes lost notes
when one line cited several paragraph-long quotes (Typst dropped footnotes that overflowed a
page, or failed).

Fonts: Libertinus Serif (OFL-1.1, inside Typst) for Latin text, then Noto Sans CJK (OFL-1.1,
from the pinned ``cvttf-notosanscjk-regular`` wheel, sha256 checked), which covers Latin,
Hangul, kana and Han, so 윤석열, 岸田文雄 and 金正恩 print. Typst draws
an empty box without a word for a character no font has, so every character is checked against
the font's character map first and a brief that cannot print is refused with the characters
and where they are. No system font is used and no date is embedded: the same brief gives the
same bytes.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import RenderError
from ..resources import resource_dir

TEMPLATE = "brief.typ"
FONT_PACKAGE = "cvttf_NotoSansCJK_Regular"
FONT_FILE = "NotoSansCJKtc-Regular.otf"
FONT_SHA256 = "f57e46120a3dd025ac993801981849622405d1359b32093b1f046490f7885711"
# U+FFFD stands where a source's own bytes could not be decoded (it is in the source's text,
# often in scraped corpora); the font has no glyph for it, so the PDF prints a white square.
# brief.md, brief.html and claims.json keep U+FFFD itself, exact as the text that was read.
REPLACEMENT_CHARACTER, PRINTED_AS = "\ufffd", "\u25a1"


def render_pdf(view: dict[str, Any]) -> bytes:
    """The PDF of a brief's view (``render._view``); RenderError if a character cannot print."""
    import typst  # a 34 MB extension: loaded when a PDF is made, not at every import

    data = _printable_replacements(document(view))
    font = font_file()
    missing = _unprintable(data, _font_chars(str(font)))
    if missing:
        shown = ", ".join(f"{c!r} (U+{ord(c):04X}) in {where}" for c, where in missing[:5])
        raise RenderError(
            f"brief.pdf not written: no font here can print {len(missing)} character(s): {shown}"
        )
    try:
        pdf, _warnings = typst.compile_with_warnings(
            str(resource_dir("templates") / TEMPLATE),
            font_paths=[str(font.parent)],
            ignore_system_fonts=True,  # the same fonts on every machine: the same bytes
            sys_inputs={"data": json.dumps(data, ensure_ascii=False, sort_keys=True)},
        )
    except typst.TypstError as exc:
        raise RenderError(f"brief.pdf not written: Typst failed ({exc})") from exc
    return bytes(pdf)


def font_file() -> Path:
    """The CJK-capable font, checked against its pinned sha256."""
    try:
        import cvttf_NotoSansCJK_Regular as package  # type: ignore[import-untyped]
    except ImportError as exc:
        raise RenderError(
            f"brief.pdf needs the font package {FONT_PACKAGE} (pip install -e .): {exc}"
        ) from exc
    path = Path(package.__file__).parent / FONT_FILE
    if not path.is_file() or _sha256(str(path)) != FONT_SHA256:
        raise RenderError(f"{path} is missing or not the pinned Noto Sans CJK file; reinstall it")
    return path


@cache
def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@cache
def _font_chars(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    return frozenset(TTFont(path, lazy=True).getBestCmap())


def _printable_replacements(data: Any) -> Any:
    """The document with every U+FFFD printed as a white square (see REPLACEMENT_CHARACTER)."""
    if isinstance(data, str):
        return data.replace(REPLACEMENT_CHARACTER, PRINTED_AS)
    if isinstance(data, dict):
        return {key: _printable_replacements(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_printable_replacements(value) for value in data]
    return data


def _unprintable(data: Any, chars: frozenset[int], where: str = "") -> list[tuple[str, str]]:
    """Every character of the document's strings that the font lacks, with where it is."""
    found: list[tuple[str, str]] = []
    if isinstance(data, str):
        for c in dict.fromkeys(data):
            if not c.isspace() and ord(c) not in chars:
                found.append((c, where or "the brief"))
    elif isinstance(data, dict):
        for key, value in data.items():
            found += _unprintable(value, chars, f"{where}.{key}" if where else str(key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += _unprintable(value, chars, f"{where}[{i}]")
    return found


def document(view: dict[str, Any]) -> dict[str, Any]:
    """The brief as plain strings for ``brief.typ``: what each section says, in order."""
    brief = view["brief"]

    def cites(item: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"n": link["n"]} for link in item["links"]]

    def line(item: dict[str, Any]) -> dict[str, Any]:
        text = " ".join([item["text"], *item["marks"]])
        return {"text": text, "cites": cites(item)}

    timeline = []
    for row in view["timeline"]:
        e = row["entry"]
        who = "Who: " + ", ".join(e.actors)
        if e.location:
            who += f" · Where: {e.location}"
        who += f" · reported by {e.sources} source{'s' if e.sources != 1 else ''}"
        if e.sources > 1:
            who += f" ({e.independent_sources} independent)"
        if e.disputed:
            who += " · Disputed: " + ", ".join(e.disputed) + " (see below)"
        head = f"{e.date or 'undated'} · {e.status}"
        head += " · background" if e.role == "background" else ""
        timeline.append(
            {
                "head": f"{head} · {e.type.lower()}",
                **line(row),
                "who": who,
                "outcomes": [line(o) for o in row["outcomes"]],
            }
        )
    disagreements = [
        {
            "head": d["entry"].field.capitalize(),
            "subject": d["entry"].subject,
            "sides": [
                {**line(s), "quotes": [f"{q['file']}: “{q['quote']}”" for q in s["quotes"]]}
                for s in d["sides"]
            ],
        }
        for d in view["disagreements"]
    ]
    actors = []
    for row in view["actors"]:
        a = row["entry"]
        others = [v for v in a.variants if v.kind != "canonical"]
        also = ""
        if others:
            also = (
                " Also written: "
                + ", ".join(
                    f"“{v.text}”"
                    + (
                        f" (a misspelling, in {len(v.source_ids)} source(s))"
                        if v.kind == "spelling"
                        else ""
                    )
                    for v in others
                )
                + "."
            )
        actors.append({"name": a.name, "kind": a.kind, **line(row), "also": also})
    changes: list[str] = []
    if brief.changes is not None:
        c = brief.changes
        if c.empty:
            changes.append(f"Nothing changed since build {c.previous_run} ({c.previous_at}).")
        changes += [f"Source {s.kind}: {s.path}" for s in c.sources]
        changes += [f"{e.label}: {e.date or 'undated'} {e.summary}" for e in c.events]
        changes += [f"New disagreement: {s}" for s in c.new_disagreements]
        changes += [f"Key point retracted: {t}" for t in c.retracted_key_points]
    return {
        "title": brief.title,
        "built": brief.built,  # the manifest's date, never the clock's: renders stay identical
        "scope": brief.scope,
        "check": view["check_line"],
        "meta": (
            f"Sources read: {len(brief.sources)}. Events: {len(view['timeline'])}; "
            f"disagreements between sources: {len(view['disagreements'])}. Every sentence cites "
            "the exact words of a source, given in the notes at the end."
        ),
        "changes": changes if brief.changes is not None else None,
        "key_points": [line(p) for p in view["key_points"]],
        "notes_text": list(brief.notes),
        "timeline": timeline,
        "disagreements": disagreements,
        "actors": actors,
        "sources": [
            [
                str(i),
                Path(s.path).name,
                s.title or "—",
                s.outlet or "—",
                s.published or "—",
                s.id[:12],
                str(s.events)
                + (
                    f" ({view['instruction_notes'][s.id]})"
                    if view["instruction_notes"][s.id]
                    else ""
                ),
            ]
            for i, s in enumerate(brief.sources, 1)
        ],
        "failures": [f"{f.path} ({f.stage}): {f.reason}" for f in brief.failures],
        "notes": [
            {"n": n["n"], "text": f"{Path(n['file']).name}:{n['line']} — “{n['quote']}”"}
            for n in view["notes"]
        ],
    }
