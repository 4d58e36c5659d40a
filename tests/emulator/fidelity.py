"""What the fidelity tests hold the emulator to: real captures and the OpenAPI spec.

Two kinds of ground truth live beside the repository in ``shared/plex-reference``:

- ``captures/*.xml``: XML answers of real Plex Media Servers (and plex.tv), as
  kept in Home Assistant core's tests. A few fields are ``{placeholder}`` s that a
  test fills with ``str.format`` (``fill_placeholders``), as HA core's tests do.
- ``plex-api-spec.yaml``: the community OpenAPI 3.1 description of the JSON form.
  OpenAPI 3.1 schemas are JSON Schema 2020-12, so a response is validated with
  ``jsonschema`` against the schema of its ``200`` response, with a
  ``referencing.Registry`` that holds the whole spec so that every
  ``#/components/schemas/...`` reference resolves.

The material is not part of the repository. ``reference_problem`` says whether it is
beside the clone; the tests that read it skip without it, or fail where
``PLEX_BRIDGE_REQUIRE_REFERENCE=1`` is set (as on CI; see ``reference_required``).

This module loads both (once per test session), compares an emulated XML answer
with a capture (``compare_with_capture``, or ``compare_shapes`` on the distilled
form kept in ``capture_shapes.json``) and validates an emulated JSON answer
(``spec_errors``). ``EmulatorHTTP`` and ``WorldProbe`` talk to a running emulator
the way a client does, and find objects of a given kind in its world.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
import copy
from dataclasses import dataclass
import functools
import os
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import aiohttp
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
import yaml

REFERENCE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "plex-reference"
CAPTURES_DIR = REFERENCE_DIR / "captures"
SPEC_PATH = REFERENCE_DIR / "plex-api-spec.yaml"
REQUIRE_REFERENCE_ENV = "PLEX_BRIDGE_REQUIRE_REFERENCE"
REFERENCE_MISSING = "Plex reference material not found"
"""How every message about missing reference material begins (the summary counts them)."""


def reference_problem() -> str | None:
    """What is missing of the reference material, naming the paths; ``None`` if nothing."""
    missing = [
        *([f"{CAPTURES_DIR}/"] if not CAPTURES_DIR.is_dir() else []),
        *([str(SPEC_PATH)] if not SPEC_PATH.is_file() else []),
    ]
    if not missing:
        return None
    return (
        f"{REFERENCE_MISSING} (shared/plex-reference beside the clone): "
        f"no {' and no '.join(missing)}"
    )


def reference_required() -> bool:
    """Whether a missing reference is a failure rather than a skip (CI sets it)."""
    return os.environ.get(REQUIRE_REFERENCE_ENV, "") not in ("", "0")


# The values HA core's tests fill in (conftest.py: ``plex_server_base.format(name=
# "Plex Server 1", machine_identifier="unique_id_123")``, ``session_base.format(
# user_id=1)``, ``plextv_resources_base.format(first_server_enabled=1,
# second_server_enabled=0)``, ``playlist_500.format(key=500)``).
PLACEHOLDERS: Mapping[str, str] = {
    "name": "Plex Server 1",
    "machine_identifier": "unique_id_123",
    "user_id": "1",
    "first_server_enabled": "1",
    "second_server_enabled": "0",
    "key": "500",
}

# Elements whose ``type`` attribute says what kind of object they are: a show and a
# season are both ``Directory``, a movie and an episode both ``Video``.
TYPED_TAGS = frozenset({"Directory", "Video"})

Kind = tuple[str, str | None]
"""An element's tag and, for ``TYPED_TAGS``, its ``type`` attribute."""

Shape = dict[Kind, set[str]]
"""For each kind of element in a document, the union of its attribute names."""


# -- captures ------------------------------------------------------------------------------


def capture_names() -> list[str]:
    """The file names of every capture, sorted."""
    return sorted(path.name for path in CAPTURES_DIR.glob("*.xml"))


def fill_placeholders(text: str) -> str:
    """A capture's text with its ``{placeholder}`` fields filled (``str.format``)."""
    return text.format(**PLACEHOLDERS)


def load_capture(name: str) -> ET.Element:
    """A capture, placeholders filled, parsed."""
    return ET.fromstring(
        fill_placeholders((CAPTURES_DIR / name).read_text(encoding="utf-8"))
    )


def kind_of(element: ET.Element) -> Kind:
    """The kind of object an element is (see ``Kind``)."""
    return (element.tag, element.get("type") if element.tag in TYPED_TAGS else None)


