"""The safety plan: a plan of one's own, built step by step, that lives in the person's chat only.

Stanley and Brown's Safety Planning Intervention (the plan 988 and crisis services recommend),
in seven steps (:data:`bot.content.SAFETY_PLAN_STEPS`): warning signs; what I can do on my own;
people and places that take my mind off it; people I can ask for help; professionals and lines
(the person's country's lines and emergency number, from the hotline data, added at the start);
making my surroundings safer; my reasons to keep going.

What the person adds lives in a :class:`Draft`, kept in ``context.user_data`` (memory only: the
bot has no persistence) while the plan is built; the handlers (``handlers/safety_plan.py``)
delete it when the plan is sent or abandoned. At the end :func:`plan_message` renders the whole
plan as one Telegram HTML message under Telegram's limit: typed items are escaped, and shortened
as much as needed to fit (the hotline lines never are).

Pure functions of (language, country, draft), like ``bot/screens.py``: no Telegram calls, no
database, no clock. The words are in ``content/<lang>/safety_plan.yaml``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks as cb
from bot.content import SAFETY_PLAN_STEPS, Country, Language, Service
from bot.i18n import Html, escape
from bot.screens import Screen, contact_line, help_row
from bot.telegram_html import MAX_MESSAGE, visible_length

STEPS = SAFETY_PLAN_STEPS
PROFESSIONALS = STEPS.index("professionals")
TIMEOUT = 30 * 60.0  # seconds without an answer after which an unfinished plan is deleted
MAX_ITEMS = 10  # per step
MAX_TYPED = 300  # characters kept of one typed item (a longer one is shortened at once)
SHOWN_ON_STEP = 60  # characters of a typed item shown back on the step screen
MAX_BUTTONS = 6  # suggestion buttons per step
COUNTRY_LINES = 3  # of the country's lines offered (after the emergency number)
LINE_KINDS = ("crisis", "drugs", "overdose")
PLAN_LIMIT = MAX_MESSAGE - 96  # visible characters of the plan message, with a margin
CAPS = (MAX_TYPED, 200, 150, 110, 80, 60, 45, 32, 24)  # typed-item lengths tried, longest first
TYPED = "t"  # the key of a typed item; picks are "s<i>" (suggestion), "e" or "l<i>" (lines)
EMERGENCY = "e"

Item = tuple[str, str]  # (key, typed text: "" for a pick)


@dataclass
class Draft:
    """A plan being made. Nothing here is ever written anywhere but the person's chat."""

    token: str  # random, on every button of this plan: buttons of another plan are stale
    chat_id: int
    lang: str  # the language of its last screen (for the notice when it is deleted unanswered)
    last: float  # when the person last did something (monotonic seconds)
    step: int = 0
    items: list[list[Item]] = field(default_factory=lambda: [[] for _ in STEPS])
    lines_for: tuple[str, str] | None = None  # (language, country) the lines were added for
    message_id: int | None = None  # the latest step screen

    def expired(self, now: float) -> bool:
        return now - self.last >= TIMEOUT

    def picked(self, step: int) -> set[str]:
        return {key for key, _ in self.items[step] if key != TYPED}

    def toggle(self, step: int, key: str) -> bool:
        """Add a suggestion, or take it out if it is in; False if the step is full."""
        items = self.items[step]
        if key in self.picked(step):
            items[:] = [item for item in items if item[0] != key]
            return True
        if len(items) >= MAX_ITEMS:
            return False
        items.append((key, ""))
        return True

    def add_typed(self, step: int, texts: Iterable[str]) -> bool:
        """Add typed items; False if the step was or became full (the rest is not kept)."""
        items = self.items[step]
        for text in texts:
            if len(items) >= MAX_ITEMS:
                return False
            items.append((TYPED, text))
        return True

    def undo(self, step: int) -> None:
        if self.items[step]:
            self.items[step].pop()


def new_draft(chat_id: int, lang: str, now: float) -> Draft:
    return Draft(token=secrets.token_hex(3), chat_id=chat_id, lang=lang, last=now)


# --- typed text ---------------------------------------------------------------------------------


