"""Finding and loading the prompt and template files, and hashing them for the manifest.

Prompts (``prompts/*.j2``) and templates (``templates/*.j2``) are files, rendered with Jinja's
``StrictUndefined`` so a missing variable fails instead of printing nothing. Their sha256 goes
into the manifest, so a changed prompt is visible in every output it produced.
"""

from __future__ import annotations

import hashlib
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from .errors import ConfigError
from .escape import markdown_code, markdown_text

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def resource_dir(name: str) -> Path:
    """The ``prompts`` or ``templates`` folder: next to the package, or installed under share/."""
    for candidate in (_PACKAGE_ROOT / name, Path(sys.prefix) / "share" / "briefing" / name):
        if candidate.is_dir():
            return candidate
    raise ConfigError(
        f"cannot find the '{name}' folder (looked next to the package and in {sys.prefix}/share)"
    )


@cache
def environment(name: str) -> jinja2.Environment:
    """A Jinja environment over ``prompts`` or ``templates``; HTML templates are autoescaped."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(resource_dir(name)),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2")),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Text from sources and models goes into Markdown through these (escape.py).
    env.filters["md"] = markdown_text
    env.filters["md_code"] = markdown_code
    return env


def render(folder: str, template: str, **variables: Any) -> str:
    """Render ``folder/template`` with ``variables``."""
    try:
        return environment(folder).get_template(template).render(**variables)
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(f"missing {folder}/{template}") from exc


def file_hashes(folder: str) -> dict[str, str]:
    """sha256 of every file in ``prompts`` or ``templates``, by file name."""
    root = resource_dir(folder)
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.iterdir())
        if p.is_file()
    }
