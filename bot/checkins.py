"""Check-in scheduler: when each check-in is due, and one repeating job that sends those due.

The database is the truth (see ``bot/storage/sqlite/checkins.py``): each subscription stores its
local time, IANA zone and next due instant in UTC. This module decides those instants
(:func:`first_due`, on top of the local-time rules of ``bot/checkin_time.py``) and storage only
stores them: a person's changes go through :func:`set_schedule`, :func:`pause` and
:func:`resume`, which compute the next occurrence from the stored settings and save it with a
compare-and-set (:meth:`bot.storage.Storage.save_schedule`), reading again if a check-in went
out in between. :func:`start_checkins` registers ONE repeating
JobQueue job; nothing is built per user, so startup costs the same for ten users or a million,
and a restart loses nothing. Each tick (:func:`run_tick`, which takes the clock as an argument so
tests can run a simulated year) claims due rows in batches, sends each check-in through the
shared bulk rate limiter (``bot/delivery.py``) and advances the row to its next local
occurrence:

* missed by more than ``settings.checkin_missed_window`` (downtime): skipped, never sent late
  at night; the row moves on to its next occurrence;
* that local date already had a check-in (``last_sent_on``): not sent again;
* 403 (the person blocked the bot): check-ins are turned off and the person marked blocked;
* any other failure after ``deliver``'s retries: nothing is recorded as sent and the row is
  retried a few minutes later, until the missed window ends; a 429 is waited out by the limiter.

No message text is stored or logged; logs carry counts only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram.ext import Application, ContextTypes

from bot import checkin_screens
from bot.checkin_time import local_date_of, next_due
from bot.delivery import BULK, Outcome, deliver
from bot.screens import Screen
from bot.services import Services, services_of
from bot.storage import CheckinSettings, DueCheckin, Storage

log = logging.getLogger(__name__)

JOB_NAME = "checkins"
BATCH_SIZE = 100  # rows claimed at a time: about four seconds of sending at 25 messages/s
CLAIM_HOLD = timedelta(minutes=10)  # a claim left by a crashed process expires after this
RETRY_AFTER = timedelta(minutes=5)  # a failed send is tried again after this
# Rows marked as going out ahead of their actual send: each waits at most this many limiter
# slots (under half a second at 25 messages/s), so a killed process loses at most these few,
# and a stopping one only waits for these to finish.
IN_FLIGHT = 10
# A schedule change is saved only if no check-in went out since it was read; it is read again
# and recomputed at most this many times (a conflict needs a send in the same instant).
SAVE_ATTEMPTS = 10
_RUNNING = "checkins_tick_running"

# Sends one check-in: (chat id, screen) -> the Bot API call; raises telegram errors.
Sender = Callable[[int, Screen], Awaitable[object]]


def utcnow() -> datetime:
    """The scheduler's clock (tests call :func:`run_tick` with their own ``now`` instead)."""
    return datetime.now(UTC)


# --- when a check-in is due -----------------------------------------------------------------------


def first_due(
    local: time,
    zone: ZoneInfo,
    now: datetime,
    *,
    last_sent_on: date | None = None,
    paused_until: datetime | None = None,
) -> datetime:
    """The next check-in after ``now`` (and after a pause), skipping a local date that already
    had one: a person who moves their time later on a day they were already checked in on
    gets the next one tomorrow, not a second one today."""
    after = max(now, paused_until) if paused_until is not None else now
    due = next_due(local, zone, after)
    if last_sent_on is not None and local_date_of(due, zone) <= last_sent_on:
        due = next_due(local, zone, due)
    return due


async def set_schedule(
    db: Storage, user_id: int, local: time, zone: str, now: datetime
) -> CheckinSettings:
    """Turn check-ins on, or change the time or zone; returns the new settings.

    A pause still running is kept. The person's user row must exist (it is created by their
    first message)."""
    tz = ZoneInfo(zone)
    for _ in range(SAVE_ATTEMPTS):
        current = await db.get_checkin(user_id)
        paused = current.paused_until if current is not None and current.paused(now) else None
        due = first_due(
            local,
            tz,
            now,
            last_sent_on=None if current is None else current.last_sent_on,
            paused_until=paused,
        )
        saved = await db.save_schedule(
            user_id,
            expected=current,
            local_time=local,
            zone=zone,
            next_due=due,
            paused_until=paused,
        )
        if saved is not None:
            return saved
    raise RuntimeError("check-in settings kept changing while being saved")


