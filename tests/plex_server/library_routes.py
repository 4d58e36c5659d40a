"""The library's HTTP endpoints.

``/library/...``, ``/hubs/search``, ``/playlists``, ``/:/scrobble``,
``/:/unscrobble``, ``/:/timeline`` and the images their items name.

Containers carry the attributes of the captures (``library_sections.xml``,
``library_movies_all.xml``, ``children_20.xml``, ``playlist_500.xml`` ...). Lists
page by ``X-Plex-Container-Start`` / ``X-Plex-Container-Size`` (query or header):
a paged answer adds ``totalSize`` and ``offset`` to the container and the
``X-Plex-Container-Start`` / ``X-Plex-Container-Total-Size`` headers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import images
from .auth import can_see_section, user_for_request
from .items import (
    IDENTIFIER,
    KINDS_BY_CODE,
    TYPE_CODES,
    Collection,
    Item,
    Playlist,
    Section,
    library_container_attrs,
)
from .library import Library, LibraryError
from .library_query import QueryError, parse_conditions, parse_page, parse_sort, tags_of
from .node import Node
from .responses import empty, error, media_container, paged_headers, plex_header
from .shaping import ResponseShape

if TYPE_CHECKING:
    from .server import PlexEmulator

# kind -> (title2 of its listing, viewMode, plural title of its Meta Type)
VIEWS: dict[str, tuple[str, int, str]] = {
    "movie": ("All Movies", 131122, "Movies"),
    "show": ("All Shows", 131122, "Shows"),
    "season": ("All Seasons", 65593, "Seasons"),
    "episode": ("All Episodes", 65592, "Episodes"),
    "artist": ("All Artists", 131124, "Artists"),
    "album": ("All Albums", 131124, "Albums"),
    "track": ("All Tracks", 65593, "Tracks"),
    "photoalbum": ("All Photos", 131123, "Photo Albums"),
    "photo": ("All Photos", 131123, "Photos"),
    "collection": ("All Collections", 131122, "Collections"),
}
RESOURCES = {"movie": "movie", "show": "show", "artist": "artist", "photo": "photo"}
IMAGE_ELEMENTS = frozenset(
    {"thumb", "art", "banner", "clearLogo", "poster", "composite"}
)

# fmt: off
# Filters offered per kind: (filter, filterType, title).
FILTERS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "movie": (
        ("genre", "string", "Genre"), ("year", "integer", "Year"), ("decade", "integer", "Decade"),
        ("contentRating", "string", "Content Rating"), ("collection", "string", "Collection"),
        ("director", "string", "Director"), ("actor", "string", "Actor"), ("writer", "string", "Writer"),
        ("producer", "string", "Producer"), ("country", "string", "Country"), ("studio", "string", "Studio"),
        ("hdr", "boolean", "HDR"), ("unwatched", "boolean", "Unplayed"), ("inProgress", "boolean", "In Progress"),
        ("unmatched", "boolean", "Unmatched"), ("duplicate", "boolean", "Duplicates"),
    ),
    "show": (
        ("genre", "string", "Genre"), ("year", "integer", "Year"), ("contentRating", "string", "Content Rating"),
        ("collection", "string", "Collection"), ("actor", "string", "Actor"), ("country", "string", "Country"),
        ("studio", "string", "Network"), ("unwatched", "boolean", "Unplayed"), ("inProgress", "boolean", "In Progress"),
    ),
    "season": (("unwatched", "boolean", "Unplayed"),),
    "episode": (
        ("year", "integer", "Year"), ("director", "string", "Director"), ("writer", "string", "Writer"),
        ("unwatched", "boolean", "Unplayed"), ("inProgress", "boolean", "In Progress"),
    ),
    "artist": (("genre", "string", "Genre"), ("collection", "string", "Collection"), ("country", "string", "Country")),
    "album": (("genre", "string", "Genre"), ("year", "integer", "Year"), ("decade", "integer", "Decade"), ("studio", "string", "Record Label")),
    "track": (),
    "photoalbum": (),
    "photo": (("year", "integer", "Year"),),
}
# Fields (custom filters) per kind: (key, title, type, subType).
_F = {
    "title": ("Title", "string", None), "studio": ("Studio", "string", None), "userRating": ("Rating", "integer", "rating"),
    "contentRating": ("Content Rating", "tag", None), "year": ("Year", "integer", "year"), "decade": ("Decade", "integer", "decade"),
    "originallyAvailableAt": ("Release Date", "date", None), "duration": ("Duration", "integer", "duration"),
    "genre": ("Genre", "tag", None), "collection": ("Collection", "tag", None), "director": ("Director", "tag", None),
    "writer": ("Writer", "tag", None), "actor": ("Actor", "tag", None), "country": ("Country", "tag", None),
    "addedAt": ("Date Added", "date", None), "updatedAt": ("Date Updated", "date", None), "viewCount": ("Plays", "integer", None),
    "lastViewedAt": ("Last Played", "date", None), "unwatched": ("Unplayed", "boolean", None),
    "inProgress": ("In Progress", "boolean", None), "index": ("Number", "integer", None),
    "producer": ("Producer", "tag", None), "hdr": ("HDR", "boolean", "hdr"), "unmatched": ("Unmatched", "boolean", None),
    "duplicate": ("Duplicate", "boolean", None),
}
# Filters that Plex marks as advanced (shown with includeAdvanced=1).
ADVANCED_FILTERS = frozenset({"duplicate"})
FIELDS: dict[str, tuple[str, ...]] = {
    "movie": ("title", "studio", "userRating", "contentRating", "year", "decade", "originallyAvailableAt", "duration", "genre",
              "collection", "director", "writer", "producer", "actor", "country", "addedAt", "updatedAt", "viewCount",
              "lastViewedAt", "unwatched", "inProgress", "hdr", "unmatched", "duplicate"),
    "show": ("title", "studio", "contentRating", "year", "originallyAvailableAt", "genre", "collection", "actor", "country",
             "addedAt", "updatedAt", "lastViewedAt", "unwatched", "inProgress"),
    "season": ("title", "index", "year", "addedAt", "updatedAt", "lastViewedAt", "unwatched"),
    "episode": ("title", "index", "year", "originallyAvailableAt", "duration", "director", "writer", "addedAt", "updatedAt",
                "viewCount", "lastViewedAt", "unwatched", "inProgress"),
    "artist": ("title", "genre", "collection", "country", "addedAt", "updatedAt", "lastViewedAt"),
    "album": ("title", "year", "decade", "genre", "studio", "addedAt", "updatedAt", "lastViewedAt"),
    "track": ("title", "index", "duration", "addedAt", "updatedAt", "viewCount", "lastViewedAt"),
    "photoalbum": ("title", "addedAt", "updatedAt"),
    "photo": ("title", "year", "originallyAvailableAt", "addedAt", "updatedAt"),
}
# Sorts per kind: (key, title, defaultDirection).
_COMMON_SORTS = (
    ("addedAt", "Date Added", "desc"), ("updatedAt", "Date Updated", "desc"), ("lastViewedAt", "Date Viewed", "desc"),
    ("viewCount", "Plays", "desc"), ("random", "Randomly", "desc"),
)
SORTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "movie": (("titleSort", "Title", "asc"), ("year", "Year", "desc"), ("originallyAvailableAt", "Release Date", "desc"),
              ("rating", "Critic Rating", "desc"), ("audienceRating", "Audience Rating", "desc"), ("userRating", "Rating", "desc"),
              ("contentRating", "Content Rating", "desc"), ("duration", "Duration", "desc"), ("viewOffset", "Progress", "desc"),
              *_COMMON_SORTS),
    "show": (("titleSort", "Title", "asc"), ("year", "Year", "desc"), ("originallyAvailableAt", "Release Date", "desc"),
             ("rating", "Critic Rating", "desc"), ("audienceRating", "Audience Rating", "desc"), *_COMMON_SORTS),
    "season": (("titleSort", "Title", "asc"), ("index", "Season", "asc"), *_COMMON_SORTS),
    "episode": (("titleSort", "Title", "asc"), ("index", "Episode", "asc"), ("originallyAvailableAt", "Air Date", "desc"),
                ("duration", "Duration", "desc"), ("viewOffset", "Progress", "desc"), *_COMMON_SORTS),
    "artist": (("titleSort", "Title", "asc"), ("userRating", "Rating", "desc"), *_COMMON_SORTS),
    "album": (("titleSort", "Title", "asc"), ("year", "Year", "desc"), ("originallyAvailableAt", "Release Date", "desc"), *_COMMON_SORTS),
    "track": (("titleSort", "Title", "asc"), ("index", "Track", "asc"), ("duration", "Duration", "desc"), *_COMMON_SORTS),
    "photoalbum": (("titleSort", "Title", "asc"), ("addedAt", "Date Added", "desc")),
    "photo": (("titleSort", "Title", "asc"), ("originallyAvailableAt", "Date Taken", "desc"), ("addedAt", "Date Added", "desc")),
    "collection": (("titleSort", "Title", "asc"),),
}
FIELD_OPERATORS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("tag", (("=", "is"), ("!=", "is not"))),
    ("integer", (("=", "is"), ("!=", "is not"), (">>=", "is greater than"), ("<<=", "is less than"))),
    ("string", (("=", "contains"), ("!=", "does not contain"), ("==", "is"), ("!==", "is not"), ("<=", "begins with"), (">=", "ends with"))),
    ("boolean", (("=", "is true"), ("!=", "is false"))),
    ("date", (("<<=", "is before"), (">>=", "is after"))),
)
SECTION_DIRECTORIES: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "movie": (("all", "All Movies", False), ("unwatched", "Unplayed", False), ("newest", "Recently Released", False),
              ("recentlyAdded", "Recently Added", False), ("recentlyViewed", "Recently Viewed", False), ("onDeck", "On Deck", False),
              ("collection", "By Collection", True), ("genre", "By Genre", True), ("year", "By Year", True),
              ("decade", "By Decade", True), ("director", "By Director", True), ("actor", "By Starring Actor", True),
              ("country", "By Country", True), ("contentRating", "By Content Rating", True), ("folder", "By Folder", False)),
    "show": (("all", "All Shows", False), ("unwatched", "Unplayed", False), ("newest", "Recently Aired", False),
             ("recentlyAdded", "Recently Added", False), ("recentlyViewed", "Recently Viewed Episodes", False),
             ("onDeck", "On Deck", False), ("collection", "By Collection", True), ("genre", "By Genre", True),
             ("year", "By Year", True), ("contentRating", "By Content Rating", True), ("folder", "By Folder", False)),
    "artist": (("all", "All Artists", False), ("albums", "By Album", False), ("genre", "By Genre", True),
               ("decade", "By Decade", True), ("year", "By Year", True), ("collection", "By Collection", True),
               ("recentlyAdded", "Recently Added", False), ("folder", "By Folder", False)),
    "photo": (("all", "All Photos", False), ("year", "By Year", True), ("recentlyAdded", "Recently Added", False),
              ("folder", "By Folder", False)),
}
SEARCH_HUBS = (
    ("movie", "Movies"), ("show", "Shows"), ("episode", "Episodes"), ("artist", "Artists"), ("album", "Albums"),
    ("track", "Tracks"), ("photoalbum", "Photo Albums"), ("photo", "Photos"), ("collection", "Collections"),
    ("playlist", "Playlists"),
)
# fmt: on
DEFAULT_SEARCH_LIMIT = 3
TAG_LISTS = frozenset(
    {
        "producer",
        "genre",
        "year",
        "decade",
        "contentRating",
        "collection",
        "director",
        "actor",
        "writer",
        "country",
        "studio",
    }
)


class NotFoundError(Exception):
    """Answer 404."""


def _library(request: web.Request) -> Library:
    library: Library = request.app["emulator"].library
    return library


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "0") not in ("0", "", "false")


def _int_param(request: web.Request, name: str) -> int | None:
    text = request.query.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError as err:
        raise QueryError(f"{name} must be an integer") from err


def _visible_section(request: web.Request, section_id: str) -> Section:
    try:
        section = _library(request).section(section_id)
    except LibraryError as err:
        raise NotFoundError from err
    if not can_see_section(request, section.id):
        raise NotFoundError
    return section


def _visible_item(request: web.Request, rating_key: str) -> Item:
    item = _library(request).find(rating_key)
    if item is None or not can_see_section(request, item.section.id):
        raise NotFoundError
    return item


def _visible_sections(request: web.Request) -> list[Section]:
    return _library(request).visible_sections(user_for_request(request))


def _guarded(handler: Callable[[web.Request], Any]) -> Callable[[web.Request], Any]:
    """Turn the lookup / query errors of a handler into 404 / 400 answers."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except NotFoundError:
            return error(404, "Not Found")
        except QueryError:
            return error(400, "Bad Request")
        return response

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper


