"""Benchmark of admin broadcasts: achieved rate, memory, and Help now while a broadcast runs.

The bot runs in this process (the real application from ``bot.app.build_application``, its
``PriorityRateLimiter``, storage and broadcast worker, talking HTTP); the fake Bot API
(``tests/fake/server.py``, keeping no calls or messages) runs in a subprocess, pinned to the
other core when there are two, so that neither starves the other. Every answer of the fake
server is delayed by 2-10 ms, like a nearby Bot API server. In one run it prints:

* the achieved bulk rate divided by the configured rate (``BROADCAST_RATE``) at 25/s (goal at
  least 0.95) and at 1000/s, the paid-broadcast ceiling (goal at least 0.9), measured from the
  first to the last copy;
* the peak resident memory (VmRSS) while broadcasting to 100,000 recipients, and the increase
  over the idle bot;
* Help now reply latency (a ``/helpnow`` update handled end to end, reply included): p50 and
  p99 with no broadcast, and during each broadcast (goal: p99 under 1 s and within 2x of idle).

Run from the repository root (about three minutes; ``--small`` for a quick check)::

    python benchmarks/broadcast.py [--small]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telegram import Bot, Update  # noqa: E402
from telegram.request import HTTPXRequest  # noqa: E402

from bot.app import build_application  # noqa: E402
from bot.broadcast import broadcaster  # noqa: E402
from bot.config import Settings  # noqa: E402
from tests.fake import TEST_TOKEN, run_app  # noqa: E402

ADMIN = 42
HELPER = 7  # the person pressing Help now
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

# The fake Bot API for this benchmark: the admin's message to copy exists; answers take 2-10 ms.
SERVER = """
import random, sys, threading
sys.path.insert(0, sys.argv[1])
from tests.fake import FakeApiServer, FakeTelegram, TEST_TOKEN
api = FakeTelegram(TEST_TOKEN, record_calls=False, store_messages=False)
admin = {"id": 42, "is_bot": False, "first_name": "Admin"}
source = api.user_message(admin, text="Resource update: new meeting list in the guide.")
api.latency = lambda method, params: random.uniform(0.002, 0.010)
server = FakeApiServer(api).start()
print(server.base_url, source.message_id, flush=True)
sys.stdin.read()  # serve until the benchmark closes our stdin
server.stop()
"""


@dataclass
class Phase:
    name: str
    rate: float
    recipients: int
    rate_seconds: float  # the rate is measured over this long, with no other traffic...
    probe_seconds: float  # ...then Help now is pressed every 0.1 s for this long
    achieved: float = 0.0
    created_in: float = 0.0
    delivered: int = 0
    rss_base: float = 0.0
    rss_peak: float = 0.0
    share: float = 1.0
    latencies: tuple[float, ...] = ()


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pin(pid: int, cpu: int) -> None:
    if (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(pid, {cpu})


def start_server() -> tuple[subprocess.Popen[str], str, int]:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(ROOT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    base_url, message_id = process.stdout.readline().split()
    pin(process.pid, 1)
    return process, base_url.removesuffix("/bot"), int(message_id)


def helpnow_update(n: int) -> dict[str, Any]:
    user = {"id": HELPER, "is_bot": False, "first_name": "Sam", "language_code": "en"}
    return {
        "update_id": 1_000_000 + n,
        "message": {
            "message_id": 10_000 + n,
            "from": user,
            "chat": {"id": HELPER, "type": "private", "first_name": "Sam"},
            "date": int(time.time()),
            "text": "/helpnow",
            "entities": [{"type": "bot_command", "offset": 0, "length": 8}],
        },
    }


async def helpnow_latencies(app: Any, seconds: float, every: float) -> tuple[float, ...]:
    """Press Help now every ``every`` seconds for ``seconds``; each reply's latency."""
    found: list[float] = []
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        update = Update.de_json(helpnow_update(n), app.bot)
        start = time.perf_counter()
        await app.process_update(update)
        found.append(time.perf_counter() - start)
        n += 1
        await asyncio.sleep(every)
    return tuple(found)


async def seed(app: Any, count: int) -> None:
    storage = app.bot_data["services"].db
    async with storage.transaction() as db:
        await db.executemany(
            "INSERT OR IGNORE INTO users (user_id, language, created_on, last_active_on) "
            "VALUES (?, 'en', '2026-01-01', '2026-01-01')",
            [(uid,) for uid in range(100_000, 100_000 + count)],
        )


def settings(folder: Path, name: str, base_url: str, rate: float = 25.0) -> Settings:
    return Settings(
        bot_token=TEST_TOKEN,
        database_path=folder / f"{name}.sqlite3",
        admin_ids=frozenset({ADMIN}),
        api_base_url=base_url,
        log_level="WARNING",
        broadcast_rate=rate,
    )


