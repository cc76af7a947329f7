"""Counting the records a stage leaves out, so none is lost silently."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Skips:
    """Skipped records by reason, with a few examples of each."""

    max_examples: int = 5
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, reason: str, example: str) -> None:
        """Count one skipped record under ``reason``."""
        self.counts[reason] += 1
        if len(self.examples[reason]) < self.max_examples:
            self.examples[reason].append(example[:200])

    def total(self) -> int:
        """All skipped records."""
        return sum(self.counts.values())

    def report(self) -> dict:
        """A JSON-ready summary: counts and examples per reason."""
        return {reason: {"count": n, "examples": self.examples[reason]} for reason, n in sorted(self.counts.items())}

    def log(self) -> None:
        """Log one warning per reason."""
        for reason, n in sorted(self.counts.items()):
            log.warning("skipped %d record(s): %s (e.g. %s)", n, reason.replace("_", " "),
                        "; ".join(self.examples[reason][:2]))
