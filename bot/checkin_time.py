"""Local-time rules for daily check-ins.

This module owns every rule about *when* a daily check-in happens, so that the scheduler,
the database layer and the Telegram handlers never reason about time zones themselves.
It is pure: no Telegram, no database, no clock reads (callers pass ``now``/``after``).

The rules:

* A user picks a local wall-clock time (:func:`parse_time`) and an IANA zone
  (:func:`find_zone`).
* There is exactly one scheduled occurrence per local calendar date
  (:func:`scheduled_on`):

  - the chosen wall time on that date when it exists; when it exists twice
    (clocks go back) the *first* occurrence (``fold=0``) is used;
  - when it does not exist (clocks go forward over it) the occurrence is the instant the
    clock jumps, i.e. the first valid moment after the chosen time, shown locally as the
    end of the gap (02:30 in New York on a spring-forward day is sent at 03:00 EDT).

* :func:`next_due` returns the first occurrence strictly after a given instant. It is
  idempotent between occurrences, so a restart at any moment never schedules a second
  check-in for a local date that already had one.

All instants going in and out are timezone-aware; results are in UTC.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import unicodedata
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.language_rules import LanguageRules, fold

__all__ = [
    "ZoneLookup",
    "find_zone",
    "format_time",
    "local_date_of",
    "next_due",
    "parse_time",
    "scheduled_on",
    "zone_label",
]

# --------------------------------------------------------------------------------------------
# Parsing and formatting the chosen time
# --------------------------------------------------------------------------------------------

_MAX_TIME_INPUT = 40
_AMPM = r"(?:\s*(?P<ampm>[ap])\.?\s?(?:m\.?)?)?"
_TIME_PATTERNS: tuple[re.Pattern[str], ...] = (
    # "8:30", "08.30", "8h30", "8 30", "8:30pm", "8 30 am", "8.30 p.m."
    re.compile(rf"(?P<hour>[0-9]{{1,2}})(?:\s*[:.h]\s*|\s+)(?P<minute>[0-9]{{2}}){_AMPM}"),
    # "830", "0830", "2030", "830pm"
    re.compile(rf"(?P<hour>[0-9]{{1,2}})(?P<minute>[0-9]{{2}}){_AMPM}"),
    # "8", "20", "8pm", "8 am", "20h"
    re.compile(rf"(?P<hour>[0-9]{{1,2}})h?{_AMPM}"),
)


def parse_time(text: str, rules: LanguageRules | None = None) -> time | None:
    """Parse a user-typed local time of day; return ``None`` when it is not a valid time.

    Accepts 24-hour ("20:30", "8:30", "0830", "830", "8.30", "8h30", "8 30", "20") and
    12-hour forms ("8:30pm", "8pm", "8 30 am", "8.30 p.m."), in every language. What differs
    by language is data in ``rules`` (``content/<lang>/rules.yaml``): words that are a time
    ("noon", "mediodía"), words before a time ("at", "a las") and phrases after the hour that
    say the half of the day ("in the evening", "de la noche"). Full-width digits are
    normalised and accents are optional. With am/pm the hour must be 1-12; minutes, when
    given, must be two digits ("8:5" is rejected as ambiguous). "24:00" is rejected: the
    day's midnight is "00:00".
    """
    if not isinstance(text, str):
        return None
    rules = rules or LanguageRules()
    cleaned = " ".join(fold(text).split())
    if len(cleaned) > _MAX_TIME_INPUT:
        return None
    for prefix in rules.time_prefixes:
        if cleaned.startswith(prefix + " "):
            cleaned = cleaned.removeprefix(prefix).strip()
            break
    if cleaned in rules.time_words:
        return rules.time_words[cleaned]
    half: str | None = None
    for phrase in sorted(rules.time_suffixes, key=len, reverse=True):
        if cleaned.endswith(" " + phrase) or (cleaned.endswith(phrase) and cleaned[:1].isdigit()):
            half = rules.time_suffixes[phrase]
            cleaned = cleaned.removesuffix(phrase).strip()
            break
    for pattern in _TIME_PATTERNS:
        match = pattern.fullmatch(cleaned)
        if match is not None:
            minute_text = match.groupdict().get("minute")
            ampm = match["ampm"]
            if half is not None and ampm is not None:
                return None  # "8pm in the morning"
            hour, minute = int(match["hour"]), int(minute_text) if minute_text else 0
            if half == "night":
                if hour == 12:
                    return _build_time(12, minute, "a")
                if 6 <= hour <= 11:
                    return _build_time(hour, minute, "p")
                return None
            if half is not None:
                ampm = half[0]
            return _build_time(hour, minute, ampm)
    return None


def _build_time(hour: int, minute: int, ampm: str | None) -> time | None:
    """Validate hour/minute (12-hour when ``ampm`` is "a"/"p") and build a naive time."""
    if not 0 <= minute <= 59:
        return None
    if ampm is None:
        return time(hour, minute) if 0 <= hour <= 23 else None
    if not 1 <= hour <= 12:
        return None
    return time(hour % 12 + (12 if ampm == "p" else 0), minute)


def format_time(t: time) -> str:
    """Format a local time the way the bot shows and stores it: zero-padded ``"HH:MM"``."""
    return f"{t.hour:02d}:{t.minute:02d}"


# --------------------------------------------------------------------------------------------
# Scheduling
# --------------------------------------------------------------------------------------------


def _require_aware(value: datetime, name: str) -> None:
    """Reject naive datetimes: they would silently be read as the server's local time."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def local_date_of(instant: datetime, zone: ZoneInfo) -> date:
    """Return the calendar date shown by a wall clock in ``zone`` at the aware ``instant``."""
    _require_aware(instant, "instant")
    return instant.astimezone(zone).date()


