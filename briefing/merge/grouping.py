"""Grouping: from pair verdicts to groups of mentions, one group per real-world event.

Pairs judged the same are joined strongest first (union-find), but two groups are never joined
when any pair across them was judged different with a hard reason (two plans for two places,
dates weeks apart) or by the model: "A is B" and "B is C" must not make A and C one event when
A and C cannot be. Nor is a group made whose stated dates lie more than ``MAX_DAYS_APART``
apart, though no pair across it was scored: blocking never pairs mentions weeks apart, so
without this a chain of undated mentions joined the launch of 12 February 2017 to that of 6
March. The order is fixed (score, then indices), so the same pairs give the same groups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from .signals import MAX_DAYS_APART, date_range


class Groups:
    """Union-find over mention indices that keeps, per group, the groups it must never join."""

    def __init__(self, size: int, dates: Sequence[str | None] = ()) -> None:
        """``size`` mentions, each its own group; ``dates``: each one's stated date, if any."""
        self._parent = list(range(size))
        self._members: dict[int, set[int]] = {i: {i} for i in range(size)}
        self._apart: dict[int, set[int]] = {i: set() for i in range(size)}
        # Per group, the latest first day and the earliest last day of its stated dates: the
        # widest gap between two of them is the one between these.
        self._span: dict[int, tuple[dt.date, dt.date]] = {}
        for i, date in enumerate(dates):
            covered = date_range(date)
            if covered is not None:
                self._span[i] = covered

    def find(self, i: int) -> int:
        """The root of ``i``'s group."""
        root = i
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[i] != root:  # path compression keeps later finds short
            self._parent[i], i = root, self._parent[i]
        return root

    def keep_apart(self, a: int, b: int) -> None:
        """``a`` and ``b`` must never end in one group."""
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self._apart[ra].add(rb)
            self._apart[rb].add(ra)

    def join(self, a: int, b: int) -> bool:
        """Join the groups of ``a`` and ``b`` unless they must stay apart; True when joined."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if self._blocked(ra, rb):
            return False
        if len(self._members[ra]) < len(self._members[rb]):
            ra, rb = rb, ra
        self._parent[rb] = ra
        self._members[ra] |= self._members.pop(rb)
        if rb in self._span:
            joined = self._span.pop(rb)
            if ra in self._span:
                mine = self._span[ra]
                joined = (max(mine[0], joined[0]), min(mine[1], joined[1]))
            self._span[ra] = joined
        apart = self._apart.pop(rb)
        for other in apart:
            other_root = self.find(other)
            self._apart[other_root].discard(rb)
            self._apart[other_root].add(ra)
        self._apart[ra] |= {self.find(o) for o in apart}
        return True

    def _blocked(self, ra: int, rb: int) -> bool:
        sa, sb = self._span.get(ra), self._span.get(rb)
        if sa and sb and (max(sa[0], sb[0]) - min(sa[1], sb[1])).days > MAX_DAYS_APART:
            return True
        return any(self.find(o) == rb for o in self._apart[ra])

    def groups(self) -> list[list[int]]:
        """Every group as a sorted list of indices, in order of each group's smallest index."""
        return sorted((sorted(m) for m in self._members.values()), key=lambda g: g[0])


def group(
    size: int,
    same: Iterable[tuple[float, int, int]],
    apart: Iterable[tuple[int, int]],
    dates: Sequence[str | None] = (),
) -> list[list[int]]:
    """Groups of ``size`` mentions: ``same`` pairs (score, a, b) joined strongest first, never
    across an ``apart`` pair, nor into a group with stated ``dates`` (one per mention, None when
    it states none) more than ``MAX_DAYS_APART`` days apart."""
    groups = Groups(size, dates)
    for a, b in apart:
        groups.keep_apart(a, b)
    for _, a, b in sorted(same, key=lambda t: (-t[0], t[1], t[2])):
        groups.join(a, b)
    return groups.groups()


def members_of(groups: Sequence[Sequence[int]]) -> dict[int, int]:
    """Index → group number."""
    return {i: n for n, g in enumerate(groups) for i in g}
