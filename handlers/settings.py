"""Settings: /settings, choosing a country and a language."""

from __future__ import annotations

from telegram import Update

from bot import callbacks as cb
from bot import screens
from bot.context import BotContext
from handlers.respond import answer_query, show


async def settings_command(update: Update, context: BotContext) -> None:
    """Show the settings screen (a command sends it; the button edits in place)."""
    await answer_query(update)
    record = await context.user_record()
    lang = await context.language()
    await show(update, context, screens.settings(lang, record.country if record else None))


async def pick_country(update: Update, context: BotContext) -> None:
    """Offer the countries as buttons."""
    await answer_query(update)
    await show(update, context, screens.country_picker(await context.language()))


async def set_country(update: Update, context: BotContext) -> None:
    """Store the chosen country, then show that country's Help now lines."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    lang = await context.language()
    code = query.data.removeprefix(cb.CB_COUNTRY)
    country = lang.country(code)
    if code != "-" and country is None:
        await answer_query(update, lang.t("ui.fallback_stale_toast"))
        await show(update, context, screens.country_picker(lang))
        return
    await answer_query(update)
    await context.db.set_country(update.effective_user.id, country.code if country else None)
    context.forget()
    help_screen = screens.help_now(lang, country)
    notice = (
        lang.t("ui.country_set", country=country.label) if country else lang.t("ui.country_cleared")
    )
    await show(update, context, help_screen.after(notice))


async def pick_language(update: Update, context: BotContext) -> None:
    """Offer the available languages."""
    await answer_query(update)
    lang = await context.language()
    await show(update, context, screens.language_picker(context.content, lang))


async def set_language(update: Update, context: BotContext) -> None:
    """Store the chosen language and show the settings again, in it."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    code = query.data.removeprefix(cb.CB_LANGUAGE)
    if code not in context.content.languages:
        lang = await context.language()
        await answer_query(update, lang.t("ui.fallback_stale_toast"))
        await show(update, context, screens.language_picker(context.content, lang))
        return
    await answer_query(update)
    await context.db.set_language(update.effective_user.id, code)
    context.forget()
    lang = context.content.lang(code)
    record = await context.user_record()
    screen = screens.settings(lang, record.country if record else None)
    await show(update, context, screen.after(lang.t("ui.language_set", language=lang.name)))
