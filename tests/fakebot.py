"""Offline Telegram for tests: an in-memory Bot API, a PTB request adapter and simulated users.

This module owns everything a test needs to talk to the bot without the network:

* :class:`FakeTelegram` - an in-memory Bot API server.  ``handle``/``handle_async`` take a method
  name and its parameters and answer exactly like Telegram (HTTP status + ``{"ok": ...}`` body),
  validate what Telegram validates (Telegram HTML, text/caption length, button callback data,
  reply markup, edits of missing or unchanged messages, ...), keep every chat's messages as the
  user sees them (edits happen in place), serve ``getUpdates`` long polling and inject faults
  (429/500/403 and latency) for delivery tests.  Every request is recorded in ``calls``;
  requests for methods the fake does not implement go to ``unexpected``; rejected (400) requests
  go to ``errors`` and handler exceptions seen through :meth:`FakeTelegram.watch` go to
  ``handler_errors``.  :meth:`FakeTelegram.problems` lists what a test should fail on.
* :class:`FakeRequest` - a ``telegram.request.BaseRequest`` that hands PTB's requests to a
  ``FakeTelegram`` in process (same parameter encoding as on the wire, see ``do_request``).
* :class:`SimUser` - a simulated Telegram user that sends messages, commands, button presses,
  media, edits and group messages to an ``Application`` as real ``telegram.Update`` objects and
  sees the chat as a Telegram client would (``screen``, ``buttons``, ``history``).
* :func:`run_app` - runs an ``Application`` through the same lifecycle as ``run_polling`` (minus
  the updater): initialize, post_init, start ... stop, post_stop, shutdown, post_shutdown.

The HTTP front end for the same ``FakeTelegram`` lives in ``tests/fake_api_server.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import itertools
import json
import logging
import random
import re
import threading
import time
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from telegram import Update
from telegram.ext import Application, ContextTypes
from telegram.request import BaseRequest, RequestData

_LOGGER = logging.getLogger(__name__)

#: Offline token: a 7-digit bot id so that it never looks like a real token
#: (real ones match ``[0-9]{8,10}:[A-Za-z0-9_-]{35}``).
TEST_TOKEN = "1234567:TEST-offline-token-not-real-abcdefgh"
BOT_USERNAME = "recovery_help_test_bot"
BOT_FIRST_NAME = "Recovery Help (test)"

JSONDict = dict[str, Any]
Response = tuple[int, JSONDict]
FaultFn = Callable[[str, JSONDict], "Response | None"]
LatencyFn = Callable[[str, JSONDict], float]

#: Methods that put a message into a chat; successful ones are counted in ``delivered``.
DELIVERY_METHODS = frozenset({"sendMessage", "copyMessage", "sendPhoto", "sendDocument"})
#: Methods for which ``FakeTelegram.fault`` and ``FakeTelegram.latency`` are consulted.
FAULTABLE_METHODS = DELIVERY_METHODS | {
    "sendChatAction",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
    "deleteMessage",
}

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
CALLBACK_ANSWER_LIMIT = 200
MAX_BUTTONS = 100

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
BLOCKED = "Forbidden: bot was blocked by the user"
KICKED = "Forbidden: bot was kicked from the group chat"
CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
# Update types Telegram does not send unless asked for explicitly in allowed_updates.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

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


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass
class Call:
    """One request the bot made: method, decoded parameters, ``time.monotonic()`` when received.

    ``status`` and ``response`` are filled in once the fake has answered.
    """

    method: str
    params: JSONDict
    time: float
    status: int = 0
    response: JSONDict | None = None

    @property
    def ok(self) -> bool:
        """Whether Telegram answered ``{"ok": true}``."""
        return self.status == 200

    @property
    def result(self) -> Any:
        """The ``result`` of a successful call (``None`` otherwise)."""
        return (self.response or {}).get("result")

    @property
    def description(self) -> str:
        """The error description of a failed call (empty on success)."""
        return str((self.response or {}).get("description", ""))


@dataclass
class ApiError:
    """A request Telegram would reject (400, 401, ...), i.e. a bug in the bot unless expected."""

    method: str
    params: JSONDict
    status: int
    description: str
    time: float
    expected: bool = False


@dataclass
class HandlerError:
    """An exception that reached the Application's error handlers (see ``FakeTelegram.watch``)."""

    error: BaseException
    update: object
    expected: bool = False


@dataclass
class Upload:
    """A file uploaded with the request (multipart part)."""

    filename: str
    size: int | None = None
    mime_type: str | None = None


@dataclass
class CallbackRecord:
    """A callback query sent to the bot and what the bot answered (``answer`` None = not yet)."""

    query_id: str
    chat_id: int | None
    message_id: int | None
    data: str | None
    answer: JSONDict | None = None


@dataclass
class Msg:
    """A message in a chat as Telegram stores it (and as the user sees it).

    ``text``/``caption`` are what the client shows (HTML already turned into plain text plus
    ``entities``); ``source`` is what the bot sent (e.g. the HTML) and ``parse_mode`` how.
    ``reply_markup`` is the markup as sent (inline or reply keyboard); ``content`` holds the
    other Telegram fields of the message (``photo``, ``document``, ``sticker``, ...).
    """

    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    kind: str
    sender: JSONDict
    chat: JSONDict
    text: str | None = None
    caption: str | None = None
    parse_mode: str | None = None
    source: str | None = None
    entities: list[JSONDict] = field(default_factory=list)
    reply_markup: JSONDict | None = None
    content: JSONDict = field(default_factory=dict)
    reply_to: JSONDict | None = None
    edited: bool = False
    edits: int = 0
    edit_date: int | None = None

    @property
    def shown(self) -> str:
        """Text or caption as shown to the user ('' for media without caption)."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def inline_keyboard(self) -> list[list[JSONDict]]:
        """The rows of the inline keyboard (empty if none)."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard")
        return rows if isinstance(rows, list) else []

    @property
    def button_rows(self) -> list[list[str]]:
        """Inline button labels, row by row."""
        return [[str(b.get("text", "")) for b in row] for row in self.inline_keyboard]

    @property
    def buttons(self) -> list[str]:
        """Inline button labels, flattened in order."""
        return [label for row in self.button_rows for label in row]

    @property
    def inline_buttons(self) -> list[JSONDict]:
        """Inline buttons (raw dicts), flattened in order."""
        return [b for row in self.inline_keyboard for b in row]

    @property
    def keyboard(self) -> list[str]:
        """Reply-keyboard labels sent with this message (empty if none)."""
        if not self.reply_markup or "keyboard" not in self.reply_markup:
            return []
        return [
            b if isinstance(b, str) else str(b.get("text", ""))
            for row in self.reply_markup["keyboard"]
            for b in row
        ]

    def button(self, label: str) -> JSONDict:
        """The inline button whose label equals (else contains) ``label``, case-insensitively."""
        return _find_button(self.inline_buttons, label, where=f"message {self.message_id}")

    @property
    def raw(self) -> JSONDict:
        """The message as a Bot API ``Message`` object."""
        raw: JSONDict = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
        }
        if self.edit_date is not None:
            raw["edit_date"] = self.edit_date
        if self.reply_to is not None:
            raw["reply_to_message"] = self.reply_to
        raw.update(self.content)
        if self.text is not None:
            raw["text"] = self.text
            if self.entities:
                raw["entities"] = self.entities
        elif self.caption is not None:
            raw["caption"] = self.caption
            if self.entities:
                raw["caption_entities"] = self.entities
        if self.inline_keyboard:
            raw["reply_markup"] = {"inline_keyboard": self.inline_keyboard}
        return raw

    def __str__(self) -> str:
        who = "bot" if self.from_bot else "user"
        extra = f" {self.buttons}" if self.buttons else ""
        return f"[{self.message_id} {who} {self.kind}] {self.shown}{extra}"


def _find_button(buttons: list[JSONDict], label: str, *, where: str) -> JSONDict:
    wanted = label.casefold()
    labels = [str(b.get("text", "")) for b in buttons]
    exact = [b for b, t in zip(buttons, labels, strict=True) if t.casefold() == wanted]
    if len(exact) == 1:
        return exact[0]
    partial = [b for b, t in zip(buttons, labels, strict=True) if wanted in t.casefold()]
    if len(exact) > 1 or len(partial) > 1:
        matches = [str(b.get("text")) for b in (exact or partial)]
        raise AssertionError(f"button {label!r} is ambiguous in {where}: {matches}; all {labels}")
    if not partial:
        raise AssertionError(f"no button {label!r} in {where}; available: {labels}")
    return partial[0]


