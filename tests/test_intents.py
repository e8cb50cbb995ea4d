"""Intents: free text that leads somewhere (``content/<lang>/intents.yaml``, ``bot.intents``).

Accuracy on the labelled tuning sets (``tests/intent_data/<lang>.tsv``; the held-out parts are
only counted and checked for overlap here, never scored: ``python benchmarks/intents.py``
prints their figures), the loader's refusals, and journeys: each intent in English and Spanish,
crisis language still getting Help now first, and nothing typed being stored.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bot.config import DEFAULT_CONTENT_DIR
from bot.content import Content, ContentError, Language, load_content
from bot.intents import INTENTS, IntentMatcher, find_intent
from bot.telegram_html import visible_text
from tests.fake import SimUser

DATA = Path(__file__).resolve().parent / "intent_data"
LANGS = ("en", "es")
LABELS = (*INTENTS, "none")
MIN_PRECISION = 0.95
MIN_RECALL = 0.95

CONTENT = load_content(DEFAULT_CONTENT_DIR)

Row = tuple[str, str]  # label, text


def read_labelled(path: Path) -> list[Row]:
    """Rows of a labelled TSV file (header ``label<TAB>text``)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "label\ttext", f"{path}: bad header"
    rows: list[Row] = []
    for number, line in enumerate(lines[1:], start=2):
        label, text = line.split("\t")
        assert label in LABELS, f"{path}:{number}: label {label!r}"
        assert text.strip(), f"{path}:{number}: empty text"
        rows.append((label, text))
    return rows


def matchers(content: Content, code: str) -> list[IntentMatcher | None]:
    """What the bot checks for a person using ``code``: their language, then the default."""
    lang, default = content.lang(code), content.lang(None)
    return [lang.intents] + ([default.intents] if default is not lang else [])


# --- The labelled sets --------------------------------------------------------------------------


@pytest.mark.parametrize("code", LANGS)
def test_labelled_sets_are_big_enough_split_and_crisis_free(code: str) -> None:
    tuning = read_labelled(DATA / f"{code}.tsv")
    heldout = read_labelled(DATA / f"{code}_heldout.tsv")
    assert len(tuning) + len(heldout) >= 300
    assert 0.2 <= len(heldout) / (len(tuning) + len(heldout)) <= 0.35
    for rows in (tuning, heldout):
        counts = Counter(label for label, _ in rows)
        assert all(counts[label] >= 10 for label in LABELS), counts
    seen = {text.casefold() for _, text in tuning}
    assert not [t for _, t in heldout if t.casefold() in seen], "held-out overlaps tuning"
    assert len(seen) == len(tuning), "a tuning message is listed twice"
    # Crisis language is answered before intents are looked at: none belongs in these sets.
    detectors = {id(d): d for d in (CONTENT.lang(code).crisis, CONTENT.lang(None).crisis) if d}
    caught = [t for _, t in tuning + heldout for d in detectors.values() if d.check(t)]
    assert not caught, caught


@pytest.mark.parametrize("code", LANGS)
def test_precision_and_recall_per_intent_on_the_tuning_set(code: str) -> None:
    rows = read_labelled(DATA / f"{code}.tsv")
    chain = matchers(CONTENT, code)
    found: Counter[tuple[str, str]] = Counter()
    wrong: list[str] = []
    for label, text in rows:
        got = find_intent(text, chain) or "none"
        found[label, got] += 1
        if got != label:
            wrong.append(f"  want {label}, got {got}: {text}")
    print(f"\n{code}: {len(rows)} tuning messages")
    failures = []
    for intent in INTENTS:
        hits = found[intent, intent]
        predicted = sum(found[label, intent] for label in LABELS)
        actual = sum(found[intent, got] for got in LABELS)
        precision = hits / predicted if predicted else 0.0
        recall = hits / actual
        print(f"  {intent:<14} precision {precision:.2f} recall {recall:.2f} ({hits}/{actual})")
        if precision < MIN_PRECISION or recall < MIN_RECALL:
            failures.append(f"{intent}: precision {precision:.2f}, recall {recall:.2f}")
    assert not failures, "\n".join(failures + wrong)


