"""Plex's media query language, as ``/library/sections/{id}/all`` understands it.

- Filters are ``field<op>value`` query parameters, optionally prefixed by a kind
  (``show.title=``, ``episode.addedAt>>=``). Operators, per field type (the
  ``FieldType`` / ``Operator`` lists of ``library_movies_filtertypes.xml``):

  - string: ``=`` contains, ``!=`` does not contain, ``==`` is, ``!==`` is not,
    ``<=`` begins with, ``>=`` ends with (case-insensitive);
  - integer: ``=`` is, ``!=`` is not, ``>>=`` is greater than, ``<<=`` is less than;
  - date: ``>>=`` is after, ``<<=`` is before (strictly), with epoch seconds,
    ``YYYY-MM-DD`` or a relative ``-30d`` (``s m h d w mon y``);
  - boolean: ``=1`` / ``=0`` (``!=`` inverts);
  - tag: ``=`` has one of, ``!=`` has none of (tag ids or names).

  A comma separates alternatives (OR); separate parameters all apply (AND).
  ``push``/``pop``/``or`` grouping is not supported (every condition is ANDed).
- ``sort=field[:desc][,field...]``, fields optionally prefixed by a kind.
- Paging: ``X-Plex-Container-Start`` / ``X-Plex-Container-Size`` as query
  parameters or headers (the query wins).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
import re
from typing import Any

from .items import (
    COUNTRIES,
    COUNTRY_TAG_BASE,
    GENRE_TAG_BASE,
    GENRES,
    HDR_PROFILE,
    MUSIC_GENRE_TAG_BASE,
    MUSIC_GENRES,
    PERSON_TAG_BASE,
    SECTION_KINDS,
    Item,
)

_CONDITION = re.compile(
    r"^(?:([a-z]+)\.)?([A-Za-z]+)(!==|==|!=|>>=|<<=|<=|>=|=)(.*)$", re.DOTALL
)
_RELATIVE = re.compile(r"^-(\d+)(mon|[smhdwy])$")
_UNITS = {
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86_400,
    "w": 604_800,
    "mon": 2_592_000,
    "y": 31_536_000,
}
_OPERATORS = {
    "string": {"=", "!=", "==", "!==", "<=", ">="},
    "integer": {"=", "!=", ">>=", "<<="},
    "date": {"=", ">>=", "<<="},
    "boolean": {"=", "!="},
    "tag": {"=", "!="},
    "guid": {"="},
}

# Filterable fields and their types (Plex's ``Field`` keys).
FIELD_TYPES: dict[str, str] = {
    "title": "string",
    "titleSort": "string",
    "studio": "string",
    "summary": "string",
    "year": "integer",
    "decade": "integer",
    "index": "integer",
    "duration": "integer",
    "viewCount": "integer",
    "userRating": "integer",
    "id": "integer",
    "addedAt": "date",
    "updatedAt": "date",
    "lastViewedAt": "date",
    "originallyAvailableAt": "date",
    "unwatched": "boolean",
    "inProgress": "boolean",
    "genre": "tag",
    "collection": "tag",
    "contentRating": "tag",
    "director": "tag",
    "writer": "tag",
    "producer": "tag",
    "hdr": "boolean",
    "unmatched": "boolean",
    "duplicate": "boolean",
    "actor": "tag",
    "country": "tag",
    "guid": "guid",
}


class QueryError(ValueError):
    """A request whose query Plex would answer with 400 Bad Request."""


@dataclass(frozen=True, slots=True)
class Condition:
    """One filter: ``[kind.]field<operator>value[,value...]``."""

    kind: str | None
    field: str
    operator: str
    values: tuple[str, ...]

    @property
    def relative(self) -> bool:
        """Whether the condition depends on the current time (``-30d``)."""
        return any(_RELATIVE.match(value) for value in self.values)


@dataclass(frozen=True, slots=True)
class SortKey:
    """One ``sort`` field."""

    kind: str | None
    field: str
    descending: bool


@dataclass(frozen=True, slots=True)
class Page:
    """The window a client asked for; ``None`` when it did not page."""

    start: int
    size: int | None


# -- parsing --------------------------------------------------------------------------


def parse_conditions(query: Sequence[tuple[str, str]]) -> tuple[Condition, ...]:
    """The filter conditions among a request's query parameters (others are ignored)."""
    conditions = []
    for key, value in query:
        match = _CONDITION.match(f"{key}={value}")
        if match is None:
            continue
        kind, field, operator, raw = match.groups()
        field_type = FIELD_TYPES.get(field)
        if field_type is None or (kind is not None and not _known_kind(kind)):
            continue
        if operator not in _OPERATORS[field_type]:
            raise QueryError(f"operator {operator!r} does not apply to {field}")
        conditions.append(Condition(kind, field, operator, tuple(raw.split(","))))
    return tuple(conditions)


