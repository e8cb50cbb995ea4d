"""Free text: the one entry point for text that no command or button took.

The crisis check runs before this (handler group -1) for every message. Here, text goes to the
flow the person is in (``context.user_data["awaiting"]``, e.g. typing a check-in time), or gets
the friendly fallback with the menu. Which flows exist is declared in ``handlers/__init__.py``,
in the one ordered list, as a :class:`Flows`: nothing registers itself at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Coroutine, Mapping
from typing import Any

from telegram import Update

from bot.context import BotContext
from handlers import fallback

Flow = Callable[[Update, BotContext], Coroutine[Any, Any, None]]
AWAITING = "awaiting"


class Flows:
    """The text flows: flow name -> handler for the person's next text message."""

    def __init__(
        self, flows: Mapping[str, Flow], *, continue_after_crisis: Collection[str] = ()
    ) -> None:
        self.table = dict(flows)
        # Flows whose text still reaches the flow after a crisis match has been answered (an
        # admin writing a broadcast about crisis lines). Every other flow waits for the next.
        self._after_crisis = frozenset(continue_after_crisis)

    def continues_after_crisis(self, context: BotContext) -> bool:
        """Whether the person's current flow takes this message even after a crisis match."""
        return (context.user_data or {}).get(AWAITING) in self._after_crisis

    async def on_text(self, update: Update, context: BotContext) -> None:
        """Route text to the awaiting flow, else answer with the menu."""
        flow = self.table.get((context.user_data or {}).get(AWAITING, ""))
        if flow is not None:
            await flow(update, context)
            return
        await fallback.free_text(update, context)


def expect_text(context: BotContext, flow: str) -> None:
    """The person's next text message goes to ``flow``."""
    if context.user_data is not None:
        context.user_data[AWAITING] = flow


def stop_expecting(context: BotContext) -> None:
    if context.user_data is not None:
        context.user_data.pop(AWAITING, None)


def awaiting(context: BotContext) -> str | None:
    """The flow the person's next text message goes to, if any."""
    return (context.user_data or {}).get(AWAITING)


async def leave_flow_on_command(update: Update, context: BotContext) -> None:
    """A command means the person moved on: their next text is no longer for an old prompt.

    Help now (/helpnow, /sos) is the exception: it must not cost anyone their place.
    """
    stop_expecting(context)
