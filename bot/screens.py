"""Screens: the text and inline keyboard of every screen the bot shows, built from content.

Pure functions of (content, language, user settings): no Telegram calls, no database. Handlers
pick a screen and send or edit it. ``callback_data`` values are in :mod:`bot.callbacks`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import (
    CB_CHECKINS,
    CB_COUNTRY,
    CB_COUNTRY_PICK,
    CB_DELETE_ASK,
    CB_DELETE_NO,
    CB_DELETE_YES,
    CB_EMERGENCY,
    CB_HELP,
    CB_LANGUAGE,
    CB_LANGUAGE_PICK,
    CB_MENU,
    CB_PAGE,
    CB_PRIVACY,
    CB_SETTINGS,
    CB_STORED,
    SP_OPEN,
)
from bot.content import MENU, Content, Country, Language, Page, Service
from bot.i18n import Html

SPECIAL_CALLBACKS = {
    "@helpnow": CB_HELP,
    "@country": CB_COUNTRY_PICK,
    "@checkins": CB_CHECKINS,
    "@safety_plan": SP_OPEN,
}
HELP_FIRST_KINDS = ("crisis",)
DRUG_KINDS = ("drugs", "overdose")


@dataclass(frozen=True)
class Screen:
    """A message to show: Telegram HTML text and an optional inline keyboard."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None

    def after(self, notice: str) -> Screen:
        """The same screen with ``notice`` (HTML) shown above it."""
        return Screen(f"{notice.strip()}\n\n{self.text}", self.keyboard)


def once(lang: Language, key: Any, build: Callable[[], Screen]) -> Screen:
    """``build()``, kept on ``lang`` under ``key``: screens are pure functions of their
    arguments, so one that depends only on the language (and a country) is built once and
    shared (Screen and Telegram's keyboard objects are immutable)."""
    found = lang.screens.get(key)
    if found is None:
        found = lang.screens[key] = build()
    return found  # type: ignore[no-any-return]


def _button(label: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data)


def help_row(lang: Language, here: str | None = None) -> list[InlineKeyboardButton]:
    """The Help now button; ``here`` (this screen's own callback data) lets Help now offer
    Back to it."""
    data = f"{CB_HELP}:{here}" if here else CB_HELP
    return [_button(lang.t("ui.buttons.help_now"), data)]


def nav_rows(
    lang: Language, back: str | None, here: str | None = None
) -> list[list[InlineKeyboardButton]]:
    """The rows every screen ends with: Back (when there is somewhere to go), Main menu, Help."""
    row = []
    if back is not None:
        row.append(_button(lang.t("ui.buttons.back"), back))
    row.append(_button(lang.t("ui.buttons.main_menu"), CB_MENU))
    return [row, help_row(lang, here)]


def main_menu(lang: Language, *, greeting: bool = False) -> Screen:
    return once(lang, ("menu", greeting), lambda: _main_menu(lang, greeting))


def _main_menu(lang: Language, greeting: bool) -> Screen:
    rows = [help_row(lang, CB_MENU)]
    titles = [lang.pages[p] for p in lang.menu]
    for i in range(0, len(titles), 2):
        rows.append([_button(p.title, CB_PAGE + p.id) for p in titles[i : i + 2]])
    rows.append(
        [
            _button(lang.t("ui.buttons.overdose_steps"), CB_EMERGENCY + "overdose"),
            _button(lang.t("ui.buttons.withdrawal_steps"), CB_EMERGENCY + "withdrawal"),
        ]
    )
    rows.append(
        [
            _button(lang.t("ui.buttons.checkins"), CB_CHECKINS),
            _button(lang.t("ui.buttons.settings"), CB_SETTINGS),
        ]
    )
    return Screen(lang.t("ui.welcome" if greeting else "ui.menu"), InlineKeyboardMarkup(rows))


def page(lang: Language, page_id: str) -> Screen | None:
    """A guide page, or None when ``page_id`` does not exist (a stale or forged button)."""
    current: Page | None = lang.pages.get(page_id)
    if current is None:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    for child in current.children:
        if child in SPECIAL_CALLBACKS:
            label = {
                "@helpnow": lang.t("ui.buttons.help_now"),
                "@country": lang.t("ui.buttons.set_country"),
                "@checkins": lang.t("ui.buttons.checkins"),
                "@safety_plan": lang.t("safety_plan.buttons.start"),
            }[child]
            if child != "@helpnow":  # Help now is on every page already
                rows.append([_button(label, SPECIAL_CALLBACKS[child])])
        else:
            rows.append([_button(lang.pages[child].title, CB_PAGE + child)])
    if current.next:
        rows.append([_button(lang.t("ui.buttons.next"), CB_PAGE + current.next)])
    back = CB_MENU if current.parent == MENU else CB_PAGE + current.parent
    here = CB_PAGE + current.id
    rows.extend(nav_rows(lang, back if current.parent != MENU else None, here))
    return Screen(current.text, InlineKeyboardMarkup(rows))


