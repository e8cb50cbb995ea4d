"""Handlers: the one ordered list of everything the bot answers.

Order matters: within a group the first matching handler wins, and lower groups run first.
  group -4  a safety plan being made: another command drops it, anything else keeps it alive
  group -3  a command leaves any flow that was waiting for typed text (not /helpnow)
  group -2  activity: record that a private-chat user was active today
  group -1  crisis gate: crisis language gets Help now at once and stops there
  group  0  Help now (everywhere), group chats, commands, buttons, flows, then fallbacks
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import callbacks as cb
from bot.services import services_of
from handlers import (
    activity,
    admin,
    checkins,
    crisis,
    fallback,
    group,
    helpnow,
    menu,
    privacy,
    safety_plan,
    settings,
    text,
)

PRIVATE = filters.ChatType.PRIVATE
# Help now by command or deep link: it never costs anyone their place in a flow.
HELP_NOW_COMMAND = r"(?i)^/((helpnow|sos)(@\w+)?\b|start(@\w+)?\s+(helpnow|sos|help)\b)"
NOT_PRIVATE = ~filters.ChatType.PRIVATE

# The update types the handlers below act on: what the bot asks Telegram for (getUpdates and
# setWebhook allowed_updates). Channel posts and opt-in kinds (reactions, chat_member, ...) are
# not asked for; a handler for a new kind needs its kind here too.
ALLOWED_UPDATES = (
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
)


def _exact(data: str) -> str:
    return f"^{data}$"


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Register every handler and text flow, in order."""
    # Text flows: what a person's next text message is for, once a screen asked for it.
    flows = text.Flows(
        {**checkins.flows(), **safety_plan.flows(), admin.FLOW: admin.draft_text},
        continue_after_crisis={admin.FLOW},  # a broadcast about crisis lines must be writable
    )
    services_of(application).flows = flows
    application.add_handler(TypeHandler(Update, safety_plan.watch), group=-4)
    application.add_handler(
        MessageHandler(
            filters.COMMAND & ~filters.Regex(HELP_NOW_COMMAND),
            text.leave_flow_on_command,
        ),
        group=-3,
    )
    application.add_handler(TypeHandler(Update, activity.record_activity), group=-2)
    # Crisis language first: every text, caption and edit, in every state and chat.
    application.add_handler(
        MessageHandler(
            (filters.TEXT | filters.CAPTION) & ~filters.UpdateType.CHANNEL_POSTS,
            crisis.gate(flows),
        ),
        group=-1,
    )

    handlers: list[BaseHandler[Any, Any, Any]] = [
        # The person blocked or unblocked the bot.
        ChatMemberHandler(activity.membership_changed, ChatMemberHandler.MY_CHAT_MEMBER),
        # Channel posts are never answered.
        MessageHandler(filters.UpdateType.CHANNEL_POSTS, fallback.ignore),
        # Help now first, in every kind of chat.
        CommandHandler(["helpnow", "sos"], helpnow.send_help_now),
        CallbackQueryHandler(helpnow.help_now_button, pattern=f"^{cb.CB_HELP}(:|$)"),
        CallbackQueryHandler(helpnow.emergency_button, pattern=f"^{cb.CB_EMERGENCY}"),
        # Group chats: nothing else is answered there beyond a pointer to the private chat.
        MessageHandler(NOT_PRIVATE & ~filters.StatusUpdate.ALL, group.private_only),
        MessageHandler(filters.StatusUpdate.ALL, fallback.ignore),
        # Edited messages (also edited commands) are not acted on again.
        MessageHandler(filters.UpdateType.EDITED_MESSAGE, fallback.edited),
        # Commands.
        CommandHandler("start", menu.start, filters=PRIVATE),
        CommandHandler("menu", menu.menu, filters=PRIVATE),
        CommandHandler("help", menu.help_command, filters=PRIVATE),
        CommandHandler("settings", settings.settings_command, filters=PRIVATE),
        CommandHandler("privacy", privacy.privacy, filters=PRIVATE),
        CommandHandler("delete", privacy.delete_ask, filters=PRIVATE),
        # Buttons.
        CallbackQueryHandler(menu.menu, pattern=_exact(cb.CB_MENU)),
        CallbackQueryHandler(menu.open_page, pattern=f"^{cb.CB_PAGE}"),
        CallbackQueryHandler(settings.settings_command, pattern=_exact(cb.CB_SETTINGS)),
        CallbackQueryHandler(settings.pick_country, pattern=_exact(cb.CB_COUNTRY_PICK)),
        CallbackQueryHandler(settings.set_country, pattern=f"^{cb.CB_COUNTRY}"),
        CallbackQueryHandler(settings.pick_language, pattern=_exact(cb.CB_LANGUAGE_PICK)),
        CallbackQueryHandler(settings.set_language, pattern=f"^{cb.CB_LANGUAGE}"),
        CallbackQueryHandler(privacy.privacy, pattern=_exact(cb.CB_PRIVACY)),
        CallbackQueryHandler(privacy.stored_data, pattern=_exact(cb.CB_STORED)),
        CallbackQueryHandler(privacy.delete_ask, pattern=_exact(cb.CB_DELETE_ASK)),
        CallbackQueryHandler(privacy.delete_confirmed, pattern=_exact(cb.CB_DELETE_YES)),
        CallbackQueryHandler(privacy.delete_cancelled, pattern=_exact(cb.CB_DELETE_NO)),
        # A safety plan of one's own (issue 13): /plan, its buttons, /cancel while making one.
        *safety_plan.handlers(application),
        # Check-ins (issue 3): handlers go here.
        *checkins.handlers(),
        # Admin (issue 4): handlers go here; non-admins fall through to the fallbacks below.
        *admin.handlers(application),
        # Free text: one entry point (flows, then the friendly fallback).
        MessageHandler(filters.TEXT & ~filters.COMMAND, flows.on_text),
        # Fallbacks: unknown commands, anything else, stale buttons.
        MessageHandler(filters.COMMAND, fallback.unknown_command),
        MessageHandler(filters.ALL, fallback.media),
        CallbackQueryHandler(fallback.stale_button),
    ]
    application.add_handlers(handlers)
    application.add_error_handler(fallback.on_error)
