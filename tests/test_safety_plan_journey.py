"""Safety plan journeys as a person sees them, through the fake Telegram: the seven steps in
English and in Spanish, skipping, cancelling, leaving with a command, crisis words in a step,
the plan as one message to pin, and that nothing typed is kept anywhere (database, logs, memory
after the end).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

import handlers.safety_plan as handler
from bot import callbacks as cb
from bot import checkin_screens as cs
from bot import safety_plan as sp
from bot.config import DEFAULT_CONTENT_DIR
from bot.content import ContentError, load_content
from bot.logging_setup import RedactingFilter, configure_logging
from bot.services import services_of
from bot.telegram_html import html_problems, visible_length
from tests.fake import TEST_TOKEN, SimUser

CONTENT = load_content(DEFAULT_CONTENT_DIR)
EN, ES = CONTENT.lang("en"), CONTENT.lang("es")


class Clock:
    """The handlers' monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * 60


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(handler, "clock", fake)
    return fake


def text_of(person: SimUser) -> str:
    return person.screen.text or ""


def plan_data(app: Any, person: SimUser) -> dict[Any, Any]:
    """What the bot holds in memory for the person (user_data), without creating it."""
    return dict(app.user_data.get(person.user_id) or {})


def draft_of(app: Any, person: SimUser) -> sp.Draft | None:
    found = plan_data(app, person).get(handler.KEY)
    assert found is None or isinstance(found, sp.Draft)
    return found


async def with_country(person: SimUser, code: str) -> None:
    await person.command("/start")
    await person.press_data(f"{cb.CB_COUNTRY}{code}")


async def start_plan(person: SimUser, begin: str = "Start") -> None:
    await person.command("/plan")
    await person.press(begin)


async def go_on(person: SimUser) -> None:
    """Skip the step, or be done with it if something is in it."""
    skip = "Skip this step ›" in person.buttons
    await person.press("Skip this step" if skip else "Done with this step")


# --- the whole journey --------------------------------------------------------------------------

TYPED = {
    1: "Snapping at people <b>\nStaying up & scrolling",
    3: "Texting Jo about football",
    4: "Aunt Mia 07700 900123",
    5: "Dr Patel at the surgery",
    7: "Seeing my daughter graduate",
}


