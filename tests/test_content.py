"""Content: the shipped content is valid, covers the article in its own words, and keeps to the
safety rules; broken content is refused with a report naming the file and the problem."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot import screens
from bot.config import DEFAULT_CONTENT_DIR
from bot.content import Content, ContentError, load_content
from bot.telegram_html import html_problems, visible_length, visible_text

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "help-for-drug-addiction.txt"


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content(DEFAULT_CONTENT_DIR)


def all_bot_texts(content: Content) -> list[tuple[str, str]]:
    """(where, text) for every text the bot itself writes."""
    texts: list[tuple[str, str]] = []
    for code, lang in content.languages.items():
        texts += [(f"{code} page {p.id}", p.text) for p in lang.pages.values()]
        texts += [(f"{code} page title {p.id}", p.title) for p in lang.pages.values()]
        ui = lang.texts.area("ui")
        texts += [(f"{code} ui {k}", v) for k, v in ui.items() if isinstance(v, str)]
        texts += [(f"{code} button {k}", v) for k, v in ui["buttons"].items()]
        texts += list(_strings(f"{code} checkins", lang.texts.area("checkins")))
        texts += list(_strings(f"{code} safety_plan", lang.texts.area("safety_plan")))
    return texts


def _strings(where: str, value: object) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(f"{where}.{k}", v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(f"{where}[{i}]", v)


def test_shipped_content_loads(content: Content) -> None:
    assert "en" in content.languages
    assert set(content.countries) >= {"US", "GB", "CA", "AU", "IE", "NZ", "IN", "DE"}


def test_every_screen_is_valid_telegram_html_within_limits(content: Content) -> None:
    for code, lang in content.languages.items():
        rendered = [screens.main_menu(lang), screens.main_menu(lang, greeting=True)]
        rendered += [screens.page(lang, p) for p in lang.pages]  # type: ignore[misc]
        rendered += [screens.help_now(lang, c) for c in lang.countries.values()]
        rendered += [screens.help_now(lang, None)]
        rendered += [screens.settings(lang, None), screens.privacy(lang)]
        for screen in rendered:
            assert screen is not None
            assert html_problems(screen.text) == [], (code, screen.text[:80])
            assert visible_length(screen.text) <= 4096
            for row in screen.keyboard.inline_keyboard if screen.keyboard else ():
                for button in row:
                    assert button.callback_data is None or len(button.callback_data.encode()) <= 64


def test_every_page_is_reachable_and_every_button_leads_somewhere(content: Content) -> None:
    for lang in content.languages.values():
        seen: set[str] = set()
        todo = [screens.main_menu(lang)]
        while todo:
            screen = todo.pop()
            assert screen.keyboard is not None
            for row in screen.keyboard.inline_keyboard:
                for button in row:
                    data = str(button.callback_data)
                    if data.startswith(screens.CB_EMERGENCY):  # the overdose/withdrawal steps
                        key = data.removeprefix(screens.CB_EMERGENCY)
                        assert key in screens.EMERGENCY_SCREENS, data
                    elif data.startswith(screens.CB_HELP + ":"):  # Help now, with Back to here
                        assert screens.back_target(lang, data) is not None, data
                    elif data.startswith(screens.CB_PAGE):
                        page_id = data.removeprefix(screens.CB_PAGE)
                        assert page_id in lang.pages, data
                        if page_id not in seen:
                            seen.add(page_id)
                            todo.append(screens.page(lang, page_id))  # type: ignore[arg-type]
                    else:
                        assert data in {
                            screens.CB_MENU,
                            screens.CB_HELP,
                            screens.CB_SETTINGS,
                            screens.CB_COUNTRY_PICK,
                            screens.CB_CHECKINS,
                            screens.SP_OPEN,
                        }, data
        assert seen == set(lang.pages)


def test_every_hotline_has_a_source_and_a_checked_date(content: Content) -> None:
    for country in [*content.countries.values(), content.international]:
        for service in country.services:
            assert service.source.strip(), service.name
            assert service.checked.year >= 2026, service.name


def test_help_now_lists_every_service_of_the_country(content: Content) -> None:
    lang = content.lang("en")
    for country in content.countries.values():
        text = visible_text(screens.help_now(lang, country).text)
        assert f"call {country.emergency}" in text
        for service in country.services:
            assert service.name in text
            for contact in service.contacts:
                assert contact.value.removeprefix("https://") in text


def test_help_now_orders_emergency_then_crisis_then_drug_lines(content: Content) -> None:
    lang = content.lang("en")
    text = visible_text(screens.help_now(lang, lang.countries["US"]).text)
    positions = [text.index(s) for s in ("911", "988", "1-800-662-4357", "Breathe")]
    assert positions == sorted(positions)


# --- The article, covered in our own words ---------------------------------------------------


GUIDE_MUST_MENTION = [
    "tolerance",
    "withdrawal",
    "control",
    "responsibilit",
    "inpatient",
    "outpatient",
    "one-to-one|individual",
    "group",
    "family",
    "methadone",
    "buprenorphine",
    "naltrexone",
    "disulfiram",
    "acamprosate",
    "Alcoholics Anonymous|AA",
    "Narcotics Anonymous|NA",
    "SMART Recovery",
    "SAMHSA",
    "compassion|kindness|empathy",
    "stigma|judg",
    "patien",
    "seizure",
    "5-4-3-2-1|five things|5 things",
    "breath",
    "urge surfing|surf",
    "HALT|Hungry",
    "overdose",
    "naloxone",
    "aa.org",
    "na.org",
    "smartrecovery.org",
    "findtreatment.gov",
]


@pytest.mark.parametrize("needle", GUIDE_MUST_MENTION)
def test_guide_covers_the_article_and_more(content: Content, needle: str) -> None:
    guide = "\n".join(visible_text(p.text) for p in content.lang("en").pages.values())
    assert re.search(needle, guide, re.IGNORECASE), needle


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", visible_text(text).lower())


@pytest.mark.skipif(not SEED.exists(), reason="shared/seed is not beside the checkout")
def test_guide_does_not_copy_the_article(content: Content) -> None:
    source = _words(SEED.read_text(encoding="utf-8"))
    runs = {" ".join(source[i : i + 8]) for i in range(len(source) - 7)}
    for page in content.lang("en").pages.values():
        words = _words(page.text)
        copied = [" ".join(words[i : i + 8]) for i in range(len(words) - 7)]
        assert not [r for r in copied if r in runs], page.id


# --- Safety rules ------------------------------------------------------------------------------

STIGMA = re.compile(r"\b(addicts?|junkies?|junkie|abusers?|clean|dirty)\b", re.IGNORECASE)
ORG_NAMES = re.compile(r"Substance Abuse and Mental Health Services Administration")
DOSE = re.compile(
    r"\b\d+(\.\d+)?\s*(mg|mcg|µg|ml|g|milligrams?|millilitres?|milliliters?)\b"
    r"|\b(tablets?|pills?|doses?|capsules?)\s+(a|per|each)\s+day\b"
    r"|\b\d+\s+(tablets?|pills?|doses?|capsules?)\b",
    re.IGNORECASE,
)
PHONE = re.compile(r"(?<![\w/.-])\+?\d[\d \-]{2,}\d(?![\w/])")


def test_no_stigmatising_words_in_the_bots_own_text(content: Content) -> None:
    for where, text in all_bot_texts(content):
        assert not STIGMA.search(ORG_NAMES.sub("", text)), where


def test_no_doses_in_guide_text(content: Content) -> None:
    for where, text in all_bot_texts(content):
        assert not DOSE.search(visible_text(text)), where


def test_every_phone_number_in_texts_is_in_the_hotline_data(content: Content) -> None:
    known = content.all_numbers()
    for where, text in all_bot_texts(content):
        for match in PHONE.finditer(visible_text(text)):
            digits = re.sub(r"\D", "", match.group())
            if len(digits) < 3 or match.group().strip() in {"5-4-3-2-1"}:
                continue
            assert digits in known, f"{where}: {match.group()!r} is not in hotlines.yaml"


@pytest.mark.parametrize(
    "text", ["Take 30 mg twice a day.", "two tablets a day", "4 pills", "5ml at night"]
)
def test_dose_rule_catches_doses(text: str) -> None:
    assert DOSE.search(text)


def test_stigma_rule_catches_stigmatising_words() -> None:
    assert STIGMA.search("an addict") and STIGMA.search("tested clean")
    assert not STIGMA.search(
        ORG_NAMES.sub("", "Substance Abuse and Mental Health Services Administration")
    )


# Spanish: "adicto" (every form), "drogadicto", "yonqui", "toxicómano", and "limpio"/"sucio" next
# to a word for a drug test ("prueba", "test", "análisis", "orina", "antidoping"), in any text the
# bot itself shows in Spanish: every text of content/es/*.yaml, the Spanish side of every
# {en, es} text in hotlines.yaml, and the crisis reply (not the crisis phrase lists, which match
# what people write). "adicción" and "adictivo" are fine.
_ES_DRUG_TEST = r"(?:pruebas?|tests?|an[aá]lisis|orina|antidoping|antidopaje|toxicol[oó]gic[oa]s?)"
_ES_CLEAN = r"(?:limpi|suci)[oa]s?"
ES_STIGMA = re.compile(
    r"\b(?:adict[oa]s?|drogadict[oa]s?|yonqu[ie]s?|yonkis?|yonquies|toxic[oó]man[oa]s?)\b"
    rf"|\b{_ES_CLEAN}\b(?:\W+\w+){{0,3}}?\W+{_ES_DRUG_TEST}\b"
    rf"|\b{_ES_DRUG_TEST}\b(?:\W+\w+){{0,3}}?\W+{_ES_CLEAN}\b",
    re.IGNORECASE,
)
ES_ORG_NAMES: tuple[str, ...] = ()
"""Names of organisations that contain one of those words, allowed as names (none shipped yet)."""


def spanish_bot_texts(directory: Path) -> list[tuple[str, str]]:
    """(where, text) for every text the bot shows in Spanish, read from the content files."""
    texts: list[tuple[str, str]] = []
    for path in sorted((directory / "es").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if path.name == "crisis.yaml":
            texts.append((f"es/{path.name} reply", data["reply"]))
            continue
        found = _strings(f"es/{path.name}", data)
        if path.name == "intents.yaml":  # what people type, like the crisis phrase lists
            found = (
                (w, t) for w, t in found if ".phrases[" not in w and ".exclude[" not in w
            )
        texts += list(found)
    hotlines = yaml.safe_load((directory / "hotlines.yaml").read_text(encoding="utf-8"))
    texts += [(w, t) for w, t in _strings("hotlines.yaml", hotlines) if w.endswith(".es")]
    return texts


def spanish_stigma_problems(
    directory: Path, org_names: tuple[str, ...] = ES_ORG_NAMES
) -> list[str]:
    """Where a stigmatising Spanish word appears outside an organisation's name."""
    problems = []
    for where, text in spanish_bot_texts(directory):
        for name in org_names:
            text = re.sub(re.escape(name), " ", text, flags=re.IGNORECASE)
        if (match := ES_STIGMA.search(text)) is not None:
            problems.append(f"{where}: {match.group()!r}")
    return problems


