"""Words: the one text API every screen uses, and formatting by the rules of each language.

A :class:`Texts` holds one language's words (``content/<lang>/ui.yaml``, ``checkins.yaml``,
``admin.yaml``, ``emergency.yaml`` and ``safety_plan.yaml``, as the areas of the same names) and
its typed-input rules (``rules.yaml``, see :mod:`bot.language_rules`). Everything the bot says
is looked up the same way::

    texts.t("ui.welcome")
    texts.t("checkins.screens.today", time="08:30")
    texts.plural("checkins.screens.days", 3)        # CLDR plural category through Babel

One escaping rule: the words in content are Telegram HTML and are kept as they are; every value
filled into a ``{placeholder}`` is HTML-escaped, unless it is wrapped in :class:`Html` (a piece
of HTML the bot built itself, e.g. a bold number). One fallback chain: the person's language,
then the default language (the content validator makes sure every key exists in every
language, so the fallback is a safety net that is logged once per key, never a silent habit).

Numbers, dates and durations are formatted from CLDR data through Babel, never by hand-written
rules, so a new language is files only.
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Mapping
from datetime import date, timedelta
from functools import cached_property
from typing import Any

from babel import Locale
from babel.dates import format_date, format_timedelta
from babel.numbers import format_decimal

from bot.language_rules import LanguageRules

log = logging.getLogger(__name__)

AREAS = ("ui", "checkins", "admin", "emergency", "safety_plan")
"""The content files whose words are looked up by ``"<area>.<key>"``."""


class Html(str):
    """A value that is already safe Telegram HTML: filled into a template as it is."""

    __slots__ = ()


def escape(value: Any) -> str:
    """A value as it is shown: :class:`Html` as it is, anything else HTML-escaped."""
    if isinstance(value, Html):
        return str(value)
    return html.escape(str(value), quote=False)


class Texts:
    """One language's words, rules and CLDR formats."""

    def __init__(
        self,
        code: str,
        areas: Mapping[str, Mapping[str, Any]],
        rules: LanguageRules,
        fallback: Texts | None = None,
    ) -> None:
        self.code = code
        self._areas = areas
        self.rules = rules
        self._fallback = fallback
        self._missing_logged: set[str] = set()

    @cached_property
    def locale(self) -> Locale:
        return Locale.parse(self.rules.locale)

    # --- lookup -------------------------------------------------------------------------------

    def _own(self, key: str) -> Any:
        area, _, rest = key.partition(".")
        node: Any = self._areas.get(area)
        for part in rest.split(".") if rest else ():
            if isinstance(node, Mapping):
                node = node.get(part, node.get(int(part)) if part.isdigit() else None)
            else:
                return None
        return node

    def area(self, name: str) -> Mapping[str, Any]:
        """One area's words as they are in content (for checks over every text)."""
        return self._areas.get(name) or {}

    def has(self, key: str) -> bool:
        return self._own(key) is not None

    def raw(self, key: str) -> Any:
        """The value at ``key`` (a string, list or mapping), through the fallback chain."""
        found = self._own(key)
        if found is not None:
            return found
        if self._fallback is not None:
            if key not in self._missing_logged:
                self._missing_logged.add(key)
                log.warning("text %r missing in %r: using %r", key, self.code, self._fallback.code)
            return self._fallback.raw(key)
        raise KeyError(f"no text {key!r} in language {self.code!r}")

    def t(self, key: str, **values: Any) -> str:
        """The text at ``key``, placeholders filled with escaped values, outer space trimmed."""
        template = str(self.raw(key)).strip()
        if not values:
            return template
        return template.format(**{name: escape(value) for name, value in values.items()})

    def label(self, key: str, **values: Any) -> str:
        """A button label: plain text (Telegram shows it as it is), so values are not escaped."""
        template = str(self.raw(key)).strip()
        return template.format(**values) if values else template

    def items(self, key: str) -> list[str]:
        """A list of texts (e.g. the encouragement pool), each trimmed."""
        found = self.raw(key)
        return [str(item).strip() for item in found] if isinstance(found, list) else []

    def plural(self, key: str, n: int, **values: Any) -> str:
        """The CLDR plural form of ``key`` for ``n`` (``key.one``, ``key.other``, ...)."""
        forms = self.raw(key)
        category = self.locale.plural_form(n)
        if not isinstance(forms, Mapping):
            raise KeyError(f"text {key!r} in {self.code!r} has no plural forms")
        template = forms.get(category) or forms.get("other")
        values.setdefault("n", self.number(n))
        return str(template).strip().format(**{k: escape(v) for k, v in values.items()})

    # --- CLDR formats -------------------------------------------------------------------------

    def number(self, value: float, *, digits: int = 0) -> str:
        """``value`` with this language's decimal sign and grouping, ``digits`` after it."""
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def date(self, day: date, *, with_year: bool = False) -> str:
        """A short date with its weekday: 'Tue 14 Jan' ('Tue 14 Jan 2025' with the year)."""
        skeleton = self.rules.date_format_year if with_year else self.rules.date_format
        return format_date(day, skeleton, locale=self.locale)

    def duration(self, seconds: float) -> str:
        """A short duration: '45 s', '3 min 05 s', '2 h 10 min' (CLDR unit names)."""
        seconds = max(0, round(seconds))
        if seconds < 60:
            return self._unit(seconds, "second")
        minutes, seconds = divmod(seconds, 60)
        if minutes < 60:
            return f"{self._unit(minutes, 'minute')} {self._unit(seconds, 'second', pad=True)}"
        hours, minutes = divmod(minutes, 60)
        return f"{self._unit(hours, 'hour')} {self._unit(minutes, 'minute', pad=True)}"

    def _unit(self, amount: int, unit: str, *, pad: bool = False) -> str:
        shown = format_timedelta(
            timedelta(**{unit + "s": amount}),
            granularity=unit,  # type: ignore[arg-type]
            threshold=math.inf,
            format="short",
            locale=self.locale,
        )
        if pad and amount < 10:
            shown = shown.replace(str(amount), f"0{amount}", 1)
        return shown
