"""Language rules: how people of one language type times, dates and places, as data.

``content/<lang>/rules.yaml`` holds what differs between languages beyond words: the CLDR
locale used for plurals, numbers and dates, the words people type for a time of day ("noon",
"mediodía"), the phrases that mean am or pm ("8 de la noche"), how they type a date ("3rd of
March", "3 de marzo", month names and short forms, "today"), and city names in their language
("Nueva York", "Ciudad de México"). :func:`load_rules` validates a file and returns a
:class:`LanguageRules`; :mod:`bot.checkin_time` and :mod:`bot.checkin_screens` read typed input
with it. No language is special-cased in code.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from babel import Locale, UnknownLocaleError

HALVES = {"am", "pm", "night"}
"""What a time suffix means: before noon, after noon, or at night (12 is midnight, 6-11 pm)."""


def fold(text: str) -> str:
    """Lower case, compatibility forms and accents folded ("Mañana" -> "manana")."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(frozen=True)
class LanguageRules:
    """Everything language-specific about reading what a person types."""

    locale: str = "en"
    date_format: str = "EEE d MMM"
    date_format_year: str = "EEE d MMM y"
    time_prefixes: tuple[str, ...] = ()
    time_words: Mapping[str, time] = field(default_factory=dict)
    time_suffixes: Mapping[str, str] = field(default_factory=dict)
    today_words: tuple[str, ...] = ()
    yesterday_words: tuple[str, ...] = ()
    months: Mapping[str, int] = field(default_factory=dict)
    ordinal_suffixes: tuple[str, ...] = ()
    date_fillers: tuple[str, ...] = ()
    cities: Mapping[str, str] = field(default_factory=dict)


def _strings(raw: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(s, str) and s.strip() for s in raw):
        problems.append(f"{where}: expected a list of words")
        return ()
    return tuple(fold(s).strip() for s in raw)


def _clock(raw: Any) -> time | None:
    text = str(raw)
    hour, sep, minute = text.partition(":")
    if not (sep and hour.isdigit() and minute.isdigit()):
        return None
    if not (0 <= int(hour) <= 23 and 0 <= int(minute) <= 59):
        return None
    return time(int(hour), int(minute))


def load_rules(raw: Any, where: str, problems: list[str]) -> LanguageRules:
    """Validate a ``rules.yaml`` mapping; append 'where: what is wrong' to ``problems``."""
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected a mapping")
        return LanguageRules()
    locale = str(raw.get("locale") or "")
    try:
        Locale.parse(locale)
    except (UnknownLocaleError, ValueError, TypeError):
        problems.append(f"{where}: 'locale' must be a CLDR locale such as 'en' or 'es'")
        locale = "en"
    times = raw.get("time") or {}
    dates = raw.get("date") or {}
    if not isinstance(times, Mapping) or not isinstance(dates, Mapping):
        problems.append(f"{where}: 'time' and 'date' must be mappings")
        return LanguageRules(locale=locale)
    words: dict[str, time] = {}
    for word, value in (times.get("words") or {}).items():
        clock = _clock(value)
        if clock is None:
            problems.append(f"{where}: time word {word!r} must map to 'HH:MM'")
            continue
        words[fold(str(word)).strip()] = clock
    suffixes: dict[str, str] = {}
    for phrase, half in (times.get("suffixes") or {}).items():
        if half not in HALVES:
            problems.append(f"{where}: time suffix {phrase!r} must be one of {sorted(HALVES)}")
            continue
        suffixes[fold(str(phrase)).strip()] = str(half)
    months: dict[str, int] = {}
    raw_months = dates.get("months") or []
    if not isinstance(raw_months, list) or len(raw_months) != 12:
        problems.append(f"{where}: 'date.months' must list 12 months (names people type)")
    else:
        for index, names in enumerate(raw_months, start=1):
            for name in _strings(names, f"{where}: month {index}", problems):
                months[name] = index
    cities: dict[str, str] = {}
    for name, zone in (raw.get("cities") or {}).items():
        cities[fold(str(name)).strip()] = str(zone)
    return LanguageRules(
        locale=locale,
        date_format=str(dates.get("format") or LanguageRules.date_format),
        date_format_year=str(dates.get("format_year") or LanguageRules.date_format_year),
        time_prefixes=_strings(times.get("prefixes"), f"{where}: time.prefixes", problems),
        time_words=words,
        time_suffixes=suffixes,
        today_words=_strings(dates.get("today"), f"{where}: date.today", problems),
        yesterday_words=_strings(dates.get("yesterday"), f"{where}: date.yesterday", problems),
        months=months,
        ordinal_suffixes=_strings(dates.get("ordinals"), f"{where}: date.ordinals", problems),
        date_fillers=_strings(dates.get("fillers"), f"{where}: date.fillers", problems),
        cities=cities,
    )
