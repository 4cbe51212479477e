"""Blocking: the few pairs of mentions worth scoring, out of all n² of them.

Two mentions become a candidate pair when they share a *block* (a canonical actor, or the most
specific word of their place) and their dates can be the same day give or take a few days (a
date disagreement is still one event). A block that holds more mentions than ``MAX_BLOCK`` (the
United States in a thousand stories) does not pair all of them: each mention is paired only with
its nearest neighbours in that block by meaning. Mentions that share no block at all are paired
with their nearest neighbours overall, so an event reported with other actor names is not lost.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .signals import MAX_DAYS_APART, days_apart, place_head

# All pairs of a block up to this size; beyond it, nearest neighbours only.
MAX_BLOCK = 64
NEIGHBOURS = 12
# Nearest neighbours below this cosine are not worth scoring.
MIN_NEIGHBOUR_COSINE = 0.45
# Every mention's nearest neighbours in meaning are scored too, blocks or not.
CLOSE_NEIGHBOURS = 5
CLOSE_COSINE = 0.75


@dataclass(frozen=True)
class Mention:
    """What blocking and scoring read of one event record."""

    index: int
    source_id: str
    date: str | None
    actors: frozenset[str]
    place: str | None


def candidate_pairs(mentions: Sequence[Mention], vectors: np.ndarray) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``, ``i < j``, worth scoring; sorted, so the same input gives the same list."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for m in mentions:
        for actor in m.actors:
            blocks["actor:" + actor].append(m.index)
        for word in place_head(m.place):
            blocks["place:" + word].append(m.index)
    pairs: set[tuple[int, int]] = set()
    blocked: set[int] = set()
    for members in blocks.values():
        if len(members) < 2:
            continue
        blocked.update(members)
        if len(members) <= MAX_BLOCK:
            pairs.update((a, b) for n, a in enumerate(members) for b in members[n + 1 :] if a != b)
        else:
            pairs.update(_nearest(members, vectors))
    alone = [m.index for m in mentions if m.index not in blocked]
    if alone:
        pairs.update(_nearest(alone, vectors, among=range(len(mentions))))
    # Whatever the blocks, each mention also meets its few nearest neighbours in meaning: the
    # same statement with its actors written otherwise ("North Korean ambassador to Malaysia,
    # Kang Chol" against "North Korea", "Malaysian officials" against "Malaysia") shares no block.
    if len(mentions) > 1:
        pairs.update(
            _nearest(
                [m.index for m in mentions], vectors, neighbours=CLOSE_NEIGHBOURS,
                least=CLOSE_COSINE,
            )
        )  # fmt: skip
    by_index = {m.index: m for m in mentions}
    kept = []
    for a, b in sorted((min(p), max(p)) for p in pairs if p[0] != p[1]):
        apart = days_apart(by_index[a].date, by_index[b].date)
        if apart is None or apart <= MAX_DAYS_APART:
            kept.append((a, b))
    return sorted(set(kept))


def _nearest(
    members: Sequence[int],
    vectors: np.ndarray,
    among: Sequence[int] | range | None = None,
    *,
    neighbours: int = NEIGHBOURS,
    least: float = MIN_NEIGHBOUR_COSINE,
) -> set[tuple[int, int]]:
    """Each member with its ``neighbours`` nearest (by cosine, at least ``least``) in ``among``
    (default: members), in chunks so a 10,000 × 10,000 similarity matrix is never held."""
    pool = np.asarray(list(among if among is not None else members))
    rows = np.asarray(list(members))
    pairs: set[tuple[int, int]] = set()
    pool_vectors = vectors[pool]
    for start in range(0, len(rows), 512):
        chunk = rows[start : start + 512]
        sims = vectors[chunk] @ pool_vectors.T
        k = min(neighbours + 1, len(pool))
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        for r, row in enumerate(chunk):
            for col in top[r]:
                other = int(pool[col])
                if other != row and sims[r, col] >= least:
                    pairs.add((min(int(row), other), max(int(row), other)))
    return pairs