async def pause(
    db: Storage, user_id: int, until: datetime, now: datetime
) -> CheckinSettings | None:
    """Send nothing before ``until``; None when check-ins are off."""
    return await _reschedule(db, user_id, now, until)


async def resume(db: Storage, user_id: int, now: datetime) -> CheckinSettings | None:
    """End a pause now; None when check-ins are off."""
    return await _reschedule(db, user_id, now, None)


async def _reschedule(
    db: Storage, user_id: int, now: datetime, paused_until: datetime | None
) -> CheckinSettings | None:
    for _ in range(SAVE_ATTEMPTS):
        current = await db.get_checkin(user_id)
        if current is None or current.local_time is None or current.zone is None:
            return None
        due = first_due(
            current.local_time,
            ZoneInfo(current.zone),
            now,
            last_sent_on=current.last_sent_on,
            paused_until=paused_until,
        )
        saved = await db.save_schedule(
            user_id,
            expected=current,
            local_time=current.local_time,
            zone=current.zone,
            next_due=due,
            paused_until=paused_until,
        )
        if saved is not None:
            return saved
    raise RuntimeError("check-in settings kept changing while being saved")


# --- the tick -------------------------------------------------------------------------------------


@dataclass
class TickReport:
    """What one tick did, as counts (logged; asserted on by tests)."""

    sent: int = 0
    skipped_late: int = 0  # missed by more than the window: rescheduled without sending
    already_sent: int = 0  # that local date already had its check-in
    blocked: int = 0  # 403: unsubscribed
    retried: int = 0  # failed: will be retried after RETRY_AFTER
    released: int = 0  # not sent because the application is stopping: due again at once
    lost_claim: int = 0  # the person changed or stopped check-ins while the row was claimed

    def add(self, other: TickReport) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def total(self) -> int:
        return sum(getattr(self, name) for name in self.__dataclass_fields__)


def bot_sender(application: Application[Any, Any, Any, Any, Any, Any]) -> Sender:
    """Send through the application's bot, marked bulk so the shared limiter paces it."""

    async def send(chat_id: int, screen: Screen) -> object:
        return await application.bot.send_message(
            chat_id, screen.text, reply_markup=screen.keyboard, rate_limit_args=BULK
        )

    return send


