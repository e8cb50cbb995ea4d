"""Metrics: counts and timings for ``/metrics`` (Prometheus text format), never who or what.

One :class:`Metrics` per application, kept in the services object (``svc.metrics``), each with
its own ``CollectorRegistry``: no process-wide globals, so two applications in one process (tests,
benchmarks) never mix their figures. The code that does a thing counts it, through the methods
below: ``bot/delivery.py`` (replies, 429s, retries), ``handlers/activity.py`` (updates by kind),
``handlers/helpnow.py`` and ``handlers/crisis.py`` (Help now answers and their latency, crisis
matches by category), ``bot/checkins.py``, ``bot/broadcast.py``, the error handler and the webhook
server.

Every label takes its value from a small fixed set (a kind of update, a category, an outcome);
an unknown value is counted as ``other``. No series ever carries a user id, a chat id, a
username or any text a person wrote.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from telegram import Update

from bot.crisis import CATEGORIES

CONTENT_TYPE = CONTENT_TYPE_LATEST
OTHER = "other"

UPDATE_KINDS = (
    "message",
    "command",
    "callback_query",
    "edited_message",
    "my_chat_member",
    "channel_post",
    OTHER,
)
HELP_NOW_SOURCES = ("command", "button", "start", "crisis")
CHECKIN_OUTCOMES = (
    "sent",
    "skipped_late",
    "already_sent",
    "blocked",
    "retried",
    "released",
    "lost_claim",
)
BROADCAST_OUTCOMES = ("sent", "blocked", "failed")
RETRY_REASONS = ("rate_limited", "network")
ERROR_PLACES = ("update", "job", "checkins", "broadcast", "webhook")
WEBHOOK_ANSWERS = ("200", "400", "403", "413", "503")
# Bot API methods that put or change a message in a person's chat (interactive ones = replies).
REPLY_METHODS = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "copyMessage",
        "sendPhoto",
        "sendDocument",
    }
)
# Help now latency buckets (seconds): the answer should go out well under a second.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _known(value: str, allowed: Iterable[str]) -> str:
    return value if value in allowed else OTHER


class Metrics:
    """The application's counters; see the module docstring. Names start with ``bot_``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._updates = Counter(
            "bot_updates", "Updates received, by kind", ["kind"], registry=r
        )
        self._replies = Counter(
            "bot_replies",
            "Messages sent or edited in answer to a person's own action, by Bot API method",
            ["method"],
            registry=r,
        )
        self._help_now = Counter(
            "bot_help_now_answers",
            "Help now answers sent, by what asked for them",
            ["source"],
            registry=r,
        )
        self._help_now_latency = Histogram(
            "bot_help_now_latency_seconds",
            "Time from starting to handle a Help now request to the answer being sent",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._crisis = Counter(
            "bot_crisis_matches",
            "Messages the crisis gate recognised, by category (counts only)",
            ["category"],
            registry=r,
        )
        self._checkins = Counter(
            "bot_checkins",
            "Daily check-ins handled by the scheduler, by outcome (sent, or why not)",
            ["outcome"],
            registry=r,
        )
        self._broadcast = Counter(
            "bot_broadcast_messages",
            "Broadcast messages delivered, by outcome",
            ["outcome"],
            registry=r,
        )
        self._rate_limited = Counter(
            "bot_telegram_429", "Telegram 'too many requests' (429) answers", registry=r
        )
        self._retries = Counter(
            "bot_telegram_retries",
            "Bot API calls tried again, after a 429 or after a network error or 5xx",
            ["reason"],
            registry=r,
        )
        self._errors = Counter(
            "bot_errors", "Unhandled errors, by where they happened", ["where"], registry=r
        )
        self._webhook = Counter(
            "bot_webhook_requests",
            "Webhook requests, by the HTTP status answered",
            ["status"],
            registry=r,
        )
        self.loop_lag = Gauge(
            "bot_event_loop_lag_seconds",
            "How late a periodic timer fired, last measurement (the bot's own busyness)",
            registry=r,
        )
        self.broadcast_remaining = Gauge(
            "bot_broadcast_remaining",
            "Recipients the running broadcast has not reached yet (0 when none runs)",
            registry=r,
        )
        self.ready = Gauge("bot_ready", "1 while the bot takes updates, else 0", registry=r)
        # Every fixed label value exists from the start (0), so a rate of zero is visible.
        for kind in UPDATE_KINDS:
            self._updates.labels(kind)
        for method in sorted(REPLY_METHODS):
            self._replies.labels(method)
        for source in HELP_NOW_SOURCES:
            self._help_now.labels(source)
        for category in CATEGORIES:
            self._crisis.labels(category)
        for outcome in CHECKIN_OUTCOMES:
            self._checkins.labels(outcome)
        for outcome in BROADCAST_OUTCOMES:
            self._broadcast.labels(outcome)
        for reason in RETRY_REASONS:
            self._retries.labels(reason)
        for where in ERROR_PLACES:
            self._errors.labels(where)
        for status in WEBHOOK_ANSWERS:
            self._webhook.labels(status)

    # --- counting -------------------------------------------------------------------------

    def update(self, update: object) -> None:
        self._updates.labels(update_kind(update)).inc()

    def reply(self, method: str) -> None:
        if method in REPLY_METHODS:
            self._replies.labels(method).inc()

    def help_now(self, source: str, seconds: float) -> None:
        self._help_now.labels(_known(source, HELP_NOW_SOURCES)).inc()
        self._help_now_latency.observe(max(seconds, 0.0))

    def crisis_match(self, category: str) -> None:
        self._crisis.labels(_known(category, CATEGORIES)).inc()

    def checkins(self, outcome: str, count: int = 1) -> None:
        if count:
            self._checkins.labels(_known(outcome, CHECKIN_OUTCOMES)).inc(count)

    def broadcast_message(self, outcome: str) -> None:
        self._broadcast.labels(_known(outcome, BROADCAST_OUTCOMES)).inc()

    def rate_limited(self) -> None:
        self._rate_limited.inc()

    def retry(self, reason: str) -> None:
        self._retries.labels(_known(reason, RETRY_REASONS)).inc()

    def error(self, where: str) -> None:
        self._errors.labels(_known(where, ERROR_PLACES)).inc()

    def webhook_request(self, status: int) -> None:
        self._webhook.labels(_known(str(status), WEBHOOK_ANSWERS)).inc()

    # --- reading --------------------------------------------------------------------------

    def render(self) -> bytes:
        """The Prometheus text exposition of every series (``GET /metrics``)."""
        return generate_latest(self.registry)

    def value(self, name: str, **labels: str) -> float:
        """One sample's current value (0 if absent), e.g. ``value("bot_updates_total",
        kind="command")``: for tests and the logs."""
        found = self.registry.get_sample_value(name, labels or None)
        return found if found is not None else 0.0


def update_kind(update: object) -> str:
    """The kind of an update, from a fixed set (never anything from its content but that)."""
    if not isinstance(update, Update):
        return OTHER
    if update.message is not None:
        text = update.message.text or ""
        return "command" if text.startswith("/") else "message"
    if update.callback_query is not None:
        return "callback_query"
    if update.edited_message is not None:
        return "edited_message"
    if update.my_chat_member is not None:
        return "my_chat_member"
    if update.channel_post is not None or update.edited_channel_post is not None:
        return "channel_post"
    return OTHER
