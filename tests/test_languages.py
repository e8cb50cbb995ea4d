"""Languages: chosen from Telegram, switchable in Settings, complete in every language, and what
differs between languages (typing times, dates, places) read from each language's rules.yaml."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest

from bot.checkin_screens import parse_date
from bot.checkin_time import find_zone, parse_time
from bot.config import DEFAULT_CONTENT_DIR
from bot.content import ContentError, load_content
from bot.screens import help_now
from tests.fake import FakeTelegram, SimUser

CONTENT = load_content(DEFAULT_CONTENT_DIR)
ES = CONTENT.lang("es")


@pytest.mark.parametrize("code", ["es", "es-MX", "es-419", "es-ES", "ES_ar"])
async def test_spanish_telegram_gets_spanish_from_the_first_screen(
    make_user: Callable[..., SimUser], code: str
) -> None:
    person = make_user(4242, language_code=code)
    await person.command("/start")
    text = person.screen.text or ""
    assert "Hola" in text and "inglés" in text, text  # Spanish, and says English is there
    assert "🆘 Ayuda ahora" in person.screen.buttons


@pytest.mark.parametrize("code", ["de", "fr-CA", None])
async def test_a_language_the_bot_does_not_speak_gets_english(
    make_user: Callable[..., SimUser], code: str | None
) -> None:
    person = make_user(4243, language_code=code)
    await person.command("/start")
    assert "I'm glad you're here" in (person.screen.text or "")


async def test_switching_language_shows_settings_again_in_the_new_language(
    make_user: Callable[..., SimUser],
) -> None:
    person = make_user(4244, language_code="en")
    await person.command("/settings")
    await person.press("🗣 Language")
    await person.press("Español")
    assert "Ajustes" in (person.screen.text or "")
    assert "🗣 Idioma" in person.screen.buttons
    await person.command("/menu")  # the choice is stored, not only shown once
    assert "Menú" in (person.screen.text or "") or "menú" in (person.screen.text or "")
    await person.command("/settings")
    await person.press("🗣 Idioma")
    await person.press("English")
    assert "Settings" in (person.screen.text or "")


async def test_spanish_crisis_message_gets_help_now_in_spanish(
    make_user: Callable[..., SimUser],
) -> None:
    person = make_user(4245, language_code="es-MX")
    await person.send("quiero morirme")
    texts = [m.text or "" for m in person.history if m.from_bot]
    assert any("911" in t or "112" in t or "emergencia" in t.lower() for t in texts), texts


def test_spanish_help_now_without_a_country_lists_spanish_speaking_lines() -> None:
    text = help_now(ES, None).text
    assert "AYUDA" in text and "988" in text  # 988 in Spanish: text AYUDA to 988
    assert "marca el" in text  # call 988 and press 2
    for country in ("España", "México", "Argentina", "Colombia", "Chile"):
        assert country in text, country


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("8 de la mañana", time(8, 0)),
        ("8 de la manana", time(8, 0)),
        ("a las 20:30", time(20, 30)),
        ("8:30 pm", time(20, 30)),
        ("8 de la noche", time(20, 0)),
        ("12 de la noche", time(0, 0)),
        ("4 de la tarde", time(16, 0)),
        ("mediodía", time(12, 0)),
        ("medianoche", time(0, 0)),
    ],
)
def test_spanish_times(typed: str, expected: time) -> None:
    assert parse_time(typed, ES.rules) == expected


def test_english_words_are_not_spanish_rules() -> None:
    assert parse_time("noon", ES.rules) is None
    assert parse_time("8 de la mañana", CONTENT.lang("en").rules) is None


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Ciudad de México", "America/Mexico_City"),
        ("cdmx", "America/Mexico_City"),
        ("Bogotá", "America/Bogota"),
        ("Madrid", "Europe/Madrid"),
        ("Nueva York", "America/New_York"),
    ],
)
def test_spanish_city_names(typed: str, zone: str) -> None:
    assert find_zone(typed, ES.rules.cities).zone == zone


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("3 de marzo", date(2026, 3, 3)),
        ("3 de marzo de 2024", date(2024, 3, 3)),
        ("1ro de diciembre", date(2026, 12, 1)),
        ("5 de diciembre", date(2025, 12, 5)),  # without a year: the latest one so far
        ("hoy", date(2026, 12, 3)),
        ("ayer", date(2026, 12, 2)),
        ("15 setiembre", date(2026, 9, 15)),
    ],
)
def test_spanish_dates(typed: str, expected: date) -> None:
    assert parse_date(typed, ES.rules, date(2026, 12, 3)) == expected


def test_spanish_plural_and_dates_come_from_cldr() -> None:
    assert ES.texts.plural("checkins.screens.days", 1) == "1 día"
    assert ES.texts.plural("checkins.screens.days", 12) == "12 días"
    assert "diciembre" in ES.texts.date(date(2026, 12, 8))
    assert CONTENT.lang("en").texts.date(date(2026, 12, 8)) == "Tue 8 Dec"


def test_a_partial_third_language_is_refused_naming_what_it_lacks(tmp_path: Path) -> None:
    """Adding a language is files only: a folder missing a file, a key, a page or a list entry
    stops startup, and the report names each one."""
    root = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, root)
    shutil.copytree(root / "en", root / "de")
    (root / "de" / "admin.yaml").unlink()
    ui = (root / "de" / "ui.yaml").read_text("utf-8")
    (root / "de" / "ui.yaml").write_text(ui.replace("  help_now: ", "  hilfe: "), "utf-8")
    guide = (root / "de" / "guide.yaml").read_text("utf-8")
    assert "\n  coping_now:" in guide or "\n  coping:" in guide
    with pytest.raises(ContentError) as caught:
        load_content(root)
    report = "\n".join(caught.value.problems)
    assert "de/admin.yaml: file is missing" in report
    assert "de/ui.yaml: missing 'buttons.help_now'" in report
    assert "de/ui.yaml: 'buttons.hilfe' is not in en" in report
    # Every hotline text needs the new language too.
    assert "no 'de' text" in report


def test_every_language_has_every_key_page_and_list_entry_of_the_others() -> None:
    """The shipped content loads, and loading compares every language with the default."""
    en, es = CONTENT.lang("en"), CONTENT.lang("es")
    assert set(en.pages) == set(es.pages)
    assert len(en.texts.items("checkins.encouragements")) == len(
        es.texts.items("checkins.encouragements")
    )
    assert set(en.countries) == set(es.countries)


def test_telegram_sees_commands_and_descriptions_in_both_languages(
    api: FakeTelegram, app: Any
) -> None:
    for method in ("setMyCommands", "setMyDescription", "setMyShortDescription"):
        codes = {c.params.get("language_code") for c in api.calls_to(method)}
        assert {None, "es"} <= codes, (method, codes)


def test_a_service_only_for_spanish_speakers_is_not_shown_in_english() -> None:
    english = help_now(CONTENT.lang("en"), CONTENT.lang("en").countries["US"]).text
    spanish = help_now(ES, ES.countries["US"]).text
    assert "AYUDA" in spanish and "marca el" in spanish
    assert "AYUDA" not in english and "press 2" not in english
