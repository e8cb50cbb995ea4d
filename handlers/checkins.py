"""Check-ins: /checkin, the Check-ins button, every ``ck`` button, and the typed-time, typed-zone
and typed-date flows.

Handlers are thin: read the update, change the stored settings (``bot/checkins.py``),
show a screen from ``bot/checkin_screens.py``. Buttons on a check-in message answer with a new
message so the check-in stays readable; buttons on the /checkin screens edit them in place.
Buttons whose data is old or forged get the friendly stale answer. Nothing a person types or
answers is stored: only the settings they choose.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot import callbacks as cb
from bot import checkin_screens as cs
from bot import checkins
from bot.checkin_time import find_zone, parse_time
from bot.content import Country
from bot.context import BotContext
from bot.screens import Screen
from bot.storage import CheckinSettings
from handlers import fallback, text
from handlers.helpnow import send_help_now
from handlers.respond import answer_query, show

FLOW_TIME = "checkin_time"
FLOW_ZONE = "checkin_zone"
FLOW_DATE = "checkin_date"
PENDING_TIME = "checkin_pending_time"  # user_data: the chosen time while a zone is picked


def _user_id(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id


def _data(update: Update, prefix: str) -> str:
    query = update.callback_query
    assert query is not None and query.data is not None
    return query.data.removeprefix(prefix)


async def _settings(update: Update, context: BotContext) -> CheckinSettings | None:
    return await context.db.get_checkin(_user_id(update))


async def _zone_for_today(
    update: Update, context: BotContext, settings: CheckinSettings | None
) -> ZoneInfo:
    """Whose 'today' the day counter uses: the check-in zone, else the country's, else UTC."""
    if settings is not None and settings.zone:
        return ZoneInfo(settings.zone)
    country = await context.country()
    return ZoneInfo(country.timezones[0] if country and country.timezones else "UTC")


async def _status(
    update: Update,
    context: BotContext,
    settings: CheckinSettings | None,
    *,
    notice: str | None = None,
) -> Screen:
    """The /checkin status screen, its day counter counted in the same zone as everywhere."""
    lang = await context.language()
    zone = await _zone_for_today(update, context, settings)
    return cs.status(lang, settings, checkins.utcnow(), notice=notice, today_zone=zone)


async def _reply(update: Update, context: BotContext, screen: Screen, *, edit: bool = True) -> None:
    await answer_query(update)
    await show(update, context, screen, edit=edit)


# --- status -------------------------------------------------------------------------------------


async def checkin_command(update: Update, context: BotContext) -> None:
    """/checkin and the Check-ins button: the current state and what can be changed."""
    text.stop_expecting(context)
    settings = await _settings(update, context)
    await _reply(update, context, await _status(update, context, settings))


# --- choosing a time ----------------------------------------------------------------------------


async def choose_time(update: Update, context: BotContext) -> None:
    """Presets, the picker, or type a time (also "Change time" on a check-in message)."""
    lang = await context.language()
    text.expect_text(context, FLOW_TIME)
    from_message = _data(update, "") == cb.CK_MSG_TIME
    await _reply(update, context, cs.time_chooser(lang), edit=not from_message)


async def pick_hour(update: Update, context: BotContext) -> None:
    """The hour picker."""
    await _reply(update, context, cs.hour_picker(await context.language()))


async def pick_minute(update: Update, context: BotContext) -> None:
    """The minute picker for the chosen hour."""
    hour = _data(update, cb.CK_HOUR)
    if not (hour.isdigit() and len(hour) == 2 and int(hour) < 24):
        await fallback.stale_button(update, context)
        return
    await _reply(update, context, cs.minute_picker(await context.language(), int(hour)))


async def set_time_button(update: Update, context: BotContext) -> None:
    """A preset or a picked minute."""
    local = cs.parse_hhmm(_data(update, cb.CK_SET_TIME))
    if local is None:
        await fallback.stale_button(update, context)
        return
    await answer_query(update)
    await _apply_time(update, context, local)


async def time_typed(update: Update, context: BotContext) -> None:
    """Flow: a typed time ("08:30", "8:30pm"); anything else gets a clear example."""
    typed = update.effective_message.text if update.effective_message else None
    lang = await context.language()
    local = parse_time(typed or "", lang.rules)
    if local is None:
        await show(update, context, cs.bad_time(lang, typed or ""))
        return
    await _apply_time(update, context, local)


