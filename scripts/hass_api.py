"""Talk to a running Home Assistant the way its frontend does: over HTTP and websocket.

Shared by ``scripts/demo_dashboard.py`` (``scripts/develop --demo``) and
``scripts/e2e_run.py`` (``scripts/e2e``). Nothing here imports Home Assistant: it is
a client of the public APIs only (onboarding, the login flow, ``/auth/token``, REST,
the websocket API), so what it proves is what a user's browser would see.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
import itertools
import json
import time
from typing import Any

import aiohttp

DEMO_NAME = "Demo"
LANGUAGE = "en"


class HassError(RuntimeError):
    """Home Assistant answered something other than what was asked for."""


async def wait_until[T](
    probe: Callable[[], Awaitable[T | None]],
    *,
    within: float,
    what: str,
    interval: float = 0.25,
) -> T:
    """Poll ``probe`` until it returns something other than None, at most ``within`` s.

    A script that starts a server has no event to wait for, only the server's answer:
    this is the one bounded polling loop the scripts use.
    """
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not within {within:.0f} s")
        await asyncio.sleep(interval)


async def _answer(response: aiohttp.ClientResponse, what: str) -> Any:
    """The JSON of a successful answer; ``HassError`` with the body otherwise."""
    text = await response.text()
    if response.status >= 400:
        raise HassError(f"{what}: {response.status} {text[:500]}")
    try:
        return json.loads(text) if text else None
    except ValueError as err:
        raise HassError(f"{what}: not JSON: {text[:500]}") from err


class Hass:
    """One Home Assistant instance, reached at ``base`` (``http://127.0.0.1:8123``)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base.rstrip("/")
        # IndieAuth: the client id is a URL; the frontend uses its own origin.
        self.client_id = f"{self.base}/"
        self.token: str | None = None

    # -- plain HTTP -------------------------------------------------------------------

    async def _status(self, path: str) -> int | None:
        try:
            async with self.session.get(f"{self.base}{path}") as response:
                await response.read()
                return response.status
        except aiohttp.ClientError:
            return None

    async def wait_http(self, within: float = 180) -> None:
        """Wait until the HTTP server answers at all.

        Any status will do: before onboarding even the public auth provider list
        answers 400 (``onboarding_required``).
        """

        async def probe() -> bool | None:
            return True if await self._status("/auth/providers") is not None else None

        await wait_until(probe, within=within, what="Home Assistant's HTTP API")

    async def onboarding_steps(self) -> dict[str, bool] | None:
        """The onboarding steps and whether each is done; None once all are done.

        Home Assistant registers the onboarding views only when it starts with
        onboarding unfinished, so a 404 means done (once the HTTP server has
        started); in the run that finishes onboarding every step reads done.
        """
        async with self.session.get(f"{self.base}/api/onboarding") as response:
            if response.status == 404:
                return None
            if response.status != 200:
                raise HassError(f"/api/onboarding answered {response.status}")
            steps = await response.json()
        done = {step["step"]: bool(step["done"]) for step in steps}
        return None if all(done.values()) else done

    async def wait_onboarding_view(self, within: float = 120) -> dict[str, bool]:
        """Wait for the onboarding views of a new instance and return its steps."""

        async def probe() -> dict[str, bool] | None:
            with contextlib.suppress(HassError, aiohttp.ClientError):
                return await self.onboarding_steps()
            return None

        return await wait_until(probe, within=within, what="the onboarding API")

    async def _post(
        self, path: str, payload: dict[str, Any], *, auth: bool = True
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        async with self.session.post(
            f"{self.base}{path}", json=payload, headers=headers
        ) as response:
            return await _answer(response, f"POST {path}")

    async def rest(self, method: str, path: str, payload: Any = None) -> Any:
        """One authenticated REST call; the decoded JSON answer."""
        async with self.session.request(
            method,
            f"{self.base}{path}",
            json=payload,
            headers={"Authorization": f"Bearer {self.token}"},
        ) as response:
            return await _answer(response, f"{method} {path}")

    # -- auth -------------------------------------------------------------------------

    async def _token_from_code(self, code: str) -> str:
        async with self.session.post(
            f"{self.base}/auth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": self.client_id,
            },
        ) as response:
            body = await response.json(content_type=None)
            if response.status != 200:
                raise HassError(f"/auth/token: {response.status} {body}")
        self.token = str(body["access_token"])
        return self.token

    async def onboard(self, username: str, password: str) -> str:
        """Finish every onboarding step as the onboarding page does; the token.

        The user step answers with an authorization code, which ``/auth/token``
        trades for a token; the other steps are then posted with it.
        """
        steps = await self.wait_onboarding_view()
        if steps.get("user"):
            raise HassError("onboarding already has a user")
        answer = await self._post(
            "/api/onboarding/users",
            {
                "client_id": self.client_id,
                "name": DEMO_NAME,
                "username": username,
                "password": password,
                "language": LANGUAGE,
            },
            auth=False,
        )
        await self._token_from_code(answer["auth_code"])
        for step in ("core_config", "analytics"):
            if not steps.get(step):
                await self._post(f"/api/onboarding/{step}", {})
        if not steps.get("integration"):
            await self._post(
                "/api/onboarding/integration",
                {"client_id": self.client_id, "redirect_uri": self.client_id},
            )
        return self.token or ""

    async def login(self, username: str, password: str) -> str:
        """Log in through the login flow (as the login page does); the token."""
        flow = await self._post(
            "/auth/login_flow",
            {
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": self.client_id,
            },
            auth=False,
        )
        result = await self._post(
            f"/auth/login_flow/{flow['flow_id']}",
            {"username": username, "password": password, "client_id": self.client_id},
            auth=False,
        )
        if result.get("type") != "create_entry":
            raise HassError(f"login failed: {result.get('errors')}")
        return await self._token_from_code(result["result"])

    # -- websocket --------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def websocket(self) -> Any:
        """An authenticated websocket connection (``HassSocket``), closed on exit."""
        ws = await self.session.ws_connect(f"{self.base}/api/websocket", max_msg_size=0)
        socket = HassSocket(ws)
        try:
            await socket.authenticate(self.token or "")
            yield socket
        finally:
            await socket.close()


class HassSocket:
    """The websocket API: commands with ids, results and event subscriptions."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._results: dict[int, asyncio.Future[Any]] = {}
        self._events: dict[int, asyncio.Queue[Any]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def authenticate(self, token: str) -> None:
        """The auth handshake; then start reading messages."""
        hello = await self.ws.receive_json()
        if hello.get("type") != "auth_required":
            raise HassError(f"unexpected greeting {hello}")
        await self.ws.send_json({"type": "auth", "access_token": token})
        answer = await self.ws.receive_json()
        if answer.get("type") != "auth_ok":
            raise HassError(f"websocket auth failed: {answer}")
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            payload = message.json()
            for item in payload if isinstance(payload, list) else [payload]:
                ident = item.get("id")
                if item.get("type") == "event" and ident in self._events:
                    self._events[ident].put_nowait(item["event"])
                elif item.get("type") == "result" and ident in self._results:
                    future = self._results.pop(ident)
                    if not future.done():
                        future.set_result(item)
        for future in self._results.values():
            if not future.done():
                future.set_exception(HassError("websocket closed"))

    async def _send(self, command: str, fields: dict[str, Any]) -> tuple[int, Any]:
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._results[ident] = future
        await self.ws.send_json({"id": ident, "type": command, **fields})
        async with asyncio.timeout(60):
            return ident, await future

    async def call(self, command: str, **fields: Any) -> Any:
        """Send one command; its result, or ``HassError`` with Home Assistant's error."""
        _, answer = await self._send(command, fields)
        if not answer.get("success"):
            raise HassError(f"{command}: {answer.get('error')}")
        return answer.get("result")

    async def subscribe(self, command: str, **fields: Any) -> asyncio.Queue[Any]:
        """Start a subscription (``subscribe_events``, ``subscribe_entities``...)."""
        ident = next(self._ids)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._events[ident] = queue
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._results[ident] = future
        await self.ws.send_json({"id": ident, "type": command, **fields})
        async with asyncio.timeout(60):
            answer = await future
        if not answer.get("success"):
            raise HassError(f"{command}: {answer.get('error')}")
        return queue

    async def close(self) -> None:
        """Close the connection and stop reading."""
        await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def wait_running(self, within: float = 180) -> None:
        """Wait until Home Assistant has finished starting (``get_config`` state)."""

        async def probe() -> bool | None:
            config = await self.call("get_config")
            return True if config.get("state") == "RUNNING" else None

        await wait_until(probe, within=within, what="Home Assistant to finish starting")