async def test_the_whole_journey_in_english(user: SimUser, app: Any) -> None:
    await with_country(user, "GB")
    await user.command("/plan")
    intro = text_of(user)
    assert "Your safety plan" in intro and "7 short steps" in intro
    assert "I keep no copy" in intro and "30 minutes" in intro and "restart" in intro
    assert "pin" in intro
    assert "🆘 Help now" in user.buttons
    await user.press("Start")

    assert text_of(user).startswith("📝 Step 1 of 7: My warning signs")
    assert "tell you a hard moment may be coming" in text_of(user)
    suggestions = [b for b in user.buttons if b not in {"Skip this step ›", "‹ Back"}]
    assert "Not sleeping well" in suggestions and "🆘 Help now" in user.buttons
    assert {"Skip this step ›", "✖️ Cancel"} <= set(user.buttons)
    await user.press("Not sleeping well")
    assert "✅ Not sleeping well" in user.buttons
    assert "Done with this step ›" in user.buttons
    await user.send(TYPED[1])  # two lines: two items
    shown = text_of(user)
    assert "So far:" in shown
    assert "• Not sleeping well" in shown
    assert "• Snapping at people <b>" in shown and "• Staying up & scrolling" in shown
    await user.press("Done with this step")

    assert "Step 2 of 7: What I can do on my own" in text_of(user)
    await user.press("Go for a walk")
    await user.press("Listen to music I like")
    await user.press("Remove the last one")
    assert "Listen to music I like" not in text_of(user)
    await user.press("Done with this step")

    assert "Step 3 of 7: People and places that take my mind off it" in text_of(user)
    await user.send(TYPED[3])
    await user.press("Done with this step")

    assert "Step 4 of 7: People I can ask for help" in text_of(user)
    await user.send(TYPED[4])
    await user.press("Back")
    assert "Step 3 of 7" in text_of(user) and "Texting Jo about football" in text_of(user)
    await user.press("Done with this step")
    assert "Aunt Mia" in text_of(user)
    await user.press("Done with this step")

    # The country's lines and emergency number are already in: from the hotline data.
    step5 = text_of(user)
    assert "Step 5 of 7: Professionals and lines" in step5
    assert "I've added the lines for your country" in step5
    assert "✅ 🚨 Emergency: 999" in user.buttons
    assert "✅ Samaritans" in user.buttons
    assert len([b for b in user.buttons if b.startswith("✅") or b.startswith("My ")]) <= 6
    await user.press("✅ Shout")  # take one out
    assert "Shout" in user.buttons
    await user.send(TYPED[5])
    await user.press("Done with this step")

    assert "Step 6 of 7: Making my surroundings safer" in text_of(user)
    await user.press("Keep alcohol and drugs out of my home")
    await user.press("Done with this step")

    assert "Step 7 of 7: My reasons to keep going" in text_of(user)
    await user.send(TYPED[7])
    before = len(user.api.bot_messages(user.chat_id))
    await user.press("Done: send me my plan")

    # One new message: the plan, at the bottom of the chat, with Help now and the menu.
    assert len(user.api.bot_messages(user.chat_id)) == before + 1
    plan = user.screen
    shown = plan.text or ""
    source = plan.source or ""
    assert shown.startswith("📝 My safety plan")
    for heading in (
        "⚠️ My warning signs",
        "🌿 What I can do on my own",
        "👥 People and places that take my mind off it",
        "🤝 People I can ask for help",
        "📞 Professionals and lines I can contact",
        "🏠 Making my surroundings safer",
        "💛 My reasons to keep going",
    ):
        assert heading in shown, heading
    for typed in (*TYPED[1].splitlines(), TYPED[3], TYPED[4], TYPED[5], TYPED[7]):
        assert typed in shown, typed
    assert "Snapping at people &lt;b&gt;" in source and "Staying up &amp; scrolling" in source
    assert "Go for a walk" in shown and "Listen to music" not in shown
    assert "🚨 Emergency: 999 (112 also works)" in shown
    assert "Samaritans: call 116 123" in shown and "Shout" not in shown
    assert "Keep alcohol and drugs out of my home" in shown
    assert "If I'm in danger, I call 999" in shown
    assert "I keep no copy of this plan" in shown
    assert html_problems(source) == [] and visible_length(source) < 4096
    assert plan.buttons == ["🆘 Help now", "🏠 Main menu"]
    # The step screen now says the plan is in the chat, that no copy is kept, and how to pin it.
    note = user.api.bot_messages(user.chat_id)[-2].text or ""
    assert "Your safety plan is ready" in note and "I keep no copy" in note and "Pin" in note
    assert "Snapping" not in note
    # And nothing is left in memory.
    assert handler.KEY not in plan_data(app, user)
    assert "awaiting" not in plan_data(app, user)
    assert app.job_queue.get_jobs_by_name(f"{handler.JOB}{user.user_id}") == ()


