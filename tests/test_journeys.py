"""Journeys through the bot as a person sees them: greeting, the whole guide, Help now,
settings, privacy and /delete, and every kind of unexpected input."""

from __future__ import annotations

from typing import Any

import pytest

from bot import screens
from bot.services import services_of
from tests.fake import FakeTelegram, SimUser
from tests.storage.sqlite_rows import user_id_rows

TOPIC_COUNT_MIN = 10


def svc(app: Any) -> Any:
    return app.bot_data["services"]


# --- Start and menu ----------------------------------------------------------------------------


async def test_start_greets_and_shows_the_menu(user: SimUser, app: Any) -> None:
    await user.command("/start")
    text = user.screen.text or ""
    assert "not a person" in text and "not a medical service" in text
    labels = user.buttons
    assert any("Help now" in b for b in labels)
    assert any("Check-ins" in b for b in labels) and any("Settings" in b for b in labels)
    lang = svc(app).content.lang("en")
    for page_id in lang.menu:
        assert lang.pages[page_id].title in labels
    assert len(lang.menu) >= TOPIC_COUNT_MIN


async def test_menu_command_shows_the_menu_again(user: SimUser) -> None:
    await user.command("/menu")
    assert "Main menu" in (user.screen.text or "")
    assert any("Help now" in b for b in user.buttons)


async def test_commands_are_registered_at_startup(api: FakeTelegram, app: Any) -> None:
    names = {tuple(sorted(c["command"] for c in cmds)) for cmds in api.commands.values()}
    private = ("checkin", "delete", "help", "helpnow", "menu", "plan", "privacy", "settings")
    assert (*private, "start") in {tuple(sorted(n)) for n in names}
    assert ("helpnow",) in names  # group chats get Help now only


async def test_help_explains_the_bot(user: SimUser) -> None:
    await user.command("/help")
    text = user.screen.text or ""
    assert "/helpnow" in text and "/delete" in text
    assert any("Help now" in b for b in user.buttons)


# --- The guide ---------------------------------------------------------------------------------


async def test_every_page_is_reached_by_tapping_and_edits_in_place(user: SimUser, app: Any) -> None:
    """Walk the whole guide with button presses: one message, edited in place."""
    lang = svc(app).content.lang("en")
    await user.command("/menu")
    menu_message = user.screen.message_id
    seen: set[str] = set()

    async def visit(page_id: str) -> None:
        seen.add(page_id)
        await user.press_data(screens.CB_PAGE + page_id)
        screen = user.screen
        assert screen.message_id == menu_message, "navigation must edit in place"
        assert (screen.source or "").strip() == lang.pages[page_id].text
        labels = screen.buttons
        assert any("Help now" in b for b in labels), page_id
        assert any("Main menu" in b for b in labels), page_id
        if lang.pages[page_id].parent != "menu":
            assert any("Back" in b for b in labels), page_id
        for row in screen.inline_keyboard:
            for button in row:
                data = button.get("callback_data", "")
                if data.startswith(screens.CB_PAGE) and data[2:] not in seen:
                    await visit(data[2:])

    for page_id in lang.menu:
        await visit(page_id)
    assert seen == set(lang.pages)
    assert len([m for m in user.history if m.from_bot]) == 1


async def test_back_returns_to_the_parent_page(user: SimUser, app: Any) -> None:
    lang = svc(app).content.lang("en")
    child = next(p for p in lang.pages.values() if p.parent != "menu")
    await user.command("/menu")
    await user.press_data(screens.CB_PAGE + child.id)
    await user.press("Back")
    assert (user.screen.source or "").strip() == lang.pages[child.parent].text
    await user.press("Main menu")
    assert "Main menu" in (user.screen.text or "")


# --- Help now ----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["/helpnow", "/sos", "/start helpnow", "button"])
async def test_help_now_answers_at_once_without_a_country(user: SimUser, how: str) -> None:
    if how == "button":
        await user.command("/start")
        calls = await user.press("Help now")
    else:
        calls = await user.command(how)
    text = user.screen.text or ""
    assert "call your local emergency number now" in text
    for number in ("988", "116 123", "13 11 14", "1737"):
        assert number in text
    assert "findahelpline.com" in text
    assert any("Set my country" in b for b in user.buttons)
    # Nothing asked first: the numbers are in the very first message the bot sends.
    sends = [c for c in calls if c.method in {"sendMessage", "editMessageText"}]
    assert "988" in str(sends[0].params.get("text"))


@pytest.mark.parametrize("code", ["US", "GB", "CA", "AU", "IE", "NZ", "IN", "DE"])
async def test_help_now_for_each_country(user: SimUser, app: Any, code: str) -> None:
    country = svc(app).content.countries[code]
    await user.command("/settings")
    await user.press("country")
    await user.press(country.name)
    text = user.screen.text or ""
    assert f"Country set to {country.flag} {country.name}" in text
    await user.command("/helpnow")
    text = user.screen.text or ""
    assert f"call {country.emergency}" in text
    for service in country.services:
        assert service.name in text
    first_service = text.index(country.services[0].name)
    assert text.index(country.emergency or "") < first_service < text.index("this minute")


