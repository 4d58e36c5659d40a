"""External ids from every guid form Plex writes, and parsing what users type."""

from __future__ import annotations

from pathlib import Path
import re

import pytest

from custom_components.plex_bridge.mirror.guids import (
    normalize_guids,
    parse_external_id,
    parse_guid,
)
from tests.emulator.fidelity import (
    CAPTURES_DIR,
    REQUIRE_REFERENCE_ENV,
    reference_problem,
    reference_required,
)

# Every guid in the captures: a ``guid`` (``parentGuid``, ``grandparentGuid``)
# attribute or a ``<Guid id="..."/>``.
GUID_ATTR = re.compile(r'\b(?:guid|parentGuid|grandparentGuid)="([^"]+)"')
GUID_ELEMENT = re.compile(r'<Guid\b[^>]*\bid="([^"]+)"')

# What each scheme of the captures yields; a new scheme in new captures fails the
# test until it is decided here.
EXPECTED_SCHEMES = {
    "plex": "plex",
    "imdb": "imdb",
    "tmdb": "tmdb",
    "tvdb": "tvdb",
    "com.plexapp.agents.imdb": "imdb",
    "com.plexapp.agents.themoviedb": "tmdb",
    "com.plexapp.agents.thetvdb": "tvdb",
    "com.plexapp.agents.none": None,
    "local": None,
    "collection": None,
    "tv.plex": None,
}


@pytest.fixture(scope="module")
def captured_guids() -> tuple[set[str], set[str]]:
    """The guid attributes and Guid element ids of every capture (skip without them)."""
    if problem := reference_problem():
        if reference_required():
            pytest.fail(f"{problem} ({REQUIRE_REFERENCE_ENV} is set)", pytrace=False)
        pytest.skip(problem)
    attributes: set[str] = set()
    elements: set[str] = set()
    for path in sorted(Path(CAPTURES_DIR).glob("*.xml")):
        body = path.read_text(encoding="utf-8")
        attributes.update(GUID_ATTR.findall(body))
        elements.update(GUID_ELEMENT.findall(body))
    assert attributes, "no guid attributes found in the captures"
    assert elements, "no Guid elements found in the captures"
    return attributes, elements


def expected(guid: str) -> tuple[str, str] | None:
    """What a captured guid must give, decided from its form alone."""
    scheme, _, rest = guid.partition("://")
    assert scheme in EXPECTED_SCHEMES, f"undecided guid scheme in the captures: {guid}"
    target = EXPECTED_SCHEMES[scheme]
    value = rest.split("?")[0]
    if target is None:
        return None
    if target == "plex":
        return ("plex", value.rsplit("/", 1)[-1])
    if "/" in value:
        # thetvdb://<show>/<season>[/<episode>]: the show's id, not this item's.
        return None
    return (target, value)


def test_every_captured_guid_form(captured_guids: tuple[set[str], set[str]]) -> None:
    """Each guid of the captures normalises as its form says (and none raises)."""
    attributes, elements = captured_guids
    seen_schemes = set()
    for guid in sorted(attributes | elements):
        seen_schemes.add(guid.partition("://")[0])
        result = expected(guid)
        assert parse_guid(guid) == result, guid
        assert normalize_guids(guid, None) == (dict([result]) if result else {})
    # The captures hold the legacy and the modern forms both.
    assert {
        "plex",
        "com.plexapp.agents.thetvdb",
        "com.plexapp.agents.imdb",
    } <= seen_schemes
    assert {"com.plexapp.agents.none"} <= seen_schemes


def test_captured_elements_together(captured_guids: tuple[set[str], set[str]]) -> None:
    """All the captured Guid elements at once give one id per scheme they name."""
    _, elements = captured_guids
    ids = normalize_guids(None, [{"id": guid} for guid in sorted(elements)])
    assert set(ids) <= {"imdb", "tmdb", "tvdb", "plex"}
    assert ids["tmdb"] == "12345"


