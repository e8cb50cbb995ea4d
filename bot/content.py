"""Content: loading, validating and looking up everything in ``content/``.

``content/<lang>/guide.yaml`` (guide pages), ``ui.yaml`` (the bot's own words), ``checkins.yaml``,
``admin.yaml`` and ``crisis.yaml`` (crisis phrases, compiled by :mod:`bot.crisis`) are per
language; ``content/hotlines.yaml`` holds the hotline data with a source and a checked date for
every entry. :func:`load_content` validates all of it and raises
:class:`ContentError` listing each problem with its file, so bad content never goes live.
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
from bot.telegram_html import MAX_MESSAGE, html_problems, visible_length

DEFAULT_LANGUAGE = "en"
MENU = "menu"
SPECIAL_TARGETS = {"@helpnow", "@country", "@checkins"}
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
REQUIRED_COMMANDS = {"start", "menu", "helpnow", "checkin", "settings", "privacy", "delete", "help"}


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


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    flag: str
    emergency: str | None
    emergency_note: str | None
    timezones: tuple[str, ...]
    services: tuple[Service, ...]

    @property
    def label(self) -> str:
        return f"{self.flag} {self.name}"


@dataclass(frozen=True)
class Language:
    code: str
    ui: dict[str, Any]
    menu: tuple[str, ...]
    pages: dict[str, Page]
    checkins: dict[str, Any] = field(default_factory=dict)
    admin: dict[str, Any] = field(default_factory=dict)
    crisis: CrisisDetector | None = None  # every loaded language has one (validated)

    def text(self, key: str, **values: Any) -> str:
        """A UI string, with ``{placeholders}`` filled (values must already be HTML-safe)."""
        template = str(self.ui[key])
        return template.format(**values) if values else template

    def button(self, key: str) -> str:
        return str(self.ui["buttons"][key])


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
        """The best available language for a Telegram ``language_code`` like 'en-GB'."""
        base = (telegram_code or "").split("-")[0].lower()
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
    countries, international = _load_hotlines(directory / "hotlines.yaml", problems)
    languages: dict[str, Language] = {}
    lang_dirs = sorted(p for p in directory.iterdir() if p.is_dir()) if directory.is_dir() else []
    for lang_dir in lang_dirs:
        language = _load_language(lang_dir, problems)
        if language is not None:
            languages[language.code] = language
    if DEFAULT_LANGUAGE not in languages:
        problems.append(f"{directory}: the default language '{DEFAULT_LANGUAGE}' is missing")
    if problems or international is None:
        raise ContentError(problems or [f"{directory}/hotlines.yaml: no international entry"])
    return Content(directory, languages, countries, international)


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


def _load_language(lang_dir: Path, problems: list[str]) -> Language | None:
    code = lang_dir.name
    ui_path, guide_path = lang_dir / "ui.yaml", lang_dir / "guide.yaml"
    ui = _read_yaml(ui_path, problems)
    guide = _read_yaml(guide_path, problems)
    optional = {}
    for name in ("checkins", "admin"):
        path = lang_dir / f"{name}.yaml"
        optional[name] = (_read_yaml(path, problems) if path.exists() else None) or {}
        _check_strings(str(path), optional[name], problems)
    crisis = None
    try:
        crisis = _crisis_detector(lang_dir / "crisis.yaml")
        _check_html(f"{lang_dir / 'crisis.yaml'}: 'reply'", crisis.reply, problems)
    except ValueError as exc:  # a language without crisis phrases must not go live
        problems.append(str(exc).replace("\n", " "))
    if ui is None or guide is None:
        return None
    _validate_ui(ui_path, ui, problems)
    pages, menu = _load_pages(guide_path, guide, problems)
    return Language(code=code, ui=ui, menu=menu, pages=pages, crisis=crisis, **optional)


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
    for key, value in buttons.items():
        if not isinstance(value, str) or not value.strip() or len(value) > 40:
            problems.append(f"{path}: button 'buttons.{key}' must be 1-40 characters")


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


def _load_hotlines(path: Path, problems: list[str]) -> tuple[dict[str, Country], Country | None]:
    data = _read_yaml(path, problems)
    if data is None:
        return {}, None
    countries: dict[str, Country] = {}
    for code, raw in (data.get("countries") or {}).items():
        country = _load_country(path, str(code), raw, problems)
        if country is not None:
            countries[country.code] = country
    international = None
    if isinstance(data.get("international"), dict):
        international = _load_country(path, "international", data["international"], problems)
    else:
        problems.append(f"{path}: 'international' entry is missing")
    return countries, international


def _load_country(path: Path, code: str, raw: Any, problems: list[str]) -> Country | None:
    where = f"{path}: {code}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping")
        return None
    if code != "international" and not re.fullmatch(r"[A-Z]{2}", code):
        problems.append(f"{where}: country code must be two capital letters")
    services: list[Service] = []
    for index, svc in enumerate(raw.get("services") or []):
        service = _load_service(f"{where} service {index + 1}", svc, problems)
        if service is not None:
            services.append(service)
    if not services:
        problems.append(f"{where}: no services")
    emergency = raw.get("emergency")
    if code != "international" and not emergency:
        problems.append(f"{where}: 'emergency' number is missing")
    name = str(raw.get("name") or "").strip()
    if not name:
        problems.append(f"{where}: 'name' is missing")
    return Country(
        code=code,
        name=name,
        flag=str(raw.get("flag") or ""),
        emergency=str(emergency) if emergency else None,
        emergency_note=raw.get("emergency_note"),
        timezones=tuple(raw.get("timezones") or ()),
        services=tuple(services),
    )


def _load_service(where: str, raw: Any, problems: list[str]) -> Service | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping")
        return None
    name = str(raw.get("name") or "").strip()
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
        contacts.append(
            Contact(str(contact["type"]), str(contact["value"]), contact.get("keyword"))
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
        about=str(raw.get("about") or ""),
        contacts=tuple(contacts),
        hours=raw.get("hours"),
        free=bool(raw.get("free")),
        confidential=bool(raw.get("confidential")),
        languages=raw.get("languages"),
        note=raw.get("note"),
        unconfirmed=raw.get("unconfirmed"),
        source=source,
        checked=checked,
    )
