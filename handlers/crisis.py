"""Crisis gate: every text message (and caption, and edit) is checked before anything else.

A match gets a short, warm line and the Help now answer for the person's country, at once, and
stops further handling of that message. The flow the person was in (``user_data``) is left as
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

from bot.context import BotContext
from handlers.helpnow import help_now_screen
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
        screen = await help_now_screen(update, context)
        reply = lang.crisis.reply if lang.crisis is not None else ""
        await show(update, context, screen.after(reply), edit=False)
        # Only in the private chat: an admin writing a broadcast who says the same in a group
        # must not get the group's "private chat" pointer after Help now there.
        private = update.effective_chat.type == ChatType.PRIVATE
        if not (private and flows.continues_after_crisis(context)):
            raise ApplicationHandlerStop

    return crisis_gate
