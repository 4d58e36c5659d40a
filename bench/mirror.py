"""How fast the library mirror syncs and searches: the figures of issue 10.

Starts the emulator (``python -m tests.plex_server --library large``) in its own
process, then, side by side in one run:

1. raw floor: every page our full sync reads (same types, page size and
   ``includeGuids=1``, the same number in flight), fetched with plain aiohttp and
   decoded with orjson, nothing else. One untimed pass first warms the emulator's
   rendering caches, so that the floor and our sync meet the same server;
2. our full sync (``MirrorSync.full`` into a fresh SQLite file) in a child process
   of its own, whose peak RSS (``VmHWM``) is read right after the sync; then, in
   that process, incremental syncs with no change (three, the median reported),
   then after 0.5% of the items were updated and 0.1% deleted through the control
   API; then 1,000 mixed queries (exact titles, prefixes, typos, filters) on the
   mirror (``MirrorStore.search``) and the same text through the emulator's
   ``/hubs/search``;
3. the plexapi baseline: the seeds' approach (``section.all()`` per library,
   ``show.episodes()`` per show, ``artist.tracks()`` per artist) in the executor,
   each object's XML element written into the same schema (``upsert_items``). It
   takes minutes, so by default it walks a fraction of the shows and artists
   (``--plexapi-fraction``) and extrapolates the per-show and per-artist part
   linearly (``plexapi_baseline_extrapolated``).

Prints one JSON object. The machine is often shared: next to each wall time of the
floor and of the full sync the bench gives the CPU seconds the process spent
(``raw_floor_cpu_s``, ``full_sync_cpu_s``; every thread, the emulator's process not
included) and the one-minute load average around it. The emulator shares the two
cores, so its own CPU seconds are given too (``raw_floor_server_cpu_s``,
``full_sync_server_cpu_s``, ``incremental_changed_server_cpu_s``), and those of the
mirror's thread, where SQLite and the conversion of the pages run
(``full_sync_mirror_thread_cpu_s``), and the time Python's garbage collector ran
during the full sync, on every thread (``full_sync_gc_s``, with the number of
collections of each generation in ``full_sync_gc_collections``). The bodies the
full sync and the incremental after changes read are counted too
(``full_sync_mb_read``, ``incremental_changed_mb_read``, in millions of bytes).

    scripts/bench mirror [--library large] [--plexapi-fraction 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
import gc
import json
import os
from pathlib import Path
import random
import resource
import statistics
import sys
import tempfile
import time
from typing import Any, Self
import xml.etree.ElementTree as ET

import aiohttp
import orjson

from bench.emulator import start_server
from custom_components.plex_bridge.api.client import PlexClient
from custom_components.plex_bridge.mirror import sync as sync_module
from custom_components.plex_bridge.mirror.db import MirrorDB
from custom_components.plex_bridge.mirror.store import MirrorStore
from custom_components.plex_bridge.mirror.sync import TYPES_BY_SECTION, MirrorSync

ROOT = Path(__file__).resolve().parent.parent
UPDATED_FRACTION = 0.005
DELETED_FRACTION = 0.001
LEAF_TYPES = (1, 4, 10, 13)
SEARCH_QUERIES = 1000


def vm_kib(field: str) -> int:
    """A ``/proc/self/status`` figure in KiB (``VmHWM``: the peak resident set)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field}")


def cpu_seconds() -> float:
    """CPU time of this process so far, every thread (user + system).

    The machine is often shared: wall times move with the load, CPU times much
    less, so the bench gives both for the floor and for our sync.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _stat_cpu_seconds(stat: Path) -> float:
    """User + system CPU time in a /proc ``stat`` file (a process's or a thread's)."""
    fields = stat.read_text(encoding="ascii").rpartition(")")[2]
    user, system = fields.split()[11:13]
    return (int(user) + int(system)) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of another process so far (the emulator)."""
    return _stat_cpu_seconds(Path(f"/proc/{pid}/stat"))


def thread_cpu_seconds(name_prefix: str) -> float:
    """CPU time of this process's threads whose name starts with ``name_prefix``."""
    return sum(
        _stat_cpu_seconds(task / "stat")
        for task in Path("/proc/self/task").iterdir()
        if (task / "comm").read_text(encoding="ascii").startswith(name_prefix)
    )


class GCTimer:
    """The time Python's garbage collector runs while entered (``gc.callbacks``).

    Every thread's collections: one runs at a time, so each start is followed by
    its own stop.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._started = 0.0

    def __enter__(self) -> Self:
        """Start timing the collections."""
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop timing them."""
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections[info["generation"]] += 1


