"""plex.tv, emulated: PIN sign-in, the account, and the resources that list emulators.

``PlexTV`` is an aiohttp application of its own, served under any base URL (the
integration is pointed at it instead of ``https://plex.tv``). It starts and stops
on the caller's loop like ``PlexEmulator``::

    plextv = PlexTV(token=emu.token, clock=emu.clock)
    plextv.register(emu)
    base_url = await plextv.start()
    ...
    await plextv.stop()

Endpoints (``/api/v2/...`` answer XML by default and JSON with ``Accept:
application/json``, as real plex.tv does; python-plexapi reads the XML form):

- ``POST /api/v2/pins`` (``strong=true`` for a 25-character code, else 4
  characters): 201 and the new PIN, ``authToken`` null. ``X-Plex-Client-Identifier``
  is required (400 without it).
- ``GET /api/v2/pins/{id}``: the PIN; ``authToken`` is filled once it has been
  claimed; 404 once it has expired (or for another client identifier).
- ``GET /api/v2/user``: the account of the ``X-Plex-Token`` (header or query).
- ``GET /api/v2/resources``: the registered emulators as the account sees them:
  the owner's as owned, with the owner's ``accessToken``; a friend's (a shared user
  of an emulator's library) as not owned, with ``ownerId``, ``sourceTitle`` and the
  friend's own token for that server. By default each has one plain-HTTP local
  connection (the emulator's own URL); ``register(emu, connections=[...])`` lists
  others instead, the way real plex.tv lists a server's LAN address, its public
  address and the relay (``Connection``; ``plex_direct_uri()`` writes the
  ``https://1-2-3-4.<hash>.plex.direct:32400`` names). As on plex.tv, relay
  connections are listed only with ``includeRelay=1`` and IPv6 ones only with
  ``includeIPv6=1``. A test makes a listed address answer with
  ``PlexEmulator.add_listener()`` or leaves it dead (a closed loopback port).
  ``presence`` is true unless ``set_online(emu, False)`` says plex.tv lost it.
- ``GET /api/resources``: the older form of the same list (``MediaContainer`` /
  ``Device`` / ``Connection``, XML only), as in the reference captures.
- ``GET /api/users``: the owner's friends with the servers they share (XML, as
  ``captures/plextv_shared_users.xml``; python-plexapi's ``MyPlexAccount.users()``).

A missing or unknown token gets 401 with plex.tv's ``errors`` body.

The claim that a person would make at plex.tv/link is made by the test or the
demo: ``claim_pin()`` in Python or ``POST /_emulator/pins/{id or code}/claim``
(JSON body ``{"user": "<username>"}``, optional). That path and
``GET /_emulator/state`` need no token; like the emulator's control API they are
neither counted nor faulted, and the app binds to loopback by default.

python-plexapi has plex.tv's URLs as constants; it is pointed here, unpatched, by
giving it a ``requests`` session that sends ``https://plex.tv/...`` to this app
(``plextv_session()``), the way a proxy would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
import itertools
import json
import secrets
import string
from typing import TYPE_CHECKING, Any
from uuid import UUID

from aiohttp import web
import requests
from yarl import URL

from . import faults
from .clock import Clock
from .node import Node
from .responses import plex_header, serve, wants_json

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .server import PlexEmulator

PLEX_TV = "https://plex.tv"
STRONG_CODE_LENGTH = 25
STRONG_PIN_LIFETIME = 1800
SHORT_PIN_LIFETIME = 900
FIRST_PIN_ID = 1_180_000_001
FIRST_FRIEND_ID = 1000
PLATFORM = "Linux"
PLATFORM_VERSION = "6.12.0"
ERROR_UNAUTHORIZED = (1001, "User could not be authenticated")
ERROR_NO_CLIENT_ID = (1000, "X-Plex-Client-Identifier is missing")
ERROR_PIN_NOT_FOUND = (1020, "Code not found or expired")
PIN_LOCATION = {
    "code": "NL",
    "european_union_member": True,
    "continent_code": "EU",
    "country": "Netherlands",
    "city": "Amsterdam",
    "time_zone": "Europe/Amsterdam",
    "postal_code": "1012",
    "in_privacy_restricted_country": True,
    "in_privacy_restricted_region": True,
    "subdivisions": "North Holland",
    "coordinates": "52.3740, 4.8897",
}


def iso(timestamp: float) -> str:
    """A time as plex.tv's v2 API writes it: ``2025-10-09T08:53:20Z``."""
    return datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Account:
    """A plex.tv account and its token."""

    id: int
    username: str
    token: str
    email: str
    joined_at: int
    uuid: str = ""

    def __post_init__(self) -> None:
        """Derive the 16-hex-digit uuid from the id unless one was given."""
        if not self.uuid:
            self.uuid = UUID(int=self.id).hex[-16:]

    @property
    def thumb(self) -> str:
        """The avatar URL plex.tv gives."""
        return f"{PLEX_TV}/users/{self.uuid}/avatar?c={self.joined_at}"


