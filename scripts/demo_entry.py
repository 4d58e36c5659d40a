"""Add (or refresh) the demo server's config entry in a Home Assistant config folder.

Used by ``scripts/develop --demo`` before Home Assistant starts: the entry is written
into ``.storage/core.config_entries`` with Home Assistant's own ConfigEntry class, so
it has the storage format of the installed version. An entry that already exists for
the same server keeps its id, options and entities; only its URL and token change.

Usage: python scripts/demo_entry.py CONFIG_DIR '{"url": ..., "token": ..., "machineIdentifier": ..., "name": ...}'
"""

from __future__ import annotations

import json
from pathlib import Path
import sys
from typing import Any

from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntry
import orjson

DOMAIN = "plex_bridge"


def load_entries(path: Path) -> list[dict[str, Any]]:
    """The stored entries, or none for a fresh config folder."""
    if not path.exists():
        return []
    return list(json.loads(path.read_text(encoding="utf-8"))["data"]["entries"])


def demo_entry(server: dict[str, Any]) -> dict[str, Any]:
    """A new entry for the demo server, in the installed version's storage format."""
    entry = ConfigEntry(
        data={"url": server["url"], "token": server["token"], "verify_ssl": True},
        discovery_keys={},
        domain=DOMAIN,
        minor_version=1,
        options={},
        source=config_entries.SOURCE_USER,
        subentries_data=None,
        title=server.get("name", "Plex Bridge demo"),
        unique_id=server["machineIdentifier"],
        version=1,
    )
    return dict(orjson.loads(orjson.dumps(entry.as_storage_fragment)))


def main(config_dir: str, server_json: str) -> None:
    """Write the demo entry, replacing the connection details of an earlier one."""
    server = json.loads(server_json)
    path = Path(config_dir) / ".storage" / "core.config_entries"
    entries = load_entries(path)
    for entry in entries:
        if (
            entry["domain"] == DOMAIN
            and entry["unique_id"] == server["machineIdentifier"]
        ):
            entry["data"] = {
                **entry["data"],
                "url": server["url"],
                "token": server["token"],
            }
            break
    else:
        entries.append(demo_entry(server))
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "version": config_entries.STORAGE_VERSION,
        "minor_version": config_entries.STORAGE_VERSION_MINOR,
        "key": "core.config_entries",
        "data": {"entries": entries},
    }
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    print(f"demo_entry: {server['url']} is set up as a Plex Bridge entry")


if __name__ == "__main__":
    main(*sys.argv[1:3])
