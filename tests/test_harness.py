"""Self-tests of the offline Telegram harness (the package tests/fake/: HTTP server, webhooks).

They run against a tiny echo/menu Application built here, so they do not depend on the bot;
one smoke test at the end checks that the ``app``/``user`` fixtures wire up the real bot.
"""

from __future__ import annotations

import asyncio
import html
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fake import (
    TEST_TOKEN,
    WEBHOOK_ACTIVE,
    EntityParseError,
    FakeApiServer,
    FakeRequest,
    FakeTelegram,
    SimUser,
    error_response,
    parse_html,
    run_app,
)

START_TEXT = "Welcome! <b>Choose</b> what you need:"
START_KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("🆘 Help now", callback_data="menu:help")],
        [
            InlineKeyboardButton("Settings", callback_data="menu:settings"),
            InlineKeyboardButton("Settings (advanced)", callback_data="menu:settings2"),
        ],
        [InlineKeyboardButton("Website", url="https://example.org")],
    ]
)
BACK_KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("⬅ Back", callback_data="menu:back")]])


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        START_TEXT, parse_mode=ParseMode.HTML, reply_markup=START_KEYBOARD
    )


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    if query.data == "menu:help":
        await query.answer()
        await query.edit_message_text("Help is <i>here</i>.", reply_markup=BACK_KEYBOARD)
    elif query.data == "menu:back":
        await query.answer()
        await query.edit_message_text(START_TEXT, reply_markup=START_KEYBOARD)
    else:
        await query.answer("That button has expired.", show_alert=True)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.text is not None
    await message.reply_text(f"You said: {html.escape(message.text)}")


async def on_edit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.edited_message is not None
    await update.edited_message.reply_text(f"You edited: {update.edited_message.text}")


async def on_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    kind = next(
        k for k in ("photo", "sticker", "voice", "document", "location") if getattr(message, k)
    )
    await message.reply_text(f"Got a {kind}" + (f": {message.caption}" if message.caption else ""))


async def on_group(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    await message.reply_text(f"Hello {update.effective_chat.type}")


async def on_bad_html(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("<b>unclosed & broken")


async def on_slow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await asyncio.sleep(0.05)
    await update.effective_message.reply_text("slow done")


async def on_keyboard(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        "Pick one", reply_markup=ReplyKeyboardMarkup([["Yes", "No"]], resize_keyboard=True)
    )


async def on_unsupported(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    await context.bot.get_chat(update.effective_chat.id)  # not implemented by the fake


def build_echo_app(
    api: FakeTelegram, **builder_kw: Any
) -> Application[Any, Any, Any, Any, Any, Any]:
    builder = ApplicationBuilder().token(TEST_TOKEN).defaults(None)
    if "base_url" in builder_kw:
        builder = builder.base_url(builder_kw["base_url"])
    else:
        builder = builder.request(FakeRequest(api)).get_updates_request(FakeRequest(api))
    from telegram.ext import Defaults

    application = builder.defaults(Defaults(parse_mode=ParseMode.HTML)).build()
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("start", on_start, filters=private))
    application.add_handler(CommandHandler("bad", on_bad_html))
    application.add_handler(CommandHandler("slow", on_slow, block=False))
    application.add_handler(CommandHandler("keyboard", on_keyboard))
    application.add_handler(CommandHandler("unsupported", on_unsupported))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, on_edit))
    application.add_handler(MessageHandler(filters.ChatType.GROUPS & filters.TEXT, on_group))
    application.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, on_text))
    media = filters.PHOTO | filters.Sticker.ALL | filters.VOICE | filters.Document.ALL
    application.add_handler(MessageHandler(media | filters.LOCATION, on_media))
    return application


@pytest.fixture
async def echo_app(api: FakeTelegram) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    async with run_app(build_echo_app(api), api) as application:
        yield application


@pytest.fixture
def sam(echo_app: Application[Any, Any, Any, Any, Any, Any], api: FakeTelegram) -> SimUser:
    return SimUser(echo_app, api, user_id=1001, first_name="Sam")


# ---- conversation --------------------------------------------------------------------------


async def test_send_and_echo(sam: SimUser, api: FakeTelegram) -> None:
    calls = await sam.send("hello <world> & co")
    assert [c.method for c in calls] == ["sendMessage"]
    assert sam.screen.text == "You said: hello <world> & co"
    assert sam.screen.source == "You said: hello &lt;world&gt; &amp; co"
    assert [m.from_bot for m in sam.history] == [False, True]
    assert sam.history[0].message_id < sam.history[1].message_id
    assert sam.last_calls is calls


