"""Fallbacks: the answer to anything no other handler took, and the error handler.

Free text that expresses an intent (``bot.intents``: a slip, a craving, looking for treatment,
worry about someone, a medication question, stopping check-ins) gets that intent's answer and
buttons to the guide pages that fit. Other free text, unknown commands, stickers, photos,
voice, edited messages and stale or forged buttons each get a short friendly line and the menu:
never an error, never silence.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import NetworkError

from bot import screens
from bot.context import BotContext
from bot.intents import find_intent
from handlers.respond import answer_query, show

log = logging.getLogger(__name__)


async def free_text(update: Update, context: BotContext) -> None:
    """Text that no flow is waiting for (and that the crisis gate let through): the intent it
    expresses, in the person's language or the default one (people mix languages), else the
    friendly answer with the menu. The text is only read, never stored or logged."""
    lang = await context.language()
    message = update.effective_message
    text = message.text if message is not None else None
    screen = None
    if text:
        default = context.content.lang(None)
        matchers = [lang.intents] + ([default.intents] if default is not lang else [])
        name = find_intent(text, matchers)
        screen = screens.intent(lang, name) if name is not None else None
    await show(update, context, screen or screens.with_menu(lang, "fallback_text"))


async def unknown_command(update: Update, context: BotContext) -> None:
    """A command the bot does not have."""
    await show(
        update, context, screens.with_menu(await context.language(), "fallback_command")
    )


async def media(update: Update, context: BotContext) -> None:
    """Stickers, photos, voice, files, locations and anything else that is not text."""
    await show(
        update, context, screens.with_menu(await context.language(), "fallback_media")
    )


async def edited(update: Update, context: BotContext) -> None:
    """An edited message: the bot reads new messages only, and says so."""
    await show(
        update, context, screens.with_menu(await context.language(), "fallback_edited")
    )


async def stale_button(update: Update, context: BotContext) -> None:
    """A button whose data the bot does not know (old or forged): show the menu."""
    lang = await context.language()
    await answer_query(update, lang.t("ui.fallback_stale_toast"))
    await show(update, context, screens.with_menu(lang, "fallback_stale"))


async def ignore(update: Update, context: BotContext) -> None:
    """Updates that need no answer (channel posts, member changes)."""


async def on_error(update: object, context: BotContext) -> None:
    """Log the error (redacted, without message text) and still give the person a way out."""
    if update is None and isinstance(context.error, NetworkError):
        # Polling could not reach Telegram: bot/connectivity.py says so once, and once more
        # when Telegram answers again; a traceback per retry would drown everything else.
        return
    update_id = update.update_id if isinstance(update, Update) else None
    context.metrics.error("update" if isinstance(update, Update) else "job")
    log.error("error while handling update %s", update_id, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        lang = await context.language()  # never fails; the person's own language if known
        await answer_query(update)
        await context.bot.send_message(
            update.effective_chat.id,
            lang.t("ui.fallback_error"),
            reply_markup=screens.main_menu(lang).keyboard,
        )
    except Exception:
        log.exception("could not tell the person about the error")