def load_average() -> float:
    """The one-minute load average (how busy the machine was)."""
    return round(os.getloadavg()[0], 2)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


# -- 1. the raw floor ---------------------------------------------------------------


async def raw_floor(
    url: str, token: str, page_size: int, in_flight: int
) -> dict[str, Any]:
    """Every page of every type, ``in_flight`` at once, decoded; nothing else."""
    headers = {"X-Plex-Token": token, "Accept": "application/json"}
    semaphore = asyncio.Semaphore(in_flight)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/library/sections", headers=headers) as resp:
            sections = orjson.loads(await resp.read())["MediaContainer"]["Directory"]

        async def get(
            key: str, plex_type: int, start: int, size: int
        ) -> dict[str, Any]:
            params = {
                "type": str(plex_type),
                "includeGuids": "1",
                "sort": sync_module.FULL_SORT,
                "X-Plex-Container-Start": str(start),
                "X-Plex-Container-Size": str(size),
            }
            async with (
                semaphore,
                session.get(
                    f"{url}/library/sections/{key}/all", headers=headers, params=params
                ) as resp,
            ):
                resp.raise_for_status()
                container: dict[str, Any] = orjson.loads(await resp.read())[
                    "MediaContainer"
                ]
                return container

        started = time.perf_counter()
        cpu_started = cpu_seconds()
        items = pages = 0
        for section in sections:
            for plex_type in TYPES_BY_SECTION.get(section["type"], ()):
                total = (await get(section["key"], plex_type, 0, 0))["totalSize"]
                answers = await asyncio.gather(
                    *(
                        get(section["key"], plex_type, start, page_size)
                        for start in range(0, total, page_size)
                    )
                )
                pages += 1 + len(answers)
                items += sum(len(answer.get("Metadata", ())) for answer in answers)
        return {
            "items": items,
            "requests": pages,
            "seconds": time.perf_counter() - started,
            "cpu_seconds": cpu_seconds() - cpu_started,
        }


# -- 2. our sync, in a child process --------------------------------------------------


async def control(
    session: aiohttp.ClientSession, base: str, method: str, path: str, body: Any = None
) -> Any:
    """One call of the emulator's control API."""
    async with session.request(method, f"{base}{path}", json=body) as resp:
        resp.raise_for_status()
        return await resp.json()


