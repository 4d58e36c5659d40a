"""The demo's Plex dashboard is generated from the entities that exist.

``scripts/demo_dashboard.py`` is a script, not part of the integration; it is loaded
from ``scripts/`` here. What it installs in a running Home Assistant is checked end
to end by ``scripts/e2e``; these tests hold the generator to its rules.
"""

from __future__ import annotations

from collections.abc import Iterator
import importlib
from pathlib import Path
import sys
from types import ModuleType
from typing import Any

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
MIRROR_STATE = {
    "attributes": {"device_class": "enum", "options": ["idle", "syncing", "error"]}
}


@pytest.fixture(name="dashboard")
def dashboard_module() -> Iterator[ModuleType]:
    """scripts/demo_dashboard.py, imported as its script imports its neighbour."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        yield importlib.import_module("demo_dashboard")
    finally:
        sys.path.remove(str(SCRIPTS))


def _entry(
    entity_id: str, key: str | None, name: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "platform": "plex_bridge",
        "entity_id": entity_id,
        "unique_id": f"5eed-{key or entity_id}",
        "translation_key": key,
        "has_entity_name": True,
        "name": None,
        "original_name": name,
        "disabled_by": None,
        **extra,
    }


ENTITIES = [
    _entry("media_player.living_room_tv", None),
    _entry("media_player.bedroom", None),
    _entry("sensor.server_active_streams", "active_streams", "Active streams"),
    _entry("sensor.server_bandwidth", "bandwidth", "Bandwidth"),
    _entry("sensor.server_transcodes", "transcodes", "Transcodes"),
    _entry("sensor.server_recently_added", "recently_added", "Recently added"),
    _entry("update.server_plex_media_server", "server", "Plex Media Server"),
    _entry("button.server_scan_clients", "scan_clients", "Scan clients"),
    _entry("sensor.server_movies", "library", "Movies", disabled_by="integration"),
    {**_entry("light.kitchen", None), "platform": "hue"},
]
STATES = {
    "media_player.living_room_tv": {"attributes": {"friendly_name": "Living Room TV"}},
    "media_player.bedroom": {"attributes": {"friendly_name": "Bedroom"}},
}


def _cards(config: dict[str, Any]) -> list[dict[str, Any]]:
    [view] = config["views"]
    return list(view["cards"])


def _rows(cards: list[dict[str, Any]], title: str) -> list[Any]:
    return next(card["entities"] for card in cards if card.get("title") == title)


def test_without_the_mirror(dashboard: ModuleType) -> None:
    """A media-control card per player (by name); no sync rows without a mirror."""
    cards = _cards(dashboard.build_dashboard(ENTITIES, STATES, {"plex_bridge": {}}))
    assert [c["entity"] for c in cards if c["type"] == "media-control"] == [
        "media_player.bedroom",
        "media_player.living_room_tv",
    ]
    assert _rows(cards, "Now playing") == [
        {"entity": "sensor.server_active_streams", "name": "Active streams"},
        {"entity": "sensor.server_bandwidth", "name": "Bandwidth"},
        {"entity": "sensor.server_transcodes", "name": "Transcodes"},
    ]
    assert [row["entity"] for row in _rows(cards, "Server")] == [
        "update.server_plex_media_server",
        "button.server_scan_clients",
    ]
    markdown = {c["title"]: c["content"] for c in cards if c["type"] == "markdown"}
    assert "sensor.server_active_streams" in markdown["Sessions"]
    assert "sensor.server_recently_added" in markdown["Recently added"]
    text = str(cards)
    assert "sensor.server_movies" not in text  # disabled
    assert "light.kitchen" not in text  # another integration's


def test_with_the_mirror(dashboard: ModuleType) -> None:
    """The mirror's status (an enum sensor with ``syncing``) and a sync button."""
    entities = [
        *ENTITIES,
        _entry("sensor.server_library_mirror", "mirror", "Library mirror"),
    ]
    states = {**STATES, "sensor.server_library_mirror": MIRROR_STATE}
    cards = _cards(
        dashboard.build_dashboard(entities, states, {"plex_bridge": {"sync": {}}})
    )
    rows = _rows(cards, "Server")
    assert rows[0] == {
        "entity": "sensor.server_library_mirror",
        "name": "Library mirror",
    }
    assert rows[-1]["tap_action"] == {
        "action": "perform-action",
        "perform_action": "plex_bridge.sync",
    }


def test_nothing_yet(dashboard: ModuleType) -> None:
    """Before the integration has entities the dashboard is empty, not broken."""
    assert _cards(dashboard.build_dashboard([], {}, {})) == []
