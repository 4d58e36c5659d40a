"""Parsing notification frames: what the emulator publishes, and broken frames."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from custom_components.plex_bridge.api.notifications import (
    ActivityNotification,
    Notification,
    PlayingNotification,
    StatusNotification,
    TimelineNotification,
    TranscodeNotification,
    parse_notifications,
)
from tests.plex_server import PlexEmulator

LIVING_ROOM = "1234567890123456-com-plexapp-android"


def drain(queue: asyncio.Queue[dict[str, Any]]) -> list[Notification]:
    """Parse every frame published so far, as the websocket would send it."""
    parsed: list[Notification] = []
    while not queue.empty():
        parsed.extend(parse_notifications(json.dumps(queue.get_nowait())))
    return parsed


def frame(notification_type: str, key: str, entries: Any) -> str:
    """One ``NotificationContainer`` frame."""
    return json.dumps(
        {"NotificationContainer": {"type": notification_type, key: entries}}
    )


async def test_playing_and_transcode_from_the_emulator(
    plex_server: PlexEmulator,
) -> None:
    queue = plex_server.notifications.subscribe()
    session = plex_server.sessions.start_session(
        player="Living Room TV", rating_key="1", transcode=True, view_offset=5_000
    )
    plex_server.sessions.stop_session(session)

    parsed = drain(queue)
    plex_server.notifications.unsubscribe(queue)

    playing = [n for n in parsed if isinstance(n, PlayingNotification)]
    assert playing[0] == PlayingNotification(
        session_key=str(session.session_key),
        client_identifier=LIVING_ROOM,
        rating_key="1",
        key="/library/metadata/1",
        state="playing",
        view_offset=5_000,
        transcode_session=session.transcode_id,
    )
    assert playing[-1].state == "stopped"
    transcodes = [n for n in parsed if isinstance(n, TranscodeNotification)]
    assert [t.event for t in transcodes] == ["start", "end"]
    assert all(t.key and session.transcode_id in t.key for t in transcodes)


async def test_timeline_from_the_emulator(plex_server: PlexEmulator) -> None:
    queue = plex_server.notifications.subscribe()
    item = plex_server.library.update_item("1", title="The Matrix (Remastered)")

    (timeline,) = drain(queue)
    plex_server.notifications.unsubscribe(queue)

    assert timeline == TimelineNotification(
        item_id="1",
        section_id=str(item.section.id),
        type=1,
        state=5,
        title="The Matrix (Remastered)",
        identifier="com.plexapp.plugins.library",
        metadata_state=None,
        updated_at=item.updated_at,
    )


async def test_activity_and_status_from_the_emulator(
    plex_server: PlexEmulator,
) -> None:
    queue = plex_server.notifications.subscribe()
    section = plex_server.library.refresh_section(1)

    *activities, status = drain(queue)
    plex_server.notifications.unsubscribe(queue)

    assert [a.event for a in activities if isinstance(a, ActivityNotification)] == [
        "started",
        "updated",
        "ended",
    ]
    started = activities[0]
    assert isinstance(started, ActivityNotification)
    assert started.activity_type == "library.update.section"
    assert started.title == f"Scanning {section.title}"
    assert started.section_id == "1"
    assert len(started.uuid) == 32
    assert [a.progress for a in activities if isinstance(a, ActivityNotification)] == [
        0,
        50,
        100,
    ]
    assert status == StatusNotification(
        notification_name="LIBRARY_UPDATE",
        title="Library scan complete",
        description="",
    )


def test_every_entry_in_order_and_bytes_too() -> None:
    text = frame(
        "playing",
        "PlaySessionStateNotification",
        [
            {"sessionKey": "1", "ratingKey": "10", "state": "paused"},
            {"sessionKey": 2, "ratingKey": 11, "state": "playing", "viewOffset": "7.5"},
        ],
    )
    first, second = parse_notifications(text.encode())
    assert first == PlayingNotification(
        session_key="1",
        client_identifier="",
        rating_key="10",
        key="/library/metadata/10",
        state="paused",
        view_offset=None,
        transcode_session=None,
    )
    assert isinstance(second, PlayingNotification)
    assert (second.session_key, second.rating_key, second.view_offset) == (
        "2",
        "11",
        7,
    )


def test_loose_values_are_read_or_dropped() -> None:
    (entry,) = parse_notifications(
        frame(
            "timeline",
            "TimelineEntry",
            [
                {
                    "itemID": 5,
                    "sectionID": True,
                    "type": 2.0,
                    "state": "nine",
                    "title": None,
                    "metadataState": "created",
                    "updatedAt": [1],
                }
            ],
        )
    )
    assert entry == TimelineNotification(
        item_id="5",
        section_id=None,
        type=2,
        state=None,
        title=None,
        identifier=None,
        metadata_state="created",
        updated_at=None,
    )
    (bool_offset,) = parse_notifications(
        frame(
            "playing",
            "PlaySessionStateNotification",
            [{"sessionKey": "1", "ratingKey": "1", "state": "x", "viewOffset": True}],
        )
    )
    assert isinstance(bool_offset, PlayingNotification)
    assert bool_offset.view_offset is None


def test_activity_uuid_and_context_are_optional_where_plex_omits_them() -> None:
    (entry,) = parse_notifications(
        frame(
            "activity",
            "ActivityNotification",
            [
                {
                    "event": "ended",
                    "Activity": {"uuid": "abc", "type": "library.refresh.items"},
                }
            ],
        )
    )
    assert entry == ActivityNotification(
        event="ended",
        uuid="abc",
        activity_type="library.refresh.items",
        title=None,
        progress=None,
        section_id=None,
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("{not json", id="not-json"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param("[1, 2]", id="not-an-object"),
        pytest.param('{"Other": {}}', id="no-container"),
        pytest.param('{"NotificationContainer": []}', id="container-not-object"),
        pytest.param(
            '{"NotificationContainer": {"type": "log", "Log": [{}]}}',
            id="unknown-type",
        ),
        pytest.param(
            '{"NotificationContainer": {"type": 3, "Log": [{}]}}',
            id="type-not-text",
        ),
        pytest.param('{"NotificationContainer": {"type": "playing"}}', id="no-entries"),
        pytest.param(
            frame("playing", "PlaySessionStateNotification", {"sessionKey": "1"}),
            id="entries-not-list",
        ),
    ],
)
def test_frames_that_give_nothing(text: str | bytes) -> None:
    assert parse_notifications(text) == []


def test_malformed_entries_are_skipped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, "custom_components.plex_bridge.api.notifications")
    entries = [
        "not an object",
        {"ratingKey": "1", "state": "playing"},
        {"sessionKey": "1", "ratingKey": "1", "state": {"nested": True}},
        {"sessionKey": "1", "ratingKey": "1", "state": "playing"},
    ]
    parsed = parse_notifications(
        frame("playing", "PlaySessionStateNotification", entries)
    )
    assert [type(n) for n in parsed] == [PlayingNotification]
    assert "without a valid sessionKey" in caplog.text
    assert "without a valid state" in caplog.text
    assert "not an object" in caplog.text

    assert (
        parse_notifications(frame("activity", "ActivityNotification", [{"event": "x"}]))
        == []
    )
    assert (
        parse_notifications(frame("status", "StatusNotification", [{"title": "x"}]))
        == []
    )
    assert (
        parse_notifications(frame("timeline", "TimelineEntry", [{"title": "x"}])) == []
    )
