"""Overload: 10, 50 and 200 concurrent clients for 30 s each on the daily page, search and paper pages.

    python bench/load.py [--seconds 30] [--clients 10,50,200] [--kinds polite,eager]

`paperfeed serve` runs as its own process on the full 67,802-paper corpus (bench/.work/full), pinned to core 0;
this script is the client, a second process pinned to core 1: one asyncio task per client, each with its own
keep-alive connection, asking again as soon as it has an answer. Two kinds of client: "polite" ones wait
as a 503's Retry-After header says (as HTTP clients and proxies that honour it do), then ask again; "eager"
ones ask again at once, as browsers and most scripts do (a closed loop that never backs off).
Recorded per run: answered requests/s (200s), p50/p95 of the 200s, 503 count (all must carry Retry-After),
and any other status or error. Baseline: the 10-client figure of the same run.
Targets (issue #9): at 200 clients, throughput >= 90 % of the 10-client figure, p95 of the answered <= 1 s,
every request answered with 200 or 503 + Retry-After, 0 other errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, table, write_section  # noqa: E402
from bench.speed import FULL, SEED, make_queries  # noqa: E402
from bench.web import pick_paths, start_server  # noqa: E402
from paperfeed.store import make_engine  # noqa: E402

# The baseline server: admission control off (every request goes in at once, as before issue #9).
UNLIMITED = {"PAPERFEED_MAX_INFLIGHT": "100000", "PAPERFEED_ADMISSION_QUEUE": "100000"}
RAMP = 5.0  # seconds at the run's concurrency before measuring: 200 clients connecting at once is a burst


class Tally:
    """What the clients saw, counted only for answers that arrive inside the measured window."""

    def __init__(self, window: tuple[float, float]):
        self.window = window
        self.ok_ms: list[float] = []
        self.all_ms: list[float] = []  # every answer, 200 and 503 alike
        self.statuses: Counter = Counter()
        self.shed_without_retry_after = 0
        self.errors: Counter = Counter()
        self.ramp_ok = 0  # 200s during the ramp

    def counts(self) -> bool:
        return self.window[0] <= time.monotonic() <= self.window[1]


async def client(
    base: str, paths: list[str], until: float, tally: Tally, rng: random.Random, polite: bool = True
) -> None:
    # Plain HTTP: verify=False spares each client loading the CA store (~20 ms each, seconds for 200 clients).
    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits, verify=False) as c:
        while time.monotonic() < until:
            path = rng.choice(paths)
            start = time.perf_counter()
            try:
                answer = await c.get(path)
            except httpx.HTTPError as exc:
                tally.errors[type(exc).__name__] += 1
                continue
            ms = (time.perf_counter() - start) * 1000
            if tally.counts():
                tally.statuses[answer.status_code] += 1
                tally.all_ms.append(ms)
                if answer.status_code == 200:
                    tally.ok_ms.append(ms)
            elif answer.status_code == 200 and time.monotonic() < tally.window[0]:
                tally.ramp_ok += 1
            if answer.status_code == 503:
                wait = answer.headers.get("retry-after")
                if wait is None:
                    tally.shed_without_retry_after += 1
                if polite:
                    await asyncio.sleep(float(wait or 1))


async def run(
    base: str, paths: list[str], clients: int, seconds: float, ramp: float = RAMP, polite: bool = True
) -> tuple[Tally, float]:
    """`clients` clients for ramp + seconds; the tally covers the last `seconds` (the wall time returned)."""
    start = time.monotonic()
    tally = Tally((start + ramp, start + ramp + seconds))
    rng = random.Random(SEED + clients)
    until = start + ramp + seconds
    await asyncio.gather(
        *(client(base, paths, until, tally, random.Random(rng.random()), polite) for _ in range(clients))
    )
    return tally, seconds


def row(page: str, kind: str, clients: int, tally: Tally, wall: float, base_rps: float | None) -> list:
    ok = np.array(tally.ok_ms) if tally.ok_ms else np.array([float("nan")])
    every = np.array(tally.all_ms) if tally.all_ms else np.array([float("nan")])
    rps = len(tally.ok_ms) / wall
    other = sum(n for s, n in tally.statuses.items() if s not in (200, 503)) + sum(tally.errors.values())
    return [
        page,
        kind,
        clients,
        f"{tally.ramp_ok / RAMP:.1f}",
        f"{rps:.1f}",
        f"{rps / base_rps:.0%}" if base_rps else "baseline",
        f"{np.percentile(ok, 50):.0f}",
        f"{np.percentile(ok, 95):.0f}",
        f"{np.percentile(every, 95):.0f}",
        tally.statuses.get(503, 0),
        tally.shed_without_retry_after,
        other,
    ]


KINDS = {"polite": True, "eager": False}


def measure_server(
    label: str, pages: dict, levels: list[int], seconds: float, extra: dict | None, kinds: list[str], data=FULL
):
    port = 8766
    server = start_server(port, {"PAPERFEED_INDEX_CHECK_INTERVAL": "3600", **(extra or {})}, data=data)
    base = f"http://127.0.0.1:{port}"
    health = httpx.get(base + "/healthz").json()
    rows = []
    try:
        for page, paths in pages.items():
            asyncio.run(run(base, paths[:20], 4, 3, ramp=0))  # warm-up
            for kind in kinds:
                base_rps = None
                for clients in levels:
                    tally, wall = asyncio.run(run(base, paths, clients, seconds, polite=KINDS[kind]))
                    rows.append([label, *row(page, kind, clients, tally, wall, base_rps)])
                    base_rps = base_rps or len(tally.ok_ms) / wall
                    print(rows[-1], flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return rows, health


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", default="10,50,200")
    parser.add_argument("--pages", default="daily page,search,paper page", help="which of the three, comma-separated")
    parser.add_argument("--baseline-clients", default="10,200", help="levels also run without admission control")
    parser.add_argument("--kinds", default="polite,eager", help="client kinds: polite (honour Retry-After), eager")
    parser.add_argument("--data", default=str(FULL), help="the data folder served (default: the full corpus)")
    parser.add_argument(
        "--before-src",
        default="",
        help="also measure a server running the paperfeed source at this path (e.g. an earlier commit's src/, "
        "from `git archive COMMIT src | tar -x -C DIR`): the before figures, in the same run",
    )
    parser.add_argument("--before-label", default="", help="what the before server is called in the table")
    args, _ = parser.parse_known_args()  # run_all passes its own arguments on
    levels = [int(n) for n in args.clients.split(",")]
    data = Path(args.data)
    kinds = args.kinds.split(",")
    engine = make_engine(f"sqlite:///{data / 'paperfeed.db'}")
    picked = pick_paths(engine)
    queries = make_queries(engine, 200)
    pages = {
        "daily page": picked["daily page (100 papers)"],
        "search": [f"/search?{httpx.QueryParams({'q': q})}" for q in queries],
        "paper page": picked["paper page + 10 similar"],
    }
    os.sched_setaffinity(0, {1})
    wanted = {k: v for k, v in pages.items() if k in args.pages.split(",")}
    baseline_levels = [int(n) for n in args.baseline_clients.split(",") if n]
    rows, health = measure_server("admission control (default)", wanted, levels, args.seconds, None, kinds, data)
    if baseline_levels:
        more, _ = measure_server("no admission control", wanted, baseline_levels, args.seconds, UNLIMITED, kinds, data)
        rows += more
    if args.before_src:
        before = {"PYTHONPATH": str(Path(args.before_src).resolve())}
        label = args.before_label or f"before ({args.before_src})"
        more, _ = measure_server(label, wanted, levels, args.seconds, before, kinds, data)
        rows += more
    header = [
        "server",
        "page",
        "client kind",
        "clients",
        f"answered/s, first {RAMP:.0f} s",
        "answered/s",
        "vs 10 clients",
        "p50 ms",
        "p95 ms",
        "p95 ms, every answer",
        "503",
        "503 w/o Retry-After",
        "other errors",
    ]
    write_section(
        "load",
        "\n".join(
            [
                "## Overload (bench/load.py)",
                "",
                f"Machine: {machine()}. `paperfeed serve` on {data.name} (defaults: 4 requests in the app at once,"
                " 0.5 s wait for a turn, then 503 + Retry-After: 1, answered 1 s after the request came) on core 0;"
                " the client, one asyncio task per client with its own keep-alive connection, on core 1; each run:"
                f" {RAMP:.0f} s of ramp (all clients connect at once), then {args.seconds:.0f} s measured (the"
                " figures; the ramp's answered/s apart). Client kinds: polite clients wait Retry-After seconds"
                " after a 503; eager ones ask again at once (browsers, most scripts). Index state: "
                f"{health['indexed']:,} of {health['papers']:,} papers searchable ({health['status']}).",
                "",
                table(header, rows),
                "",
                "Targets at 200 clients: polite, answered/s >= 90 % of the 10-client figure and p95 of the answered"
                " <= 1 s (issue #9); eager, answered/s >= 80 % of the 10-client figure and p95 of every answer"
                " (200 and 503 alike) <= 1.5 s (issue #19); every request 200 or 503 with Retry-After, 0 other"
                " errors. Baselines in the same run: each kind's 10-client figure, and where measured the same"
                " server with admission control off (PAPERFEED_MAX_INFLIGHT=100000) or an earlier commit's code"
                " (--before-src).",
            ]
        ),
    )


if __name__ == "__main__":
    main()