async def run_phase(phase: Phase, base_url: str, message_id: int, folder: Path) -> None:
    """Broadcast to ``phase.recipients``: the rate first, then Help now; stop if not done."""
    app = build_application(settings(folder, phase.name.replace("/", "-"), base_url, phase.rate))
    async with run_app(app):
        await seed(app, phase.recipients)
        storage = app.bot_data["services"].db
        limiter = app.bot.rate_limiter
        await asyncio.sleep(0.5)
        phase.rss_base = rss_mib()
        started = time.perf_counter()
        bc = await storage.create_broadcast(
            admin_id=ADMIN, from_chat_id=ADMIN, message_id=message_id, audience="all"
        )
        phase.created_in = time.perf_counter() - started
        peak = phase.rss_base
        stop_sampling = asyncio.Event()

        async def sample_rss() -> None:
            nonlocal peak
            while not stop_sampling.is_set():
                peak = max(peak, rss_mib())
                await asyncio.sleep(0.1)

        sampler = asyncio.create_task(sample_rss())
        runner = broadcaster(app)
        before = limiter.bulk_sent
        runner.wake()
        for _ in range(10_000):  # wait for the first copy (at most 10 s)
            if limiter.bulk_sent > before:
                break
            await asyncio.sleep(0.001)
        first, first_count = time.perf_counter(), limiter.bulk_sent
        await asyncio.sleep(phase.rate_seconds)
        phase.achieved = (limiter.bulk_sent - first_count) / (time.perf_counter() - first)
        phase.share = limiter.share
        phase.latencies = await helpnow_latencies(app, phase.probe_seconds, 0.1)
        if runner.current is not None:
            runner.current.request_stop()  # enough measured: the rest is cancelled
        await runner.idle()
        stop_sampling.set()
        await sampler
        done = await storage.get_broadcast(bc.broadcast_id)
        assert done is not None and done.remaining == 0 and done.failed == 0, done
        phase.delivered = done.sent
        phase.rss_peak = peak


async def client_ceiling(base_url: str, message_id: int, count: int) -> float:
    """copy_message calls per second through PTB's default HTTP client alone (no limiter, no
    database, no worker), 8 at a time: what this machine allows at most."""
    bot = Bot(TEST_TOKEN, base_url=base_url + "/bot", request=HTTPXRequest(256))
    async with bot:
        gate = asyncio.Semaphore(8)

        async def one(n: int) -> None:
            async with gate:
                await bot.copy_message(200_000 + n, ADMIN, message_id)

        start = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(count)))
        return count / (time.perf_counter() - start)


async def idle_latencies(base_url: str, folder: Path, seconds: float) -> tuple[float, ...]:
    app = build_application(settings(folder, "idle", base_url))
    async with run_app(app):
        await asyncio.sleep(0.5)
        return await helpnow_latencies(app, seconds, 0.05)


def pct(values: tuple[float, ...], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


async def main(small: bool) -> int:
    pin(0, 0)
    server, base_url, message_id = start_server()
    slow = Phase("25/s", 25.0, 500, 10.0, 10.0)
    fast = Phase("1000/s", 1000.0, 20_000 if small else 100_000, 15.0, 20.0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            print("Help now with no broadcast ...", flush=True)
            idle = await idle_latencies(base_url, folder, 10.0)
            print("PTB's HTTP client alone ...", flush=True)
            ceiling = await client_ceiling(base_url, message_id, 1000 if small else 3000)
            for phase in (slow, fast):
                print(f"broadcast to {phase.recipients:,} at {phase.name} ...", flush=True)
                await run_phase(phase, base_url, message_id, folder)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(10)
    report(idle, ceiling, slow, fast)
    good = (
        slow.achieved / slow.rate >= 0.95
        and fast.achieved / fast.rate >= 0.9
        and all(pct(p.latencies, 0.99) < 1000 for p in (slow, fast))
        and all(pct(p.latencies, 0.99) <= 2 * pct(idle, 0.99) for p in (slow, fast))
    )
    return 0 if good else 1


def report(idle: tuple[float, ...], ceiling: float, slow: Phase, fast: Phase) -> None:
    row = "{:<38}{:>12}{:>12}   {}"
    print()
    print(row.format("", slow.name, fast.name, "goal"))
    print(row.format("recipients", f"{slow.recipients:,}", f"{fast.recipients:,}", ""))
    print(
        row.format(
            "Send: rows written (ms)", *(f"{p.created_in * 1e3:.0f}" for p in (slow, fast)), ""
        )
    )
    print(
        row.format("achieved bulk rate (msg/s)", *(f"{p.achieved:.1f}" for p in (slow, fast)), "")
    )
    print(
        row.format(
            "achieved / configured",
            *(f"{p.achieved / p.rate:.3f}" for p in (slow, fast)),
            ">= 0.95 / >= 0.9",
        )
    )
    print(
        row.format(
            f"achieved / client ceiling ({ceiling:.0f}/s)",
            *(f"{p.achieved / ceiling:.3f}" for p in (slow, fast)),
            "",
        )
    )
    print(row.format("bulk share left by CPU guard", *(f"{p.share:.2f}" for p in (slow, fast)), ""))
    print(row.format("delivered before Stop", *(f"{p.delivered:,}" for p in (slow, fast)), ""))
    print(row.format("peak RSS (MiB)", *(f"{p.rss_peak:.0f}" for p in (slow, fast)), ""))
    print(
        row.format(
            "RSS over the idle bot (MiB)",
            *(f"{p.rss_peak - p.rss_base:+.0f}" for p in (slow, fast)),
            "",
        )
    )
    for q, name in ((0.5, "p50"), (0.99, "p99")):
        print(
            row.format(
                f"Help now {name} (ms); idle {pct(idle, q):.1f}",
                *(f"{pct(p.latencies, q):.1f}" for p in (slow, fast)),
                "< 1000" if name == "p99" else "",
            )
        )
    print(
        row.format(
            "Help now p99 / idle p99",
            *(f"{pct(p.latencies, 0.99) / pct(idle, 0.99):.2f}" for p in (slow, fast)),
            "<= 2",
        )
    )
    print(
        row.format(
            f"Help now samples (idle {len(idle)})",
            *(str(len(p.latencies)) for p in (slow, fast)),
            "",
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help="fewer recipients (quick check)")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.small)))
