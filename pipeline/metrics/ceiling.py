"""The human ceiling: each reference scored against the others, as Flickr8k's agreement is measured."""

from __future__ import annotations

from typing import Sequence

from pipeline.metrics.bleu import corpus_bleu


def human_bleu(references: Sequence[Sequence[Sequence[str]]], max_n: int = 4) -> list[float]:
    """BLEU-1..n of one reference against the other ones, averaged over which reference is left out.

    Images with fewer than two references are passed over.
    """
    usable = [refs for refs in references if len(refs) >= 2]
    rounds = min(len(refs) for refs in usable) if usable else 0
    if not rounds:
        return [0.0] * max_n
    totals = [0.0] * max_n
    for k in range(rounds):
        hyps = [refs[k] for refs in usable]
        others = [[r for i, r in enumerate(refs) if i != k] for refs in usable]
        totals = [t + s for t, s in zip(totals, corpus_bleu(others, hyps, max_n))]
    return [t / rounds for t in totals]
