"""Free text: the one entry point for text that no command or button took.

The crisis check runs before this (handler group -1) for every message. Here, text goes to the
flow the person is in (``context.user_data["awaiting"]``, e.g. typing a check-in time), or gets
the friendly fallback with the menu. Features register their flows in :data:`FLOWS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import ContextTypes

from handlers import fallback

Flow = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]
AWAITING = "awaiting"

# Flow name -> handler for the next text message. Filled by feature modules at import time.
FLOWS: dict[str, Flow] = {}

# Flows whose text still reaches the flow after a crisis match has been answered (an admin
# writing a broadcast about crisis lines). Every other flow waits for the next message.
CONTINUE_AFTER_CRISIS: set[str] = set()


def continues_after_crisis(context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Whether the person's current flow takes this message even after a crisis match."""
    return (context.user_data or {}).get(AWAITING) in CONTINUE_AFTER_CRISIS


def expect_text(context: ContextTypes.DEFAULT_TYPE, flow: str) -> None:
    """The person's next text message goes to ``flow``."""
    if context.user_data is not None:
        context.user_data[AWAITING] = flow


def stop_expecting(context: ContextTypes.DEFAULT_TYPE) -> None:
    if context.user_data is not None:
        context.user_data.pop(AWAITING, None)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Route text to the awaiting flow, else answer with the menu."""
    flow = FLOWS.get((context.user_data or {}).get(AWAITING, ""))
    if flow is not None:
        await flow(update, context)
        return
    await fallback.free_text(update, context)


async def leave_flow_on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command means the person moved on: their next text is no longer for an old prompt.

    Help now (/helpnow, /sos) is the exception: it must not cost anyone their place.
    """
    stop_expecting(context)
