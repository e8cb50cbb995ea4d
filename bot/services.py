"""Services: the objects handlers and jobs share, kept in ``application.bot_data`` (never in
globals).

Handlers reach them through the per-update context (:class:`bot.context.BotContext`:
``context.services``); code that only has the application (jobs, the broadcast worker) uses
:func:`services_of`. Nothing else indexes ``bot_data`` by hand.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Application

from bot.config import Settings
from bot.content import Content
from bot.metrics import Metrics
from bot.storage import Storage

KEY = "services"
STORAGE_LOG_EVERY = 60.0  # seconds between "storage unavailable" lines: never one per update
log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything shared by handlers and jobs for the lifetime of the application."""

    settings: Settings
    content: Content
    storage: Storage | None = None  # opened in post_init
    flows: Any = None  # handlers.text.Flows, set when the handlers are registered
    metrics: Metrics = field(default_factory=Metrics)  # this application's /metrics
    extras: dict[str, Any] = field(default_factory=dict)
    _storage_logged_at: float = field(default=-STORAGE_LOG_EVERY, repr=False)

    @property
    def db(self) -> Storage:
        if self.storage is None:
            raise RuntimeError("storage is not open yet (post_init has not run)")
        return self.storage

    def storage_failed(self) -> None:
        """Storage failed and the bot answers without it: say so at most once a minute."""
        now = time.monotonic()
        if now - self._storage_logged_at >= STORAGE_LOG_EVERY:
            self._storage_logged_at = now
            log.exception("storage unavailable: answering without stored settings")


def services_of(application: Application[Any, Any, Any, Any, Any, Any]) -> Services:
    """The application's :class:`Services`."""
    return application.bot_data[KEY]  # type: ignore[no-any-return]


def install(application: Application[Any, Any, Any, Any, Any, Any], svc: Services) -> None:
    """Attach ``svc`` to ``application`` (once, in ``build_application``)."""
    application.bot_data[KEY] = svc
