"""A clock that tests control.

The emulator never reads the wall clock directly: session positions, ``addedAt`` /
``updatedAt`` stamps and history all come from a ``Clock``. By default it follows
real time from a fixed start; ``freeze()`` stops it and ``advance()`` moves it, so a
test can say "ten seconds later" without sleeping.
"""

from __future__ import annotations

import time


class Clock:
    """Seconds since the epoch, as the emulated server believes them to be."""

    def __init__(self, start: float | None = None, *, frozen: bool = False) -> None:
        self._base = time.time() if start is None else start
        self._mono = time.monotonic()
        self._frozen_at: float | None = self._base if frozen else None

    def now(self) -> float:
        """The current time in seconds (float)."""
        if self._frozen_at is not None:
            return self._frozen_at
        return self._base + (time.monotonic() - self._mono)

    def timestamp(self) -> int:
        """The current time as Plex writes it: whole seconds since the epoch."""
        return int(self.now())

    @property
    def frozen(self) -> bool:
        """Whether the clock stands still."""
        return self._frozen_at is not None

    def freeze(self) -> None:
        """Stop the clock where it is."""
        self._frozen_at = self.now()

    def resume(self) -> None:
        """Let the clock run again from where it stands."""
        if self._frozen_at is not None:
            self._base = self._frozen_at
            self._mono = time.monotonic()
            self._frozen_at = None

    def advance(self, seconds: float) -> float:
        """Move the clock forward; returns the new time."""
        if self._frozen_at is not None:
            self._frozen_at += seconds
        else:
            self._base += seconds
        return self.now()
