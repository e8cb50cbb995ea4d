"""Help now: /helpnow, /sos, the Help now button and ``/start helpnow``.

Answers at once, asking nothing first: the emergency number, the person's country's lines (or
the main countries' lines and findahelpline.com when no country is set), then something to do.
"""

from __future__ import annotations

import time

from telegram import Update
from telegram.constants import ChatType

from bot import screens
from bot.context import BotContext
from handlers.respond import answer_query, show


async def help_now_screen(
    update: Update, context: BotContext, back: str | None = None
) -> screens.Screen:
    """The Help now screen for the person behind ``update``.

    If the database cannot be read, the answer still goes out (without the country). In a
    group chat it has no buttons.
    """
    lang = await context.language()
    screen = screens.help_now(lang, await context.country(), back)
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        return screens.Screen(screen.text)  # in a group: the lines only; settings are private
    return screen


def answered(context: BotContext, source: str) -> None:
    """Count a Help now answer and how long it took since handling the update began."""
    context.metrics.help_now(source, time.monotonic() - context.started)


async def send_help_now(update: Update, context: BotContext, source: str = "command") -> None:
    """Send Help now as a new message (/helpnow, /sos; ``/start helpnow``)."""
    await show(update, context, await help_now_screen(update, context), edit=False)
    answered(context, source)


async def help_now_button(update: Update, context: BotContext) -> None:
    """The Help now button: answer the press at once, then show the lines in place."""
    await answer_query(update)
    query = update.callback_query
    lang = await context.language()
    back = screens.back_target(lang, query.data or "") if query is not None else None
    await show(update, context, await help_now_screen(update, context, back))
    answered(context, "button")