def search_queries(
    store: MirrorStore, count: int, seed: int = 10
) -> list[dict[str, Any]]:
    """Mixed queries drawn from the mirror's own titles: exact, prefix, typo, filtered."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample
    rows = store.connection.execute(
        "SELECT title, type, year FROM items WHERE type IN (1, 2, 4, 8, 9, 10) "
        "ORDER BY rating_key"
    ).fetchall()
    names = {1: "movie", 2: "show", 4: "episode", 8: "artist", 9: "album", 10: "track"}
    queries: list[dict[str, Any]] = []
    while len(queries) < count:
        title, plex_type, year = rows[rng.randrange(len(rows))]
        words = title.split()
        kind = len(queries) % 4
        if kind == 0:
            queries.append({"query": title, "kind": "exact"})
        elif kind == 1:
            prefix = " ".join([*words[:-1], words[-1][: max(2, len(words[-1]) // 2)]])
            queries.append({"query": prefix, "kind": "prefix"})
        elif kind == 2:
            long_words = [i for i, word in enumerate(words) if len(word) >= 5]
            if not long_words:
                continue
            index = rng.choice(long_words)
            word = words[index]
            at = rng.randrange(1, len(word) - 1)
            words[index] = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
            queries.append({"query": " ".join(words), "kind": "typo"})
        else:
            query: dict[str, Any] = {
                "query": " ".join(words[:2]),
                "kind": "filter",
                "types": [names[plex_type]],
            }
            if year:
                query["year_range"] = (year - 2, year + 2)
            queries.append(query)
    return queries


async def child(
    url: str, token: str, control_url: str, server_pid: int, db_path: Path
) -> dict[str, Any]:
    """Full sync, incrementals and search in this process; returns the figures."""
    figures: dict[str, Any] = {"rss_mb_before_sync": vm_kib("VmRSS") / 1024}
    mirror_thread = "plex_bridge_mir"  # MirrorDB's thread (its name, as /proc cuts it)
    received = [0]  # body bytes read, every response (an aiohttp trace)

    async def on_chunk(_session: Any, _context: Any, params: Any) -> None:
        received[0] += len(params.chunk)

    trace = aiohttp.TraceConfig()
    trace.on_response_chunk_received.append(on_chunk)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        client = PlexClient(session, url, token)
        db, _ = await MirrorDB.open(db_path)
        try:
            sync = MirrorSync(client, db)
            load_before = load_average()
            started, cpu_started = time.perf_counter(), cpu_seconds()
            server_started = process_cpu_seconds(server_pid)
            received[0] = 0
            with GCTimer() as collector:
                full = await sync.full()
            figures["full_sync_mb_read"] = received[0] / 1e6
            figures["full_sync_s"] = time.perf_counter() - started
            figures["full_sync_gc_s"] = collector.seconds
            figures["full_sync_gc_collections"] = collector.collections
            figures["full_sync_cpu_s"] = cpu_seconds() - cpu_started
            figures["full_sync_mirror_thread_cpu_s"] = thread_cpu_seconds(mirror_thread)
            figures["full_sync_server_cpu_s"] = (
                process_cpu_seconds(server_pid) - server_started
            )
            figures["load_average_full_sync"] = [load_before, load_average()]
            figures["peak_rss_mb"] = vm_kib("VmHWM") / 1024
            figures["items"] = full.added
            figures["full_sync_requests"] = full.requests

            runs = []
            for _ in range(3):
                started = time.perf_counter()
                result = await sync.incremental()
                runs.append((time.perf_counter() - started, result))
            figures["incremental_nochange_s"] = statistics.median(s for s, _ in runs)
            figures["incremental_nochange_requests"] = max(r.requests for _, r in runs)
            figures["incremental_nochange_changes"] = sum(
                r.added + r.updated + r.removed for _, r in runs
            )
            counts = await db.call(lambda store: store.counts())
            figures["library_types"] = sum(len(types) for types in counts.values())

            # 0.5% updated, 0.1% deleted (leaves only, so that 0.1% means 0.1%).
            # Drawn in SQL: a list of every key would be this bench's memory in the
            # sync's peak RSS after the incrementals.
            updated, deleted = await db.call(_sample_changes)
            for key in updated:
                await control(
                    session,
                    control_url,
                    "PATCH",
                    f"/items/{key}",
                    {"title": f"Changed {key}"},
                )
            for key in deleted:
                await control(session, control_url, "DELETE", f"/items/{key}")
            started, cpu_started = time.perf_counter(), cpu_seconds()
            server_started = process_cpu_seconds(server_pid)
            received[0] = 0
            changed = await sync.incremental()
            figures["incremental_changed_s"] = time.perf_counter() - started
            figures["incremental_changed_mb_read"] = received[0] / 1e6
            figures["incremental_changed_cpu_s"] = cpu_seconds() - cpu_started
            figures["incremental_changed_server_cpu_s"] = (
                process_cpu_seconds(server_pid) - server_started
            )
            figures["incremental_changed_requests"] = changed.requests
            figures["incremental_changed_result"] = {
                "updated_items": len(updated),
                "deleted_items": len(deleted),
                "added": changed.added,
                "updated": changed.updated,
                "removed": changed.removed,
            }
            state = await control(session, control_url, "GET", "/state")
            figures["mirror_matches_server"] = await _matches(db, client, state)
        finally:
            await db.close()
        figures["peak_rss_mb_end"] = vm_kib("VmHWM") / 1024

        # Search: the store on this thread (nothing else runs now), then /hubs/search.
        store, _ = MirrorStore.open(db_path)
        try:
            queries = search_queries(store, SEARCH_QUERIES)
            figures |= _time_searches(store, queries)
        finally:
            store.close()

        headers = {"X-Plex-Token": token, "Accept": "application/json"}
        hub_latencies = []
        for query in queries:
            started = time.perf_counter()
            async with session.get(
                f"{url}/hubs/search",
                headers=headers,
                params={"query": query["query"], "limit": "10"},
            ) as resp:
                await resp.read()
            hub_latencies.append((time.perf_counter() - started) * 1000)
        figures["hubs_search_p50_ms"] = statistics.median(hub_latencies)
        figures["hubs_search_p95_ms"] = percentile(hub_latencies, 0.95)
    return figures


def _sample_changes(store: MirrorStore) -> tuple[list[str], list[str]]:
    """The keys to update (0.5% of all) and to delete (0.1%, leaves not updated).

    A reproducible draw: items ordered by a hash of their row id.
    """
    db = store.connection
    total = int(db.execute("SELECT count(*) FROM items").fetchone()[0])
    order = "ORDER BY (id * 2654435761) % 4294967296, id"
    updated = [
        key
        for (key,) in db.execute(
            f"SELECT rating_key FROM items {order} LIMIT ?",  # noqa: S608 - constants
            (round(total * UPDATED_FRACTION),),
        )
    ]
    deleted = [
        key
        for (key,) in db.execute(
            f"SELECT rating_key FROM items WHERE type IN ({', '.join(map(str, LEAF_TYPES))}) "  # noqa: S608
            f"AND rating_key NOT IN (SELECT value FROM json_each(?)) {order} LIMIT ?",
            (json.dumps(updated), round(total * DELETED_FRACTION)),
        )
    ]
    return updated, deleted


def _time_searches(store: MirrorStore, queries: list[dict[str, Any]]) -> dict[str, Any]:
    """p50/p95 of the mirror's search over the queries (``None`` if it cannot)."""
    try:
        for query in queries[:50]:  # warm the page cache and the vocabulary
            _search(store, query)
    except NotImplementedError:
        return {"search_p50_ms": None, "search_p95_ms": None, "search_error": "missing"}
    latencies = []
    empty = 0
    for query in queries:
        started = time.perf_counter()
        hits = _search(store, query)
        latencies.append((time.perf_counter() - started) * 1000)
        empty += not hits
    by_kind: dict[str, list[float]] = {}
    for query, latency in zip(queries, latencies, strict=True):
        by_kind.setdefault(query["kind"], []).append(latency)
    return {
        "search_p50_ms": statistics.median(latencies),
        "search_p95_ms": percentile(latencies, 0.95),
        "search_max_ms": max(latencies),
        "search_queries": len(latencies),
        "search_no_hit": empty,
        "search_p95_ms_by_kind": {
            kind: round(percentile(values, 0.95), 3) for kind, values in by_kind.items()
        },
    }


