"""Check-in screens: the text and buttons of every check-in screen, and the check-in message.

Pure functions of (content, language, stored settings, ``now``), like ``bot/screens.py``: no
Telegram calls, no database, no clock reads. The words live in ``content/<lang>/checkins.yaml``
(``screens``, ``buttons`` and the check-in texts). The ``ck`` callback data of every check-in
button is in :mod:`bot.callbacks`. Also: the encouragement rotation
(no repeats until the pool is used up) and reading a typed start date for the day counter.
"""

from __future__ import annotations

import random
import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks as cb
from bot.checkin_time import format_time, zone_label
from bot.content import Country, Language
from bot.i18n import Html
from bot.language_rules import LanguageRules, fold
from bot.screens import CB_PAGE, Screen, help_row, nav_rows
from bot.storage import CheckinSettings

PRESETS = (("morning", time(8, 0)), ("midday", time(12, 30)), ("evening", time(20, 0)))
MINUTE_STEP = 5
PAUSE_LENGTH = timedelta(days=7)
_MAX_ECHO = 40  # characters of a person's typed text echoed back
_HHMM = re.compile(r"([01][0-9]|2[0-3])([0-5][0-9])")


# --- small helpers ----------------------------------------------------------------------------


def _button(label: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data)


def _b(lang: Language, key: str, data: str) -> InlineKeyboardButton:
    """A check-in button: its label from ``checkins.buttons``."""
    return _button(lang.t("checkins.buttons." + key), data)


def echo(typed: str) -> str:
    """What a person typed, shortened to show back (escaped where it is shown)."""
    typed = " ".join(typed.split())
    if len(typed) > _MAX_ECHO:
        typed = typed[: _MAX_ECHO - 1] + "…"
    return typed


def hhmm(local: time) -> str:
    """A local time as it travels in callback data: ``"0830"``."""
    return f"{local.hour:02d}{local.minute:02d}"


def parse_hhmm(text: str) -> time | None:
    """The time in callback data, or None when it is not a valid ``HHMM``."""
    match = _HHMM.fullmatch(text)
    return time(int(match[1]), int(match[2])) if match else None


def valid_zone(name: str) -> bool:
    """An IANA zone name this system knows (callback data may be old or forged)."""
    if not name or len(name) > 60 or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


def local_today(zone: ZoneInfo, now: datetime) -> date:
    return now.astimezone(zone).date()


def _date_text(lang: Language, day: date, today: date) -> str:
    """'Tue 14 Jan' (with the year when it is not this year), by CLDR through Babel."""
    return lang.texts.date(day, with_year=day.year != today.year)


def when(lang: Language, instant: datetime, zone: ZoneInfo, now: datetime) -> Html:
    """'today at 20:00', 'tomorrow at 08:00' or 'Tue 14 Jan at 20:00', on the person's clock."""
    local = instant.astimezone(zone)
    today = local_today(zone, now)
    shown = format_time(local.time())
    if local.date() == today:
        return Html(lang.t("checkins.screens.today", time=shown))
    if local.date() == today + timedelta(days=1):
        return Html(lang.t("checkins.screens.tomorrow", time=shown))
    day = _date_text(lang, local.date(), today)
    return Html(lang.t("checkins.screens.on_date", date=day, time=shown))


def place(zone: str, now: datetime) -> str:
    """The zone as a person reads it: 'New York (UTC−05:00)'."""
    return zone_label(zone, now)


# --- status and settings screens ----------------------------------------------------------------


def _first_line(lang: Language, discreet: bool) -> str:
    if discreet:
        return lang.t("checkins.screens.first_line_discreet", opening=_opening(lang, True))
    return lang.t("checkins.screens.first_line_open", opening=_opening(lang, False))


def _opening(lang: Language, discreet: bool) -> Html:
    """The first line of a check-in (content HTML, shown inside other texts)."""
    return Html(lang.t("checkins.discreet_opening" if discreet else "checkins.open_opening"))


