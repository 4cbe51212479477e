"""What the requests of a build cost: a price table (``data/prices.toml``) and an estimate.

The table is a file, not code, because prices change more often than briefing does;
``BRIEFING_PRICES`` points at another copy. Tokens a hosted server took from its own prompt cache
are priced at its cached rate; tokens answered from the refresh state cost nothing and are not
counted here at all (they never reached a server). The embedded model costs nothing.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError
from .models import Usage
from .resources import resource_dir

PRICE_FILE = "prices.toml"


class Price(BaseModel):
    """US dollars per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(None, ge=0)


class PriceTable(BaseModel):
    """The shape of ``prices.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: dict[str, Price]

    def price_of(self, model: str) -> Price | None:
        """``model``'s price: its exact name, else the longest listed name that starts it."""
        if model in self.models:
            return self.models[model]
        starts = [name for name in self.models if model.startswith(name)]
        return self.models[max(starts, key=len)] if starts else None


def load_prices(path: Path | None = None) -> PriceTable:
    """The price table (``data/prices.toml`` unless ``path``); ConfigError if malformed."""
    return _load(path or resource_dir("data") / PRICE_FILE)


@cache
def _load(path: Path) -> PriceTable:
    try:
        return PriceTable.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ConfigError(f"cannot read the price table {path}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"{path} is not a valid price table: {first}") from exc


def estimate(usage: Usage, model: str, embedded: bool, table: PriceTable) -> float | None:
    """Dollars for ``usage`` on ``model`` (0 for the embedded model; None: price unknown)."""
    if embedded:
        return 0.0
    price = table.price_of(model)
    if price is None:
        return None
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    fresh = usage.prompt_tokens - cached
    cached_rate = price.cached_input if price.cached_input is not None else price.input
    dollars = fresh * price.input + cached * cached_rate + usage.completion_tokens * price.output
    return round(dollars / 1_000_000, 6)
