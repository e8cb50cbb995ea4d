"""Admin: /broadcast (with preview, audience and live progress), /broadcasts, /stats, /reload.

Admins are the numeric user ids in ``ADMIN_IDS``. The commands are registered for those ids
only, so for anyone else they fall through to the unknown-command answer; an admin button
pressed by anyone else gets the stale-button answer. Nothing is revealed either way.

The /broadcast flow keeps a draft in ``user_data`` (the chat and id of the admin's message:
never its text): message -> preview and audience -> confirm -> Send, which writes the broadcast
and its recipients (``Storage.create_broadcast``) and hands it to :mod:`bot.broadcast`.
``/cancel`` leaves the flow at any step.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.broadcast import (
    CB_STOP,
    admin_words,
    audience_label,
    broadcaster,
    button,
    say,
    status_text,
    stop_keyboard,
)
from bot.content import ContentError, load_content
from bot.screens import Screen
from bot.services import KEY, Services, services
from bot.storage import ALL, CHECKINS, COUNTRY_PREFIX, LANG_PREFIX
from handlers import fallback
from handlers.respond import answer_query, show
from handlers.text import AWAITING, CONTINUE_AFTER_CRISIS, FLOWS, expect_text, stop_expecting

log = logging.getLogger(__name__)

FLOW = "admin_broadcast"
DRAFT = "broadcast_draft"  # user_data key: {"step", "chat_id", "message_id", "audience"}

CB_PREFIX = "adm:"
CB_ALL = "adm:all"
CB_CHECKINS = "adm:ck"
CB_LANGUAGES = "adm:langs"
CB_COUNTRIES = "adm:countries"
CB_LANGUAGE = "adm:l:"  # + language code
CB_COUNTRY = "adm:c:"  # + country code
CB_BACK = "adm:back"
CB_SEND = "adm:send"
CB_CANCEL = "adm:cancel"

MAX_PICKER_BUTTONS = 60
MAX_REPORT = 3000
RECENT = 10


def handlers(
    application: Application[Any, Any, Any, Any, Any, Any],
) -> list[BaseHandler[Any, Any, Any]]:
    """The admin handlers, for their place in ``handlers/__init__.py``."""
    svc: Services = application.bot_data[KEY]
    admins = filters.User(user_id=svc.settings.admin_ids) & filters.ChatType.PRIVATE
    return [
        CommandHandler("broadcast", broadcast_command, filters=admins),
        CommandHandler("cancel", cancel_command, filters=admins),
        CommandHandler("broadcasts", broadcasts_command, filters=admins),
        CommandHandler("stats", stats_command, filters=admins),
        CommandHandler("reload", reload_command, filters=admins),
        # Photos and documents from an admin: the broadcast message when one is awaited.
        MessageHandler(admins & ~filters.TEXT & ~filters.COMMAND, draft_media),
        CallbackQueryHandler(admin_button, pattern=f"^{CB_PREFIX}"),
    ]


# --- helpers ----------------------------------------------------------------------------------


def _is_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    user = update.effective_user
    return user is not None and user.id in services(context).settings.admin_ids


async def _words(update: Update, context: ContextTypes.DEFAULT_TYPE) -> dict[str, Any]:
    svc = services(context)
    user = update.effective_user
    record = await svc.db.get_user(user.id) if user is not None else None
    return admin_words(svc.content, record.language if record else None)


def _draft(context: ContextTypes.DEFAULT_TYPE) -> dict[str, Any] | None:
    return (context.user_data or {}).get(DRAFT)


def _end_flow(context: ContextTypes.DEFAULT_TYPE) -> dict[str, Any] | None:
    stop_expecting(context)
    return context.user_data.pop(DRAFT, None) if context.user_data is not None else None


def _row(label: str, data: str) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(label, callback_data=data)]


async def _reply(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    """A new message in the admin's chat."""
    await show(update, context, Screen(text, markup), edit=False)


