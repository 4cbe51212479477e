"""Text from sources and models, escaped for the Markdown it lands in, so it reads as written.

A source line such as ``<img src=x onerror=alert(1)>``, ``| pipes |`` or ``[^1]: …`` must come
out of ``brief.md`` as those characters, not as live HTML, a table cell break or a footnote. The
quote in ``claims.json`` stays exact; only what the Markdown shows is escaped. Registered as the
templates' ``md`` and ``md_code`` filters (see ``resources.py``).
"""

from __future__ import annotations

import re
from typing import Any

# Characters that start inline syntax wherever they stand: emphasis, code, links and footnotes,
# GFM tables and strikethrough, and the backslash itself. Block syntax (#, >, -, 1.) matters only
# at the start of a line, and no escaped text starts one: each is collapsed to one line and put
# after the template's own words.
_INLINE = re.compile(r"([\\`*_\[\]|~])")


def markdown_text(value: Any) -> str:
    """``value`` as inline Markdown text: one line, HTML and syntax characters escaped."""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _INLINE.sub(r"\\\1", text)


def markdown_code(value: Any) -> str:
    """``value`` as an inline code span (a file path), whatever backticks it holds; a pipe is
    escaped too, since a GFM table ends a cell at any unescaped pipe, code span or not."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
