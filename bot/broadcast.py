"""Broadcast worker: delivers admin broadcasts from their recipient rows, and resumes them.

This module owns sending a broadcast once it has been written to storage
(``Storage.create_broadcast``): one :class:`Broadcaster` per application delivers unfinished
broadcasts one after another, oldest first. Each copy goes out with ``copy_message`` (formatting
and media survive) marked bulk, so the shared :class:`~bot.delivery.PriorityRateLimiter` paces it
to ``BROADCAST_RATE`` with what interactive replies leave and pauses it on a 429; ``deliver()``
classifies the outcome. It keeps the live status message up to date (edited every few
seconds) and sends the final report; what they say is :mod:`bot.admin_screens`.

How it keeps its promises
-------------------------
* Every outcome is recorded: ``sent``; ``blocked`` (403; the person's user row is marked blocked
  in the same transaction); ``failed`` with Telegram's reason (400 at once; network errors and
  5xx after bounded retries); ``cancelled`` for what is left when an admin presses Stop.
* Outcomes are written in batches (every :data:`FLUSH_SECONDS` or :data:`FLUSH_SHARE` of the
  window, whichever comes first), one short transaction each, so the database lock is never
  held for long and the event loop never waits on a big write.
* A window of at most ``concurrency`` recipients is *open* at any time: claimed by the worker
  and not yet recorded as done in the database (being paced, on the wire, or waiting for the
  next batch write). A recipient's slot is only given back once its outcome is committed.
* Nothing else is kept in memory: pending recipients are read a page at a time.

Crash safety and the duplicate bound
------------------------------------
If the process dies (even ``kill -9``), the next start resumes from the rows still ``pending``
(:func:`resume_broadcasts`, called from ``post_init``). A message can therefore reach someone
twice only if it was sent before the crash but its outcome had not yet been committed: at most
the open window, i.e. **at most** :func:`concurrency_for` ``(BROADCAST_RATE)`` **people** (20 at
the default 25/s, never more than :data:`MAX_CONCURRENCY`), each at most twice per crash.
Everyone else receives exactly one copy. (Independently of crashes, Telegram offers no
idempotency key: a send that timed out after Telegram had accepted it is retried, as for any
network error, and may show twice; at the default timeouts this needs Telegram to take more
than 5 s to answer.)

A clean stop (SIGTERM, SIGINT) stops claiming recipients, lets the open window finish, writes
its outcomes and leaves the rest pending for the next start: no duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from telegram.constants import FloodLimit
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from bot import admin_screens
from bot.content import Language
from bot.delivery import BULK, Aborted, deliver
from bot.services import services_of
from bot.storage import RUNNING, STOPPED, Broadcast, Outcome, Storage

log = logging.getLogger(__name__)

BROADCASTER = "broadcaster"  # key in application.bot_data

MAX_CONCURRENCY = 200  # below PTB's default connection pool (256): interactive replies keep room
MIN_CONCURRENCY = 16
WINDOW_SECONDS = 0.8  # the open window covers this much sending at the configured rate
FLUSH_SECONDS = 0.25
FLUSH_SHARE = 0.25  # also write as soon as this share of the window waits for a write
PAGE_SIZE = 250
STATUS_SECONDS = 3.0
RETRIES = 3  # network errors and 5xx: retried this many times per recipient...
RETRY_BACKOFF = 0.5  # ...after 0.5 s, 1 s, 2 s


def concurrency_for(rate: float) -> int:
    """How many recipients may be open at once at ``rate`` messages per second."""
    return max(MIN_CONCURRENCY, min(MAX_CONCURRENCY, math.ceil(rate * WINDOW_SECONDS)))


async def admin_language(
    application: Application[Any, Any, Any, Any, Any, Any], admin_id: int
) -> Language:
    """The language an admin uses the bot in (the default one if nothing is stored)."""
    svc = services_of(application)
    try:
        record = await svc.db.get_user(admin_id)
    except Exception:
        record = None
    return svc.content.lang(record.language if record else None)


# --- one broadcast ----------------------------------------------------------------------------


@dataclass
class _Window:
    """Recipients claimed and not yet committed; outcomes waiting for the next batch write."""

    size: int
    slots: asyncio.Semaphore = field(init=False)
    outcomes: list[Outcome] = field(default_factory=list)
    wanted: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.size)


class BroadcastRun:
    """Delivers one broadcast's pending rows until none is left, Stop, or shutdown."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        broadcast: Broadcast,
        *,
        concurrency: int,
        status_seconds: float = STATUS_SECONDS,
    ) -> None:
        self.application = application
        self.broadcast = broadcast
        self.stop_requested = asyncio.Event()
        self._abort = asyncio.Event()  # set on Stop or shutdown: queued sends are dropped
        self._window = _Window(concurrency)
        self._status_seconds = status_seconds
        self._closing = False
        self._samples: deque[tuple[float, int]] = deque(maxlen=6)
        svc = services_of(application)
        self._storage: Storage = svc.db
        self._metrics = svc.metrics
        paid = svc.settings.broadcast_rate > FloodLimit.MESSAGES_PER_SECOND
        self._send_kwargs: dict[str, Any] = {
            "from_chat_id": broadcast.from_chat_id,
            "message_id": broadcast.message_id,
            "rate_limit_args": {**BULK, "abort": self._abort},
        }
        if paid:  # above Telegram's free ~30/s: paid broadcasts (0.1 Stars a message)
            self._send_kwargs["allow_paid_broadcast"] = True

    @property
    def broadcast_id(self) -> int:
        return self.broadcast.broadcast_id

    def request_stop(self) -> None:
        """Stop button: send nothing more; the rest is marked cancelled."""
        self.stop_requested.set()
        self._abort.set()

    def _halted(self) -> bool:
        return self.stop_requested.is_set() or not self.application.running

    async def run(self) -> None:
        bid = self.broadcast_id
        await self._storage.mark_started(bid)
        self._metrics.broadcast_remaining.set(self.broadcast.remaining)
        log.info(
            "broadcast %d: delivering %d of %d (%d at a time)",
            bid,
            self.broadcast.remaining,
            self.broadcast.total,
            self._window.size,
        )
        flusher = asyncio.create_task(self._flush_loop(), name=f"broadcast-{bid}-flush")
        status = asyncio.create_task(self._status_loop(), name=f"broadcast-{bid}-status")
        sends: set[asyncio.Task[None]] = set()
        try:
            after: int | None = None
            while not self._halted():
                page = await self._storage.pending_recipients(bid, after=after, limit=PAGE_SIZE)
                if not page:
                    break
                for user_id in page:
                    if not await self._claim():
                        break
                    task = asyncio.create_task(self._send(user_id))
                    sends.add(task)
                    task.add_done_callback(sends.discard)
                    await asyncio.sleep(0)  # one at a time: never a burst on the event loop
                after = page[-1]
            if sends:
                await asyncio.gather(*sends)
        finally:
            self._metrics.broadcast_remaining.set(0)
            self._closing = True
            self._window.wanted.set()
            await flusher
            status.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await status  # a status that failed must not cost the report
        if self.stop_requested.is_set():
            closed = await self._storage.finish_broadcast(bid, stopped=True)
        elif not self.application.running:
            log.info("broadcast %d paused for shutdown; it resumes at the next start", bid)
            return
        else:
            closed = await self._storage.finish_broadcast(bid)
        if not closed:  # already closed elsewhere (Stop while it waited): reported there
            log.info("broadcast %d was already closed", bid)
            return
        final = await self._storage.get_broadcast(bid)
        if final is not None:
            log.info(
                "broadcast %d %s: sent %d, blocked %d, failed %d, cancelled %d",
                bid,
                final.status,
                final.sent,
                final.blocked,
                final.failed,
                final.cancelled,
            )
        await self._report()

    async def _claim(self) -> bool:
        """Take a slot in the window; False once the run is halted (Stop, or the application
        stopping), and then what still waits for its turn in the limiter is not sent."""
        while not self._halted():
            try:
                await asyncio.wait_for(self._window.slots.acquire(), 0.5)
            except TimeoutError:
                continue
            if not self._halted():
                return True
            self._window.slots.release()
        self._abort.set()
        return False

    async def _send(self, user_id: int) -> None:
        bot = self.application.bot
        try:
            result = await deliver(
                lambda: bot.copy_message(chat_id=user_id, **self._send_kwargs),
                retries=RETRIES,
                backoff=RETRY_BACKOFF,
                metrics=self._metrics,
            )
        except Aborted:
            self._window.slots.release()  # nothing was sent: the row stays pending
            return
        except Exception as exc:  # never leave the window open on a bug: record it
            log.exception("broadcast %d: unexpected error", self.broadcast_id)
            self._record(Outcome(user_id, "failed", f"error: {type(exc).__name__}"))
            return
        self._record(Outcome(user_id, result.outcome.value, result.reason, result.attempts))

    def _record(self, outcome: Outcome) -> None:
        self._metrics.broadcast_message(outcome.state)
        self._metrics.broadcast_remaining.dec()
        window = self._window
        window.outcomes.append(outcome)
        if len(window.outcomes) >= max(1, int(window.size * FLUSH_SHARE)):
            window.wanted.set()

    async def _flush_loop(self) -> None:
        window = self._window
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(window.wanted.wait(), FLUSH_SECONDS)
            window.wanted.clear()
            batch, window.outcomes = window.outcomes, []
            if batch:
                try:
                    await self._storage.record_outcomes(self.broadcast_id, batch)
                except Exception:
                    log.exception("broadcast %d: could not record outcomes", self.broadcast_id)
                    window.outcomes[:0] = batch  # kept: retried at the next write
                    if self._closing:
                        raise
                    await asyncio.sleep(FLUSH_SECONDS)
                    continue
                for _ in batch:
                    window.slots.release()
            if self._closing and not window.outcomes:
                return

    # --- status message -----------------------------------------------------------------------

    async def _lang(self) -> Language:
        return await admin_language(self.application, self.broadcast.admin_id)

    def _rate(self, done: int) -> float:
        """Messages a second over the last few status updates."""
        now = time.monotonic()
        self._samples.append((now, done))
        first_time, first_done = self._samples[0]
        return (done - first_done) / (now - first_time) if now > first_time else 0.0

    async def _status_loop(self) -> None:
        """Edit the status message every few seconds (only when what it says has changed)."""
        try:
            first = await self._storage.get_broadcast(self.broadcast_id)
        except Exception:
            log.exception("broadcast %d: status not read", self.broadcast_id)
            first = None
        self._samples.append((time.monotonic(), first.done if first else 0))
        shown: str | None = None
        while True:
            await asyncio.sleep(self._status_seconds)
            try:
                shown = await self._show_status(shown)
            except Exception:  # e.g. a database error, or words broken by /reload
                log.exception("broadcast %d: status not updated", self.broadcast_id)

    async def _show_status(self, shown: str | None) -> str | None:
        """Edit the status message if what it says has changed; returns what it shows."""
        bc = await self._storage.get_broadcast(self.broadcast_id)
        if bc is None or bc.status_chat_id is None or bc.status_message_id is None:
            return shown
        lang = await self._lang()
        state = "stopping" if self.stop_requested.is_set() else "running"
        content = services_of(self.application).content
        screen = admin_screens.status(lang, content, bc, state=state, rate=self._rate(bc.done))
        text = screen.text
        if text == shown:
            return shown
        try:
            await self.application.bot.edit_message_text(
                text,
                chat_id=bc.status_chat_id,
                message_id=bc.status_message_id,
                reply_markup=screen.keyboard,
            )
        except TelegramError as exc:
            log.warning("broadcast %d: status not shown (%s)", bc.broadcast_id, exc)
            return shown
        return text

    async def _report(self) -> None:
        await show_final(self.application, self.broadcast_id)


