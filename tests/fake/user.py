"""The simulated Telegram user: :class:`SimUser` sends messages, commands, button presses, media,
edits and group messages to an ``Application`` as real ``telegram.Update`` objects and sees the
chat as a Telegram client would (``screen``, ``buttons``, ``keyboard``, ``history``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from telegram import Update
from telegram.ext import Application

from .html import command_entities
from .lifecycle import settle
from .records import Call, JSONDict, Msg
from .telegram import FakeTelegram


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
