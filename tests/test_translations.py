"""Every string the integration can show has English text.

Custom integrations get no ``strings.json`` resolution at run time, so
``translations/en.json`` must be complete on its own; ``strings.json`` is kept equal
to it for the tools that read it. What the code can show is read from the code
itself (step ids, error keys, abort reasons, exception translation keys), so a new
step or error without text fails here.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import probatio
import pytest

from custom_components.plex_bridge import config_flow
from custom_components.plex_bridge.const import DOMAIN

INTEGRATION = Path(__file__).resolve().parent.parent / "custom_components" / DOMAIN
EN = json.loads((INTEGRATION / "translations" / "en.json").read_text(encoding="utf-8"))

# Aborts that Home Assistant's flow helpers raise on our behalf.
IMPLICIT_ABORTS = {
    "_abort_if_unique_id_configured": "already_configured",
    "async_update_reload_and_abort": "reauth_successful",
}


def keyword_strings(tree: ast.AST, keyword: str) -> set[str]:
    """Every string literal passed as ``keyword=...`` in a module."""
    return {
        node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword)
        and node.arg == keyword
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def error_keys(tree: ast.AST) -> set[str]:
    """Error keys: ``{"base": "x"}`` literals and ``errors[...] = "x"`` assignments."""
    keys: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys |= {
                value.value
                for key, value in zip(node.keys, node.values, strict=True)
                if isinstance(key, ast.Constant)
                and key.value == "base"
                and isinstance(value, ast.Constant)
            }
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Subscript)
            and isinstance(node.targets[0].value, ast.Name)
            and node.targets[0].value.id == "errors"
            and isinstance(node.value, ast.Constant)
        ):
            keys.add(node.value.value)
    return keys


def called_names(tree: ast.AST) -> set[str]:
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }


def module_tree(name: str) -> ast.AST:
    return ast.parse((INTEGRATION / name).read_text(encoding="utf-8"))


FLOW = module_tree("config_flow.py")


def test_strings_json_equals_english_translation() -> None:
    strings = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))
    assert strings == EN


@pytest.mark.parametrize("step_id", sorted(keyword_strings(FLOW, "step_id")))
def test_every_step_has_a_title_and_field_labels(step_id: str) -> None:
    step = EN["config"]["step"][step_id]
    assert step.get("title") or step.get("description")
    assert step_id in {"user", "reauth_confirm"}, "add the new step's schema below"
    schema = {
        "user": config_flow.USER_SCHEMA,
        "reauth_confirm": config_flow.REAUTH_SCHEMA,
    }[step_id]
    for marker in schema.schema:
        assert isinstance(marker, probatio.Marker)
        assert step["data"].get(str(marker.schema)), (
            f"{step_id}: no label for {marker.schema}"
        )
        assert (
            step["data_description"].get(str(marker.schema))
            or str(marker.schema) == "verify_ssl"
        )


def test_every_error_has_text() -> None:
    errors = error_keys(FLOW)
    assert errors >= {"cannot_connect", "invalid_auth", "unknown", "invalid_url"}
    missing = errors - EN["config"]["error"].keys()
    assert not missing


def test_every_abort_has_text() -> None:
    reasons = keyword_strings(FLOW, "reason")
    reasons |= {
        abort for call, abort in IMPLICIT_ABORTS.items() if call in called_names(FLOW)
    }
    assert reasons >= {"already_configured", "reauth_successful", "wrong_server"}
    missing = reasons - EN["config"]["abort"].keys()
    assert not missing


def exception_translation_keys(tree: ast.AST) -> set[str]:
    """``translation_key="x"`` of calls that make an exception.

    Only calls of ``...Error``, ``...Failed`` and ``...NotReady``: entity
    descriptions have translation keys too, with names rather than messages.
    """
    keys: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if not name.endswith(("Error", "Failed", "NotReady")):
            continue
        keys |= {
            keyword.value.value
            for keyword in node.keywords
            if keyword.arg == "translation_key"
            and isinstance(keyword.value, ast.Constant)
            and isinstance(keyword.value.value, str)
        }
    return keys


def test_every_exception_translation_key_has_a_message() -> None:
    keys: set[str] = set()
    for path in INTEGRATION.rglob("*.py"):
        keys |= exception_translation_keys(ast.parse(path.read_text(encoding="utf-8")))
    assert keys
    for key in keys:
        assert EN["exceptions"][key]["message"], key
