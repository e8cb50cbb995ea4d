"""Screens: the text and inline keyboard of every screen the bot shows, built from content.

Pure functions of (content, language, user settings): no Telegram calls, no database. Handlers
pick a screen and send or edit it. ``callback_data`` values are defined here in one place.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.content import MENU, Content, Country, Language, Page, Service

# callback_data. Keep each under 64 bytes.
CB_MENU = "menu"
CB_HELP = "help"
CB_PAGE = "p:"  # + page id
CB_SETTINGS = "set"
CB_COUNTRY_PICK = "set:country"
CB_COUNTRY = "set:c:"  # + country code, or "-" for none
CB_LANGUAGE_PICK = "set:language"
CB_LANGUAGE = "set:l:"  # + language code
CB_PRIVACY = "priv"
CB_STORED = "priv:stored"
CB_DELETE_ASK = "del:ask"
CB_DELETE_YES = "del:yes"
CB_DELETE_NO = "del:no"
CB_CHECKINS = "ck"

SPECIAL_CALLBACKS = {"@helpnow": CB_HELP, "@country": CB_COUNTRY_PICK, "@checkins": CB_CHECKINS}
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


def _button(label: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data)


def help_row(lang: Language) -> list[InlineKeyboardButton]:
    return [_button(lang.button("help_now"), CB_HELP)]


def nav_rows(lang: Language, back: str | None) -> list[list[InlineKeyboardButton]]:
    """The rows every screen ends with: Back (when there is somewhere to go), Main menu, Help."""
    row = []
    if back is not None:
        row.append(_button(lang.button("back"), back))
    row.append(_button(lang.button("main_menu"), CB_MENU))
    return [row, help_row(lang)]


def main_menu(lang: Language, *, greeting: bool = False) -> Screen:
    rows = [help_row(lang)]
    titles = [lang.pages[p] for p in lang.menu]
    for i in range(0, len(titles), 2):
        rows.append([_button(p.title, CB_PAGE + p.id) for p in titles[i : i + 2]])
    rows.append(
        [
            _button(lang.button("checkins"), CB_CHECKINS),
            _button(lang.button("settings"), CB_SETTINGS),
        ]
    )
    return Screen(lang.text("welcome" if greeting else "menu"), InlineKeyboardMarkup(rows))


def page(lang: Language, page_id: str) -> Screen | None:
    """A guide page, or None when ``page_id`` does not exist (a stale or forged button)."""
    current: Page | None = lang.pages.get(page_id)
    if current is None:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    for child in current.children:
        if child in SPECIAL_CALLBACKS:
            label = {
                "@helpnow": lang.button("help_now"),
                "@country": lang.button("set_country"),
                "@checkins": lang.button("checkins"),
            }[child]
            if child != "@helpnow":  # Help now is on every page already
                rows.append([_button(label, SPECIAL_CALLBACKS[child])])
        else:
            rows.append([_button(lang.pages[child].title, CB_PAGE + child)])
    if current.next:
        rows.append([_button(lang.button("next"), CB_PAGE + current.next)])
    back = CB_MENU if current.parent == MENU else CB_PAGE + current.parent
    rows.extend(nav_rows(lang, back if current.parent != MENU else None))
    return Screen(current.text, InlineKeyboardMarkup(rows))


# --- Help now -------------------------------------------------------------------------------


def _contact_line(lang: Language, service: Service) -> str:
    """'call or text <b>988</b>, chat 988lifeline.org': contacts grouped for reading aloud."""
    joiner = f" {lang.text('contact_or')} "
    groups: list[tuple[list[str], list[str]]] = []  # (verbs, values)
    for contact in service.contacts:
        value = html.escape(contact.value)
        if contact.type in {"chat", "web", "email"}:
            shown = html.escape(contact.value.removeprefix("https://").removeprefix("http://"))
            href = f"mailto:{value}" if contact.type == "email" else value
            verb, shown_value = (
                lang.text("contact_" + contact.type),
                f'<a href="{href}">{shown}</a>',
            )
        elif contact.type == "text" and contact.keyword:
            verb = lang.text("contact_text_keyword", keyword=html.escape(contact.keyword))
            shown_value = f"<b>{value}</b>"
        else:
            verb, shown_value = lang.text("contact_" + contact.type), f"<b>{value}</b>"
        if groups and groups[-1][1] == [shown_value] and verb not in groups[-1][0]:
            groups[-1][0].append(verb)  # "call or text 988"
        elif groups and groups[-1][0] == [verb]:
            groups[-1][1].append(shown_value)  # "call 0800 111 0 111 or 116 123"
        else:
            groups.append(([verb], [shown_value]))
    return ", ".join(f"{joiner.join(verbs)} {joiner.join(values)}" for verbs, values in groups)


def _service_block(lang: Language, service: Service) -> str:
    lines = [f"• <b>{html.escape(service.name)}</b>: {_contact_line(lang, service)}"]
    facts = []
    if service.hours:
        facts.append(html.escape(service.hours))
    if service.free:
        facts.append(lang.text("service_free"))
    if service.confidential:
        facts.append(lang.text("service_confidential"))
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


def help_now(content: Content, lang: Language, country: Country | None) -> Screen:
    """The Help now answer: emergency first, then the country's lines, then what to do now."""
    blocks = [lang.text("helpnow_title")]
    if country is not None and country.emergency:
        emergency = f"{country.emergency}"
        if country.emergency_note:
            emergency += f" ({html.escape(country.emergency_note)})"
        blocks.append(lang.text("helpnow_emergency", emergency=html.escape(emergency)).strip())
    else:
        blocks.append(lang.text("helpnow_emergency_unknown").strip())

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
                    "\n".join([lang.text(key), *(_service_block(lang, s) for s in services)])
                )
    else:
        lines = [lang.text("helpnow_main_countries")]
        for c in content.countries.values():
            first = next((s for s in c.services if s.kind == "crisis"), c.services[0])
            lines.append(
                f"{c.flag} {html.escape(c.name)}: {html.escape(first.name)}, "
                f"{_contact_line(lang, first)}"
            )
        blocks.append("\n".join(lines))
        blocks.append(lang.text("helpnow_find_more").strip())
    blocks.append(lang.text("helpnow_what_happens").strip())
    blocks.append(lang.text("helpnow_right_now").strip())

    rows: list[list[InlineKeyboardButton]] = []
    coping = _coping_page(lang)
    if coping:
        rows.append([_button(lang.button("coping"), CB_PAGE + coping)])
    rows.append(
        [_button(lang.button("change_country" if country else "set_country"), CB_COUNTRY_PICK)]
    )
    rows.append([_button(lang.button("main_menu"), CB_MENU)])
    return Screen("\n\n".join(blocks), InlineKeyboardMarkup(rows))