@dataclass
class Pin:
    """A sign-in PIN, waiting for a person to claim it at plex.tv/link."""

    id: int
    code: str
    client_identifier: str
    product: str
    created_at: float
    lifetime: int
    auth_token: str | None = None

    @property
    def expires_at(self) -> float:
        """When the PIN stops being valid."""
        return self.created_at + self.lifetime

    def expired(self, now: float) -> bool:
        """Whether the PIN is no longer valid at ``now``."""
        return now >= self.expires_at

    def as_json(self, now: float) -> dict[str, Any]:
        """The PIN as plex.tv's JSON form writes it."""
        return {
            "id": self.id,
            "code": self.code,
            "product": self.product,
            "trusted": False,
            "qr": f"{PLEX_TV}/api/v2/pins/qr/{self.code}",
            "clientIdentifier": self.client_identifier,
            "location": dict(PIN_LOCATION),
            "expiresIn": max(0, int(self.expires_at - now)),
            "createdAt": iso(self.created_at),
            "expiresAt": iso(self.expires_at),
            "authToken": self.auth_token,
            "newRegistration": None,
        }


@dataclass(frozen=True)
class Connection:
    """One address plex.tv lists for a server (``/api/v2/resources`` ``connections``)."""

    uri: str
    local: bool = True
    relay: bool = False
    ipv6: bool = False

    @property
    def url(self) -> URL:
        """The URI, parsed."""
        return URL(self.uri)

    def as_json(self) -> dict[str, Any]:
        """As plex.tv's v2 JSON writes it."""
        return {**self.as_v1(), "relay": self.relay, "IPv6": self.ipv6}

    def as_v1(self) -> dict[str, Any]:
        """As the older ``/api/resources`` ``<Connection>`` writes it."""
        url = self.url
        return {
            "protocol": url.scheme,
            "address": plex_direct_address(url.host or ""),
            "port": url.port,
            "uri": self.uri,
            "local": self.local,
        }


def plex_direct_uri(address: str, port: int, server_hash: str) -> str:
    """The ``plex.direct`` name plex.tv gives an address (its certificate covers it)."""
    return f"https://{address.replace('.', '-').replace(':', '-')}.{server_hash}.plex.direct:{port}"


def plex_direct_address(host: str) -> str:
    """The address behind a ``plex.direct`` host name (other hosts unchanged)."""
    if host.endswith(".plex.direct"):
        return host.split(".", 1)[0].replace("-", ".")
    return host


@dataclass(eq=False)
class _Registration:
    """An emulator that plex.tv lists, since when, and at which addresses."""

    emu: PlexEmulator
    created_at: float
    connections: tuple[Connection, ...] | None = None
    """``None``: the emulator's own URL, as one local connection."""
    online: bool = True
    """plex.tv's ``presence``: whether the server keeps in touch with plex.tv."""

    def listed(self, *, relay: bool = True, ipv6: bool = True) -> list[Connection]:
        """The connections plex.tv lists, without relay / IPv6 ones unless asked."""
        connections = self.connections
        if connections is None:
            connections = (Connection(self.emu.url),)
        return [
            c for c in connections if (relay or not c.relay) and (ipv6 or not c.ipv6)
        ]


