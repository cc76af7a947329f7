"""CIDEr-D (Vedantam et al., 2015), as the COCO caption evaluation computes it."""

from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

from pipeline.metrics.bleu import ngrams

SIGMA = 6.0  # length penalty's width, in words


def _vectors(words: Sequence[str], max_n: int, doc_freq: Counter, log_docs: float):
    """Per n: tf-idf vector, its norm, and the caption's length."""
    out = []
    for n in range(1, max_n + 1):
        counts = ngrams(words, n)
        vec = {g: c * (log_docs - math.log(max(1.0, doc_freq[g]))) for g, c in counts.items()}
        out.append((vec, math.sqrt(sum(v * v for v in vec.values()))))
    return out, len(words)


def corpus_cider_d(references: Sequence[Sequence[Sequence[str]]], hypotheses: Sequence[Sequence[str]],
                   max_n: int = 4) -> tuple[float, list[float]]:
    """Mean CIDEr-D over the corpus and the per-caption scores.

    Document frequencies come from the references of the evaluated corpus, as in the
    reference implementation; n-gram counts of the candidate are clipped by the
    reference's, and a Gaussian penalty on the length difference is applied (the "-D").
    """
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} reference lists for {len(hypotheses)} hypotheses")
    doc_freq: Counter = Counter()
    for refs in references:
        doc_freq.update({g for ref in refs for n in range(1, max_n + 1) for g in ngrams(ref, n)})
    log_docs = math.log(float(len(references)))
    scores = []
    for refs, hyp in zip(references, hypotheses):
        (hyp_vecs, hyp_len) = _vectors(hyp, max_n, doc_freq, log_docs)
        total = [0.0] * max_n
        for ref in refs:
            ref_vecs, ref_len = _vectors(ref, max_n, doc_freq, log_docs)
            penalty = math.exp(-((hyp_len - ref_len) ** 2) / (2 * SIGMA ** 2))
            for n, ((hv, hn), (rv, rn)) in enumerate(zip(hyp_vecs, ref_vecs)):
                dot = sum(min(v, rv[g]) * rv[g] for g, v in hv.items() if g in rv)
                if hn and rn:
                    total[n] += penalty * dot / (hn * rn)
        scores.append(10.0 * sum(total) / max_n / len(refs))
    return (sum(scores) / len(scores) if scores else 0.0), scores
