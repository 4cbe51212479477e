"""Grouping: from pair verdicts to groups of mentions, one group per real-world event.

Pairs judged the same are joined strongest first (union-find), but two groups are never joined
when any pair across them was judged different with a hard reason (two plans for two places,
dates weeks apart) or by the model: "A is B" and "B is C" must not make A and C one event when
A and C cannot be. The order is fixed (score, then indices), so the same pairs give the same
groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class Groups:
    """Union-find over mention indices that keeps, per group, the groups it must never join."""

    def __init__(self, size: int) -> None:
        self._parent = list(range(size))
        self._members: dict[int, set[int]] = {i: {i} for i in range(size)}
        self._apart: dict[int, set[int]] = {i: set() for i in range(size)}

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
        apart = self._apart.pop(rb)
        for other in apart:
            other_root = self.find(other)
            self._apart[other_root].discard(rb)
            self._apart[other_root].add(ra)
        self._apart[ra] |= {self.find(o) for o in apart}
        return True

    def _blocked(self, ra: int, rb: int) -> bool:
        return any(self.find(o) == rb for o in self._apart[ra])

    def groups(self) -> list[list[int]]:
        """Every group as a sorted list of indices, in order of each group's smallest index."""
        return sorted((sorted(m) for m in self._members.values()), key=lambda g: g[0])


def group(
    size: int,
    same: Iterable[tuple[float, int, int]],
    apart: Iterable[tuple[int, int]],
) -> list[list[int]]:
    """Groups of ``size`` mentions: ``same`` pairs (score, a, b) joined strongest first, never
    across an ``apart`` pair."""
    groups = Groups(size)
    for a, b in apart:
        groups.keep_apart(a, b)
    for _, a, b in sorted(same, key=lambda t: (-t[0], t[1], t[2])):
        groups.join(a, b)
    return groups.groups()


def members_of(groups: Sequence[Sequence[int]]) -> dict[int, int]:
    """Index → group number."""
    return {i: n for n, g in enumerate(groups) for i in g}
