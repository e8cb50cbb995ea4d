"""Privacy: /privacy, "what you store about me", and /delete with confirmation."""

from __future__ import annotations

import time

from telegram import Update

from bot import screens
from bot.context import BotContext
from handlers.respond import answer_query, show

DELETE_ASKED_AT = "delete_asked_at"  # user_data: when the confirmation was shown
CONFIRM_SECONDS = 5 * 60


async def privacy(update: Update, context: BotContext) -> None:
    """Explain in plain words what is stored and why."""
    await answer_query(update)
    await show(update, context, screens.privacy(await context.language()))


async def stored_data(update: Update, context: BotContext) -> None:
    """Show every stored row about the person, exactly as stored."""
    assert update.effective_user is not None
    await answer_query(update)
    rows = await context.db.rows_about(update.effective_user.id)
    await show(update, context, screens.stored_data(await context.language(), rows))


async def delete_ask(update: Update, context: BotContext) -> None:
    """Ask for confirmation before deleting (the confirmation holds for a few minutes)."""
    await answer_query(update)
    if context.user_data is not None:
        context.user_data[DELETE_ASKED_AT] = time.time()
    await show(update, context, screens.delete_ask(await context.language()))


async def delete_confirmed(update: Update, context: BotContext) -> None:
    """Delete every row about the person and say so, if they were asked just now; an old or
    forged "yes, delete" button asks again instead."""
    assert update.effective_user is not None
    asked = (context.user_data or {}).pop(DELETE_ASKED_AT, None)
    if not isinstance(asked, float) or not 0 <= time.time() - asked <= CONFIRM_SECONDS:
        await delete_ask(update, context)
        return
    await answer_query(update)
    lang = await context.language()
    await context.db.delete_user(update.effective_user.id)
    if context.user_data is not None:
        context.user_data.clear()
    await show(update, context, screens.with_menu(lang, "delete_done"))


async def delete_cancelled(update: Update, context: BotContext) -> None:
    """Keep everything."""
    await answer_query(update)
    await show(
        update, context, screens.with_menu(await context.language(), "delete_cancelled")
    )
