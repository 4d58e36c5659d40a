"""Fixtures of the emulator's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Mapping, Sequence
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


def reference_summary(stats: Mapping[str, Sequence[object]]) -> str | None:
    """One line for the tests that skipped or failed for want of the reference material."""
    count = sum(
        REFERENCE_MISSING in getattr(report, "longreprtext", "")
        for outcome in ("skipped", "error", "failed")
        for report in stats.get(outcome, [])
    )
    if not count:
        return None
    if reference_required():
        verdict = f"{count} tests that read it failed ({REQUIRE_REFERENCE_ENV} is set)"
    else:
        verdict = (
            f"{count} tests that read it skipped (the emulator was still checked "
            f"against tests/emulator/capture_shapes.json; {REQUIRE_REFERENCE_ENV}=1 "
            "makes this a failure)"
        )
    return (
        f"{REFERENCE_MISSING} at {REFERENCE_DIR} (captures/, plex-api-spec.yaml): "
        f"{verdict}"
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None]:
    """Say after pytest's own summary (the outermost wrapper) what went unchecked."""
    try:
        return (yield)
    finally:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and (line := reference_summary(reporter.stats)):
            reporter.write_line(line, yellow=True, bold=True)


@pytest.fixture
async def owner_http(
    plex_server: PlexEmulator,
) -> AsyncIterator[aiohttp.ClientSession]:
    """A client session on the emulated server that sends the owner's token."""
    async with aiohttp.ClientSession(
        base_url=plex_server.url, headers={"X-Plex-Token": plex_server.token}
    ) as session:
        yield session
