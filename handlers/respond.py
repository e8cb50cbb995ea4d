"""Replying: show a screen by editing the pressed message in place, or by sending a new one."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.error import BadRequest

from bot.context import BotContext
from bot.screens import Screen

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
        message = query.message
        shown = _quotes(message.text_html) == _quotes(screen.text)
        if shown and message.reply_markup == screen.keyboard:
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


def _quotes(text: str) -> str:
    """``text`` with quotes unescaped: python-telegram-bot's ``text_html`` writes ``'`` as
    ``&#x27;`` and ``"`` as ``&quot;``, the content writes them plainly (a screen with "I'll"
    never compared equal, so a second press sent an edit Telegram refuses as not modified)."""
    return text.replace("&#x27;", "'").replace("&quot;", '"')


async def answer_query(update: Update, text: str | None = None) -> None:
    """Stop the button's loading spinner (optionally with a short toast)."""
    if update.callback_query is not None:
        try:
            await update.callback_query.answer(text)
        except BadRequest:  # a query older than Telegram keeps them: nothing to stop
            pass