def _known_kind(kind: str) -> bool:
    return (
        any(kind in kinds for kinds in SECTION_KINDS.values()) or kind == "collection"
    )


def parse_sort(text: str | None) -> tuple[SortKey, ...]:
    """``sort=titleSort:desc,addedAt`` as sort keys (unknown fields are ignored)."""
    keys = []
    for part in (text or "").split(","):
        field, _, direction = part.strip().partition(":")
        kind, _, name = field.rpartition(".")
        if not name:
            continue
        if direction not in ("", "asc", "desc", "nullsLast"):
            raise QueryError(f"unknown sort direction {direction!r}")
        if name in SORT_FIELDS:
            keys.append(SortKey(kind or None, name, direction == "desc"))
    return tuple(keys)


def parse_page(query: Mapping[str, str], headers: Mapping[str, str]) -> Page | None:
    """The paging window from the query (first) or the headers."""
    start_text = query.get(
        "X-Plex-Container-Start", headers.get("X-Plex-Container-Start")
    )
    size_text = query.get("X-Plex-Container-Size", headers.get("X-Plex-Container-Size"))
    if start_text is None and size_text is None:
        return None
    try:
        start = int(start_text or 0)
        size = None if size_text is None else int(size_text)
    except ValueError as err:
        raise QueryError("paging values must be integers") from err
    if start < 0 or (size is not None and size < 0):
        raise QueryError("paging values must not be negative")
    return Page(start, size)


# -- values ---------------------------------------------------------------------------