async def run_tick(
    svc: Services,
    send: Sender,
    now: datetime,
    *,
    batch_size: int = BATCH_SIZE,
    retries: int = 3,
    backoff: float = 0.5,
    clock: Callable[[], datetime] | None = None,
    should_continue: Callable[[], bool] | None = None,
) -> TickReport:
    """Send every check-in due at ``now``, batch by batch, and advance each row.

    ``clock`` (the real one in production) gives the time for each batch after the first, so a
    long tick neither claims with an old time nor writes claims that have already expired;
    without it the whole tick runs at ``now`` (simulated clocks in tests). Once
    ``should_continue`` returns False (the application is stopping) no more rows are claimed
    or sent: the claimed rows not yet sent are released, due again at once.

    Safe to run concurrently with itself, in this process or another one sharing the database:
    a row is claimed before it is handled and each local date is sent at most once."""
    report = TickReport()
    keep_going = should_continue or (lambda: True)
    gate = asyncio.Semaphore(IN_FLIGHT)
    first = True
    while keep_going():
        batch_now = now if first or clock is None else clock()
        first = False
        claimed = await svc.db.claim_due(batch_now, batch_size, batch_now + CLAIM_HOLD)
        if not claimed:
            break
        outcomes = await asyncio.gather(
            *(
                _handle(svc, send, item, batch_now, retries, backoff, gate, keep_going)
                for item in claimed
            ),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                # The row stays claimed and is picked up again once the claim expires.
                log.error("check-in for one row failed unexpectedly", exc_info=outcome)
                svc.metrics.error("checkins")
            else:
                report.add(outcome)
                _count(svc, outcome)
        if len(claimed) < batch_size:
            break
    return report


async def _handle(
    svc: Services,
    send: Sender,
    item: DueCheckin,
    now: datetime,
    retries: int,
    backoff: float,
    gate: asyncio.Semaphore,
    keep_going: Callable[[], bool],
) -> TickReport:
    """Send (or skip) one claimed check-in and advance its row."""
    report = TickReport()
    zone = ZoneInfo(item.zone)
    day = local_date_of(item.due, zone)
    late = now - item.due > svc.settings.checkin_missed_window
    if late or (item.last_sent_on is not None and item.last_sent_on >= day):
        following = first_due(item.local_time, zone, max(item.due, now), last_sent_on=day)
        await svc.db.finish(item, following, now, sent=False)
        if late:
            report.skipped_late += 1
        else:
            report.already_sent += 1
        return report
    # Only a few rows at a time are marked as going out ahead of their send (see IN_FLIGHT).
    async with gate:
        if not keep_going():
            # Stopping: release the claim, so the next start sends it within the window.
            await svc.db.retry_later(item, now)
            report.released += 1
            return report
        if not await svc.db.mark_sending(item, day):
            report.lost_claim += 1
            return report
        screen = _message(svc, item, now)
        result = await deliver(
            lambda: send(item.user_id, screen),
            retries=retries,
            backoff=backoff,
            metrics=svc.metrics,
        )
    if result.outcome is Outcome.SENT:
        following = first_due(item.local_time, zone, max(item.due, now), last_sent_on=day)
        await svc.db.finish(item, following, now, sent=True)
        report.sent += 1
    elif result.outcome is Outcome.BLOCKED:
        await svc.db.stop_checkins(item.user_id)
        await svc.db.mark_blocked(item.user_id)
        report.blocked += 1
    else:
        log.warning("check-in not delivered (%s); retrying later", result.reason)
        await svc.db.retry_later(item, now + RETRY_AFTER)
        report.retried += 1
    return report


def _count(svc: Services, report: TickReport) -> None:
    """Check-ins sent and not sent (by reason) in ``/metrics``."""
    for name in report.__dataclass_fields__:
        svc.metrics.checkins(name, getattr(report, name))


def _message(svc: Services, item: DueCheckin, now: datetime) -> Screen:
    lang = svc.content.lang(item.language)
    days = None
    if item.counter_start is not None and item.counter_shown:
        days = (checkin_screens.local_today(ZoneInfo(item.zone), now) - item.counter_start).days
    return checkin_screens.checkin_message(
        lang,
        discreet=item.discreet,
        enc_seed=item.enc_seed,
        enc_position=item.enc_position,
        counter_days=days,
    )


async def _tick_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The repeating job: one tick at a time per process (a long tick makes the next ones
    return at once; the rows they would have found are handled by the running one)."""
    svc = services_of(context.application)
    if svc.storage is None or svc.extras.get(_RUNNING):
        return
    svc.extras[_RUNNING] = True
    try:
        application = context.application
        report = await run_tick(
            svc,
            bot_sender(application),
            utcnow(),
            clock=utcnow,
            # Application.stop() waits for this job: stop claiming and sending at once.
            should_continue=lambda: application.running,
        )
        if report.total:
            log.info("check-in tick: %s", report)
    except Exception:
        log.exception("check-in tick failed; the next tick tries again")
        svc.metrics.error("checkins")
    finally:
        svc.extras[_RUNNING] = False


def start_checkins(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register the one repeating check-in job (call from ``post_init``)."""
    svc = services_of(application)
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError("check-ins need python-telegram-bot's job queue (the job-queue extra)")
    interval = svc.settings.checkin_tick_seconds
    job_queue.run_repeating(
        _tick_job,
        interval=interval,
        first=min(interval, 5.0),  # soon after a restart: catch up within the missed window
        name=JOB_NAME,
        job_kwargs={
            # A busy event loop must not make APScheduler drop a tick (its default grace is
            # 1 s); late ticks run once (coalesce) and an overlapping one returns at once.
            "misfire_grace_time": None,
            "coalesce": True,
            "max_instances": 2,
        },
    )
    log.info("check-in scheduler started: one job, every %.0f s", interval)