def status(
    lang: Language,
    settings: CheckinSettings | None,
    now: datetime,
    *,
    notice: str | None = None,
    today_zone: ZoneInfo | None = None,
) -> Screen:
    """/checkin: whether check-ins are on, when the next one comes, and what can be changed.

    ``today_zone`` is whose 'today' the day counter uses when check-ins are off (the country's
    zone, as on the counter screen); the check-in zone when they are on, else UTC."""
    counter = None
    if settings is not None and settings.counter_start and settings.counter_shown:
        if settings.zone:
            zone = ZoneInfo(settings.zone)
        else:
            zone = today_zone or ZoneInfo("UTC")
        days = days_text(lang, (local_today(zone, now) - settings.counter_start).days)
        counter = lang.t("checkins.screens.counter_status", days=days)
    rows: list[list[InlineKeyboardButton]]
    if settings is None or not settings.active or settings.next_due is None:
        text = lang.t("checkins.screens.status_off")
        rows = [[_b(lang, "turn_on", cb.CK_TIME)], [_b(lang, "counter", cb.CK_COUNTER)]]
    else:
        assert settings.zone is not None and settings.local_time is not None
        zone = ZoneInfo(settings.zone)
        values = {
            "time": format_time(settings.local_time),
            "zone": place(settings.zone, now),
            "next": when(lang, settings.next_due, zone, now),
            "first_line": _first_line(lang, settings.discreet),
        }
        paused = settings.paused(now)
        if paused:
            assert settings.paused_until is not None
            text = lang.t(
                "checkins.screens.status_paused",
                until=when(lang, settings.paused_until, zone, now),
                **values,
            )
        else:
            text = lang.t("checkins.screens.status_on", **values)
        rows = [
            [
                _b(lang, "change_time", cb.CK_TIME),
                _b(lang, "change_zone", cb.CK_ZONES + hhmm(settings.local_time)),
            ],
            [_b(lang, "resume", cb.CK_RESUME) if paused else _b(lang, "pause", cb.CK_PAUSE)],
            [_b(lang, "discreet_off" if settings.discreet else "discreet_on", cb.CK_DISCREET)],
            [_b(lang, "counter", cb.CK_COUNTER)],
            [_b(lang, "stop", cb.CK_STOP)],
        ]
    if counter:
        text = f"{text}\n{counter}"
    if notice:
        text = f"{notice}\n\n{text}"
    rows.extend(nav_rows(lang, None))
    return Screen(text, InlineKeyboardMarkup(rows))


def time_chooser(lang: Language, *, notice: str | None = None) -> Screen:
    """Presets, the hour-and-minute picker, or type a time."""
    presets = [_b(lang, key, cb.CK_SET_TIME + hhmm(local)) for key, local in PRESETS]
    rows = [presets[:2], presets[2:], [_b(lang, "pick_time", cb.CK_HOURS)]]
    rows.extend(nav_rows(lang, cb.CK_STATUS))
    text = lang.t("checkins.screens.choose_time")
    return Screen(f"{notice}\n\n{text}" if notice else text, InlineKeyboardMarkup(rows))


def time_again(lang: Language) -> Screen:
    """The chosen time was lost (e.g. a restart while a zone was being picked): ask again."""
    return time_chooser(lang, notice=lang.t("checkins.screens.time_again"))


def bad_time(lang: Language, typed: str) -> Screen:
    return time_chooser(lang, notice=lang.t("checkins.screens.bad_time", typed=echo(typed)))


def hour_picker(lang: Language) -> Screen:
    hours = [_button(f"{h:02d}:00", f"{cb.CK_HOUR}{h:02d}") for h in range(24)]
    rows = [hours[i : i + 6] for i in range(0, 24, 6)]
    rows.extend(nav_rows(lang, cb.CK_TIME))
    return Screen(lang.t("checkins.screens.choose_hour"), InlineKeyboardMarkup(rows))


def minute_picker(lang: Language, hour: int) -> Screen:
    minutes = [
        _button(f"{hour:02d}:{m:02d}", f"{cb.CK_SET_TIME}{hour:02d}{m:02d}")
        for m in range(0, 60, MINUTE_STEP)
    ]
    rows = [minutes[i : i + 4] for i in range(0, len(minutes), 4)]
    rows.extend(nav_rows(lang, cb.CK_HOURS))
    return Screen(
        lang.t("checkins.screens.choose_minute", hour=f"{hour:02d}"), InlineKeyboardMarkup(rows)
    )


def zone_chooser(lang: Language, local: time, country: Country | None, now: datetime) -> Screen:
    """Pick a zone of the person's country, or a country, or type a city."""
    if country is not None and len(country.timezones) > 1:
        return country_zones(lang, local, country, now)
    countries = [c for c in lang.countries.values() if c.timezones]
    buttons = [_button(c.label, f"{cb.CK_ZONE_COUNTRY}{hhmm(local)}:{c.code}") for c in countries]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.extend(nav_rows(lang, cb.CK_TIME))
    text = lang.t("checkins.screens.choose_zone_country", time=format_time(local))
    return Screen(text, InlineKeyboardMarkup(rows))


