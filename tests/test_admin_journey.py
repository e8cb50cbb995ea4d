"""Admin journeys through the harness: /broadcast from the message to the report (preview,
audience counts, cancel, /cancel, Stop), each delivery error's outcome, Help now during a
broadcast, /stats, /broadcasts, /reload, and non-admins seeing nothing of any of it."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import broadcast
from bot.broadcast import broadcaster
from bot.config import DEFAULT_CONTENT_DIR, Settings
from bot.storage import Storage
from tests.fake import BLOCKED, TEST_TOKEN, FakeTelegram, SimUser, error_response
from tests.test_broadcasts import seed

ADMIN = 42


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A copy of content/ (for /reload) and a broadcast rate that keeps the tests quick."""
    content = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, content)
    return Settings(
        bot_token=TEST_TOKEN,
        database_path=tmp_path / "bot.sqlite3",
        admin_ids=frozenset({ADMIN}),
        content_dir=content,
        broadcast_rate=200.0,
    )


@pytest.fixture(autouse=True)
def quick(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    broadcaster(app).status_seconds = 0.1
    monkeypatch.setattr(broadcast, "RETRY_BACKOFF", 0.01)


def db(app: Any) -> Storage:
    return app.bot_data["services"].db  # type: ignore[no-any-return]


async def seed_many(app: Any, ids: range, **fields: Any) -> None:
    for uid in ids:
        await seed(db(app), uid, **fields)


async def start_broadcast(admin: SimUser, text: str = "<b>New</b> meeting list") -> None:
    await admin.command("/broadcast")
    await admin.send(text.replace("<b>", "").replace("</b>", ""), entities=_bold(text))


def _bold(text: str) -> list[dict[str, Any]]:
    if "<b>" not in text:
        return []
    start = text.index("<b>")
    return [{"type": "bold", "offset": start, "length": text.index("</b>") - start - 3}]


def copies(api: FakeTelegram, chat_id: int | None = None) -> list[Any]:
    return [c for c in api.calls_to("copyMessage", chat_id=chat_id) if c.ok]


def recipients(api: FakeTelegram) -> list[int]:
    return [c.params["chat_id"] for c in copies(api) if c.params["chat_id"] != ADMIN]


# --- the whole flow ----------------------------------------------------------------------------


async def test_admin_broadcasts_a_formatted_message_to_one_country(
    admin: SimUser, api: FakeTelegram, app: Any
) -> None:
    await seed_many(app, range(100, 105), country="GB")
    await seed_many(app, range(200, 203), country="US")
    await seed(db(app), 300, country="GB", blocked=True)
    await admin.command("/broadcast")
    assert "New broadcast" in (admin.screen.text or "")
    await admin.send("New meeting list", entities=[{"type": "bold", "offset": 0, "length": 3}])
    # The preview is a copy of the message, exactly as people will get it.
    preview = admin.history[-2]
    assert preview.from_bot and preview.text == "New meeting list"
    assert preview.entities == [{"type": "bold", "offset": 0, "length": 3}]
    assert "Preview" in (admin.screen.text or "")
    assert "👥 Everyone (9)" in admin.buttons  # 8 seeded + the admin; never the blocked one
    await admin.press("By country")
    assert "🇬🇧 United Kingdom (5)" in admin.buttons and "🇺🇸 United States (3)" in admin.buttons
    await admin.press("United Kingdom")
    assert "5" in (admin.screen.text or "") and "United Kingdom" in (admin.screen.text or "")
    await admin.press("Send")
    await broadcaster(app).idle()

    assert sorted(recipients(api)) == list(range(100, 105))
    for uid in range(100, 105):
        [copy] = [m for m in api.messages(uid) if m.from_bot]
        assert copy.text == "New meeting list" and copy.entities == preview.entities
    bc = (await db(app).recent_broadcasts())[0]
    status = api.message(ADMIN, bc.status_message_id or 0)
    assert status is not None and "finished" in (status.text or "") and not status.buttons
    assert "Sent: 5" in (status.text or "")
    report = admin.screen.text or ""
    assert "Broadcast #1 finished" in report and "Sent: 5 of 5" in report
    await admin.command("/broadcasts")
    assert "#1" in (admin.screen.text or "") and "sent 5" in (admin.screen.text or "")


async def test_photo_and_document_keep_their_media_and_caption(
    admin: SimUser, api: FakeTelegram, app: Any
) -> None:
    await seed_many(app, range(100, 103))
    await admin.command("/broadcast")
    await admin.send_photo(caption="New leaflet")
    assert admin.history[-2].content.get("photo") and admin.history[-2].caption == "New leaflet"
    await admin.press("Everyone")
    await admin.press("Send")
    await broadcaster(app).idle()
    for uid in range(100, 103):
        [copy] = [m for m in api.messages(uid) if m.from_bot]
        assert copy.kind == "photo" and copy.caption == "New leaflet"

    await admin.command("/broadcast")
    await admin.send_document(file_name="guide.pdf", caption="The guide")
    await admin.press("Everyone")
    await admin.press("Send")
    await broadcaster(app).idle()
    copy = [m for m in api.messages(100) if m.from_bot][-1]
    assert copy.content["document"]["file_name"] == "guide.pdf" and copy.caption == "The guide"


async def test_other_messages_are_not_taken_as_the_broadcast(
    admin: SimUser, api: FakeTelegram
) -> None:
    await admin.command("/broadcast")
    await admin.send_sticker()
    assert "send text, a photo or a document" in (admin.screen.text or "").lower()
    await admin.send_voice()
    assert "send text, a photo or a document" in (admin.screen.text or "").lower()
    assert not copies(api)


async def test_language_picker_counts_and_back(admin: SimUser, app: Any) -> None:
    await seed_many(app, range(100, 103), language="en")
    await start_broadcast(admin)
    await admin.press("By language")
    assert "English (4)" in admin.buttons
    await admin.press("Back")
    assert "👥 Everyone (4)" in admin.buttons
    await admin.press("Check-in subscribers")  # nobody: a toast, the choice stays open
    assert "Nobody" in str((admin.last_answer or {}).get("text"))
    assert "👥 Everyone (4)" in admin.buttons


async def test_checkin_subscribers_audience(admin: SimUser, api: FakeTelegram, app: Any) -> None:
    await seed_many(app, range(100, 103), checkins=True)
    await seed_many(app, range(200, 203))
    await start_broadcast(admin)
    assert "🔔 Check-in subscribers (3)" in admin.buttons
    await admin.press("Check-in subscribers")
    await admin.press("Send")
    await broadcaster(app).idle()
    assert sorted(recipients(api)) == [100, 101, 102]


# --- leaving the flow ------------------------------------------------------------------------


async def test_cancel_at_every_step_sends_nothing(
    admin: SimUser, api: FakeTelegram, app: Any
) -> None:
    await seed_many(app, range(100, 103))
    # /cancel while the bot waits for the message: the next text is ordinary text again.
    await admin.command("/broadcast")
    await admin.command("/cancel")
    assert "cancelled" in (admin.screen.text or "").lower()
    await admin.send("just chatting")
    assert "Preview" not in (admin.screen.text or "")
    # The Cancel button on the audience choice.
    await start_broadcast(admin)
    await admin.press("Cancel")
    assert "cancelled" in (admin.screen.text or "").lower()
    # /cancel on the confirmation; its Send button is dead afterwards.
    await start_broadcast(admin)
    await admin.press("Everyone")
    confirm = admin.screen.message_id
    await admin.command("/cancel")
    await admin.press_data("adm:send", message_id=confirm)
    assert "no longer open" in str((admin.last_answer or {}).get("text"))  # a toast only
    await admin.command("/cancel")
    assert "nothing to cancel" in (admin.screen.text or "").lower()
    await broadcaster(app).idle()
    assert recipients(api) == []
    assert await db(app).recent_broadcasts() == []


async def test_another_command_leaves_the_message_step(admin: SimUser, api: FakeTelegram) -> None:
    """As everywhere in the bot, a command means the admin moved on."""
    await admin.command("/broadcast")
    await admin.command("/stats")
    await admin.send("just chatting")
    await admin.send_photo(caption="a photo")
    assert "Preview" not in (admin.screen.text or "")
    assert not copies(api)


async def test_a_broadcast_about_crisis_lines_can_be_written(admin: SimUser) -> None:
    """The crisis check still runs first (Help now is shown), and the draft goes on."""
    await admin.command("/broadcast")
    await admin.send("If you are thinking about suicide, call or text 988. You matter.")
    texts = [str(c.params.get("text", "")) for c in admin.last_calls if c.method == "sendMessage"]
    assert "emergency number" in texts[0]
    assert "Preview" in (admin.screen.text or "")


async def test_pressing_send_twice_sends_once(admin: SimUser, api: FakeTelegram, app: Any) -> None:
    await seed_many(app, range(100, 103))
    await start_broadcast(admin)
    await admin.press("Everyone")
    confirm = admin.screen.message_id
    await asyncio.gather(
        admin.press_data("adm:send", message_id=confirm),
        admin.press_data("adm:send", message_id=confirm),
    )
    await broadcaster(app).idle()
    assert len(await db(app).recent_broadcasts()) == 1
    assert sorted(recipients(api)) == [100, 101, 102]


async def test_stop_midway_cancels_the_rest(admin: SimUser, api: FakeTelegram, app: Any) -> None:
    await seed_many(app, range(1000, 1400))  # 2 s at 200/s
    admin.settle_timeout = 0.05
    await start_broadcast(admin)
    await admin.press("Everyone")
    await admin.press("Send")
    await asyncio.sleep(0.6)
    live = api.last_bot_message(ADMIN, with_buttons=True)  # the status message
    assert live is not None and live.buttons == ["⏹ Stop"] and "sending" in (live.text or "")
    assert "Sent: " in (live.text or "") and "Rate: " in (live.text or "")
    await admin.press("Stop")
    assert "Stopping" in str((admin.last_answer or {}).get("text"))
    await broadcaster(app).idle()
    bc = (await db(app).recent_broadcasts())[0]
    sent = len(recipients(api))
    # 401 recipients with the admin, who got the first copy.
    assert bc.status == "stopped" and 0 < sent < 400 and bc.sent == sent + 1
    assert bc.cancelled == 400 - sent and bc.remaining == 0
    assert await db(app).recipient_states(bc.broadcast_id) == {
        "sent": sent + 1,
        "cancelled": 400 - sent,
    }
    report = admin.screen.text or ""
    assert "stopped" in report and f"cancelled): {400 - sent}" in report
    await asyncio.sleep(0.3)
    assert len(recipients(api)) == sent  # nothing more went out
    # Stop on a finished broadcast says so.
    status = bc.status_message_id
    await admin.press_data(f"adm:stop:{bc.broadcast_id}", message_id=status)
    assert "already over" in str((admin.last_answer or {}).get("text"))


# --- delivery outcomes -------------------------------------------------------------------------


async def test_each_error_kind_has_its_outcome(admin: SimUser, api: FakeTelegram, app: Any) -> None:
    """403 blocked and marked; 400 failed with the reason; 5xx retried then sent, or failed
    after the retries; 429 pauses bulk sending for retry_after, then the copy goes out."""
    blocked, bad, flaky, down, limited = 101, 102, 103, 104, 105
    await seed_many(app, range(100, 110))
    plan: dict[int, list[tuple[int, str]]] = {
        blocked: [(403, BLOCKED)],
        bad: [(400, "Bad Request: chat not found")],
        flaky: [(500, "Internal Server Error")],
        down: [(502, "Bad Gateway")] * 10,
        limited: [(429, "Too Many Requests: retry after 1")],
    }
    when_429: list[float] = []

    def fault(method: str, params: dict[str, Any]) -> Any:
        chat = params.get("chat_id")
        if method != "copyMessage" or chat not in plan:
            return None
        if chat == blocked:
            return error_response(403, BLOCKED)
        if not plan[chat]:
            return None
        status, description = plan[chat].pop(0)
        if status == 429:
            when_429.append(time.monotonic())
            return error_response(status, description, retry_after=1)
        return error_response(status, description)

    api.fault = fault
    await start_broadcast(admin)
    await admin.press("Everyone")
    await admin.press("Send")
    await broadcaster(app).idle()

    storage = db(app)
    bc = (await storage.recent_broadcasts())[0]
    assert (bc.sent, bc.blocked, bc.failed, bc.remaining) == (8, 1, 2, 0)  # 11 with the admin
    rows = {
        uid: (await storage.rows_about(uid))["broadcast_recipients"][0]
        for uid in (blocked, bad, flaky, down, limited)
    }
    assert rows[blocked]["state"] == "blocked"
    assert (await storage.get_user(blocked)).blocked  # type: ignore[union-attr]
    assert rows[bad]["state"] == "failed" and "chat not found" in rows[bad]["reason"].lower()
    assert rows[flaky]["state"] == "sent" and rows[flaky]["attempts"] == 2
    assert rows[down]["state"] == "failed" and "Bad Gateway" in rows[down]["reason"]
    assert rows[down]["attempts"] == broadcast.RETRIES + 1
    assert rows[limited]["state"] == "sent"
    # Exactly one copy each; none to the blocked, bad and down chats.
    delivered = recipients(api)
    assert sorted(delivered) == sorted({*range(100, 110)} - {blocked, bad, down})
    # The 429 paused bulk sending: no copy went out during the pause.
    assert len(when_429) == 1 and app.bot.rate_limiter.retry_afters == 1
    during = [c for c in api.calls_to("copyMessage") if when_429[0] < c.time < when_429[0] + 0.95]
    assert during == []
    # A blocked person is left out of the next broadcast.
    await start_broadcast(admin)
    assert "👥 Everyone (10)" in admin.buttons


async def test_help_now_is_answered_at_once_during_a_broadcast(
    admin: SimUser, user: SimUser, api: FakeTelegram, app: Any
) -> None:
    await seed_many(app, range(1000, 1300))  # 1.5 s at 200/s
    admin.settle_timeout = user.settle_timeout = 0.05
    await user.command("/start")
    await start_broadcast(admin)
    await admin.press("Everyone")
    await admin.press("Send")
    await asyncio.sleep(0.4)
    asked = time.monotonic()
    await user.command("/helpnow")
    reply = api.calls_to("sendMessage", chat_id=user.chat_id)[-1]
    assert "Help now" in (reply.result or {}).get("text", "")
    assert reply.time - asked < 0.1
    bc = (await db(app).recent_broadcasts())[0]
    assert bc.remaining > 0  # it was answered while the broadcast was still going
    await broadcaster(app).idle()


# --- non-admins --------------------------------------------------------------------------------


async def test_non_admins_see_unknown_commands_and_stale_buttons(
    user: SimUser, admin: SimUser, api: FakeTelegram, app: Any
) -> None:
    await seed_many(app, range(100, 103))
    await start_broadcast(admin)
    await admin.press("Everyone")
    await admin.press("Send")
    await broadcaster(app).idle()
    await user.command("/start")

    await user.command("/no_such_command")
    unknown = (user.screen.text, user.buttons)
    for command in ("/broadcast", "/stats", "/broadcasts", "/reload", "/cancel"):
        await user.command(command)
        assert (user.screen.text, user.buttons) == unknown, command
    await user.send("a message")  # not taken as a broadcast
    await user.send_photo(caption="a photo")
    await user.press_data("zz:forged")
    stale = (user.last_answer or {}).get("text"), user.screen.text, user.buttons
    with api.expect_errors("message is not modified"):  # the same stale answer, edited again
        for data in ("adm:all", "adm:send", "adm:cancel", "adm:stop:1", "adm:l:en", "adm:langs"):
            await user.press_data(data)
            answer = ((user.last_answer or {}).get("text"), user.screen.text, user.buttons)
            assert answer == stale, data
    assert len(await db(app).recent_broadcasts()) == 1  # nothing started, nothing stopped
    assert (await db(app).recent_broadcasts())[0].status == "finished"


# --- /stats, /reload ---------------------------------------------------------------------------


async def test_stats_show_aggregates_only(admin: SimUser, app: Any) -> None:
    from datetime import UTC, datetime, timedelta

    old = (datetime.now(UTC).date() - timedelta(days=20)).isoformat()
    older = (datetime.now(UTC).date() - timedelta(days=60)).isoformat()
    await seed_many(app, range(100, 103), country="GB", checkins=True)
    await seed_many(app, range(200, 202), language="de", last_active_on=old)
    await seed(db(app), 300, last_active_on=older, blocked=True)
    await admin.command("/stats")
    text = admin.screen.text or ""
    assert "People: 7" in text  # 6 seeded + the admin
    assert "last 7 days: 4" in text and "last 30 days: 6" in text
    assert "Check-in subscribers: 3" in text and "Blocked the bot: 1" in text
    assert "English (en): 5" in text and "de: 2" in text
    assert "🇬🇧 United Kingdom: 3" in text and "not set: 4" in text
    for uid in ("100", "200", "300"):
        assert uid not in text


async def test_reload_takes_valid_content_and_refuses_invalid(
    admin: SimUser, user: SimUser, app: Any, settings: Settings
) -> None:
    guide = settings.content_dir / "en" / "guide.yaml"
    guide.write_text(guide.read_text().replace("🌊 Coping right now", "🌊 Coping, right now"))
    await admin.command("/reload")
    assert "reloaded" in (admin.screen.text or "")
    await user.command("/menu")
    assert "🌊 Coping, right now" in user.buttons

    ui_path = settings.content_dir / "en" / "ui.yaml"
    ui = yaml.safe_load(ui_path.read_text())
    ui["menu"] = "<b>Main menu"  # unclosed tag: Telegram would reject it
    ui_path.write_text(yaml.safe_dump(ui, allow_unicode=True))
    guide.write_text(guide.read_text().replace("🌊 Coping, right now", "🌊 Changed again"))
    await admin.command("/reload")
    refused = admin.screen.text or ""
    assert "not reloaded" in refused and "ui.yaml" in refused and "unclosed" in refused
    await user.command("/menu")
    assert "🌊 Coping, right now" in user.buttons  # the old content is still live


async def test_reload_also_reloads_crisis_phrases(
    admin: SimUser, app: Any, settings: Settings
) -> None:
    svc = app.bot_data["services"]
    before = svc.content.lang("en").crisis
    crisis_path = settings.content_dir / "en" / "crisis.yaml"
    crisis_path.write_text(crisis_path.read_text() + "\n# edited\n")  # a changed file
    await admin.command("/reload")
    assert "reloaded" in (admin.screen.text or "")
    loaded = svc.content.lang("en").crisis
    assert loaded is not None and loaded is not before
    (settings.content_dir / "en" / "crisis.yaml").write_text("categories: [unclosed")
    await admin.command("/reload")
    refused = admin.screen.text or ""
    assert "not reloaded" in refused and "crisis.yaml" in refused
    assert svc.content.lang("en").crisis is loaded  # the live detectors are kept


def test_admin_words_cover_every_key_the_bot_uses(app: Any) -> None:
    lang = app.bot_data["services"].content.lang("en")
    missing = {key for key in _keys_used() if not lang.texts.has(key)}
    assert not missing, missing


def _keys_used() -> set[str]:
    """Every text key the code looks up by its full name, in every module."""
    import re

    root = Path(__file__).resolve().parent.parent
    source = "".join(p.read_text() for d in ("bot", "handlers") for p in (root / d).glob("*.py"))
    keys = set(re.findall(r'\.t\(\s*"((?:ui|checkins|admin)\.[\w.]*[A-Za-z0-9])"', source))
    keys |= {f"admin.buttons.{k}" for k in re.findall(r'_label\(\s*lang,\s*"(\w+)"', source)}
    keys |= {f"admin.state_{s}" for s in ("queued", "running", "stopping", "finished", "stopped")}
    keys |= {f"admin.status_{s}" for s in ("running", "finished", "stopped")}
    return keys


async def test_a_second_send_keeps_the_stop_button(
    admin: SimUser, api: FakeTelegram, app: Any
) -> None:
    """A double tap on Send: the second press finds no draft and only answers with a toast;
    the message, now the status, keeps its Stop button."""
    await seed_many(app, range(1000, 1400))  # 2 s at 200/s
    admin.settle_timeout = 0.05
    await start_broadcast(admin)
    await admin.press("Everyone")
    confirm = admin.screen.message_id
    await admin.press_data("adm:send", message_id=confirm)
    await admin.press_data("adm:send", message_id=confirm)
    assert "no longer open" in str((admin.last_answer or {}).get("text"))
    status = api.message(ADMIN, confirm)
    assert status is not None and status.buttons == ["⏹ Stop"], status
    edits = [str(c.params.get("text")) for c in api.calls_to("editMessageText", chat_id=ADMIN)]
    assert not any("no longer open" in text for text in edits)
    await admin.press("Stop")
    await broadcaster(app).idle()
    assert len(await db(app).recent_broadcasts()) == 1
