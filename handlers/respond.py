"""Replying: show a screen by editing the pressed message in place, or by sending a new one.

Also the per-update lookups every handler needs: the person's language and stored settings.
"""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.content import Language
from bot.screens import Screen
from bot.services import services
from bot.storage import UserRecord

log = logging.getLogger(__name__)


async def user_record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> UserRecord | None:
    """The stored settings of the person behind ``update`` (None if nothing is stored)."""
    user = update.effective_user
    if user is None:
        return None
    return await services(context).db.get_user(user.id)


async def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Language:
    """The language to answer in: the stored choice, else the Telegram app's language."""
    svc = services(context)
    record = await user_record(update, context)
    if record is not None:
        return svc.content.lang(record.language)
    user = update.effective_user
    return svc.content.lang(svc.content.pick_language(user.language_code if user else None))


async def show(
    update: Update, context: ContextTypes.DEFAULT_TYPE, screen: Screen, *, edit: bool = True
) -> Message | None:
    """Show ``screen``: edit the message whose button was pressed, else send a new message."""
    query = update.callback_query
    if edit and query is not None and isinstance(query.message, Message):
        try:
            result = await query.edit_message_text(screen.text, reply_markup=screen.keyboard)
            return result if isinstance(result, Message) else None
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return None
            log.info("could not edit in place (%s); sending a new message", exc)
    chat = update.effective_chat
    if chat is None:
        return None
    return await context.bot.send_message(chat.id, screen.text, reply_markup=screen.keyboard)


async def answer_query(update: Update, text: str | None = None) -> None:
    """Stop the button's loading spinner (optionally with a short toast)."""
    if update.callback_query is not None:
        try:
            await update.callback_query.answer(text)
        except BadRequest:  # a query older than Telegram keeps them: nothing to stop
            pass