# -- containers -----------------------------------------------------------------------


def library_attrs(section: Section) -> dict[str, Any]:
    """The attributes every container about one section carries."""
    return library_container_attrs(
        allow_sync=section.type != "photo",
        librarySectionID=section.id,
        librarySectionTitle=section.title,
        librarySectionUUID=section.uuid,
    )


def section_listing_attrs(section: Section, kind: str) -> dict[str, Any]:
    """The container of ``/library/sections/{id}/all`` and friends."""
    title2, view_mode, _ = VIEWS[kind]
    resource = RESOURCES[section.type]
    return {
        **library_attrs(section),
        "art": f"/:/resources/{resource}-fanart.jpg",
        "nocache": True,
        "sortAsc": True,
        "thumb": f"/:/resources/{resource}.png",
        "title": section.title,
        "title1": section.title,
        "title2": title2,
        "viewGroup": kind,
        "viewMode": view_mode,
    }


def children_attrs(parent: Item) -> dict[str, Any]:
    """The container of ``/library/metadata/{id}/children`` (``children_30.xml`` ...)."""
    child_kind = {
        "show": "season",
        "season": "episode",
        "artist": "album",
        "album": "track",
        "photoalbum": "photo",
    }.get(parent.kind)
    attrs: dict[str, Any] = {
        **library_attrs(parent.section),
        "key": str(parent.rating_key),
        "art": parent.art,
    }
    grandparent = parent.parent
    if grandparent is not None:
        attrs |= {
            "grandparentRatingKey": str(grandparent.rating_key),
            "grandparentThumb": grandparent.thumb,
            "grandparentTitle": grandparent.title,
        }
        if grandparent.kind == "show":
            attrs["grandparentTheme"] = (
                f"/library/metadata/{grandparent.rating_key}/theme/{grandparent.updated_at}"
            )
            attrs["grandparentContentRating"] = grandparent.content_rating
            attrs["grandparentStudio"] = grandparent.studio
    if parent.kind == "show":
        attrs |= {
            "banner": f"/library/metadata/{parent.rating_key}/banner/{parent.updated_at}",
            "theme": f"/library/metadata/{parent.rating_key}/theme/{parent.updated_at}",
        }
    attrs |= {
        "nocache": True,
        "parentIndex": parent.index,
        "parentTitle": grandparent.title if grandparent is not None else parent.title,
        "parentYear": parent.year,
        "sortAsc": True,
        "summary": parent.summary,
        "thumb": parent.thumb,
        "title1": grandparent.title
        if grandparent is not None
        else parent.section.title,
        "title2": parent.title,
        "viewGroup": child_kind or parent.kind,
        "viewMode": VIEWS.get(child_kind or parent.kind, ("", 65592, ""))[1],
    }
    return attrs


