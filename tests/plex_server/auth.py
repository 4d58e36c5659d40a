"""X-Plex-Token authentication: the owner and the shared users.

Every request needs a token, as a header or as the ``X-Plex-Token`` query parameter
(websockets pass it in the query), except:

- ``/identity``, which real Plex answers without one;
- the control API under ``/_emulator/``, which is not part of Plex.

A missing or unknown token gets 401 with Plex's HTML error page. The owner's token
is ``emu.token``; each shared user of the library (``Library.shared_users``) has its
own and sees only its sections (``Library.visible_sections(user)``). Owner-only
endpoints (``/library``, ``/accounts``, ``/myplex/account``, ``/updater/*``, section
refreshes) answer a shared user 403, which python-plexapi expects for ``/library``.

``user_for_request(request)`` tells other modules who is asking.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
import re
from typing import TYPE_CHECKING

from aiohttp import web

from .responses import error, plex_header

if TYPE_CHECKING:
    from .server import PlexEmulator

USER_KEY = "plex_user"
OPEN_PATHS = frozenset({"/identity"})
CONTROL_PREFIX = "/_emulator"
OWNER_ONLY = re.compile(
    r"^/(library/?|accounts(/.*)?|myplex/account|updater/.*|library/sections/[^/]+/refresh)$"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class PlexUser:
    """Who a token belongs to."""

    id: int
    name: str
    token: str
    is_owner: bool
    # The sections this user may see; None for every section (the owner).
    section_ids: frozenset[int] | None = None

    @property
    def thumb(self) -> str:
        """The avatar plex.tv would give this account."""
        return f"https://plex.tv/users/{self.id:016x}/avatar"


def owner(emu: PlexEmulator) -> PlexUser:
    """The server's owner."""
    return PlexUser(emu.owner_id, emu.owner_name, emu.token, is_owner=True)


def users(emu: PlexEmulator) -> list[PlexUser]:
    """The owner, then every shared user."""
    shared = [
        PlexUser(
            user.id, user.name, user.token, is_owner=False, section_ids=user.section_ids
        )
        for user in emu.library.shared_users
    ]
    return [owner(emu), *shared]


def user_for_token(emu: PlexEmulator, token: str | None) -> PlexUser | None:
    """The user a token belongs to, or ``None``."""
    if not token:
        return None
    return next((user for user in users(emu) if user.token == token), None)


def request_token(request: web.Request) -> str | None:
    """The token a request carries (header first, then query)."""
    return plex_header(request, "X-Plex-Token")


def user_for_request(request: web.Request) -> PlexUser | None:
    """Who sent a request (``None`` on paths that need no token and got none)."""
    user: PlexUser | None = request.get(USER_KEY)
    return user


def can_see_section(request: web.Request, section_id: int) -> bool:
    """Whether the requesting user may see a section."""
    user = user_for_request(request)
    return user is None or user.section_ids is None or section_id in user.section_ids


def auth_middleware(
    emu: PlexEmulator,
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """The middleware that checks tokens (see the module docstring)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith(CONTROL_PREFIX):
            return await handler(request)
        user = user_for_token(emu, request_token(request))
        if user is not None:
            request[USER_KEY] = user
        elif path not in OPEN_PATHS:
            return error(401, "Unauthorized")
        if user is not None and not user.is_owner and OWNER_ONLY.match(path):
            return error(403, "Forbidden")
        return await handler(request)

    return middleware