# --- Matching -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "text", "intent"),
    [
        ("en", "i relapsed last night", "slip"),
        ("en", "i slipped on the ice", None),
        ("en", "my brother relapsed", "worried_other"),
        ("en", "does naltrexone help with cravings", "medication"),  # the medicine wins
        ("en", "craving pizza", None),
        ("en", "STOP", "stop_checkins"),
        ("en", "i can't stop laughing", None),
        ("es", "se me antoja una pizza", None),
        ("es", "recaí ayer", "slip"),
        ("es", "RECAI AYER!!!", "slip"),  # case, accents and punctuation do not matter
        ("es", "i relapsed", "slip"),  # English works for Spanish speakers too
        ("es", "mi hermano recayó", "worried_other"),
    ],
)
def test_what_a_message_leads_to(code: str, text: str, intent: str | None) -> None:
    assert find_intent(text, matchers(CONTENT, code)) == intent


def test_every_language_has_every_intent_with_buttons_to_real_pages() -> None:
    for lang in CONTENT.languages.values():
        assert lang.intents is not None
        assert set(lang.intents.intents) == set(INTENTS)
        for intent in lang.intents.intents.values():
            assert 1 <= len(intent.buttons) <= 3
            assert all(b in lang.pages or b == "@checkins" for b in intent.buttons)


def test_the_slip_answer_leads_with_the_tolerance_warning() -> None:
    for code, word in (("en", "tolerance"), ("es", "tolerancia")):
        intents = CONTENT.lang(code).intents
        assert intents is not None
        answer = intents.intents["slip"].answer
        first = answer.split(".")[0].split(":")[0]
        assert word in first and "overdose" in answer.replace("sobredosis", "overdose")


def test_the_medication_answer_describes_and_points_to_a_doctor_or_pharmacist() -> None:
    for code, words in (("en", ("doctor", "pharmacist")), ("es", ("médico", "farmacéutico"))):
        intents = CONTENT.lang(code).intents
        assert intents is not None
        intent = intents.intents["medication"]
        assert all(w in intent.answer for w in words)
        assert intent.buttons[:2] == ("medication", "medication_talk")


# --- The loader refuses what would not work -----------------------------------------------------


def _copy_content(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, target)
    return target


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "buttons: [medication, medication_talk,",
            "buttons: [no_such_page, medication_talk,",
            r"button medication: no_such_page is not a guide page",
        ),
        ("  stop_checkins:\n", "  stop_checkinz:\n", r"intent 'stop_checkins' is missing"),
        (
            "buttons: [coping_urge, coping_breathing, coping]",
            "buttons: [coping_urge, coping_breathing, coping, hope]",
            r"4 buttons",
        ),
        ('      - "crav*"\n', '      - "crav* (a|b"\n', r"intent 'craving': phrase"),
        ("  food: [", "  relative: [", r"group 'relative' is already in crisis\.yaml"),
    ],
)
def test_bad_intents_are_refused_at_load(tmp_path: Path, old: str, new: str, problem: str) -> None:
    target = _copy_content(tmp_path)
    path = target / "en" / "intents.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ContentError, match=problem):
        load_content(target)


def test_a_language_without_intents_is_refused(tmp_path: Path) -> None:
    target = _copy_content(tmp_path)
    (target / "es" / "intents.yaml").unlink()
    with pytest.raises(ContentError, match=r"es/intents\.yaml"):
        load_content(target)


# --- Journeys -----------------------------------------------------------------------------------

JOURNEYS = {
    "en": {
        "slip": "ugh i relapsed last night after 2 months",
        "craving": "the cravings are really bad tonight",
        "treatment": "how do i find an na meeting near me",
        "worried_other": "my son is using again, what do i do",
        "medication": "what is suboxone",
        "stop_checkins": "please stop the check ins",
    },
    "es": {
        "slip": "recaí anoche después de 2 meses",
        "craving": "tengo muchísimas ganas de consumir hoy",
        "treatment": "dónde hay reuniones de narcóticos anónimos cerca",
        "worried_other": "mi hijo está consumiendo otra vez, qué hago",
        "medication": "qué es la metadona",
        "stop_checkins": "ya no quiero los mensajes diarios",
    },
}