async def test_command_entities_and_start_menu(sam: SimUser, api: FakeTelegram) -> None:
    await sam.command("/start helpnow")
    assert sam.history[0].entities == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert sam.screen.text == "Welcome! Choose what you need:"
    assert sam.screen.entities == [{"type": "bold", "offset": 9, "length": 6}]
    assert sam.buttons == ["🆘 Help now", "Settings", "Settings (advanced)", "Website"]
    assert sam.screen.button_rows[1] == ["Settings", "Settings (advanced)"]
    assert sam.button_data("help now") == "menu:help"
    # PTB sees the bot's answer as a real Message
    sent = api.calls_to("sendMessage")[0]
    assert sent.params["parse_mode"] == "HTML"
    assert sent.result["from"]["username"] == "recovery_help_test_bot"


async def test_press_edits_in_place(sam: SimUser, api: FakeTelegram) -> None:
    await sam.command("/start")
    menu_id = sam.screen.message_id
    calls = await sam.press("help now")
    assert [c.method for c in calls] == ["answerCallbackQuery", "editMessageText"]
    assert sam.screen.message_id == menu_id
    assert sam.screen.edited and sam.screen.text == "Help is here."
    assert sam.buttons == ["⬅ Back"]
    assert len(sam.history) == 2  # edited, not re-sent
    assert sam.last_answer is not None and not api.unanswered_callbacks
    await sam.press("back")
    assert sam.screen.text.startswith("Welcome!") and sam.screen.edits == 2


async def test_press_exact_match_wins_and_errors_list_labels(
    sam: SimUser, api: FakeTelegram
) -> None:
    await sam.command("/start")
    await sam.press("settings")  # exact match beats "Settings (advanced)"
    assert api.callback_queries[sam.last_answer["callback_query_id"]].data == "menu:settings"
    with pytest.raises(AssertionError, match=r"available:.*Help now"):
        await sam.press("nonexistent")
    with pytest.raises(AssertionError, match="ambiguous"):
        await sam.press("sett")
    with pytest.raises(AssertionError, match="not a callback button"):
        await sam.press("website")


async def test_forged_and_stale_callback_data(sam: SimUser, api: FakeTelegram) -> None:
    await sam.command("/start")
    await sam.press_data("p:nonexistent")
    assert sam.last_answer == {
        "callback_query_id": sam.last_answer["callback_query_id"] if sam.last_answer else "",
        "text": "That button has expired.",
        "show_alert": True,
    }
    assert sam.screen.text.startswith("Welcome!")  # nothing edited
    menu_id = sam.screen.message_id
    await sam.press("help")
    # double tap on the old button: the bot re-edits identical content -> Telegram says 400
    with api.expect_errors("message is not modified") as seen:
        await sam.press_data("menu:help", message_id=menu_id)
    assert len(seen) == 2  # the rejected request and the BadRequest in the handler
    assert "Message is not modified" in str(seen[1].error)  # type: ignore[union-attr]


async def test_media_edits_groups_and_keyboards(sam: SimUser, api: FakeTelegram) -> None:
    await sam.send_photo(caption="my view")
    assert sam.screen.text == "Got a photo: my view"
    for action, kind in [
        (sam.send_sticker, "sticker"),
        (sam.send_voice, "voice"),
        (sam.send_document, "document"),
        (sam.send_location, "location"),
    ]:
        await action()
        assert sam.screen.text == f"Got a {kind}"
    await sam.send("typo")
    await sam.edit_last("fixed")
    assert sam.screen.text == "You edited: fixed"
    assert [m.text for m in sam.history if not m.from_bot][-1] == "fixed"
    await sam.send_in_group("hi all", group_id=-100123)
    assert api.last_bot_message(-100123) is not None
    assert api.last_bot_message(-100123).text == "Hello supergroup"  # type: ignore[union-attr]
    await sam.command("/keyboard")
    assert sam.keyboard == ["Yes", "No"]
    await sam.tap("Yes")
    assert sam.screen.text == "You said: Yes"