def respond_page(
    request: web.Request,
    attrs: dict[str, Any],
    objects: Sequence[Any],
    render: Callable[[Any], Node],
    *,
    meta: Node | None = None,
) -> web.Response:
    """A container of ``objects`` (one page of them when the client pages)."""
    page = parse_page(request.query, request.headers)
    total = len(objects)
    head: dict[str, Any]
    headers: dict[str, str] = {}
    if page is None:
        window = objects
        head = {"size": total}
    else:
        end = None if page.size is None else page.start + page.size
        window = objects[page.start : end]
        head = {"size": len(window), "totalSize": total, "offset": page.start}
        headers = paged_headers(page.start, total)
    children = ([meta] if meta is not None else []) + [render(obj) for obj in window]
    return media_container(request, {**head, **attrs}, children, headers=headers)


def item_renderer(
    library: Library, request: web.Request, *, streams: bool = False
) -> Callable[[Any], Node]:
    """Renders items and collections for a list answer.

    Section-wide lists use the cached renderings; the short lists of one parent
    (``streams``) also show each file's streams, like the captured
    ``children_20.xml``.
    """
    guids = _flag(request, "includeGuids")
    shape = ResponseShape.from_query(request.query)

    def render(obj: Any) -> Node:
        if isinstance(obj, Collection):
            node = library.renderer.collection_node(obj)
            return node if shape is None else shape.node(node)
        return library.fragment(obj, guids=guids, streams=streams, shape=shape)

    return render


# -- Meta (includeMeta=1) --------------------------------------------------------------


def meta_node(section: Section, *, collections: bool = False) -> Node:
    """The ``Meta`` element: filters, sorts and fields per kind, and field types."""
    types = []
    kinds: tuple[str, ...] = ("collection",) if collections else section.kinds
    for kind in kinds:
        code = TYPE_CODES[kind]
        children = (
            []
            if kind == "collection"
            else [filter_node(section, kind, *spec) for spec in FILTERS[kind]]
        )
        children += [
            sort_node(section, kind, *spec, tag="Sort") for spec in SORTS[kind]
        ]
        if kind != "collection":
            children += [field_node(section, kind, key) for key in FIELDS[kind]]
        types.append(
            Node(
                "Type",
                {
                    "key": f"{section.key}/all?type={code}",
                    "type": kind,
                    "title": VIEWS[kind][2],
                    "active": kind == kinds[0],
                },
                children,
            )
        )
    field_types = [
        Node(
            "FieldType",
            {"type": field_type},
            [
                Node("Operator", {"key": key, "title": title})
                for key, title in operators
            ],
        )
        for field_type, operators in FIELD_OPERATORS
    ]
    return Node("Meta", {}, types + field_types)


def filter_node(
    section: Section, kind: str, name: str, filter_type: str, title: str
) -> Node:
    """A ``Filter`` of a kind (``key`` lists its values)."""
    suffix = "" if kind == section.top_kind else f"?type={TYPE_CODES[kind]}"
    return Node(
        "Filter",
        {
            "filter": name,
            "filterType": filter_type,
            "key": f"{section.key}/{name}{suffix}",
            "title": title,
            "type": "filter",
            "advanced": True if name in ADVANCED_FILTERS else None,
        },
    )


def sort_node(
    section: Section,
    kind: str,
    key: str,
    title: str,
    direction: str,
    *,
    tag: str = "Directory",
) -> Node:
    """A ``Sort`` (in Meta) or sort ``Directory`` (``/sorts``)."""
    default = key == "titleSort"
    return Node(
        tag,
        {
            "active": default if tag == "Sort" else None,
            "activeDirection": "asc" if default and tag == "Sort" else None,
            "default": "asc" if default else None,
            "defaultDirection": direction,
            "descKey": f"{key}:desc",
            "firstCharacterKey": first_character_key(section, kind)
            if default
            else None,
            "key": key,
            "title": title,
        },
    )


def first_character_key(section: Section, kind: str) -> str:
    """Where the items of a kind are counted by first letter."""
    suffix = "" if kind == section.top_kind else f"?type={TYPE_CODES[kind]}"
    return f"{section.key}/firstCharacter{suffix}"


def field_node(section: Section, kind: str, key: str) -> Node:
    """A ``Field`` (custom filter); prefixed by its kind in sections of several kinds."""
    title, field_type, sub_type = _F[key]
    full_key = key if len(section.kinds) == 1 else f"{kind}.{key}"
    return Node(
        "Field",
        {"key": full_key, "title": title, "type": field_type, "subType": sub_type},
    )


# -- /library -------------------------------------------------------------------------


async def get_library(request: web.Request) -> web.Response:
    """``/library``: the library's top directories (``library.xml``)."""
    attrs = {
        "size": 3,
        **library_container_attrs(
            allow_sync=False,
            art="/:/resources/library-art.png",
            content="",
            title1="Plex Library",
            title2="",
        ),
    }
    children = [
        Node("Directory", {"key": "sections", "title": "Library Sections"}),
        Node("Directory", {"key": "recentlyAdded", "title": "Recently Added Content"}),
        Node("Directory", {"key": "onDeck", "title": "On Deck Content"}),
    ]
    return media_container(request, attrs, children)


async def get_sections(request: web.Request) -> web.Response:
    """``/library/sections``: the sections this user may see."""
    sections = _visible_sections(request)
    attrs = {
        "size": len(sections),
        **library_container_attrs(allow_sync=False, title1="Plex Library"),
    }
    return media_container(request, attrs, [section.node() for section in sections])


