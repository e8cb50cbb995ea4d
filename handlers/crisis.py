"""Crisis gate: every text message (and caption, and edit) is checked before anything else.

A match gets a short, warm line and the Help now answer for the person's country, at once, and
stops further handling of that message. The flow the person was in (``user_data``) is left as
it was, so their next message carries on where they were. (A flow listed in
``handlers.text.CONTINUE_AFTER_CRISIS``, such as an admin writing a broadcast about crisis
lines, also gets the message itself after the Help now answer.) Nothing about the message is stored
or logged beyond its category.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.services import services
from handlers import text as text_flows
from handlers.helpnow import help_now_screen
from handlers.respond import language, show

log = logging.getLogger(__name__)


async def crisis_gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer crisis language with Help now, before any other handler sees the message."""
    message = update.effective_message
    if message is None or update.effective_chat is None:
        return
    text = message.text or message.caption
    if not text:
        return
    content = services(context).content
    try:
        lang = await language(update, context)
    except Exception:  # the database must never stand between a person and Help now
        lang = content.lang(None)
    # Check the person's language and the default one: people mix languages.
    detectors = {id(d): d for d in (lang.crisis, content.lang(None).crisis) if d is not None}
    match = next((m for d in detectors.values() if (m := d.check(text)) is not None), None)
    if match is None:
        return
    log.info("crisis language detected (category %s)", match.category)
    screen = await help_now_screen(update, context)
    reply = lang.crisis.reply if lang.crisis is not None else ""
    await show(update, context, screen.after(reply), edit=False)
    if not text_flows.continues_after_crisis(context):
        raise ApplicationHandlerStop
