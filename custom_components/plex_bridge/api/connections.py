"""Which of a server's addresses to use: all tried at once, the best that answers wins.

plex.tv lists several connections per server: its LAN address (local), its public
address (remote) and plex.tv's relay, most as ``https://<ip>.<hash>.plex.direct``
names. Addresses and certificates churn, so a stored URL can stop working while
another still does.

The rule (``async_choose_connection``):

- every candidate is asked for ``/identity`` at the same time (no token needed,
  none is sent), and a candidate counts only if it answers with the expected
  ``machineIdentifier`` (an address can belong to another server now);
- the candidates come best first (the caller orders them local, remote, relay);
  a candidate that answers wins as soon as every better one has failed, so when
  several answer the preference wins, not the speed: a local address is used
  even when the relay answered first, because the relay is slow and limited in
  bandwidth and the remote address depends on port forwarding. Probes still
  running once the winner is known are cancelled;
- when none answers: ``NoConnectionError.ssl_only`` says whether every failure
  was a TLS certificate failure (the form shows ``ssl_error``), else
  ``cannot_connect``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
import logging
import ssl
from typing import Final

import aiohttp

_LOGGER = logging.getLogger(__name__)

PROBE_TIMEOUT: Final = 10.0


class NoConnectionError(Exception):
    """No candidate answered as the expected server."""

    def __init__(self, *, ssl_only: bool) -> None:
        super().__init__(
            "only TLS certificate failures" if ssl_only else "no address answered"
        )
        self.ssl_only = ssl_only


@dataclass(frozen=True, slots=True)
class ConnectionChoice:
    """The URL to use and the others, best first, to try when it stops answering."""

    url: str
    others: list[str]


def is_certificate_error(err: BaseException) -> bool:
    """Whether ``err`` (or what caused it) is a failed TLS certificate check."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(
            seen, aiohttp.ClientConnectorCertificateError | ssl.SSLCertVerificationError
        ):
            return True
        if isinstance(seen, aiohttp.ClientSSLError) and isinstance(
            getattr(seen, "os_error", None), ssl.SSLCertVerificationError
        ):
            return True
        seen = seen.__cause__
    return False


class _CertificateError(Exception):
    """A probe failed on the server's certificate."""


class _WrongServerError(Exception):
    """A probe reached a Plex server, but not the expected one."""


async def _probe(
    session: aiohttp.ClientSession,
    url: str,
    machine_identifier: str,
    probe_timeout: float,
) -> str:
    """``url`` if it answers ``/identity`` as ``machine_identifier``; raises otherwise."""
    try:
        async with (
            asyncio.timeout(probe_timeout),
            session.get(
                f"{url}/identity", headers={"Accept": "application/json"}
            ) as response,
        ):
            response.raise_for_status()
            body = await response.json(content_type=None)
    except aiohttp.ClientSSLError as err:
        if is_certificate_error(err):
            raise _CertificateError(url) from err
        raise
    container = body.get("MediaContainer", {}) if isinstance(body, dict) else {}
    if container.get("machineIdentifier") != machine_identifier:
        raise _WrongServerError(url)
    return url


async def async_choose_connection(
    session: aiohttp.ClientSession,
    candidates: Sequence[str],
    machine_identifier: str,
    *,
    probe_timeout: float = PROBE_TIMEOUT,
) -> ConnectionChoice:
    """The best candidate (by position) that answers; see the module docstring."""
    urls = list(dict.fromkeys(url.rstrip("/") for url in candidates))
    if not urls:
        raise NoConnectionError(ssl_only=False)
    tasks = [
        asyncio.create_task(_probe(session, url, machine_identifier, probe_timeout))
        for url in urls
    ]
    try:
        for index, task in enumerate(tasks):
            # Wait for the better candidates in order; a later one that answered
            # earlier is kept by its task until its turn comes.
            try:
                url = await task
            except Exception as err:  # noqa: BLE001 - each failure is only a reason to go on
                _LOGGER.debug(
                    "Connection %d of %d failed: %r", index + 1, len(urls), err
                )
                continue
            return ConnectionChoice(url, [other for other in urls if other != url])
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    ssl_only = all(isinstance(task.exception(), _CertificateError) for task in tasks)
    raise NoConnectionError(ssl_only=ssl_only)
