"""The "Plex" dashboard, generated from the Plex Bridge entities that exist.

It is installed through Home Assistant's websocket API.

``build_dashboard`` turns the entity registry, the states and the services into a
Lovelace configuration (a media-control card per player; active streams, bandwidth
and transcodes; recently added; the library mirror's sync status and a button that
calls ``plex_bridge.sync`` when those exist; the server's update). It is generated
each time rather than stored in the repository, so it never names an entity that is
not there. ``install_dashboard`` creates the storage-mode dashboard
(``lovelace/dashboards/create``) once and saves the configuration
(``lovelace/config/save``) every time; ``make_default`` makes it the user's default
panel (the frontend reads ``default_panel`` from the user's ``core`` data).

Run by ``scripts/develop --demo`` beside Home Assistant::

    python scripts/demo_dashboard.py CONFIG_DIR http://127.0.0.1:8123

It completes onboarding with a demo user on the first start (the user name and a
new password are kept in ``CONFIG_DIR/demo-login.json``), logs in with that user on
later starts, waits for the Plex Bridge entities, installs the dashboard and prints
where to open it and how to log in.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
import secrets
import sys
from typing import Any

import aiohttp
from hass_api import Hass, HassError, HassSocket, wait_until

DOMAIN = "plex_bridge"
DASHBOARD_URL = "dashboard-plex"
DASHBOARD_TITLE = "Plex"
DEMO_USER = "demo"
LOGIN_FILE = "demo-login.json"
SERVER_SENSORS = ("active_streams", "bandwidth", "transcodes")


def _key(entry: dict[str, Any]) -> str:
    """What an entity is: its translation key, else the end of its unique id."""
    return str(entry.get("translation_key") or entry["unique_id"].rsplit("-", 1)[-1])


def _is_sync_status(entry: dict[str, Any], state: dict[str, Any] | None) -> bool:
    """The mirror's sync status: an enum sensor whose options include ``syncing``."""
    if not entry["entity_id"].startswith("sensor.") or state is None:
        return False
    attributes = state.get("attributes", {})
    return attributes.get("device_class") == "enum" and "syncing" in (
        attributes.get("options") or []
    )


def build_dashboard(
    entities: list[dict[str, Any]],
    states: dict[str, dict[str, Any]],
    services: dict[str, Any],
) -> dict[str, Any]:
    """The Lovelace configuration for the entities, states and services given.

    ``entities``: entity registry entries (``config/entity_registry/list``);
    ``states``: state objects by entity id; ``services``: ``get_services``.
    Disabled entities and those of other integrations are left out.
    """
    ours = [
        entry
        for entry in entities
        if entry.get("platform") == DOMAIN and not entry.get("disabled_by")
    ]

    def name_of(entity_id: str) -> str:
        state = states.get(entity_id) or {}
        return str(state.get("attributes", {}).get("friendly_name") or entity_id)

    players = sorted(
        (e["entity_id"] for e in ours if e["entity_id"].startswith("media_player.")),
        key=name_of,
    )
    by_key: dict[str, str] = {}
    sync_status: str | None = None
    for entry in ours:
        if _is_sync_status(entry, states.get(entry["entity_id"])):
            sync_status = sync_status or entry["entity_id"]
        else:
            by_key.setdefault(_key(entry), entry["entity_id"])
    updates = sorted(
        e["entity_id"] for e in ours if e["entity_id"].startswith("update.")
    )
    # The entity's own name, without the server's name in front (the card is the
    # server's already): the registry's name, else the integration's.
    short = {
        e["entity_id"]: e.get("name") or e.get("original_name")
        for e in ours
        if e.get("has_entity_name")
    }

    def row(entity_id: str) -> dict[str, Any]:
        return {
            "entity": entity_id,
            **({"name": n} if (n := short.get(entity_id)) else {}),
        }

    cards: list[dict[str, Any]] = [
        {"type": "media-control", "entity": player} for player in players
    ]
    server_rows = [row(by_key[key]) for key in SERVER_SENSORS if key in by_key]
    if server_rows:
        cards.append(
            {"type": "entities", "title": "Now playing", "entities": server_rows}
        )
    if (streams := by_key.get("active_streams")) is not None:
        cards.append(
            {
                "type": "markdown",
                "title": "Sessions",
                "content": (
                    f"{{% for s in state_attr('{streams}', 'sessions') or [] %}}\n"
                    "**{{ s.title }}** on {{ s.player }} ({{ s.user }}), {{ s.state }},"
                    " {{ s.progress }} %, {{ s.decision }}\n\n"
                    "{% else %}\nNothing is playing.\n{% endfor %}\n"
                ),
            }
        )
    if (recent := by_key.get("recently_added")) is not None:
        cards.append(
            {
                "type": "markdown",
                "title": "Recently added",
                "content": (
                    f"{{% for item in (state_attr('{recent}', 'data') or [])[1:9] %}}\n"
                    "- **{{ item.title }}** {{ item.episode }}\n"
                    "{%- else %}\nNothing new.\n{%- endfor %}\n"
                ),
            }
        )
    library_rows: list[Any] = []
    if sync_status is not None:
        library_rows.append(row(sync_status))
    library_rows.extend(row(update) for update in updates)
    if (scan := by_key.get("scan_clients")) is not None:
        library_rows.append(row(scan))
    if "sync" in services.get(DOMAIN, {}):
        library_rows.append(
            {
                "type": "button",
                "name": "Sync the library mirror",
                "icon": "mdi:database-sync",
                "action_name": "Sync",
                "tap_action": {
                    "action": "perform-action",
                    "perform_action": f"{DOMAIN}.sync",
                },
            }
        )
    if library_rows:
        cards.append({"type": "entities", "title": "Server", "entities": library_rows})
    return {
        "title": DASHBOARD_TITLE,
        "views": [
            {
                "title": DASHBOARD_TITLE,
                "path": "plex",
                "icon": "mdi:plex",
                "cards": cards,
            }
        ],
    }


