"""Help now: /helpnow, /sos, the Help now button and ``/start helpnow``.

Answers at once, asking nothing first: the emergency number, the person's country's lines (or
the main countries' lines and findahelpline.com when no country is set), then something to do.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot import screens
from bot.services import services
from handlers.respond import answer_query, language, show, user_record

log = logging.getLogger(__name__)


async def help_now_screen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> screens.Screen:
    """The Help now screen for the person behind ``update``.

    If the database cannot be read, the answer still goes out (without the country). In a
    group chat it has no buttons.
    """
    svc = services(context)
    country = None
    try:
        record = await user_record(update, context)
        lang = await language(update, context)
        country = svc.content.country(record.country if record else None)
    except Exception:
        log.exception("help now without stored settings")
        lang = svc.content.lang(None)
    screen = screens.help_now(svc.content, lang, country)
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        return screens.Screen(screen.text)  # in a group: the lines only; settings are private
    return screen


async def send_help_now(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send Help now as a new message (for commands and crisis messages)."""
    await show(update, context, await help_now_screen(update, context), edit=False)


async def help_now_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The Help now button: answer the press at once, then show the lines in place."""
    await answer_query(update)
    await show(update, context, await help_now_screen(update, context))
