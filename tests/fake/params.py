"""Wire encoding of Bot API parameters.

This module owns how a request's parameters are decoded before a method sees them
(:func:`normalize_params`): PTB, like any HTTP client, sends every parameter as a string; the Bot
API decodes each by its type (JSON objects, integers, booleans, text), and so does the fake, on
the in-process path (:class:`tests.fake.request.FakeRequest`) and the HTTP path alike.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

from .records import JSONDict

# Wire encoding: PTB (like any HTTP client) sends every parameter as a string, JSON-encoding
# non-string values.  Telegram decodes them by parameter type; so do we.
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "link_preview_options",
        "reply_parameters",
        "commands",
        "scope",
        "menu_button",
        "allowed_updates",
        "media",
    }
)
_INT_PARAMS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "cache_time",
        "message_thread_id",
        "reply_to_message_id",
        "user_id",
        "duration",
        "width",
        "height",
        "max_connections",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "show_alert",
        "disable_notification",
        "protect_content",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "disable_content_type_detection",
        "has_spoiler",
        "show_caption_above_media",
        "allow_paid_broadcast",
    }
)


def normalize_params(params: Mapping[str, Any]) -> JSONDict:
    """Decode wire-encoded parameter values by parameter type, as the Bot API does.

    Strings of JSON-typed parameters (``reply_markup``, ``entities``, ...) are parsed, integer
    and boolean parameters converted; text parameters stay strings (``"123"`` stays text).
    Already-typed values (direct Python calls) pass through.  ``None`` values are dropped.
    """
    out: JSONDict = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, str):
            if key in _JSON_PARAMS:
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            elif key in _INT_PARAMS:
                with contextlib.suppress(ValueError):
                    value = int(value)
            elif key in _BOOL_PARAMS and value.lower() in ("true", "false", "1", "0"):
                value = value.lower() in ("true", "1")
        out[key] = value
    return out