async def plex_entities(ws: HassSocket) -> list[dict[str, Any]]:
    """Plex Bridge's entity registry entries."""
    entries = await ws.call("config/entity_registry/list")
    return [dict(e) for e in entries if e.get("platform") == DOMAIN]


async def wait_for_entities(
    ws: HassSocket, within: float = 120
) -> list[dict[str, Any]]:
    """Wait until Plex Bridge has its players and server sensors."""

    async def probe() -> list[dict[str, Any]] | None:
        entries = await plex_entities(ws)
        keys = {_key(entry) for entry in entries}
        has_player = any(e["entity_id"].startswith("media_player.") for e in entries)
        return entries if has_player and "active_streams" in keys else None

    return await wait_until(probe, within=within, what="Plex Bridge's entities")


async def install_dashboard(ws: HassSocket) -> dict[str, Any]:
    """Create the dashboard if it is missing and save its generated configuration."""
    entities = await ws.call("config/entity_registry/list")
    states = {state["entity_id"]: state for state in await ws.call("get_states")}
    services = await ws.call("get_services")
    config = build_dashboard(entities, states, services)
    dashboards = await ws.call("lovelace/dashboards/list")
    if not any(d["url_path"] == DASHBOARD_URL for d in dashboards):
        await ws.call(
            "lovelace/dashboards/create",
            url_path=DASHBOARD_URL,
            title=DASHBOARD_TITLE,
            icon="mdi:plex",
            mode="storage",
            show_in_sidebar=True,
            require_admin=False,
        )
    await ws.call("lovelace/config/save", url_path=DASHBOARD_URL, config=config)
    return config


async def make_default(ws: HassSocket) -> None:
    """Open the dashboard when this user opens Home Assistant."""
    current = await ws.call("frontend/get_user_data", key="core")
    value = dict(current.get("value") or {})
    value["default_panel"] = DASHBOARD_URL
    await ws.call("frontend/set_user_data", key="core", value=value)


def _onboarded(config_dir: Path) -> bool:
    """Whether onboarding has a user (read from Home Assistant's own storage)."""
    path = config_dir / ".storage" / "onboarding"
    if not path.exists():
        return False
    return "user" in json.loads(path.read_text(encoding="utf-8"))["data"]["done"]


async def run(config_dir: Path, base: str) -> int:
    """Onboard or log in, install the dashboard, say how to reach it."""
    login_path = config_dir / LOGIN_FILE
    async with aiohttp.ClientSession() as session:
        hass = Hass(session, base)
        await hass.wait_http()
        if not _onboarded(config_dir):
            password = secrets.token_urlsafe(9)
            await hass.onboard(DEMO_USER, password)
            login_path.write_text(
                json.dumps({"username": DEMO_USER, "password": password}),
                encoding="utf-8",
            )
            login_path.chmod(0o600)
        elif login_path.exists():
            login = json.loads(login_path.read_text(encoding="utf-8"))
            password = login["password"]
            await hass.login(login["username"], password)
        else:
            print(
                "demo: this config/ was onboarded by hand, so the demo cannot log in to"
                " install the Plex dashboard; remove config/.storage for a fresh demo",
                flush=True,
            )
            return 0
        async with hass.websocket() as ws:
            await ws.wait_running()
            await wait_for_entities(ws)
            await install_dashboard(ws)
            await make_default(ws)
    print(
        "\n"
        f"demo: Home Assistant is ready at {base}/{DASHBOARD_URL}/plex\n"
        f"demo: log in as user {DEMO_USER!r} with password {password!r}"
        f" (kept in {login_path})\n",
        flush=True,
    )
    return 0


def main(argv: list[str]) -> int:
    """Entry point: ``demo_dashboard.py CONFIG_DIR BASE_URL``."""
    try:
        return asyncio.run(run(Path(argv[0]), argv[1]))
    except (HassError, TimeoutError, aiohttp.ClientError) as err:
        print(f"demo: could not install the Plex dashboard: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C reaches the whole of scripts/develop
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