class _Reject(Exception):
    """Raised inside method implementations to answer with an error."""

    def __init__(
        self,
        status: int,
        description: str,
        *,
        parameters: JSONDict | None = None,
        validation: bool = True,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters
        self.validation = validation

    def response(self) -> Response:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return self.status, body


def error_response(status: int, description: str, **parameters: Any) -> Response:
    """A Telegram error body, e.g. ``error_response(429, "Too Many Requests: retry after 3",
    retry_after=3)``; handy for custom ``FakeTelegram.fault`` functions."""
    return _Reject(status, description, parameters=parameters or None).response()


def ok_response(result: Any) -> Response:
    """A Telegram success body."""
    return 200, {"ok": True, "result": result}


# --------------------------------------------------------------------------------------------
# Telegram HTML
# --------------------------------------------------------------------------------------------


class EntityParseError(ValueError):
    """Telegram would answer ``Bad Request: can't parse entities: <message>``."""


_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_TAG_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_ATTR_RE = re.compile(
    r"\s*([A-Za-z][A-Za-z0-9_-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?"
)
_CHAR_REF_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]*);")
_NAMED_REFS = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode())


def parse_html(src: str, *, strict: bool = True) -> tuple[str, list[JSONDict]]:
    """Parse Telegram HTML into ``(plain_text, entities)`` the way the Bot API does.

    Entity offsets/lengths are in UTF-16 code units.  With ``strict`` (the default) a bare ``&``
    that is not a character reference, an unknown named reference and a bare ``>`` are errors,
    as the Bot API documentation requires ("All <, > and & symbols that are not a part of a tag
    or an HTML entity must be replaced"); the live server is more lenient about ``>`` and ``&``.
    Raises :class:`EntityParseError`.
    """
    out: list[str] = []
    pos16 = 0
    # (tag, start offset in utf-16, attributes, entity extras)
    stack: list[tuple[str, int, dict[str, str], JSONDict]] = []
    entities: list[JSONDict] = []
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch == "<":
            end = src.find(">", i + 1)
            if not _TAG_NAME_RE.match(src, i + 1 + (src[i + 1 : i + 2] == "/")):
                raise EntityParseError(f"Empty tag name at byte offset {_byte_offset(src, i)}")
            if end < 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(src, i)}")
            inner = src[i + 1 : end]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise EntityParseError(
                        f"Unexpected end tag at byte offset {_byte_offset(src, i)}"
                    )
                tag, start, attrs, extra = stack.pop()
                if name != tag:
                    raise EntityParseError(
                        f"Unmatched end tag at byte offset {_byte_offset(src, i)}, "
                        f'expected "</{tag}>", found "</{name}>"'
                    )
                entity = _close_entity(tag, start, pos16, attrs, extra, stack)
                if entity is not None:
                    entities.append(entity)
            else:
                stack.append(_open_tag(src, i, inner, pos16))
            i = end + 1
            continue
        if ch == "&":
            m = _CHAR_REF_RE.match(src, i)
            if m is not None:
                decoded = _decode_char_ref(m.group(1))
                if decoded is None:
                    if strict:
                        raise EntityParseError(
                            f'Unsupported HTML entity "{m.group(0)}" at byte offset '
                            f"{_byte_offset(src, i)}"
                        )
                    decoded = m.group(0)
                out.append(decoded)
                pos16 += _u16(decoded)
                i = m.end()
                continue
            if strict:
                raise EntityParseError(
                    f"Character '&' at byte offset {_byte_offset(src, i)} must be escaped as &amp;"
                )
        elif ch == ">" and strict:
            raise EntityParseError(
                f"Character '>' at byte offset {_byte_offset(src, i)} must be escaped as &gt;"
            )
        out.append(ch)
        pos16 += 2 if ord(ch) > 0xFFFF else 1
        i += 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _decode_char_ref(ref: str) -> str | None:
    if ref.startswith(("#x", "#X")):
        code = int(ref[2:], 16)
    elif ref.startswith("#"):
        code = int(ref[1:])
    else:
        return _NAMED_REFS.get(ref)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _open_tag(
    src: str, index: int, inner: str, pos16: int
) -> tuple[str, int, dict[str, str], JSONDict]:
    m = _TAG_NAME_RE.match(inner)
    if m is None:
        raise EntityParseError(f"Empty tag name at byte offset {_byte_offset(src, index)}")
    name = m.group(0).lower()
    if name not in _TAG_ENTITY or inner.rstrip().endswith("/"):
        raise EntityParseError(
            f'Unsupported start tag "{name}" at byte offset {_byte_offset(src, index)}'
        )
    attrs: dict[str, str] = {}
    rest = inner[m.end() :]
    while rest.strip():
        am = _ATTR_RE.match(rest)
        if am is None or am.end() == 0:
            raise EntityParseError(
                f'Invalid attributes of tag "{name}" at byte offset {_byte_offset(src, index)}'
            )
        value = next((g for g in am.groups()[1:] if g is not None), "")
        attrs[am.group(1).lower()] = html.unescape(value)
        rest = rest[am.end() :]
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise EntityParseError(
            f'Unsupported start tag "span" at byte offset {_byte_offset(src, index)}'
        )
    if name == "tg-emoji" and not attrs.get("emoji-id"):
        raise EntityParseError(
            f'Unsupported start tag "tg-emoji" at byte offset {_byte_offset(src, index)}'
        )
    return name, pos16, attrs, {}


def _close_entity(
    tag: str,
    start: int,
    end: int,
    attrs: dict[str, str],
    extra: JSONDict,
    stack: list[tuple[str, int, dict[str, str], JSONDict]],
) -> JSONDict | None:
    kind = _TAG_ENTITY[tag]
    if tag == "code" and stack and stack[-1][0] == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-"):
            # <pre><code class="language-x"> is one pre entity with a language
            stack[-1][3]["language"] = language.removeprefix("language-")
            return None
    if end <= start:
        return None
    entity: JSONDict = {"type": kind, "offset": start, "length": end - start}
    if tag == "a":
        href = attrs.get("href")
        if not href:
            return None
        entity["url"] = href
    elif tag == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif tag == "tg-emoji":
        entity["custom_emoji_id"] = attrs["emoji-id"]
    entity.update(extra)
    return entity


