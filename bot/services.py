"""Services: the objects handlers share, kept in ``context.bot_data`` (never in globals).

:func:`services` is the one way a handler reaches settings, content and storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telegram.ext import ContextTypes

from bot.config import Settings
from bot.content import Content
from bot.storage import Storage

KEY = "services"


@dataclass
class Services:
    """Everything shared by handlers and jobs for the lifetime of the application."""

    settings: Settings
    content: Content
    storage: Storage | None = None  # opened in post_init
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def db(self) -> Storage:
        if self.storage is None:
            raise RuntimeError("storage is not open yet (post_init has not run)")
        return self.storage


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    """The application's :class:`Services`."""
    return context.bot_data[KEY]  # type: ignore[no-any-return]
