"""A circuit breaker, so that an unreachable service costs its time-out only a few times."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    """Closed: calls pass. Open: calls are refused. Half-open: one probe call passes.

    After ``failure_threshold`` consecutive failures the circuit opens. Once
    ``reset_after_s`` has passed, the next ``allow()`` lets a single probe through
    (other callers are still refused): its success closes the circuit, its failure
    opens it for another ``reset_after_s``.

    Args:
        failure_threshold: Consecutive failures that open the circuit.
        reset_after_s: Seconds the circuit stays open before a probe.
        clock: Monotonic clock in seconds; injectable for tests.
        name: Used in log messages.
    """

    def __init__(
        self,
        failure_threshold: int = 3,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        name: str = "circuit",
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._name = name
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open`` (open past its cool-down reads as half-open)."""
        with self._lock:
            if self._state == OPEN and self._cooled_down():
                return HALF_OPEN
            return self._state

    def allow(self) -> bool:
        """Return True if a call may go ahead now (in half-open state, only the first caller)."""
        with self._lock:
            if self._state == CLOSED:
                return True
            if self._state == OPEN and self._cooled_down():
                self._state = HALF_OPEN  # this caller is the probe
                log.info("%s half-open: probing", self._name)
                return True
            return False

    def record_success(self) -> None:
        """Close the circuit and forget past failures."""
        with self._lock:
            if self._state != CLOSED:
                log.info("%s closed", self._name)
            self._state, self._failures = CLOSED, 0

    def record_failure(self) -> None:
        """Count a failure; open the circuit at the threshold or when a probe fails."""
        with self._lock:
            self._failures += 1
            if self._state == HALF_OPEN or self._failures >= self.failure_threshold:
                if self._state != OPEN:
                    log.warning("%s open after %d failure(s)", self._name, self._failures)
                self._state, self._opened_at = OPEN, self._clock()

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self.reset_after_s
