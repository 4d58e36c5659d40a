"""What HACS and Home Assistant read from the repository: manifest, hacs.json, brand."""

from __future__ import annotations

import json
from pathlib import Path
import struct
import tomllib

import yaml

from custom_components.plex_bridge.const import DOMAIN

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / DOMAIN

# HACS validates hacs.json with a schema that refuses any other key.
HACS_KEYS = {
    "name",
    "content_in_root",
    "country",
    "filename",
    "hacs",
    "hide_default_branch",
    "homeassistant",
    "persistent_directory",
    "render_readme",
    "zip_release",
}
# Keys HACS requires of a custom integration's manifest, and Home Assistant's own.
MANIFEST_KEYS = {
    "domain",
    "name",
    "codeowners",
    "config_flow",
    "documentation",
    "integration_type",
    "iot_class",
    "issue_tracker",
    "requirements",
    "version",
}


def load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_manifest_has_required_keys() -> None:
    manifest = load_json(INTEGRATION / "manifest.json")
    assert manifest.keys() >= MANIFEST_KEYS
    assert manifest["domain"] == DOMAIN == INTEGRATION.name
    assert manifest["name"] == "Plex Bridge"
    assert manifest["config_flow"] is True
    assert manifest["iot_class"] == "local_push"
    assert manifest["integration_type"] == "hub"
    assert manifest["codeowners"] and all(
        o.startswith("@") for o in manifest["codeowners"]
    )
    assert manifest["documentation"].startswith("https://")
    assert manifest["issue_tracker"].startswith("https://")


def test_manifest_keys_in_hassfest_order() -> None:
    """Hassfest wants domain and name first, the rest sorted."""
    keys = list(load_json(INTEGRATION / "manifest.json"))
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])


def test_manifest_requirements_are_pinned() -> None:
    """Each requirement is pinned, and the tests run with the same pin.

    One today: msgspec, the mirror's decoder (plex.tv, GDM and Plex are our own
    api/). Home Assistant installs it for users; the tests' environment has it from
    requirements_test.txt, which must pin the same version.
    """
    requirements = load_json(INTEGRATION / "manifest.json")["requirements"]
    pinned = {
        line.strip()
        for line in (ROOT / "requirements_test.txt").read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert requirements
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        assert name and version, f"{requirement} is not pinned with =="
        assert requirement in pinned, f"{requirement} is not in requirements_test.txt"


def test_manifest_version_matches_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    manifest = load_json(INTEGRATION / "manifest.json")
    assert manifest["version"] == pyproject["project"]["version"]


def test_hacs_json_holds_only_known_keys() -> None:
    hacs = load_json(ROOT / "hacs.json")
    assert set(hacs) <= HACS_KEYS, set(hacs) - HACS_KEYS
    assert hacs["name"] == "Plex Bridge"
    assert hacs["render_readme"] is True
    major, minor, *_ = (int(part) for part in hacs["homeassistant"].split("."))
    assert (major, minor) >= (2026, 1)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_brand_icons_have_the_sizes_home_assistant_expects() -> None:
    assert png_size(INTEGRATION / "brand" / "icon.png") == (256, 256)
    assert png_size(INTEGRATION / "brand" / "icon@2x.png") == (512, 512)


def test_quality_scale_parses_with_every_rule_stated() -> None:
    """quality_scale.yaml is YAML that hassfest reads: a status for each rule.

    An unquoted ``: `` in a comment once made the whole file unreadable.
    """
    path = ROOT / "custom_components" / DOMAIN / "quality_scale.yaml"
    rules = yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]
    assert len(rules) == 54
    for name, rule in rules.items():
        status = rule if isinstance(rule, str) else rule["status"]
        assert status in {"done", "todo", "exempt"}, name
        if status == "exempt":
            assert isinstance(rule, dict) and rule.get("comment"), name
