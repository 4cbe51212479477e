"""ALCE's citation recall and precision (Gao et al., 2023, "Enabling Large Language Models to
Generate Text with Citations"), over the support layer's verdicts.

* **Citation recall**: the share of claims that their cited spans, taken together, fully
  support. "Partly" is not enough.
* **Citation precision**: the share of citations that are not *irrelevant*. A citation is
  irrelevant when (a) it alone does not support the claim and (b) the claim's other citations
  support it without it. As in ALCE's own scorer, the citations of a claim that is not fully
  supported count as not precise, and a lone citation of a supported claim is precise.

ALCE decides (b) with one more entailment request per citation. We ask the judge once per claim
for each span's own support (``supports`` / ``partly`` / ``unrelated``) and decide (b) from that:
a span that is ``unrelated`` can be dropped without loss, so it is irrelevant; one that
``partly`` supports is taken as needed. This never calls a needed span irrelevant because the
judge was not asked; it may call a redundant partial span needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .report import Alone


@dataclass(frozen=True)
class Judged:
    """One claim as the support layer saw it: fully supported or not, and each span alone."""

    supported: bool
    alone: tuple[Alone, ...]


def needed(claim: Judged) -> list[bool]:
    """For each citation of ``claim``, whether it is relevant (ALCE's precision)."""
    if not claim.supported:
        return [False] * len(claim.alone)
    if len(claim.alone) == 1:
        return [True]
    return [a != "unrelated" for a in claim.alone]


def citation_recall(claims: Sequence[Judged]) -> float | None:
    """Share of ``claims`` fully supported by their citations; None for no claim."""
    if not claims:
        return None
    return sum(c.supported for c in claims) / len(claims)


def citation_precision(claims: Sequence[Judged]) -> float | None:
    """Share of all citations of ``claims`` that are relevant; None for no citation."""
    flags = [flag for c in claims for flag in needed(c)]
    if not flags:
        return None
    return sum(flags) / len(flags)