@_guarded
async def get_section(request: web.Request) -> web.Response:
    """``/library/sections/{id}``: the section's browsing directories.

    Each carries ``type`` and ``addedAt`` too, which the spec's ``Metadata`` schema
    (the type of these entries) requires.
    """
    section = _visible_section(request, request.match_info["id"])
    resource = RESOURCES[section.type]
    common = {"type": section.top_kind, "addedAt": section.created_at}
    directories = [
        Node(
            "Directory",
            {
                "key": key,
                "title": title,
                "secondary": True if secondary else None,
                **common,
            },
        )
        for key, title, secondary in SECTION_DIRECTORIES[section.type]
    ]
    plural = VIEWS[section.top_kind][2]
    directories.append(
        Node(
            "Directory",
            {
                "key": f"search?type={TYPE_CODES[section.top_kind]}",
                "prompt": f"Search {plural}",
                "search": True,
                "title": f"Search {plural}...",
                **common,
            },
        )
    )
    attrs = {
        "size": len(directories),
        **library_container_attrs(
            allow_sync=section.type != "photo",
            art=f"/:/resources/{resource}-fanart.jpg",
            content="secondary",
            librarySectionID=section.id,
            thumb=f"/:/resources/{resource}.png",
            title1=section.title,
            viewGroup="secondary",
            viewMode=65592,
        ),
    }
    return media_container(request, attrs, directories)


@_guarded
async def get_section_all(request: web.Request) -> web.Response:
    """``/library/sections/{id}/all``: type, sort, filters, limit, includeGuids, paging."""
    section = _visible_section(request, request.match_info["id"])
    library = _library(request)
    code = _int_param(request, "type")
    kind = section.top_kind if code is None else KINDS_BY_CODE.get(code, "")
    meta = meta_node(section) if _flag(request, "includeMeta") else None
    if kind == "collection":
        return _collections_answer(
            request, [section], section_listing_attrs(section, section.top_kind), meta
        )
    items: Sequence[Item] = (
        _query_items(request, [section], None if code is None else kind)
        if kind in section.kinds
        else []
    )
    attrs = section_listing_attrs(section, kind if kind in VIEWS else section.top_kind)
    return respond_page(
        request, attrs, items, item_renderer(library, request), meta=meta
    )


@_guarded
async def get_all(request: web.Request) -> web.Response:
    """``/library/all``: the query of ``/library/sections/{id}/all`` over every section.

    Only the sections the user may see; the same ``type``, field filters, ``sort``,
    ``limit``, ``includeGuids`` and paging (python-plexapi's ``library.search``
    sends ``/library/all?includeGuids=1&title=...&type=1``). Without ``type`` each
    section gives its top level. Items name their section (``librarySectionID``).
    """
    sections = _visible_sections(request)
    code = _int_param(request, "type")
    kind = None if code is None else KINDS_BY_CODE.get(code, "")
    attrs = library_container_attrs(allow_sync=True)
    if kind == "collection":
        return _collections_answer(request, sections, attrs, None)
    items = _query_items(request, sections, kind)
    return respond_page(
        request, attrs, items, item_renderer(_library(request), request)
    )


def _query_items(
    request: web.Request, sections: Sequence[Section], kind: str | None
) -> list[Item]:
    """The items of ``kind`` (top level when ``None``) that the request selects.

    Its field filters, ``sort`` and ``limit`` (see ``library_query``). A request
    for no items (``X-Plex-Container-Size=0``) only counts, so they are not sorted.
    """
    page = parse_page(request.query, request.headers)
    return _library(request).query_sections(
        sections,
        kind,
        sort=parse_sort(request.query.get("sort")),
        conditions=parse_conditions(list(request.query.items())),
        limit=_int_param(request, "limit"),
        ordered=page is None or page.size != 0,
    )


@_guarded
async def get_section_all_leaves(request: web.Request) -> web.Response:
    """``/library/sections/{id}/allLeaves``: every playable item of the section."""
    section = _visible_section(request, request.match_info["id"])
    library = _library(request)
    leaf_kind = section.kinds[-1]
    items = library.query(
        section, leaf_kind, sort=parse_sort(request.query.get("sort"))
    )
    return respond_page(
        request,
        section_listing_attrs(section, leaf_kind),
        items,
        item_renderer(library, request),
    )


@_guarded
async def get_section_recently_added(request: web.Request) -> web.Response:
    """``/library/sections/{id}/recentlyAdded``."""
    section = _visible_section(request, request.match_info["id"])
    library = _library(request)
    attrs = {
        **section_listing_attrs(section, section.top_kind),
        "title2": "Recently Added",
        "mixedParents": True,
    }
    return respond_page(
        request,
        attrs,
        library.recently_added([section]),
        item_renderer(library, request),
    )


@_guarded
async def get_section_on_deck(request: web.Request) -> web.Response:
    """``/library/sections/{id}/onDeck``."""
    section = _visible_section(request, request.match_info["id"])
    library = _library(request)
    attrs = {
        **section_listing_attrs(section, section.top_kind),
        "title2": "On Deck",
        "mixedParents": True,
    }
    return respond_page(
        request, attrs, library.on_deck([section]), item_renderer(library, request)
    )


@_guarded
async def get_section_collections(request: web.Request) -> web.Response:
    """``/library/sections/{id}/collections`` (``library_movies_collections.xml``)."""
    section = _visible_section(request, request.match_info["id"])
    meta = (
        meta_node(section, collections=True) if _flag(request, "includeMeta") else None
    )
    return _collections_answer(
        request, [section], section_listing_attrs(section, section.top_kind), meta
    )


def _collections_answer(
    request: web.Request,
    sections: Sequence[Section],
    attrs: dict[str, Any],
    meta: Node | None,
) -> web.Response:
    """The collections of ``sections`` whose title has ``title=``, by title."""
    library = _library(request)
    title = request.query.get("title", "").casefold()
    collections = sorted(
        (
            collection
            for section in sections
            for collection in section.collections
            if title in collection.title.casefold()
        ),
        key=lambda collection: collection.title.casefold(),
    )
    if request.query.get("sort", "").endswith(":desc"):
        collections.reverse()
    return respond_page(
        request, attrs, collections, item_renderer(library, request), meta=meta
    )


@_guarded
async def get_section_sorts(request: web.Request) -> web.Response:
    """``/library/sections/{id}/sorts`` (``library_movies_sort.xml``)."""
    section = _visible_section(request, request.match_info["id"])
    code = _int_param(request, "type")
    kind = (
        section.top_kind if code is None else KINDS_BY_CODE.get(code, section.top_kind)
    )
    resource = RESOURCES[section.type]
    directories = [sort_node(section, kind, *spec) for spec in SORTS.get(kind, ())]
    attrs = {
        "size": len(directories),
        **library_container_attrs(
            allow_sync=False,
            art=f"/:/resources/{resource}-fanart.jpg",
            content="secondary",
            nocache=True,
            thumb=f"/:/resources/{resource}.png",
            title1=section.title,
            viewGroup="secondary",
            viewMode=65592,
        ),
    }
    return media_container(request, attrs, directories)