def tag_names(root: ET.Element) -> set[str]:
    """Every element name in a document, the root included."""
    return {element.tag for element in root.iter()}


def attributes_by_kind(root: ET.Element) -> Shape:
    """For each kind of element in a document, the union of its attribute names.

    Real Plex leaves attributes out when they do not apply (``viewCount`` of an
    unwatched item, ``lastViewedAt`` ...), so what a kind carries is the union over
    all its elements, not what each one has.
    """
    kinds: Shape = {}
    for element in root.iter():
        kinds.setdefault(kind_of(element), set()).update(element.attrib)
    return kinds


def format_kind(kind: Kind) -> str:
    """``Video/episode`` or ``Media``."""
    tag, type_ = kind
    return f"{tag}/{type_}" if type_ else tag


def compare_with_capture(
    capture: ET.Element, emulated: ET.Element, extra_tags: Iterable[str] = ()
) -> list[str]:
    """How an emulated answer differs from the real one it must look like.

    - The element names must be the same: none of the capture's may be missing,
      and none may be added except ``extra_tags`` (elements that other reference
      material shows real Plex sends for this request; see the table in
      ``test_fidelity_captures``).
    - For every kind of object in the capture, the emulated answer has that kind,
      and its attribute names are a superset of the capture's.
    """
    return compare_shapes(
        attributes_by_kind(capture), attributes_by_kind(emulated), extra_tags
    )


def compare_shapes(
    real: Shape, emulated: Shape, extra_tags: Iterable[str] = ()
) -> list[str]:
    """``compare_with_capture`` on the shapes (``attributes_by_kind``) of two answers.

    A shape holds everything the comparison looks at (its kinds' tags are the
    document's element names), so a capture distilled into ``capture_shapes.json``
    checks the emulator exactly as the capture itself does.
    """
    problems: list[str] = []
    real_tags = {tag for tag, _ in real}
    emulated_tags = {tag for tag, _ in emulated}
    if missing := sorted(real_tags - emulated_tags):
        problems.append(f"missing elements: {', '.join(missing)}")
    if added := sorted(emulated_tags - real_tags - set(extra_tags)):
        problems.append(f"elements real Plex does not send here: {', '.join(added)}")
    for kind, real_attrs in sorted(real.items(), key=lambda kv: format_kind(kv[0])):
        if kind[0] not in emulated_tags:
            continue  # already reported as a missing element
        if kind not in emulated:
            problems.append(f"no {format_kind(kind)} element in the answer")
            continue
        if missing_attrs := sorted(real_attrs - emulated[kind]):
            problems.append(
                f"{format_kind(kind)} lacks attributes: {', '.join(missing_attrs)}"
            )
    return problems


# -- the OpenAPI spec --------------------------------------------------------------------------

SPEC_URI = "urn:plex-bridge:plex-api-spec"


@dataclass(frozen=True)
class SpecPatch:
    """A narrow correction of the spec where it contradicts real Plex.

    ``pointer`` names the JSON value that is replaced by ``value``; ``reason`` says
    which real answer proves the spec wrong there.
    """

    pointer: str
    value: Any
    reason: str


SPEC_PATCHES: tuple[SpecPatch, ...] = (
    SpecPatch(
        "/components/schemas/Stream/required",
        ["id", "codec", "displayTitle", "streamType"],
        "The spec requires `key` on every Stream, but real Plex gives a Stream a key "
        "only when it is a separate file (an external subtitle): no Stream of the "
        "captures has one (children_20.xml, media_1.xml, session_base.xml, "
        "playqueue_created.xml, livetv_sessions.xml). Only `key` is dropped.",
    ),
    SpecPatch(
        "/components/schemas/Part/required",
        ["id"],
        "The spec requires `key` on every Part, but the Part of a play session has "
        "none in real Plex (session_base.xml, livetv_sessions.xml). Only `key` is "
        "dropped.",
    ),
)


def json_pointer(*parts: str) -> str:
    """A JSON pointer (RFC 6901) to the value at ``parts``."""
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The value a JSON pointer names in ``document``; ``KeyError`` if none."""
    value = document
    for raw in pointer.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


@functools.cache
def load_spec() -> dict[str, Any]:
    """The spec as published (parsed once: it is 668 KB)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open(encoding="utf-8") as file:
        spec: dict[str, Any] = yaml.load(file, Loader=loader)  # noqa: S506 - a safe loader
    return spec


