"""Activity: records that a person used the bot today (runs before every other handler).

Only private chats create a row: people who only appear in group chats are not stored.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.services import services

log = logging.getLogger(__name__)


async def record_activity(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Create or refresh the person's row (id, language, dates); never blocks the reply."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or chat.type != ChatType.PRIVATE or user.is_bot:
        return
    svc = services(context)
    try:
        await svc.db.touch_user(user.id, svc.content.pick_language(user.language_code))
    except Exception:
        log.exception("could not record activity")