async def test_the_whole_journey_in_spanish(make_user: Callable[..., SimUser], app: Any) -> None:
    person = make_user(5150, language_code="es-MX")
    await with_country(person, "MX")
    await person.command("/plan")
    intro = text_of(person)
    assert "Tu plan de seguridad" in intro and "No guardo ninguna copia" in intro
    assert "30 minutos" in intro and "reinicio" in intro
    await person.press("Empezar")
    assert "Paso 1 de 7: Mis señales de alerta" in text_of(person)
    await person.press("Dormir mal")
    await person.send("Encerrarme en mi cuarto <i>\nGritar & romper cosas")
    await person.press("Listo con este paso")
    assert "Paso 2 de 7: Lo que puedo hacer por mi cuenta" in text_of(person)
    await person.press("Salir a caminar")
    await person.press("Listo con este paso")
    assert "Paso 3 de 7" in text_of(person)
    await person.press("Saltar este paso")
    assert "Paso 4 de 7: Personas a las que puedo pedir ayuda" in text_of(person)
    await person.send("Mi hermana Lucía")
    await person.press("Listo con este paso")
    assert "Paso 5 de 7: Profesionales y líneas de ayuda" in text_of(person)
    assert "Ya agregué las líneas de tu país" in text_of(person)
    assert any(b.startswith("✅ 🚨 Emergencias: 911") for b in person.buttons)
    await person.press("Listo con este paso")
    assert "Paso 6 de 7: Hacer más seguro mi entorno" in text_of(person)
    await person.press("Saltar este paso")
    assert "Paso 7 de 7: Mis razones para seguir adelante" in text_of(person)
    await person.press("Mi familia")
    await person.press("Listo: envíame mi plan")

    plan = person.screen
    shown, source = plan.text or "", plan.source or ""
    assert shown.startswith("📝 Mi plan de seguridad")
    assert "⚠️ Mis señales de alerta" in shown and "Dormir mal" in shown
    assert "Encerrarme en mi cuarto <i>" in shown and "Gritar & romper cosas" in shown
    assert "&lt;i&gt;" in source and "&amp; romper" in source
    assert "🚨 Emergencias: 911" in shown and "Mi hermana Lucía" in shown and "Mi familia" in shown
    assert "👥" not in shown and "🏠" not in shown  # skipped steps are left out
    assert "Si estoy en peligro, llamo al 911" in shown
    assert plan.buttons == ["🆘 Ayuda ahora", "🏠 Menú principal"]
    assert html_problems(source) == [] and visible_length(source) < 4096
    note = person.api.bot_messages(person.chat_id)[-2].text or ""
    assert "No guardo ninguna copia" in note and "Fijar" in note
    assert handler.KEY not in plan_data(app, person)


async def test_skipping_every_step_still_gives_a_plan_with_the_lines(
    user: SimUser, app: Any
) -> None:
    """Without a country: the step says how to add its lines; the plan keeps the local
    emergency number and the international directory."""
    await start_plan(user)
    for step in range(1, 8):
        assert f"Step {step} of 7" in text_of(user)
        if step == 5:
            assert "Set your country" in text_of(user)
            assert "🌍 Set my country" in user.buttons
            assert "✅ 🚨 My local emergency number" in user.buttons
            await user.press("Done with this step")
        elif step == 7:
            await user.press("send me my plan")
        else:
            await user.press("Skip this step")
    shown = text_of(user)
    assert shown.startswith("📝 My safety plan")
    assert "my local emergency number" in shown and "findahelpline.com" in shown
    assert "⚠️" not in shown and "💛" not in shown
    assert handler.KEY not in plan_data(app, user)


async def test_a_plan_with_nothing_in_it_says_so(user: SimUser, app: Any) -> None:
    await start_plan(user)
    for _ in range(4):
        await user.press("Skip this step")
    await user.press("✅ 🚨 My local emergency number")
    await user.press("✅ Find A Helpline")
    await user.press("Skip this step")
    await user.press("Skip this step")
    assert "Skip and send me my plan" in user.buttons
    await user.press("Skip and send me my plan")
    assert "Nothing in it yet" in text_of(user)
    assert "call my local emergency number" in text_of(user)


async def test_setting_the_country_in_step_five_adds_its_lines(user: SimUser, app: Any) -> None:
    await start_plan(user)
    for _ in range(4):
        await user.press("Skip this step")
    await user.press("Set my country")
    await user.press("Canada")
    assert "988" in text_of(user)  # Help now for the country, with the way back to the plan
    await user.press("Make a safety plan")
    assert "Step 5 of 7" in text_of(user)
    assert "✅ 🚨 Emergency: 911" in user.buttons
    assert "✅ My local emergency number" not in " ".join(user.buttons)


# --- leaving in the middle: nothing is kept -----------------------------------------------------


async def test_cancel_leaves_nothing_in_memory(user: SimUser, app: Any) -> None:
    await start_plan(user)
    await user.send("my private warning sign")
    old_step = user.screen.message_id
    done = user.button_data("Done with this step")
    assert draft_of(app, user) is not None
    await user.press("Cancel")
    assert "Safety plan cancelled" in text_of(user) and "kept nothing" in text_of(user)
    assert plan_data(app, user) == {}
    await user.press_data(done, message_id=old_step)  # the old step's buttons are stale now
    await assert_stale(user)
    await user.send("another line")
    assert "can't reply to messages in my own words" in text_of(user)
    assert plan_data(app, user) == {}


