"""Benchmark of the check-in scheduler: what a million subscriptions cost at startup and at peak.

Seeds SQLite databases (in a temporary folder) with opted-in users: none, 100,000 and 1,000,000,
spread over realistic time zones (the countries in ``content/hotlines.yaml``, weighted) and
times (the three presets for about half, five-minute slots from 06:00 to 23:00 for the rest).
Then prints, in one run:

* startup time and resident memory (VmRSS) of starting the scheduler the way ``post_init``
  does (build the application, open the database, register the one repeating job, start the
  job queue, run a first tick) with each database, each in a fresh subprocess (fastest of
  several; median memory), and the ratio to the empty database (goal: at most 1.2 and under
  30 MB more);
* the time to claim a peak minute with 10,000 check-ins due in the 1,000,000-user database
  (goal: under 1 s), and the database work of a whole tick for them with a no-op sender;
* the baseline: the same 100,000 users scheduled as one APScheduler job each (``run_daily``
  per user, what a scheduler without the database would rebuild at every start).

Run from the repository root (takes a minute or two)::

    python benchmarks/checkins.py [--small]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.checkin_time import next_due  # noqa: E402
from bot.storage import open_storage  # noqa: E402
from bot.storage.sqlite import SqliteStorage  # noqa: E402

TOKEN = "1234567:BENCH-offline-token-not-real-abcdefgh"
STARTUP_RUNS = 5
PEAK = 10_000

# (zone, weight): roughly where people using an English-language bot with these hotlines live.
ZONES: list[tuple[str, float]] = [
    ("America/New_York", 20),
    ("America/Chicago", 13),
    ("America/Denver", 3),
    ("America/Phoenix", 1.5),
    ("America/Los_Angeles", 6),
    ("America/Anchorage", 0.3),
    ("Pacific/Honolulu", 0.4),
    ("Europe/London", 15),
    ("America/Toronto", 4),
    ("America/Vancouver", 1.5),
    ("America/Edmonton", 1),
    ("America/Winnipeg", 0.5),
    ("America/Halifax", 0.5),
    ("America/St_Johns", 0.2),
    ("Australia/Sydney", 3),
    ("Australia/Melbourne", 2.5),
    ("Australia/Brisbane", 1.5),
    ("Australia/Perth", 1),
    ("Australia/Adelaide", 0.5),
    ("Asia/Kolkata", 12),
    ("Europe/Berlin", 5),
    ("Europe/Dublin", 3),
    ("Pacific/Auckland", 2),
    ("Pacific/Chatham", 0.01),
]
PRESETS: list[tuple[dtime, float]] = [(dtime(8, 0), 20), (dtime(12, 30), 10), (dtime(20, 0), 20)]


def rss_mb() -> float:
    """Resident memory of this process now (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- seeding ------------------------------------------------------------------------------------


def random_time(rng: random.Random) -> dtime:
    if rng.random() < 0.5:
        return rng.choices([t for t, _ in PRESETS], [w for _, w in PRESETS])[0]
    slot = rng.randrange(6 * 12, 23 * 12)  # five-minute slots from 06:00 to 22:55
    return dtime(slot // 12, slot % 12 * 5)


def seed(path: Path, users: int, after: datetime) -> None:
    """A database with ``users`` opted-in people, none due before ``after``."""
    asyncio.run(_create_schema(path))
    rng = random.Random(users)
    zones, weights = [z for z, _ in ZONES], [w for _, w in ZONES]
    due_cache: dict[tuple[str, dtime], int] = {}
    today = after.date().isoformat()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    chunk = 50_000
    for start in range(1, users + 1, chunk):
        ids = range(start, min(start + chunk, users + 1))
        db.executemany(
            "INSERT INTO users (user_id, language, country, created_on, last_active_on) "
            "VALUES (?, 'en', NULL, ?, ?)",
            ((i, today, today) for i in ids),
        )
        rows = []
        for i in ids:
            zone = rng.choices(zones, weights)[0]
            local = random_time(rng)
            key = (zone, local)
            if key not in due_cache:
                due_cache[key] = int(next_due(local, ZoneInfo(zone), after).timestamp())
            rows.append((i, local.strftime("%H:%M"), zone, due_cache[key], rng.getrandbits(31)))
        db.executemany(
            "INSERT INTO checkins (user_id, local_time, zone, next_due_utc, enc_seed) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


async def _create_schema(path: Path) -> None:
    storage = await SqliteStorage.open(path)
    await storage.close()


# --- child processes ----------------------------------------------------------------------------


async def child_startup(db_path: str) -> dict[str, float]:
    """Start the scheduler as post_init does; report the time taken and the memory after."""
    from bot.app import build_application
    from bot.checkins import run_tick, start_checkins, utcnow
    from bot.config import Settings
    from bot.services import services_of

    async def no_send(chat_id: int, screen: object) -> None:
        raise AssertionError("nothing should be due at startup in this benchmark")

    before = rss_mb()
    started = time.perf_counter()
    app = build_application(Settings(bot_token=TOKEN, database_path=Path(db_path)))
    built = time.perf_counter()
    svc = services_of(app)
    svc.storage = await open_storage(svc.settings)
    start_checkins(app)
    assert app.job_queue is not None
    await app.job_queue.start()
    await run_tick(svc, no_send, utcnow())  # the first tick: asks the database what is due
    done = time.perf_counter()
    after = rss_mb()
    jobs = len(app.job_queue.jobs())
    await app.job_queue.stop(wait=False)
    await svc.storage.close()
    return {
        "seconds": done - started,
        "scheduler_seconds": done - built,
        "rss_mb": after,
        "rss_before_mb": before,
        "jobs": jobs,
    }


async def child_baseline(db_path: str) -> dict[str, float]:
    """The per-user design: read every subscription and schedule one daily job each."""
    from telegram.ext import Application

    async def callback(context: object) -> None:  # never runs during the benchmark
        return None

    app = Application.builder().token(TOKEN).build()
    assert app.job_queue is not None
    before = rss_mb()
    started = time.perf_counter()
    await app.job_queue.start()
    db = sqlite3.connect(db_path)
    zones: dict[str, ZoneInfo] = {}
    count = 0
    for user_id, local, zone in db.execute("SELECT user_id, local_time, zone FROM checkins"):
        tz = zones.setdefault(zone, ZoneInfo(zone))
        hour, minute = int(local[:2]), int(local[3:])
        app.job_queue.run_daily(
            callback, time=dtime(hour, minute, tzinfo=tz), name=f"checkin:{user_id}"
        )
        count += 1
    db.close()
    elapsed = time.perf_counter() - started
    after = rss_mb()
    await app.job_queue.stop(wait=False)
    return {"seconds": elapsed, "rss_mb": after, "rss_before_mb": before, "jobs": count}


def run_child(mode: str, db_path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, f"--child-{mode}", str(db_path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def startup(db_path: Path) -> dict[str, float]:
    run_child("startup", db_path)  # warm-up: file cache, bytecode
    runs = [run_child("startup", db_path) for _ in range(STARTUP_RUNS)]
    return {  # fastest time (noise only ever adds), median memory
        "seconds": min(r["seconds"] for r in runs),
        "scheduler_seconds": min(r["scheduler_seconds"] for r in runs),
        "rss_mb": statistics.median(r["rss_mb"] for r in runs),
        "jobs": runs[0]["jobs"],
    }


# --- peak minute --------------------------------------------------------------------------------


async def peak_minute(db_path: Path, peak_at: datetime) -> tuple[float, int, float]:
    """Make PEAK rows due in the minute before ``peak_at``; time claiming all of them, then the
    database work of a whole tick for them (claim, mark, advance) with a no-op sender."""
    from bot.checkins import BATCH_SIZE, CLAIM_HOLD, run_tick
    from bot.config import Settings
    from bot.content import load_content
    from bot.services import Services

    storage = await SqliteStorage.open(db_path)
    total = await storage.count_checkins()
    rng = random.Random(7)
    ids = rng.sample(range(1, total + 1), PEAK)
    base = int(peak_at.timestamp())

    async def make_due() -> None:
        async with storage.transaction() as db:
            await db.executemany(
                "UPDATE checkins SET next_due_utc = ?, claim_until = NULL, last_sent_on = NULL "
                "WHERE user_id = ?",
                [(base - rng.randrange(60), i) for i in ids],
            )

    await make_due()
    claimed = 0
    started = time.perf_counter()
    while batch := await storage.claim_due(peak_at, BATCH_SIZE, peak_at + CLAIM_HOLD):
        claimed += len(batch)
    claim_seconds = time.perf_counter() - started

    await make_due()
    settings = Settings(bot_token=TOKEN, database_path=db_path)
    svc = Services(settings=settings, content=load_content(settings.content_dir), storage=storage)

    async def no_op(chat_id: int, screen: object) -> None:
        return None

    started = time.perf_counter()
    report = await run_tick(svc, no_op, peak_at)
    tick_seconds = time.perf_counter() - started
    assert report.sent == PEAK, report
    await storage.close()
    return claim_seconds, claimed, tick_seconds


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="10k and 100k users (quick check)")
    parser.add_argument("--child-startup")
    parser.add_argument("--child-baseline")
    args = parser.parse_args()
    if args.child_startup:
        print(json.dumps(asyncio.run(child_startup(args.child_startup))))
        return
    if args.child_baseline:
        print(json.dumps(asyncio.run(child_baseline(args.child_baseline))))
        return

    sizes = [10_000, 100_000] if args.small else [100_000, 1_000_000]
    run_started = time.perf_counter()
    # Seed a day ahead, so nothing falls due while the benchmark runs.
    after = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    with tempfile.TemporaryDirectory(prefix="checkins-bench-") as tmp:
        paths = {0: Path(tmp) / "empty.sqlite3"}
        seed(paths[0], 0, after)
        for size in sizes:
            paths[size] = Path(tmp) / f"users-{size}.sqlite3"
            started = time.perf_counter()
            seed(paths[size], size, after)
            print(f"seeded {size:>9,} subscriptions in {time.perf_counter() - started:5.1f} s")

        results = {size: startup(path) for size, path in paths.items()}
        baseline_size = sizes[0]
        baseline = run_child("baseline", paths[baseline_size])
        peak_at = after  # every seeded check-in is due later than this
        claim_s, claimed, tick_s = asyncio.run(peak_minute(paths[sizes[-1]], peak_at))

    empty = results[0]
    print()
    print("Check-in scheduler: one repeating tick that asks the database what is due")
    print("(startup = build app, open DB, register the job, start the job queue, first tick;")
    print(f" fastest of {STARTUP_RUNS} fresh processes, after a warm-up; of which 'scheduler' is")
    print(" open DB + register + start + first tick; RSS = resident memory after startup, median)")
    print()
    header = (
        f"{'':<34}{'startup':>10}{'scheduler':>11}{'RSS':>11}"
        f"{'time ×':>9}{'RSS ×':>8}{'RSS +':>10}{'jobs':>9}"
    )
    print(header)
    print("-" * len(header))
    for size, r in results.items():
        label = "empty database" if size == 0 else f"{size:,} subscriptions"
        print(
            f"{label:<34}{r['seconds']:>8.3f} s{r['scheduler_seconds']:>9.3f} s"
            f"{r['rss_mb']:>8.1f} MB"
            f"{r['seconds'] / empty['seconds']:>9.2f}{r['rss_mb'] / empty['rss_mb']:>8.2f}"
            f"{r['rss_mb'] - empty['rss_mb']:>7.1f} MB{int(r['jobs']):>9,}"
        )
    label = f"baseline: {baseline_size // 1000}k APScheduler jobs"
    b = baseline
    print(
        f"{label:<34}{b['seconds']:>8.3f} s{'':>11}{b['rss_mb']:>8.1f} MB"
        f"{b['seconds'] / empty['seconds']:>9.1f}{b['rss_mb'] / empty['rss_mb']:>8.2f}"
        f"{b['rss_mb'] - empty['rss_mb']:>7.1f} MB{int(b['jobs']):>9,}"
    )
    print()
    big = results[sizes[-1]]
    print(
        f"goal: startup with {sizes[-1]:,} vs empty at most 1.2× and under 30 MB more: "
        f"time {big['seconds'] / empty['seconds']:.2f}× "
        f"(scheduler part {big['scheduler_seconds'] / empty['scheduler_seconds']:.2f}×), "
        f"RSS {big['rss_mb'] / empty['rss_mb']:.2f}× (+{big['rss_mb'] - empty['rss_mb']:.1f} MB)"
    )
    print(
        f"peak minute in the {sizes[-1]:,}-user database: claiming {claimed:,} due check-ins "
        f"took {claim_s:.3f} s (goal under 1 s); the whole tick's database work for them "
        f"(claim, mark, advance; no-op sender) took {tick_s:.2f} s"
    )
    print(
        f"baseline vs tick scheduler with the same {baseline_size:,} users: startup "
        f"{baseline['seconds'] / results[baseline_size]['seconds']:.0f}× slower, "
        f"+{baseline['rss_mb'] - results[baseline_size]['rss_mb']:.0f} MB"
    )
    print(f"\n(total run time {time.perf_counter() - run_started:.0f} s)")


if __name__ == "__main__":
    main()