# --- Help now -------------------------------------------------------------------------------


def contact_line(lang: Language, service: Service) -> str:
    """'call or text <b>988</b>, chat 988lifeline.org': contacts grouped for reading aloud."""
    joiner = f" {lang.t('ui.contact_or')} "
    groups: list[tuple[list[str], list[str]]] = []  # (verbs, values)
    for contact in service.contacts:
        value = html.escape(contact.value)
        if contact.type in {"chat", "web", "email"}:
            shown = html.escape(contact.value.removeprefix("https://").removeprefix("http://"))
            href = f"mailto:{value}" if contact.type == "email" else value
            verb, shown_value = (
                lang.t("ui.contact_" + contact.type),
                f'<a href="{href}">{shown}</a>',
            )
        elif contact.type == "text" and contact.keyword:
            verb = lang.t("ui.contact_text_keyword", keyword=contact.keyword)
            shown_value = f"<b>{value}</b>"
        elif contact.type == "call" and contact.press:
            verb = lang.t("ui.contact_call")
            shown_value = lang.t(
                "ui.contact_press", number=Html(f"<b>{value}</b>"), option=contact.press
            )
        else:
            verb, shown_value = lang.t("ui.contact_" + contact.type), f"<b>{value}</b>"
        if groups and groups[-1][1] == [shown_value] and verb not in groups[-1][0]:
            groups[-1][0].append(verb)  # "call or text 988"
        elif groups and groups[-1][0] == [verb]:
            groups[-1][1].append(shown_value)  # "call 0800 111 0 111 or 116 123"
        else:
            groups.append(([verb], [shown_value]))
    return ", ".join(f"{joiner.join(verbs)} {joiner.join(values)}" for verbs, values in groups)


def _service_block(lang: Language, service: Service) -> str:
    lines = [f"• <b>{html.escape(service.name)}</b>: {contact_line(lang, service)}"]
    facts = []
    if service.hours:
        facts.append(html.escape(service.hours))
    if service.free:
        facts.append(lang.t("ui.service_free"))
    if service.confidential:
        facts.append(lang.t("ui.service_confidential"))
    if service.unconfirmed:
        facts.append(html.escape(service.unconfirmed))
    detail = " · ".join(facts)
    if service.about:
        detail = f"{html.escape(service.about)} {detail}".strip()
    if detail:
        lines.append(f"  <i>{detail}</i>")
    if service.note:
        lines.append(f"  {html.escape(service.note)}")
    return "\n".join(lines)


def help_now(lang: Language, country: Country | None, back: str | None = None) -> Screen:
    """The Help now answer: emergency first, then the country's lines, then what to do now;
    with ``back`` (the callback data of the screen it was opened from), a Back button to it."""
    key = ("help_now", country.code if country else None, back)
    return once(lang, key, lambda: _help_now(lang, country, back))


def back_target(lang: Language, data: str) -> str | None:
    """Where Help now's Back goes, from its button's data: only screens that still exist."""
    origin = data.partition(":")[2]
    if origin == CB_MENU:
        return origin
    if origin.startswith(CB_PAGE) and origin.removeprefix(CB_PAGE) in lang.pages:
        return origin
    return None


def _help_now(lang: Language, country: Country | None, back: str | None) -> Screen:
    blocks = [lang.t("ui.helpnow_title")]
    if country is not None and country.emergency:
        emergency = f"{country.emergency}"
        if country.emergency_note:
            emergency += f" ({country.emergency_note})"
        blocks.append(lang.t("ui.helpnow_emergency", emergency=emergency))
    else:
        blocks.append(lang.t("ui.helpnow_emergency_unknown"))

    if country is not None:
        crisis = [s for s in country.services if s.kind in HELP_FIRST_KINDS]
        drugs = [s for s in country.services if s.kind in DRUG_KINDS]
        other = [s for s in country.services if s not in crisis and s not in drugs]
        for key, services in (
            ("helpnow_section_crisis", crisis),
            ("helpnow_section_drugs", drugs),
            ("helpnow_section_other", other),
        ):
            if services:
                blocks.append(
                    "\n".join([lang.t("ui." + key), *(_service_block(lang, s) for s in services)])
                )
    else:
        lines = [lang.t("ui.helpnow_main_countries")]
        for c in (lang.countries[code] for code in lang.no_country):
            first = next((s for s in c.services if s.kind == "crisis"), c.services[0])
            lines.append(
                f"{c.flag} {html.escape(c.name)}: {html.escape(first.name)}, "
                f"{contact_line(lang, first)}"
            )
        blocks.append("\n".join(lines))
        blocks.append(lang.t("ui.helpnow_find_more"))
    blocks.append(lang.t("ui.helpnow_what_happens"))
    blocks.append(lang.t("ui.helpnow_right_now"))

    rows: list[list[InlineKeyboardButton]] = []
    coping = _coping_page(lang)
    if coping:
        rows.append([_button(lang.t("ui.buttons.coping"), CB_PAGE + coping)])
    rows.append([_button(lang.t("safety_plan.buttons.start"), SP_OPEN)])
    rows.append([_button(_country_button(lang, country is not None), CB_COUNTRY_PICK)])
    last = [_button(lang.t("ui.buttons.main_menu"), CB_MENU)]
    if back is not None and back != CB_MENU:
        last.insert(0, _button(lang.t("ui.buttons.back"), back))
    rows.append(last)
    return Screen("\n\n".join(blocks), InlineKeyboardMarkup(rows))