def _coping_page(lang: Language) -> str | None:
    for candidate in ("coping", "coping_now"):
        if candidate in lang.pages:
            return candidate
    return None


# --- Settings and privacy -------------------------------------------------------------------


def settings(content: Content, lang: Language, country_code: str | None) -> Screen:
    country = content.country(country_code)
    shown = html.escape(country.label) if country else lang.text("settings_no_country")
    rows = [
        [_button(lang.button("change_country" if country else "set_country"), CB_COUNTRY_PICK)],
        [_button(lang.button("language"), CB_LANGUAGE_PICK)],
        [
            _button(lang.button("what_stored"), CB_STORED),
            _button(lang.button("privacy"), CB_PRIVACY),
        ],
        [_button(lang.button("delete"), CB_DELETE_ASK)],
        *nav_rows(lang, None),
    ]
    text = lang.text("settings", country=shown, language=html.escape(str(lang.ui["language_name"])))
    return Screen(text, InlineKeyboardMarkup(rows))


def country_picker(content: Content, lang: Language) -> Screen:
    countries = list(content.countries.values())
    rows = [
        [_button(c.label, CB_COUNTRY + c.code) for c in countries[i : i + 2]]
        for i in range(0, len(countries), 2)
    ]
    rows.append([_button(lang.button("no_country"), CB_COUNTRY + "-")])
    rows.extend(nav_rows(lang, CB_SETTINGS))
    return Screen(lang.text("country_prompt"), InlineKeyboardMarkup(rows))


def language_picker(content: Content, lang: Language) -> Screen:
    rows = [
        [_button(str(other.ui["language_name"]), CB_LANGUAGE + code)]
        for code, other in content.languages.items()
    ]
    rows.extend(nav_rows(lang, CB_SETTINGS))
    return Screen(lang.text("language_prompt"), InlineKeyboardMarkup(rows))


def privacy(lang: Language) -> Screen:
    rows = [
        [_button(lang.button("what_stored"), CB_STORED)],
        [_button(lang.button("delete"), CB_DELETE_ASK)],
        *nav_rows(lang, CB_SETTINGS),
    ]
    return Screen(lang.text("privacy"), InlineKeyboardMarkup(rows))


STORED_ROWS_SHOWN = 3  # per table; older rows are counted, not listed


def stored_data(lang: Language, rows_by_table: dict[str, list[dict[str, Any]]]) -> Screen:
    """Every stored row, exactly as stored: a table's latest few in full, the rest counted, so
    the screen stays one message however long someone has used the bot."""
    lines = [lang.text("what_stored_title")]
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
            lines.append(lang.text("what_stored_more", count=more, table=html.escape(table)))
    if not any_rows:
        lines.append(lang.text("what_stored_empty"))
    keyboard = [[_button(lang.button("delete"), CB_DELETE_ASK)], *nav_rows(lang, CB_SETTINGS)]
    return Screen("\n".join(lines), InlineKeyboardMarkup(keyboard))


def delete_ask(lang: Language) -> Screen:
    rows = [
        [_button(lang.button("delete_confirm"), CB_DELETE_YES)],
        [_button(lang.button("delete_cancel"), CB_DELETE_NO)],
        help_row(lang),
    ]
    return Screen(lang.text("delete_ask"), InlineKeyboardMarkup(rows))


def with_menu(lang: Language, notice_key: str) -> Screen:
    """A short notice followed by the main menu's buttons (the answer to anything unexpected)."""
    return main_menu(lang).after(lang.text(notice_key))
