"""The circuit breaker that spares callers gTTS's time-out when Google is unreachable."""

from pipeline.speech.circuit import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def make(threshold=3, reset=30.0):
    clock = FakeClock()
    return CircuitBreaker(threshold, reset, clock=clock), clock


def test_opens_after_threshold_consecutive_failures():
    breaker, _ = make(threshold=3)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state == CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN
    assert not breaker.allow()


def test_success_resets_the_failure_count():
    breaker, _ = make(threshold=2)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == CLOSED


def test_half_open_after_cool_down_lets_exactly_one_probe_through():
    breaker, clock = make(threshold=1, reset=30.0)
    breaker.record_failure()
    clock.now += 29.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state == HALF_OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everyone else still waits for it
    assert not breaker.allow()


def test_successful_probe_closes():
    breaker, clock = make(threshold=1)
    breaker.record_failure()
    clock.now += 30
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == CLOSED
    assert breaker.allow() and breaker.allow()


def test_failed_probe_reopens_for_a_full_cool_down():
    breaker, clock = make(threshold=3, reset=10.0)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    breaker.record_failure()  # a single failure is enough in half-open state
    assert breaker.state == OPEN
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()