async def test_help_now_works_in_a_group_chat(user: SimUser) -> None:
    await user.send_in_group("/helpnow")
    message = user.api.bot_messages(-100123)[-1]
    assert "988" in (message.text or "")


async def test_help_now_still_answers_when_the_database_fails(user: SimUser, app: Any) -> None:
    await services_close(app)
    with user.api.expect_errors("ValueError", "ProgrammingError", "no active connection"):
        await user.command("/helpnow")
    assert "emergency number" in (user.screen.text or "")


async def services_close(app: Any) -> None:
    storage = svc(app).storage
    await storage.close()


# --- Settings and privacy ----------------------------------------------------------------------


async def test_settings_show_country_and_language(user: SimUser) -> None:
    await user.command("/settings")
    assert "not set" in (user.screen.text or "")
    await user.press("country")
    await user.press("Germany")
    await user.press("Main menu")
    await user.command("/settings")
    assert "Germany" in (user.screen.text or "") and "English" in (user.screen.text or "")
    await user.press("Language")
    await user.press("English")
    assert "Language set to" in (user.screen.text or "")


async def test_clearing_the_country_shows_all_countries_again(user: SimUser) -> None:
    await user.command("/settings")
    await user.press("country")
    await user.press("Australia")
    await user.command("/settings")
    await user.press("country")
    await user.press("anywhere else")
    assert "Country cleared" in (user.screen.text or "")
    assert "findahelpline.com" in (user.screen.text or "")


async def test_privacy_explains_and_shows_what_is_stored(user: SimUser) -> None:
    await user.command("/privacy")
    text = user.screen.text or ""
    assert "don't store your name" in text and "/delete" in text
    await user.press("What you store")
    text = user.screen.text or ""
    assert str(user.user_id) in text and "language" in text
    assert "Sam" not in text  # the first name is never stored


async def test_delete_asks_then_removes_every_row(user: SimUser, app: Any, settings: Any) -> None:
    await user.command("/settings")
    await user.press("country")
    await user.press("Canada")
    assert await user_id_rows(settings.database_path, user.user_id) > 0
    await user.command("/delete")
    assert "can't be undone" in (user.screen.text or "")
    await user.press("Yes, delete")
    assert "Everything I stored about you is deleted" in (user.screen.text or "")
    assert await user_id_rows(settings.database_path, user.user_id) == 0


async def test_delete_can_be_cancelled(user: SimUser, app: Any) -> None:
    await user.command("/settings")
    await user.press("country")
    await user.press("Ireland")
    await user.command("/delete")
    await user.press("No, keep it")
    assert "Nothing was deleted" in (user.screen.text or "")
    record = await services_of(app).db.get_user(user.user_id)
    assert record is not None and record.country == "IE"


