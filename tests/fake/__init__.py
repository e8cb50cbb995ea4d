"""Offline Telegram for tests: an in-memory Bot API, a PTB request adapter and simulated users.

This package owns everything a test needs to talk to the bot without the network, one concern
a module:

* :mod:`.telegram` - :class:`FakeTelegram`, the in-memory Bot API server: ``handle``/
  ``handle_async`` take a method name and its parameters and answer exactly like Telegram (HTTP
  status + ``{"ok": ...}`` body); every request is recorded in ``calls``, requests for methods
  the fake does not implement go to ``unexpected``, rejected (400) requests to ``errors``, and
  handler exceptions seen through :meth:`FakeTelegram.watch` to ``handler_errors``;
  :meth:`FakeTelegram.problems` lists what a test should fail on.  Its methods live in mixins
  by area: :mod:`.botinfo` (getMe, commands, descriptions, menu button), :mod:`.updates`
  (update queue, ``getUpdates`` long polling), :mod:`.webhooks` (setWebhook, deleteWebhook,
  getWebhookInfo; :class:`WebhookSender` POSTs updates to the webhook), :mod:`.messages` (chats
  as the user sees them; send/copy/edit/delete with Telegram's validation), :mod:`.callbacks`
  (button presses);
* :mod:`.html` - Telegram HTML parsing and entity rules; :mod:`.params` - wire decoding of
  parameters; :mod:`.records` - ``Call``/``ApiError``/``Msg``/... records and ok/error bodies;
  :mod:`.constants` - the offline bot's identity, Telegram's limits and error descriptions;
* :mod:`.faults` - :class:`FaultPlan`, reproducible 429/500/403 answers and latency;
* :mod:`.request` - :class:`FakeRequest`, a ``telegram.request.BaseRequest`` that hands PTB's
  requests to a ``FakeTelegram`` in process (same parameter encoding as on the wire);
* :mod:`.user` - :class:`SimUser`, a simulated user that sends messages, commands, button
  presses, media, edits and group messages to an ``Application`` as real ``telegram.Update``
  objects and sees the chat as a Telegram client would (``screen``, ``buttons``, ``history``);
* :mod:`.lifecycle` - :func:`run_app` (the ``run_polling`` lifecycle minus the updater) and
  :func:`settle`;
* :mod:`.server` - :class:`FakeApiServer`, the HTTP front end for a ``FakeTelegram``, webhook
  delivery included (imported lazily, so that ``python -m tests.fake.server`` runs it
  standalone without a warning).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .constants import (
    BLOCKED,
    BOT_FIRST_NAME,
    BOT_USERNAME,
    CALLBACK_ANSWER_LIMIT,
    CALLBACK_DATA_LIMIT,
    CAPTION_LIMIT,
    CHAT_ACTIONS,
    CONFLICT,
    DELIVERY_METHODS,
    FAULTABLE_METHODS,
    KICKED,
    MAX_BUTTONS,
    NOT_MODIFIED,
    QUERY_INVALID,
    SECRET_TOKEN_HEADER,
    TERMINATED_BY_SET_WEBHOOK,
    TEST_TOKEN,
    TEXT_LIMIT,
    WEBHOOK_ACTIVE,
)
from .faults import FaultFn, FaultPlan, LatencyFn
from .html import EntityParseError, command_entities, parse_html
from .lifecycle import run_app, settle
from .params import normalize_params
from .records import (
    ApiError,
    Call,
    CallbackRecord,
    HandlerError,
    JSONDict,
    Msg,
    Response,
    Upload,
    WebhookDelivery,
    error_response,
    ok_response,
)
from .request import FakeRequest
from .telegram import FakeTelegram
from .user import SimUser
from .webhooks import WebhookConfig, WebhookSender

if TYPE_CHECKING:
    from .server import FakeApiServer

__all__ = [
    "BLOCKED",
    "BOT_FIRST_NAME",
    "BOT_USERNAME",
    "CALLBACK_ANSWER_LIMIT",
    "CALLBACK_DATA_LIMIT",
    "CAPTION_LIMIT",
    "CHAT_ACTIONS",
    "CONFLICT",
    "DELIVERY_METHODS",
    "FAULTABLE_METHODS",
    "KICKED",
    "MAX_BUTTONS",
    "NOT_MODIFIED",
    "QUERY_INVALID",
    "SECRET_TOKEN_HEADER",
    "TERMINATED_BY_SET_WEBHOOK",
    "TEST_TOKEN",
    "TEXT_LIMIT",
    "WEBHOOK_ACTIVE",
    "ApiError",
    "Call",
    "CallbackRecord",
    "EntityParseError",
    "FakeApiServer",
    "FakeRequest",
    "FakeTelegram",
    "FaultFn",
    "FaultPlan",
    "HandlerError",
    "JSONDict",
    "LatencyFn",
    "Msg",
    "Response",
    "SimUser",
    "Upload",
    "WebhookConfig",
    "WebhookDelivery",
    "WebhookSender",
    "command_entities",
    "error_response",
    "normalize_params",
    "ok_response",
    "parse_html",
    "run_app",
    "settle",
]

_LAZY = {"FakeApiServer": "server"}


def __getattr__(name: str) -> Any:
    """``FakeApiServer`` is imported on first use (see the module docstring)."""
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