def _coping_page(lang: Language) -> str | None:
    for candidate in ("coping", "coping_now"):
        if candidate in lang.pages:
            return candidate
    return None


# --- Settings and privacy -------------------------------------------------------------------


def _country_button(lang: Language, has_country: bool) -> str:
    return lang.t("ui.buttons.change_country" if has_country else "ui.buttons.set_country")


def settings(lang: Language, country_code: str | None) -> Screen:
    country = lang.country(country_code)
    shown = Html(html.escape(country.label)) if country else Html(lang.t("ui.settings_no_country"))
    rows = [
        [_button(_country_button(lang, country is not None), CB_COUNTRY_PICK)],
        [_button(lang.t("ui.buttons.language"), CB_LANGUAGE_PICK)],
        [
            _button(lang.t("ui.buttons.what_stored"), CB_STORED),
            _button(lang.t("ui.buttons.privacy"), CB_PRIVACY),
        ],
        [_button(lang.t("ui.buttons.delete"), CB_DELETE_ASK)],
        *nav_rows(lang, None),
    ]
    text = lang.t("ui.settings", country=shown, language=lang.name)
    return Screen(text, InlineKeyboardMarkup(rows))


def country_picker(lang: Language) -> Screen:
    countries = list(lang.countries.values())
    rows = [
        [_button(c.label, CB_COUNTRY + c.code) for c in countries[i : i + 2]]
        for i in range(0, len(countries), 2)
    ]
    rows.append([_button(lang.t("ui.buttons.no_country"), CB_COUNTRY + "-")])
    rows.extend(nav_rows(lang, CB_SETTINGS))
    return Screen(lang.t("ui.country_prompt"), InlineKeyboardMarkup(rows))


def language_picker(content: Content, lang: Language) -> Screen:
    rows = [[_button(other.name, CB_LANGUAGE + code)] for code, other in content.languages.items()]
    rows.extend(nav_rows(lang, CB_SETTINGS))
    return Screen(lang.t("ui.language_prompt"), InlineKeyboardMarkup(rows))


def privacy(lang: Language) -> Screen:
    rows = [
        [_button(lang.t("ui.buttons.what_stored"), CB_STORED)],
        [_button(lang.t("ui.buttons.delete"), CB_DELETE_ASK)],
        *nav_rows(lang, CB_SETTINGS),
    ]
    return Screen(lang.t("ui.privacy"), InlineKeyboardMarkup(rows))


STORED_ROWS_SHOWN = 3  # per table; older rows are counted, not listed


def stored_data(lang: Language, rows_by_table: dict[str, list[dict[str, Any]]]) -> Screen:
    """Every stored row, exactly as stored: a table's latest few in full, the rest counted, so
    the screen stays one message however long someone has used the bot."""
    lines = [lang.t("ui.what_stored_title")]
    any_rows = False
    for table, rows in rows_by_table.items():
        for row in rows[-STORED_ROWS_SHOWN:]:
            any_rows = True
            lines.append(f"\n<b>{html.escape(table)}</b>")
            lines.extend(
                f"• {html.escape(str(k))}: <code>{html.escape(str(v))}</code>"
                for k, v in row.items()
                if v is not None
            )
        if len(rows) > STORED_ROWS_SHOWN:
            more = len(rows) - STORED_ROWS_SHOWN
            lines.append(lang.t("ui.what_stored_more", count=more, table=table))
    if not any_rows:
        lines.append(lang.t("ui.what_stored_empty"))
    keyboard = [[_button(lang.t("ui.buttons.delete"), CB_DELETE_ASK)], *nav_rows(lang, CB_SETTINGS)]
    return Screen("\n".join(lines), InlineKeyboardMarkup(keyboard))