def test_no_stigmatising_words_in_the_bots_own_spanish_text() -> None:
    assert len(spanish_bot_texts(DEFAULT_CONTENT_DIR)) > 100  # the rule reads the real texts
    assert spanish_stigma_problems(DEFAULT_CONTENT_DIR) == []


@pytest.mark.parametrize(
    "planted",
    [
        "Un adicto también merece ayuda.",
        "Las ADICTAS y los adictos",
        "no es un drogadicto",
        "los yonquis del barrio",
        "una toxicómana",
        "salió limpio en el antidoping",
        "la prueba de orina salió sucia",
        "dio limpia en el test",
        "análisis sucios",
    ],
)
def test_spanish_stigma_rule_fails_on_a_planted_word(content_copy: Path, planted: str) -> None:
    _edit(
        content_copy / "es" / "guide.yaml",
        lambda d: d["pages"][d["menu"][0]].update(text=d["pages"][d["menu"][0]]["text"] + planted),
    )
    problems = spanish_stigma_problems(content_copy)
    assert len(problems) == 1 and problems[0].startswith("es/guide.yaml"), problems


def test_spanish_stigma_rule_reads_hotlines_and_the_crisis_reply(content_copy: Path) -> None:
    def plant(d: dict) -> None:  # type: ignore[type-arg]
        d["countries"]["ES"]["services"][0]["about"] = {"en": "For anyone.", "es": "Para adictos."}

    _edit(content_copy / "hotlines.yaml", plant)
    _edit(content_copy / "es" / "crisis.yaml", lambda d: d.update(reply="Hola, yonqui."))
    problems = spanish_stigma_problems(content_copy)
    assert len(problems) == 2, problems
    assert problems[0].startswith("es/crisis.yaml reply")
    assert problems[1].startswith("hotlines.yaml.countries.ES.services[0].about.es")


