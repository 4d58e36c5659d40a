"""The circuit breaker: opening, cooldown, the single half-open probe, closing."""

from __future__ import annotations

import pytest

from custom_components.plex_bridge.api.breaker import (
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
)


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        """The current reading."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, cooldown=30.0, clock=clock)


def fail(breaker: CircuitBreaker, times: int) -> None:
    """Let ``times`` requests through and have each fail."""
    for _ in range(times):
        breaker.before_request()
        breaker.record_failure()


def test_starts_closed(breaker: CircuitBreaker) -> None:
    breaker.before_request()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.as_dict() == {
        "state": "closed",
        "consecutive_failures": 0,
        "opened_count": 0,
        "probes": 0,
        "retry_after": 0.0,
    }


def test_opens_after_the_threshold(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    fail(breaker, 1)
    assert breaker.state is BreakerState.OPEN

    clock.advance(10)
    with pytest.raises(CircuitOpenError) as err:
        breaker.before_request()
    assert err.value.retry_after == pytest.approx(20.0)
    assert breaker.as_dict()["state"] == "open"
    assert breaker.as_dict()["retry_after"] == pytest.approx(20.0)
    assert breaker.as_dict()["opened_count"] == 1


def test_success_resets_the_count(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    breaker.record_success()
    fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 2


def test_half_open_after_cooldown_lets_one_probe_through(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.advance(30)
    assert breaker.state is BreakerState.HALF_OPEN

    breaker.before_request()
    with pytest.raises(CircuitOpenError) as err:
        breaker.before_request()
    assert err.value.retry_after == pytest.approx(30.0)
    assert breaker.as_dict()["probes"] == 1


def test_successful_probe_closes(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 3)
    clock.advance(30)
    breaker.before_request()
    breaker.record_success()

    assert breaker.state is BreakerState.CLOSED
    breaker.before_request()
    breaker.before_request()
    assert breaker.as_dict()["consecutive_failures"] == 0


def test_failed_probe_reopens_for_another_cooldown(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.advance(31)
    breaker.before_request()
    breaker.record_failure()

    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_after == pytest.approx(30.0)
    assert breaker.as_dict()["opened_count"] == 2
    clock.advance(29.9)
    with pytest.raises(CircuitOpenError):
        breaker.before_request()
    clock.advance(0.1)
    breaker.before_request()
    assert breaker.as_dict()["probes"] == 2


def test_late_failure_while_open_does_not_extend_the_cooldown(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.advance(10)
    breaker.record_failure()  # a request sent before the breaker opened
    assert breaker.retry_after == pytest.approx(20.0)
    assert breaker.as_dict()["opened_count"] == 1


def test_probe_that_never_reports_is_given_up(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.advance(30)
    breaker.before_request()  # its caller is cancelled and never reports
    clock.advance(30)
    breaker.before_request()
    assert breaker.as_dict()["probes"] == 2


def test_error_text() -> None:
    err = CircuitOpenError(12.34)
    assert isinstance(err, Exception)
    assert err.retry_after == 12.34
    assert str(err) == "circuit open; retry after 12.3 s"
