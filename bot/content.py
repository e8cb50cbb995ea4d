"""Content: loading, validating and looking up everything in ``content/``.

``content/<lang>/guide.yaml`` (guide pages), ``ui.yaml`` (the bot's own words), ``checkins.yaml``,
``admin.yaml``, ``emergency.yaml`` (the emergency screens), ``safety_plan.yaml`` (the safety
plan's steps and suggestions), ``rules.yaml`` (how people type in that language,
:mod:`bot.language_rules`), ``crisis.yaml`` (crisis phrases, compiled by :mod:`bot.crisis`) and
``intents.yaml`` (what other free text leads to, compiled by :mod:`bot.intents`; its buttons
must be guide pages) are per language;
``content/hotlines.yaml`` holds the hotline data with a source and a checked date for every
entry, its texts in every language. :func:`load_content` validates all of it and raises
:class:`ContentError` listing each problem with its file, so bad content never goes live. Every
language must have every file, key, page, button and list entry the default language has, and
nothing more: a new language is a folder of files, and startup names exactly what it lacks.

Each :class:`Language` carries its words (:class:`bot.i18n.Texts`, the one text API), its guide
pages and its own view of the hotline data, resolved in that language.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from bot.crisis import CrisisDetector
from bot.i18n import AREAS, Texts
from bot.intents import IntentMatcher, load_intents
from bot.language_rules import LanguageRules, load_rules
from bot.telegram_html import MAX_MESSAGE, html_problems, visible_length

DEFAULT_LANGUAGE = "en"
LANGUAGE_FILES = (
    "ui",
    "guide",
    "checkins",
    "admin",
    "emergency",
    "safety_plan",
    "rules",
    "crisis",
    "intents",
)
"""Every language folder has exactly these files (``<name>.yaml``)."""
COMPILED_FILES = ("crisis", "intents")
"""Language files read by their own compilers (:mod:`bot.crisis`, :mod:`bot.intents`)."""
MAX_INTENT_ANSWER = 400  # one or two lines above the buttons
MENU = "menu"
SPECIAL_TARGETS = {"@helpnow", "@country", "@checkins", "@safety_plan"}
PAGE_ID_RE = re.compile(r"^[a-z0-9_]{1,40}$")
MAX_PAGE_LENGTH = 1200  # short screens: a page should fit a phone without much scrolling
MAX_CALLBACK_BYTES = 64
SERVICE_KINDS = {
    "crisis",
    "drugs",
    "poison",
    "overdose",
    "family",
    "youth",
    "mental_health",
    "directory",
}
CONTACT_TYPES = {"call", "text", "chat", "web", "email"}
REQUIRED_UI_KEYS = {
    "language_name",
    "welcome",
    "menu",
    "help",
    "helpnow_title",
    "helpnow_emergency",
    "helpnow_emergency_unknown",
    "helpnow_section_crisis",
    "helpnow_section_drugs",
    "helpnow_section_other",
    "helpnow_main_countries",
    "helpnow_find_more",
    "helpnow_what_happens",
    "helpnow_right_now",
    "settings",
    "settings_no_country",
    "country_prompt",
    "country_set",
    "country_cleared",
    "language_prompt",
    "language_set",
    "privacy",
    "what_stored_title",
    "what_stored_empty",
    "delete_ask",
    "delete_done",
    "delete_cancelled",
    "fallback_text",
    "fallback_media",
    "fallback_command",
    "fallback_edited",
    "fallback_stale",
    "fallback_stale_toast",
    "fallback_error",
    "group_only_private",
    "bot_description",
    "bot_short_description",
    "contact_call",
    "contact_text",
    "contact_text_keyword",
    "contact_chat",
    "contact_web",
    "contact_email",
    "service_free",
    "service_confidential",
}
REQUIRED_BUTTONS = {
    "help_now",
    "main_menu",
    "back",
    "next",
    "checkins",
    "settings",
    "set_country",
    "change_country",
    "language",
    "what_stored",
    "privacy",
    "delete",
    "delete_confirm",
    "delete_cancel",
    "coping",
    "no_country",
    "open_private",
}
SAFETY_PLAN_STEPS = (
    "warning_signs",
    "calm_alone",
    "distractions",
    "people_help",
    "professionals",
    "safer_surroundings",
    "reasons",
)
"""The steps of a safety plan (Stanley and Brown's Safety Planning Intervention), in order."""
SAFETY_PLAN_SUGGESTIONS = (3, 6)  # suggestion buttons per step (professionals: at least 2)
SAFETY_PLAN_BUTTONS = {
    "start",
    "begin",
    "done",
    "skip",
    "finish",
    "finish_empty",
    "back",
    "undo",
    "cancel",
    "again",
    "emergency",
    "emergency_unknown",
    "picked",
}
REQUIRED_COMMANDS = {
    "start",
    "menu",
    "helpnow",
    "checkin",
    "plan",
    "settings",
    "privacy",
    "delete",
    "help",
}


class ContentError(Exception):
    """Content is invalid; ``problems`` lists each one as 'file: what is wrong'."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid content:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Page:
    id: str
    title: str
    parent: str
    text: str
    children: tuple[str, ...] = ()
    next: str | None = None


@dataclass(frozen=True)
class Contact:
    type: str
    value: str
    keyword: str | None = None
    press: str | None = None  # the option to choose after calling ("call 988, then press 2")


@dataclass(frozen=True)
class Service:
    name: str
    kind: str
    about: str
    contacts: tuple[Contact, ...]
    hours: str | None
    free: bool
    confidential: bool
    languages: str | None
    note: str | None
    unconfirmed: str | None
    source: str
    checked: date
    only_languages: tuple[str, ...] = ()  # shown only to people using one of these


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    flag: str
    emergency: str | None
    emergency_note: str | None
    timezones: tuple[str, ...]
    services: tuple[Service, ...]
    naloxone: str | None = None  # how to get naloxone there (official sources only)
    good_samaritan: str | None = None  # what its Good Samaritan overdose law covers, if any

    @property
    def label(self) -> str:
        return f"{self.flag} {self.name}"


@dataclass(frozen=True)
class Language:
    """One language: its words (``t``), guide, crisis phrases and hotlines in its words."""

    code: str
    texts: Texts
    menu: tuple[str, ...]
    pages: dict[str, Page]
    crisis: CrisisDetector | None = None  # every loaded language has one (validated)
    intents: IntentMatcher | None = None  # likewise
    countries: dict[str, Country] = field(default_factory=dict)
    international: Country | None = None
    no_country: tuple[str, ...] = ()  # countries Help now lists when none is chosen
    # Screens that depend only on this language (and a country) are built once: see
    # bot.screens.once. A reload builds new Language objects, so nothing stale is kept.
    screens: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The language's own name ('English', 'Español')."""
        return self.texts.t("ui.language_name")

    @property
    def rules(self) -> LanguageRules:
        return self.texts.rules

    def t(self, key: str, **values: Any) -> str:
        """The text at ``"<area>.<key>"``, values escaped (see :meth:`bot.i18n.Texts.t`)."""
        return self.texts.t(key, **values)

    def country(self, code: str | None) -> Country | None:
        """A country's hotlines, in this language."""
        return self.countries.get(code or "")


@dataclass(frozen=True)
class Content:
    directory: Path
    languages: dict[str, Language]
    countries: dict[str, Country]
    international: Country

    def lang(self, code: str | None) -> Language:
        """The language ``code``, or the default one when it is not available."""
        return self.languages.get(code or DEFAULT_LANGUAGE) or self.languages[DEFAULT_LANGUAGE]

    def pick_language(self, telegram_code: str | None) -> str:
        """The best available language for a Telegram ``language_code`` like 'en-GB' or
        'es-419'; anything the bot does not speak gets the default language."""
        base = (telegram_code or "").replace("_", "-").split("-")[0].lower()
        return base if base in self.languages else DEFAULT_LANGUAGE

    def country(self, code: str | None) -> Country | None:
        return self.countries.get(code or "")

    def all_numbers(self) -> set[str]:
        """Every phone number or short code in the hotline data, digits only."""
        numbers: set[str] = set()
        for country in [*self.countries.values(), self.international]:
            if country.emergency:
                numbers.add(_digits(country.emergency))
            for service in country.services:
                for contact in service.contacts:
                    if contact.type in {"call", "text"}:
                        numbers.add(_digits(contact.value))
        return numbers


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def load_content(directory: Path) -> Content:
    """Load and validate ``directory``; raise :class:`ContentError` listing every problem."""
    problems: list[str] = []
    lang_dirs = sorted(p for p in directory.iterdir() if p.is_dir()) if directory.is_dir() else []
    codes = [d.name for d in lang_dirs]
    hotlines = _read_yaml(directory / "hotlines.yaml", problems)
    if DEFAULT_LANGUAGE not in codes:
        problems.append(f"{directory}: the default language '{DEFAULT_LANGUAGE}' is missing")
        raise ContentError(problems)
    # The default language first: every other one falls back to it and is compared with it.
    lang_dirs.sort(key=lambda d: d.name != DEFAULT_LANGUAGE)
    languages: dict[str, Language] = {}
    default: _Raw | None = None
    for lang_dir in lang_dirs:
        raw = _load_language(lang_dir, problems, codes, hotlines, default)
        if raw is None:
            continue
        if raw.language.code == DEFAULT_LANGUAGE:
            default = raw
        languages[raw.language.code] = raw.language
    base = languages.get(DEFAULT_LANGUAGE)
    if problems or base is None or base.international is None:
        raise ContentError(problems or [f"{directory}/hotlines.yaml: no international entry"])
    return Content(directory, languages, base.countries, base.international)


@dataclass(frozen=True)
class _Raw:
    """A loaded language and the raw files it came from (to compare other languages with)."""

    language: Language
    files: dict[str, Any]


def _load_language(
    lang_dir: Path,
    problems: list[str],
    codes: list[str],
    hotlines: dict[str, Any] | None,
    default: _Raw | None,
) -> _Raw | None:
    code = lang_dir.name
    files: dict[str, Any] = {}
    for name in LANGUAGE_FILES:
        if name in COMPILED_FILES:
            continue  # compiled by the crisis detector or the intents, which read them
        data = _read_yaml(lang_dir / f"{name}.yaml", problems)
        if data is not None:
            files[name] = data
    for name in AREAS:
        if name in files:
            _check_strings(str(lang_dir / f"{name}.yaml"), files[name], problems)
    crisis = None
    try:
        crisis = _crisis_detector(lang_dir / "crisis.yaml")
        _check_html(f"{lang_dir / 'crisis.yaml'}: 'reply'", crisis.reply, problems)
    except ValueError as exc:  # a language without crisis phrases must not go live
        problems.append(str(exc).replace("\n", " "))
    if default is not None:  # every file there is compared, even when another is missing
        for name in AREAS:
            if name in files:
                _compare(lang_dir / f"{name}.yaml", files[name], default.files[name], problems)
    if len(files) < len(LANGUAGE_FILES) - len(COMPILED_FILES):
        return None  # a missing file is reported; the rest cannot be checked without it
    ui_path = lang_dir / "ui.yaml"
    _validate_ui(ui_path, files["ui"], problems)
    _validate_safety_plan(lang_dir / "safety_plan.yaml", files["safety_plan"], problems)
    rules = load_rules(files["rules"], str(lang_dir / "rules.yaml"), problems)
    texts = Texts(
        code,
        {area: files[area] for area in AREAS},
        rules,
        default.language.texts if default is not None else None,
    )
    guide_path = lang_dir / "guide.yaml"
    pages, menu = _load_pages(guide_path, files["guide"], problems)
    if default is not None:
        _compare_guide(guide_path, pages, menu, default.language, problems)
    intents = _intents(lang_dir, pages, problems) if crisis is not None else None
    countries: dict[str, Country] = {}
    international = None
    no_country: tuple[str, ...] = ()
    if hotlines is not None:
        # Problems of the hotline data are reported once, while reading the default language.
        where = problems if default is None else []
        countries, international, no_country = _load_hotlines(
            lang_dir.parent / "hotlines.yaml", hotlines, code, codes, where
        )
    language = Language(
        code=code,
        texts=texts,
        menu=menu,
        pages=pages,
        crisis=crisis,
        intents=intents,
        countries=countries,
        international=international,
        no_country=no_country,
    )
    return _Raw(language, files)


PLURAL_CATEGORIES = {"zero", "one", "two", "few", "many", "other"}
"""CLDR plural categories: a mapping of these is one text in its language's plural forms."""


def _is_plural(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and set(map(str, value)) <= PLURAL_CATEGORIES


def _leaves(value: Any, unit: Any = lambda _: False, prefix: str = "") -> dict[str, Any]:
    """Every key path of a nested structure and the value there; ``unit(value)`` says which
    values count as one leaf even when they are lists or mappings."""
    if not unit(value) and isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        found: dict[str, Any] = {}
        for key, item in items:
            found.update(_leaves(item, unit, f"{prefix}{key}."))
        return found
    return {prefix.rstrip("."): value}


def _shape(value: Any) -> dict[str, str]:
    """Every key path and what is there ('a text', 'a list of 30', 'plural forms')."""

    def unit(item: Any) -> bool:
        strings = isinstance(item, list) and all(isinstance(x, str) for x in item)
        return strings or _is_plural(item)

    def describe(item: Any) -> str:
        if isinstance(item, list):
            return f"a list of {len(item)}"
        if isinstance(item, dict):
            # Plural forms differ by language (English: one, other; Spanish: one, many, other).
            return "plural forms" if "other" in item else "plural without other"
        return "a text"

    return {key: describe(item) for key, item in _leaves(value, unit).items()}


def _placeholders(value: Any) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", value)) if isinstance(value, str) else set()


def _compare(path: Path, own: Any, base: Any, problems: list[str]) -> None:
    """``own`` must have exactly the keys, list lengths and placeholders of ``base``."""
    mine, theirs = _shape(own), _shape(base)
    for key in sorted(theirs.keys() - mine.keys()):
        problems.append(f"{path}: missing '{key}' ({theirs[key]} in {DEFAULT_LANGUAGE})")
    for key in sorted(mine.keys() - theirs.keys()):
        problems.append(f"{path}: '{key}' is not in {DEFAULT_LANGUAGE} (remove it or add it there)")
    for key in sorted(mine.keys() & theirs.keys()):
        if mine[key] != theirs[key]:
            problems.append(f"{path}: '{key}' is {mine[key]}, {theirs[key]} in {DEFAULT_LANGUAGE}")
    flat_own, flat_base = _leaves(own), _leaves(base)
    for key in sorted(flat_own.keys() & flat_base.keys()):
        a, b = _placeholders(flat_own[key]), _placeholders(flat_base[key])
        if key.rsplit(".", 1)[-1] in PLURAL_CATEGORIES and "n" in a | b:
            a, b = a - {"n"}, b - {"n"}  # "1 día" may leave the number out
        if a != b:
            problems.append(
                f"{path}: '{key}' has placeholders {sorted(a)}, {sorted(b)} in {DEFAULT_LANGUAGE}"
            )


def _compare_guide(
    path: Path,
    pages: dict[str, Page],
    menu: tuple[str, ...],
    base: Language,
    problems: list[str],
) -> None:
    """The same pages, menu and links as the default language's guide."""
    for page_id in sorted(base.pages.keys() - pages.keys()):
        problems.append(f"{path}: missing page '{page_id}' (in {DEFAULT_LANGUAGE})")
    for page_id in sorted(pages.keys() - base.pages.keys()):
        problems.append(f"{path}: page '{page_id}' is not in {DEFAULT_LANGUAGE}")
    if menu != base.menu:
        problems.append(f"{path}: 'menu' differs from {DEFAULT_LANGUAGE}'s")
    for page_id in sorted(pages.keys() & base.pages.keys()):
        mine, theirs = pages[page_id], base.pages[page_id]
        if (mine.parent, mine.children, mine.next) != (theirs.parent, theirs.children, theirs.next):
            problems.append(
                f"{path}: page '{page_id}' links differently (parent, children, next) "
                f"from {DEFAULT_LANGUAGE}"
            )


def _read_yaml(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{path}: file is missing")
        return None
    except yaml.YAMLError as exc:
        problems.append(f"{path}: not valid YAML ({exc})".replace("\n", " "))
        return None
    if not isinstance(data, dict):
        problems.append(f"{path}: expected a mapping at the top level")
        return None
    return data


def _check_html(where: str, text: str, problems: list[str], limit: int = MAX_MESSAGE) -> None:
    for problem in html_problems(text):
        problems.append(f"{where}: {problem}")
    if visible_length(text) > limit:
        problems.append(f"{where}: text is {visible_length(text)} characters (limit {limit})")


def _crisis_detector(path: Path) -> CrisisDetector:
    """Compile a crisis file, reusing the result while the file is unchanged (compiling the
    phrase lists takes most of a content load; a reload of unchanged content is then cheap)."""
    try:
        stat = path.stat()
    except OSError:
        return CrisisDetector.from_file(path)  # raises the usual "cannot read" ValueError
    return _compiled_crisis(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _compiled_crisis(path: Path, mtime_ns: int, size: int) -> CrisisDetector:
    return CrisisDetector.from_file(path)


def _intents(lang_dir: Path, pages: dict[str, Page], problems: list[str]) -> IntentMatcher | None:
    """Compile ``intents.yaml`` (with this language's crisis normalisation) and check that its
    answers are valid short HTML and that every button leads to a guide page."""
    path = lang_dir / "intents.yaml"
    try:
        intents = load_intents(path, lang_dir / "crisis.yaml")
    except ValueError as exc:  # a language without its intents must not go live
        problems.append(str(exc).replace("\n", " "))
        return None
    for intent in intents.intents.values():
        _check_html(f"{path}: intent '{intent.name}' answer", intent.answer, problems)
        if visible_length(intent.answer) > MAX_INTENT_ANSWER:
            problems.append(
                f"{path}: intent '{intent.name}' answer is {visible_length(intent.answer)}"
                f" characters (limit {MAX_INTENT_ANSWER})"
            )
    for unknown in intents.unknown_targets(pages):
        problems.append(f"{path}: button {unknown} is not a guide page")
    return intents


def _check_strings(where: str, value: Any, problems: list[str]) -> None:
    """Every string in a nested structure must be valid Telegram HTML."""
    if isinstance(value, str):
        _check_html(where, value, problems)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(f"{where}: '{key}'", item, problems)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(f"{where}[{index}]", item, problems)


def _validate_ui(path: Path, ui: dict[str, Any], problems: list[str]) -> None:
    for key in sorted(REQUIRED_UI_KEYS - ui.keys()):
        problems.append(f"{path}: missing text '{key}'")
    buttons = ui.get("buttons") or {}
    for key in sorted(REQUIRED_BUTTONS - buttons.keys()):
        problems.append(f"{path}: missing button label 'buttons.{key}'")
    commands = ui.get("commands") or {}
    for key in sorted(REQUIRED_COMMANDS - commands.keys()):
        problems.append(f"{path}: missing command description 'commands.{key}'")
    for key, value in ui.items():
        if isinstance(value, str):
            _check_html(f"{path}: '{key}'", value, problems)
    for key, limit in (("bot_description", 512), ("bot_short_description", 120)):
        if len(str(ui.get(key) or "")) > limit:
            problems.append(f"{path}: '{key}' is longer than Telegram's {limit} characters")
    for key, value in buttons.items():
        if not isinstance(value, str) or not value.strip() or len(value) > 40:
            problems.append(f"{path}: button 'buttons.{key}' must be 1-40 characters")


def _validate_safety_plan(path: Path, plan: dict[str, Any], problems: list[str]) -> None:
    """Every step with a title, a one-line explanation, a heading for the plan and 3-6
    suggestions that work as button labels and as plan lines (plain words, no markup)."""
    steps = plan.get("steps")
    if not isinstance(steps, dict):
        steps = {}
    if tuple(steps) != SAFETY_PLAN_STEPS:
        problems.append(f"{path}: 'steps' must be, in order: {', '.join(SAFETY_PLAN_STEPS)}")
    low, high = SAFETY_PLAN_SUGGESTIONS
    for key, step in steps.items():
        where = f"{path}: step '{key}'"
        if not isinstance(step, dict):
            problems.append(f"{where}: expected a mapping")
            continue
        for field_name in ("title", "explain", "heading"):
            if not isinstance(step.get(field_name), str) or not step[field_name].strip():
                problems.append(f"{where}: '{field_name}' is missing")
        suggestions = step.get("suggestions")
        least = 2 if key == "professionals" else low  # the country's lines come first there
        if not isinstance(suggestions, list) or not least <= len(suggestions) <= high:
            problems.append(f"{where}: 'suggestions' must list {least}-{high} texts")
            continue
        for index, text in enumerate(suggestions):
            if not _plain_label(text):
                problems.append(
                    f"{where}: suggestion {index + 1} must be 1-40 characters, no < > &"
                )
    buttons = plan.get("buttons")
    if not isinstance(buttons, dict):
        buttons = {}
    for key in sorted(SAFETY_PLAN_BUTTONS - buttons.keys()):
        problems.append(f"{path}: missing button label 'buttons.{key}'")
    for key, value in buttons.items():
        if not isinstance(value, str) or not value.strip() or len(_PLACEHOLDER.sub("", value)) > 40:
            problems.append(f"{path}: button 'buttons.{key}' must be 1-40 characters")


_PLACEHOLDER = re.compile(r"\{\w+\}")


def _plain_label(text: Any) -> bool:
    """A text that reads the same as a button label and as Telegram HTML."""
    return isinstance(text, str) and 0 < len(text.strip()) <= 40 and not set(text) & set("<>&")


def _load_pages(
    path: Path, guide: dict[str, Any], problems: list[str]
) -> tuple[dict[str, Page], tuple[str, ...]]:
    raw_pages = guide.get("pages") or {}
    menu = tuple(guide.get("menu") or ())
    if not menu:
        problems.append(f"{path}: 'menu' lists no pages")
    pages: dict[str, Page] = {}
    for page_id, raw in raw_pages.items():
        where = f"{path}: page '{page_id}'"
        if not isinstance(page_id, str) or not PAGE_ID_RE.match(page_id):
            problems.append(f"{where}: id must be lowercase letters, digits, _ (max 40)")
            continue
        if not isinstance(raw, dict):
            problems.append(f"{where}: expected a mapping")
            continue
        title, text = raw.get("title"), raw.get("text")
        if not isinstance(title, str) or not title.strip() or len(title) > 40:
            problems.append(f"{where}: 'title' must be 1-40 characters")
            continue
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where}: 'text' is missing")
            continue
        _check_html(where, text, problems, MAX_PAGE_LENGTH)
        pages[page_id] = Page(
            id=page_id,
            title=title.strip(),
            parent=str(raw.get("parent") or MENU),
            text=text.strip(),
            children=tuple(raw.get("children") or ()),
            next=raw.get("next"),
        )
    for page_id in menu:
        if page_id not in pages:
            problems.append(f"{path}: menu lists '{page_id}', which is not a page")
    for page in pages.values():
        where = f"{path}: page '{page.id}'"
        if page.parent != MENU and page.parent not in pages:
            problems.append(f"{where}: parent '{page.parent}' is not a page")
        for child in page.children:
            if child not in pages and child not in SPECIAL_TARGETS:
                problems.append(f"{where}: child '{child}' is not a page")
        if page.next is not None and page.next not in pages:
            problems.append(f"{where}: next '{page.next}' is not a page")
        if len(f"p:{page.id}".encode()) > MAX_CALLBACK_BYTES:
            problems.append(f"{where}: id too long for a button")
    reachable = _reachable(menu, pages)
    for page_id in sorted(pages.keys() - reachable):
        problems.append(f"{path}: page '{page_id}' cannot be reached from the menu")
    return pages, menu


def _reachable(menu: tuple[str, ...], pages: dict[str, Page]) -> set[str]:
    seen: set[str] = set()
    todo = [p for p in menu if p in pages]
    while todo:
        page_id = todo.pop()
        if page_id in seen:
            continue
        seen.add(page_id)
        page = pages[page_id]
        todo.extend(c for c in page.children if c in pages)
        if page.next in pages:
            todo.append(page.next)
    return seen


class _Reader:
    """Reads the hotline data in one language, reporting problems once."""

    def __init__(self, path: Path, code: str, codes: list[str], problems: list[str]) -> None:
        self.path, self.code, self.codes, self.problems = path, code, codes, problems

    def text(self, raw: Any, where: str) -> str | None:
        """A text in this language: a plain string is the same in every language; a mapping
        ``{en: ..., es: ...}`` must have every language the bot speaks."""
        if raw is None:
            return None
        if isinstance(raw, dict):
            keys = {str(k) for k in raw}
            for missing in sorted(set(self.codes) - keys):
                self.problems.append(f"{where}: no '{missing}' text")
            for extra in sorted(keys - set(self.codes)):
                self.problems.append(f"{where}: text for '{extra}', a language the bot lacks")
            found = raw.get(self.code, raw.get(DEFAULT_LANGUAGE))
            return None if found is None else str(found).strip()
        return str(raw).strip()


def _load_hotlines(
    path: Path, data: dict[str, Any], code: str, codes: list[str], problems: list[str]
) -> tuple[dict[str, Country], Country | None, tuple[str, ...]]:
    reader = _Reader(path, code, codes, problems)
    countries: dict[str, Country] = {}
    for country_code, raw in (data.get("countries") or {}).items():
        country = _load_country(reader, str(country_code), raw)
        if country is not None:
            countries[country.code] = country
    international = None
    if isinstance(data.get("international"), dict):
        international = _load_country(reader, "international", data["international"])
    else:
        problems.append(f"{path}: 'international' entry is missing")
    no_country = tuple(countries)
    listed = data.get("no_country")
    if listed is not None:
        if not isinstance(listed, dict) or not all(isinstance(v, list) for v in listed.values()):
            problems.append(f"{path}: 'no_country' must map each language to a list of countries")
        else:
            for missing in sorted(set(codes) - set(listed)):
                problems.append(f"{path}: 'no_country' has no list for '{missing}'")
            no_country = tuple(str(c) for c in listed.get(code) or ())
            for unknown in [c for c in no_country if c not in countries]:
                problems.append(f"{path}: 'no_country' lists '{unknown}', which is not a country")
    return countries, international, no_country


def _load_country(reader: _Reader, code: str, raw: Any) -> Country | None:
    problems = reader.problems
    where = f"{reader.path}: {code}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping")
        return None
    if code != "international" and not re.fullmatch(r"[A-Z]{2}", code):
        problems.append(f"{where}: country code must be two capital letters")
    services: list[Service] = []
    for index, svc in enumerate(raw.get("services") or []):
        service = _load_service(reader, f"{where} service {index + 1}", svc)
        if service is not None and (
            not service.only_languages or reader.code in service.only_languages
        ):
            services.append(service)
    if not services and not raw.get("services"):
        problems.append(f"{where}: no services")
    emergency = raw.get("emergency")
    if code != "international" and not emergency:
        problems.append(f"{where}: 'emergency' number is missing")
    name = reader.text(raw.get("name"), f"{where}: name") or ""
    if not name:
        problems.append(f"{where}: 'name' is missing")
    return Country(
        code=code,
        name=name,
        flag=str(raw.get("flag") or ""),
        emergency=str(emergency) if emergency else None,
        emergency_note=reader.text(raw.get("emergency_note"), f"{where}: emergency_note"),
        timezones=tuple(raw.get("timezones") or ()),
        services=tuple(services),
        naloxone=reader.text(raw.get("naloxone"), f"{where}: naloxone"),
        good_samaritan=reader.text(raw.get("good_samaritan"), f"{where}: good_samaritan"),
    )


def _load_service(reader: _Reader, where: str, raw: Any) -> Service | None:
    problems = reader.problems
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping")
        return None
    name = reader.text(raw.get("name"), f"{where}: name") or ""
    where = f"{where} ({name or 'no name'})"
    ok = True
    if not name:
        problems.append(f"{where}: 'name' is missing")
        ok = False
    if raw.get("kind") not in SERVICE_KINDS:
        problems.append(f"{where}: 'kind' must be one of {', '.join(sorted(SERVICE_KINDS))}")
        ok = False
    source = str(raw.get("source") or "").strip()
    if not source:
        problems.append(f"{where}: 'source' is missing (where the number was checked)")
        ok = False
    checked = raw.get("checked")
    if isinstance(checked, str):
        try:
            checked = date.fromisoformat(checked)
        except ValueError:
            checked = None
    if not isinstance(checked, date):
        problems.append(f"{where}: 'checked' must be a date like 2026-11-27")
        ok = False
    only = raw.get("only_languages") or []
    if not isinstance(only, list) or not set(map(str, only)) <= set(reader.codes):
        problems.append(f"{where}: 'only_languages' must list languages the bot has")
        only = []
    contacts: list[Contact] = []
    for contact in raw.get("contacts") or []:
        if (
            not isinstance(contact, dict)
            or contact.get("type") not in CONTACT_TYPES
            or not contact.get("value")
        ):
            problems.append(
                f"{where}: each contact needs a type ({'/'.join(CONTACT_TYPES)}) and a value"
            )
            ok = False
            continue
        press = contact.get("press")
        if press is not None and contact["type"] != "call":
            problems.append(f"{where}: 'press' is only for call contacts")
        contacts.append(
            Contact(
                str(contact["type"]),
                str(contact["value"]),
                reader.text(contact.get("keyword"), f"{where}: keyword"),
                str(press) if press is not None else None,
            )
        )
    if not contacts:
        problems.append(f"{where}: no contacts")
        ok = False
    if not ok:
        return None
    assert isinstance(checked, date)
    return Service(
        name=name,
        kind=str(raw["kind"]),
        about=reader.text(raw.get("about"), f"{where}: about") or "",
        contacts=tuple(contacts),
        hours=reader.text(raw.get("hours"), f"{where}: hours"),
        free=bool(raw.get("free")),
        confidential=bool(raw.get("confidential")),
        languages=reader.text(raw.get("languages"), f"{where}: languages"),
        note=reader.text(raw.get("note"), f"{where}: note"),
        unconfirmed=reader.text(raw.get("unconfirmed"), f"{where}: unconfirmed"),
        source=source,
        checked=checked,
        only_languages=tuple(str(c) for c in only),
    )
