"""The JSON schema a reply must follow, shaped for structured-output servers.

Pydantic's schema of a reply model, with ``$ref`` inlined (small servers prefer it) and every
object closed: no extra keys, every property required, titles and defaults removed. OpenAI's
strict mode rejects string length bounds, which llama.cpp turns into grammar bounds: they are
dropped only for OpenAI. Pydantic enforces them on our side either way.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

_OPENAI_UNSUPPORTED = ("minLength", "maxLength")


def response_format(model: type[BaseModel], name: str, *, openai_strict: bool) -> dict[str, Any]:
    """A ``json_schema`` response format for ``model``: refs inlined, every object closed."""
    schema = _inline_refs(model.model_json_schema())
    _close_objects(schema, drop=_OPENAI_UNSUPPORTED if openai_strict else ())
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace ``$ref`` to ``#/$defs/X`` by the definition itself (small servers prefer it)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(copy.deepcopy(defs[ref.removeprefix("#/$defs/")]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result


def _close_objects(node: Any, drop: tuple[str, ...]) -> None:
    """Every object: no extra keys, every property required; titles and defaults removed."""
    if isinstance(node, dict):
        for key in ("title", "default", *drop):
            if not isinstance(node.get(key), dict):
                node.pop(key, None)
        if node.get("type") == "object" and "properties" in node:
            node["additionalProperties"] = False
            node["required"] = list(node["properties"])
        for value in node.values():
            _close_objects(value, drop)
    elif isinstance(node, list):
        for value in node:
            _close_objects(value, drop)