def country_zones(lang: Language, local: time, country: Country, now: datetime) -> Screen:
    text = lang.t("checkins.screens.choose_zone", time=format_time(local))
    return zone_buttons(lang, local, country.timezones, now, text)


def zone_buttons(
    lang: Language, local: time, zones: tuple[str, ...], now: datetime, text: str
) -> Screen:
    """One button per zone (labelled with its city and UTC offset), then Back and Help."""
    rows = [[_button(zone_label(z, now), f"{cb.CK_ZONE}{hhmm(local)}:{z}")] for z in zones]
    rows.extend(nav_rows(lang, cb.CK_TIME))
    return Screen(text, InlineKeyboardMarkup(rows))


def zone_suggestions(
    lang: Language, local: time, typed: str, suggestions: tuple[str, ...], now: datetime
) -> Screen:
    if not suggestions:
        text = lang.t("checkins.screens.zone_not_found", typed=echo(typed))
        return Screen(text, InlineKeyboardMarkup(nav_rows(lang, cb.CK_TIME)))
    text = lang.t("checkins.screens.zone_suggestions", typed=echo(typed))
    return zone_buttons(lang, local, suggestions, now, text)


def confirmed(lang: Language, settings: CheckinSettings, now: datetime) -> Screen:
    """Check-ins are on: when, where, and the next one on the person's clock."""
    assert settings.zone and settings.local_time and settings.next_due
    text = lang.t(
        "checkins.screens.confirmed",
        time=format_time(settings.local_time),
        zone=place(settings.zone, now),
        next=when(lang, settings.next_due, ZoneInfo(settings.zone), now),
    )
    rows = [
        [_b(lang, "change_time", cb.CK_TIME), _b(lang, "counter", cb.CK_COUNTER)],
        *nav_rows(lang, cb.CK_STATUS),
    ]
    return Screen(text, InlineKeyboardMarkup(rows))


def paused(lang: Language, settings: CheckinSettings, now: datetime) -> Screen:
    assert settings.zone and settings.next_due
    text = lang.t(
        "checkins.screens.paused", next=when(lang, settings.next_due, ZoneInfo(settings.zone), now)
    )
    rows = [
        [_b(lang, "resume", cb.CK_RESUME), _b(lang, "change_time", cb.CK_TIME)],
        *nav_rows(lang, cb.CK_STATUS),
    ]
    return Screen(text, InlineKeyboardMarkup(rows))


def resumed(lang: Language, settings: CheckinSettings, now: datetime) -> Screen:
    assert settings.zone and settings.next_due
    text = lang.t(
        "checkins.screens.resumed", next=when(lang, settings.next_due, ZoneInfo(settings.zone), now)
    )
    return Screen(text, InlineKeyboardMarkup(nav_rows(lang, cb.CK_STATUS)))


def stopped(lang: Language, *, was_on: bool = True) -> Screen:
    """Stopping is one tap; this says in words that nothing more will come."""
    rows = [[_b(lang, "turn_on_again", cb.CK_TIME)], *nav_rows(lang, None)]
    return Screen(
        lang.t("checkins.screens." + ("stopped" if was_on else "stopped_already")),
        InlineKeyboardMarkup(rows),
    )


def discreet_notice(lang: Language, discreet: bool) -> str:
    if discreet:
        return lang.t("checkins.screens.discreet_on", opening=_opening(lang, True))
    return lang.t("checkins.screens.discreet_off", opening=_opening(lang, False))


# --- the check-in message and the answers --------------------------------------------------------


def _order(seed: int, round_: int, size: int) -> list[int]:
    order = list(range(size))
    random.Random(seed * 1_000_003 + round_).shuffle(order)
    return order


def encouragement_index(seed: int, position: int, size: int) -> int:
    """Which encouragement a person sees for their ``position``-th check-in.

    Each round of ``size`` check-ins shows every encouragement once, in an order shuffled from
    the person's ``seed``; a round never starts with the one the last round ended on. Only the
    seed and the position are stored, never a history."""
    if size <= 0:
        raise ValueError("the encouragement pool is empty")
    round_, offset = divmod(position, size)
    order = _order(seed, round_, size)
    if round_ > 0 and size > 2 and order[0] == _order(seed, round_ - 1, size)[-1]:
        order[0], order[1] = order[1], order[0]
    return order[offset]


