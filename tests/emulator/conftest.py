"""Fixtures of the emulator's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.plex_server import PlexEmulator

from .fidelity import (
    REFERENCE_DIR,
    REFERENCE_MISSING,
    REQUIRE_REFERENCE_ENV,
    reference_problem,
    reference_required,
)


@pytest.fixture(scope="session")
def plex_reference() -> Path:
    """The real-Plex reference material; the test skips where it is missing.

    It is not part of the repository: it lies in ``shared/plex-reference`` beside the
    clone. A clone without it still checks the emulator against the distilled
    ``capture_shapes.json``; the tests that read the material itself skip, or fail
    where ``PLEX_BRIDGE_REQUIRE_REFERENCE=1`` is set (CI sets it, so there a run
    cannot pass while the emulator went unchecked against real Plex).
    """
    if problem := reference_problem():
        if reference_required():
            pytest.fail(f"{problem} ({REQUIRE_REFERENCE_ENV} is set)", pytrace=False)
        pytest.skip(problem)
    return REFERENCE_DIR


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line for the tests that skipped or failed for want of the reference material."""
    reports = [
        report
        for outcome in ("skipped", "error", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if REFERENCE_MISSING in getattr(report, "longreprtext", "")
    ]
    if not reports:
        return
    if reference_required():
        verdict = (
            f"{len(reports)} tests that read it failed ({REQUIRE_REFERENCE_ENV} is set)"
        )
    else:
        verdict = (
            f"{len(reports)} tests that read it skipped (the emulator was checked "
            f"against tests/emulator/capture_shapes.json; {REQUIRE_REFERENCE_ENV}=1 "
            "makes this a failure)"
        )
    terminalreporter.write_line(
        f"{REFERENCE_MISSING} at {REFERENCE_DIR} (captures/, plex-api-spec.yaml): {verdict}",
        yellow=True,
        bold=True,
    )


@pytest.fixture
async def owner_http(
    plex_server: PlexEmulator,
) -> AsyncIterator[aiohttp.ClientSession]:
    """A client session on the emulated server that sends the owner's token."""
    async with aiohttp.ClientSession(
        base_url=plex_server.url, headers={"X-Plex-Token": plex_server.token}
    ) as session:
        yield session