async def _apply_time(update: Update, context: BotContext, local: time) -> None:
    """Keep the zone of existing check-ins, take the country's only zone, or ask for one."""
    settings = await _settings(update, context)
    if settings is not None and settings.active and settings.zone:
        await _turn_on(update, context, local, settings.zone)
        return
    country = await context.country()
    if country is not None and len(country.timezones) == 1:
        await _turn_on(update, context, local, country.timezones[0])
        return
    await _ask_zone(update, context, local, country)


async def _ask_zone(
    update: Update, context: BotContext, local: time, country: Country | None
) -> None:
    if context.user_data is not None:
        context.user_data[PENDING_TIME] = cs.hhmm(local)
    text.expect_text(context, FLOW_ZONE)
    lang = await context.language()
    await show(update, context, cs.zone_chooser(lang, local, country, checkins.utcnow()))


async def _turn_on(update: Update, context: BotContext, local: time, zone: str) -> None:
    text.stop_expecting(context)
    if context.user_data is not None:
        context.user_data.pop(PENDING_TIME, None)
    now = checkins.utcnow()
    settings = await checkins.set_schedule(context.db, _user_id(update), local, zone, now)
    await show(update, context, cs.confirmed(await context.language(), settings, now))


# --- choosing a time zone -----------------------------------------------------------------------


async def choose_zone(update: Update, context: BotContext) -> None:
    """Change time zone (or pick one for a chosen time)."""
    local = cs.parse_hhmm(_data(update, cb.CK_ZONES))
    if local is None:
        await fallback.stale_button(update, context)
        return
    await answer_query(update)
    await _ask_zone(update, context, local, await context.country())


async def zone_country(update: Update, context: BotContext) -> None:
    """A country from the list: its only zone, or its zones to pick from."""
    raw_time, _, code = _data(update, cb.CK_ZONE_COUNTRY).partition(":")
    lang = await context.language()
    local, country = cs.parse_hhmm(raw_time), lang.country(code)
    if local is None or country is None or not country.timezones:
        await fallback.stale_button(update, context)
        return
    await answer_query(update)
    if len(country.timezones) == 1:
        await _turn_on(update, context, local, country.timezones[0])
        return
    lang = await context.language()
    await show(update, context, cs.country_zones(lang, local, country, checkins.utcnow()))


async def set_zone_button(update: Update, context: BotContext) -> None:
    """A zone button: turn check-ins on (or move them) with that time and zone."""
    raw_time, _, zone = _data(update, cb.CK_ZONE).partition(":")
    local = cs.parse_hhmm(raw_time)
    if local is None or not cs.valid_zone(zone):
        await fallback.stale_button(update, context)
        return
    await answer_query(update)
    await _turn_on(update, context, local, zone)


async def zone_typed(update: Update, context: BotContext) -> None:
    """Flow: a typed city or IANA name; unclear ones get suggestions as buttons."""
    typed = (update.effective_message.text if update.effective_message else None) or ""
    lang = await context.language()
    pending = (context.user_data or {}).get(PENDING_TIME)
    local = cs.parse_hhmm(pending) if isinstance(pending, str) else None
    if local is None:
        settings = await _settings(update, context)
        local = settings.local_time if settings is not None else None
    if local is None:
        text.expect_text(context, FLOW_TIME)
        await show(update, context, cs.time_again(lang))
        return
    found = find_zone(typed, lang.rules.cities)
    if found.zone is not None:
        await _turn_on(update, context, local, found.zone)
        return
    screen = cs.zone_suggestions(lang, local, typed, found.suggestions, checkins.utcnow())
    await show(update, context, screen)


# --- pause, resume, discreet, stop --------------------------------------------------------------


async def pause(update: Update, context: BotContext) -> None:
    """Pause a week (from the status screen or a check-in message)."""
    now = checkins.utcnow()
    lang = await context.language()
    settings = await checkins.pause(context.db, _user_id(update), now + cs.PAUSE_LENGTH, now)
    from_message = _data(update, "") == cb.CK_MSG_PAUSE
    screen = cs.paused(lang, settings, now) if settings else cs.stopped(lang, was_on=False)
    await _reply(update, context, screen, edit=not from_message)


