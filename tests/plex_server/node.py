"""The emulator's element model and its two wire forms, XML and JSON.

Real Plex answers every request with a ``MediaContainer``. In XML each child is an
element named for its kind (``Video``, ``Directory``, ``Track``, ``Photo``,
``Media``, ``Part``, ``Stream``, ``Genre``, ...). In JSON (``Accept:
application/json``) the same tree is an object whose children are grouped by a
*JSON key* into arrays: ``Video``/``Directory``/``Track``/``Photo`` items all appear
under ``"Metadata"``, sections under ``"Directory"``, and the one-per-parent
children of a session (``User``, ``Player``, ``Session``, ``TranscodeSession``)
appear as single objects rather than arrays.

Attribute values are kept typed (``str``, ``int``, ``float``, ``bool``): XML writes
booleans as ``1``/``0`` like Plex does, JSON writes them as JSON values, matching
the community OpenAPI description in ``shared/plex-reference/plex-api-spec.yaml``.
``None`` values are omitted from both forms.

Rendered fragments are cached on the node (``xml()``, ``json()``) so that a page of
a 100k-item library is a join of cached strings; call ``invalidate()`` after a
change to a node (and to every ancestor whose cached text contains it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import json as _json
from typing import Any

try:  # Home Assistant's own dependency, so always there beside it
    import orjson
except ImportError:  # pragma: no cover - the emulator alone, without it
    orjson = None  # type: ignore[assignment]


def dumps(obj: Any) -> str:
    """Compact JSON text with UTF-8 kept as it is, with orjson when it is there.

    Byte for byte ``json.dumps`` with ``ensure_ascii=False`` and no spaces, in a
    tenth of its time: every rendering the emulator does not cache (trimmed items,
    changed ones) goes through here.
    """
    if orjson is not None:
        return orjson.dumps(obj).decode()
    return _json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


Attrs = dict[str, Any]

XML_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#9;",
    }
)

# Children that JSON writes as one object, not as an array (see module docstring).
SINGLE_JSON_CHILDREN = frozenset(
    {"User", "Player", "Session", "TranscodeSession", "Meta"}
)

# XML element name -> JSON key where the two differ.
JSON_KEYS = {
    "Video": "Metadata",
    "Track": "Metadata",
    "Photo": "Metadata",
    "Playlist": "Metadata",
}


def xml_value(value: Any) -> str:
    """Write one attribute value the way Plex's XML does."""
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, float):
        return repr(value) if value != int(value) else f"{value:.1f}"
    return str(value).translate(XML_ESCAPES)


class Node:
    """One element: a tag, typed attributes (in order) and child elements."""

    __slots__ = ("_json", "_xml", "attrs", "children", "json_key", "tag")

    def __init__(
        self,
        tag: str,
        attrs: Mapping[str, Any] | None = None,
        children: Iterable[Node] | None = None,
        *,
        json_key: str | None = None,
    ) -> None:
        self.tag = tag
        self.attrs: Attrs = {k: v for k, v in (attrs or {}).items() if v is not None}
        self.children: list[Node] = list(children or ())
        self.json_key = json_key or JSON_KEYS.get(tag, tag)
        self._xml: str | None = None
        self._json: str | None = None

    def __repr__(self) -> str:
        """Tag, attributes and how many children, for test failures."""
        return f"Node({self.tag!r}, {self.attrs!r}, {len(self.children)} children)"

    def invalidate(self) -> None:
        """Forget cached renderings after this node or a descendant changed."""
        self._xml = None
        self._json = None

    def set(self, **attrs: Any) -> None:
        """Change attributes (``None`` removes one) and drop cached renderings."""
        for key, value in attrs.items():
            if value is None:
                self.attrs.pop(key, None)
            else:
                self.attrs[key] = value
        self.invalidate()

    def find(self, tag: str) -> Node | None:
        """The first direct child with this tag."""
        return next((child for child in self.children if child.tag == tag), None)

    # XML ---------------------------------------------------------------------------

    def xml(self) -> str:
        """Render the element as XML text (cached)."""
        if self._xml is None:
            attrs = "".join(f' {k}="{xml_value(v)}"' for k, v in self.attrs.items())
            if self.children:
                inner = "".join(child.xml() for child in self.children)
                self._xml = f"<{self.tag}{attrs}>{inner}</{self.tag}>"
            else:
                self._xml = f"<{self.tag}{attrs} />"
        return self._xml

    # JSON --------------------------------------------------------------------------

    def json_obj(self) -> dict[str, Any]:
        """Render the element as a JSON-ready dict (not cached; see ``json()``)."""
        obj: dict[str, Any] = dict(self.attrs)
        for key, group in group_by_json_key(self.children).items():
            if key in SINGLE_JSON_CHILDREN and len(group) == 1:
                obj[key] = group[0].json_obj()
            else:
                obj[key] = [child.json_obj() for child in group]
        return obj

    def json(self) -> str:
        """Render the element as JSON text (cached)."""
        if self._json is None:
            self._json = dumps(self.json_obj())
        return self._json


def group_by_json_key(children: Iterable[Node]) -> dict[str, list[Node]]:
    """Children grouped by JSON key, in order of first appearance."""
    groups: dict[str, list[Node]] = {}
    for child in children:
        groups.setdefault(child.json_key, []).append(child)
    return groups


def container_xml(
    attrs: Mapping[str, Any], children: Iterable[Node], tag: str = "MediaContainer"
) -> bytes:
    """A whole XML response body: declaration, container, children's cached text."""
    head = "".join(f' {k}="{xml_value(v)}"' for k, v in attrs.items() if v is not None)
    inner = "".join(child.xml() for child in children)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{tag}{head}>{inner}</{tag}>\n'.encode()


def container_json(
    attrs: Mapping[str, Any], children: Iterable[Node], tag: str = "MediaContainer"
) -> bytes:
    """A whole JSON response body, ``{"MediaContainer": {...}}``, from cached child text."""
    parts = [dumps({k: v for k, v in attrs.items() if v is not None})[:-1]]
    groups = group_by_json_key(children)
    for key, group in groups.items():
        sep = "," if len(parts) > 1 or parts[0] != "{" else ""
        if key in SINGLE_JSON_CHILDREN and len(group) == 1:
            parts.append(f'{sep}"{key}":{group[0].json()}')
        else:
            parts.append(
                f'{sep}"{key}":[' + ",".join(child.json() for child in group) + "]"
            )
    parts.append("}")
    return ('{"' + tag + '":' + "".join(parts) + "}").encode()
