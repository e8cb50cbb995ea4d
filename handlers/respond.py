"""Replying: show a screen by editing the pressed message in place, or by sending a new one."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.error import BadRequest

from bot.context import BotContext
from bot.screens import Screen
from bot.telegram_html import visible_text

log = logging.getLogger(__name__)


async def show(
    update: Update, context: BotContext, screen: Screen, *, edit: bool = True
) -> Message | None:
    """Show ``screen``: edit the message whose button was pressed, else send a new message.

    Pressing a button whose screen is already shown changes nothing and sends nothing. A press
    on a message the bot can no longer see (Telegram sends it with date 0 and no content, and
    python-telegram-bot still makes it a ``Message``) gets a new message: an edit would be
    blind, and Telegram rejects an edit that changes nothing. So does a press on a message
    without text (a photo: only a forged press, no bot photo has buttons), whose text Telegram
    would refuse to edit."""
    query = update.callback_query
    if (
        edit
        and query is not None
        and isinstance(query.message, Message)
        and query.message.is_accessible
        and query.message.text is not None
    ):
        if _already_shown(query.message, screen):
            return None  # a second press of a stale button: Telegram would reject the edit
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


def _already_shown(message: Message, screen: Screen) -> bool:
    """Whether ``message`` already reads as ``screen``, with the same buttons (compared as
    the person sees it: python-telegram-bot's ``text_html`` escapes quotes the content does
    not, so HTML never compares equal)."""
    if message.reply_markup != screen.keyboard:
        return False
    return (message.text or "").strip() == visible_text(screen.text).strip()


async def answer_query(update: Update, text: str | None = None) -> None:
    """Stop the button's loading spinner (optionally with a short toast)."""
    if update.callback_query is not None:
        try:
            await update.callback_query.answer(text)
        except BadRequest:  # a query older than Telegram keeps them: nothing to stop
            pass