async def show_final(
    application: Application[Any, Any, Any, Any, Any, Any], broadcast_id: int
) -> None:
    """Edit the status message to its final figures and send the report to the admin."""
    svc = services_of(application)
    bc = await svc.db.get_broadcast(broadcast_id)
    if bc is None:
        return
    lang = await admin_language(application, bc.admin_id)
    state = "stopped" if bc.status == STOPPED else "finished"
    if bc.status_chat_id is not None and bc.status_message_id is not None:
        rate = admin_screens.average_rate(bc)
        final = admin_screens.status(
            lang, svc.content, bc, state=state, rate=rate, stop_button=False
        )
        try:
            await application.bot.edit_message_text(
                final.text,
                chat_id=bc.status_chat_id,
                message_id=bc.status_message_id,
            )
        except TelegramError as exc:
            log.warning("broadcast %d: final status not shown (%s)", broadcast_id, exc)
    try:
        await application.bot.send_message(
            bc.admin_id, admin_screens.report(lang, svc.content, bc).text
        )
    except TelegramError as exc:
        log.warning("broadcast %d: report not sent (%s)", broadcast_id, exc)


# --- the application's broadcaster ------------------------------------------------------------


class Broadcaster:
    """Runs unfinished broadcasts one after another (they share one outgoing budget)."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self.application = application
        self.current: BroadcastRun | None = None
        self.status_seconds = STATUS_SECONDS
        self._task: asyncio.Task[None] | None = None
        self._wake = False

    @property
    def concurrency(self) -> int:
        return concurrency_for(services_of(self.application).settings.broadcast_rate)

    def wake(self) -> None:
        """Deliver what is unfinished (call after writing a broadcast). Needs a running app."""
        self._wake = True
        if self._task is None or self._task.done():
            self._task = self.application.create_task(self._loop(), name="broadcasts")

    async def idle(self) -> None:
        """Wait until no broadcast is being delivered (for tests and benchmarks)."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})

    async def _loop(self) -> None:
        storage = services_of(self.application).db
        failed: set[int] = set()  # left running (resumed at the next start), not retried now
        while self.application.running:
            self._wake = False
            ids = [bid for bid in await storage.running_broadcasts() if bid not in failed]
            if not ids:
                if self._wake:  # a broadcast was written meanwhile
                    continue
                return
            broadcast = await storage.get_broadcast(ids[0])
            if broadcast is None or broadcast.status != RUNNING:
                continue  # stopped meanwhile (Stop found no current run): already reported
            self.current = BroadcastRun(
                self.application,
                broadcast,
                concurrency=self.concurrency,
                status_seconds=self.status_seconds,
            )
            try:
                await self.current.run()
            except Exception:  # one broadcast's failure must not hold up the ones queued
                log.exception("broadcast %d failed", broadcast.broadcast_id)
                services_of(self.application).metrics.error("broadcast")
                failed.add(broadcast.broadcast_id)
            finally:
                self.current = None

    async def stop(self, broadcast_id: int) -> bool:
        """Stop a broadcast (the rest is cancelled); False if it is already over."""
        current = self.current
        if current is not None and current.broadcast_id == broadcast_id:
            current.request_stop()
            return True
        storage = services_of(self.application).db
        bc = await storage.get_broadcast(broadcast_id)
        if bc is None or bc.status != RUNNING:
            return False
        if not await storage.finish_broadcast(broadcast_id, stopped=True):  # waiting its turn
            return False  # it ended meanwhile
        await show_final(self.application, broadcast_id)
        return True


def broadcaster(application: Application[Any, Any, Any, Any, Any, Any]) -> Broadcaster:
    """The application's :class:`Broadcaster` (created on first use)."""
    found = application.bot_data.get(BROADCASTER)
    if found is None:
        found = application.bot_data[BROADCASTER] = Broadcaster(application)
    return found  # type: ignore[no-any-return]


async def resume_broadcasts(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """From ``post_init``: deliver the rest of unfinished broadcasts once the bot runs.

    The work starts from the job queue just after ``Application.start()``, as a task the
    application awaits when it stops (so a clean stop writes every outcome first).
    """
    if not await services_of(application).db.running_broadcasts():
        return
    if application.job_queue is None:
        raise RuntimeError(
            "resuming broadcasts needs the job queue (python-telegram-bot[job-queue])"
        )
    application.job_queue.run_once(
        _resume_job, when=0, name="broadcast-resume", job_kwargs={"misfire_grace_time": None}
    )


async def _resume_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    log.info("resuming unfinished broadcasts")
    broadcaster(context.application).wake()