def _trim(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Telegram strips leading/trailing whitespace; shift/clip entities accordingly."""
    lead = len(text) - len(text.lstrip())
    body = text.strip()
    lead16 = _u16(text[:lead])
    size16 = _u16(body)
    trimmed: list[JSONDict] = []
    for ent in entities:
        start = max(int(ent.get("offset", 0)) - lead16, 0)
        stop = min(int(ent.get("offset", 0)) + int(ent.get("length", 0)) - lead16, size16)
        if stop > start:
            trimmed.append({**ent, "offset": start, "length": stop - start})
    return body, trimmed


_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


def command_entities(text: str) -> list[JSONDict]:
    """``bot_command`` entities the way Telegram marks them in incoming text."""
    return [
        {"type": "bot_command", "offset": _u16(text[: m.start()]), "length": _u16(m.group(0))}
        for m in _COMMAND_RE.finditer(text)
    ]


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


# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------


class FaultPlan:
    """Random-but-reproducible failures for delivery tests (see ``FakeTelegram.fault_plan``).

    * a chat is *blocked* with probability ``rate_403``, decided once per chat from ``seed``
      and the chat id (so a blocked chat always answers 403, for every chat-bound method);
    * each request to one of ``methods`` fails with 429 (``retry_after``) with probability
      ``rate_429``, else with 500 with probability ``rate_500``;
    * :meth:`latency` draws a delay from ``delay`` for faultable methods.

    ``injected`` counts the faults produced (keys ``"403"``, ``"429"``, ``"500"``).
    """

    def __init__(
        self,
        *,
        rate_429: float = 0.1,
        rate_500: float = 0.05,
        rate_403: float = 0.03,
        delay: tuple[float, float] = (0.0, 0.05),
        seed: int = 1,
        retry_after: int = 1,
        methods: Iterable[str] = DELIVERY_METHODS,
    ) -> None:
        self.rate_429 = rate_429
        self.rate_500 = rate_500
        self.rate_403 = rate_403
        self.delay = delay
        self.seed = seed
        self.retry_after = retry_after
        self.methods = frozenset(methods)
        self.injected: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._blocked: dict[int, bool] = {}
        self._lock = threading.Lock()

    def is_blocked(self, chat_id: int) -> bool:
        """Whether this chat has (deterministically) blocked the bot."""
        with self._lock:
            if chat_id not in self._blocked:
                draw = random.Random(f"{self.seed}:{chat_id}").random()
                self._blocked[chat_id] = draw < self.rate_403
            return self._blocked[chat_id]

    @property
    def blocked_chats(self) -> set[int]:
        """Chats seen so far that are blocked."""
        with self._lock:
            return {chat for chat, blocked in self._blocked.items() if blocked}

    def __call__(self, method: str, params: JSONDict) -> Response | None:
        chat_id = params.get("chat_id")
        if isinstance(chat_id, int) and self.is_blocked(chat_id):
            with self._lock:
                self.injected["403"] += 1
            return error_response(403, BLOCKED if chat_id > 0 else KICKED)
        if method not in self.methods:
            return None
        with self._lock:
            draw = self._rng.random()
            if draw < self.rate_429:
                self.injected["429"] += 1
                return error_response(
                    429,
                    f"Too Many Requests: retry after {self.retry_after}",
                    retry_after=self.retry_after,
                )
            if draw < self.rate_429 + self.rate_500:
                self.injected["500"] += 1
                return error_response(500, "Internal Server Error")
        return None

    def latency(self, method: str, params: JSONDict) -> float:
        """Delay (seconds) before answering ``method``."""
        if method not in FAULTABLE_METHODS or self.delay[1] <= 0:
            return 0.0
        with self._lock:
            return self._rng.uniform(*self.delay)


# --------------------------------------------------------------------------------------------
# The fake Bot API
# --------------------------------------------------------------------------------------------


class FakeTelegram:
    """In-memory Bot API.  See the module docstring; thread-safe (one lock around state).

    ``token=None`` accepts any token; otherwise requests carrying another token get 401.
    ``known_chats_only`` makes sends to chats nobody wrote from answer "chat not found".
    ``strict_html`` see :func:`parse_html`.  ``record_calls``/``store_messages`` can be turned off
    for long benchmarks (then only ``call_counts``/``delivered`` grow).
    """

    def __init__(
        self,
        token: str | None = TEST_TOKEN,
        *,
        bot_username: str = BOT_USERNAME,
        bot_first_name: str = BOT_FIRST_NAME,
        known_chats_only: bool = False,
        strict_html: bool = True,
        record_calls: bool = True,
        store_messages: bool = True,
    ) -> None:
        self.token = token
        self.bot_id = _bot_id(token)
        self.bot_user: JSONDict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.known_chats_only = known_chats_only
        self.strict_html = strict_html
        self.record_calls = record_calls
        self.store_messages = store_messages

        self.calls: list[Call] = []
        self.call_counts: Counter[str] = Counter()
        self.unexpected: list[Call] = []
        self.errors: list[ApiError] = []
        self.handler_errors: list[HandlerError] = []
        self.fail_on_handler_errors = True

        self.chats: dict[int, dict[int, Msg]] = {}
        self.deleted: list[Msg] = []
        self.chat_objects: dict[int, JSONDict] = {}
        self.users: dict[int, JSONDict] = {}
        self.blocked: set[int] = set()
        self.delivered: Counter[int] = Counter()
        self.callback_queries: dict[str, CallbackRecord] = {}
        self.conflicts = 0

        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.menu_buttons: dict[int | None, JSONDict] = {}
        self.reply_keyboards: dict[int, JSONDict | None] = {}

        self.fault: FaultFn | None = None
        self.latency: LatencyFn | None = None

        self._lock = threading.RLock()
        self._pending_updates: list[JSONDict] = []
        self._next_update_id = 10_000
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._next_message_id: dict[int, int] = {}
        self._file_counter = itertools.count(1)
        self._query_counter = itertools.count(1)
        self._expect_stack: list[tuple[tuple[str, ...], list[ApiError | HandlerError]]] = []
        self._watched: set[int] = set()
        self._methods: dict[str, Callable[[JSONDict], Any]] = {
            name.lower(): getattr(self, f"_m_{name}")
            for name in (
                "getMe",
                "deleteWebhook",
                "getUpdates",
                "setMyCommands",
                "getMyCommands",
                "deleteMyCommands",
                "setMyDescription",
                "getMyDescription",
                "setMyShortDescription",
                "getMyShortDescription",
                "setChatMenuButton",
                "getChatMenuButton",
                "sendMessage",
                "editMessageText",
                "editMessageReplyMarkup",
                "editMessageCaption",
                "deleteMessage",
                "answerCallbackQuery",
                "copyMessage",
                "sendPhoto",
                "sendDocument",
                "sendChatAction",
                "close",
                "logOut",
            )
        }
        self._canonical = {
            name.lower(): name
            for name in (m.__name__.removeprefix("_m_") for m in self._methods.values())
        }

    # ---- entry points ----------------------------------------------------------------------

    def handle(
        self, method: str, params: Mapping[str, Any], *, token: str | None = None
    ) -> Response:
        """Answer one request synchronously.  ``getUpdates`` never waits here (use
        :meth:`handle_async` for long polling); ``latency`` is not applied."""
        call, early = self._begin(method, params, token)
        if early is not None:
            return self._finish(call, early)
        if call.method == "getUpdates":
            with self._lock:  # a plain getUpdates also terminates a waiting long poll
                self._supersede_pollers()
        return self._finish(call, self._dispatch(call))

    async def handle_async(
        self, method: str, params: Mapping[str, Any], *, token: str | None = None
    ) -> Response:
        """Answer one request; applies ``latency`` and long-polls ``getUpdates`` (timeout>0).

        The call is recorded (``Call.time``) on arrival, before any injected latency.
        """
        call, early = self._begin(method, params, token)
        if early is not None:
            return self._finish(call, early)
        if self.latency is not None:
            delay = self.latency(call.method, call.params)
            if delay > 0:
                await asyncio.sleep(delay)
        timeout = call.params.get("timeout", 0)
        if call.method == "getUpdates":
            if isinstance(timeout, int | float) and timeout > 0:
                return self._finish(call, await self._long_poll(call, float(timeout)))
            with self._lock:  # a plain getUpdates also terminates a waiting long poll
                self._supersede_pollers()
        return self._finish(call, self._dispatch(call))

    def _begin(
        self, method: str, params: Mapping[str, Any], token: str | None
    ) -> tuple[Call, Response | None]:
        name = self._canonical.get(method.lower(), method)
        call = Call(name, normalize_params(params), time.monotonic())
        with self._lock:
            self.call_counts[name] += 1
            if self.record_calls:
                self.calls.append(call)
            if token is not None and self.token is not None and token != self.token:
                self._record_error(call, 401, "Unauthorized")
                return call, error_response(401, "Unauthorized")
            if method.lower() not in self._methods:
                self.unexpected.append(call)
                return call, error_response(404, "Not Found")
        return call, None

    def _dispatch(self, call: Call) -> Response:
        with self._lock:
            if self.fault is not None and call.method in FAULTABLE_METHODS:
                injected = self.fault(call.method, call.params)
                if injected is not None:
                    return injected
            try:
                result = self._methods[call.method.lower()](call.params)
            except _Reject as rej:
                if rej.validation:
                    self._record_error(call, rej.status, rej.description)
                return rej.response()
            return ok_response(result)

    @staticmethod
    def _finish(call: Call, response: Response) -> Response:
        call.status, call.response = response
        return response

    async def _long_poll(self, call: Call, poll_seconds: float) -> Response:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + poll_seconds
        with self._lock:
            generation = self._supersede_pollers()
        while True:
            event = asyncio.Event()
            with self._lock:
                if generation != self._poll_generation:
                    self.conflicts += 1
                    return error_response(409, CONFLICT)
                response = self._dispatch(call)
                if response[0] != 200 or response[1]["result"] or loop.time() >= deadline:
                    return response
                self._waiters.add((loop, event))
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), max(deadline - loop.time(), 0))
            finally:
                with self._lock:
                    self._waiters.discard((loop, event))

    def _supersede_pollers(self) -> int:
        self._poll_generation += 1
        self._wake_pollers()
        return self._poll_generation

    def _wake_pollers(self) -> None:
        for loop, event in list(self._waiters):
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(event.set)

    # ---- bookkeeping -----------------------------------------------------------------------

    def _record_error(self, call: Call, status: int, description: str) -> None:
        err = ApiError(call.method, call.params, status, description, call.time)
        self._mark_expected(err, description)
        self.errors.append(err)
        _LOGGER.debug("fake Telegram rejected %s: %s", call.method, description)

    def _mark_expected(self, item: ApiError | HandlerError, text: str) -> None:
        folded = text.casefold()
        for patterns, captured in reversed(self._expect_stack):
            if not patterns or any(p.casefold() in folded for p in patterns):
                item.expected = True
                captured.append(item)
                return

    @contextlib.contextmanager
    def expect_errors(self, *patterns: str) -> Iterator[list[ApiError | HandlerError]]:
        """Declare that rejected requests / handler exceptions inside the block are expected.

        With ``patterns``, only errors whose description (or ``"ExcType: message"`` for handler
        exceptions) contains one of them (case-insensitively) are covered.  Yields the list of
        covered errors, so the test can assert that they actually happened.
        """
        captured: list[ApiError | HandlerError] = []
        entry = (patterns, captured)
        with self._lock:
            self._expect_stack.append(entry)
        try:
            yield captured
        finally:
            with self._lock:
                self._expect_stack.remove(entry)

    def watch(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Add an error handler to ``app`` that records exceptions in ``handler_errors``.

        Without it, an exception in a handler is only logged by PTB and the test passes anyway.
        The bot's own error handlers still run (PTB calls all of them).
        """
        if id(app) in self._watched:
            return
        self._watched.add(id(app))

        async def record_handler_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
            if context.error is None:
                return
            item = HandlerError(context.error, update)
            with self._lock:
                self._mark_expected(item, f"{type(context.error).__name__}: {context.error}")
                self.handler_errors.append(item)
            if not item.expected:
                _LOGGER.error("handler raised", exc_info=context.error)

        app.add_error_handler(record_handler_error)

    def problems(self) -> list[str]:
        """What a test should fail on: unexpected methods, undeclared rejections, handler
        exceptions (if ``fail_on_handler_errors``)."""
        found: list[str] = []
        with self._lock:
            for call in self.unexpected:
                found.append(f"unexpected Bot API method {call.method}({_short(call.params)})")
            for err in self.errors:
                if not err.expected:
                    found.append(
                        f"Telegram would reject {err.method}({_short(err.params)}): "
                        f"{err.status} {err.description}"
                    )
            if self.fail_on_handler_errors:
                for herr in self.handler_errors:
                    if not herr.expected:
                        found.append(f"handler raised {type(herr.error).__name__}: {herr.error}")
        return found

    def reset_calls(self) -> None:
        """Forget recorded calls (not chats, errors or state)."""
        with self._lock:
            self.calls.clear()
            self.call_counts.clear()

    def fault_plan(
        self,
        rate_429: float = 0.1,
        rate_500: float = 0.05,
        rate_403: float = 0.03,
        delay: tuple[float, float] = (0.0, 0.05),
        seed: int = 1,
        *,
        retry_after: int = 1,
        methods: Iterable[str] = DELIVERY_METHODS,
        install: bool = True,
    ) -> FaultPlan:
        """Build a :class:`FaultPlan`; with ``install`` set it as ``fault`` and ``latency``."""
        plan = FaultPlan(
            rate_429=rate_429,
            rate_500=rate_500,
            rate_403=rate_403,
            delay=delay,
            seed=seed,
            retry_after=retry_after,
            methods=methods,
        )
        if install:
            self.fault = plan
            self.latency = plan.latency
        return plan

    # ---- queries for tests -----------------------------------------------------------------

    def calls_to(self, method: str, *, chat_id: int | None = None) -> list[Call]:
        """Recorded calls of ``method`` (optionally to one chat)."""
        with self._lock:
            return [
                c
                for c in self.calls
                if c.method == method and (chat_id is None or c.params.get("chat_id") == chat_id)
            ]

    def messages(self, chat_id: int) -> list[Msg]:
        """All messages of a chat in order (user's and bot's)."""
        with self._lock:
            return [m for _, m in sorted(self.chats.get(chat_id, {}).items())]

    def bot_messages(self, chat_id: int) -> list[Msg]:
        """The bot's messages in a chat, in order."""
        return [m for m in self.messages(chat_id) if m.from_bot]

    def last_bot_message(self, chat_id: int, *, with_buttons: bool = False) -> Msg | None:
        """The latest bot message in the chat (optionally: that has an inline keyboard)."""
        for msg in reversed(self.bot_messages(chat_id)):
            if not with_buttons or msg.inline_keyboard:
                return msg
        return None

    def message(self, chat_id: int, message_id: int) -> Msg | None:
        """A message by id (None if it does not exist / was deleted)."""
        with self._lock:
            return self.chats.get(chat_id, {}).get(message_id)

    @property
    def unanswered_callbacks(self) -> list[CallbackRecord]:
        """Callback queries the bot never answered (the client shows a spinner for them)."""
        with self._lock:
            return [q for q in self.callback_queries.values() if q.answer is None]

    # ---- feeding the bot -------------------------------------------------------------------

    def next_update_id(self) -> int:
        """A fresh, increasing update_id."""
        with self._lock:
            self._next_update_id += 1
            return self._next_update_id

    def queue_update(self, update: Mapping[str, Any]) -> int:
        """Queue an update dict for ``getUpdates`` (assigns ``update_id`` if missing)."""
        data = dict(update)
        with self._lock:
            if "update_id" in data:
                self._next_update_id = max(self._next_update_id, int(data["update_id"]))
            else:
                data["update_id"] = self.next_update_id()
            self._pending_updates.append(data)
            self._wake_pollers()
        return int(data["update_id"])

    def queue_message(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        first_name: str = "Sam",
        language_code: str = "en",
    ) -> JSONDict:
        """Store a text message from a user and queue it as an update; returns the update."""
        user = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        msg = self.user_message(user, chat_id, text=text, entities=command_entities(text))
        update = {"update_id": self.next_update_id(), "message": msg.raw}
        self.queue_update(update)
        return update

    def register_user(self, user: Mapping[str, Any]) -> None:
        """Remember a user (used for private chat objects)."""
        with self._lock:
            self.users[int(user["id"])] = dict(user)

    def register_chat(self, chat: Mapping[str, Any]) -> None:
        """Remember a chat object (id, type, title/first_name...)."""
        with self._lock:
            self.chat_objects[int(chat["id"])] = dict(chat)

    def chat_object(self, chat_id: int) -> JSONDict:
        """The Bot API ``Chat`` object for a chat id (invented if unknown)."""
        with self._lock:
            known = self.chat_objects.get(chat_id)
            if known is not None:
                return known
            if chat_id > 0:
                user = self.users.get(chat_id, {})
                chat: JSONDict = {
                    "id": chat_id,
                    "type": "private",
                    "first_name": user.get("first_name", f"User {chat_id}"),
                }
                if user.get("username"):
                    chat["username"] = user["username"]
                return chat
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
            return {"id": chat_id, "type": kind, "title": f"Test {kind} {chat_id}"}

    def user_message(
        self,
        user: Mapping[str, Any],
        chat_id: int | None = None,
        *,
        text: str | None = None,
        entities: list[JSONDict] | None = None,
        caption: str | None = None,
        content: JSONDict | None = None,
        kind: str = "text",
        reply_to: Msg | None = None,
    ) -> Msg:
        """Store a message the user sent (it shows in ``history``); returns it."""
        self.register_user(user)
        chat = chat_id if chat_id is not None else int(user["id"])
        with self._lock:
            if chat not in self.chat_objects:
                self.register_chat(self.chat_object(chat))
            msg = Msg(
                message_id=self._new_message_id(chat),
                chat_id=chat,
                from_bot=False,
                date=int(time.time()),
                kind=kind,
                sender=dict(user),
                chat=self.chat_object(chat),
                text=text,
                caption=caption,
                entities=list(entities or []),
                content=dict(content or {}),
                reply_to=_reply_stub(reply_to),
            )
            self.chats.setdefault(chat, {})[msg.message_id] = msg
        return msg

    def new_callback_query(self, user: Mapping[str, Any], msg: Msg | None, data: str) -> JSONDict:
        """Register and return a Bot API ``CallbackQuery`` for a button press."""
        query_id = f"{self.bot_id}{next(self._query_counter):08d}"
        record = CallbackRecord(
            query_id,
            msg.chat_id if msg else None,
            msg.message_id if msg else None,
            data,
        )
        with self._lock:
            self.callback_queries[query_id] = record
        query: JSONDict = {
            "id": query_id,
            "from": dict(user),
            "chat_instance": str(-(abs(msg.chat_id if msg else 0) * 7919 + 13)),
            "data": data,
        }
        if msg is not None:
            query["message"] = msg.raw
        return query

    def new_file(self, prefix: str = "file") -> tuple[str, str]:
        """A fresh ``(file_id, file_unique_id)`` pair."""
        number = next(self._file_counter)
        return f"{prefix}-{number:06d}-fake", f"u{number:06d}"

    # ---- helpers for the method implementations --------------------------------------------

    def _new_message_id(self, chat_id: int) -> int:
        with self._lock:
            nxt = self._next_message_id.get(chat_id, 1)
            self._next_message_id[chat_id] = nxt + 1
            return nxt

    def _chat(self, p: JSONDict, key: str = "chat_id") -> int:
        if key not in p or p[key] in ("", None):
            raise _Reject(400, f"Bad Request: {key} is empty")
        chat_id = p[key]
        if not isinstance(chat_id, int) or isinstance(chat_id, bool):
            raise _Reject(400, "Bad Request: chat not found")
        if self.known_chats_only and chat_id not in self.chat_objects:
            raise _Reject(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            raise _Reject(403, BLOCKED if chat_id > 0 else KICKED, validation=False)
        return chat_id

    def _parse(
        self,
        p: JSONDict,
        field_name: str,
        entities_field: str,
        *,
        limit: int,
        required: bool,
    ) -> tuple[str | None, list[JSONDict], str | None, str | None]:
        """(plain, entities, source, parse_mode) of a text or caption parameter."""
        raw = p.get(field_name)
        if raw is None or raw == "":
            if required:
                raise _Reject(400, "Bad Request: message text is empty")
            return None, [], None, None
        source = raw if isinstance(raw, str) else str(raw)
        parse_mode = p.get("parse_mode")
        if parse_mode:
            mode = str(parse_mode).lower()
            if mode == "html":
                try:
                    plain, entities = parse_html(source, strict=self.strict_html)
                except EntityParseError as exc:
                    raise _Reject(400, f"Bad Request: can't parse entities: {exc}") from None
            elif mode in ("markdown", "markdownv2"):
                plain, entities = source, []  # not parsed: shown as sent
            else:
                raise _Reject(400, f"Bad Request: unsupported parse_mode {parse_mode!r}")
        else:
            plain = source
            entities = p.get(entities_field) or []
            if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
                raise _Reject(400, f"Bad Request: can't parse {entities_field} JSON object")
        plain, entities = _trim(plain, entities)
        if not plain:
            if required:
                raise _Reject(400, "Bad Request: message text is empty")
            return None, [], None, None
        if len(plain) > limit:
            what = "message is too long" if required else "message caption is too long"
            raise _Reject(400, f"Bad Request: {what}")
        return plain, entities, source, str(parse_mode) if parse_mode else None

    @staticmethod
    def _markup(value: Any, *, inline_only: bool = False) -> JSONDict | None:
        if value is None:
            return None
        bad = _Reject(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if not isinstance(value, dict):
            raise bad
        if "inline_keyboard" in value:
            rows = value["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _Reject(
                    400,
                    'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup should be '
                    "an Array of Arrays",
                )
            count = 0
            for row in rows:
                for button in row:
                    _check_inline_button(button)
                    count += 1
            if count > MAX_BUTTONS:
                raise _Reject(400, "Bad Request: reply markup is too long")
            return value
        if inline_only:
            raise _Reject(400, "Bad Request: inline keyboard expected")
        if "keyboard" in value:
            rows = value["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad
            for row in rows:
                for button in row:
                    text = button if isinstance(button, str) else None
                    if isinstance(button, dict):
                        text = button.get("text")
                    if not isinstance(text, str) or not text:
                        raise _Reject(400, "Bad Request: keyboard button text must be non-empty")
            return value
        if value.get("remove_keyboard") is True or value.get("force_reply") is True:
            return value
        raise bad

    def _reply_target(self, chat_id: int, p: JSONDict) -> Msg | None:
        params = p.get("reply_parameters")
        message_id = p.get("reply_to_message_id")
        allow = bool(p.get("allow_sending_without_reply"))
        if isinstance(params, dict):
            message_id = params.get("message_id")
            allow = allow or bool(params.get("allow_sending_without_reply"))
            if isinstance(params.get("chat_id"), int):
                chat_id = params["chat_id"]
        if message_id is None:
            return None
        target = None
        if isinstance(message_id, int):
            target = self.chats.get(chat_id, {}).get(message_id)
        if target is None and not allow:
            raise _Reject(400, "Bad Request: message to be replied not found")
        return target

    def _store_bot_message(self, msg: Msg) -> None:
        if msg.reply_markup is not None and "inline_keyboard" not in msg.reply_markup:
            self.reply_keyboards[msg.chat_id] = (
                msg.reply_markup if "keyboard" in msg.reply_markup else None
            )
        if self.store_messages:
            self.chats.setdefault(msg.chat_id, {})[msg.message_id] = msg

    def _bot_message(self, chat_id: int, kind: str, **fields: Any) -> Msg:
        return Msg(
            message_id=self._new_message_id(chat_id),
            chat_id=chat_id,
            from_bot=True,
            date=int(time.time()),
            kind=kind,
            sender=self.bot_user,
            chat=self.chat_object(chat_id),
            **fields,
        )

    def _editable(self, p: JSONDict) -> Msg:
        if "inline_message_id" in p:
            raise _Reject(400, "Bad Request: inline messages are not supported by the fake")
        chat_id = self._chat(p)
        message_id = p.get("message_id")
        if message_id is None:
            raise _Reject(400, "Bad Request: message identifier is not specified")
        msg = self.chats.get(chat_id, {}).get(message_id)
        if msg is None:
            raise _Reject(400, "Bad Request: message to edit not found")
        if not msg.from_bot:
            raise _Reject(400, "Bad Request: message can't be edited")
        return msg

    @staticmethod
    def _touch(msg: Msg) -> JSONDict:
        msg.edited = True
        msg.edits += 1
        msg.edit_date = int(time.time())
        return msg.raw

    # ---- Bot API methods -------------------------------------------------------------------

    def _m_getMe(self, p: JSONDict) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_deleteWebhook(self, p: JSONDict) -> bool:
        if p.get("drop_pending_updates"):
            self._pending_updates.clear()
        return True

    def _m_close(self, p: JSONDict) -> bool:
        return True

    def _m_logOut(self, p: JSONDict) -> bool:
        return True

    def _m_getUpdates(self, p: JSONDict) -> list[JSONDict]:
        offset = p.get("offset", 0)
        limit = p.get("limit", 100)
        limit = min(max(limit if isinstance(limit, int) else 100, 1), 100)
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed]
        if isinstance(offset, int) and offset > 0:
            self._pending_updates = [u for u in self._pending_updates if u["update_id"] >= offset]
        elif isinstance(offset, int) and offset < 0:
            self._pending_updates = self._pending_updates[offset:]
        self._pending_updates = [u for u in self._pending_updates if self._wanted(u)]
        return copy.deepcopy(self._pending_updates[:limit])

    def _wanted(self, update: JSONDict) -> bool:
        kinds = [k for k in update if k != "update_id"]
        if not kinds:
            return True
        if self._allowed_updates:
            return kinds[0] in self._allowed_updates
        return kinds[0] not in _OPT_IN_UPDATES

    @staticmethod
    def _command_key(p: JSONDict) -> tuple[str, str]:
        scope = p.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise _Reject(400, "Bad Request: can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), str(p.get("language_code", ""))

    def _m_setMyCommands(self, p: JSONDict) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise _Reject(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise _Reject(400, "Bad Request: too many commands")
        for cmd in commands:
            if not isinstance(cmd, dict):
                raise _Reject(400, "Bad Request: can't parse BotCommand JSON object")
            name, desc = cmd.get("command"), cmd.get("description")
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _Reject(400, "Bad Request: BOT_COMMAND_INVALID")
            if not isinstance(desc, str) or not 1 <= len(desc) <= 256:
                raise _Reject(400, "Bad Request: command description is invalid")
        self.commands[self._command_key(p)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _m_getMyCommands(self, p: JSONDict) -> list[JSONDict]:
        return list(self.commands.get(self._command_key(p), []))

    def _m_deleteMyCommands(self, p: JSONDict) -> bool:
        self.commands.pop(self._command_key(p), None)
        return True

    def _m_setMyDescription(self, p: JSONDict) -> bool:
        text = str(p.get("description", ""))
        if len(text) > 512:
            raise _Reject(400, "Bad Request: bot description is too long")
        self.descriptions[str(p.get("language_code", ""))] = text
        return True

    def _m_getMyDescription(self, p: JSONDict) -> JSONDict:
        return {"description": self.descriptions.get(str(p.get("language_code", "")), "")}

    def _m_setMyShortDescription(self, p: JSONDict) -> bool:
        text = str(p.get("short_description", ""))
        if len(text) > 120:
            raise _Reject(400, "Bad Request: bot short description is too long")
        self.short_descriptions[str(p.get("language_code", ""))] = text
        return True

    def _m_getMyShortDescription(self, p: JSONDict) -> JSONDict:
        lang = str(p.get("language_code", ""))
        return {"short_description": self.short_descriptions.get(lang, "")}

    def _m_setChatMenuButton(self, p: JSONDict) -> bool:
        button = p.get("menu_button", {"type": "default"})
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise _Reject(400, "Bad Request: can't parse menu button JSON object")
        chat_id = self._chat(p) if "chat_id" in p else None
        self.menu_buttons[chat_id] = button
        return True

    def _m_getChatMenuButton(self, p: JSONDict) -> JSONDict:
        chat_id = self._chat(p) if "chat_id" in p else None
        return self.menu_buttons.get(chat_id, self.menu_buttons.get(None, {"type": "default"}))

    def _m_sendMessage(self, p: JSONDict) -> JSONDict:
        chat_id = self._chat(p)
        text, entities, source, parse_mode = self._parse(
            p, "text", "entities", limit=TEXT_LIMIT, required=True
        )
        markup = self._markup(p.get("reply_markup"))
        reply = self._reply_target(chat_id, p)
        msg = self._bot_message(
            chat_id,
            "text",
            text=text,
            entities=entities,
            source=source,
            parse_mode=parse_mode,
            reply_markup=markup,
            reply_to=_reply_stub(reply),
        )
        self._store_bot_message(msg)
        self.delivered[chat_id] += 1
        return msg.raw

    def _media(self, p: JSONDict, key: str) -> tuple[str, str | None, int | None, str | None]:
        """(file_id, filename, size, mime) for a photo/document parameter."""
        value = p.get(key)
        if isinstance(value, str) and value.startswith("attach://"):
            value = p.get(value.removeprefix("attach://"))
        if isinstance(value, Upload):
            file_id, _ = self.new_file(key)
            return file_id, value.filename, value.size, value.mime_type
        if isinstance(value, str) and value:
            return value, None, None, None
        raise _Reject(400, f"Bad Request: there is no {key} in the request")

    def _send_media(self, p: JSONDict, key: str) -> JSONDict:
        chat_id = self._chat(p)
        file_id, filename, size, mime = self._media(p, key)
        caption, entities, source, parse_mode = self._parse(
            p, "caption", "caption_entities", limit=CAPTION_LIMIT, required=False
        )
        markup = self._markup(p.get("reply_markup"))
        reply = self._reply_target(chat_id, p)
        unique = f"u{zlib.crc32(file_id.encode()):08x}"
        content: JSONDict
        if key == "photo":
            content = {
                "photo": [
                    {"file_id": file_id, "file_unique_id": unique, "width": 90, "height": 90},
                    {"file_id": file_id, "file_unique_id": unique, "width": 800, "height": 800},
                ]
            }
        else:
            document: JSONDict = {"file_id": file_id, "file_unique_id": unique}
            if filename:
                document["file_name"] = filename
            if mime:
                document["mime_type"] = mime
            if size is not None:
                document["file_size"] = size
            content = {"document": document}
        msg = self._bot_message(
            chat_id,
            key,
            caption=caption,
            entities=entities,
            source=source,
            parse_mode=parse_mode,
            reply_markup=markup,
            content=content,
            reply_to=_reply_stub(reply),
        )
        self._store_bot_message(msg)
        self.delivered[chat_id] += 1
        return msg.raw

    def _m_sendPhoto(self, p: JSONDict) -> JSONDict:
        return self._send_media(p, "photo")

    def _m_sendDocument(self, p: JSONDict) -> JSONDict:
        return self._send_media(p, "document")

    def _m_copyMessage(self, p: JSONDict) -> JSONDict:
        chat_id = self._chat(p)
        from_chat = self._chat(p, "from_chat_id")
        source_id = p.get("message_id")
        original = self.chats.get(from_chat, {}).get(source_id) if source_id else None
        if original is None:
            raise _Reject(400, "Bad Request: message to copy not found")
        if original.text is None and not original.content:
            raise _Reject(400, "Bad Request: message can't be copied")
        markup = self._markup(p.get("reply_markup"))
        reply = self._reply_target(chat_id, p)
        text, caption = original.text, original.caption
        entities, source, parse_mode = list(original.entities), original.source, None
        if text is None and "caption" in p:
            caption, entities, source, parse_mode = self._parse(
                p, "caption", "caption_entities", limit=CAPTION_LIMIT, required=False
            )
        msg = self._bot_message(
            chat_id,
            original.kind,
            text=text,
            caption=caption,
            entities=entities,
            source=source,
            parse_mode=parse_mode,
            reply_markup=markup,
            content=copy.deepcopy(original.content),
            reply_to=_reply_stub(reply),
        )
        self._store_bot_message(msg)
        self.delivered[chat_id] += 1
        return {"message_id": msg.message_id}

    def _m_sendChatAction(self, p: JSONDict) -> bool:
        self._chat(p)
        if p.get("action") not in CHAT_ACTIONS:
            raise _Reject(400, "Bad Request: wrong parameter action in request")
        return True

    def _m_editMessageText(self, p: JSONDict) -> JSONDict:
        msg = self._editable(p)
        text, entities, source, parse_mode = self._parse(
            p, "text", "entities", limit=TEXT_LIMIT, required=True
        )
        markup = self._markup(p.get("reply_markup"), inline_only=True)
        if msg.text is None:
            raise _Reject(400, "Bad Request: there is no text in the message to edit")
        if (msg.text, msg.entities, _inline(msg.reply_markup)) == (
            text,
            entities,
            _inline(markup),
        ):
            raise _Reject(400, NOT_MODIFIED)
        msg.text, msg.entities, msg.source, msg.parse_mode = text, entities, source, parse_mode
        # like Telegram: editing without reply_markup removes the inline keyboard
        msg.reply_markup = markup if _inline(markup) else _keep_reply_keyboard(msg.reply_markup)
        return self._touch(msg)

    def _m_editMessageCaption(self, p: JSONDict) -> JSONDict:
        msg = self._editable(p)
        caption, entities, source, parse_mode = self._parse(
            p, "caption", "caption_entities", limit=CAPTION_LIMIT, required=False
        )
        markup = self._markup(p.get("reply_markup"), inline_only=True)
        if msg.text is not None:
            raise _Reject(400, "Bad Request: there is no caption in the message to edit")
        if (msg.caption, msg.entities, _inline(msg.reply_markup)) == (
            caption,
            entities,
            _inline(markup),
        ):
            raise _Reject(400, NOT_MODIFIED)
        msg.caption, msg.entities, msg.source, msg.parse_mode = (
            caption,
            entities,
            source,
            parse_mode,
        )
        msg.reply_markup = markup if _inline(markup) else _keep_reply_keyboard(msg.reply_markup)
        return self._touch(msg)

    def _m_editMessageReplyMarkup(self, p: JSONDict) -> JSONDict:
        msg = self._editable(p)
        markup = self._markup(p.get("reply_markup"), inline_only=True)
        if _inline(msg.reply_markup) == _inline(markup):
            raise _Reject(400, NOT_MODIFIED)
        msg.reply_markup = markup if _inline(markup) else _keep_reply_keyboard(msg.reply_markup)
        return self._touch(msg)

    def _m_deleteMessage(self, p: JSONDict) -> bool:
        chat_id = self._chat(p)
        msg = self.chats.get(chat_id, {}).pop(p.get("message_id"), None)  # type: ignore[arg-type]
        if msg is None:
            raise _Reject(400, "Bad Request: message to delete not found")
        self.deleted.append(msg)
        return True

    def _m_answerCallbackQuery(self, p: JSONDict) -> bool:
        record = self.callback_queries.get(str(p.get("callback_query_id", "")))
        if record is None or record.answer is not None:
            raise _Reject(400, QUERY_INVALID)
        if len(str(p.get("text", ""))) > CALLBACK_ANSWER_LIMIT:
            raise _Reject(400, "Bad Request: MESSAGE_TOO_LONG")
        record.answer = dict(p)
        return True


def _check_inline_button(button: Any) -> None:
    prefix = "Bad Request: can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise _Reject(400, prefix + "InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str):
        raise _Reject(400, prefix + 'Field "text" must be of type String')
    if not text.strip():
        raise _Reject(400, "Bad Request: BUTTON_TEXT_INVALID")
    actions = [key for key in _INLINE_ACTIONS if key in button]
    if not actions:
        raise _Reject(400, prefix + "Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise _Reject(400, prefix + f"only one of {actions} may be specified")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT:
            raise _Reject(400, "Bad Request: BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https", "tg") or not parts.netloc:
            raise _Reject(400, "Bad Request: BUTTON_URL_INVALID")


def _inline(markup: JSONDict | None) -> list[list[JSONDict]] | None:
    if not markup or "inline_keyboard" not in markup:
        return None
    rows = [row for row in markup["inline_keyboard"] if row]
    return rows or None


def _keep_reply_keyboard(markup: JSONDict | None) -> JSONDict | None:
    return markup if markup and "inline_keyboard" not in markup else None


def _reply_stub(msg: Msg | None) -> JSONDict | None:
    if msg is None:
        return None
    stub = msg.raw
    stub.pop("reply_to_message", None)
    return stub


def _bot_id(token: str | None) -> int:
    if token:
        head = token.split(":", 1)[0]
        if head.isdigit():
            return int(head)
    return 1234567


def _short(params: JSONDict, limit: int = 160) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------------------------
# PTB request adapter
# --------------------------------------------------------------------------------------------


class FakeRequest(BaseRequest):
    """A PTB request backend answering from a :class:`FakeTelegram` in process.

    Parameters are taken from ``request_data.json_parameters`` - exactly the strings
    ``HTTPXRequest`` would post - and decoded by ``FakeTelegram`` per parameter type, so the
    in-process path sees the same typing as the HTTP path.  Uploaded files
    (``request_data.multipart_data``) become :class:`Upload` values.  Nothing is raised here:
    the status and JSON body go back to PTB, which raises ``RetryAfter``, ``Forbidden``,
    ``BadRequest``, ``InvalidToken`` (for 404/401) etc. as it would against Telegram.
    """

    def __init__(self, api: FakeTelegram, *, read_timeout: float | None = 5.0) -> None:
        self.api = api
        self._read_timeout = read_timeout
        self.initialized = False

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        self.initialized = True

    async def shutdown(self) -> None:
        self.initialized = False

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        path = urlsplit(url).path
        parts = path.rstrip("/").split("/")
        if "file" in parts[:-1] or len(parts) < 2 or not parts[-2].startswith("bot"):
            call = Call(f"GET {path}", {}, time.monotonic(), 404)
            with self.api._lock:
                self.api.unexpected.append(call)
            return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}'
        token = parts[-2].removeprefix("bot")
        params: JSONDict = dict(request_data.json_parameters) if request_data else {}
        if request_data is not None and request_data.contains_files:
            for name, (filename, content, mime) in request_data.multipart_data.items():
                size = len(content) if isinstance(content, bytes) else None
                params[name] = Upload(filename, size, mime)
        status, body = await self.api.handle_async(parts[-1], params, token=token)
        return status, json.dumps(body).encode()


# --------------------------------------------------------------------------------------------
# Application lifecycle and simulated users
# --------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def run_app(
    app: Application[Any, Any, Any, Any, Any, Any],
    api: FakeTelegram | None = None,
    *,
    start: bool = True,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Run ``app`` like ``run_polling`` does, without polling.

    PTB calls ``post_init``/``post_stop``/``post_shutdown`` only from ``run_polling`` /
    ``run_webhook``, never from ``initialize()``/``start()``, so this does it.  ``start`` also
    starts the JobQueue and makes ``Application.create_task`` track tasks.  With ``api``,
    handler exceptions are recorded (:meth:`FakeTelegram.watch`).  A running updater is stopped
    on exit.
    """
    if api is not None:
        api.watch(app)
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        if start:
            await app.start()
        try:
            yield app
        finally:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            if app.post_stop is not None:
                await app.post_stop(app)
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


async def settle(before: set[asyncio.Task[Any]], max_wait: float = 5.0) -> None:
    """Wait until tasks created since ``before`` (a snapshot of ``asyncio.all_tasks()``) are done.

    This catches ``block=False`` handlers, ``Application.create_task`` and plain
    ``asyncio.create_task`` alike using only public asyncio API.  Tasks still running after
    ``max_wait`` seconds (long-lived workers) are left alone with a warning.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait
    current = asyncio.current_task()
    for _ in range(3):
        await asyncio.sleep(0)
    while True:
        fresh = {
            t for t in asyncio.all_tasks() if t not in before and t is not current and not t.done()
        }
        remaining = deadline - loop.time()
        if not fresh:
            break
        if remaining <= 0:
            _LOGGER.warning("tasks still running after %.1fs: %s", max_wait, fresh)
            break
        _, pending = await asyncio.wait(fresh, timeout=remaining)
        if pending:
            _LOGGER.warning("tasks still running after %.1fs: %s", max_wait, pending)
            break
    for _ in range(3):
        await asyncio.sleep(0)


class SimUser:
    """A Telegram user talking to ``app`` in process (see the module docstring).

    Every action builds the update dict Telegram would send, turns it into a real
    ``telegram.Update`` via ``Update.de_json``, awaits ``app.process_update`` and then
    :func:`settle` (waits for tasks spawned meanwhile, at most ``settle_timeout`` s).  It returns
    the Bot API calls made meanwhile (a slice of ``api.calls``; concurrent users' calls can
    interleave).  Plain text starting with ``/`` gets ``bot_command`` entities, as on Telegram.
    """

    def __init__(
        self,
        app: Application[Any, Any, Any, Any, Any, Any],
        api: FakeTelegram,
        user_id: int = 1001,
        chat_id: int | None = None,
        *,
        language_code: str | None = "en",
        first_name: str = "Sam",
        last_name: str | None = None,
        username: str | None = None,
        settle_timeout: float = 5.0,
    ) -> None:
        self.app = app
        self.api = api
        self.user_id = user_id
        self.chat_id = chat_id if chat_id is not None else user_id
        self.settle_timeout = settle_timeout
        self.user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            self.user["last_name"] = last_name
        if username:
            self.user["username"] = username
        if language_code:
            self.user["language_code"] = language_code
        self.last_calls: list[Call] = []
        self.last_answer: JSONDict | None = None
        self._group_chats: set[int] = set()
        api.register_user(self.user)
        if self.chat_id > 0 and self.chat_id == user_id:
            chat: JSONDict = {"id": user_id, "type": "private", "first_name": first_name}
            if last_name:
                chat["last_name"] = last_name
            if username:
                chat["username"] = username
            api.register_chat(chat)
        elif self.chat_id not in api.chat_objects:
            api.register_chat(api.chat_object(self.chat_id))

    # ---- what the user sees ----------------------------------------------------------------

    @property
    def history(self) -> list[Msg]:
        """All messages in the chat in order (the user's and the bot's)."""
        return self.api.messages(self.chat_id)

    @property
    def screen(self) -> Msg:
        """The latest bot message in this chat."""
        msg = self.api.last_bot_message(self.chat_id)
        if msg is None:
            raise AssertionError(f"the bot has sent nothing to chat {self.chat_id}")
        return msg

    @property
    def buttons(self) -> list[str]:
        """Inline button labels of :attr:`screen` (flattened, in order)."""
        return self.screen.buttons

    def button_data(self, label: str) -> str:
        """callback_data of the button (on the latest message with buttons) matching ``label``."""
        button = self._keyboard_message().button(label)
        if "callback_data" not in button:
            raise AssertionError(f"button {button.get('text')!r} has no callback_data: {button}")
        return str(button["callback_data"])

    @property
    def keyboard(self) -> list[str]:
        """Labels of the reply keyboard currently shown (empty if none/removed)."""
        markup = self.api.reply_keyboards.get(self.chat_id)
        if not markup:
            return []
        return [
            b if isinstance(b, str) else str(b.get("text", ""))
            for row in markup["keyboard"]
            for b in row
        ]

    def _keyboard_message(self) -> Msg:
        msg = self.api.last_bot_message(self.chat_id, with_buttons=True)
        if msg is None:
            shown = [str(m) for m in self.history[-5:]]
            raise AssertionError(f"no bot message with inline buttons in chat; last: {shown}")
        return msg

    # ---- actions ---------------------------------------------------------------------------

    async def process(self, update: JSONDict) -> list[Call]:
        """Feed a raw update dict to the application and wait for the fallout."""
        start = len(self.api.calls)
        before = asyncio.all_tasks()
        await self.app.process_update(Update.de_json(update, self.app.bot))
        await settle(before, self.settle_timeout)
        self.last_calls = self.api.calls[start:]
        return self.last_calls

    async def _message(self, chat_id: int | None = None, **fields: Any) -> list[Call]:
        msg = self.api.user_message(self.user, chat_id or self.chat_id, **fields)
        return await self.process({"update_id": self.api.next_update_id(), "message": msg.raw})

    async def send(self, text: str, *, entities: list[JSONDict] | None = None) -> list[Call]:
        """Send a text message (``bot_command`` entities added for ``/commands``)."""
        ents = command_entities(text) if entities is None else entities
        return await self._message(text=text, entities=ents)

    async def command(self, text: str) -> list[Call]:
        """Send a command, e.g. ``"/start helpnow"``."""
        if not text.startswith("/"):
            raise AssertionError(f"a command starts with '/': {text!r}")
        return await self.send(text)

    async def tap(self, label: str) -> list[Call]:
        """Tap a reply-keyboard button (sends its text)."""
        if label not in self.keyboard:
            raise AssertionError(f"no reply keyboard button {label!r}; shown: {self.keyboard}")
        return await self.send(label)

    async def press(self, label: str) -> list[Call]:
        """Press the inline button matching ``label`` (exact, else substring; case-insensitive)
        on the latest bot message that has an inline keyboard."""
        msg = self._keyboard_message()
        button = msg.button(label)
        if "callback_data" not in button:
            raise AssertionError(
                f"button {button.get('text')!r} is not a callback button: {button}"
            )
        return await self.press_data(str(button["callback_data"]), message_id=msg.message_id)

    async def press_data(self, data: str, message_id: int | None = None) -> list[Call]:
        """Send a callback query with arbitrary (forged/stale) ``data`` on the given message
        (default: the latest bot message with buttons, else the latest bot message)."""
        if message_id is None:
            msg = self.api.last_bot_message(self.chat_id, with_buttons=True) or self.screen
        else:
            found = self.api.message(self.chat_id, message_id)
            if found is None:
                found = next(
                    (
                        m
                        for m in self.api.deleted
                        if m.chat_id == self.chat_id and m.message_id == message_id
                    ),
                    None,
                )
            if found is None:
                raise AssertionError(f"no message {message_id} in chat {self.chat_id}")
            msg = found
        query = self.api.new_callback_query(self.user, msg, data)
        calls = await self.process(
            {"update_id": self.api.next_update_id(), "callback_query": query}
        )
        answer = self.api.callback_queries[query["id"]].answer
        self.last_answer = answer
        return calls

    async def send_sticker(self, emoji: str = "👍") -> list[Call]:
        file_id, unique = self.api.new_file("sticker")
        sticker = {
            "file_id": file_id,
            "file_unique_id": unique,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return await self._message(kind="sticker", content={"sticker": sticker})

    async def send_photo(self, caption: str | None = None) -> list[Call]:
        file_id, unique = self.api.new_file("photo")
        sizes = [
            {"file_id": f"{file_id}-s", "file_unique_id": f"{unique}s", "width": 90, "height": 90},
            {"file_id": file_id, "file_unique_id": unique, "width": 1280, "height": 960},
        ]
        return await self._message(kind="photo", content={"photo": sizes}, caption=caption)

    async def send_voice(self, duration: int = 3) -> list[Call]:
        file_id, unique = self.api.new_file("voice")
        voice = {
            "file_id": file_id,
            "file_unique_id": unique,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": 4200 * duration,
        }
        return await self._message(kind="voice", content={"voice": voice})

    async def send_document(
        self,
        file_name: str = "notes.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
    ) -> list[Call]:
        file_id, unique = self.api.new_file("document")
        document = {
            "file_id": file_id,
            "file_unique_id": unique,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": 12345,
        }
        return await self._message(kind="document", content={"document": document}, caption=caption)

    async def send_location(self, latitude: float = 52.52, longitude: float = 13.405) -> list[Call]:
        location = {"latitude": latitude, "longitude": longitude}
        return await self._message(kind="location", content={"location": location})

    async def edit_last(self, text: str) -> list[Call]:
        """Edit the user's last message in this chat (an ``edited_message`` update)."""
        mine = [m for m in self.history if not m.from_bot]
        if not mine:
            raise AssertionError("the user has not sent anything to edit")
        msg = mine[-1]
        msg.text = text
        msg.entities = command_entities(text)
        msg.edited = True
        msg.edits += 1
        msg.edit_date = int(time.time())
        return await self.process(
            {"update_id": self.api.next_update_id(), "edited_message": msg.raw}
        )

    async def send_in_group(
        self, text: str, group_id: int = -100123, *, title: str = "Test group"
    ) -> list[Call]:
        """Send a text message from this user in a group chat."""
        kind = "supergroup" if str(group_id).startswith("-100") else "group"
        if group_id not in self.api.chat_objects:
            self.api.register_chat({"id": group_id, "type": kind, "title": title})
        self._group_chats.add(group_id)
        return await self._message(group_id, text=text, entities=command_entities(text))

    async def _member_status(self, old: str, new: str) -> list[Call]:
        update = {
            "update_id": self.api.next_update_id(),
            "my_chat_member": {
                "chat": self.api.chat_object(self.chat_id),
                "from": self.user,
                "date": int(time.time()),
                "old_chat_member": self._member(old),
                "new_chat_member": self._member(new),
            },
        }
        return await self.process(update)

    def _member(self, status: str) -> JSONDict:
        member: JSONDict = {"user": self.api.bot_user, "status": status}
        if status == "kicked":
            member["until_date"] = 0
        return member

    async def block(self) -> list[Call]:
        """Block the bot: sends to this chat now get 403; the bot gets a my_chat_member update."""
        self.api.blocked.add(self.chat_id)
        return await self._member_status("member", "kicked")

    async def unblock(self) -> list[Call]:
        """Unblock the bot (my_chat_member update back to member)."""
        self.api.blocked.discard(self.chat_id)
        return await self._member_status("kicked", "member")
