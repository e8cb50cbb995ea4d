"""The in-memory Bot API: :class:`FakeTelegram`, its entry points and its bookkeeping.

This module owns how a request is answered - ``handle``/``handle_async`` take a method name and
its parameters and answer exactly like Telegram (HTTP status + ``{"ok": ...}`` body): the token
check, unknown methods (recorded in ``unexpected``), injected faults and latency, rejected
requests (recorded in ``errors``) - and what a test asks of it afterwards: ``calls``,
``call_counts``, ``calls_to``, ``expect_errors``, ``watch`` (handler exceptions go to
``handler_errors``) and ``problems`` (what a test should fail on).

The Bot API methods themselves live in mixins, one per area: :mod:`.botinfo` (getMe, commands,
descriptions, menu button), :mod:`.updates` (update queue, getUpdates), :mod:`.webhooks`
(setWebhook, deleteWebhook, getWebhookInfo), :mod:`.messages` (chats, send/copy/edit/delete)
and :mod:`.callbacks` (button presses).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from telegram.ext import Application, ContextTypes

from .botinfo import BotInfoMixin
from .callbacks import CallbacksMixin
from .constants import BOT_FIRST_NAME, BOT_USERNAME, DELIVERY_METHODS, FAULTABLE_METHODS, TEST_TOKEN
from .faults import FaultFn, FaultPlan, LatencyFn
from .messages import MessagesMixin
from .params import normalize_params
from .records import (
    ApiError,
    Call,
    Described,
    HandlerError,
    JSONDict,
    Response,
    _Reject,
    error_response,
    ok_response,
)
from .updates import UpdatesMixin
from .webhooks import WebhookMixin

_LOGGER = logging.getLogger(__name__)


class FakeTelegram(BotInfoMixin, UpdatesMixin, WebhookMixin, MessagesMixin, CallbacksMixin):
    """In-memory Bot API.  See the module docstring; thread-safe (one lock around state).

    ``token=None`` accepts any token; otherwise requests carrying another token get 401.
    ``known_chats_only`` makes sends to chats nobody wrote from answer "chat not found".
    ``strict_html`` see :func:`tests.fake.html.parse_html`.  ``record_calls``/``store_messages``
    can be turned off for long benchmarks (then only ``call_counts``/``delivered`` grow).
    """

    def __init__(
        self,
        token: str | None = TEST_TOKEN,
        *,
        bot_username: str = BOT_USERNAME,
        bot_first_name: str = BOT_FIRST_NAME,
        known_chats_only: bool = False,
        strict_html: bool = True,
        record_calls: bool = True,
        store_messages: bool = True,
    ) -> None:
        self.token = token
        self.bot_id = _bot_id(token)
        self.bot_user: JSONDict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.known_chats_only = known_chats_only
        self.strict_html = strict_html
        self.record_calls = record_calls
        self.store_messages = store_messages

        self.calls: list[Call] = []
        self.call_counts: Counter[str] = Counter()
        self.unexpected: list[Call] = []
        self.errors: list[ApiError] = []
        self.handler_errors: list[HandlerError] = []
        self.fail_on_handler_errors = True

        self.fault: FaultFn | None = None
        self.latency: LatencyFn | None = None

        self._lock = threading.RLock()
        self._expect_stack: list[tuple[tuple[str, ...], list[ApiError | HandlerError]]] = []
        self._watched: set[int] = set()
        self._init_botinfo()
        self._init_updates()
        self._init_webhooks()
        self._init_messages()
        self._init_callbacks()
        self._methods: dict[str, Callable[[JSONDict], Any]] = {
            name.lower(): getattr(self, f"_m_{name}")
            for name in (
                *BotInfoMixin.API_METHODS,
                *UpdatesMixin.API_METHODS,
                *WebhookMixin.API_METHODS,
                *MessagesMixin.API_METHODS,
                *CallbacksMixin.API_METHODS,
            )
        }
        self._canonical = {
            name.lower(): name
            for name in (m.__name__.removeprefix("_m_") for m in self._methods.values())
        }

    # ---- entry points ----------------------------------------------------------------------

    def handle(
        self, method: str, params: Mapping[str, Any], *, token: str | None = None
    ) -> Response:
        """Answer one request synchronously.  ``getUpdates`` never waits here (use
        :meth:`handle_async` for long polling); ``latency`` is not applied."""
        call, early = self._begin(method, params, token)
        if early is not None:
            return self._finish(call, early)
        if call.method == "getUpdates":
            with self._lock:  # a plain getUpdates also terminates a waiting long poll
                self._supersede_pollers()
        return self._finish(call, self._dispatch(call))

    async def handle_async(
        self, method: str, params: Mapping[str, Any], *, token: str | None = None
    ) -> Response:
        """Answer one request; applies ``latency`` and long-polls ``getUpdates`` (timeout>0).

        The call is recorded (``Call.time``) on arrival, before any injected latency.
        """
        call, early = self._begin(method, params, token)
        if early is not None:
            return self._finish(call, early)
        if self.latency is not None:
            delay = self.latency(call.method, call.params)
            if delay > 0:
                await asyncio.sleep(delay)
        timeout = call.params.get("timeout", 0)
        if call.method == "getUpdates":
            if isinstance(timeout, int | float) and timeout > 0:
                return self._finish(call, await self._long_poll(call, float(timeout)))
            with self._lock:  # a plain getUpdates also terminates a waiting long poll
                self._supersede_pollers()
        return self._finish(call, self._dispatch(call))

    def _begin(
        self, method: str, params: Mapping[str, Any], token: str | None
    ) -> tuple[Call, Response | None]:
        name = self._canonical.get(method.lower(), method)
        call = Call(name, normalize_params(params), time.monotonic())
        with self._lock:
            self.call_counts[name] += 1
            if self.record_calls:
                self.calls.append(call)
            if token is not None and self.token is not None and token != self.token:
                self._record_error(call, 401, "Unauthorized")
                return call, error_response(401, "Unauthorized")
            if method.lower() not in self._methods:
                self.unexpected.append(call)
                return call, error_response(404, "Not Found")
        return call, None

    def _dispatch(self, call: Call) -> Response:
        with self._lock:
            if self.fault is not None and call.method in FAULTABLE_METHODS:
                injected = self.fault(call.method, call.params)
                if injected is not None:
                    return injected
            try:
                result = self._methods[call.method.lower()](call.params)
            except _Reject as rej:
                if rej.validation:
                    self._record_error(call, rej.status, rej.description)
                return rej.response()
            if isinstance(result, Described):
                return ok_response(result.result, result.description)
            return ok_response(result)

    @staticmethod
    def _finish(call: Call, response: Response) -> Response:
        call.status, call.response = response
        return response

    # ---- bookkeeping -----------------------------------------------------------------------

    def _record_error(self, call: Call, status: int, description: str) -> None:
        err = ApiError(call.method, call.params, status, description, call.time)
        self._mark_expected(err, description)
        self.errors.append(err)
        _LOGGER.debug("fake Telegram rejected %s: %s", call.method, description)

    def _mark_expected(self, item: ApiError | HandlerError, text: str) -> None:
        folded = text.casefold()
        for patterns, captured in reversed(self._expect_stack):
            if not patterns or any(p.casefold() in folded for p in patterns):
                item.expected = True
                captured.append(item)
                return

    @contextlib.contextmanager
    def expect_errors(self, *patterns: str) -> Iterator[list[ApiError | HandlerError]]:
        """Declare that rejected requests / handler exceptions inside the block are expected.

        With ``patterns``, only errors whose description (or ``"ExcType: message"`` for handler
        exceptions) contains one of them (case-insensitively) are covered.  Yields the list of
        covered errors, so the test can assert that they actually happened.
        """
        captured: list[ApiError | HandlerError] = []
        entry = (patterns, captured)
        with self._lock:
            self._expect_stack.append(entry)
        try:
            yield captured
        finally:
            with self._lock:
                self._expect_stack.remove(entry)

    def watch(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Add an error handler to ``app`` that records exceptions in ``handler_errors``.

        Without it, an exception in a handler is only logged by PTB and the test passes anyway.
        The bot's own error handlers still run (PTB calls all of them).
        """
        if id(app) in self._watched:
            return
        self._watched.add(id(app))

        async def record_handler_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
            if context.error is None:
                return
            item = HandlerError(context.error, update)
            with self._lock:
                self._mark_expected(item, f"{type(context.error).__name__}: {context.error}")
                self.handler_errors.append(item)
            if not item.expected:
                _LOGGER.error("handler raised", exc_info=context.error)

        app.add_error_handler(record_handler_error)

    def problems(self) -> list[str]:
        """What a test should fail on: unexpected methods, undeclared rejections, handler
        exceptions (if ``fail_on_handler_errors``)."""
        found: list[str] = []
        with self._lock:
            for call in self.unexpected:
                found.append(f"unexpected Bot API method {call.method}({_short(call.params)})")
            for err in self.errors:
                if not err.expected:
                    found.append(
                        f"Telegram would reject {err.method}({_short(err.params)}): "
                        f"{err.status} {err.description}"
                    )
            if self.fail_on_handler_errors:
                for herr in self.handler_errors:
                    if not herr.expected:
                        found.append(f"handler raised {type(herr.error).__name__}: {herr.error}")
        return found

    def reset_calls(self) -> None:
        """Forget recorded calls (not chats, errors or state)."""
        with self._lock:
            self.calls.clear()
            self.call_counts.clear()

    def fault_plan(
        self,
        rate_429: float = 0.1,
        rate_500: float = 0.05,
        rate_403: float = 0.03,
        delay: tuple[float, float] = (0.0, 0.05),
        seed: int = 1,
        *,
        retry_after: int = 1,
        methods: Iterable[str] = DELIVERY_METHODS,
        install: bool = True,
    ) -> FaultPlan:
        """Build a :class:`FaultPlan`; with ``install`` set it as ``fault`` and ``latency``."""
        plan = FaultPlan(
            rate_429=rate_429,
            rate_500=rate_500,
            rate_403=rate_403,
            delay=delay,
            seed=seed,
            retry_after=retry_after,
            methods=methods,
        )
        if install:
            self.fault = plan
            self.latency = plan.latency
        return plan

    # ---- queries for tests -----------------------------------------------------------------

    def calls_to(self, method: str, *, chat_id: int | None = None) -> list[Call]:
        """Recorded calls of ``method`` (optionally to one chat)."""
        with self._lock:
            return [
                c
                for c in self.calls
                if c.method == method and (chat_id is None or c.params.get("chat_id") == chat_id)
            ]


def _bot_id(token: str | None) -> int:
    if token:
        head = token.split(":", 1)[0]
        if head.isdigit():
            return int(head)
    return 1234567


def _short(params: JSONDict, limit: int = 160) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return text if len(text) <= limit else text[: limit - 3] + "..."