@_guarded
async def get_section_filters(request: web.Request) -> web.Response:
    """``/library/sections/{id}/filters``: the filters of a kind, as Directories."""
    section = _visible_section(request, request.match_info["id"])
    code = _int_param(request, "type")
    kind = (
        section.top_kind if code is None else KINDS_BY_CODE.get(code, section.top_kind)
    )
    directories = [filter_node(section, kind, *spec) for spec in FILTERS.get(kind, ())]
    for node in directories:
        node.tag = "Directory"
    attrs = {
        "size": len(directories),
        **library_container_attrs(
            allow_sync=False,
            content="secondary",
            title1=section.title,
            viewGroup="secondary",
            viewMode=65592,
        ),
    }
    return media_container(request, attrs, directories)


@_guarded
async def get_section_first_character(request: web.Request) -> web.Response:
    """``/library/sections/{id}/firstCharacter``: how many titles start with each letter."""
    section = _visible_section(request, request.match_info["id"])
    counts: dict[str, int] = {}
    for item in section.top_level():
        first = item.sort_key[:1].upper()
        letter = first if first.isalpha() else "#"
        counts[letter] = counts.get(letter, 0) + 1
    directories = [
        Node("Directory", {"size": count, "key": letter, "title": letter})
        for letter, count in sorted(counts.items())
    ]
    attrs = {
        "size": len(directories),
        **library_container_attrs(
            allow_sync=False,
            title1=section.title,
            title2="All",
            viewGroup="secondary",
            viewMode=65592,
        ),
    }
    return media_container(request, attrs, directories)


@_guarded
async def get_section_tag_list(request: web.Request) -> web.Response:
    """``/library/sections/{id}/{genre|year|collection|actor|...}``: a filter's values."""
    section = _visible_section(request, request.match_info["id"])
    field = request.match_info["field"]
    if field not in TAG_LISTS:
        raise NotFoundError
    code = _int_param(request, "type")
    kind = (
        section.top_kind if code is None else KINDS_BY_CODE.get(code, section.top_kind)
    )
    values = _tag_values(_library(request), section, kind, field)
    suffix = "" if kind == section.top_kind else f"&type={TYPE_CODES[kind]}"
    directories = [
        Node(
            "Directory",
            {
                "fastKey": f"{section.key}/all?{field}={key}{suffix}",
                "key": key,
                "title": title,
                "type": field,
            },
        )
        for key, title in values
    ]
    attrs = {
        "size": len(directories),
        **library_container_attrs(
            allow_sync=False,
            content="secondary",
            title1=section.title,
            viewGroup="secondary",
            viewMode=65592,
        ),
    }
    return media_container(request, attrs, directories)


