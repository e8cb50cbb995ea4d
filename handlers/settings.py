"""Settings: /settings, choosing a country and a language."""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import ContextTypes

from bot import screens
from bot.services import services
from handlers.respond import answer_query, language, show, user_record


async def settings_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the settings screen (a command sends it; the button edits in place)."""
    await answer_query(update)
    svc = services(context)
    record = await user_record(update, context)
    lang = await language(update, context)
    await show(
        update, context, screens.settings(svc.content, lang, record.country if record else None)
    )


async def pick_country(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Offer the countries as buttons."""
    await answer_query(update)
    lang = await language(update, context)
    await show(update, context, screens.country_picker(services(context).content, lang))


async def set_country(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Store the chosen country, then show that country's Help now lines."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    svc = services(context)
    lang = await language(update, context)
    code = query.data.removeprefix(screens.CB_COUNTRY)
    country = svc.content.country(code)
    if code != "-" and country is None:
        await answer_query(update, lang.text("fallback_stale_toast"))
        await show(update, context, screens.country_picker(svc.content, lang))
        return
    await answer_query(update)
    await svc.db.set_country(update.effective_user.id, country.code if country else None)
    help_screen = screens.help_now(svc.content, lang, country)
    notice = (
        lang.text("country_set", country=html.escape(country.label))
        if country
        else lang.text("country_cleared")
    )
    await show(update, context, help_screen.after(notice))


async def pick_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Offer the available languages."""
    await answer_query(update)
    lang = await language(update, context)
    await show(update, context, screens.language_picker(services(context).content, lang))


async def set_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Store the chosen language and show the settings in it."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    svc = services(context)
    code = query.data.removeprefix(screens.CB_LANGUAGE)
    if code not in svc.content.languages:
        lang = await language(update, context)
        await answer_query(update, lang.text("fallback_stale_toast"))
        await show(update, context, screens.language_picker(svc.content, lang))
        return
    await answer_query(update)
    await svc.db.set_language(update.effective_user.id, code)
    lang = svc.content.lang(code)
    record = await user_record(update, context)
    screen = screens.settings(svc.content, lang, record.country if record else None)
    notice = lang.text("language_set", language=html.escape(str(lang.ui["language_name"])))
    await show(update, context, screen.after(notice))