@pytest.mark.parametrize(
    "text",
    [
        "la adicción es una enfermedad",
        "una sustancia muy adictiva",
        "una persona con un trastorno por consumo de sustancias",
        "limpié la casa entera",
        "me hice una prueba de embarazo",
    ],
)
def test_spanish_stigma_rule_leaves_person_first_words_alone(text: str) -> None:
    assert not ES_STIGMA.search(text)


def test_spanish_stigma_rule_allows_an_organisations_name(content_copy: Path) -> None:
    name = "Asociación de Adictos en Recuperación"  # an example name, not a real organisation
    _edit(
        content_copy / "es" / "guide.yaml",
        lambda d: d["pages"][d["menu"][0]].update(text=d["pages"][d["menu"][0]]["text"] + name),
    )
    assert spanish_stigma_problems(content_copy)
    assert spanish_stigma_problems(content_copy, org_names=(name,)) == []


# --- Bad content is refused with a clear report ------------------------------------------------


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, target)
    return target


def _edit(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "change", "expected"),
    [
        (
            "en/guide.yaml",
            lambda d: d["pages"][d["menu"][0]].update(text="<b>open"),
            "unclosed tag",
        ),
        ("en/guide.yaml", lambda d: d["pages"][d["menu"][0]].update(text="A & B"), "bare &"),
        ("en/guide.yaml", lambda d: d["pages"][d["menu"][0]].update(text="x" * 5000), "characters"),
        (
            "en/guide.yaml",
            lambda d: d["pages"][d["menu"][0]].update(children=["nowhere"]),
            "child 'nowhere' is not a page",
        ),
        (
            "en/guide.yaml",
            lambda d: d["pages"].update(orphan={"title": "O", "text": "o"}),
            "'orphan' cannot be reached",
        ),
        (
            "en/guide.yaml",
            lambda d: d["pages"][d["menu"][0]].update(text="<script>x</script>"),
            "not allowed",
        ),
        ("en/ui.yaml", lambda d: d.pop("welcome"), "missing text 'welcome'"),
        (
            "hotlines.yaml",
            lambda d: d["countries"]["US"]["services"][0].pop("source"),
            "'source' is missing",
        ),
        (
            "hotlines.yaml",
            lambda d: d["countries"]["US"]["services"][0].update(checked="soon"),
            "'checked' must be a date",
        ),
        (
            "hotlines.yaml",
            lambda d: d["countries"]["GB"].pop("emergency"),
            "'emergency' number is missing",
        ),
    ],
)
def test_bad_content_is_refused_with_file_and_problem(
    content_copy: Path,
    file: str,
    change,
    expected: str,  # type: ignore[no-untyped-def]
) -> None:
    _edit(content_copy / file, change)
    with pytest.raises(ContentError) as info:
        load_content(content_copy)
    report = str(info.value)
    assert expected in report
    assert file.split("/")[-1] in report


