"""Admin: /broadcast (with preview, audience and live progress), /broadcasts, /stats, /reload.

Admins are the numeric user ids in ``ADMIN_IDS``. The commands are registered for those ids
only, so for anyone else they fall through to the unknown-command answer; an admin button
pressed by anyone else gets the stale-button answer. Nothing is revealed either way.

The /broadcast flow keeps a draft in ``user_data`` (the chat and id of the admin's message:
never its text): message -> preview and audience -> confirm -> Send, which writes the broadcast
and its recipients (``Storage.create_broadcast``) and hands it to :mod:`bot.broadcast`.
``/cancel`` leaves the flow at any step. What each screen says is :mod:`bot.admin_screens`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from telegram import Message, Update
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import admin_screens as screens
from bot import callbacks as cb
from bot.broadcast import broadcaster
from bot.content import ContentError, load_content
from bot.context import BotContext
from bot.screens import Screen
from bot.services import services_of
from bot.storage import ALL, CHECKINS, COUNTRY_PREFIX, LANG_PREFIX
from handlers import fallback
from handlers.respond import answer_query, show
from handlers.text import awaiting, expect_text, stop_expecting

log = logging.getLogger(__name__)

FLOW = "admin_broadcast"
DRAFT = "broadcast_draft"  # user_data key: {"step", "chat_id", "message_id", "audience"}
RECENT = 10


def handlers(
    application: Application[Any, Any, Any, Any, Any, Any],
) -> list[BaseHandler[Update, Any, Any]]:
    """The admin handlers, for their place in ``handlers/__init__.py``."""
    admin_ids = filters.User(user_id=services_of(application).settings.admin_ids)
    admins = admin_ids & filters.ChatType.PRIVATE
    return [
        CommandHandler("broadcast", broadcast_command, filters=admins),
        CommandHandler("cancel", cancel_command, filters=admins),
        CommandHandler("broadcasts", broadcasts_command, filters=admins),
        CommandHandler("stats", stats_command, filters=admins),
        CommandHandler("reload", reload_command, filters=admins),
        # Photos and documents from an admin: the broadcast message when one is awaited.
        MessageHandler(admins & ~filters.TEXT & ~filters.COMMAND, draft_media),
        CallbackQueryHandler(admin_button, pattern="^" + re.escape(cb.ADMIN_PREFIX)),
    ]


# --- helpers ----------------------------------------------------------------------------------


def _is_admin(update: Update, context: BotContext) -> bool:
    user = update.effective_user
    return user is not None and user.id in context.settings.admin_ids


def _draft(context: BotContext) -> dict[str, Any] | None:
    return (context.user_data or {}).get(DRAFT)


def _end_flow(context: BotContext) -> dict[str, Any] | None:
    stop_expecting(context)
    return context.user_data.pop(DRAFT, None) if context.user_data is not None else None


async def _reply(update: Update, context: BotContext, screen: Screen) -> None:
    """A new message in the admin's chat."""
    await show(update, context, screen, edit=False)


async def _edit(update: Update, context: BotContext, screen: Screen) -> None:
    """A step of the flow, shown in place of the message whose button was pressed."""
    await show(update, context, screen)


# --- /broadcast: the message ------------------------------------------------------------------


async def broadcast_command(update: Update, context: BotContext) -> None:
    """Start a broadcast: ask for the message."""
    if context.user_data is not None:
        context.user_data[DRAFT] = {"step": "message"}
    expect_text(context, FLOW)
    await _reply(update, context, screens.ask_message(await context.language()))


async def draft_text(update: Update, context: BotContext) -> None:
    """Text while the flow awaits the message (routed here by ``handlers.text.on_text``)."""
    if not _is_admin(update, context):
        stop_expecting(context)
        await fallback.free_text(update, context)
        return
    await _take_message(update, context)


async def draft_media(update: Update, context: BotContext) -> None:
    """A photo, document or other non-text message from an admin."""
    if awaiting(context) != FLOW:  # any command left the flow
        await fallback.media(update, context)
        return
    message = update.effective_message
    if message is None or not (message.photo or message.document or message.video):
        await _reply(update, context, screens.notice(await context.language(), "not_a_message"))
        return
    await _take_message(update, context)


async def _take_message(update: Update, context: BotContext) -> None:
    """Keep where the message is, show the preview (a copy, as people will get it), then the
    audience choice."""
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None and context.user_data is not None
    stop_expecting(context)
    context.user_data[DRAFT] = {
        "step": "audience",
        "chat_id": chat.id,
        "message_id": message.message_id,
    }
    await context.bot.copy_message(chat.id, from_chat_id=chat.id, message_id=message.message_id)
    await _reply(update, context, await _audience_screen(context))


# --- audience and confirmation ----------------------------------------------------------------


async def _audience_screen(context: BotContext) -> Screen:
    return screens.audience_choice(await context.language(), await context.db.audience_counts())