async def test_the_cancel_command_leaves_nothing_in_memory(user: SimUser, app: Any) -> None:
    await start_plan(user)
    await user.send("my private warning sign")
    await user.command("/cancel")
    assert "Safety plan cancelled" in text_of(user)
    assert plan_data(app, user) == {}
    await user.command("/cancel")  # nothing to cancel: an ordinary unknown command
    assert "I don't know that command" in text_of(user)


@pytest.mark.parametrize("command", ["/menu", "/start", "/settings", "/checkin", "/nonsense"])
async def test_another_command_in_the_middle_leaves_nothing_in_memory(
    user: SimUser, app: Any, command: str
) -> None:
    await start_plan(user)
    await user.send("my private warning sign")
    await user.press("Done with this step")
    await user.command(command)
    assert handler.KEY not in plan_data(app, user)
    assert app.job_queue.get_jobs_by_name(f"{handler.JOB}{user.user_id}") == ()
    await user.send("this is not for a plan any more")
    assert "Step" not in text_of(user)


@pytest.mark.parametrize("command", ["/helpnow", "/sos", "/start helpnow", "/plan"])
async def test_help_now_and_plan_keep_the_place(user: SimUser, app: Any, command: str) -> None:
    await start_plan(user)
    await user.send("first sign")
    await user.command(command)
    assert draft_of(app, user) is not None
    if command == "/plan":
        assert "Step 1 of 7" in text_of(user) and "first sign" in text_of(user)
    else:
        assert "emergency number" in text_of(user)
    await user.send("second sign")
    assert "Step 1 of 7" in text_of(user)
    assert "first sign" in text_of(user) and "second sign" in text_of(user)


async def test_the_help_now_button_keeps_the_place_and_leads_back(user: SimUser, app: Any) -> None:
    await start_plan(user)
    await user.press("Skip this step")
    await user.send("a walk by the river")
    await user.press("Help now")
    assert "emergency number" in text_of(user)
    await user.press("Make a safety plan")
    assert "Step 2 of 7" in text_of(user) and "a walk by the river" in text_of(user)


async def test_crisis_words_in_a_step_get_help_now_and_the_plan_goes_on(
    user: SimUser, app: Any
) -> None:
    await with_country(user, "US")
    await start_plan(user)
    await user.send("feeling low in the evenings")
    await user.command("/plan")  # on the step screen again
    calls = await user.send("I want to die")
    sends = [c for c in calls if c.method == "sendMessage"]
    assert len(sends) == 1  # the crisis answer, at once: the emergency number and a line
    assert "call 911 now" in str(sends[0].params["text"]) and "988" in str(sends[0].params["text"])
    draft = draft_of(app, user)
    assert draft is not None and draft.step == 0
    assert [text for _, text in draft.items[0]] == ["feeling low in the evenings"]
    await user.send("not answering my phone")
    assert "Step 1 of 7" in text_of(user)
    assert "feeling low in the evenings" in text_of(user)
    assert "not answering my phone" in text_of(user)


async def test_the_crisis_answer_offers_the_plan_and_leads_back_to_the_step(
    user: SimUser, app: Any
) -> None:
    """The answer to suicidal words offers a safety plan ("tap below to start"); for someone
    in the middle of one, that button carries on where they were."""
    await start_plan(user)
    await user.send("feeling low in the evenings")
    await user.send("I want to die")
    assert "make a safety plan" in text_of(user)
    await user.press("Make a safety plan")
    assert "Step 1 of 7" in text_of(user) and "feeling low in the evenings" in text_of(user)
    handler.forget(app, user.user_id)
    await user.send("I want to die")
    await user.press("Make a safety plan")
    assert "Your safety plan" in text_of(user)  # no plan in memory: what a safety plan is


# --- nothing typed is kept: not in the database, not in the logs ------------------------------

SECRETS = ("zebra-lantern-4417", "quince&marrow", "<b>velvet-otter</b>", "Tamsin 07700 900888")


