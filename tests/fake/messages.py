"""Chats and messages of the fake Telegram: sending, copying, editing and deleting messages.

This module owns :class:`MessagesMixin` (part of :class:`tests.fake.telegram.FakeTelegram`):
the state of every chat as the user sees it (``chats``, ``deleted``, ``reply_keyboards``,
``delivered``, known ``users``/``chat_objects``, ``blocked`` chats), messages users send
(``user_message``), and the Bot API methods ``sendMessage``, ``sendPhoto``, ``sendDocument``,
``copyMessage``, ``sendChatAction``, ``editMessageText``, ``editMessageCaption``,
``editMessageReplyMarkup`` and ``deleteMessage`` with Telegram's validation of text, captions,
reply markup (inline buttons, reply keyboards) and replies.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
import zlib
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .constants import (
    BLOCKED,
    CALLBACK_DATA_LIMIT,
    CAPTION_LIMIT,
    CHAT_ACTIONS,
    KICKED,
    MAX_BUTTONS,
    NOT_MODIFIED,
    TEXT_LIMIT,
)
from .html import EntityParseError, _trim, parse_html
from .records import JSONDict, Msg, Upload, _Reject

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


class MessagesMixin:
    """Chats, messages and the message methods (see the module docstring)."""

    API_METHODS = (
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
        "deleteMessage",
        "copyMessage",
        "sendPhoto",
        "sendDocument",
        "sendChatAction",
    )

    # shared with the other parts of FakeTelegram
    _lock: threading.RLock
    bot_user: JSONDict
    known_chats_only: bool
    strict_html: bool
    store_messages: bool

    def _init_messages(self) -> None:
        self.chats: dict[int, dict[int, Msg]] = {}
        self.deleted: list[Msg] = []
        self.chat_objects: dict[int, JSONDict] = {}
        self.users: dict[int, JSONDict] = {}
        self.blocked: set[int] = set()
        self.delivered: Counter[int] = Counter()
        self.reply_keyboards: dict[int, JSONDict | None] = {}
        self._next_message_id: dict[int, int] = {}
        self._file_counter = itertools.count(1)

    # ---- users, chats and messages --------------------------------------------------------

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

    def new_file(self, prefix: str = "file") -> tuple[str, str]:
        """A fresh ``(file_id, file_unique_id)`` pair."""
        number = next(self._file_counter)
        return f"{prefix}-{number:06d}-fake", f"u{number:06d}"

    # ---- queries for tests -----------------------------------------------------------------

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
