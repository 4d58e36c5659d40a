"""Every string the integration can show has English text.

Custom integrations get no ``strings.json`` resolution at run time, so
``translations/en.json`` must be complete on its own; ``strings.json`` is kept equal
to it for the tools that read it. What the code can show is read from the code
itself (step ids, error keys, abort reasons, exception translation keys), so a new
step or error without text fails here.
"""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path

import probatio
import pytest

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
# The options flow may live beside the config flow; its strings sit under "options".
OPTIONS_FLOW = (
    module_tree("options_flow.py")
    if (INTEGRATION / "options_flow.py").exists()
    else ast.Module(body=[], type_ignores=[])
)


def test_strings_json_equals_english_translation() -> None:
    strings = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))
    assert strings == EN


def step_schemas(module_name: str) -> dict[str, probatio.Schema]:
    """A flow module's fixed schemas by step id (``STEP_SCHEMAS``), if it has any."""
    module = importlib.import_module(f"custom_components.{DOMAIN}.{module_name}")
    return dict(getattr(module, "STEP_SCHEMAS", {}))


FLOW_STEPS = [
    ("config", "config_flow", step) for step in sorted(keyword_strings(FLOW, "step_id"))
] + [
    ("options", "options_flow", step)
    for step in sorted(keyword_strings(OPTIONS_FLOW, "step_id"))
]


@pytest.mark.parametrize(("section", "module_name", "step_id"), FLOW_STEPS)
def test_every_step_has_a_title_and_field_labels(
    section: str, module_name: str, step_id: str
) -> None:
    step = EN[section]["step"][step_id]
    assert step.get("title") or step.get("description")
    schema = step_schemas(module_name).get(step_id)
    if schema is None:
        return
    for marker in schema.schema:
        assert isinstance(marker, probatio.Marker)
        assert step["data"].get(str(marker.schema)), (
            f"{step_id}: no label for {marker.schema}"
        )
        assert (
            step["data_description"].get(str(marker.schema))
            or str(marker.schema) == "verify_ssl"
        )


def test_every_menu_option_has_text() -> None:
    for node in ast.walk(FLOW):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "async_show_menu"
        ):
            continue
        kwargs = {keyword.arg: keyword.value for keyword in node.keywords}
        step_id = kwargs["step_id"]
        options = kwargs["menu_options"]
        assert isinstance(step_id, ast.Constant)
        assert isinstance(options, ast.List | ast.Tuple)
        texts = EN["config"]["step"][step_id.value]["menu_options"]
        for option in options.elts:
            assert isinstance(option, ast.Constant)
            assert texts.get(option.value), f"{step_id.value}: {option.value}"


def test_every_error_has_text() -> None:
    errors = error_keys(FLOW)
    assert errors >= {"cannot_connect", "invalid_auth", "unknown", "invalid_url"}
    missing = errors - EN["config"]["error"].keys()
    assert not missing
    missing = error_keys(OPTIONS_FLOW) - EN.get("options", {}).get("error", {}).keys()
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