@dataclass(frozen=True)
class _Grant:
    """One account's access to one registered server."""

    reg: _Registration
    access_token: str
    owner: Account | None
    """The server's owner when the server is shared with the account, else ``None``."""

    @property
    def owned(self) -> bool:
        """Whether the account owns the server."""
        return self.owner is None


@dataclass
class _PlexTVState:
    """The emulated plex.tv's state: accounts, PINs, registered servers."""

    accounts: dict[str, Account] = field(default_factory=dict)
    pins: dict[int, Pin] = field(default_factory=dict)
    servers: list[_Registration] = field(default_factory=list)


class PlexTV:
    """The emulated plex.tv."""

    def __init__(
        self,
        *,
        token: str | None = None,
        username: str = "plexbridge",
        account_id: int = 1,
        email: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.clock = clock or Clock()
        self.faults = faults.FaultInjector()
        self._state = _PlexTVState()
        self._pin_ids = itertools.count(FIRST_PIN_ID)
        self.owner = self.add_account(
            username, token=token, account_id=account_id, email=email
        )
        self.app = self._make_app()
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None

    # -- the Python API --------------------------------------------------------------

    def add_account(
        self,
        username: str,
        *,
        token: str | None = None,
        account_id: int | None = None,
        email: str | None = None,
    ) -> Account:
        """Create a plex.tv account (the owner is created by ``__init__``)."""
        known_ids = [known.id for known in self._state.accounts.values()]
        account = Account(
            id=account_id
            if account_id is not None
            else max([FIRST_FRIEND_ID - 1, *known_ids]) + 1,
            username=username,
            token=token or secrets.token_urlsafe(15),
            email=email or f"{username.lower().replace(' ', '.')}@example.com",
            joined_at=self.clock.timestamp() - 86_400 * 365 * 5,
        )
        self._state.accounts[account.token] = account
        return account

    def account(self, username: str) -> Account:
        """The account with this username; ``KeyError`` if there is none."""
        for account in self._state.accounts.values():
            if account.username == username:
                return account
        raise KeyError(username)

    def account_by_id(self, account_id: int) -> Account | None:
        """The account with this id, if there is one."""
        return next(
            (a for a in self._state.accounts.values() if a.id == account_id), None
        )

    def register(
        self, emu: PlexEmulator, connections: Sequence[Connection] | None = None
    ) -> None:
        """List an emulated server in the resources of its owner and its friends.

        The friends are the server's ``Library.shared_users``; their plex.tv
        accounts are created here, with plex.tv tokens of their own.
        ``connections`` (in plex.tv's order) replace the one local connection.
        """
        self._state.servers.append(
            _Registration(
                emu,
                self.clock.now(),
                None if connections is None else tuple(connections),
            )
        )
        for shared in emu.library.shared_users:
            if self.account_by_id(shared.id) is None:
                self.add_account(shared.name, account_id=shared.id)

    def set_online(self, emu: PlexEmulator, online: bool) -> None:
        """Whether plex.tv sees the server (``presence``), as when it shuts down."""
        for reg in self._state.servers:
            if reg.emu is emu:
                reg.online = online

    def unregister(self, emu: PlexEmulator) -> None:
        """Stop listing an emulated server."""
        self._state.servers = [reg for reg in self._state.servers if reg.emu is not emu]

    def create_pin(
        self,
        client_identifier: str,
        *,
        strong: bool = True,
        product: str = "Plex Bridge",
    ) -> Pin:
        """A new PIN, as ``POST /api/v2/pins`` makes one."""
        code = (
            random_code(STRONG_CODE_LENGTH)
            if strong
            else random_code(4, string.ascii_uppercase + string.digits)
        )
        pin = Pin(
            id=next(self._pin_ids),
            code=code,
            client_identifier=client_identifier,
            product=product,
            created_at=self.clock.now(),
            lifetime=STRONG_PIN_LIFETIME if strong else SHORT_PIN_LIFETIME,
        )
        self._state.pins[pin.id] = pin
        return pin

    def find_pin(self, pin_id_or_code: int | str) -> Pin:
        """A PIN that has not expired, by id or code; ``KeyError`` otherwise."""
        now = self.clock.now()
        for pin in self._state.pins.values():
            if str(pin_id_or_code) in (str(pin.id), pin.code) and not pin.expired(now):
                return pin
        raise KeyError(pin_id_or_code)

    def claim_pin(
        self, pin_id_or_code: int | str, user: str | Account | None = None
    ) -> Pin:
        """Sign ``user`` (a username or account; the owner by default) in on a PIN."""
        pin = self.find_pin(pin_id_or_code)
        account = (
            user
            if isinstance(user, Account)
            else self.owner
            if user is None
            else self.account(user)
        )
        pin.auth_token = account.token
        return pin

    def servers_of(self, account: Account) -> list[PlexEmulator]:
        """The registered servers this account can reach (the owner's: all of them)."""
        return [grant.reg.emu for grant in self._grants(account)]

    def _grants(self, account: Account) -> list[_Grant]:
        """The servers an account reaches, and with which token.

        The owner reaches every server with its token; a friend the servers shared
        with it, with the token the server gave it.
        """
        if account is self.owner:
            return [_Grant(reg, reg.emu.token, None) for reg in self._state.servers]
        return [
            _Grant(reg, shared.token, self.owner)
            for reg in self._state.servers
            for shared in reg.emu.library.shared_users
            if shared.id == account.id
        ]

    def friends(self) -> list[tuple[Account, list[tuple[PlexEmulator, int]]]]:
        """The owner's friends, each with its servers and their shared section counts."""
        shares: dict[int, list[tuple[PlexEmulator, int]]] = {}
        for reg in self._state.servers:
            for shared in reg.emu.library.shared_users:
                shares.setdefault(shared.id, []).append(
                    (reg.emu, len(shared.section_ids))
                )
        return [
            (account, shares[account.id])
            for account in self._state.accounts.values()
            if account.id in shares
        ]

    def describe(self) -> dict[str, Any]:
        """What the control API shows: the owner and the PINs."""
        now = self.clock.now()
        return {
            "url": self.url,
            "owner": {
                "id": self.owner.id,
                "username": self.owner.username,
                "token": self.owner.token,
            },
            "pins": [pin.as_json(now) for pin in self._state.pins.values()],
            "servers": [reg.emu.machine_identifier for reg in self._state.servers],
        }

    # -- lifecycle -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL that stands in for ``https://plex.tv``."""
        return f"http://{self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 picks a free port); returns the base URL."""
        self._runner, self.port = await serve(self.app, host, port)
        self.host = host
        return self.url

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- the application ---------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(
            middlewares=[
                faults.counting_middleware(self),
                faults.fault_middleware(self),
            ]
        )
        app.router.add_post("/api/v2/pins", self._post_pin)
        app.router.add_get("/api/v2/pins/{id}", self._get_pin)
        app.router.add_get("/api/v2/user", self._get_user)
        app.router.add_get("/api/v2/resources", self._get_resources)
        app.router.add_get("/api/resources", self._get_resources_v1)
        app.router.add_get("/api/users", self._get_users)
        app.router.add_get("/api/users/", self._get_users)
        app.router.add_post("/_emulator/pins/{id}/claim", self._claim)
        app.router.add_get("/_emulator/state", self._state_handler)
        return app

    def _authenticated(self, request: web.Request) -> Account | None:
        token = plex_header(request, "X-Plex-Token")
        return self._state.accounts.get(token) if token else None

    async def _post_pin(self, request: web.Request) -> web.Response:
        client_identifier = plex_header(request, "X-Plex-Client-Identifier")
        if not client_identifier:
            return errors_response(request, 400, ERROR_NO_CLIENT_ID)
        strong = request.query.get("strong", "").lower() in ("1", "true")
        product = request.headers.get("X-Plex-Product", "")
        pin = self.create_pin(client_identifier, strong=strong, product=product)
        return pin_response(request, pin.as_json(self.clock.now()), status=201)

    async def _get_pin(self, request: web.Request) -> web.Response:
        client_identifier = plex_header(request, "X-Plex-Client-Identifier")
        if not client_identifier:
            return errors_response(request, 400, ERROR_NO_CLIENT_ID)
        try:
            pin = self.find_pin(request.match_info["id"])
        except KeyError:
            return errors_response(request, 404, ERROR_PIN_NOT_FOUND)
        if pin.client_identifier != client_identifier:
            return errors_response(request, 404, ERROR_PIN_NOT_FOUND)
        return pin_response(request, pin.as_json(self.clock.now()))

    async def _get_user(self, request: web.Request) -> web.Response:
        account = self._authenticated(request)
        if account is None:
            return errors_response(request, 401, ERROR_UNAUTHORIZED)
        if wants_json(request):
            return web.json_response(user_json(account, self.clock.now()))
        return xml_response(user_node(account, self.clock.now()))

    async def _get_resources(self, request: web.Request) -> web.Response:
        account = self._authenticated(request)
        if account is None:
            return errors_response(request, 401, ERROR_UNAUTHORIZED)
        now = self.clock.now()
        relay, ipv6 = (
            _include(request, "includeRelay"),
            _include(request, "includeIPv6"),
        )
        resources = [
            server_resource(grant, now, grant.reg.listed(relay=relay, ipv6=ipv6))
            for grant in self._grants(account)
        ]
        if wants_json(request):
            return web.json_response(resources)
        return xml_response(
            Node(
                "resources",
                {"size": len(resources)},
                [resource_node(r) for r in resources],
            )
        )

    async def _get_resources_v1(self, request: web.Request) -> web.Response:
        account = self._authenticated(request)
        if account is None:
            return errors_response(request, 401, ERROR_UNAUTHORIZED)
        now = self.clock.now()
        relay, ipv6 = (
            _include(request, "includeRelay"),
            _include(request, "includeIPv6"),
        )
        devices = [
            server_device_v1(grant, now, grant.reg.listed(relay=relay, ipv6=ipv6))
            for grant in self._grants(account)
        ]
        return xml_response(Node("MediaContainer", {"size": len(devices)}, devices))

    async def _get_users(self, request: web.Request) -> web.Response:
        account = self._authenticated(request)
        if account is None:
            return errors_response(request, 401, ERROR_UNAUTHORIZED)
        friends = self.friends() if account is self.owner else []
        now = int(self.clock.now())
        users = [friend_node(friend, shares, now) for friend, shares in friends]
        attrs = {
            "friendlyName": "myPlex",
            "identifier": "com.plexapp.plugins.myplex",
            "machineIdentifier": account.uuid,
            "totalSize": len(users),
            "size": len(users),
        }
        return xml_response(Node("MediaContainer", attrs, users))

    async def _claim(self, request: web.Request) -> web.Response:
        body = await request.text()
        try:
            user = json.loads(body).get("user") if body.strip() else None
        except ValueError, AttributeError:
            return web.json_response(
                {"error": "the body must be a JSON object"}, status=400
            )
        try:
            pin = self.claim_pin(request.match_info["id"], user)
        except KeyError as err:
            return web.json_response(
                {"error": f"no such pin or user: {err.args[0]}"}, status=404
            )
        return web.json_response(pin.as_json(self.clock.now()))

    async def _state_handler(self, _request: web.Request) -> web.Response:
        return web.json_response(self.describe())


# -- rendering ---------------------------------------------------------------------------


def random_code(
    length: int, alphabet: str = string.ascii_lowercase + string.digits
) -> str:
    """A random PIN code."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def xml_response(node: Node, status: int = 200) -> web.Response:
    """An XML answer with one root element."""
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n{node.xml()}\n'
    return web.Response(
        text=body, status=status, content_type="application/xml", charset="utf-8"
    )


def errors_response(
    request: web.Request, status: int, code_message: tuple[int, str]
) -> web.Response:
    """plex.tv's error body: ``{"errors": [{"code", "message", "status"}]}`` or its XML form."""
    code, message = code_message
    entry = {"code": code, "message": message, "status": status}
    if wants_json(request):
        return web.json_response({"errors": [entry]}, status=status)
    return xml_response(Node("errors", {}, [Node("error", entry)]), status=status)


def pin_response(
    request: web.Request, pin: dict[str, Any], status: int = 200
) -> web.Response:
    """A PIN as JSON, or as ``<pin ...><location .../></pin>`` (nulls written empty)."""
    if wants_json(request):
        return web.json_response(pin, status=status)
    attrs = {
        key: "" if value is None else value
        for key, value in pin.items()
        if key != "location"
    }
    return xml_response(
        Node("pin", attrs, [Node("location", pin["location"])]), status=status
    )


def user_json(account: Account, now: float) -> dict[str, Any]:
    """``/api/v2/user`` in JSON (the spec's ``UserPlexAccount``)."""
    return {
        **user_attrs(account, now),
        "entitlements": ["all"],
        "roles": ["plexpass"],
        "subscription": subscription_attrs()
        | {"features": ["companions_sonos", "webhooks"]},
        "subscriptions": [],
        "profile": profile_attrs(),
        "services": [],
    }


def user_node(account: Account, now: float) -> Node:
    """``/api/v2/user`` in XML, shaped like the captured ``<user>``."""
    features = [
        Node("feature", {"id": name}) for name in ("companions_sonos", "webhooks")
    ]
    children = [
        Node("subscription", subscription_attrs(), [Node("features", {}, features)]),
        Node("profile", profile_attrs()),
        Node("entitlements", {}, [Node("entitlement", {"id": "all"})]),
        Node("roles", {}, [Node("role", {"id": "plexpass"})]),
        Node("subscriptions"),
        Node("services"),
    ]
    attrs = {
        key: "" if value is None else value
        for key, value in user_attrs(account, now).items()
    }
    return Node("user", attrs, children)


def user_attrs(account: Account, now: float) -> dict[str, Any]:
    """The account's own attributes, in the order plex.tv writes them."""
    return {
        "id": account.id,
        "uuid": account.uuid,
        "username": account.username,
        "title": account.username,
        "email": account.email,
        "friendlyName": account.username,
        "locale": None,
        "confirmed": True,
        "joinedAt": account.joined_at,
        "emailOnlyAuth": False,
        "hasPassword": True,
        "protected": False,
        "thumb": account.thumb,
        "authToken": account.token,
        "mailingListStatus": "unsubscribed",
        "mailingListActive": False,
        "scrobbleTypes": "",
        "country": "NL",
        "subscriptionDescription": None,
        "restricted": False,
        "anonymous": None,
        "home": False,
        "guest": False,
        "homeSize": 1,
        "homeAdmin": False,
        "maxHomeSize": 15,
        "rememberExpiresAt": int(now) + 14 * 86_400,
        "adsConsent": None,
        "adsConsentSetAt": None,
        "adsConsentReminderAt": None,
        "experimentalFeatures": False,
        "twoFactorEnabled": False,
        "backupCodesCreated": False,
    }


def subscription_attrs() -> dict[str, Any]:
    """An active lifetime Plex Pass, as plex.tv describes it."""
    return {
        "active": True,
        "subscribedAt": "2020-01-01 00:00:00 UTC",
        "status": "Active",
        "paymentService": "",
        "plan": "lifetime",
    }


def profile_attrs() -> dict[str, Any]:
    """The account's playback profile."""
    return {
        "autoSelectAudio": True,
        "defaultAudioLanguage": "en",
        "defaultSubtitleLanguage": "en",
        "autoSelectSubtitle": 0,
        "defaultSubtitleAccessibility": 0,
        "defaultSubtitleForced": 0,
        "watchedIndicator": 1,
        "mediaReviewsVisibility": 0,
    }


def _include(request: web.Request, name: str) -> bool:
    """Whether a resources request asked for relay / IPv6 connections (``=1``)."""
    return request.query.get(name, "0").lower() in ("1", "true")


def server_resource(
    grant: _Grant, now: float, connections: list[Connection]
) -> dict[str, Any]:
    """One registered emulator as a ``/api/v2/resources`` entry (spec ``PlexDevice``)."""
    emu = grant.reg.emu
    return {
        **device_identity(emu),
        "createdAt": iso(grant.reg.created_at),
        "lastSeenAt": iso(now),
        "provides": "server",
        "ownerId": None if grant.owner is None else grant.owner.id,
        "sourceTitle": None if grant.owner is None else grant.owner.username,
        "publicAddress": emu.host,
        "accessToken": grant.access_token,
        "owned": grant.owned,
        "home": False,
        "synced": False,
        "relay": any(c.relay for c in grant.reg.listed()),
        "presence": grant.reg.online,
        "httpsRequired": False,
        "publicAddressMatches": True,
        "dnsRebindingProtection": False,
        "natLoopbackSupported": True,
        "connections": [c.as_json() for c in connections],
    }


def server_device_v1(grant: _Grant, now: float, connections: list[Connection]) -> Node:
    """One registered emulator in the older ``/api/resources`` form (``Device``, epoch times)."""
    emu = grant.reg.emu
    attrs = {
        **device_identity(emu),
        "createdAt": int(grant.reg.created_at),
        "lastSeenAt": int(now),
        "provides": "server",
        "owned": grant.owned,
        "accessToken": grant.access_token,
        "publicAddress": emu.host,
        "httpsRequired": False,
        "synced": False,
        "relay": any(c.relay for c in grant.reg.listed()),
        "dnsRebindingProtection": False,
        "natLoopbackSupported": True,
        "publicAddressMatches": True,
        "presence": grant.reg.online,
    }
    return Node("Device", attrs, [Node("Connection", c.as_v1()) for c in connections])


def friend_node(
    friend: Account, shares: list[tuple[PlexEmulator, int]], now: int
) -> Node:
    """A friend in ``/api/users`` (as in captures/plextv_shared_users.xml)."""
    attrs = {
        "id": friend.id,
        "title": friend.username,
        "username": friend.username,
        "email": friend.email,
        "recommendationsPlaylistId": "",
        "thumb": friend.thumb,
        "protected": False,
        "spencer": False,
        "home": False,
        "allowTuners": 0,
        "allowSync": False,
        "allowCameraUpload": False,
        "allowChannels": False,
        "allowSubtitleAdmin": False,
        "filterAll": "",
        "filterMovies": "",
        "filterMusic": "",
        "filterPhotos": "",
        "filterTelevision": "",
        "restricted": False,
    }
    servers = [
        Node(
            "Server",
            {
                "id": friend.id * 100 + index,
                "serverId": index + 1,
                "machineIdentifier": emu.machine_identifier,
                "name": emu.name,
                "lastSeenAt": now,
                "numLibraries": sections,
                "allLibraries": False,
                "owned": True,
                "pending": False,
            },
        )
        for index, (emu, sections) in enumerate(shares)
    ]
    return Node("User", attrs, servers)


def device_identity(emu: PlexEmulator) -> dict[str, Any]:
    """What a resource says about the server itself."""
    return {
        "name": emu.name,
        "product": "Plex Media Server",
        "productVersion": emu.version,
        "platform": PLATFORM,
        "platformVersion": PLATFORM_VERSION,
        "device": "PC",
        "clientIdentifier": emu.machine_identifier,
    }


def resource_node(resource: dict[str, Any]) -> Node:
    """A ``/api/v2/resources`` entry in XML: ``<resource><connections><connection/>``."""
    attrs = {
        key: "" if value is None else value
        for key, value in resource.items()
        if key != "connections"
    }
    connections = Node(
        "connections", {}, [Node("connection", c) for c in resource["connections"]]
    )
    return Node("resource", attrs, [connections])


# -- pointing python-plexapi here -------------------------------------------------------------


class _RedirectAdapter(requests.adapters.HTTPAdapter):
    """Sends requests for ``https://plex.tv`` to the emulated plex.tv instead."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Rewrite the URL, then send as usual."""
        if request.url and request.url.startswith(PLEX_TV):
            request.url = self.base_url + request.url[len(PLEX_TV) :]
        return super().send(request, *args, **kwargs)


def plextv_session(base_url: str) -> requests.Session:
    """A ``requests`` session (for python-plexapi) whose plex.tv is ``base_url``.

    Pass it as ``MyPlexAccount(token=..., session=...)`` or ``MyPlexPinLogin(session=...)``.
    Close it when done.
    """
    session = requests.Session()
    session.mount(PLEX_TV, _RedirectAdapter(base_url))
    return session
