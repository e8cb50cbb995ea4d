"""Crisis language gets Help now at once, whatever the person was doing, and loses nothing."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.config import DEFAULT_CONTENT_DIR
from bot.content import ContentError, load_content
from handlers import text as text_flows
from tests.fake import SimUser

CRISIS = "i took too many pills and i feel really weird"


def first_reply(user: SimUser) -> str:
    sends = [c for c in user.last_calls if c.method == "sendMessage"]
    assert sends, "the bot sent nothing"
    return str(sends[0].params["text"])


async def test_crisis_text_gets_help_now_first(user: SimUser) -> None:
    await user.command("/start")
    await user.send(CRISIS)
    reply = first_reply(user)
    assert "call your local emergency number" in reply.lower()
    assert "988" in reply
    assert len([c for c in user.last_calls if c.method == "sendMessage"]) == 1


async def test_crisis_answer_uses_the_persons_country(user: SimUser) -> None:
    await user.command("/settings")
    await user.press("country")
    await user.press("United Kingdom")
    await user.send("he wont wake up and his lips are blue")
    reply = first_reply(user)
    assert "call 999" in reply.lower() and "116 123" in reply


@pytest.mark.parametrize(
    "message",
    ["this craving is killing me", "I'm dying to see my kids", "overdose awareness day?"],
)
async def test_ordinary_recovery_talk_is_not_treated_as_a_crisis(
    user: SimUser, message: str
) -> None:
    await user.send(message)
    assert "emergency number" not in first_reply(user)
    assert "can't reply to messages in my own words" in first_reply(user)


@pytest.fixture
def in_flow(user: SimUser, app: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Put the user in a test flow waiting for typed text; returns what the flow received."""
    seen: list[str] = []

    async def fake_flow(update: Any, context: Any) -> None:
        seen.append(update.effective_message.text)
        await update.effective_message.reply_text("flow got it")

    monkeypatch.setitem(app.bot_data["services"].flows.table, "test_flow", fake_flow)
    app.user_data[user.user_id][text_flows.AWAITING] = "test_flow"
    return seen


async def test_flow_in_progress_is_not_lost(user: SimUser, in_flow: list[str]) -> None:
    """A person typing into a flow (e.g. a check-in time) who writes a crisis message gets Help
    now; their next message still goes to the flow."""
    await user.send("i want to kill myself")
    assert "emergency number" in first_reply(user)
    assert in_flow == []
    await user.send("08:30")
    assert in_flow == ["08:30"]


async def test_edited_message_with_crisis_language_gets_help_now(user: SimUser) -> None:
    await user.send("hello")
    await user.edit_last("actually i want to end my life")
    assert "emergency number" in first_reply(user)


async def test_photo_caption_with_crisis_language_gets_help_now(user: SimUser) -> None:
    await user.send_photo(caption="she is having a seizure what do i do")
    assert "emergency number" in first_reply(user)


async def test_crisis_in_a_group_gets_help_now_there(user: SimUser) -> None:
    await user.send_in_group("@recovery_help_test_bot my friend overdosed and isnt breathing")
    message = user.api.bot_messages(-100123)[-1]
    assert "emergency number" in (message.text or "")
    assert not message.inline_buttons


async def test_message_text_is_never_logged(
    user: SimUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await user.send("i want to die tonight")
    assert "crisis language detected (category suicide)" in caplog.text
    assert "tonight" not in caplog.text


def test_a_language_without_crisis_phrases_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, target)
    shutil.copytree(target / "en", target / "xx")
    (target / "xx" / "crisis.yaml").unlink()
    with pytest.raises(ContentError, match=r"xx/crisis\.yaml"):
        load_content(target)


async def test_a_command_leaves_a_flow_but_help_now_does_not(
    user: SimUser, in_flow: list[str]
) -> None:
    await user.command("/helpnow")
    await user.send("first")
    assert in_flow == ["first"]
    await user.command("/menu")
    await user.send("second")
    assert in_flow == ["first"]
    assert "can't reply to messages in my own words" in first_reply(user)


# --- the emergency screen fits what is happening (issue 13) -----------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("my friend won't wake up after taking heroin", ["naloxone", "recovery position"]),
        ("he is turning blue", ["naloxone", "cold shower"]),
        ("day 3 off the booze and hes having a seizure", ["seizure", "nothing in their mouth"]),
        ("i want to kill myself", ["safety plan", "988"]),
        ("he said he'd kill me if i left", ["safe place", "lock a door"]),
    ],
)
async def test_the_first_screen_tells_what_to_do_for_that_emergency(
    make_user: Any, message: str, expected: list[str]
) -> None:
    person = make_user(5151, language_code="en")
    await person.command("/settings")
    await person.press("country")
    await person.press("United States")
    await person.send(message)
    reply = first_reply(person)
    assert reply.lower().startswith(("🚨 <b>", "<b>if you are in immediate danger"))
    assert "911" in reply.split("\n", 1)[0]  # the emergency number comes first
    for words in expected:
        assert words.lower() in reply.lower(), (words, reply)
    assert "📞 All lines" in person.screen.buttons


async def test_all_lines_are_one_tap_away_from_an_emergency_screen(user: SimUser) -> None:
    await user.send("he is turning blue")
    await user.press("All lines")
    assert "Help now" in (user.screen.text or "")
    assert "988" in (user.screen.text or "")


async def test_an_emergency_screen_in_spanish(make_user: Any) -> None:
    person = make_user(5152, language_code="es-MX")
    await person.send("mi hermano no respira")
    reply = first_reply(person)
    assert "naloxona" in reply.lower() and "911" in reply