def _search(store: MirrorStore, query: dict[str, Any]) -> list[Any]:
    return store.search(
        query["query"],
        types=query.get("types"),
        year_range=query.get("year_range"),
        limit=10,
    )


async def _matches(db: MirrorDB, client: PlexClient, state: Any) -> bool:
    """Whether the mirror's count per library type equals the server's totalSize."""
    counts = await db.call(lambda store: store.counts())
    for section in await client.raw_sections():
        for plex_type in TYPES_BY_SECTION.get(section["type"], ()):
            _, total = await client.section_metadata(
                str(section["key"]), plex_type, size=0, guids=False
            )
            if counts.get(str(section["key"]), {}).get(plex_type, 0) != total:
                return False
    return True


async def run_child(
    info: dict[str, Any], server_pid: int, db_path: Path
) -> dict[str, Any]:
    """Run ``child`` in a process of its own and read its JSON."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.mirror",
        "--child",
        json.dumps(
            {
                "url": info["url"],
                "token": info["token"],
                "control": info["control"],
                "server_pid": server_pid,
            }
        ),
        str(db_path),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    if process.returncode:
        raise RuntimeError(f"the sync process failed ({process.returncode})")
    result: dict[str, Any] = json.loads(out)
    return result


# -- 3. the plexapi baseline ----------------------------------------------------------


def _element(element: ET.Element) -> dict[str, Any]:
    """An XML element as the JSON form's dict (children under their tag)."""
    result: dict[str, Any] = dict(element.attrib)
    for node in element:
        result.setdefault(node.tag, []).append(_element(node))
    return result


def plexapi_baseline(
    url: str, token: str, db_path: Path, fraction: float
) -> dict[str, Any]:
    """The seeds' walk, writing each object's element into the same schema."""
    from plexapi.server import PlexServer

    store, _ = MirrorStore.open(db_path)
    try:
        plex = PlexServer(url, token, timeout=60)  # type: ignore[no-untyped-call]
        sections = plex.library.sections()
        store.set_libraries([_element(section._data) for section in sections])  # noqa: SLF001
        started = time.perf_counter()
        base_items = 0
        walked_items = 0
        walked = walked_seconds = 0.0
        parents_total = 0
        parents_walked = 0
        for section in sections:
            objects = section.all()
            store.upsert_items(section.key, [_element(o._data) for o in objects])  # noqa: SLF001
            base_items += len(objects)
            if section.type not in ("show", "artist"):
                continue
            parents_total += len(objects)
            take = objects[: max(1, round(len(objects) * fraction))]
            parents_walked += len(take)
            walk_started = time.perf_counter()
            for parent in take:
                children = (
                    parent.episodes() if section.type == "show" else parent.tracks()
                )
                store.upsert_items(section.key, [_element(c._data) for c in children])  # noqa: SLF001
                walked_items += len(children)
            walked_seconds += time.perf_counter() - walk_started
            walked += len(take)
        seconds = time.perf_counter() - started
    finally:
        store.close()
    scale = parents_total / parents_walked if parents_walked else 1.0
    extrapolated = seconds - walked_seconds + walked_seconds * scale
    return {
        "plexapi_baseline_s": extrapolated,
        "plexapi_baseline_extrapolated": scale != 1.0,
        "plexapi_baseline_measured_s": seconds,
        "plexapi_fraction_walked": round(parents_walked / parents_total, 3)
        if parents_total
        else 1.0,
        "plexapi_baseline_items": round(base_items + walked_items * scale),
        "plexapi_baseline_requests_estimate": len(sections) + 1 + parents_total,
    }


