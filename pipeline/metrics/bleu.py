"""Corpus BLEU (Papineni et al., 2002) against several references per caption."""

from __future__ import annotations

import math
from collections import Counter
from typing import Sequence


def ngrams(words: Sequence[str], n: int) -> Counter:
    """Counts of the ``n``-grams of ``words``."""
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def corpus_bleu(references: Sequence[Sequence[Sequence[str]]], hypotheses: Sequence[Sequence[str]],
                max_n: int = 4) -> list[float]:
    """BLEU-1 to BLEU-``max_n`` of tokenised ``hypotheses``, each against its list of references.

    Clipped n-gram precisions are summed over the corpus before dividing (not averaged
    per sentence); the brevity penalty uses, per caption, the reference closest in length.
    No smoothing: a corpus with no matching n-gram of some order scores 0 from that order on.
    """
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} reference lists for {len(hypotheses)} hypotheses")
    matches, totals = [0] * max_n, [0] * max_n
    hyp_length = ref_length = 0
    for refs, hyp in zip(references, hypotheses):
        hyp_length += len(hyp)
        ref_length += min((abs(len(r) - len(hyp)), len(r)) for r in refs)[1]
        for n in range(1, max_n + 1):
            counts = ngrams(hyp, n)
            best: Counter = Counter()
            for ref in refs:
                best |= ngrams(ref, n)
            matches[n - 1] += sum(min(c, best[g]) for g, c in counts.items())
            totals[n - 1] += max(len(hyp) - n + 1, 0)
    if hyp_length == 0:
        return [0.0] * max_n
    penalty = 1.0 if hyp_length > ref_length else math.exp(1 - ref_length / hyp_length)
    scores, log_sum = [], 0.0
    for n in range(max_n):
        if matches[n] == 0 or totals[n] == 0:
            scores.extend([0.0] * (max_n - n))
            break
        log_sum += math.log(matches[n] / totals[n])
        scores.append(penalty * math.exp(log_sum / (n + 1)))
    return scores
