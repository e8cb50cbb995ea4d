"""Activity: records that a person used the bot today (runs before every other handler).

Only private chats create a row: people who only appear in group chats are not stored.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import ContextTypes

from bot.services import services

log = logging.getLogger(__name__)


async def record_activity(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Create or refresh the person's row (id, language, dates); never blocks the reply."""
    if update.my_chat_member is not None:
        return  # handled by membership_changed: blocking the bot is not activity
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or chat.type != ChatType.PRIVATE or user.is_bot:
        return
    svc = services(context)
    try:
        await svc.db.touch_user(user.id, svc.content.pick_language(user.language_code))
    except Exception:
        log.exception("could not record activity")


async def membership_changed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The person blocked (or unblocked) the bot in their private chat."""
    change = update.my_chat_member
    if change is None or change.chat.type != ChatType.PRIVATE:
        return
    storage = services(context).db
    if change.new_chat_member.status == ChatMemberStatus.BANNED:
        await storage.mark_blocked(change.chat.id)
    elif change.new_chat_member.status == ChatMemberStatus.MEMBER:
        user = change.from_user
        await storage.touch_user(
            change.chat.id, services(context).content.pick_language(user.language_code)
        )