@functools.cache
def patched_spec() -> dict[str, Any]:
    """The spec with ``SPEC_PATCHES`` applied (a copy; ``load_spec`` stays as published)."""
    spec = copy.deepcopy(load_spec())
    for patch in SPEC_PATCHES:
        parent_pointer, _, last = patch.pointer.rpartition("/")
        parent = resolve_pointer(spec, parent_pointer)
        resolve_pointer(spec, patch.pointer)  # a patch may only replace what exists
        parent[last.replace("~1", "/").replace("~0", "~")] = copy.deepcopy(patch.value)
    return spec


def differing_pointers(left: Any, right: Any, pointer: str = "") -> set[str]:
    """The JSON pointers of the outermost values where two documents differ."""
    if isinstance(left, dict) and isinstance(right, dict):
        found: set[str] = set()
        for key in left.keys() | right.keys():
            child = pointer + json_pointer(str(key))
            if key not in left or key not in right:
                found.add(child)
            else:
                found |= differing_pointers(left[key], right[key], child)
        return found
    return set() if left == right else {pointer}


def iter_refs(value: Any) -> Iterator[str]:
    """Every ``$ref`` value in a document."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "$ref" and isinstance(child, str):
                yield child
            else:
                yield from iter_refs(child)
    elif isinstance(value, list):
        for child in value:
            yield from iter_refs(child)


@functools.cache
def spec_registry() -> Registry:
    """A registry holding the (patched) spec as one JSON Schema 2020-12 resource."""
    resource = Resource.from_contents(patched_spec(), default_specification=DRAFT202012)
    registry: Registry = Registry().with_resource(SPEC_URI, resource)
    return registry


def response_schema_pointer(path: str, method: str, status: str = "200") -> str | None:
    """The pointer to the JSON schema of a response, or ``None`` if it has none.

    A response may itself be a ``$ref`` to ``#/components/responses/...`` (an
    OpenAPI reference, not a JSON Schema one), which is followed here.
    """
    base = json_pointer("paths", path, method.lower(), "responses", status)
    response = resolve_pointer(patched_spec(), base)
    while "$ref" in response:
        base = response["$ref"].removeprefix("#")
        response = resolve_pointer(patched_spec(), base)
    if "schema" not in response.get("content", {}).get("application/json", {}):
        return None
    return base + json_pointer("content", "application/json", "schema")


@functools.cache
def spec_validator(
    path: str, method: str = "GET", status: str = "200"
) -> Draft202012Validator:
    """A validator for one response of the spec (``KeyError`` if it has no JSON schema)."""
    pointer = response_schema_pointer(path, method, status)
    if pointer is None:
        raise KeyError(f"{method} {path} {status} has no JSON schema in the spec")
    schema = {"$ref": f"{SPEC_URI}#{pointer}"}
    return Draft202012Validator(schema, registry=spec_registry())


def spec_errors(path: str, method: str, payload: Any) -> list[str]:
    """Why ``payload`` is not a valid ``200`` answer of ``method path`` (empty: it is)."""
    validator = spec_validator(path, method.upper())
    return [
        f"{'/'.join(str(part) for part in error.absolute_path) or '(root)'}: {error.message}"
        for error in sorted(
            validator.iter_errors(payload),
            key=lambda e: list(map(str, e.absolute_path)),
        )
    ]


# -- talking to a running emulator ---------------------------------------------------------------


class EmulatorHTTP:
    """A plain HTTP client of one emulated server (or of the emulated plex.tv)."""

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, headers: Mapping[str, str]
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        as_json: bool = False,
    ) -> tuple[int, str]:
        """Send one request; returns the status and the body text."""
        all_headers = {**self.headers, **(headers or {})}
        if as_json:
            all_headers["Accept"] = "application/json"
        async with self.session.request(
            method, self.base_url + path, params=params, headers=all_headers
        ) as response:
            return response.status, await response.text()

    async def xml(
        self, path: str, *, params: Mapping[str, str] | None = None, method: str = "GET"
    ) -> ET.Element:
        """The XML answer of a request that must succeed."""
        status, text = await self.request(method, path, params=params)
        assert status == 200, f"{method} {path} answered {status}: {text[:300]}"
        return ET.fromstring(text)


def has_attribute(element: ET.Element, spec: str) -> bool:
    """Whether ``attr`` (on the element) or ``Tag/attr`` (on a descendant) is set."""
    tag, _, attr = spec.rpartition("/")
    holders = element.iter(tag) if tag else [element]
    return any(holder.get(attr) for holder in holders)


# Who the fidelity tests say they are (real clients send these on every request).
CLIENT_HEADERS: Mapping[str, str] = {
    "X-Plex-Client-Identifier": "plex-bridge-fidelity-tests",
    "X-Plex-Product": "Plex Bridge fidelity tests",
}
# What python-plexapi's ``PlayQueue.create(server, track)`` sends to make a play
# queue of one track (``{machine}`` and ``{track}`` name the server and the track).
TRACK_QUEUE_PARAMS: Mapping[str, str] = {
    "type": "audio",
    "uri": "server://{machine}/com.plexapp.plugins.library/library/metadata/{track}",
    "includeChapters": "1",
    "includeRelated": "1",
    "repeat": "0",
    "shuffle": "0",
    "continuous": "0",
}

# Plex's metadata type numbers, for ``type=`` of ``/library/sections/{id}/all``.
# Written out here rather than imported from the emulator, so that a wrong code
# in the emulator's own table fails these tests instead of agreeing with them.
TYPE_CODES = {
    "movie": 1,
    "show": 2,
    "season": 3,
    "episode": 4,
    "artist": 8,
    "album": 9,
    "track": 10,
    "photo": 13,
}
SECTION_OF_KIND = {
    "movie": "movie",
    "show": "show",
    "season": "show",
    "episode": "show",
    "artist": "artist",
    "album": "artist",
    "track": "artist",
    "photo": "photo",
}


class WorldProbe:
    """Finds objects in an emulated server's world through its public HTTP API.

    Ids differ between real captures and the emulated world, so a test asks for "a
    season" rather than "season 20". Where the capture shows an object in a given
    state (watched, in progress, an audio profile ...), the probe prefers an object
    whose list element has the attributes of that state (``prefer``: ``attr`` for the
    item's own attribute, ``Tag/attr`` for one of a descendant element such as
    ``Media/audioProfile``) and falls back to the first one.
    """

    def __init__(self, http: EmulatorHTTP) -> None:
        self.http = http
        self._sections: list[ET.Element] | None = None

    async def sections(self) -> list[ET.Element]:
        """The ``Directory`` elements of ``/library/sections``."""
        if self._sections is None:
            self._sections = list(await self.http.xml("/library/sections"))
        return self._sections

    async def section_key(self, section_type: str) -> str:
        """The key of the first section of a type (``movie``, ``show``, ``artist``, ``photo``)."""
        for section in await self.sections():
            if section.get("type") == section_type:
                return section.get("key", "")
        raise LookupError(f"the emulated server has no {section_type} section")

    async def items(self, kind: str) -> list[ET.Element]:
        """Every item of a kind (``TYPE_CODES``) in the first section that holds it."""
        key = await self.section_key(SECTION_OF_KIND[kind])
        root = await self.http.xml(
            f"/library/sections/{key}/all", params={"type": str(TYPE_CODES[kind])}
        )
        return list(root)

    async def pick(self, kind: str, prefer: Iterable[str] = ()) -> ET.Element:
        """An item of a kind; the first with every ``prefer`` attribute if there is one."""
        candidates = await self.items(kind)
        if not candidates:
            raise LookupError(f"the emulated server has no {kind}")
        wanted = tuple(prefer)
        return next(
            (
                item
                for item in candidates
                if all(has_attribute(item, a) for a in wanted)
            ),
            candidates[0],
        )

    async def rating_key(self, kind: str, prefer: Iterable[str] = ()) -> str:
        """The ``ratingKey`` of ``pick(kind, prefer)``."""
        return (await self.pick(kind, prefer)).get("ratingKey", "")

    async def playlist_key(self, playlist_type: str) -> str:
        """The ``ratingKey`` of the first playlist of a type (``video``, ``audio``, ``photo``)."""
        for playlist in await self.http.xml("/playlists"):
            if playlist.get("playlistType") == playlist_type:
                return playlist.get("ratingKey", "")
        raise LookupError(f"the emulated server has no {playlist_type} playlist")

    async def collection_key(self, section_type: str) -> str:
        """The ``ratingKey`` of the first collection in the first section of a type."""
        key = await self.section_key(section_type)
        for collection in await self.http.xml(f"/library/sections/{key}/collections"):
            if collection.get("ratingKey"):
                return collection.get("ratingKey", "")
        raise LookupError(f"the emulated {section_type} section has no collection")
