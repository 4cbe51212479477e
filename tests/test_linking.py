"""Linking's cheap tests run before the embedding model: what reaches it is bounded per group.

The embedder here is a counting stand-in that gives every text the same vector (so everything it
sees is close enough to link): the tests are about which sentences it is asked to embed, not about
meaning, which ``test_merge.py`` covers with the real model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from briefing.extract.ground import cite
from briefing.merge.actors import resolve_actors
from briefing.merge.embeddings import DIMENSIONS, Embedder
from briefing.merge.linking import (
    MAX_CANDIDATES,
    MAX_CANDIDATES_PER_SOURCE,
    MAX_LINKS_PER_SOURCE,
    Linked,
    link_mentions,
)
from briefing.models import Event, Source
from briefing.read.sources import read_source

SUMMIT = "The leaders of the three countries met for a summit at Camp David."
# Words no summary shares: these sentences name the anchor and nothing else of the summit.
FILLER = [
    "Tourists photographed the gates near Camp David during a sunny walk number {i}.",
    "Local farmers sold apples along the road to Camp David on market day {i}.",
]


class CountingEmbedder(Embedder):
    """The same unit vector for every text; remembers every text it was given."""

    def __init__(self) -> None:
        """No model: nothing here depends on meaning."""
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One identical unit row per text."""
        self.texts.extend(texts)
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        out[:, 0] = 1.0
        return out


def source(tmp_path: Path, name: str, *lines: str) -> Source:
    path = tmp_path / name
    path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    return read_source(path)


def fillers(k: int, count: int) -> list[str]:
    """A title, then ``count`` sentences of source ``k`` that name Camp David in passing."""
    return [f"Around Camp David {k}", *(FILLER[i % 2].format(i=f"{k}-{i}") for i in range(count))]


def summit_event(src: Source) -> Event:
    digest = hashlib.sha256(f"{src.id}summit".encode()).hexdigest()[:12]
    return Event(
        id="ev_" + digest, source_id=src.id, type="CONSULT", summary=SUMMIT,
        actors=("United States", "Japan", "South Korea"), location="Camp David",
        date="2023-08-18", date_basis="stated", status="occurred", role="main",
        citations=(cite(src, 2, src.path),),
    )  # fmt: skip


def link(events: list[Event], sources: list[Source]) -> tuple[Linked, CountingEmbedder]:
    embedder = CountingEmbedder()
    vectors = embedder.embed([e.summary for e in events])
    embedder.texts.clear()
    names = resolve_actors(events, sources)
    linked = link_mentions(events, [[0]], sources, embedder, names, {}, vectors)
    return linked, embedder


def test_a_written_date_the_group_cannot_meet_is_never_embedded(tmp_path: Path) -> None:
    report = source(tmp_path, "report.txt", "Summit", SUMMIT.replace(".", " on August 18, 2023."))
    other = source(tmp_path, "other.txt", "Old news",
                   "The leaders of the three countries held a summit at Camp David in March 2019.",
                   "The leaders of the three countries held a summit at Camp David in August "
                   "2023.")  # fmt: skip
    linked, embedder = link([summit_event(report)], [report, other])
    assert not any("2019" in t for t in embedder.texts)
    assert any("August 2023" in t for t in embedder.texts)
    assert [e.citations[0].quote for e in linked.events] == [other.sentences[2].text]


def test_the_sentences_embedded_per_group_are_bounded_closest_in_words_first(
    tmp_path: Path,
) -> None:
    report = source(tmp_path, "report.txt", "Summit", SUMMIT)
    # Three sources, each naming the anchor in far more sentences than the bounds allow; one
    # sentence of the first tells the summit in its own words and must be among those kept.
    told = "The leaders of the three countries met for their summit at Camp David."
    many = [
        source(tmp_path, f"other{k}.txt", *fillers(k, MAX_CANDIDATES), *([told] if k == 0 else []))
        for k in range(3)
    ]
    linked, embedder = link([summit_event(report)], [report, *many])
    others = [t for t in embedder.texts if t != report.sentences[1].text]
    # Without the bounds all 3 × 32 + 1 sentences naming Camp David would be embedded.
    assert len(others) <= min(MAX_CANDIDATES, 3 * MAX_CANDIDATES_PER_SOURCE)
    for s in many:
        mine = {x.text for x in s.sentences}
        assert sum(1 for t in others if t in mine) <= MAX_CANDIDATES_PER_SOURCE
    assert told in others
    assert len(linked.events) <= 3 * (MAX_LINKS_PER_SOURCE + 1)


def test_the_bounded_choice_is_the_same_whatever_the_order_of_the_sources(tmp_path: Path) -> None:
    report = source(tmp_path, "report.txt", "Summit", SUMMIT)
    many = [source(tmp_path, f"other{k}.txt", *fillers(k, 12)) for k in range(4)]
    _, first = link([summit_event(report)], sorted([report, *many], key=lambda s: s.id))
    _, second = link([summit_event(report)], sorted([report, *many], key=lambda s: s.id)[::-1])
    assert sorted(first.texts) == sorted(second.texts)


def test_a_country_is_no_anchor(tmp_path: Path) -> None:
    # A record placed in "Japan" would make every sentence naming Japan a candidate: a country
    # pins nothing down. The same sentence is linked when the group's place is a venue.
    report = source(tmp_path, "report.txt", "Troops", "Japan hosted tens of thousands of troops.")
    other = source(tmp_path, "other.txt", "Talks",
                   "The minister said Japan and its allies were unable to stop the launches.",
                   "Near Camp David, the allies said they could not stop launches.")  # fmt: skip
    in_japan = summit_event(report).model_copy(
        update={"summary": "Japan hosted tens of thousands of troops.", "location": "Japan"}
    )
    linked, embedder = link([in_japan], [report, other])
    assert linked.events == () and not embedder.texts  # nothing even embedded
    at_venue = in_japan.model_copy(update={"location": "Camp David"})
    linked, _ = link([at_venue], [report, other])
    assert [e.citations[0].quote for e in linked.events] == [other.sentences[2].text]