@pytest.mark.parametrize(
    ("guid", "result"),
    [
        ("plex://movie/5d776b85594b2b001e6dc641", ("plex", "5d776b85594b2b001e6dc641")),
        (
            "plex://episode/60d5ff1c4a0721002c4e5d75",
            ("plex", "60d5ff1c4a0721002c4e5d75"),
        ),
        ("imdb://tt0133093", ("imdb", "tt0133093")),
        ("tmdb://603", ("tmdb", "603")),
        ("tvdb://81189", ("tvdb", "81189")),
        ("com.plexapp.agents.imdb://tt0133093?lang=en", ("imdb", "tt0133093")),
        ("com.plexapp.agents.themoviedb://603?lang=en", ("tmdb", "603")),
        ("com.plexapp.agents.themoviedb://603", ("tmdb", "603")),
        ("com.plexapp.agents.thetvdb://123?lang=en", ("tvdb", "123")),
        # An episode's (or season's) legacy guid names its show: no id of its own.
        ("com.plexapp.agents.thetvdb://123/1/2?lang=en", None),
        ("com.plexapp.agents.thetvdb://123/1?lang=en", None),
        ("com.plexapp.agents.themoviedb://1399/1/1?lang=en", None),
        ("com.plexapp.agents.none://9a8f4a48-dd89-40e0-955b-286285350fdf", None),
        ("com.plexapp.agents.none://203184?lang=en", None),
        ("local://12345", None),
        ("collection://b57b4fb7-b1a9-48a1-9122-fda907c422cd", None),
        ("tv.plex://station/library", None),
        ("com.plexapp.agents.lastfm://Daft%20Punk?lang=en", None),
        ("IMDB://TT0133093", ("imdb", "tt0133093")),
        ("imdb://0133093", None),
        ("tmdb://abc", None),
        ("tmdb://", None),
        ("plex://movie/", None),
        ("plex://", None),
        ("", None),
        (None, None),
        ("no scheme", None),
    ],
)
def test_parse_guid(guid: str | None, result: tuple[str, str] | None) -> None:
    """Every form, legacy and modern; malformed ids give nothing."""
    assert parse_guid(guid) == result


def test_elements_win_over_the_attribute() -> None:
    """The Guid elements are the item's own ids; the attribute adds what they lack."""
    ids = normalize_guids(
        "com.plexapp.agents.imdb://tt0000001?lang=en",
        [{"id": "imdb://tt0133093"}, {"id": "tmdb://603"}, {"id": "tvdb://1"}],
    )
    assert ids == {"imdb": "tt0133093", "tmdb": "603", "tvdb": "1"}
    assert normalize_guids(
        "plex://movie/5d776b85594b2b001e6dc641", [{"id": "tmdb://603"}]
    ) == {
        "plex": "5d776b85594b2b001e6dc641",
        "tmdb": "603",
    }
    # Junk among the elements is skipped.
    assert normalize_guids(None, [{"id": 5}, {"nope": "x"}, {"id": "imdb://bad"}]) == {}
    assert normalize_guids(None, None) == {}


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("imdb:tt0133093", ("imdb", "tt0133093")),
        (" IMDB:TT0133093 ", ("imdb", "tt0133093")),
        ("tmdb:603", ("tmdb", "603")),
        ("tvdb:81189", ("tvdb", "81189")),
        ("plex:5d776b85594b2b001e6dc641", ("plex", "5d776b85594b2b001e6dc641")),
        ("imdb://tt0133093", ("imdb", "tt0133093")),
        ("plex://movie/5d776b85594b2b001e6dc641", ("plex", "5d776b85594b2b001e6dc641")),
    ],
)
def test_parse_external_id(text: str, result: tuple[str, str]) -> None:
    """What a user types for the external-id filter."""
    assert parse_external_id(text) == result


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("tt0133093", "format"),
        ("", "format"),
        ("netflix:123", "scheme"),
        (":123", "scheme"),
        ("imdb:", "id"),
        ("imdb:0133093", "id"),
        ("imdb:tt12", "id"),
        ("imdb:tt0133093x", "id"),
        ("tmdb:abc", "id"),
        ("tmdb:-1", "id"),
        ("tvdb:1.5", "id"),
        ("plex:not-hex!", "id"),
    ],
)
def test_parse_external_id_rejects(text: str, reason: str) -> None:
    """Malformed ids raise ValueError with a short reason."""
    with pytest.raises(ValueError, match=f"^{reason}$"):
        parse_external_id(text)