# -- the whole run --------------------------------------------------------------------


async def run(library: str, fraction: float, skip_plexapi: bool) -> dict[str, Any]:
    """Start the emulator, measure everything, return the figures."""
    load_at_start = load_average()
    process, info, load_seconds = await start_server(library)
    try:
        with tempfile.TemporaryDirectory(dir=ROOT / ".venv") as scratch:
            page, in_flight = sync_module.PAGE_SIZE, sync_module.IN_FLIGHT
            await raw_floor(info["url"], info["token"], page, in_flight)  # warm-up
            server_started = process_cpu_seconds(process.pid)
            floor = await raw_floor(info["url"], info["token"], page, in_flight)
            floor_server_cpu = process_cpu_seconds(process.pid) - server_started
            ours = await run_child(info, process.pid, Path(scratch) / "mirror.db")
            result: dict[str, Any] = {
                "items": ours.pop("items"),
                "raw_floor_s": floor["seconds"],
                "full_sync_s": ours.pop("full_sync_s"),
                "full_sync_requests": ours.pop("full_sync_requests"),
                "peak_rss_mb": ours.pop("peak_rss_mb"),
                "plexapi_baseline_s": None,
                "incremental_nochange_s": ours.pop("incremental_nochange_s"),
                "incremental_nochange_requests": ours.pop(
                    "incremental_nochange_requests"
                ),
                "incremental_changed_s": ours.pop("incremental_changed_s"),
                "search_p50_ms": ours.pop("search_p50_ms"),
                "search_p95_ms": ours.pop("search_p95_ms"),
                "hubs_search_p95_ms": ours.pop("hubs_search_p95_ms"),
            }
            result["items_per_s"] = result["items"] / result["full_sync_s"]
            result["raw_floor_cpu_s"] = floor["cpu_seconds"]
            result["raw_floor_server_cpu_s"] = floor_server_cpu
            result["raw_floor_requests"] = floor["requests"]
            result["raw_floor_items"] = floor["items"]
            result |= ours
            result |= {
                "library": library,
                "emulator_load_s": load_seconds,
                "page_size": page,
                "in_flight": in_flight,
                "load_average_at_start": load_at_start,
            }
            if not skip_plexapi:
                loop = asyncio.get_running_loop()
                with ThreadPoolExecutor(max_workers=1) as executor:
                    baseline = await loop.run_in_executor(
                        executor,
                        plexapi_baseline,
                        info["url"],
                        info["token"],
                        Path(scratch) / "plexapi.db",
                        fraction,
                    )
                result |= baseline
            result["load_average_at_end"] = load_average()
            _ratios(result)
            return {
                k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()
            }
    finally:
        process.terminate()
        await process.wait()


def _ratios(result: dict[str, Any]) -> None:
    """The targets of the issue, as ratios."""
    full = result["full_sync_s"]
    result["full_sync_vs_raw_floor"] = full / result["raw_floor_s"]
    result["incremental_changed_vs_full"] = result["incremental_changed_s"] / full
    if result.get("plexapi_baseline_s"):
        result["plexapi_vs_full_sync"] = result["plexapi_baseline_s"] / full


def main(argv: list[str]) -> None:
    """Parse arguments, run, print JSON."""
    if argv[:1] == ["--child"]:
        config = json.loads(argv[1])
        figures = asyncio.run(
            child(
                config["url"],
                config["token"],
                config["control"],
                config["server_pid"],
                Path(argv[2]),
            )
        )
        print(json.dumps(figures))
        return
    parser = argparse.ArgumentParser(prog="bench mirror")
    parser.add_argument("--library", default="large")
    parser.add_argument("--plexapi-fraction", type=float, default=0.25)
    parser.add_argument("--skip-plexapi", action="store_true")
    args = parser.parse_args(argv)
    print(
        json.dumps(
            asyncio.run(run(args.library, args.plexapi_fraction, args.skip_plexapi)),
            indent=2,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