def _tag_values(
    library: Library, section: Section, kind: str, field: str
) -> list[tuple[str, str]]:
    """(key, title) of every value a field takes among a section's items of one kind."""
    found: dict[str, str] = {}
    for item in section.by_kind.get(kind, ()):
        if field in ("year", "decade"):
            if item.year:
                value = str(item.year if field == "year" else item.year // 10 * 10)
                found[value] = value
        elif field == "studio":
            if item.studio:
                found[item.studio] = item.studio
        else:
            for tag_id, name in tags_of(item, field):
                found[tag_id] = name or library.tag_title(field, tag_id)
    return sorted(found.items(), key=lambda pair: pair[1].casefold())


@_guarded
async def refresh_section(request: web.Request) -> web.Response:
    """``/library/sections/{id}/refresh``: scan (``activity`` notifications)."""
    section = _visible_section(request, request.match_info["id"])
    user = user_for_request(request)
    _library(request).refresh_section(section.id, user_id=user.id if user else 1)
    return empty(request)


@_guarded
async def cancel_refresh(request: web.Request) -> web.Response:
    """``DELETE /library/sections/{id}/refresh``: scans finish at once; nothing to cancel."""
    _visible_section(request, request.match_info["id"])
    return empty(request)


@_guarded
async def get_recently_added(request: web.Request) -> web.Response:
    """``/library/recentlyAdded``: across the sections this user may see."""
    library = _library(request)
    attrs = library_container_attrs(allow_sync=True, mixedParents=True)
    items = library.recently_added(_visible_sections(request))
    return respond_page(request, attrs, items, item_renderer(library, request))


@_guarded
async def get_on_deck(request: web.Request) -> web.Response:
    """``/library/onDeck``: across the sections this user may see."""
    library = _library(request)
    attrs = library_container_attrs(allow_sync=False, mixedParents=True)
    items = library.on_deck(_visible_sections(request))
    return respond_page(request, attrs, items, item_renderer(library, request))


# -- /library/metadata ----------------------------------------------------------------


@_guarded
async def get_metadata(request: web.Request) -> web.Response:
    """``/library/metadata/{ids}``: full details of one or more (comma-separated) items."""
    library = _library(request)
    found: list[Item | Collection | Node] = []
    for key in request.match_info["ids"].split(","):
        item = library.find(key)
        owner = library.extra_owner(key)
        if item is not None and can_see_section(request, item.section.id):
            found.append(item)
        elif owner is not None and can_see_section(request, owner.section.id):
            found.append(library.renderer.extra_node(owner))
        elif (
            key.isdigit()
            and int(key) in library.collections
            and can_see_section(request, library.collections[int(key)].section.id)
        ):
            found.append(library.collections[int(key)])
    if not found:
        raise NotFoundError
    sections = {
        obj.attrs["librarySectionID"] if isinstance(obj, Node) else obj.section.id
        for obj in found
    }
    attrs: dict[str, Any] = {"size": len(found)}
    if len(sections) == 1:
        attrs |= library_attrs(library.section(sections.pop()))
    else:
        attrs |= library_container_attrs(allow_sync=True)
    guids = _flag(request, "includeGuids")
    shape = ResponseShape.from_query(request.query)
    children = [_detail_node(library, obj, guids, shape) for obj in found]
    return media_container(request, attrs, children)


def _detail_node(
    library: Library,
    obj: Item | Collection | Node,
    guids: bool,
    shape: ResponseShape | None,
) -> Node:
    if isinstance(obj, Item):
        return library.item_node(obj, detail=True, guids=guids, shape=shape)
    node = library.renderer.collection_node(obj) if isinstance(obj, Collection) else obj
    return node if shape is None else shape.node(node)


@_guarded
async def get_extras(request: web.Request) -> web.Response:
    """``/library/metadata/{id}/extras``: a movie's or show's trailer."""
    item = _visible_item(request, request.match_info["id"])
    library = _library(request)
    extras = (
        [library.renderer.extra_node(item)] if item.kind in ("movie", "show") else []
    )
    attrs = {"size": len(extras), **library_attrs(item.section)}
    return media_container(request, attrs, extras)


@_guarded
async def get_children(request: web.Request) -> web.Response:
    """``/library/metadata/{id}/children``: seasons, episodes, albums, tracks, photos."""
    parent = _visible_item(request, request.match_info["id"])
    library = _library(request)
    return respond_page(
        request,
        children_attrs(parent),
        library.children(parent),
        item_renderer(library, request, streams=True),
    )


@_guarded
async def get_all_leaves(request: web.Request) -> web.Response:
    """``/library/metadata/{id}/allLeaves``: every episode of a show, track of an artist..."""
    parent = _visible_item(request, request.match_info["id"])
    library = _library(request)
    attrs = children_attrs(parent)
    leaf_kind = parent.section.kinds[-1]
    attrs |= {
        "title2": f"All {VIEWS[leaf_kind][2].lower()}",
        "viewGroup": leaf_kind,
        "viewMode": VIEWS[leaf_kind][1],
    }
    leaves = library.leaves(parent) if parent.children is not None else []
    render = item_renderer(library, request, streams=True)
    return respond_page(request, attrs, leaves, render)


# -- collections ----------------------------------------------------------------------


def _visible_collection(request: web.Request) -> Collection:
    try:
        collection = _library(request).collection(request.match_info["id"])
    except LibraryError as err:
        raise NotFoundError from err
    if not can_see_section(request, collection.section.id):
        raise NotFoundError
    return collection


@_guarded
async def get_collection(request: web.Request) -> web.Response:
    """``/library/collections/{id}``: the collection itself."""
    collection = _visible_collection(request)
    attrs = {"size": 1, **library_attrs(collection.section)}
    return media_container(
        request, attrs, [_library(request).renderer.collection_node(collection)]
    )


@_guarded
async def get_collection_children(request: web.Request) -> web.Response:
    """``/library/collections/{id}/children`` (and ``/items``): its members."""
    collection = _visible_collection(request)
    library = _library(request)
    kind = collection.section.top_kind
    attrs = {
        **library_attrs(collection.section),
        "art": f"/:/resources/{RESOURCES[collection.section.type]}-fanart.jpg",
        "key": str(collection.rating_key),
        "nocache": True,
        "ratingKey": str(collection.rating_key),
        "summary": collection.summary,
        "thumb": collection.thumb,
        "title1": collection.section.title,
        "title2": collection.title,
        "viewGroup": kind,
        "viewMode": VIEWS[kind][1],
    }
    return respond_page(
        request, attrs, collection.items, item_renderer(library, request)
    )


# -- search ---------------------------------------------------------------------------


@_guarded
async def hubs_search(request: web.Request) -> web.Response:
    """``/hubs/search?query=``: results per type as ``Hub``s (``limit`` per hub, 3 by default)."""
    text = request.query.get("query")
    if text is None:
        raise QueryError("query is required")
    limit = _int_param(request, "limit") or DEFAULT_SEARCH_LIMIT
    library = _library(request)
    sections = _visible_sections(request)
    section_id = _int_param(request, "sectionId")
    if section_id is not None:
        sections = [section for section in sections if section.id == section_id]
    found: dict[str, list[Any]] = dict(library.search(text, sections))
    needle = text.casefold().strip()
    if needle:
        collections = [
            c for s in sections for c in s.collections if needle in c.title.casefold()
        ]
        if collections:
            found["collection"] = collections
        user = user_for_request(request)
        if section_id is None and (user is None or user.is_owner):
            playlists = [
                p for p in library.playlists.values() if needle in p.title.casefold()
            ]
            if playlists:
                found["playlist"] = playlists
    guids = _flag(request, "includeGuids")
    hubs = []
    for kind, title in SEARCH_HUBS:
        matches = found.get(kind, [])
        if not matches:
            continue
        shown = matches[:limit]
        children = [_search_node(library, obj, guids) for obj in shown]
        hubs.append(
            Node(
                "Hub",
                {
                    "title": title,
                    "type": kind,
                    "hubIdentifier": kind,
                    "context": f"hub.{kind}",
                    "size": len(shown),
                    "more": len(matches) > len(shown),
                    "style": "shelf",
                    "hubKey": "/library/metadata/"
                    + ",".join(str(obj.rating_key) for obj in shown),
                },
                children,
            )
        )
    attrs = {"size": len(hubs), "allowSync": False, "identifier": IDENTIFIER}
    return media_container(request, attrs, hubs)


def _search_node(
    library: Library, obj: Item | Collection | Playlist, guids: bool
) -> Node:
    if isinstance(obj, Collection):
        return library.renderer.collection_node(obj)
    if isinstance(obj, Playlist):
        return library.renderer.playlist_node(obj)
    return library.fragment(obj, guids=guids)


# -- hubs -----------------------------------------------------------------------------

# Section type -> (recently added hub title, identifier, type attribute, type code).
RECENT_HUBS = {
    "movie": ("Recently Added Movies", "home.movies.recent", "movie", 1),
    "show": ("Recently Added TV", "home.television.recent", "mixed", 2),
    "artist": ("Recently Added Music", "home.music.recent", "album", 8),
    "photo": ("Recently Added Photos", "home.photos.recent", "photo", 13),
}
SECTION_HUB_PREFIX = {
    "movie": "movie",
    "show": "tv",
    "artist": "music",
    "photo": "photo",
}
DEFAULT_HUB_COUNT = 6


def hub_node(
    attrs: dict[str, Any],
    objects: Sequence[Any],
    count: int,
    render: Callable[[Any], Node],
) -> Node:
    """A ``Hub`` showing the first ``count`` objects (``hubs.xml``)."""
    shown = objects[:count]
    keys = ",".join(str(obj.rating_key) for obj in shown if hasattr(obj, "rating_key"))
    return Node(
        "Hub",
        {
            "hubKey": f"/library/metadata/{keys}" if keys else None,
            **attrs,
            "size": len(shown),
            "more": len(objects) > len(shown),
            "style": attrs.get("style", "shelf"),
            "promoted": True,
        },
        [render(obj) for obj in shown],
    )


@_guarded
async def get_hubs(request: web.Request) -> web.Response:
    """``/hubs``: the home screen's hubs (continue watching, recently added, playlists)."""
    library = _library(request)
    count = _int_param(request, "count") or DEFAULT_HUB_COUNT
    sections = _visible_sections(request)
    render = item_renderer(library, request, streams=True)
    hubs = [
        hub_node(
            {
                "key": "/hubs/home/continueWatching",
                "title": "Continue Watching",
                "type": "mixed",
                "hubIdentifier": "home.continue",
                "context": "hub.home.continue",
                "style": "hero",
            },
            library.on_deck(sections),
            count,
            render,
        )
    ]
    for section_type, (title, identifier, hub_type, code) in RECENT_HUBS.items():
        typed = [section for section in sections if section.type == section_type]
        if typed:
            hubs.append(
                hub_node(
                    {
                        "key": f"/hubs/home/recentlyAdded?type={code}",
                        "title": title,
                        "type": hub_type,
                        "hubIdentifier": identifier,
                        "context": f"hub.{identifier}",
                    },
                    library.recently_added(typed),
                    count,
                    render,
                )
            )
    playlists = sorted(_user_playlists(request), key=lambda p: -(p.last_viewed_at or 0))
    hubs.append(
        hub_node(
            {
                "key": "/playlists/all?type=15&sort=lastViewedAt:desc&playlistType=video,audio",
                "title": "Recent Playlists",
                "type": "playlist",
                "hubIdentifier": "home.playlists",
                "context": "hub.home.playlists",
            },
            playlists,
            count,
            library.renderer.playlist_node,
        )
    )
    attrs = {"size": len(hubs), "allowSync": True, "identifier": IDENTIFIER}
    return media_container(request, attrs, hubs)


@_guarded
async def get_home_recently_added(request: web.Request) -> web.Response:
    """``/hubs/home/recentlyAdded?type=``: everything behind a recently added hub."""
    library = _library(request)
    code = _int_param(request, "type")
    section_type = next((t for t, spec in RECENT_HUBS.items() if spec[3] == code), None)
    sections = [s for s in _visible_sections(request) if section_type in (None, s.type)]
    attrs = {"allowSync": True, "identifier": IDENTIFIER, "mixedParents": True}
    render = item_renderer(library, request)
    return respond_page(request, attrs, library.recently_added(sections), render)


@_guarded
async def get_continue_watching(request: web.Request) -> web.Response:
    """``/hubs/home/continueWatching`` and ``/hubs/continueWatching/items``."""
    library = _library(request)
    attrs = {"allowSync": False, "identifier": IDENTIFIER, "mixedParents": True}
    items = library.on_deck(_visible_sections(request))
    return respond_page(request, attrs, items, item_renderer(library, request))


@_guarded
async def get_section_hubs(request: web.Request) -> web.Response:
    """``/hubs/sections/{id}``: a section's hubs (``hubs_library_section.xml``)."""
    section = _visible_section(request, request.match_info["id"])
    library = _library(request)
    count = _int_param(request, "count") or DEFAULT_HUB_COUNT
    prefix = SECTION_HUB_PREFIX[section.type]
    render = item_renderer(library, request)
    hubs = []
    if section.type == "artist":
        hubs.append(stations_hub(section))
    if section.type in ("movie", "show"):
        hubs.append(
            hub_node(
                {
                    "key": f"{section.key}/onDeck",
                    "title": "Continue Watching",
                    "type": "mixed",
                    "hubIdentifier": f"{prefix}.inprogress.{section.id}",
                    "context": f"hub.{prefix}.inprogress",
                },
                library.on_deck([section]),
                count,
                render,
            )
        )
    hubs.append(
        hub_node(
            {
                "key": f"{section.key}/recentlyAdded",
                "title": "Recently Added",
                "type": RECENT_HUBS[section.type][2],
                "hubIdentifier": f"{prefix}.recentlyadded.{section.id}",
                "context": f"hub.{prefix}.recentlyadded",
            },
            library.recently_added([section]),
            count,
            render,
        )
    )
    attrs = {"size": len(hubs), **library_attrs(section)}
    return media_container(request, attrs, hubs)


def stations_hub(section: Section) -> Node:
    """The radio stations of a music section (``Playlist`` elements, smart)."""
    stations = [
        ("library", "Library Radio"),
        ("history", "Time Travel Radio"),
        ("album", "Random Album Radio"),
    ]
    playlists = [
        Node(
            "Playlist",
            {
                "key": f"{section.key}/stations/{number}",
                "guid": f"tv.plex://station/{name}",
                "type": "playlist",
                "title": title,
                "librarySectionTitle": section.title,
                "librarySectionID": section.id,
                "librarySectionKey": section.key,
                "summary": "",
                "smart": True,
                "playlistType": "audio",
                "leafCount": 0,
                "addedAt": section.created_at,
                "icon": "playlist://image.radio",
                "radio": True,
            },
        )
        for number, (name, title) in enumerate(stations, start=1)
    ]
    return Node(
        "Hub",
        {
            "title": "Stations",
            "type": "station",
            "hubIdentifier": f"music.stations.{section.id}",
            "context": "hub.music.stations",
            "size": len(playlists),
            "more": False,
            "style": "grid",
        },
        playlists,
    )


# -- playlists ------------------------------------------------------------------------


def _user_playlists(request: web.Request) -> list[Playlist]:
    """Playlists are personal: the owner's are not visible to shared users."""
    user = user_for_request(request)
    if user is not None and not user.is_owner:
        return []
    return list(_library(request).playlists.values())


def _visible_playlist(request: web.Request) -> Playlist:
    key = request.match_info["id"]
    playlist = next(
        (p for p in _user_playlists(request) if str(p.rating_key) == key), None
    )
    if playlist is None:
        raise NotFoundError
    return playlist


@_guarded
async def get_playlists(request: web.Request) -> web.Response:
    """``/playlists`` (and ``/playlists/all``): filter by playlistType, sectionID, title, smart."""
    playlists = _user_playlists(request)
    types = request.query.get("playlistType")
    if types:
        playlists = [p for p in playlists if p.playlist_type in types.split(",")]
    section_id = _int_param(request, "sectionID")
    if section_id is not None:
        playlists = [
            p
            for p in playlists
            if any(item.section.id == section_id for _, item in p.entries)
        ]
    title = request.query.get("title")
    if title:
        playlists = [p for p in playlists if title.casefold() in p.title.casefold()]
    if request.query.get("smart") == "1":
        playlists = []
    playlists.sort(key=lambda p: p.title.casefold())
    library = _library(request)
    return respond_page(request, {}, playlists, library.renderer.playlist_node)


@_guarded
async def get_playlist(request: web.Request) -> web.Response:
    """``/playlists/{id}``: the playlist itself."""
    playlist = _visible_playlist(request)
    return media_container(
        request, {"size": 1}, [_library(request).renderer.playlist_node(playlist)]
    )


@_guarded
async def get_playlist_items(request: web.Request) -> web.Response:
    """``/playlists/{id}/items`` (``playlist_500.xml``): members with ``playlistItemID``."""
    playlist = _visible_playlist(request)
    library = _library(request)
    guids = _flag(request, "includeGuids")
    entries = [
        (entry, item)
        for entry, item in playlist.entries
        if can_see_section(request, item.section.id)
    ]
    attrs = {
        "composite": playlist.composite,
        "duration": playlist.duration,
        "leafCount": len(playlist.entries),
        "playlistType": playlist.playlist_type,
        "ratingKey": str(playlist.rating_key),
        "smart": False,
        "title": playlist.title,
    }
    return respond_page(
        request,
        attrs,
        entries,
        lambda pair: library.fragment(
            pair[1], guids=guids, extra={"playlistItemID": pair[0]}, streams=True
        ),
    )


# -- watch state ----------------------------------------------------------------------


def _rating_key_param(request: web.Request, *names: str) -> str:
    for name in names:
        value = request.query.get(name)
        if value:
            return value.rsplit("/", 1)[-1]
    raise QueryError("no item given")


@_guarded
async def scrobble(request: web.Request) -> web.Response:
    """``/:/scrobble?key=<ratingKey>&identifier=com.plexapp.plugins.library``."""
    return _watch_state(request, watched=True)


@_guarded
async def unscrobble(request: web.Request) -> web.Response:
    """``/:/unscrobble?key=<ratingKey>&identifier=com.plexapp.plugins.library``."""
    return _watch_state(request, watched=False)


def _watch_state(request: web.Request, *, watched: bool) -> web.Response:
    identifier = request.query.get("identifier")
    key = _rating_key_param(request, "key", "ratingKey")
    if identifier is None:
        raise QueryError("identifier is required")
    if identifier != IDENTIFIER:
        raise NotFoundError
    item = _visible_item(request, key)
    library = _library(request)
    if watched:
        library.mark_watched(item.rating_key)
    else:
        library.mark_unwatched(item.rating_key)
    return empty(request)


@_guarded
async def timeline(request: web.Request) -> web.Response:
    """``/:/timeline?ratingKey=&key=&state=&time=&duration=``: a client's playback report.

    Stores the resume point (``viewOffset``) / play as ``Library.set_progress``
    does, then tells ``Library.timeline_hooks`` (e.g. sessions).
    """
    key = _rating_key_param(request, "ratingKey", "key")
    state = request.query.get("state", "")
    if state not in ("stopped", "buffering", "playing", "paused"):
        raise QueryError("state must be stopped, buffering, playing or paused")
    position = _int_param(request, "time")
    if position is None:
        raise QueryError("time is required")
    item = _visible_item(request, key)
    if item.children is not None:
        raise QueryError("only playable items have a timeline")
    library = _library(request)
    if state != "buffering":
        library.set_progress(item.rating_key, position)
    client = plex_header(request, "X-Plex-Client-Identifier")
    for hook in list(library.timeline_hooks):
        hook(item, state, position, client)
    return empty(request)


@_guarded
async def progress(request: web.Request) -> web.Response:
    """``/:/progress?key=&identifier=&time=``: set a resume point without playing."""
    if request.query.get("identifier", IDENTIFIER) != IDENTIFIER:
        raise NotFoundError
    item = _visible_item(request, _rating_key_param(request, "key", "ratingKey"))
    position = _int_param(request, "time")
    if position is None or item.children is not None:
        raise QueryError("time of a playable item is required")
    _library(request).set_progress(item.rating_key, position)
    return empty(request)


# -- images ---------------------------------------------------------------------------


def _png(seed: int, element: str) -> web.Response:
    return web.Response(
        body=images.image_for(seed, element),
        content_type="image/png",
        headers={"Cache-Control": "max-age=86400"},
    )


@_guarded
async def metadata_image(request: web.Request) -> web.Response:
    """``/library/metadata/{id}/{thumb|art|banner|...}[/{stamp}]``: a small PNG."""
    element = request.match_info["element"]
    if element not in IMAGE_ELEMENTS:
        raise NotFoundError
    owner = _library(request).extra_owner(request.match_info["id"])
    if owner is not None and can_see_section(request, owner.section.id):
        return _png(owner.rating_key, element)
    item = _visible_item(request, request.match_info["id"])
    return _png(item.rating_key, element)


@_guarded
async def collection_image(request: web.Request) -> web.Response:
    """``/library/collections/{id}/composite/{stamp}``."""
    return _png(_visible_collection(request).rating_key, "thumb")


@_guarded
async def playlist_image(request: web.Request) -> web.Response:
    """``/playlists/{id}/composite/{stamp}``."""
    return _png(_visible_playlist(request).rating_key, "thumb")


@_guarded
async def section_image(request: web.Request) -> web.Response:
    """``/library/sections/{id}/composite/{stamp}``."""
    return _png(_visible_section(request, request.match_info["id"]).id, "art")


async def resource_image(request: web.Request) -> web.Response:
    """``/:/resources/{name}``: the section icons and backgrounds."""
    name = request.match_info["name"]
    return _png(len(name), "art" if "fanart" in name or "art" in name else "thumb")


@_guarded
async def photo_transcode(request: web.Request) -> web.Response:
    """``/photo/:/transcode?url=...``: the image at ``url`` (size parameters are ignored)."""
    url = request.query.get("url")
    if not url:
        raise QueryError("url is required")
    parts = url.split("?")[0].strip("/").split("/")
    if len(parts) >= 4 and parts[:2] == ["library", "metadata"]:
        item = _visible_item(request, parts[2])
        return _png(item.rating_key, parts[3])
    return _png(len(url), "thumb")


# -- registration ---------------------------------------------------------------------


def add_routes(app: web.Application, emu: PlexEmulator) -> None:
    """Register every library endpoint."""
    del emu  # the handlers find the emulator on the application
    router = app.router
    router.add_get("/library", get_library)
    router.add_get("/library/", get_library)
    router.add_get("/library/sections", get_sections)
    router.add_get("/library/sections/", get_sections)
    router.add_get("/library/all", get_all)
    router.add_get("/library/recentlyAdded", get_recently_added)
    router.add_get("/library/onDeck", get_on_deck)
    router.add_get("/library/sections/{id}", get_section)
    router.add_get("/library/sections/{id}/all", get_section_all)
    router.add_get("/library/sections/{id}/allLeaves", get_section_all_leaves)
    router.add_get("/library/sections/{id}/recentlyAdded", get_section_recently_added)
    router.add_get("/library/sections/{id}/onDeck", get_section_on_deck)
    router.add_get("/library/sections/{id}/collections", get_section_collections)
    router.add_get("/library/sections/{id}/sorts", get_section_sorts)
    router.add_get("/library/sections/{id}/filters", get_section_filters)
    router.add_get("/library/sections/{id}/firstCharacter", get_section_first_character)
    router.add_get("/library/sections/{id}/composite/{stamp}", section_image)
    for method in ("GET", "POST", "PUT"):
        router.add_route(method, "/library/sections/{id}/refresh", refresh_section)
    router.add_delete("/library/sections/{id}/refresh", cancel_refresh)
    router.add_get("/library/sections/{id}/{field}", get_section_tag_list)
    router.add_get("/library/metadata/{ids}", get_metadata)
    router.add_get("/library/metadata/{id}/children", get_children)
    router.add_get("/library/metadata/{id}/allLeaves", get_all_leaves)
    router.add_get("/library/metadata/{id}/extras", get_extras)
    router.add_get("/library/metadata/{id}/{element}", metadata_image)
    router.add_get("/library/metadata/{id}/{element}/{stamp}", metadata_image)
    router.add_get("/library/collections/{id}", get_collection)
    router.add_get("/library/collections/{id}/children", get_collection_children)
    router.add_get("/library/collections/{id}/items", get_collection_children)
    router.add_get("/library/collections/{id}/composite/{stamp}", collection_image)
    router.add_get("/hubs/search", hubs_search)
    router.add_get("/hubs", get_hubs)
    router.add_get("/hubs/home/recentlyAdded", get_home_recently_added)
    router.add_get("/hubs/home/continueWatching", get_continue_watching)
    router.add_get("/hubs/continueWatching", get_continue_watching)
    router.add_get("/hubs/continueWatching/items", get_continue_watching)
    router.add_get("/hubs/sections/{id}", get_section_hubs)
    router.add_get("/playlists", get_playlists)
    router.add_get("/playlists/all", get_playlists)
    router.add_get("/playlists/{id}", get_playlist)
    router.add_get("/playlists/{id}/items", get_playlist_items)
    router.add_get("/playlists/{id}/composite/{stamp}", playlist_image)
    for method in ("GET", "PUT"):
        router.add_route(method, "/:/scrobble", scrobble)
        router.add_route(method, "/:/unscrobble", unscrobble)
    for method in ("GET", "POST", "PUT"):
        router.add_route(method, "/:/timeline", timeline)
        router.add_route(method, "/:/progress", progress)
    router.add_get("/:/resources/{name}", resource_image)
    router.add_get("/photo/:/transcode", photo_transcode)