def scheduled_on(local: time, zone: ZoneInfo, day: date) -> datetime:
    """Return the UTC instant of the check-in scheduled for local date ``day``.

    * ``local`` exists once on ``day``: that instant.
    * ``local`` exists twice (clocks went back): the first one (``fold=0``).
    * ``local`` falls in a gap (clocks went forward): the transition instant, i.e. the first
      valid moment after ``local``; locally it reads as the end of the gap.

    In the rare zones where a gap swallows the rest of the day or the whole date (e.g.
    Pacific/Apia skipped 2011-12-30) the transition instant lies on a later local date;
    :func:`next_due` skips such occurrences so that no local date gets two check-ins.
    """
    naive = datetime.combine(day, local.replace(tzinfo=None, fold=0))
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        # Exists; with fold=0 zoneinfo resolves an ambiguous time to the earlier instant.
        return first
    # In a gap, fold=0 applies the pre-transition offset (an instant after the transition)
    # and fold=1 the post-transition offset (an instant before it): the transition lies in
    # (second, first]. Transitions sit on whole seconds, so bisect on integer timestamps.
    # The span is at most the gap length, so this is ~12-17 zone lookups on gap days only.
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    offset_before = naive.replace(tzinfo=zone, fold=0).utcoffset()
    low = math.floor(second.timestamp())
    high = math.ceil(first.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset_before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def next_due(local: time, zone: ZoneInfo, after: datetime) -> datetime:
    """Return the UTC instant of the first scheduled check-in strictly after ``after``.

    ``after`` must be timezone-aware (normally UTC). Occurrences are those of
    :func:`scheduled_on`, one per local date, keeping only those whose instant actually
    falls on their own local date. The answer is the same for every ``after`` between two
    occurrences, and ``after`` equal to an occurrence yields the next date's one, so
    re-running after a restart cannot produce a second check-in for the same local date.

    Cost is constant: usually one or two :func:`scheduled_on` calls.

    When advancing a claimed row, pass ``max(claimed_due, now)``: this moves past the
    occurrence just sent and, after downtime, skips missed days instead of replaying them.
    """
    _require_aware(after, "after")
    start = local_date_of(after, zone)
    # Local dates are monotonic in practice, so the answer is on `start` or the next date;
    # two extra dates cover a local date that does not exist or whose time fell past it.
    for days_ahead in range(4):
        day = start + timedelta(days=days_ahead)
        occurrence = scheduled_on(local, zone, day)
        if occurrence > after and local_date_of(occurrence, zone) == day:
            return occurrence
    raise RuntimeError(f"no check-in found within 4 days after {after.isoformat()} in {zone}")


# --------------------------------------------------------------------------------------------
# Time zones
# --------------------------------------------------------------------------------------------

_REGIONS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)
_NOT_ZONES = frozenset({"Factory", "localtime", "posixrules"})
# Backward-compatibility link names that make poor city aliases ("west" → Perth).
_BAD_ALIASES = frozenset({"ACT", "LHI", "NSW", "North", "South", "West", "Samoa", "Virgin"})
_MAX_SUGGESTIONS = 5
_FUZZY_CUTOFF = 0.75
_MAX_ZONE_INPUT = 80


