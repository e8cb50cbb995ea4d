"""Benchmark of update handling: the whole bot against a bare echo bot, in the same run.

Both applications run in this process behind the same in-process fake Bot API
(``tests.fake.FakeTelegram`` through ``FakeRequest``; no network, no HTTP):

* the bot: ``bot.app.build_application`` with a temporary SQLite file, run through the
  ``run_polling`` lifecycle without polling (``tests.fake.run_app``);
* the baseline: a bare python-telegram-bot ``Application`` with one ``MessageHandler`` that
  echoes every text with ``send_message(chat_id, text)``.

``N`` returning users (each sent ``/start`` once first, not timed) send a fixed mix of ordinary
updates, one third each: ``/start``, a press of the Help now button (callback data ``help``, on
the menu message ``/start`` showed) and the free text "hello, how does this work". Every update
is a real ``telegram.Update`` handed to ``await application.process_update(update)``; building
the updates is not timed. Both applications get exactly the same kinds of updates in the same
order (the echo bot has no handler for button presses, so it does nothing for them: that is
the floor the bot is compared with).

Before timing, one update of each kind is checked to make the Bot API calls expected (the bot:
``sendMessage`` for ``/start`` and text, ``answerCallbackQuery`` + ``editMessageText`` for Help
now), and at the end the fake must have seen no rejected request and no handler error.

Printed: updates per second one at a time (sequential awaits) and with 32 in flight (a
semaphore of 32 and ``asyncio.gather``), for both applications, each the median of three rounds
after a warm-up round (the applications take turns in every round), and the ratios bot/echo;
the same one at a time with the fake Bot API's own time taken out (its HTML parsing is
Telegram's work in production); milliseconds per update by kind; then Help now latency
(``process_update`` of a Help now press, reply included), p50 and p99 over 1000 presses one at
a time. ``--quick`` uses 60 users, 180 updates a round and 200 presses.

The content is the repository's ``content/`` (or ``--content DIR``). If it does not load as a
whole (a language still being written), the run uses a copy with only English and the language
asked for, and says so; a language that does not exist or does not load ends the run with a
clear message (exit 1).

Goals (from the issue): one at a time >= 0.3x echo (aim 0.5x); Help now p50/p99 reported.

Run from the repository root::

    python benchmarks/updates.py [--quick] [--lang es | --compare-langs] [--content DIR]

``--lang es`` uses people whose stored language is Spanish (default ``en``);
``--compare-langs`` measures English and Spanish people in the same run (same bot, same
database) and prints the Spanish/English ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import logging
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import Application, ContextTypes, MessageHandler, filters  # noqa: E402

from bot.app import build_application  # noqa: E402
from bot.config import DEFAULT_CONTENT_DIR, Settings  # noqa: E402
from bot.content import ContentError, load_content  # noqa: E402
from bot.services import services_of  # noqa: E402
from tests.fake import TEST_TOKEN, FakeRequest, FakeTelegram, Msg, run_app  # noqa: E402
from tests.fake.html import command_entities  # noqa: E402

KINDS = ("start", "help", "text")
FREE_TEXT = "hello, how does this work"
IN_FLIGHT = 32
ROUNDS = 3
FIRST_USER = {"en": 500_000, "es": 600_000}  # user ids: one block per language
TELEGRAM_LANGUAGE = {"en": "en", "es": "es-ES"}  # the Telegram app's language_code


@dataclass(frozen=True)
class Size:
    users: int
    per_round: int  # updates in one round
    presses: int  # Help now presses for the latency figures


FULL = Size(users=500, per_round=1500, presses=1000)
QUICK = Size(users=60, per_round=180, presses=200)


@dataclass
class Rates:
    """Updates per second, every round's figure (the median is reported), and the time of each
    update handled one at a time, by kind."""

    sequential: list[float] = field(default_factory=list)
    concurrent: list[float] = field(default_factory=list)
    fake_share: list[float] = field(default_factory=list)  # of the time, one at a time
    by_kind: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})

    @property
    def seq(self) -> float:
        return statistics.median(self.sequential)

    @property
    def conc(self) -> float:
        return statistics.median(self.concurrent)

    @property
    def seq_without_fake(self) -> float:
        """Updates per second one at a time, the fake Bot API's time taken out."""
        return self.seq / (1 - statistics.median(self.fake_share))

    def kind_ms(self, kind: str) -> float:
        return statistics.median(self.by_kind[kind]) * 1000