async def test_no_name_or_message_text_is_stored(user: SimUser, settings: Any) -> None:
    import aiosqlite

    await user.send("my secret words about tonight")
    async with aiosqlite.connect(settings.database_path) as db:
        tables = [
            r[0]
            for r in await db.execute_fetchall("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        dump = ""
        for table in tables:
            dump += str(await db.execute_fetchall(f"SELECT * FROM {table}"))
    assert "secret" not in dump and "Sam" not in dump


async def test_blocking_the_bot_is_recorded_and_undone_on_return(user: SimUser, app: Any) -> None:
    await user.command("/start")
    await user.block()
    assert (await services_of(app).db.get_user(user.user_id)).blocked
    user.api.blocked.discard(user.chat_id)
    await user.command("/start")
    assert not (await services_of(app).db.get_user(user.user_id)).blocked


# --- Anything else gets a friendly answer and the menu -----------------------------------------


async def assert_friendly(user: SimUser, phrase: str) -> None:
    text = user.screen.text or ""
    assert phrase in text
    assert any("Help now" in b for b in user.buttons)
    assert any("Settings" in b for b in user.buttons)


async def test_free_text_gets_the_menu(user: SimUser) -> None:
    await user.send("hello?")
    await assert_friendly(user, "can't reply to messages in my own words")


async def test_huge_text_gets_the_menu(user: SimUser) -> None:
    await user.send("a" * 4096)
    await assert_friendly(user, "can't reply to messages in my own words")


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice", "document", "location"])
async def test_media_gets_the_menu(user: SimUser, kind: str) -> None:
    await getattr(user, f"send_{kind}")()
    await assert_friendly(user, "can't open stickers, photos, voice or files")


async def test_unknown_command_gets_the_menu(user: SimUser) -> None:
    await user.command("/frobnicate")
    await assert_friendly(user, "don't know that command")


async def test_edited_message_gets_an_explanation(user: SimUser) -> None:
    await user.send("hello")
    await user.edit_last("hello again")
    await assert_friendly(user, "only read new messages")


@pytest.mark.parametrize("data", ["p:no_such_page", "zzz", "set:c:XX", "set:l:xx", "p:"])
async def test_stale_or_forged_buttons_get_the_menu(user: SimUser, data: str) -> None:
    await user.command("/menu")
    await user.press_data(data)
    text = user.screen.text or ""
    assert "no longer available" in text or "Where are you" in text or "Choose a language" in text
    assert user.last_answer is not None


async def test_group_chat_points_to_the_private_chat(user: SimUser) -> None:
    await user.send_in_group("hello bot")
    message = user.api.bot_messages(-100123)[-1]
    assert "private chat" in (message.text or "")
    assert message.inline_buttons[0].get("url", "").startswith("https://t.me/")


async def test_an_unexpected_error_still_gives_a_way_to_help(
    user: SimUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    await user.command("/menu")
    monkeypatch.setattr(screens, "page", broken)
    with user.api.expect_errors("RuntimeError"):
        await user.press_data(screens.CB_PAGE + "coping")
    assert "something went wrong on my side" in (user.screen.text or "")
    assert any("Help now" in b for b in user.buttons)
    assert user.last_answer is not None  # the button's spinner was stopped


async def test_what_is_stored_stays_one_message_however_many_rows(
    user: SimUser, app: Any
) -> None:
    """Someone who received many broadcasts still sees their data (latest rows, the rest
    counted), in one valid message."""
    rows = {
        "users": [{"user_id": user.user_id, "language": "en"}],
        "broadcast_recipients": [
            {"broadcast_id": i, "user_id": user.user_id, "state": "sent", "updated_at": i}
            for i in range(200)
        ],
    }
    lang = svc(app).content.lang("en")
    screen = screens.stored_data(lang, rows)
    from bot.telegram_html import html_problems, visible_length

    assert visible_length(screen.text) < 4096 and html_problems(screen.text) == []
    assert "197 earlier rows" in screen.text


# --- one read of the person per update; storage failures logged once ------------------------


class _CountingStorage:
    """Wraps the real storage and counts every call the bot makes to it."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, []

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if not callable(found):
            return found

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return await found(*args, **kwargs)

        return counted


@pytest.mark.parametrize("action", ["/start", "help now", "free text", "/helpnow"])
async def test_an_ordinary_update_reads_storage_once(user: SimUser, app: Any, action: str) -> None:
    """The person's record is read once per update (with the visit) and reused by the crisis
    gate and the handler."""
    await user.command("/start")  # a returning user
    counting = _CountingStorage(svc(app).storage)
    svc(app).storage = counting
    try:
        if action == "help now":
            await user.press("Help now")
        elif action == "free text":
            await user.send("hello, how does this work")
        else:
            await user.command(action)
    finally:
        svc(app).storage = counting.inner
    assert counting.calls == ["seen"], counting.calls


async def test_storage_down_is_logged_once_not_per_update(
    user: SimUser, app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await services_close(app)
    with user.api.expect_errors("ValueError", "ProgrammingError", "no active connection"):
        for _ in range(5):
            await user.command("/helpnow")
    assert "emergency number" in (user.screen.text or "")
    lines = [r for r in caplog.records if "storage unavailable" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in caplog.records]


async def test_pressing_a_button_again_on_the_same_screen_sends_no_edit(user: SimUser) -> None:
    """A second press of a button whose screen is already shown changes nothing (Telegram
    would reject the edit as 'message is not modified')."""
    await user.command("/menu")
    shown = user.screen.message_id
    await user.press_data("help", message_id=shown)
    edits = len(user.api.calls_to("editMessageText"))
    await user.press_data("help", message_id=shown)  # the same (now stale) button again
    assert len(user.api.calls_to("editMessageText")) == edits
    assert "emergency number" in (user.screen.text or "")


async def test_help_now_has_a_back_button_to_the_page_it_was_opened_from(user: SimUser) -> None:
    await user.command("/menu")
    page_title = next(b for b in user.screen.buttons if "Help now" not in b and "Check" not in b)
    await user.press(page_title)
    page_text = user.screen.text
    await user.press("Help now")
    assert "emergency number" in (user.screen.text or "")
    await user.press("Back")
    assert user.screen.text == page_text


async def test_help_now_from_a_forged_origin_has_no_back_button(user: SimUser) -> None:
    await user.command("/menu")
    await user.press_data("help:p:no_such_page", message_id=user.screen.message_id)
    assert "emergency number" in (user.screen.text or "")
    assert not any("Back" in b for b in user.screen.buttons)


async def test_a_stale_or_forged_yes_delete_asks_again_and_deletes_nothing(
    user: SimUser, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await user.command("/start")
    await user.press_data("del:yes", message_id=user.screen.message_id)  # never asked
    assert await svc(app).db.get_user(user.user_id) is not None
    assert "Yes, delete everything" in user.screen.buttons
    await user.command("/delete")
    import handlers.privacy

    later = handlers.privacy.time.time() + handlers.privacy.CONFIRM_SECONDS + 1
    monkeypatch.setattr(handlers.privacy.time, "time", lambda: later)
    await user.press("Yes, delete")  # the confirmation is more than 5 minutes old
    assert await svc(app).db.get_user(user.user_id) is not None
    await user.press("Yes, delete")  # shown again just now
    assert await svc(app).db.get_user(user.user_id) is None
