"""The benches' own harness keeps up with the integration it drives.

The benches (``scripts/bench``) are not run by the tests: they take minutes and
print figures. What they build by hand is held here to what the integration reads.
``bench.browse`` passes the media browser a config entry of its own making: when
the browser came to read the library mirror from it, ``scripts/bench browse`` (and
``scripts/bench live``) failed with an ``AttributeError`` until this test held it.
"""

from __future__ import annotations

import aiohttp

from bench.browse import open_library
from custom_components.plex_bridge.api import PlexClient
from tests.plex_server import PlexEmulator


async def test_the_browse_bench_opens_a_library_as_the_media_browser_does(
    plex_server: PlexEmulator,
) -> None:
    async with aiohttp.ClientSession() as session:
        client = PlexClient(session, plex_server.url, plex_server.token)
        movies = next(s for s in await client.sections() if s.type == "movie")

        _, children, requests = await open_library(client, movies.key)

    assert children > 0
    assert requests >= 1
