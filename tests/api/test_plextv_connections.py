"""The connection choice (api/connections.py) against emulated servers on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from custom_components.plex_bridge.api.connections import (
    NoConnectionError,
    async_choose_connection,
)
from tests.plex_server import PlexEmulator
from tests.tls import TLSListener, tls_server_context

DEAD = "http://127.0.0.1:9"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def test_the_best_answering_candidate_wins(
    plex_server: PlexEmulator, session: aiohttp.ClientSession
) -> None:
    second = await plex_server.add_listener()
    choice = await async_choose_connection(
        session, [DEAD, second, plex_server.url], plex_server.machine_identifier
    )
    assert choice.url == second
    assert choice.others == [DEAD, plex_server.url]


class GatedLink:
    """A TCP link to the emulator that holds each connection until ``gate`` opens.

    Stands for a slow interface: the server behind it is the same one.
    """

    def __init__(self, target_port: int) -> None:
        self.gate = asyncio.Event()
        self._target_port = target_port
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        """Listen on a free loopback port; returns its URL."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await self.gate.wait()
        up_reader, up_writer = await asyncio.open_connection(
            "127.0.0.1", self._target_port
        )
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer)
        )

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        """Close the listener and every link through it."""
        if self._server is not None:
            self._server.close()
            self._server.close_clients()
            await self._server.wait_closed()


async def test_a_slower_better_candidate_still_wins(
    plex_server: PlexEmulator,
    session: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Preference over speed: the worse address answers first, the better one wins."""
    link = GatedLink(plex_server.port)
    better = await link.start()
    worse_asked = asyncio.Event()
    record = plex_server.faults.record

    def record_and_tell(request: Any) -> None:
        record(request)
        worse_asked.set()

    monkeypatch.setattr(plex_server.faults, "record", record_and_tell)
    try:
        choosing = asyncio.create_task(
            async_choose_connection(
                session, [better, plex_server.url], plex_server.machine_identifier
            )
        )
        await worse_asked.wait()  # only the worse address can have reached it
        link.gate.set()
        choice = await choosing
    finally:
        await link.stop()
    assert choice.url == better
    assert choice.others == [plex_server.url]
    assert plex_server.faults.count("/identity") == 2


async def test_another_server_at_an_address_does_not_count(
    plex_server: PlexEmulator, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(NoConnectionError) as err:
        await async_choose_connection(session, [plex_server.url], "someone-else")
    assert not err.value.ssl_only


async def test_an_answer_that_is_not_identity_does_not_count(
    plex_server: PlexEmulator, session: aiohttp.ClientSession
) -> None:
    plex_server.faults.add("/identity", status=500)
    with pytest.raises(NoConnectionError):
        await async_choose_connection(
            session, [plex_server.url], plex_server.machine_identifier
        )


async def test_duplicates_and_slashes_are_one_candidate(
    plex_server: PlexEmulator, session: aiohttp.ClientSession
) -> None:
    choice = await async_choose_connection(
        session,
        [f"{plex_server.url}/", plex_server.url],
        plex_server.machine_identifier,
    )
    assert choice.url == plex_server.url
    assert choice.others == []
    assert plex_server.faults.count("/identity") == 1


async def test_no_candidates(session: aiohttp.ClientSession) -> None:
    with pytest.raises(NoConnectionError) as err:
        await async_choose_connection(session, [], "any")
    assert not err.value.ssl_only


async def test_ssl_only_when_every_failure_is_a_certificate(
    socket_enabled: None, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    tls = TLSListener(tls_server_context(tmp_path))
    url = await tls.start()
    try:
        with pytest.raises(NoConnectionError) as only_tls:
            await async_choose_connection(session, [url], "any")
        with pytest.raises(NoConnectionError) as mixed:
            await async_choose_connection(session, [url, DEAD], "any")
    finally:
        await tls.stop()
    assert only_tls.value.ssl_only
    assert not mixed.value.ssl_only