@dataclass(frozen=True)
class ZoneLookup:
    """Result of :func:`find_zone`.

    ``zone`` is the IANA name when the query identified exactly one valid zone; otherwise
    it is ``None`` and ``suggestions`` holds up to five canonical IANA names to offer.
    """

    zone: str | None
    suggestions: tuple[str, ...] = ()


@dataclass(frozen=True)
class _ZoneIndex:
    """Precomputed lookup tables; built once by :func:`_zone_index`."""

    exact: dict[str, str]  # normalised full name -> IANA name (any valid zone, legacy too)
    canonical: dict[str, str]  # normalised full name -> IANA name (suggestable zones only)
    cities: dict[str, tuple[str, ...]]  # normalised city -> suggestable IANA names


def _normalise(text: str) -> str:
    """Case-fold, strip accents and punctuation, treat ``_``/``-`` as spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    stripped = re.sub(r"['’.,()]", "", stripped)
    stripped = re.sub(r"[\s_\-]+", " ", stripped)
    return re.sub(r"\s*/\s*", "/", stripped).strip()


def _city_of(name: str) -> str:
    """The last path component of an IANA name, as typed by a person."""
    return _normalise(name.rsplit("/", 1)[-1])


def _read_tzdata_text(filename: str) -> str | None:
    """Read a tzdata metadata file from the ``tzdata`` package or the system zoneinfo dir."""
    try:
        return resources.files("tzdata").joinpath("zoneinfo").joinpath(filename).read_text("utf-8")
    except (ImportError, OSError):
        pass
    for root in zoneinfo.TZPATH:
        try:
            return Path(root, filename).read_text("utf-8")
        except OSError:
            continue
    return None


def _canonical_zones(available: frozenset[str]) -> frozenset[str]:
    """Zones worth suggesting: the per-country zones of ``zone.tab`` (no legacy aliases)."""
    text = _read_tzdata_text("zone.tab")
    if text is not None:
        names = {
            fields[2]
            for line in text.splitlines()
            if line and not line.startswith("#") and len(fields := line.split("\t")) >= 3
        }
        found = frozenset(names & available)
        if found:
            return found
    # Fallback: regional names only; still excludes "US/Eastern", "Etc/GMT+5", "Japan", ...
    return frozenset(name for name in available if name.split("/", 1)[0] in _REGIONS)


def _city_aliases(canonical: frozenset[str]) -> Iterable[tuple[str, str]]:
    """Old city names from tzdata links, e.g. ("calcutta", "Asia/Kolkata"), ("kiev", ...)."""
    text = _read_tzdata_text("tzdata.zi")
    if text is None:
        return
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 3 or fields[0] != "L":
            continue
        target, link = fields[1], fields[2]
        if (
            target in canonical
            and link.split("/", 1)[0] in _REGIONS
            and link.rsplit("/", 1)[-1] not in _BAD_ALIASES
        ):
            yield _city_of(link), target


@functools.cache
def _zone_index() -> _ZoneIndex:
    """Build the zone lookup tables once per process."""
    available = frozenset(zoneinfo.available_timezones() - _NOT_ZONES)
    canonical = _canonical_zones(available)
    exact = {_normalise(name): name for name in sorted(available)}
    suggestable = {_normalise(name): name for name in sorted(canonical)}
    cities: dict[str, list[str]] = {}
    for name in sorted(canonical):
        cities.setdefault(_city_of(name), []).append(name)
    for city, target in _city_aliases(canonical):
        if city not in cities:  # a real zone of that name always wins over an old alias
            cities[city] = [target]
    return _ZoneIndex(
        exact=exact,
        canonical=suggestable,
        cities={city: tuple(names) for city, names in cities.items()},
    )


def _dedupe(names: Iterable[str]) -> tuple[str, ...]:
    """Keep the first occurrence of each name, at most five."""
    return tuple(dict.fromkeys(names))[:_MAX_SUGGESTIONS]


def _exact(index: _ZoneIndex, key: str) -> ZoneLookup | None:
    """Look a normalised query up as a full IANA name or as a city name."""
    if key in index.exact:
        return ZoneLookup(index.exact[key])
    matches = index.cities.get(key, ())
    if len(matches) == 1:
        return ZoneLookup(matches[0])
    if matches:
        return ZoneLookup(None, _dedupe(matches))
    return None


def find_zone(query: str, cities: Mapping[str, str] | None = None) -> ZoneLookup:
    """Resolve what a user typed to an IANA time zone, or suggest a few.

    Accepts IANA names in any case ("europe/berlin"), including legacy names such as
    "US/Eastern" when typed in full, and city names: the last component of a zone name
    with spaces for underscores and accents ignored ("new york", "Sao Paulo", "st johns"),
    plus old city names kept as tzdata links ("Calcutta" → Asia/Kolkata). "London, UK" is
    read as "London". ``cities`` maps city names in the person's language
    (``content/<lang>/rules.yaml``: "nueva york") to zones. Otherwise ``zone`` is ``None``
    and ``suggestions`` lists up to five close canonical zones (city-prefix matches first,
    then :mod:`difflib` matches); legacy names are never suggested.
    """
    if not isinstance(query, str) or len(query) > _MAX_ZONE_INPUT:
        return ZoneLookup(None)
    key = _normalise(query)
    if not key:
        return ZoneLookup(None)
    aliases = {_normalise(name): zone for name, zone in (cities or {}).items()}
    for typed in (key, _normalise(query.split(",", 1)[0])):
        if typed in aliases:  # a city's name in the person's language
            return ZoneLookup(aliases[typed])
    index = _zone_index()
    found = _exact(index, key)
    if found is not None:
        return found
    head = _normalise(query.split(",", 1)[0])
    if head and head != key:
        found = _exact(index, head)
        if found is not None and found.zone is not None:
            return found
        key = head

    suggestions: list[str] = []
    city_key = key.rsplit("/", 1)[-1]
    if len(city_key) >= 3:
        for city in sorted(index.cities, key=lambda c: (len(c), c)):
            if city.startswith(city_key):
                suggestions.extend(index.cities[city])
    for city in difflib.get_close_matches(city_key, index.cities, 5, _FUZZY_CUTOFF):
        suggestions.extend(index.cities[city])
    if "/" in key:
        for full in difflib.get_close_matches(key, index.canonical, 5, _FUZZY_CUTOFF):
            suggestions.append(index.canonical[full])
    return ZoneLookup(None, _dedupe(suggestions))


def zone_label(zone: str, now: datetime) -> str:
    """Short button label for a zone at instant ``now``, e.g. ``"New York (UTC−05:00)"``.

    Three-part names keep their middle part ("Knox, Indiana") so that a country's zones
    stay distinguishable. Uses a real minus sign (U+2212) for negative offsets.
    """
    _require_aware(now, "now")
    offset = now.astimezone(ZoneInfo(zone)).utcoffset() or timedelta(0)
    seconds = int(offset.total_seconds())
    sign = "−" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    parts = zone.split("/")
    place = parts[-1].replace("_", " ")
    if len(parts) == 3:
        place = f"{place}, {parts[1].replace('_', ' ')}"
    return f"{place} (UTC{sign}{hours:02d}:{minutes:02d})"
