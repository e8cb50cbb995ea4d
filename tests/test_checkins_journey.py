"""Check-in journeys as a person sees them, through the fake Telegram: turning check-ins on with
presets, the picker or a typed time, finding the time zone, the confirmation, pausing, changing,
stopping, discreet mode, answering a check-in, the day counter, /privacy and /delete.

The clock is fixed at Monday 1 June 2026, 10:00 UTC (11:00 in London, 05:00 in Chicago).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

import bot.checkins
from bot.checkins import bot_sender, run_tick
from bot.services import Services
from tests.fake import FakeTelegram, Msg, SimUser
from tests.storage.sqlite_rows import user_id_rows

NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
DISCREET = "Your daily reminder"
OPEN = "Time for your daily check-in"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(bot.checkins, "utcnow", lambda: NOW)
    yield


@pytest.fixture(autouse=True)
def no_background_ticks(app: Any) -> None:
    """Tests send check-ins with run_tick at a chosen instant, never on the real clock."""
    for job in app.job_queue.get_jobs_by_name(bot.checkins.JOB_NAME):
        job.enabled = False


def svc(app: Any) -> Services:
    return app.bot_data["services"]  # type: ignore[no-any-return]


def text_of(user: SimUser) -> str:
    return user.screen.text or ""


def assert_help_now_one_tap_away(user: SimUser) -> None:
    assert any("Help now" in b for b in user.buttons), user.buttons


async def with_country(user: SimUser, code: str) -> None:
    await user.command("/start")
    await user.press_data(f"set:c:{code}")


async def turn_on_evening(user: SimUser, country: str = "GB") -> None:
    await with_country(user, country)
    await user.command("/checkin")
    await user.press("Turn on daily check-ins")
    await user.press("Evening")


async def send_checkins(app: Any, at: datetime) -> None:
    await run_tick(svc(app), bot_sender(app), at, backoff=0)


def checkin_messages(user: SimUser) -> list[Msg]:
    return [
        m
        for m in user.api.bot_messages(user.chat_id)
        if "How are you doing today?" in (m.text or "")
    ]


# --- Turning check-ins on -----------------------------------------------------------------------


async def test_checkin_explains_and_turns_on_with_a_preset(user: SimUser) -> None:
    await with_country(user, "GB")
    await user.command("/checkin")
    assert "Check-ins are off" in text_of(user)
    assert "neutral" in text_of(user)
    assert_help_now_one_tap_away(user)
    await user.press("Turn on daily check-ins")
    assert "What time suits you?" in text_of(user)
    assert {"🌅 Morning (08:00)", "☀️ Midday (12:30)", "🌙 Evening (20:00)"} <= set(user.buttons)
    assert_help_now_one_tap_away(user)
    await user.press("Evening")
    # Britain has one time zone: no question about it.
    confirmation = text_of(user)
    assert "Daily check-ins are on" in confirmation
    assert "Every day at 20:00 (London (UTC+01:00))" in confirmation
    assert "Your next check-in: today at 20:00" in confirmation
    assert_help_now_one_tap_away(user)

    await user.command("/checkin")
    assert "Next check-in: today at 20:00" in text_of(user)
    assert DISCREET in text_of(user)


async def test_the_check_ins_button_of_the_main_menu_opens_check_ins(user: SimUser) -> None:
    await user.command("/menu")
    await user.press("Check-ins")
    assert "Daily check-ins" in text_of(user)


async def test_hour_and_minute_picker(user: SimUser) -> None:
    await with_country(user, "GB")
    await user.command("/checkin")
    await user.press("Turn on daily check-ins")
    await user.press("Pick hour and minute")
    assert "Pick the hour" in text_of(user)
    assert len([b for b in user.buttons if b.endswith(":00")]) == 24
    assert_help_now_one_tap_away(user)
    await user.press("07:00")
    assert "Pick the minute" in text_of(user)
    assert_help_now_one_tap_away(user)
    await user.press("07:45")
    assert "Every day at 07:45" in text_of(user)
    assert "Your next check-in: tomorrow at 07:45" in text_of(user)


@pytest.mark.parametrize(("typed", "shown"), [("8:30pm", "20:30"), ("08:30", "08:30")])
async def test_a_typed_time_works(user: SimUser, typed: str, shown: str) -> None:
    await with_country(user, "GB")
    await user.command("/checkin")
    await user.press("Turn on daily check-ins")
    await user.send(typed)
    assert f"Every day at {shown}" in text_of(user)


async def test_a_time_that_cannot_be_read_gets_a_clear_example(user: SimUser) -> None:
    await with_country(user, "GB")
    await user.command("/checkin")
    await user.press("Turn on daily check-ins")
    await user.send("after lunch <3")
    reply = text_of(user)
    assert "couldn't read “after lunch <3” as a time" in reply
    assert "08:30" in reply and "8:30pm" in reply
    assert "Morning" in " ".join(user.buttons)
    assert_help_now_one_tap_away(user)
    await user.send("25:00")
    assert "couldn't read" in text_of(user)
    await user.send("9pm")
    assert "Every day at 21:00" in text_of(user)


async def test_a_country_with_several_zones_asks_which_one(user: SimUser) -> None:
    await with_country(user, "US")
    await user.command("/checkin")
    await user.press("Turn on daily check-ins")
    await user.press("Morning")
    assert "Which time zone are you in?" in text_of(user)
    assert "Chicago (UTC−05:00)" in user.buttons
    assert "New York (UTC−04:00)" in user.buttons
    assert_help_now_one_tap_away(user)
    await user.press("Chicago")
    assert "Every day at 08:00 (Chicago (UTC−05:00))" in text_of(user)
    assert "Your next check-in: today at 08:00" in text_of(user)  # it is 05:00 in Chicago
    settings = await svc(user.app).db.get_checkin(user.user_id)
    assert settings is not None and settings.zone == "America/Chicago"


async def test_a_typed_city_is_found_or_suggested(user: SimUser) -> None:
    await user.command("/checkin")  # no country set
    await user.press("Turn on daily check-ins")
    await user.press("Evening")
    assert "Which country are you in?" in text_of(user)
    assert "type the name of your city" in text_of(user)
    await user.send("Atlantis")
    assert "couldn't find a time zone for “Atlantis”" in text_of(user)
    assert "Chicago" in text_of(user)  # an example of what works
    assert_help_now_one_tap_away(user)
    await user.send("Sidney")
    assert "Did you mean" in text_of(user)
    await user.press("Sydney (UTC+10:00)")
    assert "Every day at 20:00 (Sydney (UTC+10:00))" in text_of(user)
    assert "Your next check-in: today at 20:00" in text_of(user) or "tomorrow" in text_of(user)


async def test_an_exact_city_or_zone_name_needs_no_more_questions(user: SimUser) -> None:
    await user.command("/checkin")
    await user.press("Turn on daily check-ins")
    await user.press("Midday")
    await user.send("asia/kolkata")
    assert "Every day at 12:30 (Kolkata (UTC+05:30))" in text_of(user)
    assert "tomorrow at 12:30" in text_of(user)  # 15:30 in Kolkata now


async def test_a_country_from_the_list_with_one_zone_is_enough(user: SimUser) -> None:
    await user.command("/checkin")
    await user.press("Turn on daily check-ins")
    await user.press("Evening")
    await user.press("India")
    assert "Every day at 20:00 (Kolkata (UTC+05:30))" in text_of(user)


# --- Pause, change, stop, discreet -----------------------------------------------------------


def on_clock(instant: datetime) -> str:
    return instant.strftime("%a %-d %b")


async def test_pause_resume_change_and_stop(user: SimUser, app: Any) -> None:
    await turn_on_evening(user)
    await user.command("/checkin")
    await user.press("Pause a week")
    paused = text_of(user)
    assert "paused for a week" in paused
    assert f"{on_clock(NOW + timedelta(days=7))} at 20:00" in paused  # Mon 8 Jun
    assert_help_now_one_tap_away(user)
    await user.command("/checkin")
    assert "paused until" in text_of(user)
    await user.press("Resume now")
    assert "Check-ins are back on" in text_of(user)
    assert "today at 20:00" in text_of(user)

    await user.command("/checkin")
    await user.press("🕗 Change time")
    await user.press("Morning")  # keeps the London zone: no question
    assert "Every day at 08:00 (London (UTC+01:00))" in text_of(user)
    assert "tomorrow at 08:00" in text_of(user)

    await user.command("/checkin")
    await user.press("Stop check-ins")
    assert "Check-ins are off." in text_of(user)
    assert "won't send you any more" in text_of(user)
    assert_help_now_one_tap_away(user)
    assert await svc(app).db.get_checkin(user.user_id) is None
    await send_checkins(app, NOW + timedelta(days=1))
    assert checkin_messages(user) == []


async def test_discreet_first_line_can_be_turned_off_and_on(user: SimUser, app: Any) -> None:
    await turn_on_evening(user)
    await user.command("/checkin")
    await user.press("Show a clearer first line")
    assert f"The first line now says: “{OPEN}" in text_of(user)
    await send_checkins(app, NOW.replace(hour=19))
    assert (checkin_messages(user)[-1].text or "").startswith(OPEN)

    await user.command("/checkin")
    await user.press("Make the first line discreet")
    assert f"The first line is now neutral: “{DISCREET}”" in text_of(user)
    await send_checkins(app, NOW.replace(hour=19) + timedelta(days=1))
    assert (checkin_messages(user)[-1].text or "").startswith(DISCREET)


# --- The check-in message and its answers --------------------------------------------------------


async def test_the_checkin_message_and_its_answers(user: SimUser, app: Any) -> None:
    await turn_on_evening(user)
    await send_checkins(app, NOW.replace(hour=18))
    assert checkin_messages(user) == []  # 19:00 in London: not yet
    await send_checkins(app, NOW.replace(hour=19))
    [message] = checkin_messages(user)
    lines = (message.text or "").split("\n")
    assert lines[0] == DISCREET  # safe on a lock screen
    pool = svc(app).content.lang("en").texts.items("checkins.encouragements")
    assert any(e.strip() in (message.text or "") for e in pool)
    assert set(message.buttons) >= {
        "🙂 Doing okay",
        "😔 Struggling",
        "🆘 Need help now",
        "⏸ Pause a week",
        "🕗 Change time",
        "🔕 Stop check-ins",
    }
    before = await svc(app).db.rows_about(user.user_id)

    await user.press_data(message.button("Doing okay")["callback_data"], message.message_id)
    assert "Glad to hear it" in text_of(user)
    assert_help_now_one_tap_away(user)

    await user.press_data(message.button("Struggling")["callback_data"], message.message_id)
    struggling = text_of(user)
    assert "sorry today is hard" in struggling and "Grounding" in struggling
    assert {"🌊 Coping right now", "🤝 Support groups"} <= set(user.buttons)
    assert_help_now_one_tap_away(user)
    await user.press("Support groups")
    assert "Support groups" in text_of(user)

    await user.press_data(message.button("Need help now")["callback_data"], message.message_id)
    assert "call 999" in text_of(user)

    # The check-in itself is still there, unchanged, and no answer was stored.
    assert user.api.message(user.chat_id, message.message_id).text == message.text  # type: ignore[union-attr]
    assert await svc(app).db.rows_about(user.user_id) == before


async def test_pause_change_and_stop_from_the_checkin_message(user: SimUser, app: Any) -> None:
    await turn_on_evening(user)
    await send_checkins(app, NOW.replace(hour=19))
    [message] = checkin_messages(user)

    await user.press_data(message.button("Change time")["callback_data"], message.message_id)
    assert "What time suits you?" in text_of(user)
    await user.press("Morning")
    assert "Every day at 08:00" in text_of(user)

    await user.press_data(message.button("Pause a week")["callback_data"], message.message_id)
    assert "paused for a week" in text_of(user)

    await user.press_data(message.button("Stop")["callback_data"], message.message_id)
    assert "Check-ins are off." in text_of(user)
    assert "Turn check-ins back on" in " ".join(user.buttons)
    await user.press("Turn check-ins back on")
    assert "What time suits you?" in text_of(user)


async def test_one_checkin_a_day_through_the_bot(user: SimUser, app: Any) -> None:
    await turn_on_evening(user)
    for minutes in (0, 1, 30, 90):
        await send_checkins(app, NOW.replace(hour=19) + timedelta(minutes=minutes))
    assert len(checkin_messages(user)) == 1
    await send_checkins(app, NOW.replace(hour=19) + timedelta(days=1))
    assert len(checkin_messages(user)) == 2


async def test_a_person_who_blocked_the_bot_gets_no_more_checkins(
    user: SimUser, app: Any, api: FakeTelegram
) -> None:
    await turn_on_evening(user)
    api.blocked.add(user.chat_id)
    await send_checkins(app, NOW.replace(hour=19))
    settings = await svc(app).db.get_checkin(user.user_id)
    assert settings is None or not settings.active
    assert (await svc(app).db.get_user(user.user_id)).blocked  # type: ignore[union-attr]


# --- Day counter --------------------------------------------------------------------------------


async def test_day_counter_is_off_by_default_and_easy_to_set_hide_and_reset(
    user: SimUser, app: Any
) -> None:
    await turn_on_evening(user)
    await send_checkins(app, NOW.replace(hour=19))
    assert "Day counter" not in (checkin_messages(user)[-1].text or "")

    await user.command("/checkin")
    await user.press("Day counter")
    assert "optional" in text_of(user) and "When did you start?" in text_of(user)
    assert_help_now_one_tap_away(user)
    await user.press("Type a date")
    await user.send("31 February")
    assert "couldn't read “31 February” as a date" in text_of(user)
    await user.send("3 July 2026")
    assert "still to come" in text_of(user)
    await user.send("25 May")
    counter = text_of(user)
    assert "One week" in counter  # the milestone
    assert "7 days since Mon 25 May" in counter
    assert_help_now_one_tap_away(user)

    await send_checkins(app, NOW.replace(hour=19) + timedelta(days=1))
    assert "Day counter: 8 days" in (checkin_messages(user)[-1].text or "")

    await user.command("/checkin")
    await user.press("Day counter")
    await user.press("Hide the counter")
    assert "hidden" in text_of(user)
    await send_checkins(app, NOW.replace(hour=19) + timedelta(days=2))
    assert "Day counter" not in (checkin_messages(user)[-1].text or "")
    await user.command("/checkin")
    assert "Day counter" not in text_of(user).split("Next check-in")[1]
    await user.press("Day counter")
    await user.press("Show the counter")
    assert "7 days" in text_of(user)

    await user.press("I had a slip")
    assert "Start again from today?" in text_of(user)
    await user.press("Yes, start again")
    slip = text_of(user)
    assert "Thank you for being honest" in slip
    assert "relapse is part of many people's recovery" in slip
    assert_help_now_one_tap_away(user)
    await user.press("Day counter")
    assert "day one starts today" in text_of(user)
    settings = await svc(app).db.get_checkin(user.user_id)
    assert settings is not None and settings.counter_start == date(2026, 6, 1)

    await user.press("Remove the counter")
    settings = await svc(app).db.get_checkin(user.user_id)
    assert settings is not None and settings.counter_start is None and settings.active


async def test_day_counter_starts_today_with_one_tap_without_check_ins(
    user: SimUser, app: Any
) -> None:
    await with_country(user, "GB")
    await user.command("/checkin")
    await user.press("Day counter")
    await user.press("Yesterday")
    assert "1 day since" in text_of(user) and "One day" in text_of(user)
    settings = await svc(app).db.get_checkin(user.user_id)
    assert settings is not None and not settings.active


async def test_day_counter_without_check_ins_counts_the_same_days_on_every_screen(
    user: SimUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 23:30 UTC on 1 June is already 11:30 on 2 June in Auckland.
    monkeypatch.setattr(bot.checkins, "utcnow", lambda: datetime(2026, 6, 1, 23, 30, tzinfo=UTC))
    await with_country(user, "NZ")
    await user.command("/checkin")
    await user.press("Day counter")
    await user.press("Yesterday")
    assert "1 day since" in text_of(user)
    await user.command("/checkin")
    assert "Day counter: 1 day." in text_of(user)


# --- Privacy, /delete, stale buttons, the scheduler -----------------------------------------


async def test_privacy_says_what_checkins_store(user: SimUser) -> None:
    await user.command("/privacy")
    text = text_of(user)
    assert "check-ins" in text
    assert "time zone" in text
    assert "answers" in text  # and that they are not stored


async def test_delete_removes_the_subscription(user: SimUser, app: Any) -> None:
    await turn_on_evening(user)
    await user.command("/checkin")
    await user.press("Day counter")
    await user.press("Today")
    assert await svc(app).db.get_checkin(user.user_id) is not None
    await user.command("/delete")
    await user.press("Yes, delete everything")
    assert await svc(app).db.get_checkin(user.user_id) is None
    assert await user_id_rows(svc(app).settings.database_path, user.user_id) == 0
    await send_checkins(app, NOW.replace(hour=19))
    assert checkin_messages(user) == []


@pytest.mark.parametrize(
    "data",
    [
        "ck:s:9999",
        "ck:s:",
        "ck:h:77",
        "ck:zs:0800:Mars/Olympus",
        "ck:zs:0800:../../etc/passwd",
        "ck:zc:0800:XX",
        "ck:z:abcd",
        "ck:c:ago:400",
        "ck:unknown",
    ],
)
async def test_stale_or_forged_checkin_buttons_get_the_friendly_answer(
    user: SimUser, data: str
) -> None:
    await user.command("/checkin")
    await user.press_data(data)
    assert "no longer available" in text_of(user)
    assert_help_now_one_tap_away(user)


async def test_one_scheduler_job_however_many_people(user: SimUser, app: Any) -> None:
    await turn_on_evening(user)
    jobs = app.job_queue.jobs()
    assert [j.name for j in jobs if j.name == bot.checkins.JOB_NAME] == [bot.checkins.JOB_NAME]
    assert len([j for j in jobs if j.name and "checkin" in j.name]) == 1


# --- Every check-in screen -----------------------------------------------------------------------


def all_checkin_screens(app: Any) -> list[Any]:
    from datetime import time as dtime

    from bot import checkin_screens as cs
    from bot.checkin_time import find_zone
    from bot.storage import CheckinSettings

    content = svc(app).content
    lang = content.lang("en")

    def settings(**kw: Any) -> CheckinSettings:
        values: dict[str, Any] = {
            "user_id": 1,
            "local_time": dtime(20, 0),
            "zone": "America/Argentina/ComodRivadavia",  # one of the longest zone names
            "next_due": NOW + timedelta(hours=3),
            "paused_until": None,
            "discreet": True,
            "last_sent_on": None,
            "counter_start": date(2026, 5, 1),
            "counter_shown": True,
        }
        values.update(kw)
        return CheckinSettings(**values)

    local = dtime(23, 55)
    rendered = [
        cs.status(lang, None, NOW),
        cs.status(lang, settings(), NOW),
        cs.status(lang, settings(discreet=False, counter_shown=False), NOW, notice="<b>x</b>"),
        cs.status(lang, settings(paused_until=NOW + timedelta(days=7)), NOW),
        cs.status(lang, settings(local_time=None, zone=None, next_due=None), NOW),
        cs.time_chooser(lang),
        cs.bad_time(lang, "<script>&amp; " + "x" * 100),
        cs.time_again(lang),
        cs.hour_picker(lang),
        *(cs.minute_picker(lang, hour) for hour in range(24)),
        cs.zone_chooser(lang, local, None, NOW),
        *(cs.zone_chooser(lang, local, c, NOW) for c in lang.countries.values()),
        cs.zone_suggestions(lang, local, "<Sidney>", find_zone("Sidney").suggestions, NOW),
        cs.zone_suggestions(lang, local, "Atlantis & Co", (), NOW),
        cs.confirmed(lang, settings(), NOW),
        cs.paused(lang, settings(next_due=NOW + timedelta(days=400)), NOW),
        cs.resumed(lang, settings(), NOW),
        cs.stopped(lang),
        cs.stopped(lang, was_on=False),
        cs.answer_okay(lang),
        cs.answer_struggling(lang),
        cs.counter(lang, None, NOW.date()),
        cs.counter(lang, settings(counter_shown=False), NOW.date()),
        *(
            cs.counter(lang, settings(counter_start=NOW.date() - timedelta(days=d)), NOW.date())
            for d in (0, 1, 2, 7, 30, 90, 365, 4000)
        ),
        cs.counter_type(lang),
        cs.counter_type(lang, notice_key="counter_bad_date", typed="<b>"),
        cs.counter_type(lang, notice_key="counter_future"),
        cs.counter_slip_ask(lang),
        cs.counter_slip_done(lang),
        cs.counter_removed(lang),
    ]
    for position in range(60):
        for discreet in (True, False):
            for days in (None, 0, 1, 7, 30, 90, 365, 1000):
                rendered.append(
                    cs.checkin_message(
                        lang,
                        discreet=discreet,
                        enc_seed=12345,
                        enc_position=position,
                        counter_days=days,
                    )
                )
    return rendered


async def test_every_checkin_screen_is_valid_and_keeps_help_now_one_tap_away(app: Any) -> None:
    from bot.telegram_html import html_problems, visible_length

    for screen in all_checkin_screens(app):
        assert html_problems(screen.text) == [], screen.text[:80]
        assert visible_length(screen.text) <= 4096
        data = [b.callback_data for row in screen.keyboard.inline_keyboard for b in row]
        assert all(len(str(d).encode()) <= 64 for d in data), data
        assert {"help", "ck:sos"} & set(data), screen.text[:80]