def days_text(lang: Language, days: int) -> Html:
    """'day one starts today', '1 day', '12 days' (CLDR plural forms of the language)."""
    if days <= 0:
        return Html(lang.t("checkins.screens.days_zero"))
    return Html(lang.texts.plural("checkins.screens.days", days))


def milestone(lang: Language, days: int) -> str | None:
    """The gentle milestone text for exactly ``days`` days (1, 7, 30, 90, 365), if any."""
    key = f"checkins.milestones.{days}"
    return lang.t(key) if lang.texts.has(key) else None


def checkin_message(
    lang: Language,
    *,
    discreet: bool,
    enc_seed: int,
    enc_position: int,
    counter_days: int | None,
) -> Screen:
    """The daily check-in: a first line safe on a lock screen (unless the person turned
    discreet mode off), an encouragement, the day counter if shown, the question, and buttons
    to answer, get help now, pause, change the time or stop."""
    pool = lang.texts.items("checkins.encouragements")
    parts = [
        _opening(lang, discreet),
        pool[encouragement_index(enc_seed, enc_position, len(pool))],
    ]
    if counter_days is not None:
        parts.append(
            milestone(lang, counter_days)
            or "📅 " + lang.t("checkins.screens.counter_status", days=days_text(lang, counter_days))
        )
    parts.append(f"<b>{lang.t('checkins.question')}</b>")
    rows = [
        [_b(lang, "okay", cb.CK_OKAY), _b(lang, "struggling", cb.CK_STRUGGLING)],
        [_b(lang, "help_now", cb.CK_HELP_NOW)],
        [_b(lang, "pause", cb.CK_MSG_PAUSE), _b(lang, "change_time", cb.CK_MSG_TIME)],
        [_b(lang, "stop", cb.CK_MSG_STOP)],
    ]
    return Screen("\n\n".join(parts), InlineKeyboardMarkup(rows))


def answer_okay(lang: Language) -> Screen:
    okay_more = lang.t("checkins.screens.okay_more")
    text = f"{lang.t('checkins.answers.okay')}\n\n{okay_more}"
    return Screen(text, InlineKeyboardMarkup(nav_rows(lang, None)))


def answer_struggling(lang: Language) -> Screen:
    """A kind answer with coping tools, the guide's coping and support-group pages, and a safety
    plan of one's own."""
    pages = [("coping", "coping"), ("groups", "groups")]
    row = [_b(lang, key, CB_PAGE + page) for key, page in pages if page in lang.pages]
    rows = [row] if row else []
    rows.append([_button(lang.texts.label("safety_plan.buttons.start"), cb.SP_OPEN)])
    rows.extend(nav_rows(lang, None))
    return Screen(lang.t("checkins.answers.struggling"), InlineKeyboardMarkup(rows))


# --- day counter ---------------------------------------------------------------------------------


def counter(lang: Language, settings: CheckinSettings | None, today: date) -> Screen:
    """The day counter: set it up, or see it, hide it, start again after a slip, remove it."""
    back = nav_rows(lang, cb.CK_STATUS)
    if settings is None or settings.counter_start is None:
        rows = [
            [
                _b(lang, "counter_today", cb.CK_COUNTER_AGO + "0"),
                _b(lang, "counter_yesterday", cb.CK_COUNTER_AGO + "1"),
            ],
            [_b(lang, "counter_type", cb.CK_COUNTER_TYPE)],
            *back,
        ]
        return Screen(lang.t("checkins.screens.counter_intro"), InlineKeyboardMarkup(rows))
    if not settings.counter_shown:
        rows = [
            [_b(lang, "counter_show", cb.CK_COUNTER_SHOW)],
            [_b(lang, "counter_remove", cb.CK_COUNTER_REMOVE)],
            *back,
        ]
        return Screen(lang.t("checkins.screens.counter_hidden"), InlineKeyboardMarkup(rows))
    days = (today - settings.counter_start).days
    text = lang.t(
        "checkins.screens.counter_shown",
        days=days_text(lang, days),
        start=_date_text(lang, settings.counter_start, today),
    )
    reached = milestone(lang, days)
    if reached:
        text = f"{reached}\n\n{text}"
    rows = [
        [_b(lang, "counter_hide", cb.CK_COUNTER_HIDE)],
        [_b(lang, "counter_slip", cb.CK_COUNTER_SLIP)],
        [
            _b(lang, "counter_change", cb.CK_COUNTER_TYPE),
            _b(lang, "counter_remove", cb.CK_COUNTER_REMOVE),
        ],
        *back,
    ]
    return Screen(text, InlineKeyboardMarkup(rows))


