"""The per-update context: what every handler needs, resolved at most once per update.

:class:`BotContext` is python-telegram-bot's ``CallbackContext`` with typed access to the
services and to the person behind the update, registered with
``ContextTypes(context=BotContext)`` (as in python-telegram-bot's ``contexttypesbot.py``).
python-telegram-bot builds one context per update and hands the same one to every handler
group, so the person's stored record is read once (by the activity handler, in the same
database round trip that records the visit) and every later handler, the crisis gate included,
reuses it: an ordinary update needs at most one database round trip.

``await context.language()`` never fails: if the database cannot be read, the person is answered
in the language of their Telegram app (Help now must never wait on, or fail with, storage).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackContext, ExtBot

from bot.config import Settings
from bot.content import Content, Country, Language
from bot.metrics import Metrics
from bot.services import Services, services_of
from bot.storage import Storage, UserRecord

log = logging.getLogger(__name__)

_UNREAD = object()


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The context every handler gets (see the module docstring)."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self._update: Update | None = None
        self._record: Any = _UNREAD
        # python-telegram-bot builds the context when the first handler matches the update,
        # that is when handling starts: what Help now's latency is measured from.
        self.started = time.monotonic()

    @classmethod
    def from_update(
        cls, update: object, application: Application[Any, Any, Any, Any, Any, Any]
    ) -> BotContext:
        context = super().from_update(update, application)
        assert isinstance(context, BotContext)
        context._update = update if isinstance(update, Update) else None
        return context

    # --- services ---------------------------------------------------------------------------

    @property
    def services(self) -> Services:
        return services_of(self.application)

    @property
    def content(self) -> Content:
        return self.services.content

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def metrics(self) -> Metrics:
        return self.services.metrics

    @property
    def db(self) -> Storage:
        return self.services.db

    # --- the person -------------------------------------------------------------------------

    def remember(self, record: UserRecord | None) -> None:
        """What storage just returned about the person (after recording a visit or a change)."""
        self._record = record

    def forget(self) -> None:
        """The person's record changed in a way not returned: read it again when asked."""
        self._record = _UNREAD

    async def user_record(self) -> UserRecord | None:
        """The person's stored record (None if nothing is stored); read at most once."""
        if self._record is _UNREAD:
            user = self._update.effective_user if self._update is not None else None
            self._record = await self.db.get_user(user.id) if user is not None else None
        return self._record  # type: ignore[no-any-return]

    async def language(self) -> Language:
        """The language to answer in: the stored choice, else the Telegram app's language."""
        try:
            record = await self.user_record()
        except Exception:
            self.services.storage_failed()
            record = None
        if record is not None:
            return self.content.lang(record.language)
        return self.content.lang(self.content.pick_language(self.telegram_language()))

    async def country(self) -> Country | None:
        """The person's country (in their language), or None; never fails."""
        try:
            record = await self.user_record()
        except Exception:
            self.services.storage_failed()
            return None
        if record is None or record.country is None:
            return None
        return (await self.language()).country(record.country)

    def telegram_language(self) -> str | None:
        """The language of the person's Telegram app, as Telegram reports it."""
        user = self._update.effective_user if self._update is not None else None
        return user.language_code if user is not None else None
