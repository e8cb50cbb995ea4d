"""Menu and guide: /start, /menu, /help and the guide pages, navigated in place."""

from __future__ import annotations

from telegram import Update

from bot import callbacks as cb
from bot import screens
from bot.context import BotContext
from handlers.helpnow import send_help_now
from handlers.respond import answer_query, show


async def start(update: Update, context: BotContext) -> None:
    """Greet the person and show the main menu (``/start helpnow`` goes straight to help)."""
    if context.args and context.args[0].lower() in {"helpnow", "sos", "help"}:
        await send_help_now(update, context, source="start")
        return
    lang = await context.language()
    await show(update, context, screens.main_menu(lang, greeting=True))


async def menu(update: Update, context: BotContext) -> None:
    """Show the main menu (a command sends it; a button edits in place)."""
    await answer_query(update)
    lang = await context.language()
    await show(update, context, screens.main_menu(lang))


async def help_command(update: Update, context: BotContext) -> None:
    """Explain how to use the bot."""
    lang = await context.language()
    await show(update, context, screens.with_menu(lang, "help"))


async def open_page(update: Update, context: BotContext) -> None:
    """Show the guide page named in the button's data, or the menu if it no longer exists."""
    query = update.callback_query
    assert query is not None and query.data is not None
    lang = await context.language()
    screen = screens.page(lang, query.data.removeprefix(cb.CB_PAGE))
    if screen is None:
        await answer_query(update, lang.t("ui.fallback_stale_toast"))
        await show(update, context, screens.with_menu(lang, "fallback_stale"))
        return
    await answer_query(update)
    await show(update, context, screen)