@pytest.fixture
def production_logging(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Logging set up as ``python -m bot`` does with LOG_LEVEL=DEBUG; restored afterwards."""
    names = ["", "telegram", "httpx", "httpcore", "apscheduler"]
    levels = {name: logging.getLogger(name).level for name in names}
    caplog.set_level(logging.DEBUG)
    configure_logging("DEBUG", TEST_TOKEN)
    yield caplog
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    for existing in logging.getLogger().handlers:
        for found in [f for f in existing.filters if isinstance(f, RedactingFilter)]:
            existing.removeFilter(found)


async def test_nothing_typed_reaches_the_database_or_the_logs(
    user: SimUser, app: Any, settings: Any, production_logging: pytest.LogCaptureFixture
) -> None:
    await with_country(user, "GB")
    await start_plan(user)
    for step, secret in enumerate(SECRETS):
        await user.send(secret)
        if step == 1:
            await user.send("I want to die")  # a crisis match is logged: its category only
            await user.command("/plan")  # back on the step
        await user.press("Done with this step")
    for _ in range(len(SECRETS), 7):
        await user.send(f"{SECRETS[0]} again")
        await user.press("Done with this step" if _ < 6 else "send me my plan")
    assert SECRETS[0] in text_of(user)  # the plan was sent, with what was typed

    async with aiosqlite.connect(settings.database_path) as db:
        tables = [
            r[0]
            for r in await db.execute_fetchall("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        assert tables
        for table in tables:
            columns = [r[1] for r in await db.execute_fetchall(f"PRAGMA table_info({table})")]
            for column in columns:
                for (value,) in await db.execute_fetchall(f"SELECT {column} FROM {table}"):
                    for secret in (*SECRETS, "want to die", "velvet"):
                        assert secret not in str(value), (table, column)
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in production_logging.records
    )
    assert "crisis language detected" in logged
    for secret in (*SECRETS, "zebra", "quince", "velvet", "900888", "want to die"):
        assert secret not in logged, secret


def test_the_bot_keeps_nothing_on_disk_between_runs(app: Any) -> None:
    """user_data lives in memory only: no persistence is configured."""
    assert app.persistence is None


# --- old, forged and other-step buttons --------------------------------------------------------


async def assert_stale(person: SimUser) -> None:
    """The press got the stale toast, and the pressed message became the menu with a notice."""
    assert person.last_answer is not None and "expired" in str(person.last_answer.get("text"))
    shown = [c for c in person.last_calls if c.method in {"editMessageText", "sendMessage"}]
    assert len(shown) == 1 and "no longer available" in str(shown[0].params["text"])


async def test_buttons_of_a_finished_plan_are_stale(user: SimUser, app: Any) -> None:
    await start_plan(user)
    step_message = user.screen.message_id
    add = user.button_data("Not sleeping well")
    for _ in range(6):
        await go_on(user)
    await user.press("send me my plan")
    await user.press_data(add, message_id=step_message)
    await assert_stale(user)
    assert handler.KEY not in plan_data(app, user)


@pytest.mark.parametrize(
    "data",
    [
        "sp:a:zzzzzz:0:s0",
        "sp:n:zzzzzz:0",
        "sp:b:zzzzzz:0",
        "sp:u:zzzzzz:0",
        "sp:x:zzzzzz",
        "sp:q",
        "sp:a:",
    ],
)
async def test_forged_plan_buttons_get_the_stale_answer(user: SimUser, data: str) -> None:
    await start_plan(user)
    await user.press_data(data)
    await assert_stale(user)


async def test_forged_keys_of_the_current_plan_get_the_stale_answer(
    user: SimUser, app: Any
) -> None:
    await start_plan(user)
    token = draft_of(app, user).token  # type: ignore[union-attr]
    for key in ("s99", "l7", "x", "", "s-1"):
        await user.command("/plan")
        await user.press_data(f"{cb.SP_ADD}{token}:0:{key}")
        await assert_stale(user)
    assert draft_of(app, user) is not None and draft_of(app, user).items[0] == []  # type: ignore[union-attr]


async def test_a_button_of_another_step_shows_the_current_step(user: SimUser, app: Any) -> None:
    await start_plan(user)
    first = user.screen.message_id
    add = user.button_data("Not sleeping well")
    await user.send("a typed sign")  # a new step screen below; the first one stays
    await user.press("Done with this step")
    assert "Step 2 of 7" in text_of(user)
    await user.press_data(add, message_id=first)
    assert user.last_answer is not None and "expired" in str(user.last_answer.get("text"))
    assert "Step 2 of 7" in (user.api.message(user.chat_id, first).text or "")
    assert draft_of(app, user).items[0] == [("t", "a typed sign")]  # type: ignore[union-attr]


# --- long text, many items ---------------------------------------------------------------------


async def test_huge_typed_text_is_shortened(user: SimUser, app: Any) -> None:
    await start_plan(user)
    huge = "I notice " + "very " * 2000 + "tired"
    await user.send(huge[:4096])
    draft = draft_of(app, user)
    assert draft is not None and len(draft.items[0][0][1]) <= sp.MAX_TYPED
    assert "…" in text_of(user) and visible_length(user.screen.source or "") < 4096
    for _ in range(6):
        await go_on(user)
    await user.press("send me my plan")
    assert "I notice very very" in text_of(user) and "…" in text_of(user)
    assert visible_length(user.screen.source or "") < 4096


async def test_a_full_step_says_so(user: SimUser, app: Any) -> None:
    await start_plan(user)
    await user.send("\n".join(f"sign {i}" for i in range(sp.MAX_ITEMS + 3)))
    assert "That's plenty for this step" in text_of(user)
    assert len(draft_of(app, user).items[0]) == sp.MAX_ITEMS  # type: ignore[union-attr]


@pytest.mark.parametrize("code", ["en", "es"])
@pytest.mark.parametrize("country_code", ["US", "GB", None])
def test_the_fullest_plan_fits_one_message(code: str, country_code: str | None) -> None:
    """Every step full of the longest typed items, with HTML specials and wide characters."""
    lang = CONTENT.lang(code)
    country = lang.country(country_code)
    draft = sp.new_draft(1, code, 0.0)
    sp.sync_lines(draft, lang, country)
    for step in range(len(sp.STEPS)):
        room = sp.MAX_ITEMS - len(draft.items[step])
        draft.add_typed(step, ["<&> 🌊 " + "ñ" * (sp.MAX_TYPED - 6)] * room)
    screen = sp.plan_message(lang, draft, country)
    assert html_problems(screen.text) == []
    assert visible_length(screen.text) <= sp.PLAN_LIMIT
    assert screen.text.count("&lt;&amp;&gt;") == sum(
        1 for items in draft.items for key, _ in items if key == sp.TYPED
    )
    for step in range(len(sp.STEPS)):
        draft.step = step
        step_screen = sp.step_screen(lang, draft, country)
        assert html_problems(step_screen.text) == [] and visible_length(step_screen.text) < 4096


def test_shorten_cuts_at_a_word() -> None:
    assert sp.shorten("alpha beta gamma delta", 20) == "alpha beta gamma…"
    assert sp.shorten("one two three four five", 12) == "one two thr…"  # no word end near
    assert sp.shorten("  short \n text ", 40) == "short text"
    assert len(sp.shorten("x" * 500, 50)) == 50


# --- the 30 minutes ------------------------------------------------------------------------------


def expiry_job(app: Any, person: SimUser) -> Any:
    """The latest expiry job of the person's plan (a job run by hand stays scheduled too)."""
    jobs = app.job_queue.get_jobs_by_name(f"{handler.JOB}{person.user_id}")
    assert jobs
    return max(jobs, key=lambda job: job.next_t)


async def test_thirty_minutes_without_an_answer_delete_the_plan(
    user: SimUser, app: Any, clock: Clock
) -> None:
    await start_plan(user)
    await user.send("a sign nobody should keep")
    step_message = user.screen.message_id
    job = expiry_job(app, user)
    clock.advance(31)
    await job.run(app)
    assert handler.KEY not in plan_data(app, user) and "awaiting" not in plan_data(app, user)
    edited = user.api.message(user.chat_id, step_message)
    assert edited is not None and "wasn't finished, so I deleted it" in (edited.text or "")
    assert "a sign nobody should keep" not in (edited.text or "")
    await user.send("hello again")
    assert "can't reply to messages in my own words" in text_of(user)


async def test_an_answer_within_the_thirty_minutes_keeps_the_plan(
    user: SimUser, app: Any, clock: Clock
) -> None:
    await start_plan(user)
    job = expiry_job(app, user)
    clock.advance(20)
    await user.send("a sign")
    clock.advance(11)  # 31 minutes since the start, 11 since the answer
    await job.run(app)
    assert draft_of(app, user) is not None
    clock.advance(20)
    await expiry_job(app, user).run(app)  # the job looked again when its time was up
    assert draft_of(app, user) is None


async def test_a_plan_past_its_time_is_deleted_at_the_next_message_too(
    user: SimUser, app: Any, clock: Clock
) -> None:
    """Even if the job has not run (a busy scheduler), an old plan is never carried on."""
    await start_plan(user)
    await user.send("a sign")
    clock.advance(45)
    await user.send("another sign")
    assert "can't reply to messages in my own words" in text_of(user)
    assert handler.KEY not in plan_data(app, user)


# --- where it is reached ------------------------------------------------------------------------


async def test_help_now_offers_a_safety_plan(user: SimUser) -> None:
    await user.command("/helpnow")
    assert "📝 Make a safety plan" in user.buttons
    await user.press("Make a safety plan")
    assert "Your safety plan" in text_of(user)


async def test_the_coping_page_offers_a_safety_plan(user: SimUser) -> None:
    await user.command("/menu")
    await user.press_data(cb.CB_PAGE + "coping")
    await user.press("Make a safety plan")
    assert "Your safety plan" in text_of(user)


def test_a_hard_check_in_offers_a_safety_plan() -> None:
    for lang in (EN, ES):
        screen = cs.answer_struggling(lang)
        assert screen.keyboard is not None
        data = [b.callback_data for row in screen.keyboard.inline_keyboard for b in row]
        assert cb.SP_OPEN in data


async def test_plan_is_in_the_command_list_in_both_languages(user: SimUser) -> None:
    for call in user.api.calls_to("setMyCommands"):
        names = [c["command"] for c in call.params["commands"]]
        if len(names) > 1:
            assert "plan" in names
    await user.command("/help")
    assert "/plan" in text_of(user)


async def test_plan_in_a_group_points_to_the_private_chat(user: SimUser, app: Any) -> None:
    await user.send_in_group("/plan", group_id=-100777)
    answer = user.api.last_bot_message(-100777)
    assert answer is not None and "private chat" in (answer.text or "")
    assert handler.KEY not in plan_data(app, user)


# --- content ------------------------------------------------------------------------------------


def test_every_step_has_three_to_six_suggestions_in_both_languages() -> None:
    for lang in (EN, ES):
        for step, key in enumerate(sp.STEPS):
            draft = sp.new_draft(1, lang.code, 0.0)
            draft.step = step
            buttons = sp.choices(lang, lang.country("US"), step)
            assert 3 <= len(buttons) <= sp.MAX_BUTTONS, (lang.code, key)
            assert 3 <= len(sp.choices(lang, None, step)) <= sp.MAX_BUTTONS


def test_a_language_without_the_safety_plan_file_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, root)
    (root / "es" / "safety_plan.yaml").unlink()
    with pytest.raises(ContentError) as caught:
        load_content(root)
    assert "es/safety_plan.yaml: file is missing" in "\n".join(caught.value.problems)


def test_missing_keys_and_bad_suggestions_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, root)
    path = root / "es" / "safety_plan.yaml"
    words = path.read_text("utf-8")
    words = words.replace("  undo: ", "  deshacer: ").replace('"Dormir mal"', '"Dormir <mal>"')
    path.write_text(words, "utf-8")
    with pytest.raises(ContentError) as caught:
        load_content(root)
    report = "\n".join(caught.value.problems)
    assert "es/safety_plan.yaml: missing 'buttons.undo'" in report
    assert "step 'warning_signs': suggestion 1 must be 1-40 characters, no < > &" in report


def test_services_reach_the_plan_from_the_hotline_data_only(app: Any) -> None:
    """The numbers in step 5 come from content/hotlines.yaml (each with a source)."""
    content = services_of(app).content
    numbers = content.all_numbers()
    for code, country in EN.countries.items():
        for line in sp.lines(EN, country):
            digits = "".join(c for c in line.label if c.isdigit())
            assert not digits or digits in numbers, (code, line.label)
