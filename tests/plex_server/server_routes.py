"""The server's own endpoints.

``/``, ``/identity``, ``/accounts``, ``/myplex/account``, ``/updater/status`` and
``/clients``.

Shapes follow ``plex_server_base.xml``, ``plex_server_accounts.xml``,
``release_*.xml`` and ``plex_server_clients.xml``; ``/identity`` and
``/myplex/account`` follow the spec and python-plexapi's ``Identity`` / ``Account``.
``updater(emu)`` holds what ``/updater/status`` reports (tests and the control API
may announce a release).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .auth import users
from .node import Node, container_json, container_xml
from .responses import (
    JSON_CONTENT_TYPE,
    XML_CONTENT_TYPE,
    empty,
    error,
    media_container,
    wants_json,
)

if TYPE_CHECKING:
    from .server import PlexEmulator

OWNER_FEATURES = (
    "adaptive_bitrate,camera_upload,cloudsync,collections,content_filter,download_certificates,dvr,"
    "federated-auth,hardware_transcoding,home,hwtranscode,item_clusters,kevin-bacon,livetv,loudness,lyrics,"
    "music_videos,news,pass,photo_autotags,photos-v5,premium_music_metadata,radio,server-manager,"
    "session_bandwidth_restrictions,session_kick,shared-radio,sync,trailers,tuner-sharing,type-first,webhooks"
)
ROOT_DIRECTORIES = (
    ("activities", 1),
    ("butler", 1),
    ("channels", 1),
    ("clients", 1),
    ("devices", 1),
    ("diagnostics", 1),
    ("hubs", 1),
    ("library", 3),
    ("livetv", 3),
    ("media", 3),
    ("metadata", 2),
    ("neighborhood", 1),
    ("playQueues", 1),
    ("player", 1),
    ("playlists", 1),
    ("resources", 1),
    ("search", 1),
    ("server", 1),
    ("servers", 1),
    ("statistics", 1),
    ("system", 1),
    ("transcode", 1),
    ("updater", 1),
    ("user", 1),
)
DOWNLOAD_URL = (
    "https://plex.tv/downloads/latest/5?channel=0&build=linux-x86_64&distro=debian"
)


@dataclass(slots=True)
class UpdaterState:
    """What ``/updater/status`` reports: a newer release, or none."""

    available: bool = False
    version: str = "1.50.0.9999-0000000000"
    can_install: bool = False
    notes: str = "Summary of\nrelease notes"
    checked_at: int = 0


UPDATER_KEY = web.AppKey("updater", UpdaterState)


def updater(emu: PlexEmulator) -> UpdaterState:
    """The emulator's updater state (change it to announce a release)."""
    return emu.app[UPDATER_KEY]


def email_of(emu: PlexEmulator) -> str:
    """The owner's plex.tv e-mail address."""
    return f"{emu.owner_name.lower().replace(' ', '.')}@example.com"


def _emulator(request: web.Request) -> PlexEmulator:
    emu: PlexEmulator = request.app["emulator"]
    return emu


def _single_element(
    request: web.Request, tag: str, attrs: dict[str, Any]
) -> web.Response:
    """An answer whose root element is not a MediaContainer (``MyPlex``)."""
    if wants_json(request):
        body, content_type = container_json(attrs, [], tag=tag), JSON_CONTENT_TYPE
    else:
        body, content_type = container_xml(attrs, [], tag=tag), XML_CONTENT_TYPE
    return web.Response(
        body=body,
        content_type=content_type,
        charset="utf-8",
        headers={"X-Plex-Protocol": "1.0"},
    )


async def get_root(request: web.Request) -> web.Response:
    """``/``: the server's capabilities (``plex_server_base.xml``)."""
    emu = _emulator(request)
    sessions = getattr(emu, "sessions", None)
    transcoding = getattr(sessions, "transcode_count", 0)
    attrs = {
        "size": len(ROOT_DIRECTORIES),
        "allowCameraUpload": True,
        "allowChannelAccess": True,
        "allowMediaDeletion": True,
        "allowSharing": True,
        "allowSync": True,
        "allowTuners": True,
        "backgroundProcessing": True,
        "certificate": True,
        "companionProxy": True,
        "countryCode": "usa",
        "diagnostics": "logs,databases,streaminglogs",
        "eventStream": True,
        "friendlyName": emu.name,
        "hubSearch": True,
        "itemClusters": True,
        "livetv": 7,
        "machineIdentifier": emu.machine_identifier,
        "mediaProviders": True,
        "multiuser": True,
        "musicAnalysis": 2,
        "myPlex": True,
        "myPlexMappingState": "mapped",
        "myPlexSigninState": "ok",
        "myPlexSubscription": True,
        "myPlexUsername": email_of(emu),
        "offlineTranscode": 1,
        "ownerFeatures": OWNER_FEATURES,
        "photoAutoTag": True,
        "platform": "Linux",
        "platformVersion": "22.04.4 LTS (Jammy Jellyfish)",
        "pluginHost": True,
        "pushNotifications": False,
        "readOnlyLibraries": False,
        "requestParametersInCookie": True,
        "streamingBrainABRVersion": 3,
        "streamingBrainVersion": 2,
        "sync": True,
        "transcoderActiveVideoSessions": transcoding
        if isinstance(transcoding, int)
        else 0,
        "transcoderAudio": True,
        "transcoderLyrics": True,
        "transcoderPhoto": True,
        "transcoderSubtitles": True,
        "transcoderVideo": True,
        "transcoderVideoBitrates": "64,96,208,320,720,1500,2000,3000,4000,8000,10000,12000,20000",
        "transcoderVideoQualities": "0,1,2,3,4,5,6,7,8,9,10,11,12",
        "transcoderVideoResolutions": "128,128,160,240,320,480,768,720,720,1080,1080,1080,1080",
        "updatedAt": emu.clock.timestamp(),
        "updater": True,
        "version": emu.version,
        "voiceSearch": True,
    }
    children = [
        Node("Directory", {"count": count, "key": key, "title": key})
        for key, count in ROOT_DIRECTORIES
    ]
    return media_container(request, attrs, children)