async def resume(update: Update, context: BotContext) -> None:
    """End a pause now."""
    now = checkins.utcnow()
    lang = await context.language()
    settings = await checkins.resume(context.db, _user_id(update), now)
    screen = cs.resumed(lang, settings, now) if settings else cs.stopped(lang, was_on=False)
    await _reply(update, context, screen)


async def toggle_discreet(update: Update, context: BotContext) -> None:
    """Switch the first line between discreet and clearer."""
    lang = await context.language()
    settings = await _settings(update, context)
    if settings is None or not settings.active:
        await _reply(update, context, await _status(update, context, settings))
        return
    discreet = not settings.discreet
    await context.db.set_discreet(_user_id(update), discreet)
    settings = await _settings(update, context)
    notice = cs.discreet_notice(lang, discreet)
    await _reply(update, context, await _status(update, context, settings, notice=notice))


async def stop(update: Update, context: BotContext) -> None:
    """Stop check-ins: one tap, confirmed in words."""
    text.stop_expecting(context)
    was_on = await context.db.stop_checkins(_user_id(update))
    from_message = _data(update, "") == cb.CK_MSG_STOP
    screen = cs.stopped(await context.language(), was_on=was_on)
    await _reply(update, context, screen, edit=not from_message)


# --- answers to a check-in (nothing is stored) --------------------------------------------------


async def answer_okay(update: Update, context: BotContext) -> None:
    """Doing okay."""
    await _reply(update, context, cs.answer_okay(await context.language()), edit=False)


async def answer_struggling(update: Update, context: BotContext) -> None:
    """Struggling: a kind answer, coping tools, support groups, Help now."""
    screen = cs.answer_struggling(await context.language())
    await _reply(update, context, screen, edit=False)


async def answer_help_now(update: Update, context: BotContext) -> None:
    """Need help now: the Help now answer, at once."""
    await answer_query(update)
    await send_help_now(update, context)


# --- day counter --------------------------------------------------------------------------------


async def counter(update: Update, context: BotContext) -> None:
    """The day counter screen."""
    text.stop_expecting(context)
    await _show_counter(update, context)


async def _show_counter(update: Update, context: BotContext, *, edit: bool = True) -> None:
    settings = await _settings(update, context)
    today = cs.local_today(await _zone_for_today(update, context, settings), checkins.utcnow())
    lang = await context.language()
    await _reply(update, context, cs.counter(lang, settings, today), edit=edit)


async def counter_days_ago(update: Update, context: BotContext) -> None:
    """Start the counter today or yesterday."""
    raw = _data(update, cb.CK_COUNTER_AGO)
    if raw not in {"0", "1"}:
        await fallback.stale_button(update, context)
        return
    text.stop_expecting(context)
    settings = await _settings(update, context)
    today = cs.local_today(await _zone_for_today(update, context, settings), checkins.utcnow())
    await context.db.set_counter(_user_id(update), today - timedelta(days=int(raw)))
    await _show_counter(update, context)


async def counter_type(update: Update, context: BotContext) -> None:
    """Ask for a typed start date."""
    text.expect_text(context, FLOW_DATE)
    await _reply(update, context, cs.counter_type(await context.language()))


async def date_typed(update: Update, context: BotContext) -> None:
    """Flow: a typed start date; unreadable or future dates get an example."""
    typed = (update.effective_message.text if update.effective_message else None) or ""
    lang = await context.language()
    settings = await _settings(update, context)
    today = cs.local_today(await _zone_for_today(update, context, settings), checkins.utcnow())
    start: date | None = cs.parse_date(typed, lang.rules, today)
    if start is None:
        await show(
            update, context, cs.counter_type(lang, notice_key="counter_bad_date", typed=typed)
        )
        return
    if start > today:
        await show(update, context, cs.counter_type(lang, notice_key="counter_future"))
        return
    text.stop_expecting(context)
    await context.db.set_counter(_user_id(update), start)
    await _show_counter(update, context, edit=False)


