"""End-to-end: Plex Bridge in a Home Assistant started as a user starts it, then a browser.

``scripts/e2e`` runs this inside the project's environment. Nothing of Home
Assistant runs in this process: it starts the emulated Plex Media Server (``python
-m tests.plex_server``, the ``small`` world) and ``hass -c <temporary config>`` with
the integration copied into ``custom_components/``, each in its own process group,
and then only talks to them over their public APIs:

1. onboarding and a token (``/api/onboarding/users``, ``/auth/token``);
2. the config flow over HTTP, as the UI posts it (``/api/config/config_entries/flow``;
   a first step that is a menu is answered with ``manual``);
3. states over REST and the websocket: players, sensors, the update entity;
4. ``media_player.media_pause`` (the emulated player pauses: its control API says
   so), ``media_player.play_media`` with a JSON payload (it plays that episode),
   ``plex_bridge.recently_added`` and ``plex_bridge.history`` with
   ``?return_response``;
5. a session started on the emulator arrives as a state change on the websocket
   (``subscribe_entities``);
6. the "Plex" dashboard (``demo_dashboard.install_dashboard``), then Chromium driven
   by Playwright: log in through the login page, open the dashboard and the media
   browser, find the playing title and the player names in the DOM, screenshot both.

Everything started is stopped in ``finally`` (process groups: SIGINT, then SIGKILL).

Usage: python scripts/e2e_run.py --out DIR [--chromium PATH] [--keep-config]

``scripts/e2e`` runs it in a network namespace of its own with loopback as the only
interface (multicast routed to it), so nothing it starts reaches past this machine:
neither Home Assistant's lookups nor zeroconf nor the integration's GDM discovery.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
from pathlib import Path
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp
from demo_dashboard import DASHBOARD_URL, install_dashboard, wait_for_entities
from hass_api import Hass, HassError, HassSocket, wait_until

REPO = Path(__file__).resolve().parent.parent
TOKEN = "plex-bridge-e2e-token"  # noqa: S105  # the emulator's, for this run
USERNAME = "e2e"
CONFIGURATION = """\
# Written by scripts/e2e_run.py for one run; removed afterwards.
homeassistant:
  name: Plex Bridge e2e
  time_zone: UTC
  country: US
  unit_system: metric
  currency: EUR
  latitude: 52.37
  longitude: 4.89
  elevation: 0
frontend:
config:
person:
media_source:
logger:
  default: warning
  logs:
    custom_components.plex_bridge: debug
"""
PLAYERS = ("Living Room TV", "Bedroom", "Chrome", "Kitchen")


def log(message: str) -> None:
    """Progress, with the time since the start."""
    print(f"e2e [{time.monotonic() - STARTED:5.1f} s] {message}", flush=True)


STARTED = time.monotonic()


PASSED: list[str] = []


def check(condition: object, message: str) -> None:
    """Fail the run with ``message`` unless ``condition`` holds."""
    if not condition:
        raise AssertionError(message)
    PASSED.append(message)
    log(f"ok: {message}")


def free_port() -> int:
    """A port nobody listens on now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Processes:
    """What the run started, each in its own process group, stopped in reverse order."""

    def __init__(self) -> None:
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self, name: str, args: list[str], **kwargs: Any
    ) -> subprocess.Popen[bytes]:
        """Start ``args`` in a new session (so its whole group can be signalled)."""
        process = subprocess.Popen(args, start_new_session=True, **kwargs)  # noqa: S603
        self.started.append((name, process))
        return process

    def stop_all(self) -> None:
        """SIGINT each group (both servers shut down cleanly on it), then SIGKILL."""
        for name, process in reversed(self.started):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
            log(f"stopped {name} (exit {process.returncode})")
        self.started.clear()


