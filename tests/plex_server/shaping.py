"""Plex's response customization (``includeFields`` and the three others).

Plex's own API documentation (the "Response Customization" section of the Plex
Media Server API reference, published by Plex in 2025) describes four query
arguments, each a comma-separated list:

- ``includeFields=a,b``: only these attributes on each metadata item;
- ``excludeFields=summary,tagline``: these attributes left off each item;
- ``includeElements=Media``: only these child elements of each item;
- ``excludeElements=Media``: these child elements left off.

It also says that they are requests, not guarantees: some endpoints disregard
them, others return more than was asked. ``plex-api-spec.yaml`` names them for
``/status/sessions/history/all``; clients use them on section listings
(``/library/sections/{id}/all?type=8&includeFields=ratingKey`` to list keys for
orphan detection). The emulator honours them where a list of library items is
answered (section and library listings, children, leaves, recently added, on
deck) and on ``/library/metadata/{ids}``; elsewhere they are ignored, as Plex
may. They shape the items only: the container's own attributes (``size``,
``totalSize``, ``offset``) always stay, and the attributes of the child elements
that remain are not trimmed.

An empty list (``includeFields=``) is ignored rather than read as "nothing".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .node import Node

PARAMS = ("includeFields", "excludeFields", "includeElements", "excludeElements")


def _names(query: Mapping[str, str], key: str) -> frozenset[str] | None:
    value = query.get(key)
    if not value:
        return None
    names = frozenset(part.strip() for part in value.split(",") if part.strip())
    return names or None


@dataclass(frozen=True, slots=True)
class ResponseShape:
    """What one request asked to keep of each item (``None``: no restriction)."""

    include_fields: frozenset[str] | None = None
    exclude_fields: frozenset[str] | None = None
    include_elements: frozenset[str] | None = None
    exclude_elements: frozenset[str] | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> ResponseShape | None:
        """The request's shape, or ``None`` when it asks for the whole items."""
        shape = cls(*(_names(query, key) for key in PARAMS))
        return None if shape == cls() else shape

    def keeps_field(self, name: str) -> bool:
        """Whether an item attribute stays."""
        if self.include_fields is not None and name not in self.include_fields:
            return False
        return self.exclude_fields is None or name not in self.exclude_fields

    def keeps_element(self, tag: str) -> bool:
        """Whether an item's child element (``Media``, ``Genre``, ``Guid``...) stays."""
        if self.include_elements is not None and tag not in self.include_elements:
            return False
        return self.exclude_elements is None or tag not in self.exclude_elements

    def keeps_any_element(self, tags: Iterable[str]) -> bool:
        """Whether any of these child elements can stay (to skip building them)."""
        return any(self.keeps_element(tag) for tag in tags)

    def fields(self, attrs: Mapping[str, Any]) -> dict[str, Any]:
        """The attributes that stay, in their order."""
        return {name: value for name, value in attrs.items() if self.keeps_field(name)}

    def node(self, node: Node) -> Node:
        """A copy of a built item node, trimmed (collections, trailers)."""
        return Node(
            node.tag,
            self.fields(node.attrs),
            [child for child in node.children if self.keeps_element(child.tag)],
            json_key=node.json_key,
        )