def shorten(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters (cut at a word where it can, with …)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


def typed_items(text: str) -> list[str]:
    """The items in a typed message: one per line, each shortened to :data:`MAX_TYPED` (one
    more than a step takes, at most: enough to tell that some did not fit)."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return [shorten(line, MAX_TYPED) for line in lines if line][: MAX_ITEMS + 1]


# --- the professionals step: the emergency number and the country's lines -------------------


@dataclass(frozen=True)
class Line:
    key: str
    label: str  # the button (plain text)
    html: str  # the line in the plan


def lines(lang: Language, country: Country | None) -> list[Line]:
    """The emergency number and up to :data:`COUNTRY_LINES` of the country's crisis and drug
    lines (without a country: the international directory), all from the hotline data."""
    if country is not None and country.emergency:
        shown = country.emergency
        if country.emergency_note:
            shown += f" ({country.emergency_note})"
        found = [
            Line(
                EMERGENCY,
                lang.texts.label("safety_plan.buttons.emergency", number=country.emergency),
                lang.t("safety_plan.emergency_line", number=shown),
            )
        ]
    else:
        found = [
            Line(
                EMERGENCY,
                lang.texts.label("safety_plan.buttons.emergency_unknown"),
                lang.t("safety_plan.emergency_line_unknown"),
            )
        ]
    source = country if country is not None else lang.international
    services: list[tuple[int, Service]] = []
    if source is not None:
        services = [
            (i, s) for i, s in enumerate(source.services) if country is None or s.kind in LINE_KINDS
        ][:COUNTRY_LINES]
    for index, service in services:
        html = f"<b>{escape(service.name)}</b>: {contact_line(lang, service)}"
        found.append(Line(f"l{index}", service.name, html))
    return found


def sync_lines(draft: Draft, lang: Language, country: Country | None) -> None:
    """Put the lines of the person's country (in their language) in the professionals step, once;
    again if the country or language changed meanwhile (lines of the old one are taken out)."""
    key = (lang.code, country.code if country is not None else "")
    if draft.lines_for == key:
        return
    draft.lines_for = key
    kept = [item for item in draft.items[PROFESSIONALS] if not _is_line(item[0])]
    draft.items[PROFESSIONALS] = [(line.key, "") for line in lines(lang, country)] + kept


def _is_line(key: str) -> bool:
    return key == EMERGENCY or key.startswith("l")


# --- what each step offers ------------------------------------------------------------------------


def _suggestions(lang: Language, step: int) -> list[str]:
    return lang.texts.items(f"safety_plan.steps.{STEPS[step]}.suggestions")


def choices(lang: Language, country: Country | None, step: int) -> list[tuple[str, str]]:
    """The (key, label) of each suggestion button of ``step`` (at most :data:`MAX_BUTTONS`)."""
    found: list[tuple[str, str]] = []
    if step == PROFESSIONALS:
        found = [(line.key, line.label) for line in lines(lang, country)]
    found += [(f"s{i}", text) for i, text in enumerate(_suggestions(lang, step))]
    return found[:MAX_BUTTONS]


def _item_html(
    lang: Language, country: Country | None, step: int, item: Item, cap: int
) -> str | None:
    key, typed = item
    if key == TYPED:
        return escape(shorten(typed, cap))
    if _is_line(key):
        return next((line.html for line in lines(lang, country) if line.key == key), None)
    suggestions = _suggestions(lang, step)
    index = int(key[1:]) if key[1:].isdigit() else len(suggestions)
    return suggestions[index] if index < len(suggestions) else None


def _item_shown(lang: Language, country: Country | None, step: int, item: Item) -> str | None:
    """An item as the step screen lists it: short, one line."""
    key, typed = item
    if key == TYPED:
        return escape(shorten(typed, SHOWN_ON_STEP))
    label = dict(choices(lang, country, step)).get(key)
    return escape(label) if label is not None else None


# --- screens --------------------------------------------------------------------------------------


def _button(label: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data)


def _b(lang: Language, key: str, data: str) -> InlineKeyboardButton:
    return _button(lang.texts.label("safety_plan.buttons." + key), data)


def start_button(lang: Language) -> InlineKeyboardButton:
    """The button that opens the safety plan (Help now, the guide, a hard check-in)."""
    return _b(lang, "start", cb.SP_OPEN)


def intro(lang: Language, *, notice: str | None = None) -> Screen:
    """What a safety plan is, how long it takes, and that nothing is kept (and how it is lost)."""
    rows = [
        [_b(lang, "begin", cb.SP_BEGIN)],
        [_button(lang.texts.label("ui.buttons.main_menu"), cb.CB_MENU)],
        help_row(lang),
    ]
    screen = Screen(lang.t("safety_plan.intro"), InlineKeyboardMarkup(rows))
    return screen.after(notice) if notice else screen


def step_screen(
    lang: Language, draft: Draft, country: Country | None, *, notice: str | None = None
) -> Screen:
    """One step: what it is, what is in it so far, suggestions to tap, and the way on."""
    step = draft.step
    base = f"safety_plan.steps.{STEPS[step]}"
    parts = [
        lang.t(
            "safety_plan.step",
            n=step + 1,
            total=len(STEPS),
            title=Html(lang.t(base + ".title")),
            explain=Html(lang.t(base + ".explain")),
        )
    ]
    shown = [s for item in draft.items[step] if (s := _item_shown(lang, country, step, item))]
    if shown:
        parts.append("\n".join([lang.t("safety_plan.so_far"), *(f"• {s}" for s in shown)]))
    else:
        parts.append(lang.t("safety_plan.nothing_yet"))
    if step != PROFESSIONALS:
        parts.append(lang.t("safety_plan.how_to"))
    elif country is not None:
        parts.append(lang.t("safety_plan.how_to_professionals"))
    else:
        parts.append(lang.t("safety_plan.how_to_professionals_no_country"))
    if notice:
        parts.append(notice)

    def data(prefix: str, key: str | None = None) -> str:
        return f"{prefix}{draft.token}:{step}" + (f":{key}" if key is not None else "")

    picked = draft.picked(step)

    def shown_label(key: str, label: str) -> str:
        if key not in picked:
            return label
        return lang.texts.label("safety_plan.buttons.picked", label=label)

    rows = [
        [_button(shown_label(key, label), data(cb.SP_ADD, key))]
        for key, label in choices(lang, country, step)
    ]
    if step == PROFESSIONALS and country is None:
        rows.append([_button(lang.texts.label("ui.buttons.set_country"), cb.CB_COUNTRY_PICK)])
    has_items = bool(draft.items[step])
    if step == len(STEPS) - 1:
        forward = "finish" if has_items or any(draft.items) else "finish_empty"
    else:
        forward = "done" if has_items else "skip"
    rows.append([_b(lang, forward, data(cb.SP_NEXT))])
    way_back = [_b(lang, "back", data(cb.SP_BACK))]
    if has_items:
        way_back.append(_b(lang, "undo", data(cb.SP_UNDO)))
    rows.append(way_back)
    rows.append([_b(lang, "cancel", f"{cb.SP_CANCEL}{draft.token}")])
    rows.append(help_row(lang))
    return Screen("\n\n".join(parts), InlineKeyboardMarkup(rows))


def _menu_rows(lang: Language) -> list[list[InlineKeyboardButton]]:
    return [[_button(lang.texts.label("ui.buttons.main_menu"), cb.CB_MENU)], help_row(lang)]


def cancelled(lang: Language) -> Screen:
    rows = [[_b(lang, "again", cb.SP_OPEN)], *_menu_rows(lang)]
    return Screen(lang.t("safety_plan.cancelled"), InlineKeyboardMarkup(rows))


def expired(lang: Language) -> Screen:
    rows = [[_b(lang, "again", cb.SP_OPEN)], *_menu_rows(lang)]
    return Screen(lang.t("safety_plan.expired"), InlineKeyboardMarkup(rows))


def sent(lang: Language) -> Screen:
    """Said where the last step was: the plan is in the chat, no copy is kept, pin it."""
    return Screen(lang.t("safety_plan.sent"))


def plan_message(lang: Language, draft: Draft, country: Country | None) -> Screen:
    """The whole plan as one message to pin, with Help now and the menu; under Telegram's
    limit however much was typed (typed items shortened as much as needed, escaped)."""
    keyboard = InlineKeyboardMarkup(_menu_rows(lang)[::-1])
    for cap in CAPS:
        text = _plan_text(lang, draft, country, cap)
        if visible_length(text) <= PLAN_LIMIT:
            return Screen(text, keyboard)
    # Never reached with MAX_ITEMS per step (the tests check the worst case); still, never send
    # a message Telegram would refuse: leave typed items out, from the end, until it fits.
    trimmed = replace(draft, items=[list(items) for items in draft.items])
    while visible_length(text) > PLAN_LIMIT:
        typed = [(s, i) for s, items in enumerate(trimmed.items) for i, it in enumerate(items)]
        typed = [(s, i) for s, i in typed if trimmed.items[s][i][0] == TYPED]
        if not typed:
            break
        step, index = typed[-1]
        del trimmed.items[step][index]
        text = _plan_text(lang, trimmed, country, CAPS[-1])
    return Screen(text, keyboard)


def _plan_text(lang: Language, draft: Draft, country: Country | None, cap: int) -> str:
    parts = [lang.t("safety_plan.plan.title"), lang.t("safety_plan.plan.intro")]
    sections = 0
    for step, key in enumerate(STEPS):
        found = [
            h for item in draft.items[step] if (h := _item_html(lang, country, step, item, cap))
        ]
        if found:
            sections += 1
            heading = lang.t(f"safety_plan.steps.{key}.heading")
            parts.append("\n".join([f"<b>{heading}</b>", *(f"• {h}" for h in found)]))
    if not sections:
        parts.append(lang.t("safety_plan.plan.empty"))
    if country is not None and country.emergency:
        parts.append(lang.t("safety_plan.plan.danger", number=country.emergency))
    else:
        parts.append(lang.t("safety_plan.plan.danger_unknown"))
    parts.append(lang.t("safety_plan.plan.footer"))
    return "\n\n".join(parts)