async def get_identity(request: web.Request) -> web.Response:
    """``/identity`` (no token needed): claimed, machineIdentifier, version."""
    emu = _emulator(request)
    attrs = {
        "size": 0,
        "claimed": True,
        "machineIdentifier": emu.machine_identifier,
        "version": emu.version,
    }
    return media_container(request, attrs)


def _account_node(account_id: int, name: str) -> Node:
    return Node(
        "Account",
        {
            "id": account_id,
            "key": f"/accounts/{account_id}",
            "name": name,
            "defaultAudioLanguage": "en",
            "autoSelectAudio": True,
            "defaultSubtitleLanguage": "en",
            "subtitleMode": 1,
            "thumb": "",
        },
    )


def _accounts(emu: PlexEmulator) -> list[Node]:
    """The local system account (id 0), the owner, then the shared users."""
    return [
        _account_node(0, ""),
        *(_account_node(user.id, user.name) for user in users(emu)),
    ]


async def get_accounts(request: web.Request) -> web.Response:
    """``/accounts`` (``plex_server_accounts.xml``)."""
    accounts = _accounts(_emulator(request))
    return media_container(
        request,
        {"size": len(accounts), "identifier": "com.plexapp.system.accounts"},
        accounts,
    )


async def get_account(request: web.Request) -> web.Response:
    """``/accounts/{id}``: one account."""
    accounts = [
        node
        for node in _accounts(_emulator(request))
        if str(node.attrs["id"]) == request.match_info["id"]
    ]
    if not accounts:
        return error(404, "Not Found")
    return media_container(
        request, {"size": 1, "identifier": "com.plexapp.system.accounts"}, accounts
    )


async def get_myplex_account(request: web.Request) -> web.Response:
    """``/myplex/account``: how the server is signed in to plex.tv (``MyPlex`` element)."""
    emu = _emulator(request)
    attrs = {
        "authToken": emu.token,
        "username": email_of(emu),
        "mappingState": "mapped",
        "mappingError": "",
        "signInState": "ok",
        "publicAddress": emu.host,
        "publicPort": emu.port,
        "privateAddress": emu.host,
        "privatePort": emu.port,
        "subscriptionFeatures": OWNER_FEATURES,
        "subscriptionActive": True,
        "subscriptionState": "Active",
    }
    return _single_element(request, "MyPlex", attrs)


async def get_updater_status(request: web.Request) -> web.Response:
    """``/updater/status`` (``release_new.xml`` / ``release_nochange.xml``)."""
    emu = _emulator(request)
    state = updater(emu)
    checked = state.checked_at or emu.clock.timestamp()
    download = f"{DOWNLOAD_URL}&X-Plex-Token={emu.token}"
    if state.available:
        release = {
            "key": "https://plex.tv/updater/releases/9999",
            "version": state.version,
            "added": "",
            "fixed": state.notes,
            "downloadURL": download,
            "state": "notify",
        }
    else:
        release = {
            "key": "https://plex.tv/updater/releases/1",
            "version": emu.version,
            "added": "",
            "fixed": "",
            "downloadURL": "",
            "state": "notify",
        }
    attrs = {
        "size": 1,
        "canInstall": state.available and state.can_install,
        "checkedAt": checked,
        "downloadURL": download,
        "status": 0,
    }
    return media_container(request, attrs, [Node("Release", release)])


async def put_updater_check(request: web.Request) -> web.Response:
    """``PUT /updater/check``: remember when the server last looked for releases."""
    emu = _emulator(request)
    updater(emu).checked_at = emu.clock.timestamp()
    return empty(request)


async def get_clients(request: web.Request) -> web.Response:
    """``/clients``: the players the server can see (``Server`` elements)."""
    players = getattr(_emulator(request), "players", None)
    client_nodes = getattr(players, "client_nodes", None)
    nodes: list[Node] = client_nodes() if callable(client_nodes) else []
    return media_container(request, {"size": len(nodes)}, nodes)


async def get_devices(request: web.Request) -> web.Response:
    """``/devices``: the devices the server has seen (``deviceID`` of history is ``id``)."""
    players = getattr(_emulator(request), "players", None) or []
    nodes = [
        Node(
            "Device",
            {
                "id": player.device_id,
                "name": player.title,
                "platform": player.platform,
                "clientIdentifier": player.machine_identifier,
                "createdAt": 1_700_000_000 + player.device_id,
            },
        )
        for player in players
    ]
    return media_container(
        request, {"size": len(nodes), "identifier": "com.plexapp.system.devices"}, nodes
    )


def add_routes(app: web.Application, emu: PlexEmulator) -> None:
    """Register the server endpoints."""
    del emu  # the handlers find the emulator on the application
    app[UPDATER_KEY] = UpdaterState()
    app.router.add_get("/", get_root)
    app.router.add_get("/identity", get_identity)
    app.router.add_get("/accounts", get_accounts)
    app.router.add_get("/accounts/{id}", get_account)
    app.router.add_get("/myplex/account", get_myplex_account)
    app.router.add_get("/updater/status", get_updater_status)
    app.router.add_put("/updater/check", put_updater_check)
    app.router.add_get("/clients", get_clients)
    app.router.add_get("/devices", get_devices)
