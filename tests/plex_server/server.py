"""``PlexEmulator``: one emulated Plex Media Server, an aiohttp application.

Composition (each part owns its own module and registers its own routes):

- ``library``: the generated world (sections, metadata, collections, playlists) and
  the ``/library/...``, ``/hubs/search``, ``/playlists`` endpoints (+ thumbnails);
- ``server_routes``: ``/``, ``/identity``, ``/accounts``, ``/myplex/account``,
  ``/updater/status``, ``/clients``;
- ``players`` / ``sessions`` / ``playqueues``: simulated players, live sessions,
  ``/status/sessions``, ``/transcode/sessions``, history, ``/playQueues``,
  ``/player/playback/*``;
- ``notifications``: ``/:/websockets/notifications`` and the hub that publishes;
- ``faults``: per-endpoint fault injection and request counting (middlewares);
- ``control``: the control API (``/_emulator/...``) for tests and the demo.

plex.tv is a separate application (``plextv.PlexTV``) that lists emulators.

Run it on the caller's event loop::

    emu = PlexEmulator(library="small")
    url = await emu.start()          # http://127.0.0.1:<port>
    ...
    await emu.stop()
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any
import uuid

from aiohttp import web

from .clock import Clock
from .responses import serve

if TYPE_CHECKING:
    from .library import Library


class PlexEmulator:
    """One emulated Plex Media Server."""

    def __init__(
        self,
        *,
        library: str | Library = "small",
        seed: int = 0,
        name: str = "Plex Bridge Emulator",
        machine_identifier: str | None = None,
        token: str | None = None,
        clock: Clock | None = None,
        version: str = "1.42.2.10156-f737b826c",
    ) -> None:
        from . import faults, library as library_mod, notifications, players, sessions

        self.clock = clock or Clock()
        self.name = name
        self.version = version
        self.seed = seed
        self.machine_identifier = machine_identifier or uuid.UUID(int=seed + 0x5EED).hex
        # The owner's token. Shared users get their own tokens (see ``accounts``).
        self.token = token or secrets.token_urlsafe(15)
        self.owner_id = 1
        self.owner_name = "plexbridge"
        self.host = "127.0.0.1"
        self.port = 0
        self.library: Library = (
            library
            if not isinstance(library, str)
            else library_mod.build(library, seed=seed, clock=self.clock)
        )
        self.notifications = notifications.NotificationHub(self)
        self.players = players.PlayerRegistry(self)
        self.sessions = sessions.SessionManager(self)
        self.faults = faults.FaultInjector()
        self.app = self._make_app()
        self._runner: web.AppRunner | None = None

    # -- application ---------------------------------------------------------------

    def _make_app(self) -> web.Application:
        from . import (
            auth,
            control,
            faults,
            library,
            notifications,
            playqueues,
            server_routes,
            sessions,
        )

        app = web.Application(
            middlewares=[
                faults.counting_middleware(self),
                faults.fault_middleware(self),
                auth.auth_middleware(self),
            ],
            client_max_size=16 * 1024 * 1024,
        )
        app["emulator"] = self
        for module in (
            server_routes,
            library,
            sessions,
            playqueues,
            notifications,
            control,
        ):
            module.add_routes(app, self)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_shutdown(self, _app: web.Application) -> None:
        await self.notifications.close_all()

    # -- lifecycle -----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL the server answers on."""
        return f"http://{self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 picks a free port); returns the base URL."""
        self._runner, self.port = await serve(self.app, host, port)
        self.host = host
        await self.sessions.start()
        return self.url

    async def add_listener(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Also answer on another address; returns its URL.

        A real server answers on each of its interfaces and behind a port
        forward (plex.tv lists those as its local and remote connections).
        ``stop()`` closes this listener with the rest.
        """
        if self._runner is None:
            raise RuntimeError("start the emulator first")
        await web.TCPSite(self._runner, host, port).start()
        bound = int(self._runner.addresses[-1][1])  # the newest site's socket
        return f"http://{host}:{bound}"

    async def stop(self) -> None:
        """Stop serving and end every background task and websocket."""
        await self.sessions.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def describe(self) -> dict[str, Any]:
        """What a test or the demo needs to connect."""
        return {
            "url": self.url,
            "token": self.token,
            "machineIdentifier": self.machine_identifier,
            "name": self.name,
            "control": f"{self.url}/_emulator",
        }
