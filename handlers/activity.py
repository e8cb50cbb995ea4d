"""Activity: records that a person used the bot today (runs before every other handler).

Only private chats create a row: people who only appear in group chats are not stored. The
record storage returns is kept in the per-update context, so no later handler reads it again.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType

from bot.context import BotContext


async def record_activity(update: Update, context: BotContext) -> None:
    """Create or refresh the person's row (id, language, dates); never blocks the reply."""
    context.metrics.update(update)  # every update passes here: counted by kind, nothing else
    if update.my_chat_member is not None:
        return  # handled by membership_changed: blocking the bot is not activity
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or chat.type != ChatType.PRIVATE or user.is_bot:
        return
    try:
        record = await context.db.seen(user.id, context.content.pick_language(user.language_code))
    except Exception:
        context.services.storage_failed()
        return
    context.remember(record)


async def membership_changed(update: Update, context: BotContext) -> None:
    """The person blocked (or unblocked) the bot in their private chat."""
    change = update.my_chat_member
    if change is None or change.chat.type != ChatType.PRIVATE:
        return
    storage = context.db
    if change.new_chat_member.status == ChatMemberStatus.BANNED:
        await storage.mark_blocked(change.chat.id)
    elif change.new_chat_member.status == ChatMemberStatus.MEMBER:
        user = change.from_user
        await storage.seen(change.chat.id, context.content.pick_language(user.language_code))