@dataclass
class Subject:
    """One application measured with one group of people."""

    name: str
    app: Application  # type: ignore[type-arg]
    request: TimedRequest
    people: People
    expected: dict[str, dict[str, int]]  # Bot API calls one update of each kind makes
    rates: Rates = field(default_factory=Rates)
    latencies: list[float] = field(default_factory=list)

    @property
    def lang(self) -> str:
        return self.people.lang

    def pct(self, q: float) -> float:
        """The ``q`` quantile of the Help now latencies, in ms (nearest rank)."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


class TimedRequest(FakeRequest):
    """``FakeRequest`` that adds up the time spent in the fake Bot API (the fake's own work,
    such as parsing the bot's HTML, is Telegram's work in production, not the bot's)."""

    spent = 0.0

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        start = time.perf_counter()
        try:
            return await super().do_request(*args, **kwargs)
        finally:
            self.spent += time.perf_counter() - start


class People:
    """Deterministic users of one language and the updates they send to one application."""

    def __init__(self, api: FakeTelegram, lang: str, count: int) -> None:
        self.api = api
        self.lang = lang
        first = FIRST_USER[lang]
        self.users = [
            {
                "id": uid,
                "is_bot": False,
                "first_name": f"Person{uid - first}",
                "language_code": TELEGRAM_LANGUAGE[lang],
            }
            for uid in range(first, first + count)
        ]
        for user in self.users:
            api.register_user(user)
            api.register_chat(
                {"id": user["id"], "type": "private", "first_name": user["first_name"]}
            )
        self.menus: dict[int, Msg] = {}  # the menu message /start showed each person

    def message(self, user: dict[str, Any], text: str) -> dict[str, Any]:
        entities = command_entities(text) if text.startswith("/") else []
        msg = self.api.user_message(user, int(user["id"]), text=text, entities=entities)
        return {"update_id": self.api.next_update_id(), "message": msg.raw}

    def press_help(self, user: dict[str, Any]) -> dict[str, Any]:
        """A Help now press on a fresh copy of the person's menu message (so that every press
        edits a menu into Help now, as the first press on a menu does)."""
        menu = self.menus[int(user["id"])]
        with self.api._lock:
            copy = dataclasses.replace(
                menu, message_id=self.api._new_message_id(menu.chat_id), edited=False, edits=0
            )
            self.api._store_bot_message(copy)
        query = self.api.new_callback_query(user, copy, "help")
        return {"update_id": self.api.next_update_id(), "callback_query": query}

    def update(self, i: int) -> dict[str, Any]:
        """Update number ``i`` of the mix: person ``i mod N``, kind ``i mod 3``."""
        user = self.users[i % len(self.users)]
        kind = KINDS[i % len(KINDS)]
        if kind == "start":
            return self.message(user, "/start")
        if kind == "help":
            return self.press_help(user)
        return self.message(user, FREE_TEXT)

    def updates(self, app: Application, count: int) -> list[tuple[str, Update]]:  # type: ignore[type-arg]
        return [
            (KINDS[i % len(KINDS)], Update.de_json(self.update(i), app.bot)) for i in range(count)
        ]

    def presses(self, app: Application, count: int) -> list[Update]:  # type: ignore[type-arg]
        return [
            Update.de_json(self.press_help(self.users[i % len(self.users)]), app.bot)
            for i in range(count)
        ]

    async def seed(self, app: Application) -> None:  # type: ignore[type-arg]
        """Each person sends /start once (not timed); remember the menu it showed."""
        for user in self.users:
            await app.process_update(Update.de_json(self.message(user, "/start"), app.bot))
            menu = self.api.last_bot_message(int(user["id"]), with_buttons=True)
            if menu is None:
                raise SystemExit(f"/start showed no menu to user {user['id']}")
            self.menus[int(user["id"])] = menu


async def one_at_a_time(subject: Subject, updates: list[tuple[str, Update]]) -> float:
    app, times = subject.app, subject.rates.by_kind
    fake_before = subject.request.spent
    start = time.perf_counter()
    for kind, update in updates:
        began = time.perf_counter()
        await app.process_update(update)
        times[kind].append(time.perf_counter() - began)
    elapsed = time.perf_counter() - start
    subject.rates.fake_share.append((subject.request.spent - fake_before) / elapsed)
    return len(updates) / elapsed


async def in_flight(subject: Subject, updates: list[tuple[str, Update]]) -> float:
    app = subject.app
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(update: Update) -> None:
        async with gate:
            await app.process_update(update)

    start = time.perf_counter()
    await asyncio.gather(*(one(u) for _, u in updates))
    return len(updates) / (time.perf_counter() - start)


async def check_answers(subject: Subject) -> None:
    """One update of each kind, not timed: exit unless the application answered it with the
    Bot API calls expected (so that the benchmark never times a bot that fails quietly)."""
    api = subject.people.api
    for kind, update in subject.people.updates(subject.app, len(KINDS)):
        before = dict(api.call_counts)
        await subject.app.process_update(update)
        made = {m: n - before.get(m, 0) for m, n in api.call_counts.items()}
        made = {m: n for m, n in made.items() if n}
        if made != subject.expected[kind]:
            raise SystemExit(
                f"error: {subject.name} answered {kind!r} with {made}, "
                f"expected {subject.expected[kind]}"
            )


async def measure_rates(subjects: list[Subject], per_round: int) -> None:
    """A warm-up round, then ROUNDS rounds, per mode; the subjects take turns in every round
    (so that a noisy neighbour on the machine hurts them alike)."""
    for mode, name in ((one_at_a_time, "sequential"), (in_flight, "concurrent")):
        for n in range(ROUNDS + 1):
            for subject in subjects:
                updates = subject.people.updates(subject.app, per_round)
                gc.collect()
                rate = await mode(subject, updates)
                if n == 0:  # warm-up: not counted
                    if mode is one_at_a_time:
                        subject.rates.by_kind = {k: [] for k in KINDS}
                        subject.rates.fake_share.clear()
                else:
                    getattr(subject.rates, name).append(rate)


async def help_latencies(subjects: list[Subject], count: int) -> None:
    """``count`` Help now presses one at a time for every subject, the subjects taking turns
    press by press (after 50 presses each of warm-up)."""
    for subject in subjects:
        for update in subject.people.presses(subject.app, min(count, 50)):
            await subject.app.process_update(update)
    presses = [s.people.presses(s.app, count) for s in subjects]
    gc.collect()
    for i in range(count):
        for subject, updates in zip(subjects, presses, strict=True):
            start = time.perf_counter()
            await subject.app.process_update(updates[i])
            subject.latencies.append(time.perf_counter() - start)


def echo_application(api: FakeTelegram, request: TimedRequest) -> Application:  # type: ignore[type-arg]
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None and message.text is not None:
            await context.bot.send_message(message.chat_id, message.text)

    app = (
        Application.builder()
        .token(TEST_TOKEN)
        .request(request)
        .get_updates_request(FakeRequest(api))
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    return app


async def stored_language(app: Application, user_id: int) -> str | None:  # type: ignore[type-arg]
    record = await services_of(app).db.get_user(user_id)
    return None if record is None else record.language


def content_for(langs: list[str], folder: Path, source: Path | None) -> tuple[Path, str]:
    """The content directory to run with, and a note if it is not the repository's own.

    ``source`` (default: the repository's ``content/``) as it is when it loads; when it does
    not (a language still being written), a copy with only English and ``langs``, so that
    English figures need no other language to be finished. Exits with a clear message if a
    language in ``langs`` does not exist or does not load."""
    source = source or DEFAULT_CONTENT_DIR
    if not source.is_dir():
        raise SystemExit(f"error: no content directory {source}")
    have = sorted(p.name for p in source.iterdir() if p.is_dir())
    missing = [lang for lang in langs if lang not in have]
    if missing:
        raise SystemExit(
            f"error: the content has no {', '.join(repr(m) for m in missing)} language "
            f"({source} has: {', '.join(have)}); add {source / missing[0]}/ first"
        )
    try:
        load_content(source)
        return source, ""
    except ContentError as exc:
        whole_problem = str(exc).count("\n")
    subset = folder / "content"
    subset.mkdir()
    kept = {"en", *langs}
    left_out = [lang for lang in have if lang not in kept]
    hotlines = yaml.safe_load((source / "hotlines.yaml").read_text(encoding="utf-8"))
    (subset / "hotlines.yaml").write_text(
        yaml.safe_dump(_without_languages(hotlines, set(left_out)), allow_unicode=True),
        encoding="utf-8",
    )
    for lang in sorted(kept):
        shutil.copytree(source / lang, subset / lang)
    try:
        load_content(subset)
    except ContentError as exc:
        wanted = ", ".join(repr(lang) for lang in langs if lang != "en") or "'en'"
        raise SystemExit(f"error: the content has no usable {wanted} language:\n{exc}") from None
    return subset, (
        f"note: {source} does not load as a whole ({whole_problem} problem(s)); "
        f"measured with {', '.join(sorted({'en', *langs}))} only (left out: {', '.join(left_out)})"
    )


def _without_languages(value: Any, codes: set[str]) -> Any:
    """``value`` (hotline data) without the texts in languages ``codes`` (``{en: ..., es: ...}``
    maps lose their ``es`` key when Spanish is left out; services shown only in such a
    language go too: nobody measured sees them)."""
    if isinstance(value, dict):
        translated = "en" in value
        return {
            k: _without_languages(v, codes)
            for k, v in value.items()
            if not (translated and k in codes)
        }
    if isinstance(value, list):  # a service only for people using a language left out: gone
        return [
            _without_languages(v, codes)
            for v in value
            if not (isinstance(v, dict) and set(v.get("only_languages") or ()) & codes)
        ]
    return value


BOT_CALLS = {
    "start": {"sendMessage": 1},
    "help": {"answerCallbackQuery": 1, "editMessageText": 1},
    "text": {"sendMessage": 1},
}
ECHO_CALLS = {"start": {"sendMessage": 1}, "help": {}, "text": {"sendMessage": 1}}


async def run(size: Size, langs: list[str], content: Path | None) -> tuple[Subject, list[Subject]]:
    api = FakeTelegram(TEST_TOKEN, record_calls=False)
    with tempfile.TemporaryDirectory() as tmp:
        content_dir, note = content_for(langs, Path(tmp), content)
        if note:
            print(note, flush=True)
        settings = Settings(
            bot_token=TEST_TOKEN,
            database_path=Path(tmp) / "bench.sqlite3",
            log_level="WARNING",
            content_dir=content_dir,
        )
        bot_request, echo_request = TimedRequest(api), TimedRequest(api)
        bot = build_application(settings, request=bot_request, get_updates_request=FakeRequest(api))
        echo_app = echo_application(api, echo_request)
        async with run_app(bot, api), run_app(echo_app, api):
            groups = {lang: People(api, lang, size.users) for lang in langs}
            for lang, people in groups.items():
                print(f"seeding {size.users} {lang} users (/start once each) ...", flush=True)
                await people.seed(bot)
                got = await stored_language(bot, int(people.users[0]["id"]))
                if got != lang:
                    raise SystemExit(f"error: seeded {lang} users are stored with language {got!r}")
            bots = [
                Subject(f"bot ({g.lang} users)", bot, bot_request, g, BOT_CALLS)
                for g in groups.values()
            ]
            echo = Subject("echo baseline", echo_app, echo_request, groups[langs[0]], ECHO_CALLS)
            for subject in [*bots, echo]:
                await check_answers(subject)
            print(
                f"updates/s: {ROUNDS} rounds of {size.per_round} updates after a warm-up, "
                f"one at a time and {IN_FLIGHT} in flight ...",
                flush=True,
            )
            await measure_rates([*bots, echo], size.per_round)
            print(f"Help now: {size.presses} presses one at a time, each language ...", flush=True)
            await help_latencies(bots, size.presses)
        problems = api.problems()
    if problems:
        print(f"\nthe fake Bot API saw {len(problems)} problem(s), e.g.:", file=sys.stderr)
        for problem in problems[:5]:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(1)
    return echo, bots


def report(size: Size, echo: Subject, bots: list[Subject]) -> None:
    row = "{:<30}{:>15}{:>15}"
    kinds = "{:<30}{:>15}{:>15}{:>15}"
    print()
    print(
        f"{size.users} returning users a language; mix: /start, Help now press, free text; "
        f"{size.per_round} updates a round; median of {ROUNDS} rounds after a warm-up"
    )
    print()
    print(row.format("updates/s", "one at a time", f"{IN_FLIGHT} in flight"))
    for s in [echo, *bots]:
        print(row.format(s.name, f"{s.rates.seq:.0f}", f"{s.rates.conc:.0f}"))
    for b in bots:
        print(
            row.format(
                f"ratio bot/echo ({b.lang})",
                f"{b.rates.seq / echo.rates.seq:.3f}",
                f"{b.rates.conc / echo.rates.conc:.3f}",
            )
        )
    print()
    print(row.format("the fake Bot API's time taken out", "one at a time", ""))
    for s in [echo, *bots]:
        share = statistics.median(s.rates.fake_share)
        print(
            row.format(
                f"{s.name}: updates/s", f"{s.rates.seq_without_fake:.0f}", f"(fake {share:.0%})"
            )
        )
    for b in bots:
        ratio = b.rates.seq_without_fake / echo.rates.seq_without_fake
        print(row.format(f"ratio bot/echo ({b.lang})", f"{ratio:.3f}", ""))
    print()
    print(kinds.format("ms per update, one at a time", "/start", "Help now", "free text"))
    for s in [echo, *bots]:
        print(kinds.format(s.name, *(f"{s.rates.kind_ms(k):.3f}" for k in KINDS)))
    print("(the echo bot has no handler for button presses: it does nothing for them)")
    print()
    print(row.format("Help now latency (ms)", "p50", "p99") + f"{'presses':>10}")
    for b in bots:
        print(
            row.format(b.name, f"{b.pct(0.5):.2f}", f"{b.pct(0.99):.2f}")
            + f"{len(b.latencies):>10}"
        )
    if len(bots) == 2:
        en, es = bots
        print()
        print(row.format(f"Spanish/English ({es.lang}/{en.lang})", "", ""))
        print(row.format("  rate, one at a time", f"{es.rates.seq / en.rates.seq:.3f}", ""))
        print(
            row.format(f"  rate, {IN_FLIGHT} in flight", f"{es.rates.conc / en.rates.conc:.3f}", "")
        )
        print(row.format("  Help now p50", f"{es.pct(0.5) / en.pct(0.5):.3f}", ""))
        print(row.format("  Help now p99", f"{es.pct(0.99) / en.pct(0.99):.3f}", ""))
    print()
    print("rounds (updates/s), one at a time | 32 in flight:")
    for s in [echo, *bots]:
        print(f"  {s.name:<28}{_rounds(s.rates)}")
    print()
    print("goals: one at a time >= 0.3x echo (aim 0.5x); Help now p50/p99")
    for b in bots:
        ratio = b.rates.seq / echo.rates.seq
        verdict = "aim met" if ratio >= 0.5 else "met, aim not" if ratio >= 0.3 else "NOT met"
        print(
            f"  {b.lang}: one at a time {ratio:.2f}x echo ({verdict}); "
            f"Help now p50 {b.pct(0.5):.2f} ms, p99 {b.pct(0.99):.2f} ms"
        )


def _rounds(rates: Rates) -> str:
    seq = " ".join(f"{x:.0f}" for x in rates.sequential)
    conc = " ".join(f"{x:.0f}" for x in rates.concurrent)
    return f"{seq} | {conc}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer updates (CI smoke)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--lang", default="en", help="stored language of the users (default en)")
    group.add_argument(
        "--compare-langs", action="store_true", help="English and Spanish users in one run"
    )
    parser.add_argument(
        "--content",
        type=Path,
        help="content directory to run with (default: the repository's content/)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name in ("httpx", "telegram", "apscheduler", "bot", "handlers", "tests"):
        logging.getLogger(name).setLevel(logging.WARNING)
    size = QUICK if args.quick else FULL
    langs = ["en", "es"] if args.compare_langs else [args.lang]
    echo, bots = asyncio.run(run(size, langs, args.content))
    report(size, echo, bots)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