async def test_non_blocking_handler_is_awaited(sam: SimUser) -> None:
    calls = await sam.command("/slow")
    assert [c.method for c in calls] == ["sendMessage"]
    assert sam.screen.text == "slow done"


async def test_block_gives_my_chat_member_and_403(
    sam: SimUser, api: FakeTelegram, echo_app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    await sam.block()
    with pytest.raises(Forbidden, match="blocked by the user"):
        await echo_app.bot.send_message(sam.chat_id, "still there?")
    assert api.errors == []  # a block is not a bug in the bot
    await sam.unblock()
    await echo_app.bot.send_message(sam.chat_id, "welcome back")


# ---- validation ----------------------------------------------------------------------------


async def test_invalid_html_is_rejected_and_recorded(sam: SimUser, api: FakeTelegram) -> None:
    with api.expect_errors("can't parse entities") as seen:
        calls = await sam.command("/bad")
    assert calls[0].status == 400
    assert calls[0].description.startswith("Bad Request: can't parse entities: ")
    assert api.errors[0].expected and len(seen) == 2
    assert isinstance(api.handler_errors[0].error, BadRequest)


async def test_undeclared_errors_are_problems(sam: SimUser, api: FakeTelegram) -> None:
    await sam.command("/bad")
    problems = api.problems()
    assert any("Telegram would reject sendMessage" in p for p in problems)
    assert any(p.startswith("handler raised BadRequest") for p in problems)
    api.errors.clear()
    api.handler_errors.clear()


async def test_unexpected_method_is_recorded(sam: SimUser, api: FakeTelegram) -> None:
    with api.expect_errors("InvalidToken"):
        await sam.command("/unsupported")
    assert [c.method for c in api.unexpected] == ["getChat"]
    assert any("unexpected Bot API method getChat" in p for p in api.problems())
    api.unexpected.clear()


@pytest.mark.parametrize(
    ("kwargs", "description"),
    [
        ({"text": "x" * 4097}, "message is too long"),
        ({"text": "   "}, "message text is empty"),
        ({"text": "<i>a</b>"}, 'expected "</i>", found "</b>"'),
        ({"text": "a < b"}, "Empty tag name"),
        ({"text": "<div>x</div>"}, 'Unsupported start tag "div"'),
        (
            {
                "text": "x",
                "reply_markup": InlineKeyboardMarkup(
                    [[InlineKeyboardButton("b", callback_data="x" * 65)]]
                ),
            },
            "BUTTON_DATA_INVALID",
        ),
        ({"text": "x", "reply_to_message_id": 999}, "message to be replied not found"),
    ],
)
async def test_send_validation(
    echo_app: Application[Any, Any, Any, Any, Any, Any],
    api: FakeTelegram,
    kwargs: dict[str, Any],
    description: str,
) -> None:
    with api.expect_errors(description) as seen, pytest.raises(BadRequest):
        await echo_app.bot.send_message(1001, **kwargs)
    assert len(seen) == 1
    assert api.chats.get(1001, {}) == {}


async def test_text_limit_counts_after_entity_parsing(
    echo_app: Application[Any, Any, Any, Any, Any, Any], api: FakeTelegram
) -> None:
    await echo_app.bot.send_message(1001, "<b>" + "x" * 4096 + "</b>")
    with api.expect_errors("caption is too long"), pytest.raises(BadRequest):
        await echo_app.bot.send_photo(1001, "AgACAgQAAx0", caption="y" * 1025)


async def test_edit_rules(
    echo_app: Application[Any, Any, Any, Any, Any, Any], api: FakeTelegram
) -> None:
    bot = echo_app.bot
    with api.expect_errors("message to edit not found"), pytest.raises(BadRequest):
        await bot.edit_message_text("x", chat_id=1001, message_id=77)
    msg = await bot.send_message(1001, "one", reply_markup=BACK_KEYBOARD)
    await bot.edit_message_text("one", chat_id=1001, message_id=msg.message_id)  # drops keyboard
    assert api.message(1001, msg.message_id).buttons == []  # type: ignore[union-attr]
    with api.expect_errors("message is not modified"), pytest.raises(BadRequest):
        await bot.edit_message_text("one", chat_id=1001, message_id=msg.message_id)
    await bot.edit_message_reply_markup(1001, msg.message_id, reply_markup=BACK_KEYBOARD)
    assert await bot.delete_message(1001, msg.message_id)
    with api.expect_errors("message to delete not found"), pytest.raises(BadRequest):
        await bot.delete_message(1001, msg.message_id)


async def test_copy_photo_document_and_commands(
    echo_app: Application[Any, Any, Any, Any, Any, Any], api: FakeTelegram
) -> None:
    bot = echo_app.bot
    note = await bot.send_message(42, "<b>note</b> for all")
    copied = await bot.copy_message(1001, from_chat_id=42, message_id=note.message_id)
    shown = api.message(1001, copied.message_id)
    assert shown is not None and shown.text == "note for all" and shown.entities
    doc = await bot.send_document(1001, InputFile(b"hello", filename="a.txt"), caption="<i>c</i>")
    assert doc.document is not None and doc.document.file_name == "a.txt"
    assert doc.caption == "c"
    assert api.delivered == {42: 1, 1001: 2}
    await bot.send_chat_action(1001, "typing")
    await bot.set_my_commands([("start", "Start"), ("help", "Help")], language_code="de")
    assert [c.command for c in await bot.get_my_commands(language_code="de")] == ["start", "help"]
    assert await bot.get_my_commands() == ()
    await bot.set_my_description("d")
    await bot.set_my_short_description("s")
    await bot.set_chat_menu_button()
    assert await bot.delete_webhook()


def test_parse_html() -> None:
    text, entities = parse_html(
        '<b>bold <i>both</i></b> <a href="https://x.org/?a=1&amp;b=2">link</a> '
        '<pre><code class="language-python">x = 1</code></pre> &#128512; '
        '<span class="tg-spoiler">s</span> <blockquote expandable>q</blockquote>'
    )
    assert text == "bold both link x = 1 😀 s q"
    types = {e["type"]: e for e in entities}
    assert types["bold"] == {"type": "bold", "offset": 0, "length": 9}
    assert types["text_link"]["url"] == "https://x.org/?a=1&b=2"
    assert types["pre"]["language"] == "python" and "code" not in types
    assert types["spoiler"]["offset"] == 24  # the emoji counts as 2 UTF-16 units
    assert "expandable_blockquote" in types
    for bad in ["a & b", "1 > 0", "<b>x", "</b>", "&nbsp;", '<span class="x">y</span>', "<br/>"]:
        with pytest.raises(EntityParseError):
            parse_html(bad)
    assert parse_html("a & b > c", strict=False)[0] == "a & b > c"


# ---- faults --------------------------------------------------------------------------------


async def test_fault_429_raises_retry_after(
    echo_app: Application[Any, Any, Any, Any, Any, Any], api: FakeTelegram
) -> None:
    api.fault = lambda method, params: error_response(
        429, "Too Many Requests: retry after 3", retry_after=3
    )
    with pytest.raises(RetryAfter):
        await echo_app.bot.send_message(1001, "x")
    api.fault = lambda method, params: error_response(500, "Internal Server Error")
    with pytest.raises(NetworkError):
        await echo_app.bot.send_message(1001, "x")
    api.fault = None
    await echo_app.bot.send_message(1001, "x")
    assert api.delivered[1001] == 1 and api.errors == []


def test_fault_plan_is_consistent_per_chat(api: FakeTelegram) -> None:
    plan = api.fault_plan(rate_429=0.2, rate_500=0.1, rate_403=0.3, seed=7)
    outcomes: dict[int, list[int]] = {}
    for chat in range(1, 201):
        for _ in range(4):
            status, _body = api.handle("sendMessage", {"chat_id": chat, "text": "hi"})
            outcomes.setdefault(chat, []).append(status)
    blocked = {c for c, s in outcomes.items() if 403 in s}
    assert blocked == plan.blocked_chats
    assert all(set(outcomes[c]) == {403} for c in blocked)
    assert 30 < len(blocked) < 90
    for chat, statuses in outcomes.items():
        assert api.delivered[chat] == statuses.count(200)
    assert plan.injected["429"] > 0 and plan.injected["500"] > 0
    assert api.errors == []
    assert api.latency is not None and 0 <= api.latency("sendMessage", {}) <= 0.05


def test_callback_answers_are_checked(api: FakeTelegram) -> None:
    with api.expect_errors("query ID is invalid") as seen:
        status, body = api.handle("answerCallbackQuery", {"callback_query_id": "nope"})
    assert status == 400 and body["error_code"] == 400 and len(seen) == 1
    status, _ = api.handle("getChat", {"chat_id": 1})
    assert status == 404 and api.unexpected[0].method == "getChat"
    api.unexpected.clear()


def test_get_updates_offset_and_allowed_updates(api: FakeTelegram) -> None:
    first = api.queue_message(1001, "one")["update_id"]
    api.queue_update({"message_reaction": {}})  # opt-in type: dropped by default
    api.queue_message(1001, "two")
    status, body = api.handle("getUpdates", {"offset": "0", "timeout": "0"})
    assert status == 200 and [u["message"]["text"] for u in body["result"]] == ["one", "two"]
    _, body = api.handle("getUpdates", {"offset": first + 1})
    assert [u["message"]["text"] for u in body["result"]] == ["two"]
    _, body = api.handle("getUpdates", {"offset": body["result"][-1]["update_id"] + 1})
    assert body["result"] == []


async def test_long_poll_waits_for_an_update(api: FakeTelegram) -> None:
    poll = asyncio.create_task(api.handle_async("getUpdates", {"timeout": 5}))
    await asyncio.sleep(0.05)
    assert not poll.done()
    api.queue_message(1001, "wake up")
    status, body = await asyncio.wait_for(poll, 1)
    assert status == 200 and body["result"][0]["message"]["text"] == "wake up"
    second = asyncio.create_task(api.handle_async("getUpdates", {"timeout": 5, "offset": 99999}))
    await asyncio.sleep(0.01)
    status, _ = api.handle("getUpdates", {"offset": 99999})  # another poller
    assert (await asyncio.wait_for(second, 1))[0] == 409 and api.conflicts == 1


# ---- HTTP server ---------------------------------------------------------------------------


async def test_http_server_serves_a_real_bot(api_server: FakeApiServer, api: FakeTelegram) -> None:
    async with Bot(TEST_TOKEN, base_url=api_server.base_url) as bot:
        assert bot.username == "recovery_help_test_bot" and bot.id == 1234567
        msg = await bot.send_message(
            1001, "<b>hi</b> there", parse_mode="HTML", reply_markup=BACK_KEYBOARD
        )
        assert msg.text == "hi there" and msg.entities[0].type == "bold"
        assert msg.reply_markup == BACK_KEYBOARD
        doc = await bot.send_document(1001, InputFile(b"x" * 1000, filename="r.bin"))
        assert doc.document is not None and doc.document.file_size == 1000
        with api.expect_errors("can't parse entities"), pytest.raises(BadRequest):
            await bot.send_message(1001, "1 < 2", parse_mode="HTML")
    assert [m.text for m in api.bot_messages(1001)] == ["hi there", None]
    assert api.calls_to("sendMessage")[0].params["reply_markup"]["inline_keyboard"]
    async with httpx.AsyncClient() as client:
        resp = await client.get(api_server.base_url + TEST_TOKEN + "/getMe")
        assert resp.json()["result"]["is_bot"] is True
        resp = await client.post(api_server.base_url + "999:wrong/getMe")
        assert resp.status_code == 401
        stats = (await client.get(api_server.base_url.removesuffix("bot") + "_fake/stats")).json()
        assert stats["result"]["delivered_messages"] == 2
    api.errors.clear()  # the 401 above


async def test_long_polling_over_http(api_server: FakeApiServer, api: FakeTelegram) -> None:
    application = build_echo_app(api, base_url=api_server.base_url)
    async with run_app(application, api):
        assert application.updater is not None
        await application.updater.start_polling(timeout=5, poll_interval=0)
        await asyncio.sleep(0.1)
        api.queue_message(1001, "via polling")
        for _ in range(200):
            if api.last_bot_message(1001) is not None:
                break
            await asyncio.sleep(0.01)
        last = api.last_bot_message(1001)
        assert last is not None and last.text == "You said: via polling"
    assert api.call_counts["deleteWebhook"] == 1 and api.call_counts["getUpdates"] >= 2


def test_standalone_server_prints_base_url() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake.server", "--port", "0"],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/bot")
        with httpx.Client(trust_env=False) as client:
            resp = client.post(
                base_url + TEST_TOKEN + "/sendMessage", data={"chat_id": "5", "text": "x"}
            )
            assert resp.json()["result"]["chat"]["id"] == 5
    finally:
        proc.terminate()
        proc.wait(10)