async def counter_hide(update: Update, context: BotContext) -> None:
    """Hide the counter (the date is kept)."""
    await context.db.set_counter_shown(_user_id(update), False)
    await _show_counter(update, context)


async def counter_show(update: Update, context: BotContext) -> None:
    """Show the counter again."""
    await context.db.set_counter_shown(_user_id(update), True)
    await _show_counter(update, context)


async def counter_slip(update: Update, context: BotContext) -> None:
    """Ask before starting again (a mistaken tap must not cost someone their count)."""
    await _reply(update, context, cs.counter_slip_ask(await context.language()))


async def counter_slip_yes(update: Update, context: BotContext) -> None:
    """Start again from today, without shame."""
    settings = await _settings(update, context)
    today = cs.local_today(await _zone_for_today(update, context, settings), checkins.utcnow())
    await context.db.set_counter(_user_id(update), today)
    await _reply(update, context, cs.counter_slip_done(await context.language()))


async def counter_remove(update: Update, context: BotContext) -> None:
    """Remove the counter and its date."""
    await context.db.set_counter(_user_id(update), None)
    await _reply(update, context, cs.counter_removed(await context.language()))


# --- registration -------------------------------------------------------------------------------


def flows() -> dict[str, text.Flow]:
    """The check-in text flows, for the one list in ``handlers/__init__.py``."""
    return {FLOW_TIME: time_typed, FLOW_ZONE: zone_typed, FLOW_DATE: date_typed}


def _exact(*data: str) -> str:
    return "^(" + "|".join(re.escape(d) for d in data) + ")$"


def _prefix(prefix: str) -> str:
    return "^" + re.escape(prefix)


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """Every check-in handler, in order (registered before the fallbacks)."""
    return [
        CommandHandler("checkin", checkin_command, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(checkin_command, pattern=_exact(cb.CK_STATUS)),
        CallbackQueryHandler(choose_time, pattern=_exact(cb.CK_TIME, cb.CK_MSG_TIME)),
        CallbackQueryHandler(pick_hour, pattern=_exact(cb.CK_HOURS)),
        CallbackQueryHandler(pick_minute, pattern=_prefix(cb.CK_HOUR)),
        CallbackQueryHandler(set_time_button, pattern=_prefix(cb.CK_SET_TIME)),
        CallbackQueryHandler(zone_country, pattern=_prefix(cb.CK_ZONE_COUNTRY)),
        CallbackQueryHandler(set_zone_button, pattern=_prefix(cb.CK_ZONE)),
        CallbackQueryHandler(choose_zone, pattern=_prefix(cb.CK_ZONES)),
        CallbackQueryHandler(pause, pattern=_exact(cb.CK_PAUSE, cb.CK_MSG_PAUSE)),
        CallbackQueryHandler(resume, pattern=_exact(cb.CK_RESUME)),
        CallbackQueryHandler(toggle_discreet, pattern=_exact(cb.CK_DISCREET)),
        CallbackQueryHandler(stop, pattern=_exact(cb.CK_STOP, cb.CK_MSG_STOP)),
        CallbackQueryHandler(answer_okay, pattern=_exact(cb.CK_OKAY)),
        CallbackQueryHandler(answer_struggling, pattern=_exact(cb.CK_STRUGGLING)),
        CallbackQueryHandler(answer_help_now, pattern=_exact(cb.CK_HELP_NOW)),
        CallbackQueryHandler(counter, pattern=_exact(cb.CK_COUNTER)),
        CallbackQueryHandler(counter_days_ago, pattern=_prefix(cb.CK_COUNTER_AGO)),
        CallbackQueryHandler(counter_type, pattern=_exact(cb.CK_COUNTER_TYPE)),
        CallbackQueryHandler(counter_hide, pattern=_exact(cb.CK_COUNTER_HIDE)),
        CallbackQueryHandler(counter_show, pattern=_exact(cb.CK_COUNTER_SHOW)),
        CallbackQueryHandler(counter_slip_yes, pattern=_exact(cb.CK_COUNTER_SLIP_YES)),
        CallbackQueryHandler(counter_slip, pattern=_exact(cb.CK_COUNTER_SLIP)),
        CallbackQueryHandler(counter_remove, pattern=_exact(cb.CK_COUNTER_REMOVE)),
    ]
