"""The mirror's JSON decoder: of each item, only the fields the mirror reads.

A Plex listing carries far more than the mirror keeps: art, banners, ratings
images, taglines, and under ``Media`` a dozen stream attributes (codecs,
bitrates, sizes) besides the ``Part`` paths. ``msgspec`` decodes a body against
the shape below and skips every other field as it parses. A full sync of the
large test library then spends a third less time in Python's garbage collector,
and took 9.5 s against 10.8 s with every field decoded (the means of seven runs
each, alternating; the README has the figures).

The shape names what ``MirrorStore.upsert_items`` and ``MirrorSync`` read of an
item. A field read there but missing here would always be empty in the mirror:
``tests/mirror/test_listing.py`` stores the same pages decoded both ways and
compares every table.

Values are ``Any``: they come out exactly as a generic decode gives them (the
store converts them itself). Only the lists are typed. A body whose lists have
another shape (an object where Plex sends a list) is decoded whole instead, so
the mirror reads it as before. A body that is not JSON raises ``ValueError``, as
the generic decode does.
"""

from __future__ import annotations

from typing import Any, Final, TypedDict

import msgspec
import orjson


class _Tag(TypedDict, total=False):
    tag: Any
    role: Any


class _Guid(TypedDict, total=False):
    id: Any


class _Part(TypedDict, total=False):
    id: Any
    file: Any
    size: Any
    container: Any


class _Media(TypedDict, total=False):
    Part: list[_Part]


class _Item(TypedDict, total=False):
    """An item: the attributes and lists the mirror reads."""

    ratingKey: Any
    key: Any
    type: Any
    librarySectionID: Any
    title: Any
    titleSort: Any
    originalTitle: Any
    parentTitle: Any
    grandparentTitle: Any
    parentRatingKey: Any
    grandparentRatingKey: Any
    index: Any
    parentIndex: Any
    year: Any
    summary: Any
    duration: Any
    rating: Any
    audienceRating: Any
    contentRating: Any
    studio: Any
    addedAt: Any
    updatedAt: Any
    viewCount: Any
    lastViewedAt: Any
    childCount: Any
    leafCount: Any
    viewedLeafCount: Any
    thumb: Any
    guid: Any
    Media: list[_Media]
    Guid: list[_Guid]
    # The tag lists of ``store.TAG_KINDS`` (a test checks that none is missing).
    Genre: list[_Tag]
    Director: list[_Tag]
    Writer: list[_Tag]
    Producer: list[_Tag]
    Role: list[_Tag]
    Collection: list[_Tag]
    Country: list[_Tag]
    Label: list[_Tag]
    Mood: list[_Tag]
    Style: list[_Tag]


ITEM_FIELDS: Final = _Item.__optional_keys__
"""What ``decode_listing`` keeps of an item."""


class _Keys(TypedDict, total=False):
    """What the reads of keys and counts use (``sync.KEYS_ONLY`` and the counts)."""

    ratingKey: Any
    childCount: Any
    leafCount: Any


class _Container[T](TypedDict, total=False):
    totalSize: Any
    size: Any
    offset: Any
    Metadata: list[T]


class _Answer[T](TypedDict, total=False):
    MediaContainer: _Container[T]


_DECODER: Final = msgspec.json.Decoder(_Answer[_Item])
_KEYS_DECODER: Final = msgspec.json.Decoder(_Answer[_Keys])


def _decode(decoder: msgspec.json.Decoder[Any], body: bytes) -> Any:
    try:
        return decoder.decode(body)
    except msgspec.ValidationError:
        # Valid JSON of another shape: every field, as the generic decode reads it.
        return orjson.loads(body)
    except msgspec.DecodeError as err:
        raise ValueError(f"not JSON: {err}") from err


def decode_listing(body: bytes) -> Any:
    """A listing's (or ``/library/metadata``'s) JSON body with the mirror's fields only."""
    return _decode(_DECODER, body)


def decode_keys(body: bytes) -> Any:
    """A listing's JSON body with each item's key and child counts only.

    For the reads that ask Plex for no more (``includeFields``): should a server
    send whole items anyway, they cost no more memory than the keys.
    """
    return _decode(_KEYS_DECODER, body)
