"""Fixtures of the emulator's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.plex_server import PlexEmulator

from .fidelity import CAPTURES_DIR, REFERENCE_DIR, SPEC_PATH


@pytest.fixture(scope="session")
def plex_reference() -> Path:
    """The real-Plex reference material, or one clear failure where it is missing.

    It is not part of the repository: it lies in ``shared/plex-reference`` beside the
    clone (as on CI). The fidelity tests fail without it rather than skip, so that a
    run can never pass while the emulator went unchecked against real Plex.
    """
    if not CAPTURES_DIR.is_dir() or not SPEC_PATH.is_file():
        pytest.fail(
            f"the Plex reference material is missing: expected {CAPTURES_DIR}/ and "
            f"{SPEC_PATH} (shared/plex-reference beside the repository)",
            pytrace=False,
        )
    return REFERENCE_DIR


@pytest.fixture
async def owner_http(
    plex_server: PlexEmulator,
) -> AsyncIterator[aiohttp.ClientSession]:
    """A client session on the emulated server that sends the owner's token."""
    async with aiohttp.ClientSession(
        base_url=plex_server.url, headers={"X-Plex-Token": plex_server.token}
    ) as session:
        yield session
