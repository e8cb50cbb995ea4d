"""Crisis gate: every text message (and caption, and edit) is checked before anything else.

A match gets, at once, the emergency screen for what is happening (overdose, withdrawal,
suicidal thoughts or self-harm, danger from or to others: ``bot.screens.emergency``) with the
person's country's numbers in the text and every other line one tap away, and stops further
handling of that message. The flow the person was in (``user_data``) is left as
it was, so their next message carries on where they were. (A flow declared to continue after a
crisis, such as an admin writing a broadcast about crisis lines, also gets the message itself
after the Help now answer.) Nothing about the message is stored or logged beyond its category.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot import screens
from bot.context import BotContext
from handlers.helpnow import answered
from handlers.respond import show
from handlers.text import Flows

log = logging.getLogger(__name__)


def gate(flows: Flows) -> Callable[[Update, BotContext], Coroutine[Any, Any, None]]:
    """The crisis gate, knowing which flows go on after a crisis answer."""

    async def crisis_gate(update: Update, context: BotContext) -> None:
        """Answer crisis language with Help now, before any other handler sees the message."""
        message = update.effective_message
        if message is None or update.effective_chat is None:
            return
        text = message.text or message.caption
        if not text:
            return
        content = context.content
        lang = await context.language()  # never fails: storage must not stand in the way
        # Check the person's language and the default one: people mix languages.
        detectors = {id(d): d for d in (lang.crisis, content.lang(None).crisis) if d is not None}
        match = next((m for d in detectors.values() if (m := d.check(text)) is not None), None)
        if match is None:
            return
        log.info("crisis language detected (category %s)", match.category)
        context.metrics.crisis_match(match.category)
        screen = screens.emergency(lang, match.category, await context.country())
        chat = update.effective_chat
        private = chat.type == ChatType.PRIVATE
        if not private:
            screen = screens.Screen(screen.text)  # in a group: the steps and lines only
        await show(update, context, screen, edit=False)
        answered(context, "crisis")
        # A flow goes on only in the private chat: an admin writing a broadcast who says the
        # same in a group must not get the group's "private chat" pointer after Help now there.
        if not (private and flows.continues_after_crisis(context)):
            raise ApplicationHandlerStop

    return crisis_gate
