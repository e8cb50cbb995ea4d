"""Application: builds the fully wired python-telegram-bot ``Application``.

:func:`build_application` reads settings, loads and validates content, and registers every
handler (see ``handlers/__init__.py``). Startup work that needs the network or the database
(opening storage, registering the command list) runs in ``post_init``; shutdown closes storage.
"""

from __future__ import annotations

import logging

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    LinkPreviewOptions,
)
from telegram.constants import ParseMode
from telegram.ext import Application, ContextTypes, Defaults
from telegram.request import BaseRequest

import handlers
from bot.broadcast import resume_broadcasts
from bot.checkins import start_checkins
from bot.config import Settings
from bot.connectivity import watched_requests
from bot.content import DEFAULT_LANGUAGE, load_content
from bot.context import BotContext
from bot.delivery import PriorityRateLimiter
from bot.metrics import Metrics
from bot.services import Services, install, services_of
from bot.storage import open_storage

log = logging.getLogger(__name__)

PRIVATE_COMMANDS = [
    "start",
    "menu",
    "helpnow",
    "checkin",
    "plan",
    "settings",
    "privacy",
    "delete",
    "help",
]
GROUP_COMMANDS = ["helpnow"]


def api_base_urls(base: str) -> tuple[str, str]:
    """PTB's ``base_url`` and ``base_file_url`` for a Bot API server root like
    ``http://127.0.0.1:8081`` (a trailing ``/bot`` is accepted too)."""
    root = base.rstrip("/").removesuffix("/bot")
    return f"{root}/bot", f"{root}/file/bot"


def build_application(
    settings: Settings | None = None,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
) -> Application:
    """Return the wired, not yet started application (raises ConfigError or ContentError)."""
    settings = settings or Settings.from_env()
    content = load_content(settings.content_dir)
    metrics = Metrics()
    builder = (
        Application.builder()
        .token(settings.bot_token)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .context_types(ContextTypes(context=BotContext))
        .concurrent_updates(32)
        .rate_limiter(PriorityRateLimiter(settings.broadcast_rate, metrics=metrics))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if settings.api_base_url:
        base_url, base_file_url = api_base_urls(settings.api_base_url)
        builder = builder.base_url(base_url).base_file_url(base_file_url)
    # Both requests report to one watcher: a line when Telegram cannot be reached, one when it
    # answers again (bot/connectivity.py), never a traceback per attempt.
    watched, watched_updates = watched_requests(request, get_updates_request)
    builder = builder.request(watched).get_updates_request(watched_updates)
    if settings.webhook_url:
        # Webhook mode: updates arrive by HTTP (bot/webhook.py), nothing polls.
        builder = builder.updater(None)
    application = builder.build()
    install(application, Services(settings=settings, content=content, metrics=metrics))
    handlers.register(application)
    return application


async def _post_init(application: Application) -> None:
    """Open the database and tell Telegram the command list."""
    svc = services_of(application)
    if svc.storage is None:
        svc.storage = await open_storage(svc.settings)
    for code in svc.content.languages:
        lang = svc.content.lang(code)
        language_code = None if code == DEFAULT_LANGUAGE else code
        await application.bot.set_my_commands(
            [BotCommand(c, lang.t("ui.commands." + c)) for c in PRIVATE_COMMANDS],
            scope=BotCommandScopeAllPrivateChats(),
            language_code=language_code,
        )
        await application.bot.set_my_commands(
            [BotCommand(c, lang.t("ui.commands." + c)) for c in GROUP_COMMANDS],
            scope=BotCommandScopeAllGroupChats(),
            language_code=language_code,
        )
        # What Telegram shows before the first message, in the person's language.
        await application.bot.set_my_description(
            lang.t("ui.bot_description"), language_code=language_code
        )
        await application.bot.set_my_short_description(
            lang.t("ui.bot_short_description"), language_code=language_code
        )
    # Feature startup (check-in scheduler, broadcast resume) goes here.
    start_checkins(application)
    await resume_broadcasts(application)
    log.info(
        "bot ready: %d languages, %d countries",
        len(svc.content.languages),
        len(svc.content.countries),
    )


async def _post_shutdown(application: Application) -> None:
    svc = services_of(application)
    if svc.storage is not None:
        await svc.storage.close()
        svc.storage = None