# ---- webhooks ------------------------------------------------------------------------------


class WebhookReceiver(ThreadingHTTPServer):
    """A tiny webhook endpoint on 127.0.0.1: records what it gets, answers ``answer(update, n)``
    (``n`` = how many times this update arrived) after ``delay`` seconds.  ``peak`` is the most
    requests it had at once; ``overlaps`` counts requests for a chat that already had one."""

    daemon_threads = True
    block_on_close = False  # the fake keeps connections alive; do not wait for them

    def __init__(
        self, answer: Callable[[dict[str, Any], int], int] | None = None, delay: float = 0.0
    ) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.answer = answer or (lambda update, n: 200)
        self.delay = delay
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.active = 0
        self.peak = 0
        self.busy_chats: set[int] = set()
        self.overlaps = 0
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    @property
    def update_ids(self) -> list[int]:
        with self.lock:
            return [body["update_id"] for _, body in self.received]

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _ReceiverHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: WebhookReceiver

    def do_POST(self) -> None:
        receiver = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        chat = body["message"]["chat"]["id"]
        with receiver.lock:
            receiver.received.append((dict(self.headers), body))
            seen = sum(1 for _, b in receiver.received if b["update_id"] == body["update_id"])
            receiver.active += 1
            receiver.peak = max(receiver.peak, receiver.active)
            receiver.overlaps += chat in receiver.busy_chats
            receiver.busy_chats.add(chat)
        time.sleep(receiver.delay)
        status = receiver.answer(body, seen)
        with receiver.lock:
            receiver.active -= 1
            receiver.busy_chats.discard(chat)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