async def _edit(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    """A step of the flow, shown in place of the message whose button was pressed."""
    await show(update, context, Screen(text, markup))


# --- /broadcast: the message ------------------------------------------------------------------


async def broadcast_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Start a broadcast: ask for the message."""
    if context.user_data is not None:
        context.user_data[DRAFT] = {"step": "message"}
    expect_text(context, FLOW)
    await _reply(update, context, say(await _words(update, context), "ask_message"))


async def draft_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Text while the flow awaits the message (routed here by ``handlers.text.on_text``)."""
    if not _is_admin(update, context):
        stop_expecting(context)
        await fallback.free_text(update, context)
        return
    await _take_message(update, context)


async def draft_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo, document or other non-text message from an admin."""
    if (context.user_data or {}).get(AWAITING) != FLOW:  # any command left the flow
        await fallback.media(update, context)
        return
    message = update.effective_message
    if message is None or not (message.photo or message.document or message.video):
        await _reply(update, context, say(await _words(update, context), "not_a_message"))
        return
    await _take_message(update, context)


async def _take_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
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
    text, markup = await _audience_screen(update, context)
    await _reply(update, context, text, markup)


# --- audience and confirmation ----------------------------------------------------------------


async def _audience_screen(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> tuple[str, InlineKeyboardMarkup]:
    words = await _words(update, context)
    counts = await services(context).db.audience_counts()
    rows = [
        _row(button(words, "everyone", count=counts.everyone), CB_ALL),
        _row(button(words, "checkins", count=counts.checkins), CB_CHECKINS),
        [
            InlineKeyboardButton(button(words, "by_language"), callback_data=CB_LANGUAGES),
            InlineKeyboardButton(button(words, "by_country"), callback_data=CB_COUNTRIES),
        ],
        _row(button(words, "cancel"), CB_CANCEL),
    ]
    return say(words, "choose_audience"), InlineKeyboardMarkup(rows)


async def _picker(
    update: Update, context: ContextTypes.DEFAULT_TYPE, *, countries: bool
) -> tuple[str, InlineKeyboardMarkup]:
    svc = services(context)
    words = await _words(update, context)
    counts = await svc.db.audience_counts()
    rows: list[list[InlineKeyboardButton]] = []
    found = counts.by_country if countries else counts.by_language
    for code, count in list(found.items())[:MAX_PICKER_BUTTONS]:
        if countries:
            country = svc.content.country(code)
            label = button(words, "country", label=country.label if country else code, count=count)
            rows.append(_row(label, CB_COUNTRY + code))
        else:
            lang = svc.content.languages.get(code)
            name = str(lang.ui["language_name"]) if lang else code
            rows.append(_row(button(words, "language", name=name, count=count), CB_LANGUAGE + code))
    rows.append(
        [
            InlineKeyboardButton(button(words, "back"), callback_data=CB_BACK),
            InlineKeyboardButton(button(words, "cancel"), callback_data=CB_CANCEL),
        ]
    )
    if countries:
        text = say(words, "choose_country" if found else "no_countries")
    else:
        text = say(words, "choose_language")
    return text, InlineKeyboardMarkup(rows)


async def _choose(
    update: Update, context: ContextTypes.DEFAULT_TYPE, draft: dict[str, Any], audience: str
) -> None:
    svc = services(context)
    words = await _words(update, context)
    count = await svc.db.audience_size(audience)
    if count == 0:
        await answer_query(update, say(words, "nobody"))
        return
    await answer_query(update)
    draft.update(step="confirm", audience=audience)
    rows = [
        _row(button(words, "send", count=count), CB_SEND),
        [
            InlineKeyboardButton(button(words, "back"), callback_data=CB_BACK),
            InlineKeyboardButton(button(words, "cancel"), callback_data=CB_CANCEL),
        ],
    ]
    text = say(
        words,
        "confirm",
        audience=audience_label(words, svc.content, audience),
        count=count,
        rate=f"{svc.settings.broadcast_rate:g}",
    )
    await _edit(update, context, text, InlineKeyboardMarkup(rows))


async def _send(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send: write the broadcast and its recipients in one go, then start delivering."""
    draft = _draft(context)
    if draft is None or draft.get("step") != "confirm":
        # Only a toast: on a double tap this message is already the status, with its Stop.
        await answer_query(update, say(await _words(update, context), "draft_gone"))
        return
    _end_flow(context)  # before any await: a second press finds no draft
    await answer_query(update)
    query, user = update.callback_query, update.effective_user
    assert query is not None and isinstance(query.message, Message) and user is not None
    svc = services(context)
    bc = await svc.db.create_broadcast(
        admin_id=user.id,
        from_chat_id=draft["chat_id"],
        message_id=draft["message_id"],
        audience=draft["audience"],
        status_chat_id=query.message.chat.id,
        status_message_id=query.message.message_id,
    )
    log.info("broadcast %d created for %d recipients", bc.broadcast_id, bc.total)
    words = await _words(update, context)
    runner = broadcaster(context.application)
    state = "queued" if runner.current is not None else "running"
    await _edit(
        update,
        context,
        status_text(words, svc.content, bc, state=state),
        stop_keyboard(words, bc.broadcast_id),
    )
    runner.wake()


async def _draft_gone(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    words = await _words(update, context)
    await answer_query(update)
    await _edit(update, context, say(words, "draft_gone"))


async def admin_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every admin button; for anyone else, exactly a stale button."""
    if not _is_admin(update, context):
        await fallback.stale_button(update, context)
        return
    query = update.callback_query
    assert query is not None
    data = query.data or ""
    if data.startswith(CB_STOP):
        await _stop(update, context, data.removeprefix(CB_STOP))
        return
    if data == CB_CANCEL:
        await answer_query(update)
        _end_flow(context)
        await _edit(update, context, say(await _words(update, context), "cancelled"))
        return
    if data == CB_SEND:
        await _send(update, context)
        return
    draft = _draft(context)
    if draft is None or draft.get("step") not in {"audience", "confirm"}:
        await _draft_gone(update, context)
        return
    if data in {CB_ALL, CB_CHECKINS}:
        await _choose(update, context, draft, ALL if data == CB_ALL else CHECKINS)
    elif data.startswith(CB_LANGUAGE):
        await _choose(update, context, draft, LANG_PREFIX + data.removeprefix(CB_LANGUAGE))
    elif data.startswith(CB_COUNTRY):
        await _choose(update, context, draft, COUNTRY_PREFIX + data.removeprefix(CB_COUNTRY))
    elif data in {CB_LANGUAGES, CB_COUNTRIES, CB_BACK}:
        await answer_query(update)
        draft.update(step="audience", audience=None)
        if data == CB_BACK:
            text, markup = await _audience_screen(update, context)
        else:
            text, markup = await _picker(update, context, countries=data == CB_COUNTRIES)
        await _edit(update, context, text, markup)
    else:
        await fallback.stale_button(update, context)


async def _stop(update: Update, context: ContextTypes.DEFAULT_TYPE, raw_id: str) -> None:
    words = await _words(update, context)
    stopped = raw_id.isdigit() and await broadcaster(context.application).stop(int(raw_id))
    await answer_query(update, say(words, "stop_toast" if stopped else "already_over"))


async def cancel_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/cancel: leave the broadcast flow at any step."""
    draft = _end_flow(context)
    await _reply(
        update,
        context,
        say(await _words(update, context), "cancelled" if draft else "nothing_to_cancel"),
    )


# --- /broadcasts, /stats, /reload -------------------------------------------------------------


async def broadcasts_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Recent broadcasts with their figures."""
    svc = services(context)
    words = await _words(update, context)
    recent = await svc.db.recent_broadcasts(RECENT)
    if not recent:
        await _reply(update, context, say(words, "broadcasts_empty"))
        return
    lines = [say(words, "broadcasts_title")]
    for bc in recent:
        created = datetime.fromtimestamp(bc.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines.append(
            say(
                words,
                "broadcasts_line",
                id=bc.broadcast_id,
                date=created,
                audience=audience_label(words, svc.content, bc.audience),
                status=words[f"status_{bc.status}"],
                **bc.figures,
            )
        )
    await _reply(update, context, "\n\n".join(lines))


async def stats_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Aggregate counts only: never a list of people."""
    svc = services(context)
    words = await _words(update, context)
    stats = await svc.db.stats()

    def lines(counts: dict[str, int], label: Any) -> str:
        return "\n".join(f"{label(code)}: {n}" for code, n in counts.items()) or str(
            words["stats_none"]
        )

    def language_name(code: str) -> str:
        lang = svc.content.languages.get(code)
        return f"{lang.ui['language_name']} ({code})" if lang else code

    def country_name(code: str) -> str:
        country = svc.content.country(code)
        return country.label if country else (code or str(words["no_country"]))

    await _reply(
        update,
        context,
        say(
            words,
            "stats",
            users=stats.users,
            active_7d=stats.active_7d,
            active_30d=stats.active_30d,
            checkins=stats.checkin_subscribers,
            blocked=stats.blocked,
            by_language=lines(stats.by_language, language_name),
            by_country=lines(stats.by_country, country_name),
        ),
    )


async def reload_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reload content/ (crisis phrases included) from disk if it is all valid; otherwise keep
    the live content and say why."""
    svc = services(context)
    words = await _words(update, context)
    try:
        content = await asyncio.to_thread(load_content, svc.settings.content_dir)
    except ContentError as exc:
        report = str(exc)
        if len(report) > MAX_REPORT:
            report = report[:MAX_REPORT] + "\n…"
        log.warning("content reload refused: %d problems", len(exc.problems))
        await _reply(update, context, say(words, "reload_refused", report=report))
        return
    svc.content = content
    log.info("content reloaded by an admin")
    pages = sum(len(lang.pages) for lang in content.languages.values())
    await _reply(
        update,
        context,
        say(
            words,
            "reload_ok",
            languages=len(content.languages),
            countries=len(content.countries),
            pages=pages,
        ),
    )


FLOWS[FLOW] = draft_text
CONTINUE_AFTER_CRISIS.add(FLOW)  # a broadcast about crisis lines must be writable