def _button_labels(lang: Language, intent: str) -> list[str]:
    assert lang.intents is not None
    return [
        lang.t("ui.buttons.checkins") if b == "@checkins" else lang.pages[b].title
        for b in lang.intents.intents[intent].buttons
    ]


@pytest.mark.parametrize("code", LANGS)
@pytest.mark.parametrize("intent", INTENTS)
async def test_each_intent_gets_its_answer_and_buttons(
    make_user: Callable[..., SimUser], code: str, intent: str
) -> None:
    lang = CONTENT.lang(code)
    assert lang.intents is not None
    person = make_user(5000, language_code=code)
    await person.send(JOURNEYS[code][intent])
    text = person.screen.text or ""
    assert visible_text(lang.intents.intents[intent].answer) in text, text
    assert lang.t("ui.fallback_text").split(",")[0] not in text
    buttons = person.buttons
    assert buttons[: len(_button_labels(lang, intent))] == _button_labels(lang, intent)
    assert lang.t("ui.buttons.main_menu") in buttons and lang.t("ui.buttons.help_now") in buttons
    # The first button opens its page (or the check-in screen).
    await person.press(_button_labels(lang, intent)[0])
    target = lang.intents.intents[intent].buttons[0]
    opened = (
        lang.t("checkins.screens.status_off") if target == "@checkins" else lang.pages[target].text
    )
    assert visible_text(opened).split("\n")[0] in (person.screen.text or "")


async def test_stop_checkins_leads_to_the_check_in_screen_with_stop(user: SimUser) -> None:
    await user.command("/start")
    await user.press_data("set:c:GB")
    await user.command("/checkin")
    await user.press("Turn on daily check-ins")
    await user.press("Evening")
    await user.send("can you stop the daily messages")
    await user.press("🔔 Check-ins")
    assert "🔕 Stop check-ins" in user.buttons
    await user.press("🔕 Stop check-ins")
    assert "off" in (user.screen.text or "").lower() or "stopped" in (user.screen.text or "")


async def test_a_spanish_speaker_writing_english_gets_the_spanish_screen(
    make_user: Callable[..., SimUser],
) -> None:
    person = make_user(5001, language_code="es-MX")
    await person.send("i relapsed yesterday")
    assert "tolerancia" in (person.screen.text or "")
    assert "🔄 Si tienes un tropiezo" in person.buttons


async def test_other_text_keeps_the_friendly_answer_with_the_menu(user: SimUser) -> None:
    await user.send("i slipped on the ice this morning")
    assert "can't reply to messages in my own words" in (user.screen.text or "")
    assert "⚙️ Settings" in user.buttons or any("Settings" in b for b in user.buttons)


@pytest.mark.parametrize(
    ("code", "text", "emergency"),
    [
        ("en", "i relapsed and took too many pills, i feel really weird", "emergency number"),
        ("en", "i keep craving and i want to die", "emergency number"),
        ("es", "recaí y me tomé todas las pastillas", "emergencias"),
    ],
)
async def test_crisis_language_still_gets_help_now_not_an_intent(
    make_user: Callable[..., SimUser], code: str, text: str, emergency: str
) -> None:
    person = make_user(5002, language_code=code)
    await person.send(text)
    sends = [c for c in person.last_calls if c.method == "sendMessage"]
    assert len(sends) == 1  # Help now, and nothing after it
    reply = str(sends[0].params["text"])
    assert emergency in reply
    intents = CONTENT.lang(code).intents
    assert intents is not None
    assert not any(visible_text(i.answer)[:30] in reply for i in intents.intents.values())


async def test_nothing_typed_is_stored(make_user: Callable[..., SimUser], settings: Any) -> None:
    for code in LANGS:
        person = make_user(5003 if code == "en" else 5004, language_code=code)
        for message in JOURNEYS[code].values():
            await person.send(f"{message} zebra{code}")
    async with aiosqlite.connect(settings.database_path) as db:
        tables = [
            r[0]
            for r in await db.execute_fetchall("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        dump = ""
        for table in tables:
            dump += str(await db.execute_fetchall(f"SELECT * FROM {table}"))
    assert "zebra" not in dump
    for code in LANGS:
        for message in JOURNEYS[code].values():
            assert message not in dump