async def _choose(
    update: Update, context: BotContext, draft: dict[str, Any], audience: str
) -> None:
    lang = await context.language()
    count = await context.db.audience_size(audience)
    if count == 0:
        await answer_query(update, lang.t("admin.nobody"))
        return
    await answer_query(update)
    draft.update(step="confirm", audience=audience)
    rate = context.settings.broadcast_rate
    await _edit(update, context, screens.confirm(lang, context.content, audience, count, rate))


async def _send(update: Update, context: BotContext) -> None:
    """Send: write the broadcast and its recipients in one go, then start delivering."""
    draft = _draft(context)
    lang = await context.language()
    if draft is None or draft.get("step") != "confirm":
        # Only a toast: on a double tap this message is already the status, with its Stop.
        await answer_query(update, lang.t("admin.draft_gone"))
        return
    _end_flow(context)  # before any await: a second press finds no draft
    await answer_query(update)
    query, user = update.callback_query, update.effective_user
    assert query is not None and isinstance(query.message, Message) and user is not None
    bc = await context.db.create_broadcast(
        admin_id=user.id,
        from_chat_id=draft["chat_id"],
        message_id=draft["message_id"],
        audience=draft["audience"],
        status_chat_id=query.message.chat.id,
        status_message_id=query.message.message_id,
    )
    log.info("broadcast %d created for %d recipients", bc.broadcast_id, bc.total)
    runner = broadcaster(context.application)
    state = "queued" if runner.current is not None else "running"
    await _edit(update, context, screens.status(lang, context.content, bc, state=state))
    runner.wake()


async def admin_button(update: Update, context: BotContext) -> None:
    """Every admin button; for anyone else, exactly a stale button."""
    if not _is_admin(update, context):
        await fallback.stale_button(update, context)
        return
    query = update.callback_query
    assert query is not None
    data = query.data or ""
    lang = await context.language()
    if data.startswith(cb.ADMIN_STOP):
        raw_id = data.removeprefix(cb.ADMIN_STOP)
        stopped = raw_id.isdigit() and await broadcaster(context.application).stop(int(raw_id))
        await answer_query(update, lang.t("admin.stop_toast" if stopped else "admin.already_over"))
        return
    if data == cb.ADMIN_CANCEL:
        await answer_query(update)
        _end_flow(context)
        await _edit(update, context, screens.notice(lang, "cancelled"))
        return
    if data == cb.ADMIN_SEND:
        await _send(update, context)
        return
    draft = _draft(context)
    if draft is None or draft.get("step") not in {"audience", "confirm"}:
        await answer_query(update)
        await _edit(update, context, screens.notice(lang, "draft_gone"))
        return
    if data in {cb.ADMIN_ALL, cb.ADMIN_CHECKINS}:
        await _choose(update, context, draft, ALL if data == cb.ADMIN_ALL else CHECKINS)
    elif data.startswith(cb.ADMIN_LANGUAGE):
        code = data.removeprefix(cb.ADMIN_LANGUAGE)
        await _choose(update, context, draft, LANG_PREFIX + code)
    elif data.startswith(cb.ADMIN_COUNTRY):
        code = data.removeprefix(cb.ADMIN_COUNTRY)
        await _choose(update, context, draft, COUNTRY_PREFIX + code)
    elif data in {cb.ADMIN_LANGUAGES, cb.ADMIN_COUNTRIES, cb.ADMIN_BACK}:
        await answer_query(update)
        draft.update(step="audience", audience=None)
        if data == cb.ADMIN_BACK:
            screen = await _audience_screen(context)
        else:
            counts = await context.db.audience_counts()
            countries = data == cb.ADMIN_COUNTRIES
            screen = screens.picker(lang, context.content, counts, countries=countries)
        await _edit(update, context, screen)
    else:
        await fallback.stale_button(update, context)


async def cancel_command(update: Update, context: BotContext) -> None:
    """/cancel: leave the broadcast flow at any step."""
    draft = _end_flow(context)
    lang = await context.language()
    await _reply(
        update, context, screens.notice(lang, "cancelled" if draft else "nothing_to_cancel")
    )


# --- /broadcasts, /stats, /reload -------------------------------------------------------------


async def broadcasts_command(update: Update, context: BotContext) -> None:
    """Recent broadcasts with their figures."""
    recent = await context.db.recent_broadcasts(RECENT)
    await _reply(update, context, screens.recent(await context.language(), context.content, recent))


async def stats_command(update: Update, context: BotContext) -> None:
    """Aggregate counts only: never a list of people."""
    figures = await context.db.stats()
    await _reply(update, context, screens.stats(await context.language(), context.content, figures))


async def reload_command(update: Update, context: BotContext) -> None:
    """Reload content/ (crisis phrases included) from disk if it is all valid; otherwise keep
    the live content and say why."""
    svc = context.services
    lang = await context.language()
    try:
        content = await asyncio.to_thread(load_content, svc.settings.content_dir)
    except ContentError as exc:
        log.warning("content reload refused: %d problems", len(exc.problems))
        await _reply(update, context, screens.reload_refused(lang, str(exc)))
        return
    svc.content = content
    log.info("content reloaded by an admin")
    await _reply(update, context, screens.reload_ok(content.lang(lang.code), content))
