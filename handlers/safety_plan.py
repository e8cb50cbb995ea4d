"""Safety plan: /plan, the "Make a safety plan" button (Help now, the coping page, a hard
check-in) and every ``sp`` button, and the typed-items flow.

What the person adds lives only in ``context.user_data`` (the bot has no persistence: memory
only) as a :class:`bot.safety_plan.Draft`, and is deleted when the plan is sent, on Cancel or
/cancel, on any other command (not /helpnow, /sos or /plan: Help now must not cost anyone their
place), or after :data:`bot.safety_plan.TIMEOUT` without an answer (a job per plan, and a check
on every update). Crisis words typed into a step get Help now from the crisis gate; the plan
stays, and the next message carries on with the step. Nothing typed is stored or logged.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from telegram import Message, MessageEntity, Update
from telegram.error import TelegramError
from telegram.ext import Application, BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot import callbacks as cb
from bot import safety_plan as sp
from bot.context import BotContext
from handlers import fallback, text
from handlers.respond import answer_query, show

log = logging.getLogger(__name__)

FLOW = "safety_plan"
KEY = "safety_plan"  # user_data: the Draft while the plan is made
JOB = "safety_plan:"  # + user id: the job that deletes an unanswered plan
KEEP_ON = {"helpnow", "sos", "plan", "cancel"}  # commands that do not drop the plan by themselves


def clock() -> float:
    """Monotonic seconds (tests move it)."""
    return time.monotonic()


# --- the draft in memory --------------------------------------------------------------------------


def _user_id(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id


def _stored(application: Application[Any, Any, Any, Any, Any, Any], user_id: int) -> Any:
    """The person's user_data, without creating one for people who have none."""
    return application.user_data.get(user_id)


def forget(application: Application[Any, Any, Any, Any, Any, Any], user_id: int) -> None:
    """Delete the person's plan from memory, and its job."""
    data = _stored(application, user_id)
    if data is not None:
        data.pop(KEY, None)
        if data.get(text.AWAITING) == FLOW:
            data.pop(text.AWAITING, None)
    if application.job_queue is not None:
        for job in application.job_queue.get_jobs_by_name(f"{JOB}{user_id}"):
            job.schedule_removal()


def _draft(update: Update, context: BotContext) -> sp.Draft | None:
    """The plan being made, if any and not past its time (then it is deleted here)."""
    if update.effective_user is None:
        return None
    data = _stored(context.application, update.effective_user.id)
    draft = data.get(KEY) if data is not None else None
    if not isinstance(draft, sp.Draft):
        return None
    if draft.expired(clock()):
        forget(context.application, update.effective_user.id)
        return None
    return draft


def _schedule(
    application: Application[Any, Any, Any, Any, Any, Any],
    user_id: int,
    token: str,
    delay: float,
) -> None:
    if application.job_queue is not None:
        application.job_queue.run_once(
            _expire, when=max(delay, 1.0), data=(user_id, token), name=f"{JOB}{user_id}"
        )


async def _expire(context: BotContext) -> None:
    """Job: delete a plan left unanswered for :data:`sp.TIMEOUT`, and say so on its last screen
    (an edit: no notification)."""
    assert context.job is not None
    job_data: tuple[int, str] = context.job.data  # type: ignore[assignment]
    user_id, token = job_data
    data = _stored(context.application, user_id)
    draft = data.get(KEY) if data is not None else None
    if not isinstance(draft, sp.Draft) or draft.token != token:
        return
    left = draft.last + sp.TIMEOUT - clock()
    if left > 0:  # answered meanwhile: look again when its time is up
        _schedule(context.application, user_id, token, left)
        return
    forget(context.application, user_id)
    if draft.message_id is None:
        return
    screen = sp.expired(context.services.content.lang(draft.lang))
    try:
        await context.bot.edit_message_text(
            screen.text,
            chat_id=draft.chat_id,
            message_id=draft.message_id,
            reply_markup=screen.keyboard,
        )
    except TelegramError as exc:  # deleted, too old, blocked: the plan is gone all the same
        log.info("could not mark an expired safety plan (%s)", type(exc).__name__)


