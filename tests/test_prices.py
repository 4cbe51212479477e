"""The price table and the cost estimate in the manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from briefing.errors import ConfigError
from briefing.models import Usage
from briefing.prices import Price, PriceTable, estimate, load_prices


def test_the_shipped_table_prices_gpt_4o_mini_and_its_dated_names() -> None:
    table = load_prices()
    assert table.price_of("gpt-4o-mini") == table.price_of("gpt-4o-mini-2024-07-18")
    assert table.price_of("gpt-4o-mini-2024-07-18") != table.price_of("gpt-4o")  # longest wins
    assert table.price_of("some-local-model") is None


def test_estimate_prices_cached_tokens_at_their_rate() -> None:
    table = PriceTable(models={"m": Price(input=1.0, cached_input=0.5, output=2.0)})
    usage = Usage(prompt_tokens=1_000_000, cached_tokens=400_000, completion_tokens=500_000)
    assert estimate(usage, "m", False, table) == pytest.approx(0.6 + 0.2 + 1.0)
    assert estimate(usage, "m", True, table) == 0.0  # the embedded model
    assert estimate(usage, "other", False, table) is None
    no_cached_rate = PriceTable(models={"m": Price(input=1.0, output=2.0)})
    assert estimate(usage, "m", False, no_cached_rate) == pytest.approx(1.0 + 1.0)


@pytest.mark.parametrize(
    "text", ["[models.m]\ninput = 1\n", "[models.m]\ninput = -1\noutput = 1\n", "not toml ="]
)
def test_a_malformed_table_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="price table"):
        load_prices(path)