def counter_type(lang: Language, *, notice_key: str | None = None, typed: str = "") -> Screen:
    """Ask for a start date (again, with an example, after a date that could not be read)."""
    text = (
        lang.t("checkins.screens." + notice_key, typed=echo(typed))
        if notice_key
        else lang.t("checkins.screens.counter_type")
    )
    rows = [
        [
            _b(lang, "counter_today", cb.CK_COUNTER_AGO + "0"),
            _b(lang, "counter_yesterday", cb.CK_COUNTER_AGO + "1"),
        ],
        *nav_rows(lang, cb.CK_COUNTER),
    ]
    return Screen(text, InlineKeyboardMarkup(rows))


def counter_slip_ask(lang: Language) -> Screen:
    rows = [
        [_b(lang, "counter_slip_yes", cb.CK_COUNTER_SLIP_YES)],
        [_b(lang, "counter_slip_no", cb.CK_COUNTER)],
        help_row(lang),
    ]
    return Screen(lang.t("checkins.screens.counter_slip_ask"), InlineKeyboardMarkup(rows))


def counter_slip_done(lang: Language) -> Screen:
    """After a slip: no shame, the counter starts again, and support is one tap away."""
    rows = [
        [_b(lang, "coping", CB_PAGE + "coping")] if "coping" in lang.pages else [],
        [_b(lang, "counter", cb.CK_COUNTER)],
        *nav_rows(lang, None),
    ]
    return Screen(lang.t("checkins.slip"), InlineKeyboardMarkup([r for r in rows if r]))


def counter_removed(lang: Language) -> Screen:
    rows = [[_b(lang, "counter", cb.CK_COUNTER)], *nav_rows(lang, cb.CK_STATUS)]
    return Screen(lang.t("checkins.screens.counter_removed"), InlineKeyboardMarkup(rows))


_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DAY_MONTH = re.compile(r"(\d{1,2})\s+([^\W\d_]+)(?:\s+(\d{4}))?")
_MONTH_DAY = re.compile(r"([^\W\d_]+)\s+(\d{1,2})(?:\s+(\d{4}))?")


def parse_date(text: str, rules: LanguageRules, today: date) -> date | None:
    """Read a typed start date: '3 March', 'March 3rd, 2024', '2024-03-03', 'today',
    'yesterday' ('3 de marzo', 'hoy' in Spanish): the words, ordinal endings and fillers come
    from the language's ``rules.yaml``. Without a year, the most recent such date up to
    ``today``. None if unreadable or impossible (the caller checks that it is not in the
    future)."""
    cleaned = " ".join(fold(text).replace(",", " ").replace(".", " ").split())
    if not cleaned or len(cleaned) > _MAX_ECHO:
        return None
    if cleaned in rules.today_words:
        return today
    if cleaned in rules.yesterday_words:
        return today - timedelta(days=1)
    words = [w for w in cleaned.split() if w not in rules.date_fillers]
    for index, word in enumerate(words):  # "3rd" -> "3"
        for suffix in rules.ordinal_suffixes:
            stem = word.removesuffix(suffix)
            if stem != word and stem.isdigit():
                words[index] = stem
                break
    cleaned = " ".join(words)
    try:
        if match := _ISO_DATE.fullmatch(cleaned):
            return date(int(match[1]), int(match[2]), int(match[3]))
        for pattern, day_group, month_group in ((_DAY_MONTH, 1, 2), (_MONTH_DAY, 2, 1)):
            match = pattern.fullmatch(cleaned)
            if match and match[month_group] in rules.months:
                day, month = int(match[day_group]), rules.months[match[month_group]]
                if match[3]:
                    return date(int(match[3]), month, day)
                found = _on_or_before(today, month, day)
                if found is not None:
                    return found
    except ValueError:  # 31 February and the like
        return None
    return None


def _on_or_before(today: date, month: int, day: int) -> date | None:
    """The latest date with this month and day, not after ``today`` (29 Feb looks back years)."""
    for year in range(today.year, today.year - 8, -1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate <= today:
            return candidate
    return None