def test_broken_yaml_is_reported(content_copy: Path) -> None:
    (content_copy / "en" / "guide.yaml").write_text("pages: [unclosed", encoding="utf-8")
    with pytest.raises(ContentError, match=r"guide\.yaml: not valid YAML"):
        load_content(content_copy)


def test_every_emergency_screen_fits_one_phone_screen_in_every_language(content: Content) -> None:
    """Overdose, withdrawal, suicide and danger screens: under 900 visible characters for every
    country and for no country, numbers in the text, valid Telegram HTML."""
    too_long = []
    for code, lang in content.languages.items():
        for category in screens.EMERGENCY_SCREENS:
            for country in [None, *lang.countries.values()]:
                screen = screens.emergency(lang, category, country)
                assert html_problems(screen.text) == [], (code, category, screen.text[:80])
                length = visible_length(screen.text)
                if length >= 900:
                    too_long.append((code, category, country.code if country else None, length))
                number = country.emergency if country and country.emergency else None
                if number:
                    assert number in screen.text.split("\n", 1)[0], (code, category, country)
    assert not too_long, too_long


def test_guide_wording_a_clinician_asked_for(content: Content) -> None:
    """Medication for opioid use disorder helps on its own (counselling welcome, never a
    condition); methadone and buprenorphine both lower overdose deaths; hallucinations and
    confusion (delirium tremens) are named among alcohol withdrawal emergencies."""
    en, es = content.lang("en"), content.lang("es")
    assert "never a condition" in en.pages["medication"].text
    assert "nunca es una condición" in es.pages["medication"].text
    opioids = en.pages["medication_opioids"].text.split("\n")
    for name in ("Methadone", "Buprenorphine"):
        line = next(x for x in opioids if name in x)
        assert "lowers the risk of dying of an overdose" in line, line
    assert "delirium tremens" in en.pages["treatment_detox"].text
    assert "delirium tremens" in es.pages["treatment_detox"].text


async def test_unknown_command_lists_every_command_people_need() -> None:
    text = load_content(DEFAULT_CONTENT_DIR).lang("en").t("ui.fallback_command")
    for command in ("/start", "/helpnow", "/sos", "/delete", "/settings", "/menu"):
        assert command in text, command
