"""A circuit breaker that stops hammering a Plex server that keeps failing.

Closed, every request goes through. After ``failure_threshold`` consecutive
failures the breaker opens: requests fail at once with ``CircuitOpenError`` for
``cooldown`` seconds. Then it is half-open: one request at a time (the probe) is let
through; its success closes the breaker, its failure opens it for another cooldown.
A probe that never reports (its caller was cancelled) is given up after one
cooldown, and the next caller becomes the probe.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
import time
from typing import Any


def _monotonic() -> float:
    """``time.monotonic()``, looked up at each call so that frozen test clocks apply."""
    return time.monotonic()


class BreakerState(StrEnum):
    """Where the breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(Exception):
    """A request was refused because the breaker is open (or a probe is running)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"circuit open; retry after {retry_after:.1f} s")
        self.retry_after = retry_after
        """Seconds until the breaker may let a request through again."""


class CircuitBreaker:
    """Counts consecutive failures of one server and refuses requests while open."""

    def __init__(
        self,
        failure_threshold: int = 5,
        cooldown: float = 30.0,
        clock: Callable[[], float] = _monotonic,
    ) -> None:
        self.failure_threshold = max(1, failure_threshold)
        self.cooldown = cooldown
        self._clock = clock
        self._consecutive_failures = 0
        self._opened_at: float | None = None
        self._probe_started_at: float | None = None
        self._opened_count = 0
        self._probes = 0

    @property
    def state(self) -> BreakerState:
        """Closed, open, or half-open once the cooldown has passed (read now)."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def consecutive_failures(self) -> int:
        """Failures recorded since the last success."""
        return self._consecutive_failures

    def before_request(self) -> None:
        """Raise CircuitOpenError while open.

        In half-open exactly one probe is let through at a time (a second concurrent
        caller gets CircuitOpenError until the probe reports).
        """
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.OPEN:
            raise CircuitOpenError(self.retry_after)
        now = self._clock()
        if (
            self._probe_started_at is not None
            and now - self._probe_started_at < self.cooldown
        ):
            raise CircuitOpenError(self._probe_started_at + self.cooldown - now)
        self._probe_started_at = now
        self._probes += 1

    def record_success(self) -> None:
        """The server answered: close the breaker and forget the failures."""
        self._consecutive_failures = 0
        self._opened_at = None
        self._probe_started_at = None

    def record_failure(self) -> None:
        """Count a failure; open at the threshold, or again after a failed probe."""
        self._consecutive_failures += 1
        state = self.state
        if state is BreakerState.HALF_OPEN or (
            state is BreakerState.CLOSED
            and self._consecutive_failures >= self.failure_threshold
        ):
            self._open()

    @property
    def retry_after(self) -> float:
        """Seconds until an open breaker turns half-open (0.0 when not open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.cooldown - self._clock())

    def as_dict(self) -> dict[str, Any]:
        """The breaker for diagnostics."""
        return {
            "state": str(self.state),
            "consecutive_failures": self._consecutive_failures,
            "opened_count": self._opened_count,
            "probes": self._probes,
            "retry_after": round(self.retry_after, 3),
        }

    def _open(self) -> None:
        """Refuse requests for one cooldown from now."""
        self._opened_at = self._clock()
        self._probe_started_at = None
        self._opened_count += 1