async def eventually(check: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until ``check()`` holds (the fake server delivers in its own thread)."""
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def test_set_webhook_info_and_delete(api: FakeTelegram) -> None:
    api.queue_message(1001, "old")
    status, body = api.handle(
        "setWebhook",
        {
            "url": "https://bot.example.org/hook",
            "secret_token": "s3cret_TOKEN-1",
            "max_connections": "500",
            "allowed_updates": '["message", "callback_query"]',
        },
    )
    assert (status, body["result"], body["description"]) == (200, True, "Webhook was set")
    assert api.webhook_info() == {
        "url": "https://bot.example.org/hook",
        "has_custom_certificate": False,
        "pending_update_count": 1,
        "max_connections": 100,  # clamped like Telegram
        "allowed_updates": ["message", "callback_query"],
    }
    _, body = api.handle(
        "setWebhook",
        {
            "url": "https://bot.example.org/hook",
            "secret_token": "s3cret_TOKEN-1",
            "max_connections": 100,
        },
    )
    assert body["description"] == "Webhook is already set"
    with api.expect_errors("webhook is active") as seen:
        status, body = api.handle("getUpdates", {})
    assert (status, body["description"]) == (409, WEBHOOK_ACTIVE) and len(seen) == 1
    api.handle("setWebhook", {"url": "https://bot.example.org/hook", "drop_pending_updates": True})
    assert api.webhook_info()["pending_update_count"] == 0
    assert api.webhook_info()["max_connections"] == 40  # the default
    _, body = api.handle("deleteWebhook", {})
    assert body["description"] == "Webhook was deleted" and api.webhook is None
    assert api.handle("deleteWebhook", {})[1]["description"] == "Webhook is already deleted"
    api.queue_message(1001, "new")
    status, body = api.handle("getUpdates", {})
    assert status == 200 and [u["message"]["text"] for u in body["result"]] == ["new"]


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"secret_token": "has space"}, "secret token contains unallowed characters"),
        ({"secret_token": "ü"}, "secret token contains unallowed characters"),
        ({"secret_token": "x" * 257}, "secret token is too long"),
        ({"url": "ftp://bot.example.org/hook"}, "invalid webhook URL specified"),
        ({"url": "https:///hook"}, "invalid webhook URL specified"),
    ],
)
def test_set_webhook_validation(
    api: FakeTelegram, params: dict[str, str], description: str
) -> None:
    api.handle("setWebhook", {"url": "https://bot.example.org/old"})
    with api.expect_errors(description) as seen:
        status, body = api.handle("setWebhook", {"url": "https://bot.example.org/hook", **params})
    assert status == 400 and body["description"] == f"Bad Request: {description}"
    assert len(seen) == 1
    assert api.webhook is None  # as on Telegram, the old webhook is gone too
    ok = "A-Za-z0-9_-" * 23 + "abc"  # 256 characters, all allowed
    assert api.handle("setWebhook", {"url": "https://x.org/h", "secret_token": ok})[0] == 200


async def test_set_webhook_ends_a_long_poll(api: FakeTelegram) -> None:
    poll = asyncio.create_task(api.handle_async("getUpdates", {"timeout": 5}))
    await asyncio.sleep(0.05)
    api.handle("setWebhook", {"url": "https://bot.example.org/hook"})
    status, body = await asyncio.wait_for(poll, 1)
    assert (status, body["description"]) == (409, "Conflict: terminated by setWebhook request")
    assert api.conflicts == 0 and api.errors == []


async def test_webhook_delivers_with_secret_and_retries_until_2xx(
    api_server: FakeApiServer, api: FakeTelegram
) -> None:
    def answer(update: dict[str, Any], n: int) -> int:
        return 500 if update["message"]["text"] == "first" and n == 1 else 200

    with WebhookReceiver(answer) as receiver:
        async with Bot(TEST_TOKEN, base_url=api_server.base_url) as bot:
            assert await bot.set_webhook(receiver.url, secret_token="s3cret_TOKEN-1")
            first = api.queue_message(1001, "first")["update_id"]
            second = api.queue_message(1001, "second")["update_id"]
            await eventually(lambda: len(receiver.received) == 3)
            # the second message of the chat waits until the first is acknowledged
            assert receiver.update_ids == [first, first, second]
            headers = receiver.received[0][0]
            assert headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cret_TOKEN-1"
            assert headers["Content-Type"] == "application/json"
            assert receiver.received[2][1]["message"]["text"] == "second"
            await eventually(lambda: len(api.webhook_deliveries) == 3)
            tries = api.deliveries(first)
            assert [(d.attempt, d.status, d.ok) for d in tries] == [(1, 500, False), (2, 200, True)]
            assert tries[1].time - tries[0].time >= 0.09  # re-sent after a short delay
            assert tries[0].secret_token == "s3cret_TOKEN-1"
            info = await bot.get_webhook_info()
            assert info.url == receiver.url and info.pending_update_count == 0
            assert (
                info.last_error_message
                == "Wrong response from the webhook: 500 Internal Server Error"
            )
            assert info.last_error_date is not None and info.max_connections == 40
            assert await bot.delete_webhook()


async def test_webhook_max_connections_and_order_per_chat(
    api_server: FakeApiServer, api: FakeTelegram
) -> None:
    sent = {
        chat: [api.queue_message(chat, f"m{i}")["update_id"] for i in range(3)]
        for chat in (1, 2, 3)
    }
    with WebhookReceiver(delay=0.15) as receiver:
        api.handle("setWebhook", {"url": receiver.url, "max_connections": 2})
        await eventually(lambda: len(receiver.received) == 9)
        assert receiver.peak == 2  # never more than max_connections at once
        assert receiver.overlaps == 0  # one chat's updates one after another
        ids = receiver.update_ids
        assert sorted(ids) == sorted(i for chat in sent.values() for i in chat)  # each once
        for chat_ids in sent.values():
            assert [i for i in ids if i in chat_ids] == chat_ids
        await eventually(lambda: api.webhook_info()["pending_update_count"] == 0)
        assert all(d.status == 200 for d in api.webhook_deliveries)


async def test_webhook_unreachable_keeps_updates(
    api_server: FakeApiServer, api: FakeTelegram
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api.handle("setWebhook", {"url": f"http://127.0.0.1:{port}/hook"})
    update_id = api.queue_message(1001, "anyone there?")["update_id"]
    await eventually(lambda: len(api.deliveries(update_id)) >= 2)
    first = api.deliveries(update_id)[0]
    assert first.status is None and first.error == "Connection refused" and not first.ok
    info = api.webhook_info()
    assert info["pending_update_count"] == 1 and info["last_error_message"] == "Connection refused"
    api.handle("deleteWebhook", {})
    _, body = api.handle("getUpdates", {})
    assert [u["update_id"] for u in body["result"]] == [update_id]  # nothing was lost


# ---- the real bot --------------------------------------------------------------------------


async def test_fixtures_wire_up_the_real_bot(user: SimUser, api: FakeTelegram) -> None:
    assert api.commands, "post_init should have set the command lists"
    await user.command("/start")
    assert user.screen.shown