def start_emulator(processes: Processes, out: Path) -> dict[str, Any]:
    """The emulator in its own process; its one line of JSON."""
    process = processes.start(
        "the Plex emulator",
        [
            sys.executable,
            "-m",
            "tests.plex_server",
            "--library",
            "small",
            "--port",
            "0",
            "--token",
            TOKEN,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=(out / "plex-server.log").open("wb"),
    )
    line = process.stdout.readline() if process.stdout is not None else b""
    if not line:
        raise RuntimeError(f"the emulator did not start; see {out / 'plex-server.log'}")
    return dict(json.loads(line))


def make_config(config_dir: Path) -> None:
    """A configuration folder with the integration copied in, as a user installs it.

    No ``http:`` section: Home Assistant 2026 moves HTTP settings from YAML into
    its storage as a trial that the UI must confirm (a dialog over every page);
    the port comes from ``SETUP_PORT``, the default a fresh instance starts with.
    """
    (config_dir / "configuration.yaml").write_text(CONFIGURATION, encoding="utf-8")
    shutil.copytree(
        REPO / "custom_components" / "plex_bridge",
        config_dir / "custom_components" / "plex_bridge",
        ignore=shutil.ignore_patterns("__pycache__"),
    )


async def control(
    session: aiohttp.ClientSession,
    emulator: dict[str, Any],
    method: str,
    path: str,
    payload: Any = None,
) -> Any:
    """The emulator's control API (no token; loopback only)."""
    async with session.request(
        method, f"{emulator['control']}{path}", json=payload
    ) as response:
        response.raise_for_status()
        return await response.json(content_type=None)


async def emulated_session(
    session: aiohttp.ClientSession, emulator: dict[str, Any], player: str
) -> dict[str, Any] | None:
    """What the emulated player ``player`` (its name) plays now, if anything."""
    state = await control(session, emulator, "GET", "/state")
    ids = {p["machineIdentifier"] for p in state["players"] if p["title"] == player}
    return next((s for s in state["sessions"] if s["player"] in ids), None)


async def add_entry(hass: Hass, emulator: dict[str, Any]) -> dict[str, Any]:
    """Add the Plex Bridge entry through the config-flow HTTP API, as the UI does."""
    step = await hass.rest(
        "POST",
        "/api/config/config_entries/flow",
        {"handler": "plex_bridge", "show_advanced_options": False},
    )
    flow = f"/api/config/config_entries/flow/{step['flow_id']}"
    if step["type"] == "menu":
        check("manual" in step["menu_options"], "the first step offers manual entry")
        step = await hass.rest("POST", flow, {"next_step_id": "manual"})
    check(step["type"] == "form", f"the flow asks for the server ({step['step_id']})")
    result = await hass.rest(
        "POST",
        flow,
        {"url": emulator["url"], "token": emulator["token"], "verify_ssl": True},
    )
    check(
        result["type"] == "create_entry",
        f"the entry is created: {result.get('title') or result}",
    )
    return dict(result)


async def api_checks(
    hass: Hass, ws: HassSocket, session: aiohttp.ClientSession, emulator: dict[str, Any]
) -> dict[str, str]:
    """Everything through REST and the websocket; returns the entity ids by role."""
    entries = await wait_for_entities(ws)
    states = {s["entity_id"]: s for s in await hass.rest("GET", "/api/states")}
    ours = [e["entity_id"] for e in entries if not e.get("disabled_by")]
    names = {
        states[eid]["attributes"].get("friendly_name"): eid
        for eid in ours
        if eid.startswith("media_player.") and eid in states
    }
    for player in PLAYERS:
        check(player in names, f"player {player!r} is {names.get(player)}")
    living, bedroom = names["Living Room TV"], names["Bedroom"]
    keyed = {
        (e.get("translation_key") or e["unique_id"].rsplit("-", 1)[-1]): e["entity_id"]
        for e in entries
    }
    for key in ("active_streams", "bandwidth", "transcodes", "recently_added"):
        check(key in keyed and keyed[key] in states, f"sensor {key}: {keyed.get(key)}")
    check(states[keyed["active_streams"]]["state"] == "0", "nothing plays at first")
    updates = [eid for eid in ours if eid.startswith("update.")]
    check(updates, f"the update entity exists: {updates}")
    update = states[updates[0]]
    check(
        update["attributes"].get("installed_version"),
        f"it knows the installed release {update['attributes'].get('installed_version')}",
    )

    # A session started on the emulator reaches Home Assistant's websocket.
    queue = await ws.subscribe("subscribe_entities", entity_ids=[living])
    await control(
        session,
        emulator,
        "POST",
        "/sessions",
        {"player": "Living Room TV", "ratingKey": "1"},
    )
    playing = await next_state(queue, living, "playing")
    check(
        playing["a"].get("media_title") == "The Matrix",
        f"the websocket brings {living} playing {playing['a'].get('media_title')!r}",
    )

    # media_pause through REST: the emulated player pauses.
    await hass.rest(
        "POST", "/api/services/media_player/media_pause", {"entity_id": living}
    )

    async def paused() -> bool | None:
        current = await emulated_session(session, emulator, "Living Room TV")
        return True if current and current["state"] == "paused" else None

    await wait_until(paused, within=20, what="the emulated player to pause")
    check(True, "media_pause paused the emulated Living Room TV")
    await next_state(queue, living, "paused")
    check(True, "the websocket brings the pause back")

    # play_media with a JSON payload: that episode plays on the Bedroom player.
    payload = {"library": "TV Shows", "show": "Breaking Bad", "season": 1, "episode": 2}
    await hass.rest(
        "POST",
        "/api/services/media_player/play_media",
        {
            "entity_id": bedroom,
            "media_content_type": "episode",
            "media_content_id": json.dumps(payload),
        },
    )

    async def bedroom_plays() -> dict[str, Any] | None:
        return await emulated_session(session, emulator, "Bedroom")

    started = await wait_until(bedroom_plays, within=20, what="the Bedroom to play")
    check(
        started["type"] == "episode",
        f"play_media plays {started['title']!r} on Bedroom",
    )

    async def bedroom_state() -> dict[str, Any] | None:
        state = await hass.rest("GET", f"/api/states/{bedroom}")
        return state if state["state"] == "playing" else None

    state = await wait_until(bedroom_state, within=20, what=f"{bedroom} to play")
    check(
        state["attributes"].get("media_series_title") == "Breaking Bad",
        f"{bedroom} shows {state['attributes'].get('media_title')!r}",
    )

    # Services that answer: ?return_response.
    answer = await hass.rest(
        "POST",
        "/api/services/plex_bridge/recently_added?return_response",
        {"limit": 5},
    )
    items = answer["service_response"]["items"]
    check(
        len(items) == 5 and all(item["title"] for item in items),
        f"recently_added answers {[item['title'] for item in items]}",
    )
    # Watched to the end (Plex records a view past 90 %), then stopped.
    await control(
        session,
        emulator,
        "POST",
        "/sessions/Bedroom/seek",
        {"offset": int(started["duration"] * 0.95)},
    )
    await control(session, emulator, "POST", "/sessions/Bedroom/stop")
    history = await hass.rest(
        "POST", "/api/services/plex_bridge/history?return_response", {"limit": 5}
    )
    plays = history["service_response"]["plays"]
    check(
        any(play.get("player") == "Bedroom" for play in plays),
        f"history answers {len(plays)} plays, the Bedroom's among them",
    )
    # Leave something playing for the dashboard.
    await control(session, emulator, "POST", "/sessions/Living%20Room%20TV/resume")
    await next_state(queue, living, "playing")
    return {"living": living, "bedroom": bedroom}


async def next_state(
    queue: asyncio.Queue[Any], entity_id: str, wanted: str, within: float = 30
) -> dict[str, Any]:
    """Read ``subscribe_entities`` messages until ``entity_id`` is ``wanted``.

    The first message is the full state (``a``: added); later ones are changes
    (``c``: ``+`` with the new parts). Returns the entity's compressed state with
    its attributes merged.
    """
    current: dict[str, Any] = {"s": None, "a": {}}
    async with asyncio.timeout(within):
        while True:
            message = await queue.get()
            if entity_id in message.get("a", {}):
                current = dict(message["a"][entity_id])
                current.setdefault("a", {})
            if entity_id in message.get("c", {}):
                change = message["c"][entity_id].get("+", {})
                if "s" in change:
                    current["s"] = change["s"]
                current["a"] = {**current.get("a", {}), **change.get("a", {})}
            if current.get("s") == wanted:
                return current


def shown(page: Any, text: str) -> Any:
    """The first visible element with ``text`` (tooltips hold copies, hidden)."""
    return page.get_by_text(text).filter(visible=True).first


async def browser_checks(
    hass: Hass, password: str, chromium: str, out: Path, entity_ids: dict[str, str]
) -> None:
    """Chromium through Playwright: log in, the dashboard, the media browser."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.set_default_timeout(30_000)
            await page.goto(f"{hass.base}/{DASHBOARD_URL}/plex")
            await page.locator("input[name='username']").fill(USERNAME)
            await page.locator("input[name='password']").fill(password)
            await page.locator("input[name='password']").press("Enter")
            await page.wait_for_url(f"**/{DASHBOARD_URL}/plex**")
            check(True, "logged in through the login page")
            await shown(page, "The Matrix").wait_for()
            for player in PLAYERS:
                await shown(page, player).wait_for()
            check(True, "the dashboard shows The Matrix and every player")
            await page.wait_for_timeout(
                1500
            )  # let images and fonts settle for the picture
            await page.screenshot(path=str(out / "dashboard.png"))

            await page.goto(f"{hass.base}/media-browser/{entity_ids['living']}")
            await shown(page, "Movies").wait_for()
            await shown(page, "TV Shows").wait_for()
            await shown(page, "Living Room TV").wait_for()
            check(True, "the media browser lists the libraries for Living Room TV")
            await shown(page, "Movies").click()
            await shown(page, "The Matrix").wait_for()
            check(True, "the media browser opens Movies")
            await page.wait_for_timeout(1500)
            await page.screenshot(path=str(out / "media-browser.png"))
        except Exception:
            await page.screenshot(path=str(out / "failure.png"))
            log(f"the page at the failure: {out / 'failure.png'}")
            raise
        finally:
            await browser.close()


async def run(args: argparse.Namespace) -> None:
    """The whole run; raises on the first failed check."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240  # before anything runs
    processes = Processes()
    config_dir = Path(tempfile.mkdtemp(prefix="plex-bridge-e2e-"))
    try:
        emulator = start_emulator(processes, out)
        log(f"emulator at {emulator['url']}")
        port = free_port()
        make_config(config_dir)
        # --skip-pip: the run has loopback only, so Home Assistant cannot install
        # what its built-in integrations want at first start (each try would cost
        # 30 s of retries); those it lacks fail at once, and none is needed here.
        processes.start(
            "Home Assistant",
            ["hass", "-c", str(config_dir), "--skip-pip"],
            env={**os.environ, "SETUP_PORT": str(port)},
            stdout=subprocess.DEVNULL,
            stderr=(out / "home-assistant.log").open("wb"),
        )
        log(f"hass -c {config_dir} --skip-pip (port {port})")
        async with aiohttp.ClientSession() as session:
            hass = Hass(session, f"http://127.0.0.1:{port}")
            await hass.wait_http()
            password = secrets.token_urlsafe(12)
            await hass.onboard(USERNAME, password)
            check(await hass.onboarding_steps() is None, "onboarding is complete")
            async with hass.websocket() as ws:
                await ws.wait_running()
                log("Home Assistant is running")
                await add_entry(hass, emulator)
                entity_ids = await api_checks(hass, ws, session, emulator)
                config = await install_dashboard(ws)
                check(
                    len(config["views"][0]["cards"]) >= len(PLAYERS) + 2,
                    "the Plex dashboard is installed",
                )
            await browser_checks(hass, password, args.chromium, out, entity_ids)
    finally:
        processes.stop_all()
        if args.keep_config:
            log(f"kept {config_dir}")
        else:
            shutil.rmtree(config_dir, ignore_errors=True)


def main() -> int:
    """Entry point; 0 when every check passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="logs and screenshots go here")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--keep-config", action="store_true")
    args = parser.parse_args()
    # SIGTERM (scripts/e2e's trap, CI's end) unwinds like Ctrl-C, so finally runs.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    from playwright.async_api import Error as PlaywrightError

    try:
        asyncio.run(run(args))
    except (
        AssertionError,
        HassError,
        TimeoutError,
        aiohttp.ClientError,
        PlaywrightError,
    ) as err:
        log(f"FAILED: {type(err).__name__}: {err}")
        log(f"logs: {args.out}/home-assistant.log, {args.out}/plex-server.log")
        print(f"e2e: {len(PASSED)} passed, 1 failed", flush=True)
        return 1
    # The plain closing line CI reads, as pytest's is read.
    print(f"e2e: {len(PASSED)} passed, 0 failed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