def _date_value(text: str, now: int) -> int:
    relative = _RELATIVE.match(text)
    if relative:
        return now - int(relative.group(1)) * _UNITS[relative.group(2)]
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return int(datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
    try:
        return int(float(text))
    except ValueError as err:
        raise QueryError(f"not a date: {text!r}") from err


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError as err:
        raise QueryError(f"not a number: {text!r}") from err


def _date_of(item: Item, field: str) -> int | None:
    if field == "originallyAvailableAt":
        if item.originally_available_at is None:
            return None
        return _date_value(item.originally_available_at, 0)
    value = {
        "addedAt": item.added_at,
        "updatedAt": item.updated_at,
        "lastViewedAt": item.last_viewed_at,
    }[field]
    if field == "lastViewedAt" and item.children is not None:
        value = (
            max((leaf.last_viewed_at or 0 for leaf in item.leaves()), default=0) or None
        )
    return value


def _integer_of(item: Item, field: str) -> float | None:
    match field:
        case "year":
            return item.year
        case "decade":
            return None if item.year is None else item.year // 10 * 10
        case "index":
            return item.index
        case "duration":
            return item.duration
        case "viewCount":
            if item.children is not None:
                return sum(leaf.view_count for leaf in item.leaves())
            return item.view_count
        case "userRating":
            return item.user_rating
        case "id":
            return item.rating_key
    return None


def _string_of(item: Item, field: str) -> str:
    match field:
        case "title":
            return item.title
        case "titleSort":
            return item.title_sort or item.title
        case "studio":
            return item.studio or ""
    return item.summary


def tags_of(item: Item, field: str) -> list[tuple[str, str]]:
    """(id, name) pairs of an item's tags of one field."""
    match field:
        case "genre":
            base, names = (
                (MUSIC_GENRE_TAG_BASE, MUSIC_GENRES)
                if item.section.type == "artist"
                else (GENRE_TAG_BASE, GENRES)
            )
            return [(str(base + genre), names[genre]) for genre in item.genres]
        case "country":
            return [
                (str(COUNTRY_TAG_BASE + country), COUNTRIES[country])
                for country in item.countries
            ]
        case "collection":
            return [(str(key), "") for key in item.collections]
        case "contentRating":
            return (
                [(item.content_rating, item.content_rating)]
                if item.content_rating
                else []
            )
    people = {
        "director": item.directors,
        "writer": item.writers,
        "producer": item.producers,
        "actor": item.roles,
    }[field]
    return [(str(PERSON_TAG_BASE + person), "") for person in people]


# -- matching -------------------------------------------------------------------------


class Matcher:
    """Tests items against conditions; ``names`` resolves person / collection names."""

    def __init__(
        self,
        conditions: tuple[Condition, ...],
        now: int,
        names: Callable[[str, str], str],
        *,
        stamps: Callable[[str], StampIndex | None] | None = None,
    ) -> None:
        """``stamps``: per stamp attribute, the index of the list ``select`` gets."""
        self.conditions = conditions
        self.now = now
        self.names = names
        self.stamps = stamps

    def __call__(self, item: Item) -> bool:
        """Whether the item meets every condition."""
        return all(self.matches(item, condition) for condition in self.conditions)

    def select(self, items: Sequence[Item]) -> list[Item]:
        """The items that meet every condition, in their order (``filter(self, items)``).

        The conditions are applied one after another, each to what the ones before
        it left, as ``__call__`` tests them. ``>>=`` and ``<<=`` on an item's own
        stamps (``addedAt``, ``updatedAt``, a leaf's ``lastViewedAt``) compare the
        attribute directly: Plex answers those from indexed columns, and a sync
        asks for them on every run, over whole sections (``>>=`` for changes,
        both for the ranges that narrow deletions down; a generic test per item
        made them the emulator's slowest answers). ``id=`` (``season.id=`` and
        the like: the items under those parents) looks the keys up in a set.
        Values are parsed only when some item reaches their condition, so a bad
        value fails exactly when the item-by-item test would.
        """
        selected = list(items)
        whole = True  # ``selected`` is still ``items``: an index of them applies
        for condition in self.conditions:
            if not selected:
                break
            index = (
                self.stamps(_OWN_STAMPS[condition.field])
                if whole and self.stamps is not None and _quick_date(condition)
                else None
            )
            whole = False
            if index is not None and index.covers(condition, len(selected)):
                after, threshold = self._threshold(condition)
                selected = [selected[i] for i in index.positions(after, threshold)]
            elif _quick_date(condition):
                selected = self._stamped(selected, condition)
            elif condition.field == "id" and condition.operator == "=":
                selected = self._keyed(selected, condition)
            else:
                selected = [item for item in selected if self.matches(item, condition)]
        return selected

    def _stamped(self, items: list[Item], condition: Condition) -> list[Item]:
        """``field>>=`` / ``field<<=`` on the items' own stamps (see ``select``).

        Several values are alternatives: after the earliest, or before the latest.
        Items the direct comparison cannot judge (another kind's relative, a
        parent's ``lastViewedAt``, which is its newest leaf's) get the full test.
        """
        after, threshold = self._threshold(condition)
        stamp = attrgetter(_OWN_STAMPS[condition.field])
        kind = condition.kind
        leaves_only = condition.field == "lastViewedAt"
        selected = []
        for item in items:
            if (kind is not None and item.kind != kind) or (
                leaves_only and item.children is not None
            ):
                if self.matches(item, condition):
                    selected.append(item)
            elif (value := stamp(item)) is not None and (
                value > threshold if after else value < threshold
            ):
                selected.append(item)
        return selected

    def _threshold(self, condition: Condition) -> tuple[bool, int]:
        """(after, the bound) of a ``>>=`` / ``<<=``: after the earliest, before the latest."""
        values = [_date_value(value, self.now) for value in condition.values]
        after = condition.operator == ">>="
        return after, min(values) if after else max(values)

    def _keyed(self, items: list[Item], condition: Condition) -> list[Item]:
        """``[kind.]id=key[,key...]``: the item's (or its ancestor's) rating key is one.

        Items under none of that kind (a parent asked about its children's keys)
        get the full test.
        """
        wanted = {_number(value) for value in condition.values}
        kind = condition.kind
        selected = []
        for item in items:
            if kind is None or item.kind == kind:
                if item.rating_key in wanted:
                    selected.append(item)
            elif (relative := item.ancestor(kind)) is not None:
                if relative.rating_key in wanted:
                    selected.append(item)
            elif item.children is not None and self.matches(item, condition):
                selected.append(item)
        return selected

    def matches(self, item: Item, condition: Condition) -> bool:
        """Whether the item (or its relative of the condition's kind) matches."""
        if condition.kind is None or condition.kind == item.kind:
            return self.test(item, condition)
        relative = item.ancestor(condition.kind)
        if relative is not None:
            return self.test(relative, condition)
        if item.children is not None:
            return any(
                self.test(other, condition)
                for other in item.walk()
                if other.kind == condition.kind
            )
        return False

    def test(self, item: Item, condition: Condition) -> bool:
        """One condition on one item."""
        field_type = FIELD_TYPES[condition.field]
        operator, values = condition.operator, condition.values
        if field_type == "string":
            return _test_string(
                _string_of(item, condition.field).casefold(),
                operator,
                [v.casefold() for v in values],
            )
        if field_type == "integer":
            value = _integer_of(item, condition.field)
            return _test_order(value, operator, [_number(v) for v in values])
        if field_type == "date":
            date = _date_of(item, condition.field)
            return _test_order(
                date, operator, [_date_value(v, self.now) for v in values]
            )
        if field_type == "boolean":
            truth = self.flag(item, condition.field)
            wanted = values[0] not in ("0", "false")
            return (truth == wanted) if operator == "=" else (truth != wanted)
        if field_type == "guid":
            return bool({item.guid, *self.external_guids(item)} & set(values))
        tags = tags_of(item, condition.field)
        wanted_values = {v.casefold() for v in values}
        has = any(
            tag_id.casefold() in wanted_values
            or (name or self.names(condition.field, tag_id)).casefold() in wanted_values
            for tag_id, name in tags
        )
        return has if operator == "=" else not has

    @staticmethod
    def flag(item: Item, field: str) -> bool:
        """Unwatched / inProgress / hdr (unmatched and duplicate: never here)."""
        if field == "unwatched":
            return not item.watched
        if field == "hdr":
            return any(
                leaf.media_profile == HDR_PROFILE
                for leaf in item.leaves()
                if leaf.kind in ("movie", "episode")
            )
        if field in ("unmatched", "duplicate"):
            return False
        if item.children is not None:
            return any(leaf.view_offset > 0 for leaf in item.leaves())
        return item.view_offset > 0

    @staticmethod
    def external_guids(item: Item) -> list[str]:
        """imdb:// tmdb:// tvdb:// ids of an item."""
        if item.external_ids is None:
            return []
        imdb, tmdb, tvdb = item.external_ids
        return [f"imdb://tt{imdb:07d}", f"tmdb://{tmdb}", f"tvdb://{tvdb}"]


class StampIndex:
    """A list's items ordered by one of their own stamps, for ``>>=`` and ``<<=``.

    Plex answers these from indexed columns; ``Library.query_sections`` builds one
    per section, kind and stamp at most once per library generation (any change
    makes a new one), so that repeated filters over a whole kind are bisections,
    not passes over every item (a sync counts a dozen ``addedAt`` ranges of 10,000
    movies).
    """

    def __init__(self, items: Sequence[Item], attr: str) -> None:
        """Index ``items`` (in their order) by ``attr`` (``added_at``, ...)."""
        # Positions sorted by their stamps (a stable sort: equal stamps keep the
        # list's order), about three times faster than sorting (stamp, position)
        # pairs: a whole kind is indexed again after every change.
        values = list(map(attrgetter(attr), items))
        positions = [
            position for position, value in enumerate(values) if value is not None
        ]
        positions.sort(key=values.__getitem__)
        self._stamps = [values[position] for position in positions]
        self._positions = positions
        self._size = len(items)
        kinds = set(map(attrgetter("kind"), items))
        self._kind = kinds.pop() if len(kinds) == 1 else None
        # Leaves have no children list (``None``); ``count`` compares in C.
        self._leaves = list(map(attrgetter("children"), items)).count(None) == len(
            items
        )

    def covers(self, condition: Condition, size: int) -> bool:
        """Whether the condition is the stamp of these very items (not a relative's).

        A parent's ``lastViewedAt`` is its newest leaf's: not its own stamp.
        """
        return (
            size == self._size
            and (condition.kind is None or condition.kind == self._kind)
            and (condition.field != "lastViewedAt" or self._leaves)
        )

    def positions(self, after: bool, threshold: float) -> list[int]:
        """Where the items stamped after (or before) ``threshold`` are, in order."""
        if after:
            chosen = self._positions[bisect_right(self._stamps, threshold) :]
        else:
            chosen = self._positions[: bisect_left(self._stamps, threshold)]
        return sorted(chosen)


# Date fields whose value is an attribute of the item itself (``_date_of``).
_OWN_STAMPS = {
    "addedAt": "added_at",
    "updatedAt": "updated_at",
    "lastViewedAt": "last_viewed_at",
}


def _quick_date(condition: Condition) -> bool:
    """Whether ``Matcher.select`` compares the condition's attribute directly."""
    return condition.operator in (">>=", "<<=") and condition.field in _OWN_STAMPS


def _test_string(value: str, operator: str, wanted: list[str]) -> bool:
    match operator:
        case "=":
            return any(w in value for w in wanted)
        case "!=":
            return not any(w in value for w in wanted)
        case "==":
            return value in wanted
        case "!==":
            return value not in wanted
        case "<=":
            return any(value.startswith(w) for w in wanted)
    return any(value.endswith(w) for w in wanted)


def _test_order(
    value: float | None, operator: str, wanted: list[float] | list[int]
) -> bool:
    match operator:
        case "=":
            return value in wanted
        case "!=":
            return value not in wanted
        case ">>=":
            return value is not None and any(value > w for w in wanted)
    return value is not None and any(value < w for w in wanted)


# -- sorting --------------------------------------------------------------------------


def _leaf_max(item: Item, getter: Callable[[Item], Any]) -> Any:
    if item.children is None:
        return getter(item)
    return max((getter(leaf) or 0 for leaf in item.leaves()), default=0)


SORT_FIELDS: dict[str, Callable[[Item], Any]] = {
    "titleSort": lambda item: item.sort_key,
    "title": lambda item: item.title.casefold(),
    "addedAt": lambda item: item.added_at,
    "updatedAt": lambda item: item.updated_at,
    "year": lambda item: item.year or 0,
    "originallyAvailableAt": lambda item: item.originally_available_at or "",
    "rating": lambda item: item.rating or 0.0,
    "audienceRating": lambda item: item.audience_rating or 0.0,
    "userRating": lambda item: item.user_rating or 0.0,
    "contentRating": lambda item: item.content_rating or "",
    "duration": lambda item: item.duration or 0,
    "index": lambda item: item.index or 0,
    "viewCount": lambda item: _leaf_max(item, lambda leaf: leaf.view_count),
    "viewOffset": lambda item: item.view_offset,
    "lastViewedAt": lambda item: _leaf_max(item, lambda leaf: leaf.last_viewed_at),
    "id": lambda item: item.rating_key,
    "random": lambda item: (item.rating_key * 2_654_435_761) % 4_294_967_296,
}


def natural_key(item: Item) -> tuple[Any, ...]:
    """Plex's default order: by title, children by index under their parents."""
    path: list[Any] = []
    node: Item | None = item
    while node is not None:
        if node.parent is None:
            path.append((node.sort_key, node.rating_key))
        else:
            path.append((node.index or 0, node.sort_key, node.rating_key))
        node = node.parent
    return tuple(reversed(path))


def sort_items(items: list[Item], keys: tuple[SortKey, ...]) -> list[Item]:
    """Items in the order of the sort keys (natural order without any)."""
    ordered = sorted(items, key=natural_key)
    for key in reversed(keys):
        ordered.sort(key=_sort_value(key), reverse=key.descending)
    return ordered


def _sort_value(key: SortKey) -> Callable[[Item], Any]:
    """What one sort key orders items by."""
    getter = SORT_FIELDS[key.field]
    kind = key.kind
    if kind is None:
        return getter
    return lambda item: _relative_value(item, kind, getter)


def _relative_value(item: Item, kind: str, getter: Callable[[Item], Any]) -> Any:
    if item.kind == kind:
        return getter(item)
    relative = item.ancestor(kind)
    if relative is not None:
        return getter(relative)
    values = [getter(other) for other in item.walk() if other.kind == kind]
    return max(values) if values else getter(item)