def delete_ask(lang: Language) -> Screen:
    rows = [
        [_button(lang.t("ui.buttons.delete_confirm"), CB_DELETE_YES)],
        [_button(lang.t("ui.buttons.delete_cancel"), CB_DELETE_NO)],
        help_row(lang),
    ]
    return Screen(lang.t("ui.delete_ask"), InlineKeyboardMarkup(rows))


# --- Free text that leads somewhere (bot.intents) --------------------------------------------


def intent(lang: Language, name: str) -> Screen | None:
    """The answer to free text that expressed intent ``name``: its one line, a button to each
    guide page that fits (or Check-ins), then Main menu and Help now; ``None`` when the
    language has no such intent."""
    if lang.intents is None or name not in lang.intents.intents:
        return None
    return once(lang, ("intent", name), lambda: _intent(lang, name))


def _intent(lang: Language, name: str) -> Screen:
    assert lang.intents is not None
    found = lang.intents.intents[name]
    rows: list[list[InlineKeyboardButton]] = []
    for target in found.buttons:
        if target == "@checkins":
            rows.append([_button(lang.t("ui.buttons.checkins"), CB_CHECKINS)])
        else:
            rows.append([_button(lang.pages[target].title, CB_PAGE + target)])
    rows.extend(nav_rows(lang, None))
    return Screen(found.answer, InlineKeyboardMarkup(rows))


def with_menu(lang: Language, notice_key: str) -> Screen:
    """A short notice followed by the main menu's buttons (the answer to anything unexpected)."""
    return once(
        lang, ("with_menu", notice_key), lambda: main_menu(lang).after(lang.t("ui." + notice_key))
    )


# --- emergency screens ------------------------------------------------------------------------

EMERGENCY_SCREENS = {
    "overdose": "overdose",
    "withdrawal": "withdrawal",
    "suicide": "suicide",
    "self_harm": "suicide",
    "harm_others": "harm_others",
}
"""Which emergency screen answers each crisis category (``content/<lang>/emergency.yaml``)."""
NO_COUNTRY_LINES = 2  # without a country: this many countries' crisis lines, the rest a tap away


def _line(lang: Language, service: Service) -> str:
    return f"• <b>{html.escape(service.name)}</b>: {contact_line(lang, service)}"


def _lines(lang: Language, country: Country | None, kinds: tuple[str, ...], limit: int = 2) -> str:
    """The person's most useful lines for this emergency, short: numbers in the text."""
    if country is None:
        shown = [lang.countries[code] for code in lang.no_country[:NO_COUNTRY_LINES]]
        lines = [lang.t("emergency.no_country_lines")]
        for c in shown:
            first = next((s for s in c.services if s.kind == "crisis"), c.services[0])
            lines.append(f"{c.flag} {_line(lang, first).removeprefix('• ')}")
        return "\n".join(lines)
    found = dict.fromkeys(s for kind in kinds for s in country.services if s.kind == kind)
    return "\n".join(_line(lang, s) for s in list(found)[:limit])


def _emergency_number(lang: Language, country: Country | None) -> str:
    if country is None or not country.emergency:
        return lang.t("emergency.emergency_unknown")
    if country.emergency_note:
        return f"{country.emergency} ({country.emergency_note})"
    return country.emergency


def emergency(lang: Language, category: str, country: Country | None) -> Screen:
    """The first screen for a crisis of ``category``: what to do for that emergency, its
    numbers in the text, then the person's lines; every other line one tap away."""
    key = EMERGENCY_SCREENS.get(category, "suicide")
    cache_key = ("emergency", key, country.code if country else None)
    return once(lang, cache_key, lambda: _emergency(lang, key, country))


def _emergency(lang: Language, key: str, country: Country | None) -> Screen:
    values: dict[str, Any] = {"emergency": _emergency_number(lang, country)}
    if key == "overdose":
        values["naloxone"] = (country.naloxone if country else None) or ""
        values["good_samaritan"] = (country.good_samaritan if country else None) or ""
        # The steps come first; one line here (poison control, else the crisis line).
        values["lines"] = Html(_lines(lang, country, ("poison", "overdose", "crisis"), limit=1))
    elif key == "suicide":
        values["crisis_line"] = Html(_lines(lang, country, ("crisis",)))
    else:
        values["lines"] = Html(_lines(lang, country, ("crisis", "drugs")))
    text = re.sub(r"\n{3,}", "\n\n", lang.t("emergency." + key, **values)).strip()
    rows = [[_button(lang.t("emergency.all_lines"), CB_HELP)]]
    if key == "suicide":  # its text ends by offering a safety plan ("tap below to start")
        rows.append([_button(lang.t("safety_plan.buttons.start"), SP_OPEN)])
    rows.append([_button(lang.t("ui.buttons.main_menu"), CB_MENU)])
    return Screen(text, InlineKeyboardMarkup(rows))
