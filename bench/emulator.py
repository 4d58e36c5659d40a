"""How fast the emulator loads and serves a library: the figures behind issue 3.

Starts ``python -m tests.plex_server`` as a separate process (so the client below
measures the server, not itself), times the library build until the server prints
its JSON line, reads the server's resident memory, then pages every item of every
section with plain aiohttp, once as JSON and once as XML, in pages of
``--page-size`` items. Prints one JSON document.

    scripts/bench emulator --library large
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
import sys
import time
from typing import Any
import xml.etree.ElementTree as ET

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
# Plex's numeric item types by section type: every kind of item a section holds
# (14 is the photo album, 13 the photo).
TYPES_BY_SECTION = {
    "movie": [1],
    "show": [2, 3, 4],
    "artist": [8, 9, 10],
    "photo": [14, 13],
}


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def start_server(
    library: str,
) -> tuple[asyncio.subprocess.Process, dict[str, Any], float]:
    """Start the emulator; returns the process, its JSON line and the seconds it took."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.plex_server",
        "--library",
        library,
        "--port",
        "0",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    line = await process.stdout.readline()
    if not line:
        raise RuntimeError("the emulator exited before it served")
    return process, json.loads(line), time.perf_counter() - started


def count_items(body: bytes, as_json: bool) -> int:
    """How many items one page holds."""
    if as_json:
        return len(json.loads(body)["MediaContainer"].get("Metadata", []))
    return len(ET.fromstring(body))


async def page_everything(
    session: aiohttp.ClientSession, url: str, token: str, page_size: int, as_json: bool
) -> dict[str, Any]:
    """Page every item of every section; returns counts and the time taken."""
    accept = "application/json" if as_json else "application/xml"
    headers = {"X-Plex-Token": token, "Accept": accept}
    async with session.get(
        f"{url}/library/sections", headers={**headers, "Accept": "application/json"}
    ) as resp:
        sections = (await resp.json())["MediaContainer"]["Directory"]
    items = pages = body_bytes = 0
    started = time.perf_counter()
    for section in sections:
        for item_type in TYPES_BY_SECTION.get(section["type"], []):
            start = 0
            while True:
                params = {
                    "type": str(item_type),
                    "X-Plex-Container-Start": str(start),
                    "X-Plex-Container-Size": str(page_size),
                }
                async with session.get(
                    f"{url}/library/sections/{section['key']}/all",
                    headers=headers,
                    params=params,
                ) as resp:
                    resp.raise_for_status()
                    body = await resp.read()
                got = count_items(body, as_json)
                items += got
                pages += 1
                body_bytes += len(body)
                start += got
                if got < page_size:
                    break
    seconds = time.perf_counter() - started
    return {
        "items": items,
        "pages": pages,
        "seconds": round(seconds, 3),
        "items_per_second": round(items / seconds) if seconds else None,
        "mib": round(body_bytes / 2**20, 1),
    }


async def run(library: str, page_size: int) -> dict[str, Any]:
    """The whole benchmark."""
    process, info, load_seconds = await start_server(library)
    try:
        result: dict[str, Any] = {
            "library": library,
            "load_seconds": round(load_seconds, 2),
            "rss_mib_after_load": round(rss_mib(process.pid), 1),
            "page_size": page_size,
        }
        async with aiohttp.ClientSession() as session:
            for form, as_json in (("json", True), ("xml", False)):
                result[f"page_all_{form}"] = await page_everything(
                    session, info["url"], info["token"], page_size, as_json
                )
        result["rss_mib_after_paging"] = round(rss_mib(process.pid), 1)
        return result
    finally:
        process.terminate()
        await process.wait()


def main(argv: list[str]) -> None:
    """Parse arguments, run, print JSON."""
    parser = argparse.ArgumentParser(prog="bench emulator")
    parser.add_argument("--library", default="large")
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args.library, args.page_size)), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
