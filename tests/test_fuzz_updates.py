"""Property-based: thousands of generated updates, interleaved across users and chats, fed to
the in-process application (the fake Telegram of ``tests/fake/``), with hypothesis.

What is generated: random text and entities, unicode edge cases (right-to-left and bidi
controls, zero-width characters, combining marks, emoji sequences, control characters), huge
messages and captions, every chat type (private, group, supergroup, channel), media, forged,
stale, inaccessible and oversized callback data, edited messages and channel posts, messages
without a sender (and from anonymous admins, linked channels and other bots), membership
changes (blocking the bot, joining and leaving groups), reactions, inline queries, join
requests, and commands with arguments and bot mentions. The admin (id 42) takes part too; only
the Send button of a broadcast is left out (delivery has its own tests, and a broadcast would
put messages into everyone's chat).

What must hold:

* no handler raises, and Telegram would accept every request (``FakeTelegram.problems``);
* every message a person writes in their private chat with the bot gets a reply, and outside
  an admin's broadcast flow exactly one (a message without a sender: at most one);
* every button press is answered exactly once (the spinner stops);
* channel posts, membership changes and the other updates without a person's message get no
  message; a group gets at most one message per update;
* at the end the database passes ``PRAGMA integrity_check`` and holds no message text.

Bounded for CI (derandomised: the same examples every run, no example database, well under a
minute; it prints how many updates it sent). ``HYPOTHESIS_LONG=1`` runs many more examples,
``HYPOTHESIS_SEED=<n>`` draws a different, still reproducible, set.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from telegram import Update

from bot import callbacks as cb
from bot.app import build_application
from bot.config import Settings
from handlers.admin import DRAFT
from tests.fake import (
    BOT_USERNAME,
    DELIVERY_METHODS,
    TEST_TOKEN,
    FakeRequest,
    FakeTelegram,
    Msg,
    SimUser,
    command_entities,
    run_app,
    settle,
)

LONG = os.environ.get("HYPOTHESIS_LONG", "") not in ("", "0")
EXAMPLES = 3000 if LONG else 200
MAX_STEPS = 60 if LONG else 30
SEED = int(os.environ.get("HYPOTHESIS_SEED", "0"))

ADMIN = 42
CANARY = "zq7canary"  # in some generated texts: must never reach the database file
BOT_MENTION = f"@{BOT_USERNAME}"
ANON_ADMIN = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
OTHER_BOT = {"id": 5_550_001, "is_bot": True, "first_name": "Other", "username": "other_bot"}

# --- text -------------------------------------------------------------------------------------

EDGE_TEXTS = [
    "",
    " ",
    "\n\n",
    "\u200b",
    "\u200b\u200c\u200d\u2060\ufeff",
    "\u200f\u202e\u2066abc\u2069\u202c",
    "مرحبا، أحتاج مساعدة",
    "שלום, אני צריך עזרה",
    "ابحث عن Help now الآن",
    "e\u0301\u0302\u0303\u0304\u0305",
    "Z\u0336\u0335\u0334a\u0337\u0338\u0321l\u0322\u0327g\u0328\u0361o\u035c",
    "👨‍👩‍👧‍👦🏳️‍🌈👍🏽🇺🇸1️⃣🧑🏿‍🦯",
    "🙂",
    "\x00\x07\x1b[31mred\x1b[0m\r\n\t",
    "<b>bold</b> &amp; <script>alert(1)</script> </i> &lt; &",
    "   leading and trailing   ",
    "08:30",
    "8:30pm",
    "25:99",
    "12",
    "0",
    "Europe/Berlin",
    "America/New_York",
    "berlin",
    "Ciudad de México",
    "Not/AZone",
    "2024-01-01",
    "31.12.2023",
    "yesterday",
    "ayer",
    "I want to die",
    "I took too many pills",
    "quiero morir",
    "help",
    "Help now",
    "menu",
]
COMMANDS = [
    "start",
    "menu",
    "help",
    "helpnow",
    "sos",
    "checkin",
    "settings",
    "privacy",
    "delete",
    "cancel",
    "broadcast",
    "broadcasts",
    "stats",
    "reload",
    "unknown",
    "START",
    "Start",
    "start_",
    "x" * 40,
]
COMMAND_ARGS = ["", " helpnow", " menu", " 8:30", " a b c", " " + "arg" * 100, " \u200f", " 🙂"]
MENTIONS = ["", "", BOT_MENTION, "@other_bot", "@", "@" + BOT_USERNAME.upper()]
HUGE = [
    "a" * 4096,
    "🙂" * 2048,  # 4096 UTF-16 code units
    ("word " * 819)[:4096],
    "\u200b" * 4096,
    "e\u0301" * 2048,
    f"{CANARY} " + "x" * 4000,
]
ADMIN_TEXTS = ["/broadcast", "/broadcast", "/cancel", "/stats", "/broadcasts", "/reload"]
LEGIT_INPUTS = {t.casefold() for t in EDGE_TEXTS}  # may be stored as what they mean (a zone)

safe_chars = st.characters(exclude_categories=("Cs",))  # Telegram sends valid UTF-8 only
random_text = st.text(alphabet=safe_chars, max_size=200)
piece = st.one_of(
    st.sampled_from(EDGE_TEXTS),
    random_text,
    st.builds(lambda s: f"{CANARY} {s}", random_text),
)
texts = st.one_of(
    piece,
    st.lists(piece, min_size=2, max_size=4).map(" ".join),
    st.sampled_from(HUGE),
    st.builds(
        lambda c, m, a: f"/{c}{m}{a}",
        st.sampled_from(COMMANDS),
        st.sampled_from(MENTIONS),
        st.sampled_from(COMMAND_ARGS),
    ),
)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


ENTITY_TYPES = [
    "bold",
    "italic",
    "underline",
    "strikethrough",
    "spoiler",
    "code",
    "pre",
    "url",
    "text_link",
    "mention",
    "hashtag",
    "cashtag",
    "bot_command",
    "email",
    "phone_number",
    "text_mention",
    "custom_emoji",
    "blockquote",
    "expandable_blockquote",
]


@st.composite
def entities_for(draw: st.DrawFn, text: str) -> list[dict[str, Any]]:
    """Entities Telegram could send: on code point boundaries, inside the text."""
    if text.startswith("/") and draw(st.booleans()):
        return command_entities(text)
    if not text or draw(st.integers(0, 2)) == 0:
        return []
    bounds = [utf16_len(text[:i]) for i in range(len(text) + 1)]
    found = []
    for _ in range(draw(st.integers(1, 4))):
        a = draw(st.integers(0, len(text) - 1))
        b = draw(st.integers(a + 1, len(text)))
        kind = draw(st.sampled_from(ENTITY_TYPES))
        entity: dict[str, Any] = {
            "type": kind,
            "offset": bounds[a],
            "length": bounds[b] - bounds[a],
        }
        if kind == "text_link":
            entity["url"] = draw(st.sampled_from(["https://example.org", "tg://user?id=1"]))
        elif kind == "text_mention":
            entity["user"] = {"id": 777, "is_bot": False, "first_name": "Someone"}
        elif kind == "custom_emoji":
            entity["custom_emoji_id"] = "5368324170671202286"
        elif kind == "pre":
            entity["language"] = draw(st.sampled_from(["", "python", "<b>"]))
        found.append(entity)
    return sorted(found, key=lambda e: (e["offset"], -e["length"]))


# --- callback data ----------------------------------------------------------------------------

PREFIXES = [
    cb.CB_PAGE,
    cb.CB_COUNTRY,
    cb.CB_LANGUAGE,
    cb.CK_SET_TIME,
    cb.CK_HOUR,
    cb.CK_ZONES,
    cb.CK_ZONE_COUNTRY,
    cb.CK_ZONE,
    cb.CK_COUNTER_AGO,
    cb.ADMIN_LANGUAGE,
    cb.ADMIN_COUNTRY,
    cb.ADMIN_PREFIX,
    "ck:",
    "set:",
    "priv:",
    "del:",
]
EXACT = [
    value
    for name, value in vars(cb).items()
    if name.isupper() and isinstance(value, str) and value not in (cb.ADMIN_SEND,)
]
SUFFIXES = st.one_of(
    st.sampled_from(["", "0830", "2400", "9999", "-1", "US", "zz", "..", "0830:Europe/Berlin"]),
    st.sampled_from(["0830:Not/AZone", "0830:US", "0830:", "en", "xx", "999999999999", "\u200f"]),
    st.text(alphabet=safe_chars, max_size=40),
)
forged_data = st.one_of(
    st.sampled_from(EXACT),
    st.builds(lambda p, s: p + s, st.sampled_from(PREFIXES), SUFFIXES),
    st.text(alphabet=safe_chars, min_size=1, max_size=64),
    st.text(alphabet=safe_chars, min_size=65, max_size=300),  # oversized: never from Telegram
)


# --- the world --------------------------------------------------------------------------------


@dataclass
class Tally:
    updates: Counter[str] = field(default_factory=Counter)
    examples: int = 0
    db_checks: int = 0


@dataclass
class World:
    api: FakeTelegram
    app: Any
    tally: Tally
    base: int  # user ids of this example start here
    texts: list[str] = field(default_factory=list)  # every text and caption people wrote
    users: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    channel: dict[str, Any] = field(default_factory=dict)

    def chat(self, user: dict[str, Any]) -> dict[str, Any]:
        return self.api.chat_object(int(user["id"]))

    def in_admin_flow(self, user: dict[str, Any]) -> bool:
        """An admin writing a broadcast: one message can get a preview and the next step."""
        return user["id"] == ADMIN and bool(self.app.user_data.get(ADMIN, {}).get(DRAFT))

    def writes(self, user: dict[str, Any]) -> dict[str, Any]:
        """The person's private chat, where they write or press: someone who blocked the bot
        unblocks it by writing (as in Telegram)."""
        self.api.blocked.discard(int(user["id"]))
        return self.chat(user)


LANGUAGES = ["en", "es", "es-MX", "de", None, "pt-br", "zz", "", "ar", "he", "EN"]


@st.composite
def a_user(draw: st.DrawFn, uid: int) -> dict[str, Any]:
    user: dict[str, Any] = {
        "id": uid,
        "is_bot": False,
        "first_name": draw(st.sampled_from(["Sam", "", "\u200f", "👨‍👩‍👧", "x" * 64, "<b>"])),
    }
    language = draw(st.sampled_from(LANGUAGES))
    if language is not None:
        user["language_code"] = language
    if draw(st.booleans()):
        user["username"] = f"user{uid}"
    return user


BASE = 20_000_000  # the people of every example: the same ids, reset before each example
GROUP, SUPERGROUP, CHANNEL = -(BASE + 101), -int(f"100{BASE + 102}"), -int(f"100{BASE + 103}")


async def reset(api: FakeTelegram, app: Any) -> None:
    """Forget everything about the example's people and chats (the database rows, the bot's
    per-user and per-chat data, the fake's chats), so that each example starts from the same
    state and hypothesis can replay and shrink it."""
    storage = app.bot_data["services"].db
    people = [*range(BASE, BASE + 6), ADMIN]
    for uid in people:
        await storage.delete_user(uid)
        app.drop_user_data(uid)
    for chat_id in [*people, GROUP, SUPERGROUP, CHANNEL]:
        app.drop_chat_data(chat_id)
        with api._lock:
            api.chats.pop(chat_id, None)
            api._next_message_id.pop(chat_id, None)
            api.reply_keyboards.pop(chat_id, None)
            api.blocked.discard(chat_id)


def new_world(api: FakeTelegram, app: Any, tally: Tally, data: st.DataObject) -> World:
    world = World(api, app, tally, BASE)
    count = data.draw(st.integers(1, 6), label="people")
    world.users = [data.draw(a_user(BASE + k), label="user") for k in range(count)]
    if data.draw(st.booleans(), label="admin takes part"):
        world.users.append(
            {"id": ADMIN, "is_bot": False, "first_name": "Admin", "language_code": "en"}
        )
    for user in world.users:
        api.register_user(user)
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        api.register_chat(chat)
    world.groups = [
        {"id": GROUP, "type": "group", "title": "A group"},
        {"id": SUPERGROUP, "type": "supergroup", "title": "A supergroup", "is_forum": False},
    ]
    world.channel = {"id": CHANNEL, "type": "channel", "title": "A channel"}
    for chat in [*world.groups, world.channel]:
        api.register_chat(chat)
    return world


# --- events -----------------------------------------------------------------------------------


@dataclass
class Event:
    """One update and what it must cause."""

    update: dict[str, Any]
    kind: str
    chat_id: int | None  # the chat replies are counted in
    expect: str  # "one" (exactly one message), "some" (at least one), "at most one", "none"
    query_id: str | None = None  # a button press: must be answered exactly once


def _message(
    world: World, user: dict[str, Any] | None, chat: dict[str, Any], data: st.DataObject
) -> tuple[Msg, dict[str, Any]]:
    """A stored message in ``chat`` (from ``user``; None: no sender) and its raw form."""
    admin = user is not None and user["id"] == ADMIN
    command = data.draw(st.sampled_from([None] * 3 + ADMIN_TEXTS), label="admin") if admin else None
    kind = (
        "text"
        if command
        else data.draw(
            st.sampled_from(
                ["text"] * 6
                + ["photo", "sticker", "voice", "document", "location", "contact", "dice"]
            ),
            label="message kind",
        )
    )
    text = command or data.draw(texts, label="text")
    sender = user or {"id": 1, "is_bot": False, "first_name": "ghost"}
    if kind == "text":
        if not text.strip("\u200b\u200c\u200d\u2060\ufeff \n"):
            text = text + "."  # Telegram refuses empty and whitespace-only messages
        entities = (
            command_entities(text) if command else data.draw(entities_for(text), label="entities")
        )
        msg = world.api.user_message(sender, chat["id"], text=text, entities=entities)
        world.texts.append(text)
    else:
        content: dict[str, Any]
        file_id, unique = world.api.new_file(kind)
        caption = None
        if kind == "photo":
            content = {
                "photo": [{"file_id": file_id, "file_unique_id": unique, "width": 90, "height": 90}]
            }
            caption = data.draw(
                st.one_of(st.none(), texts.map(lambda t: t[:1024])), label="caption"
            )
        elif kind == "sticker":
            content = {
                "sticker": {
                    "file_id": file_id,
                    "file_unique_id": unique,
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": "👍",
                }
            }
        elif kind == "voice":
            content = {"voice": {"file_id": file_id, "file_unique_id": unique, "duration": 3}}
        elif kind == "document":
            content = {
                "document": {
                    "file_id": file_id,
                    "file_unique_id": unique,
                    "file_name": data.draw(
                        st.sampled_from(["notes.pdf", "\u202eexe.pdf", "x" * 255]),
                        label="file name",
                    ),
                }
            }
            caption = data.draw(
                st.one_of(st.none(), texts.map(lambda t: t[:1024])), label="caption"
            )
        elif kind == "location":
            content = {"location": {"latitude": 52.52, "longitude": 13.405}}
        elif kind == "contact":
            content = {"contact": {"phone_number": "+15550100", "first_name": "A friend"}}
        else:
            content = {"dice": {"emoji": "🎲", "value": 3}}
        if caption is not None and not caption.strip():
            caption = None
        entities = data.draw(entities_for(caption), label="caption entities") if caption else []
        msg = world.api.user_message(
            sender, chat["id"], caption=caption, content=content, kind=kind, entities=entities
        )
        if caption:
            world.texts.append(caption)
    raw = msg.raw
    if user is None:
        raw.pop("from", None)
    return msg, raw


def private_message(world: World, data: st.DataObject, user: dict[str, Any]) -> Event:
    chat = world.writes(user)
    without_sender = data.draw(st.sampled_from([False] * 29 + [True]), label="no sender?")
    _, raw = _message(world, None if without_sender else user, chat, data)
    update = {"update_id": world.api.next_update_id(), "message": raw}
    if without_sender:
        return Event(update, "private message without a sender", chat["id"], "at most one")
    if world.in_admin_flow(user):
        return Event(update, "private message (admin writing a broadcast)", chat["id"], "some")
    return Event(update, "private message", chat["id"], "one")


def edited_message(world: World, data: st.DataObject, user: dict[str, Any]) -> Event:
    chat = world.writes(user)
    mine = [m for m in world.api.messages(chat["id"]) if not m.from_bot and m.kind == "text"]
    if not mine:
        return private_message(world, data, user)
    msg = data.draw(st.sampled_from(mine), label="message to edit")
    text = data.draw(texts, label="edited text")
    if not text.strip():
        text += "."
    msg.text = text
    msg.entities = command_entities(text)
    msg.edit_date = int(time.time())
    world.texts.append(text)
    update = {"update_id": world.api.next_update_id(), "edited_message": msg.raw}
    if world.in_admin_flow(user):
        return Event(update, "edited message (admin writing a broadcast)", chat["id"], "some")
    return Event(update, "edited private message", chat["id"], "one")


def button_press(world: World, data: st.DataObject, user: dict[str, Any]) -> Event:
    chat = world.writes(user)
    bot_messages = world.api.bot_messages(chat["id"])
    with_buttons = [m for m in bot_messages if m.inline_keyboard]
    real = [
        str(b["callback_data"])
        for b in (with_buttons[-1].inline_buttons if with_buttons else [])
        if "callback_data" in b
    ]
    how = data.draw(
        st.sampled_from(["latest"] * 4 + ["stale", "forged", "forged", "inaccessible", "inline"]),
        label="press",
    )
    if how == "latest" and real:
        msg: Msg | None = with_buttons[-1]
        data_value = data.draw(st.sampled_from(real), label="button")
    elif how == "stale" and with_buttons:
        msg = data.draw(st.sampled_from(with_buttons), label="old message")
        buttons = [str(b["callback_data"]) for b in msg.inline_buttons if "callback_data" in b]
        data_value = data.draw(
            st.sampled_from(buttons) if buttons else forged_data, label="old button"
        )
    elif not bot_messages and how != "inline":
        return private_message(world, data, user)  # nothing to press yet: they write first
    else:
        msg = data.draw(st.sampled_from(bot_messages), label="message") if bot_messages else None
        data_value = data.draw(forged_data, label="forged data")
    if user["id"] == ADMIN and (
        data_value == cb.ADMIN_SEND or data_value.startswith(cb.ADMIN_STOP)
    ):
        data_value = cb.ADMIN_CANCEL  # no real broadcast (see the module docstring)
    query = world.api.new_callback_query(user, msg, data_value)
    if msg is None or how == "inline":
        query.pop("message", None)
        query["inline_message_id"] = "AAAAAQ-fake-inline"
        kind, chat_id, expect = "button press without a message", None, "none"
    elif how == "inaccessible":
        query["message"] = {"chat": chat, "message_id": msg.message_id, "date": 0}
        kind, chat_id, expect = "button press on an inaccessible message", chat["id"], "at most one"
    else:
        kind, chat_id, expect = f"button press ({how})", chat["id"], "at most one"
    update = {"update_id": world.api.next_update_id(), "callback_query": query}
    return Event(update, kind, chat_id, expect, query_id=str(query["id"]))


def group_message(world: World, data: st.DataObject, user: dict[str, Any]) -> Event:
    group = data.draw(st.sampled_from(world.groups), label="group")
    who = data.draw(
        st.sampled_from(["user"] * 5 + ["anonymous admin", "linked channel", "other bot", "none"]),
        label="group sender",
    )
    sender = {
        "user": user,
        "anonymous admin": ANON_ADMIN,
        "linked channel": None,
        "other bot": OTHER_BOT,
        "none": None,
    }[who]
    _, raw = _message(world, sender, group, data)
    if who == "anonymous admin":
        raw["sender_chat"] = group
    elif who == "linked channel":
        raw["sender_chat"] = world.channel
        raw["is_automatic_forward"] = True
    edited = data.draw(st.sampled_from([False] * 5 + [True]), label="edited in group?")
    key = "edited_message" if edited else "message"
    update = {"update_id": world.api.next_update_id(), key: raw}
    return Event(update, f"group {key} ({who})", group["id"], "at most one")


def channel_post(world: World, data: st.DataObject, user: dict[str, Any]) -> Event:
    text = data.draw(texts, label="post") or "post"
    world.texts.append(text)
    post = {
        "message_id": world.api.next_update_id(),
        "date": int(time.time()),
        "chat": world.channel,
        "sender_chat": world.channel,
        "text": text,
        "entities": command_entities(text),
    }
    key = data.draw(st.sampled_from(["channel_post", "edited_channel_post"]), label="post kind")
    if key == "edited_channel_post":
        post["edit_date"] = int(time.time())
    update = {"update_id": world.api.next_update_id(), key: post}
    return Event(update, key, world.channel["id"], "none")


def membership(world: World, data: st.DataObject, user: dict[str, Any]) -> Event:
    now = int(time.time())
    statuses = ["member", "kicked", "left", "administrator", "restricted"]
    old, new = data.draw(
        st.lists(st.sampled_from(statuses), min_size=2, max_size=2), label="statuses"
    )

    def member(who: dict[str, Any], status: str) -> dict[str, Any]:
        found: dict[str, Any] = {"user": who, "status": status}
        if status == "kicked":
            found["until_date"] = 0
        if status == "administrator":
            found.update(
                can_be_edited=False,
                is_anonymous=False,
                can_manage_chat=True,
                can_delete_messages=True,
                can_manage_video_chats=True,
                can_restrict_members=True,
                can_promote_members=False,
                can_change_info=True,
                can_invite_users=True,
                can_post_stories=False,
                can_edit_stories=False,
                can_delete_stories=False,
            )
        if status == "restricted":
            found.update(
                is_member=True,
                can_send_messages=False,
                can_send_audios=False,
                can_send_documents=False,
                can_send_photos=False,
                can_send_videos=False,
                can_send_video_notes=False,
                can_send_voice_notes=False,
                can_send_polls=False,
                can_send_other_messages=False,
                can_add_web_page_previews=False,
                can_change_info=False,
                can_invite_users=False,
                can_pin_messages=False,
                can_manage_topics=False,
                can_edit_tag=False,
                can_react_to_messages=False,
                until_date=0,
            )
        return found

    where = data.draw(st.sampled_from(["private", "group", "service"]), label="where")
    if where == "private":
        chat = world.chat(user)
        if new == "kicked":
            world.api.blocked.add(chat["id"])
        else:
            world.api.blocked.discard(chat["id"])
        change = {
            "chat": chat,
            "from": user,
            "date": now,
            "old_chat_member": member(world.api.bot_user, old),
            "new_chat_member": member(world.api.bot_user, new),
        }
        update = {"update_id": world.api.next_update_id(), "my_chat_member": change}
        return Event(update, "private my_chat_member", chat["id"], "none")
    group = data.draw(st.sampled_from(world.groups), label="group")
    if where == "group":
        key = data.draw(st.sampled_from(["my_chat_member", "chat_member"]), label="member update")
        who = world.api.bot_user if key == "my_chat_member" else user
        change = {
            "chat": group,
            "from": user,
            "date": now,
            "old_chat_member": member(who, old),
            "new_chat_member": member(who, new),
        }
        update = {"update_id": world.api.next_update_id(), key: change}
        return Event(update, f"group {key}", group["id"], "none")
    service = data.draw(
        st.sampled_from(
            [
                "new_chat_members",
                "left_chat_member",
                "new_chat_title",
                "pinned_message",
                "group_chat_created",
            ]
        ),
        label="service",
    )
    msg: dict[str, Any] = {
        "message_id": world.api.next_update_id(),
        "date": now,
        "chat": group,
        "from": user,
    }
    msg[service] = {
        "new_chat_members": [user, world.api.bot_user],
        "left_chat_member": user,
        "new_chat_title": "New title \u200f",
        "pinned_message": {"message_id": 1, "date": 0, "chat": group},
        "group_chat_created": True,
    }[service]
    update = {"update_id": world.api.next_update_id(), "message": msg}
    return Event(update, f"group service message ({service})", group["id"], "none")


def other_update(world: World, data: st.DataObject, user: dict[str, Any]) -> Event:
    now = int(time.time())
    chat = world.chat(user)
    kind = data.draw(
        st.sampled_from(["inline_query", "message_reaction", "chat_join_request", "poll_answer"]),
        label="other update",
    )
    if kind == "inline_query":
        payload: dict[str, Any] = {
            "id": "q1",
            "from": user,
            "query": data.draw(texts, label="inline text")[:256],
            "offset": "",
        }
    elif kind == "message_reaction":
        payload = {
            "chat": chat,
            "message_id": 1,
            "user": user,
            "date": now,
            "old_reaction": [],
            "new_reaction": [{"type": "emoji", "emoji": "👍"}],
        }
    elif kind == "chat_join_request":
        payload = {"chat": world.groups[1], "from": user, "user_chat_id": user["id"], "date": now}
    else:
        payload = {"poll_id": "p1", "user": user, "option_ids": [0], "option_persistent_ids": ["0"]}
    update = {"update_id": world.api.next_update_id(), kind: payload}
    return Event(
        update, kind, chat["id"] if kind != "chat_join_request" else world.groups[1]["id"], "none"
    )


MAKERS = {
    "private message": (private_message, 12),
    "edited message": (edited_message, 2),
    "button press": (button_press, 9),
    "group message": (group_message, 3),
    "channel post": (channel_post, 1),
    "membership": (membership, 2),
    "other": (other_update, 1),
}
KINDS = [name for name, (_, weight) in MAKERS.items() for _ in range(weight)]


# --- running and checking ---------------------------------------------------------------------


async def play(world: World, data: st.DataObject) -> None:
    api, app = world.api, world.app
    steps = data.draw(st.integers(1, MAX_STEPS), label="steps")
    for _ in range(steps):
        # One step: updates from up to three different people, handled concurrently.
        people = data.draw(
            st.lists(
                st.sampled_from(world.users), min_size=1, max_size=3, unique_by=lambda u: u["id"]
            ),
            label="who",
        )
        events = []
        used_chats: set[int] = set()
        for user in people:
            maker = MAKERS[data.draw(st.sampled_from(KINDS), label="event")][0]
            event = maker(world, data, user)
            if event.chat_id is not None and event.chat_id < 0 and event.chat_id in used_chats:
                continue  # one update per group per step: replies are counted per chat
            if event.chat_id is not None:
                used_chats.add(event.chat_id)
            events.append(event)
        start = len(api.calls)
        marks = len(api.errors), len(api.handler_errors), len(api.unexpected)
        before = asyncio.all_tasks()
        updates = [Update.de_json(e.update, app.bot) for e in events]
        await asyncio.gather(*(app.process_update(u) for u in updates))
        await settle(before, 10.0)
        calls = api.calls[start:]
        problems = new_problems(api, marks)
        assert not problems, f"{problems}\nin the step: {[(e.kind, e.update) for e in events]}"
        for event in events:
            world.tally.updates[event.kind] += 1
            check(api, event, calls)


def new_problems(api: FakeTelegram, marks: tuple[int, int, int]) -> list[str]:
    """What ``api.problems()`` would report, for this step only."""
    errors, handler_errors, unexpected = marks
    found = [f"unexpected Bot API method {c.method}" for c in api.unexpected[unexpected:]]
    found += [
        f"Telegram would reject {e.method}({str(e.params)[:300]}): {e.status} {e.description}"
        for e in api.errors[errors:]
        if not e.expected
    ]
    found += [
        f"handler raised {type(h.error).__name__}: {h.error}"
        for h in api.handler_errors[handler_errors:]
        if not h.expected
    ]
    return found


def check(api: FakeTelegram, event: Event, calls: list[Any]) -> None:
    sent = [
        c
        for c in calls
        if c.method in DELIVERY_METHODS
        and event.chat_id is not None
        and c.params.get("chat_id") == event.chat_id
    ]
    n = len(sent)
    wanted = {"one": n == 1, "some": 1 <= n <= 4, "at most one": n <= 1, "none": n == 0}[
        event.expect
    ]
    assert wanted, (
        f"{event.kind}: expected {event.expect} message(s), the bot sent {n}: "
        f"{[(c.method, str(c.params.get('text', ''))[:60]) for c in sent]}\n{event.update}"
    )
    if event.query_id is not None:
        record = api.callback_queries[event.query_id]
        assert record.answer is not None, f"{event.kind}: never answered\n{event.update}"


def stored_text(path: Path) -> Iterator[str]:
    """Every text value in every table of the database."""
    uri = f"{path.as_uri()}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
            for column in columns:
                for (value,) in db.execute(
                    f"SELECT {column} FROM {table} WHERE typeof({column}) = 'text'"
                ):
                    yield value


def integrity(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def test_generated_updates_never_break_the_bot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = FakeTelegram(TEST_TOKEN)
    db_path = tmp_path / "bot.sqlite3"
    bot_settings = Settings(
        bot_token=TEST_TOKEN, database_path=db_path, admin_ids=frozenset({ADMIN})
    )
    app = build_application(
        bot_settings, request=FakeRequest(api), get_updates_request=FakeRequest(api)
    )
    tally = Tally()
    runner = asyncio.Runner()
    lifecycle = run_app(app, api)
    runner.run(lifecycle.__aenter__())
    loop = runner.get_loop()
    started = time.monotonic()
    try:
        for job in app.job_queue.jobs():  # no scheduled check-in in the middle of the counting
            job.schedule_removal()

        @seed(SEED)
        @settings(
            max_examples=EXAMPLES,
            derandomize=SEED == 0,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        @given(data=st.data())
        def scenario(data: st.DataObject) -> None:
            loop.run_until_complete(reset(api, app))
            world = new_world(api, app, tally, data)
            tally.examples += 1
            loop.run_until_complete(play(world, data))
            check_database(db_path, world.texts)  # before the next example's reset
            tally.db_checks += 1

        scenario()
    finally:
        runner.run(lifecycle.__aexit__(None, None, None))
        runner.close()
    elapsed = time.monotonic() - started
    total = sum(tally.updates.values())
    with capsys.disabled():
        print(
            f"\nfuzz: {total} generated updates in {tally.examples} examples, {elapsed:.1f} s "
            f"({', '.join(f'{k} {n}' for k, n in tally.updates.most_common())})"
        )
    assert total >= (20_000 if LONG else 2000)
    assert tally.db_checks >= EXAMPLES  # every example that ran to its end was checked
    check_database(db_path, [])


def check_database(path: Path, texts: list[str]) -> None:
    """The database passes ``PRAGMA integrity_check`` and holds none of ``texts``: not in any
    value, and the canary not even in the bytes of the file and its WAL (deleted rows
    included)."""
    assert integrity(path) == "ok"
    values = list(stored_text(path))
    wal = Path(f"{path}-wal")
    raw = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert CANARY.encode() not in raw
    written = {t for t in texts if len(t.strip()) >= 6 and t.casefold() not in LEGIT_INPUTS}
    leaked = [t[:40] for t in written if any(t in v for v in values)]
    assert not leaked, f"message text in the database: {leaked}"


async def test_a_press_on_a_message_the_bot_cannot_see_gets_a_new_message(
    app: Any, api: FakeTelegram
) -> None:
    """Found by the test above: Telegram sends a press on a message the bot can no longer see
    with date 0 and no content; the bot edited it blind, and Telegram rejected the edit when it
    changed nothing (the person saw nothing happen). Now it sends the screen as a new message."""
    user = SimUser(app, api, 5001)
    await user.command("/start")
    shown = user.screen
    query = api.new_callback_query(user.user, shown, cb.CB_MENU)
    query["message"] = {"chat": api.chat_object(5001), "message_id": shown.message_id, "date": 0}
    calls = await user.process({"update_id": api.next_update_id(), "callback_query": query})
    assert [c.method for c in calls if c.method != "answerCallbackQuery"] == ["sendMessage"]
    assert api.callback_queries[str(query["id"])].answer is not None
    assert "Main menu" in (user.screen.text or "")


async def test_a_forged_press_on_a_photo_gets_a_new_message(app: Any, api: FakeTelegram) -> None:
    """Found by the long run: a press on a message without text (the admin's broadcast preview
    of a photo) was answered with an edit of its text, which Telegram refuses."""
    user = SimUser(app, api, 5002)
    await user.command("/start")
    file_id, _ = api.new_file("photo")
    status, body = api.handle("sendPhoto", {"chat_id": 5002, "photo": file_id})  # as the bot
    assert status == 200
    calls = await user.press_data(cb.CB_MENU, message_id=body["result"]["message_id"])
    assert [c.method for c in calls if c.method != "answerCallbackQuery"] == ["sendMessage"]


async def test_a_second_press_on_a_screen_with_quotes_changes_nothing(
    app: Any, api: FakeTelegram
) -> None:
    """Found by the long run: a screen whose text has an apostrophe ("I'll") never compared
    equal to what Telegram shows (python-telegram-bot writes it as &#x27;), so pressing its
    button again sent an edit Telegram refuses as not modified."""
    user = SimUser(app, api, 5003)
    await user.command("/checkin")
    assert "'" in (user.screen.text or "")
    calls = await user.press_data(cb.CK_STATUS, message_id=user.screen.message_id)
    assert [c.method for c in calls] == ["answerCallbackQuery"]


async def test_an_admin_in_the_broadcast_flow_gets_one_message_for_crisis_words_in_a_group(
    app: Any, api: FakeTelegram
) -> None:
    """Found by the long run: the crisis answer lets an admin's broadcast draft go on (so a
    broadcast about crisis lines can be written); in a group that let the "private chat" pointer
    follow Help now: two messages in everyone's chat."""
    admin = SimUser(app, api, ADMIN)
    await admin.command("/broadcast")
    calls = await admin.send_in_group("I want to die")
    sent = [c for c in calls if c.method == "sendMessage"]
    assert len(sent) == 1 and "988" in str(sent[0].params["text"])
    calls = await admin.send("I want to die: here is who to call")  # the draft still goes on
    assert [c.method for c in calls if c.method in DELIVERY_METHODS] == [
        "sendMessage",
        "copyMessage",
        "sendMessage",
    ]
