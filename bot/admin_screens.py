"""Admin screens: the text and buttons of every admin screen, and a broadcast's status and report.

Pure functions of (content, the admin's language, figures), like :mod:`bot.screens`: no Telegram
calls, no database. The words live in ``content/<lang>/admin.yaml`` (the ``admin`` area of the
text API). The broadcast worker (:mod:`bot.broadcast`) only delivers; it shows its live status
and report with :func:`status` and :func:`report` from here.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks as cb
from bot.content import Content, Language
from bot.screens import Screen
from bot.storage import (
    ALL,
    CHECKINS,
    COUNTRY_PREFIX,
    LANG_PREFIX,
    STOPPED,
    AudienceCounts,
    Broadcast,
    Stats,
)

BAR_WIDTH = 12
MAX_PICKER_BUTTONS = 60
MAX_REPORT = 3000


def _row(label: str, data: str) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(label, callback_data=data)]


def _label(lang: Language, key: str, **values: object) -> str:
    return lang.texts.label("admin.buttons." + key, **values)


def audience_label(lang: Language, content: Content, audience: str) -> str:
    """Plain-text name of an audience key, e.g. 'everyone' or '🇬🇧 United Kingdom'."""
    if audience == ALL:
        return lang.t("admin.audience_all")
    if audience == CHECKINS:
        return lang.t("admin.audience_checkins")
    if audience.startswith(LANG_PREFIX):
        code = audience.removeprefix(LANG_PREFIX)
        name = content.languages[code].name if code in content.languages else code
        return lang.texts.label("admin.audience_language", name=name)
    if audience.startswith(COUNTRY_PREFIX):
        code = audience.removeprefix(COUNTRY_PREFIX)
        country = lang.country(code)
        return lang.texts.label("admin.audience_country", name=country.label if country else code)
    return audience


def progress_bar(done: int, total: int) -> str:
    share = done / total if total else 1.0
    filled = min(BAR_WIDTH, round(share * BAR_WIDTH))
    return "▰" * filled + "▱" * (BAR_WIDTH - filled) + f" {math.floor(share * 100)}%"


def average_rate(bc: Broadcast) -> float | None:
    if bc.started_at is None or bc.finished_at is None:
        return None
    return (bc.done - bc.cancelled) / max(1, bc.finished_at - bc.started_at)


# --- /broadcast -------------------------------------------------------------------------------


def ask_message(lang: Language) -> Screen:
    return Screen(lang.t("admin.ask_message"))


def notice(lang: Language, key: str) -> Screen:
    """A one-line admin answer ('cancelled', 'nothing to cancel', ...)."""
    return Screen(lang.t("admin." + key))


def audience_choice(lang: Language, counts: AudienceCounts) -> Screen:
    rows = [
        _row(_label(lang, "everyone", count=counts.everyone), cb.ADMIN_ALL),
        _row(_label(lang, "checkins", count=counts.checkins), cb.ADMIN_CHECKINS),
        [
            InlineKeyboardButton(_label(lang, "by_language"), callback_data=cb.ADMIN_LANGUAGES),
            InlineKeyboardButton(_label(lang, "by_country"), callback_data=cb.ADMIN_COUNTRIES),
        ],
        _row(_label(lang, "cancel"), cb.ADMIN_CANCEL),
    ]
    return Screen(lang.t("admin.choose_audience"), InlineKeyboardMarkup(rows))


def _back_cancel(lang: Language) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(_label(lang, "back"), callback_data=cb.ADMIN_BACK),
        InlineKeyboardButton(_label(lang, "cancel"), callback_data=cb.ADMIN_CANCEL),
    ]


def picker(lang: Language, content: Content, counts: AudienceCounts, *, countries: bool) -> Screen:
    """People by country, or by language, with their numbers."""
    rows: list[list[InlineKeyboardButton]] = []
    found = counts.by_country if countries else counts.by_language
    for code, count in list(found.items())[:MAX_PICKER_BUTTONS]:
        if countries:
            country = lang.country(code)
            label = _label(lang, "country", label=country.label if country else code, count=count)
            rows.append(_row(label, cb.ADMIN_COUNTRY + code))
        else:
            other = content.languages.get(code)
            name = other.name if other else code
            rows.append(
                _row(_label(lang, "language", name=name, count=count), cb.ADMIN_LANGUAGE + code)
            )
    rows.append(_back_cancel(lang))
    if countries:
        text = lang.t("admin.choose_country" if found else "admin.no_countries")
    else:
        text = lang.t("admin.choose_language")
    return Screen(text, InlineKeyboardMarkup(rows))


def confirm(lang: Language, content: Content, audience: str, count: int, rate: float) -> Screen:
    rows = [_row(_label(lang, "send", count=count), cb.ADMIN_SEND), _back_cancel(lang)]
    text = lang.t(
        "admin.confirm",
        audience=audience_label(lang, content, audience),
        count=count,
        rate=f"{rate:g}",
    )
    return Screen(text, InlineKeyboardMarkup(rows))


# --- a broadcast's status and report ----------------------------------------------------------


def status(
    lang: Language,
    content: Content,
    bc: Broadcast,
    *,
    state: str,
    rate: float | None = None,
    stop_button: bool = True,
) -> Screen:
    """The live status message (also its final form, with ``state`` finished/stopped)."""
    eta = "—"
    if rate and rate > 0 and bc.remaining:
        eta = lang.texts.duration(bc.remaining / rate)
    elif not bc.remaining:
        eta = lang.texts.duration(0)
    text = lang.t(
        "admin.status",
        id=bc.broadcast_id,
        audience=audience_label(lang, content, bc.audience),
        state=lang.t("admin.state_" + state),
        bar=progress_bar(bc.done, bc.total),
        **bc.figures,
        rate=lang.texts.number(rate, digits=1) if rate is not None else "—",
        eta=eta,
    )
    keyboard = None
    if stop_button:
        data = f"{cb.ADMIN_STOP}{bc.broadcast_id}"
        keyboard = InlineKeyboardMarkup([_row(_label(lang, "stop"), data)])
    return Screen(text, keyboard)


def report(lang: Language, content: Content, bc: Broadcast) -> Screen:
    """The final report sent when a broadcast ends."""
    took = (bc.finished_at or 0) - (bc.started_at or bc.created_at)
    return Screen(
        lang.t(
            "admin.report_stopped" if bc.status == STOPPED else "admin.report",
            id=bc.broadcast_id,
            audience=audience_label(lang, content, bc.audience),
            **bc.figures,
            took=lang.texts.duration(took),
        )
    )


# --- /broadcasts, /stats, /reload -------------------------------------------------------------


def recent(lang: Language, content: Content, broadcasts: list[Broadcast]) -> Screen:
    if not broadcasts:
        return Screen(lang.t("admin.broadcasts_empty"))
    lines = [lang.t("admin.broadcasts_title")]
    for bc in broadcasts:
        created = datetime.fromtimestamp(bc.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines.append(
            lang.t(
                "admin.broadcasts_line",
                id=bc.broadcast_id,
                date=created,
                audience=audience_label(lang, content, bc.audience),
                status=lang.t("admin.status_" + bc.status),
                **bc.figures,
            )
        )
    return Screen("\n\n".join(lines))


def stats(lang: Language, content: Content, figures: Stats) -> Screen:
    """Aggregate counts only: never a list of people."""

    def lines(counts: dict[str, int], name: object) -> str:
        assert callable(name)
        shown = "\n".join(f"{name(code)}: {n}" for code, n in counts.items())
        return shown or lang.t("admin.stats_none")

    def language_name(code: str) -> str:
        other = content.languages.get(code)
        return f"{other.name} ({code})" if other else code

    def country_name(code: str) -> str:
        country = lang.country(code)
        return country.label if country else (code or lang.t("admin.no_country"))

    return Screen(
        lang.t(
            "admin.stats",
            users=figures.users,
            active_7d=figures.active_7d,
            active_30d=figures.active_30d,
            checkins=figures.checkin_subscribers,
            blocked=figures.blocked,
            by_language=lines(figures.by_language, language_name),
            by_country=lines(figures.by_country, country_name),
        )
    )


def reload_ok(lang: Language, content: Content) -> Screen:
    pages = sum(len(other.pages) for other in content.languages.values())
    return Screen(
        lang.t(
            "admin.reload_ok",
            languages=len(content.languages),
            countries=len(content.countries),
            pages=pages,
        )
    )


def reload_refused(lang: Language, report_text: str) -> Screen:
    if len(report_text) > MAX_REPORT:
        report_text = report_text[:MAX_REPORT] + "\n…"
    return Screen(lang.t("admin.reload_refused", report=report_text))