async def watch(update: Update, context: BotContext) -> None:
    """Before anything else: any other command drops the plan; anything else keeps it alive."""
    if update.effective_user is None:
        return
    user_id = update.effective_user.id
    data = _stored(context.application, user_id)
    draft = data.get(KEY) if data is not None else None
    if not isinstance(draft, sp.Draft):
        return
    command = _command(update.message)
    if draft.expired(clock()) or (command is not None and command not in KEEP_ON):
        forget(context.application, user_id)
        return
    draft.last = clock()


def _command(message: Message | None) -> str | None:
    """The command a message starts with ('menu' for '/menu@bot x'), else None. The Help now
    deep link (``/start helpnow``) counts as Help now."""
    if message is None or not message.text or not message.entities:
        return None
    first = message.entities[0]
    if first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return None
    command = message.text[1 : first.length].split("@")[0].lower()
    args = message.text[first.length :].split()
    if command == "start" and args and args[0].lower() in {"helpnow", "sos", "help"}:
        return "helpnow"
    return command


# --- screens -------------------------------------------------------------------------------------


async def _show_step(
    update: Update,
    context: BotContext,
    draft: sp.Draft,
    *,
    notice: str | None = None,
    edit: bool = True,
) -> None:
    lang = await context.language()
    country = await context.country()
    sp.sync_lines(draft, lang, country)
    draft.lang = lang.code
    text.expect_text(context, FLOW)
    screen = sp.step_screen(lang, draft, country, notice=notice)
    shown = await show(update, context, screen, edit=edit)
    if shown is not None:
        draft.message_id = shown.message_id


async def open_plan(update: Update, context: BotContext) -> None:
    """/plan and "Make a safety plan": the step the person is on, or what a safety plan is."""
    await answer_query(update)
    draft = _draft(update, context)
    if draft is not None:
        await _show_step(update, context, draft)
        return
    await show(update, context, sp.intro(await context.language()))


async def begin(update: Update, context: BotContext) -> None:
    """Start: a new plan in memory (or carry on with the one being made)."""
    await answer_query(update)
    draft = _draft(update, context)
    if draft is None and context.user_data is not None and update.effective_chat is not None:
        lang = await context.language()
        draft = sp.new_draft(update.effective_chat.id, lang.code, clock())
        context.user_data[KEY] = draft
        _schedule(context.application, _user_id(update), draft.token, sp.TIMEOUT)
    if draft is not None:
        await _show_step(update, context, draft)


