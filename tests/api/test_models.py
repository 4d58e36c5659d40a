"""The models: coercion, XML to the JSON shape, and parsing of every kind of answer."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.plex_bridge.api.models import (
    Account,
    Device,
    DirectoryEntry,
    MediaItem,
    MediaStream,
    PlayQueue,
    Release,
    StreamQuality,
    SystemDevice,
    User,
    as_bool,
    as_float,
    as_int,
    as_str,
    child,
    children,
    parse_accounts,
    parse_clients,
    parse_devices,
    parse_directories,
    parse_history,
    parse_hubs,
    parse_item,
    parse_item_streams,
    parse_items,
    parse_page,
    parse_play_queue,
    parse_sections,
    parse_server_info,
    parse_sessions,
    parse_update_status,
    tags,
    xml_to_container,
)

# -- coercion ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", "abc"),
        (12, "12"),
        (1.5, "1.5"),
        (True, "True"),
        ("", None),
        (None, None),
        ({"a": 1}, None),
        ([1], None),
    ],
)
def test_as_str(value: Any, expected: str | None) -> None:
    assert as_str(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, 7),
        ("7", 7),
        (" 7 ", 7),
        ("7.9", 7),
        ("-4", -4),
        (7.9, 7),
        (True, 1),
        (False, 0),
        ("", None),
        ("   ", None),
        ("seven", None),
        ("inf", None),
        ("1e400", None),
        ("nan", None),
        (float("inf"), None),
        (float("nan"), None),
        (None, None),
        ([7], None),
        ({"value": 7}, None),
    ],
)
def test_as_int(value: Any, expected: int | None) -> None:
    assert as_int(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7.5, 7.5),
        (7, 7.0),
        ("7.5", 7.5),
        (True, 1.0),
        ("", None),
        (" ", None),
        ("high", None),
        (None, None),
        ([1.0], None),
    ],
)
def test_as_float(value: Any, expected: float | None) -> None:
    assert as_float(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("1", True),
        ("true", True),
        (" True ", True),
        ("0", False),
        ("false", False),
        ("yes", False),
        (1, True),
        (0, False),
        (0.0, False),
        (2.5, True),
        (None, False),
        ([True], False),
    ],
)
def test_as_bool(value: Any, expected: bool) -> None:
    assert as_bool(value) is expected


def test_children_single_list_and_junk() -> None:
    one = {"tag": "Drama"}
    assert children({"Genre": one}, "Genre") == [one]
    assert children({"Genre": [one, "junk", 3, None, one]}, "Genre") == [one, one]
    assert children({"Genre": "Drama"}, "Genre") == []
    assert children({}, "Genre") == []
    assert child({"Genre": [one, {"tag": "x"}]}, "Genre") == one
    assert child({"Genre": []}, "Genre") is None


def test_tags_skip_entries_without_a_tag() -> None:
    entry = {"Genre": [{"tag": "Drama"}, {"id": 3}, {"tag": ""}, {"tag": 42}]}
    assert tags(entry, "Genre") == ("Drama", "42")
    assert tags({"Genre": {"tag": "Comedy"}}, "Genre") == ("Comedy",)


# -- XML -----------------------------------------------------------------------------------


def test_xml_items_go_under_metadata_with_their_tag() -> None:
    container = xml_to_container(
        """<?xml version="1.0" encoding="UTF-8"?>
        <MediaContainer size="5" totalSize="9" offset="2">
          <Video ratingKey="1" type="movie" title="The Matrix">
            <Media id="5"><Part id="6"/></Media>
            <Genre tag="Action"/>
          </Video>
          <Directory ratingKey="13" type="show" title="Breaking Bad"/>
          <Track ratingKey="60" title="Song"/>
          <Photo ratingKey="75" title="IMG"/>
          <Playlist ratingKey="80" title="Movie Night"/>
          <Directory key="B" title="B"/>
        </MediaContainer>"""
    )

    assert container["size"] == "5"
    assert [entry["_tag"] for entry in container["Metadata"]] == [
        "Video",
        "Directory",
        "Track",
        "Photo",
        "Playlist",
    ]
    # A Directory without a ratingKey is no item: it stays a Directory.
    assert container["Directory"] == [{"key": "B", "title": "B"}]
    movie = container["Metadata"][0]
    assert movie["Media"] == [{"id": "5", "Part": [{"id": "6"}]}]
    assert movie["Genre"] == [{"tag": "Action"}]


def test_xml_single_children_are_objects_as_in_json() -> None:
    container = xml_to_container(
        b"""<MediaContainer size="1">
          <Video ratingKey="1" sessionKey="3">
            <User id="1" title="owner"/>
            <Player machineIdentifier="p" title="TV"/>
            <Session id="s"/>
            <TranscodeSession key="t"/>
            <Media id="1"/>
          </Video>
        </MediaContainer>"""
    )

    entry = container["Metadata"][0]
    assert entry["User"] == {"id": "1", "title": "owner"}
    assert entry["Player"] == {"machineIdentifier": "p", "title": "TV"}
    assert entry["Session"] == {"id": "s"}
    assert entry["TranscodeSession"] == {"key": "t"}
    assert entry["Media"] == [{"id": "1"}]


def test_xml_repeated_single_children_stay_a_list() -> None:
    container = xml_to_container(
        '<MediaContainer><Video ratingKey="1"><Player machineIdentifier="a"/>'
        '<Player machineIdentifier="b"/></Video></MediaContainer>'
    )
    players = container["Metadata"][0]["Player"]
    assert [p["machineIdentifier"] for p in players] == ["a", "b"]
    assert child(container["Metadata"][0], "Player") == players[0]


def test_xml_player_response_is_its_attributes() -> None:
    assert xml_to_container('<Response code="200" status="OK"/>') == {
        "code": "200",
        "status": "OK",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not xml at all", "not XML"),
        ('<MediaContainer size="1"><Video', "not XML"),
        ("", "not XML"),
        ("<html><body>Unauthorized</body></html>", "root is html"),
    ],
)
def test_xml_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        xml_to_container(text)


# -- the server ----------------------------------------------------------------------------


def test_server_info_from_json_and_xml() -> None:
    json_form = {
        "machineIdentifier": "abc",
        "friendlyName": "Home",
        "version": "1.42",
        "platform": "Linux",
        "platformVersion": "6.1",
        "transcoderActiveVideoSessions": 2,
        "myPlexUsername": "me@example.com",
    }
    xml_form = xml_to_container(
        '<MediaContainer machineIdentifier="abc" friendlyName="Home" version="1.42"'
        ' platform="Linux" platformVersion="6.1" transcoderActiveVideoSessions="2"'
        ' myPlexUsername="me@example.com"/>'
    )

    info = parse_server_info(json_form)
    assert info == parse_server_info(xml_form)
    assert info.transcoder_active_video_sessions == 2


def test_server_info_defaults_and_missing_identity() -> None:
    info = parse_server_info({"machineIdentifier": "abc"})
    assert (info.friendly_name, info.version, info.platform) == ("abc", "", None)
    assert info.transcoder_active_video_sessions is None

    for container in ({}, {"machineIdentifier": ""}, {"machineIdentifier": None}):
        with pytest.raises(ValueError, match="machineIdentifier"):
            parse_server_info(container)


def test_sections() -> None:
    sections = parse_sections(
        {
            "Directory": [
                {
                    "key": "1",
                    "title": "Movies",
                    "type": "movie",
                    "uuid": "u",
                    "updatedAt": "100",
                    "scannedAt": 90,
                    "refreshing": "1",
                    "thumb": "/t",
                },
                {"key": 2},
                {"title": "no key"},
                "junk",
            ]
        }
    )

    assert [(s.key, s.title, s.type) for s in sections] == [
        ("1", "Movies", "movie"),
        ("2", "2", "unknown"),
    ]
    assert (sections[0].updated_at, sections[0].scanned_at) == (100, 90)
    assert sections[0].refreshing
    assert not sections[1].refreshing
    assert parse_sections({"size": 0}) == []


# -- items ---------------------------------------------------------------------------------


def test_item_from_json() -> None:
    item = parse_item(
        {
            "ratingKey": 15,
            "type": "episode",
            "title": "Pilot",
            "key": "/library/metadata/15",
            "parentTitle": "Season 1",
            "grandparentTitle": "Breaking Bad",
            "parentRatingKey": "14",
            "grandparentRatingKey": 13,
            "index": 1,
            "parentIndex": "1",
            "year": 2008,
            "duration": 3221000,
            "viewOffset": "1000",
            "viewCount": 2,
            "rating": "8.5",
            "librarySectionID": 2,
            "librarySectionTitle": "TV Shows",
            "smart": False,
            "live": "0",
            "Genre": [{"tag": "Drama"}, {"tag": "Crime"}],
            "Guid": [{"id": "imdb://tt1"}, {"id": ""}, {"other": 1}],
        }
    )

    assert item is not None
    assert (item.rating_key, item.type, item.title) == ("15", "episode", "Pilot")
    assert item.grandparent_rating_key == "13"
    assert (item.index, item.parent_index) == (1, 1)
    assert item.view_offset == 1000
    assert item.rating == 8.5
    assert item.library_section_id == 2
    assert not item.smart
    assert not item.live
    assert item.genres == ("Drama", "Crime")
    assert item.guids == ("imdb://tt1",)


def test_item_with_missing_and_wrong_values() -> None:
    item = parse_item(
        {
            "ratingKey": "7",
            "year": "unknown",
            "duration": None,
            "title": None,
            "rating": [],
            "Genre": "Drama",
            "librarySectionID": {"id": 1},
        }
    )

    assert item == MediaItem(rating_key="7", type="unknown", title="")


def test_item_type_from_the_xml_tag_and_unknown_types() -> None:
    assert parse_item({"ratingKey": "1", "_tag": "Photo"}) == MediaItem(
        rating_key="1", type="photo", title=""
    )
    odd = parse_item({"ratingKey": "2", "type": "Podcast", "title": "Odd"})
    assert odd is not None
    assert odd.type == "podcast"


def test_entries_without_rating_key_are_not_items() -> None:
    assert parse_item({"title": "no key", "type": "movie"}) is None
    assert parse_item({"ratingKey": "", "type": "movie"}) is None
    entries = [{"ratingKey": "1"}, {"key": "/x"}, {"ratingKey": "2"}]
    assert [item.rating_key for item in parse_items(entries)] == ["1", "2"]


def test_item_image_falls_back() -> None:
    base = MediaItem(rating_key="1", type="episode", title="")
    assert base.image is None
    assert MediaItem(rating_key="1", type="x", title="", art="/a").image == "/a"
    episode = MediaItem(
        rating_key="1",
        type="episode",
        title="",
        grandparent_thumb="/show",
        parent_thumb="/season",
        art="/art",
    )
    assert episode.image == "/season"
    playlist = MediaItem(
        rating_key="1", type="playlist", title="", composite="/c", art="/a"
    )
    assert playlist.image == "/c"
    assert (
        MediaItem(rating_key="1", type="movie", title="", thumb="/t", art="/a").image
        == "/t"
    )


def test_pages() -> None:
    page = parse_page(
        {"offset": "10", "totalSize": "25", "Metadata": [{"ratingKey": "1"}]}
    )
    assert (page.offset, page.total_size, len(page.items)) == (10, 25, 1)

    # Without totalSize the page is all there is.
    bare = parse_page({"Metadata": [{"ratingKey": "1"}, {"ratingKey": "2"}]})
    assert (bare.offset, bare.total_size) == (0, 2)
    zero = parse_page({"totalSize": 0})
    assert (zero.total_size, zero.items) == (0, [])


def test_page_from_xml_equals_json() -> None:
    xml_form = xml_to_container(
        '<MediaContainer offset="0" totalSize="3" size="2">'
        '<Video ratingKey="1" type="movie" title="A" year="1999" viewCount="1"/>'
        '<Directory ratingKey="2" type="show" title="B" leafCount="10"'
        ' viewedLeafCount="0" childCount="2"/></MediaContainer>'
    )
    json_form = {
        "offset": 0,
        "totalSize": 3,
        "size": 2,
        "Metadata": [
            {
                "ratingKey": "1",
                "type": "movie",
                "title": "A",
                "year": 1999,
                "viewCount": 1,
            },
            {
                "ratingKey": "2",
                "type": "show",
                "title": "B",
                "leafCount": 10,
                "viewedLeafCount": 0,
                "childCount": 2,
            },
        ],
    }
    assert parse_page(xml_form) == parse_page(json_form)


# -- devices and accounts ------------------------------------------------------------------


def test_clients() -> None:
    devices = parse_clients(
        {
            "Server": [
                {
                    "machineIdentifier": "tv",
                    "name": "TV",
                    "product": "Plex for Android (TV)",
                    "protocolCapabilities": "timeline,playback,,navigation",
                    "address": "10.0.0.2",
                },
                {
                    "machineIdentifier": "web",
                    "product": "Plex Web",
                    "protocolCapabilities": "playback",
                },
                {"machineIdentifier": "speaker", "protocolCapabilities": None},
                {"name": "no id"},
            ]
        }
    )

    tv, web, speaker = devices
    assert tv.protocol_capabilities == ("timeline", "playback", "navigation")
    assert tv.controllable
    assert web.name == "web"
    assert not web.controllable
    assert speaker.protocol_capabilities == ()
    assert not speaker.controllable


def test_accounts_leave_out_the_nameless() -> None:
    accounts = parse_accounts(
        {
            "Account": [
                {"id": 0, "name": ""},
                {"id": 1, "name": "owner"},
                {"id": "1000", "name": "Sam"},
                {"name": "no id"},
            ]
        }
    )
    assert accounts == [Account(id="1", name="owner"), Account(id="1000", name="Sam")]


def test_devices() -> None:
    devices = parse_devices(
        {
            "Device": [
                {"id": 3, "name": "TV", "clientIdentifier": "tv"},
                {"id": "4"},
                {"name": "no id"},
            ]
        }
    )
    assert devices == [
        SystemDevice(id="3", name="TV", client_identifier="tv"),
        SystemDevice(id="4", name="4"),
    ]


# -- sessions ------------------------------------------------------------------------------


def session_entry(**overrides: Any) -> dict[str, Any]:
    """A ``/status/sessions`` entry in the JSON form."""
    entry: dict[str, Any] = {
        "ratingKey": "1",
        "type": "movie",
        "title": "The Matrix",
        "sessionKey": "5",
        "librarySectionID": 1,
        "User": {"id": "1", "title": "owner", "thumb": "/u"},
        "Player": {
            "machineIdentifier": "tv",
            "title": "TV",
            "product": "Plex for Android (TV)",
            "state": "paused",
        },
        "Session": {"id": "abc", "bandwidth": 8000, "location": "wan"},
        "Media": [
            {
                "videoResolution": "1080",
                "bitrate": 9000,
                "container": "mkv",
                "Part": [
                    {
                        "Stream": [
                            {"streamType": 1, "decision": "copy"},
                            {"streamType": 2, "decision": "transcode"},
                            {"streamType": 3, "decision": "burn", "selected": True},
                        ]
                    }
                ],
            }
        ],
        "TranscodeSession": {
            "videoDecision": "copy",
            "transcodeHwRequested": True,
            "throttled": "1",
            "transcodeReason": "audioCodecNotSupported,,bitrateTooHigh",
        },
    }
    entry.update(overrides)
    return entry


def test_session_from_json() -> None:
    [session] = parse_sessions({"Metadata": [session_entry()]})

    assert session.session_key == "5"
    assert session.item.rating_key == "1"
    assert session.player == Device(
        machine_identifier="tv", name="TV", product="Plex for Android (TV)"
    )
    assert session.state == "paused"
    assert session.user == User(id="1", title="owner", thumb="/u")
    assert (session.session_id, session.bandwidth, session.location) == (
        "abc",
        8000,
        "wan",
    )
    assert session.quality == StreamQuality(
        video_resolution="1080",
        bitrate=9000,
        container="mkv",
        video_decision="copy",
        audio_decision="transcode",
        subtitle_decision="burn",
        transcode_hw=True,
        throttled=True,
        transcode_reasons=("audioCodecNotSupported", "bitrateTooHigh"),
    )
    assert session.transcoding


def test_session_from_xml_equals_json() -> None:
    xml_form = xml_to_container(
        """<MediaContainer size="1">
        <Video ratingKey="1" type="movie" title="The Matrix" sessionKey="5"
               librarySectionID="1">
          <Media videoResolution="1080" bitrate="9000" container="mkv">
            <Part>
              <Stream streamType="1" decision="copy"/>
              <Stream streamType="2" decision="transcode"/>
              <Stream streamType="3" decision="burn" selected="1"/>
            </Part>
          </Media>
          <User id="1" title="owner" thumb="/u"/>
          <Player machineIdentifier="tv" title="TV" product="Plex for Android (TV)"
                  state="paused"/>
          <Session id="abc" bandwidth="8000" location="wan"/>
          <TranscodeSession videoDecision="copy" transcodeHwRequested="1" throttled="1"
              transcodeReason="audioCodecNotSupported,,bitrateTooHigh"/>
        </Video>
        </MediaContainer>"""
    )
    assert parse_sessions(xml_form) == parse_sessions({"Metadata": [session_entry()]})


def test_session_defaults() -> None:
    entry = session_entry(
        User={"id": "1"},  # a user without a title is no user
        Player={"machineIdentifier": "web", "product": "Plex Web"},
        Media=[],
    )
    del entry["Session"], entry["TranscodeSession"]

    [session] = parse_sessions({"Metadata": [entry]})

    assert session.user is None
    assert session.state == "playing"
    assert session.player.name == "Plex Web"
    assert not session.player.controllable
    assert session.session_id is None
    assert session.bandwidth is None
    assert session.quality == StreamQuality()
    assert session.quality.decision == "direct play"
    assert not session.transcoding


def test_session_player_named_by_its_identifier() -> None:
    [session] = parse_sessions(
        {"Metadata": [session_entry(Player={"machineIdentifier": "x"})]}
    )
    assert session.player.name == "x"


def test_sessions_without_player_or_key_are_left_out() -> None:
    no_player = session_entry()
    del no_player["Player"]
    no_id = session_entry(Player={"title": "TV"})
    no_key = session_entry()
    del no_key["sessionKey"]

    assert parse_sessions({"Metadata": [no_player, no_id, no_key]}) == []
    assert parse_sessions({}) == []


def test_session_of_an_item_without_rating_key() -> None:
    live = session_entry(key="/livetv/sessions/uuid", live=1, librarySectionID="-4")
    del live["ratingKey"]
    bare = session_entry(sessionKey="9")
    del bare["ratingKey"]

    first, second = parse_sessions({"Metadata": [live, bare]})

    assert first.item.rating_key == "/livetv/sessions/uuid"
    assert first.item.live
    assert first.item.library_section_id == -4
    assert second.item.rating_key == "9"


def test_quality_picks_the_selected_media_and_audio() -> None:
    entry = session_entry(
        Media=[
            {"videoResolution": "4k", "Part": {"Stream": []}},
            {
                "videoResolution": "720",
                "selected": "1",
                "Part": {
                    "Stream": [
                        {"streamType": "2", "decision": "copy"},
                        {"streamType": "2", "decision": "transcode", "selected": 1},
                        {"streamType": "3", "decision": "transcode"},  # not selected
                        {"streamType": "1"},
                        {"streamType": None, "decision": "transcode"},
                    ]
                },
            },
        ]
    )
    del entry["TranscodeSession"]

    [session] = parse_sessions({"Metadata": [entry]})

    quality = session.quality
    assert quality.video_resolution == "720"
    assert quality.video_decision is None
    assert quality.audio_decision == "transcode"
    assert quality.subtitle_decision is None
    assert not quality.transcode_hw
    assert not quality.throttled
    assert quality.transcode_reasons == ()


def test_quality_of_media_without_parts() -> None:
    entry = session_entry(Media=[{"videoResolution": "sd"}])
    del entry["TranscodeSession"]
    [session] = parse_sessions({"Metadata": [entry]})
    assert session.quality == StreamQuality(video_resolution="sd")


@pytest.mark.parametrize(
    ("decisions", "expected"),
    [
        (("copy", "transcode", None), "transcode"),
        ((None, None, "transcode"), "transcode"),
        (("copy", "copy", None), "copy"),
        (("directplay", "directplay", None), "direct play"),
        ((None, None, None), "direct play"),
    ],
)
def test_decision(decisions: tuple[str | None, ...], expected: str) -> None:
    video, audio, subtitle = decisions
    quality = StreamQuality(
        video_decision=video, audio_decision=audio, subtitle_decision=subtitle
    )
    assert quality.decision == expected


# -- history, hubs, directories ------------------------------------------------------------


def test_history() -> None:
    entries = parse_history(
        {
            "Metadata": [
                {
                    "ratingKey": "15",
                    "title": "Pilot",
                    "type": "episode",
                    "viewedAt": "1700000000",
                    "accountID": 1,
                    "deviceID": 3,
                    "grandparentTitle": "Breaking Bad",
                    "parentTitle": "Season 1",
                    "librarySectionID": "2",
                },
                {},
            ]
        }
    )

    episode, empty = entries
    assert (episode.rating_key, episode.viewed_at) == ("15", 1_700_000_000)
    assert (episode.account_id, episode.device_id) == ("1", "3")
    assert episode.library_section_id == 2
    assert (empty.rating_key, empty.title, empty.type) == (None, "", "unknown")
    assert empty.viewed_at is None


def test_hubs_from_xml_equal_json() -> None:
    xml_form = xml_to_container(
        '<MediaContainer size="2">'
        '<Hub title="Movies" type="movie" hubIdentifier="movie" more="1">'
        '<Video ratingKey="1" type="movie" title="The Matrix"/></Hub>'
        '<Hub title="Shows" type="show" hubIdentifier="show">'
        '<Directory ratingKey="13" type="show" title="Breaking Bad"/>'
        '<Directory key="/genre/1" title="not an item"/></Hub>'
        "</MediaContainer>"
    )
    json_form = {
        "Hub": [
            {
                "title": "Movies",
                "type": "movie",
                "hubIdentifier": "movie",
                "more": True,
                "Metadata": [
                    {"ratingKey": "1", "type": "movie", "title": "The Matrix"}
                ],
            },
            {
                "title": "Shows",
                "type": "show",
                "hubIdentifier": "show",
                "Metadata": {
                    "ratingKey": "13",
                    "type": "show",
                    "title": "Breaking Bad",
                },
            },
        ]
    }

    hubs = parse_hubs(json_form)
    assert parse_hubs(xml_form) == hubs
    assert hubs[0].more
    assert not hubs[1].more
    assert [item.title for item in hubs[1].items] == ["Breaking Bad"]


def test_hub_defaults() -> None:
    [hub] = parse_hubs({"Hub": {}})
    assert (hub.title, hub.type, hub.hub_identifier, hub.items) == (
        "",
        "unknown",
        None,
        [],
    )


def test_directories() -> None:
    xml_form = xml_to_container(
        '<MediaContainer><Directory key="B" title="B" size="3"/>'
        '<Directory key="25" title="Drama"/><Directory title="no key"/>'
        '<Directory key="#"/></MediaContainer>'
    )
    assert parse_directories(xml_form) == [
        DirectoryEntry(key="B", title="B", size=3),
        DirectoryEntry(key="25", title="Drama"),
        DirectoryEntry(key="#", title="#"),
    ]


# -- updates, queues, streams --------------------------------------------------------------


def test_update_status() -> None:
    status = parse_update_status(
        {
            "canInstall": "1",
            "checkedAt": 1_700_000_000,
            "downloadURL": "https://plex.tv/download?X-Plex-Token=secret",
            "Release": [
                {"version": "", "state": "notify"},
                {"version": "1.43", "added": "new", "fixed": "bugs", "state": "notify"},
                {"version": "1.42"},
            ],
        }
    )

    assert status.can_install
    assert status.checked_at == 1_700_000_000
    assert status.release == Release(
        version="1.43", added="new", fixed="bugs", state="notify"
    )
    assert "secret" not in repr(status)


def test_update_status_without_release() -> None:
    status = parse_update_status({})
    assert (status.can_install, status.checked_at, status.release) == (
        False,
        None,
        None,
    )


def test_play_queue_ids_read_alike() -> None:
    json_form = {
        "playQueueID": 12,
        "playQueueSelectedItemID": 34,
        "playQueueSelectedMetadataItemID": "1",
        "playQueueTotalCount": 3,
    }
    xml_form = xml_to_container(
        '<MediaContainer playQueueID="12" playQueueSelectedItemID="34"'
        ' playQueueSelectedMetadataItemID="1" playQueueTotalCount="3"/>'
    )
    expected = PlayQueue(
        id="12", selected_item_id="34", selected_rating_key="1", total_count=3
    )
    assert parse_play_queue(json_form) == expected
    assert parse_play_queue(xml_form) == expected
    assert parse_play_queue({"playQueueID": "7"}) == PlayQueue("7", None, None, 0)
    with pytest.raises(ValueError, match="no play queue"):
        parse_play_queue({"size": 0})


def test_item_streams() -> None:
    container = {
        "Metadata": [
            {
                "ratingKey": "1",
                "Media": [
                    {
                        "Part": [
                            {
                                "Stream": [
                                    {"id": 1, "streamType": 1},
                                    {
                                        "id": "2",
                                        "streamType": "2",
                                        "language": "English",
                                        "languageCode": "eng",
                                        "languageTag": "en",
                                        "displayTitle": "English (AAC)",
                                        "selected": True,
                                    },
                                    {"id": 3},
                                    {"streamType": 3},
                                ]
                            },
                            {"Stream": [{"id": 9, "streamType": 1}]},
                        ]
                    }
                ],
            }
        ]
    }

    streams = parse_item_streams(container)

    assert streams == [
        MediaStream(id=1, stream_type=1),
        MediaStream(
            id=2,
            stream_type=2,
            language="English",
            language_code="eng",
            language_tag="en",
            display_title="English (AAC)",
            selected=True,
        ),
    ]
    assert parse_item_streams({}) == []
    assert parse_item_streams({"Metadata": [{"ratingKey": "1"}]}) == []
    assert parse_item_streams({"Metadata": [{"Media": [{}]}]}) == []


@pytest.mark.parametrize(
    ("language", "expected"),
    [("English", True), ("eng", True), (" EN ", True), ("fr", False), ("", False)],
)
def test_stream_speaks(language: str, expected: bool) -> None:
    stream = MediaStream(
        id=1, stream_type=2, language="English", language_code="eng", language_tag="en"
    )
    assert stream.speaks(language) is expected


def test_stream_without_language_speaks_nothing() -> None:
    assert not MediaStream(id=1, stream_type=3).speaks("en")