async def _pressed(
    update: Update, context: BotContext, prefix: str, *, keys: bool = False
) -> tuple[sp.Draft, str] | None:
    """The plan and the key a step button is for (the press answered); None after answering an
    old or forged one (another plan's button, or a key the step does not offer: the stale
    answer; another step's button: that toast and the current step)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    token, _, rest = query.data.removeprefix(prefix).partition(":")
    step, _, key = rest.partition(":")
    draft = _draft(update, context)
    if draft is None or token != draft.token:
        await fallback.stale_button(update, context)
        return None
    if step != str(draft.step):
        lang = await context.language()
        await answer_query(update, lang.t("ui.fallback_stale_toast"))
        await _show_step(update, context, draft)
        return None
    if keys and key not in dict(
        sp.choices(await context.language(), await context.country(), draft.step)
    ):
        await fallback.stale_button(update, context)
        return None
    await answer_query(update)
    return draft, key


async def add(update: Update, context: BotContext) -> None:
    """A suggestion: add it, or take it out if it is in."""
    pressed = await _pressed(update, context, cb.SP_ADD, keys=True)
    if pressed is None:
        return
    draft, key = pressed
    lang = await context.language()
    full = not draft.toggle(draft.step, key)
    await _show_step(update, context, draft, notice=lang.t("safety_plan.full") if full else None)


async def typed(update: Update, context: BotContext) -> None:
    """Flow: typed items for the current step (one per line)."""
    draft = _draft(update, context)
    if draft is None:  # deleted meanwhile (time, a restart): ordinary free text
        text.stop_expecting(context)
        await fallback.free_text(update, context)
        return
    message = update.effective_message
    items = sp.typed_items(message.text or "") if message is not None else []
    full = not draft.add_typed(draft.step, items)
    lang = await context.language()
    notice = lang.t("safety_plan.full") if full else None
    await _show_step(update, context, draft, notice=notice, edit=False)


async def next_step(update: Update, context: BotContext) -> None:
    """Done with this step, or skip it; after the last step, the plan."""
    pressed = await _pressed(update, context, cb.SP_NEXT)
    if pressed is None:
        return
    draft, _ = pressed
    if draft.step < len(sp.STEPS) - 1:
        draft.step += 1
        await _show_step(update, context, draft)
        return
    await _send_plan(update, context, draft)


async def back(update: Update, context: BotContext) -> None:
    """The previous step (from the first: what a safety plan is)."""
    pressed = await _pressed(update, context, cb.SP_BACK)
    if pressed is None:
        return
    draft, _ = pressed
    if draft.step == 0:
        await show(update, context, sp.intro(await context.language()))
        return
    draft.step -= 1
    await _show_step(update, context, draft)


async def undo(update: Update, context: BotContext) -> None:
    """Take out the last thing added to this step."""
    pressed = await _pressed(update, context, cb.SP_UNDO)
    if pressed is None:
        return
    draft, _ = pressed
    draft.undo(draft.step)
    await _show_step(update, context, draft)


async def cancel(update: Update, context: BotContext) -> None:
    """Cancel (the button): nothing is kept."""
    query = update.callback_query
    assert query is not None and query.data is not None
    draft = _draft(update, context)
    if draft is None or query.data.removeprefix(cb.SP_CANCEL) != draft.token:
        await fallback.stale_button(update, context)
        return
    await answer_query(update)
    forget(context.application, _user_id(update))
    await show(update, context, sp.cancelled(await context.language()))


async def cancel_command(update: Update, context: BotContext) -> None:
    """/cancel while a plan is being made: nothing is kept."""
    forget(context.application, _user_id(update))
    await show(update, context, sp.cancelled(await context.language()))


async def _send_plan(update: Update, context: BotContext, draft: sp.Draft) -> None:
    """The whole plan as one new message to pin; then the plan is deleted from memory, and the
    step screen says so."""
    lang = await context.language()
    country = await context.country()
    sp.sync_lines(draft, lang, country)
    plan = sp.plan_message(lang, draft, country)
    await show(update, context, plan, edit=False)
    forget(context.application, _user_id(update))
    await show(update, context, sp.sent(lang))


# --- registration --------------------------------------------------------------------------------


class _MakingPlan(filters.UpdateFilter):
    """Updates from a person who is making a safety plan (for /cancel: admins' /cancel of a
    broadcast, and the unknown-command answer, are for everyone else)."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        super().__init__(name="making_safety_plan")
        self._application = application

    def filter(self, update: Update) -> bool:
        user = update.effective_user
        data = _stored(self._application, user.id) if user is not None else None
        return data is not None and KEY in data


def flows() -> dict[str, text.Flow]:
    """The safety plan's text flow, for the one list in ``handlers/__init__.py``."""
    return {FLOW: typed}


def _prefix(prefix: str) -> str:
    return "^" + re.escape(prefix)


def handlers(
    application: Application[Any, Any, Any, Any, Any, Any],
) -> list[BaseHandler[Update, BotContext, None]]:
    """Every safety plan handler, in order (registered before the fallbacks)."""
    return [
        CommandHandler("plan", open_plan, filters=filters.ChatType.PRIVATE),
        CommandHandler(
            "cancel",
            cancel_command,
            filters=filters.ChatType.PRIVATE & _MakingPlan(application),
        ),
        CallbackQueryHandler(open_plan, pattern=f"^{re.escape(cb.SP_OPEN)}$"),
        CallbackQueryHandler(begin, pattern=f"^{re.escape(cb.SP_BEGIN)}$"),
        CallbackQueryHandler(add, pattern=_prefix(cb.SP_ADD)),
        CallbackQueryHandler(next_step, pattern=_prefix(cb.SP_NEXT)),
        CallbackQueryHandler(back, pattern=_prefix(cb.SP_BACK)),
        CallbackQueryHandler(undo, pattern=_prefix(cb.SP_UNDO)),
        CallbackQueryHandler(cancel, pattern=_prefix(cb.SP_CANCEL)),
    ]
