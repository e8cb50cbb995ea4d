"""The bot's HTTP side: the webhook endpoint, ``/healthz`` and ``/metrics`` (Starlette + uvicorn).

Webhook mode (``WEBHOOK_URL`` set) runs :func:`serve`: the application is built with
``updater(None)`` semantics (nothing polls), the HTTP server listens on
``WEBHOOK_LISTEN:WEBHOOK_PORT`` (plain HTTP, for a TLS-terminating proxy in front) and Telegram
is told the URL, the secret, the update types the bot handles and how many connections it may
open (``set_webhook``, retried while Telegram cannot be reached). In polling mode with
``HEALTH_PORT`` set, :func:`attach_health_server` serves ``/healthz`` and ``/metrics`` only.

``POST <path of WEBHOOK_URL>``:

* a missing or wrong ``X-Telegram-Bot-Api-Secret-Token`` header: 403, nothing read or processed
  (compared with :func:`hmac.compare_digest`);
* the bot is not taking updates yet, or any more (starting, stopping): 503, so Telegram sends
  the update again (to this instance once it is up, or to the next one);
* a body over :data:`MAX_BODY` bytes: 413; not JSON, or not an update: 400;
* otherwise the update is handled IN the request (``application.process_update``, through the
  application's update processor, so ``concurrent_updates`` still bounds the work) under
  :data:`PROCESS_TIMEOUT`, well under Telegram's own; 200 only once it was handled. An update
  this instance never finished (it was killed, or the timeout passed) gets no 200 and Telegram
  sends it again. A handler that failed was handled: the error handler told the person.

Nothing of a request's content, nor the secret, nor the webhook path, is ever logged; each
answer is counted in ``/metrics`` by status code only.

``GET /healthz``: 200 ``{"status": "ok", "database": "ok" | "down", ...}`` whenever the bot can
answer people (Help now works without the database); 503 ``{"status": "unavailable",
"reason": ...}`` when it cannot: not started, shutting down, or the event loop stalled
(:class:`Health` measures its lag with a small periodic task). ``GET /metrics``: the
application's metrics (:mod:`bot.metrics`) in the Prometheus text format.

Stopping (:func:`serve`, on the ``stop`` event the runner sets on SIGTERM/SIGINT): ``/healthz``
turns 503 and new updates are refused with 503 at once; the server stops accepting
connections and waits up to :data:`GRACE` seconds for the updates in flight, then cancels what
is left (Telegram re-sends those); then the application stops (the check-in tick releases its
rows, a broadcast finishes the messages in flight) and the process exits 0 within 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.error import BadRequest, InvalidToken, NetworkError
from telegram.ext import Application

from bot.metrics import CONTENT_TYPE, Metrics
from bot.services import services_of

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # bytes; Telegram's updates are a few kilobytes
PROCESS_TIMEOUT = 25.0  # seconds for one update; Telegram gives up on a request after ~60 s
MAX_CONNECTIONS = 40  # what set_webhook asks Telegram for (its default; at most 100)
GRACE = 5  # seconds the updates in flight get to finish when the bot stops
LAG_INTERVAL = 0.25  # seconds between event loop lag measurements
STALL_AFTER = 5.0  # seconds of lag (or of silence from the lag task) that mean "stalled"
DATABASE_TIMEOUT = 2.0  # seconds /healthz waits for the database before it reports it down
RETRY_MAX = 30.0  # seconds: the longest wait between attempts to reach Telegram at startup
REJECT_LOG_EVERY = 60.0  # seconds between "rejected a webhook request" lines

T = TypeVar("T")
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


class ListenError(Exception):
    """The HTTP port could not be opened (in use, no permission); the message is safe to print."""


class WebhookRefused(Exception):
    """Telegram refused ``set_webhook`` (e.g. a URL it cannot use); safe to print."""


# --- health -------------------------------------------------------------------------------------


class Health:
    """Whether the bot can answer people now (``/healthz``), and the event loop's lag.

    ``mode`` is ``"webhook"`` (ready once the webhook is registered) or ``"polling"`` (ready
    while the updater polls). :attr:`stopping` is set when a stop was asked for.
    """

    def __init__(self, application: AnyApplication, mode: str) -> None:
        self.application = application
        self.mode = mode
        self.webhook_set = False
        self.stopping = False
        self.lag = 0.0
        self._last_tick: float | None = None
        self._started_at = time.monotonic()
        self._was_ready = False
        self._task: asyncio.Task[None] | None = None

    @property
    def metrics(self) -> Metrics:
        return services_of(self.application).metrics

    async def start(self) -> None:
        """Start measuring the event loop's lag."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch(), name="health-loop-lag")

    async def stop(self) -> None:
        self.stopping = True
        self.metrics.ready.set(0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(LAG_INTERVAL)
            now = loop.time()
            self.lag = max(0.0, now - start - LAG_INTERVAL)
            self._last_tick = now
            self.metrics.loop_lag.set(self.lag)
            self.metrics.ready.set(1 if self.problem() is None else 0)

    def accepting(self) -> bool:
        """Whether webhook updates are taken now (also before the webhook is registered again:
        Telegram may already deliver to the URL registered by the last run)."""
        return self.application.running and not self.stopping

    def _ready(self) -> bool:
        app = self.application
        if not app.running or self.stopping:
            return False
        if self.mode == "polling":
            return app.updater is not None and app.updater.running
        return self.webhook_set

    def problem(self) -> str | None:
        """Why the bot cannot answer people now, or None."""
        if self.stopping:
            return "shutting down"
        if not self._ready():
            return "shutting down" if self._was_ready else "not started"
        self._was_ready = True
        loop = asyncio.get_running_loop()
        silent = loop.time() - self._last_tick if self._last_tick is not None else 0.0
        if self.lag > STALL_AFTER or silent > STALL_AFTER + LAG_INTERVAL:
            return "event loop stalled"
        return None

    async def database(self) -> str:
        """"ok" when the database answers a trivial query in time, else "down"."""
        storage = services_of(self.application).storage
        if storage is None:
            return "down"
        try:
            await asyncio.wait_for(storage.schema_version(), DATABASE_TIMEOUT)
        except Exception:
            return "down"
        return "ok"

    async def report(self) -> tuple[int, dict[str, Any]]:
        problem = self.problem()
        if problem is not None:
            return 503, {"status": "unavailable", "reason": problem, "mode": self.mode}
        return 200, {
            "status": "ok",
            "database": await self.database(),
            "mode": self.mode,
            "event_loop_lag_seconds": round(self.lag, 4),
            "uptime_seconds": round(time.monotonic() - self._started_at, 1),
        }


# --- the ASGI app -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookEndpoint:
    """Where Telegram POSTs updates, and the secret it sends with each one."""

    path: str
    secret: str


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


def create_app(
    application: AnyApplication,
    health: Health,
    webhook: WebhookEndpoint | None = None,
    *,
    max_body: int = MAX_BODY,
    process_timeout: float = PROCESS_TIMEOUT,
) -> Starlette:
    """The Starlette app: ``/healthz``, ``/metrics`` and, given ``webhook``, its endpoint."""
    metrics = services_of(application).metrics
    rejected_logged_at = [-REJECT_LOG_EVERY]

    def answer(status: int, **headers: str) -> Response:
        metrics.webhook_request(status)
        return Response(status_code=status, headers=headers or None)

    def note_rejected() -> None:
        now = time.monotonic()
        if now - rejected_logged_at[0] >= REJECT_LOG_EVERY:
            rejected_logged_at[0] = now
            log.warning("refused webhook requests without the right secret header (403)")

    async def receive_update(request: Request) -> Response:
        assert webhook is not None
        given = request.headers.get(SECRET_HEADER)
        if given is None or not hmac.compare_digest(
            given.encode("latin-1"), webhook.secret.encode("ascii")
        ):
            note_rejected()
            return answer(403)
        if not health.accepting():
            return answer(503, **{"Retry-After": "1"})
        try:
            body = await _read_body(request, max_body)
        except _TooLarge:
            return answer(413)
        try:
            data = json.loads(body)
        except ValueError:  # also invalid UTF-8
            return answer(400)
        if not isinstance(data, dict) or type(data.get("update_id")) is not int:
            return answer(400)
        try:
            update = Update.de_json(data, application.bot)
        except Exception:  # a shape python-telegram-bot cannot read: not an update
            return answer(400)
        handling = application.process_update(update)
        try:
            await asyncio.wait_for(
                application.update_processor.process_update(update, handling), process_timeout
            )
        except TimeoutError:
            handling.close()  # never started (waited for a free slot the whole time)
            metrics.error("webhook")
            log.error(
                "update %d not handled within %.0f s; Telegram will send it again",
                update.update_id,
                process_timeout,
            )
            return answer(503)
        return answer(200)

    async def healthz(request: Request) -> Response:
        status, payload = await health.report()
        return JSONResponse(payload, status_code=status, headers={"Cache-Control": "no-store"})

    async def metrics_page(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
    ]
    if webhook is not None:
        routes.append(Route(webhook.path, receive_update, methods=["POST"]))
    return Starlette(routes=routes)


# --- the HTTP server ----------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the runner decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """Open the listening socket now, so that a port in use is one clear error at startup."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


class HttpServer:
    """A uvicorn server for ``app`` on an already bound socket, started and stopped by us."""

    def __init__(self, app: Starlette, sock: socket.socket, *, grace: float = GRACE) -> None:
        self.sock = sock
        config = uvicorn.Config(
            app,
            log_config=None,  # the bot's logging (with redaction) applies
            access_log=False,  # request lines name the webhook path: never logged
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=int(grace),
            limit_concurrency=MAX_CONNECTIONS + 24,  # webhook connections + health + metrics
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self.sock]), name="http")
        while not self._server.started:
            if self._task.done():
                await self._task  # raises what stopped it
                raise ListenError("the HTTP server stopped at startup")
            await asyncio.sleep(0.01)
        host, port = self.sock.getsockname()[:2]
        log.info("HTTP server listening on %s:%d", host, port)

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish (up to the grace time), then return."""
        if self._task is None:
            self.sock.close()
            return
        self._server.should_exit = True
        with contextlib.suppress(Exception):
            await self._task
        self._task = None
        self.sock.close()
        # uvicorn cancels the requests still running after the grace time without waiting for
        # them: let them unwind before the application stops under them.
        tasks = set(self._server.server_state.tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)


# --- webhook mode -------------------------------------------------------------------------------


async def _retrying(action: Callable[[], Awaitable[T]], what: str) -> T:
    """Run ``action`` until Telegram answers (network errors are retried with backoff); a
    rejected token or request is raised at once."""
    delay = 1.0
    while True:
        try:
            return await action()
        except (InvalidToken, BadRequest):
            raise
        except NetworkError as exc:  # includes TimedOut and Telegram's 5xx
            log.warning(
                "could not %s (%s); trying again in %.0f s", what, type(exc).__name__, delay
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_MAX)


async def _unless_stopped(stop: asyncio.Event, action: Awaitable[T]) -> tuple[bool, T | None]:
    """Run ``action``; (False, None) if ``stop`` is set first (the action is cancelled)."""
    task = asyncio.ensure_future(action)
    waiter = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if task.done():
        return True, task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return False, None


async def register_webhook(application: AnyApplication) -> None:
    """Tell Telegram where to deliver updates: the URL, the secret, the update types the bot
    handles and how many connections it may open."""
    from handlers import ALLOWED_UPDATES

    settings = services_of(application).settings
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    try:
        await application.bot.set_webhook(
            url=settings.webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=list(ALLOWED_UPDATES),
            max_connections=MAX_CONNECTIONS,
        )
    except BadRequest as exc:
        raise WebhookRefused(f"Telegram refused the webhook: {exc.message}") from None


async def serve(application: AnyApplication, stop: asyncio.Event) -> None:
    """Run ``application`` in webhook mode until ``stop`` is set (see the module docstring).

    Raises InvalidToken (Telegram rejected BOT_TOKEN), ListenError, WebhookRefused."""
    svc = services_of(application)
    settings = svc.settings
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    if application.updater is not None and application.updater.running:
        raise RuntimeError("webhook mode: the application must not poll")
    health = Health(application, "webhook")
    endpoint = WebhookEndpoint(settings.webhook_path, settings.webhook_secret)
    http = HttpServer(
        create_app(application, health, endpoint),
        bind(settings.webhook_listen, settings.webhook_port),
    )
    initialized = False
    try:
        # Listening first: /healthz says "not started" (503) while Telegram cannot be reached
        # yet, and updates that arrive before the application runs are refused with 503.
        await health.start()
        await http.start()
        ok, _ = await _unless_stopped(
            stop, _retrying(application.initialize, "connect to Telegram")
        )
        if not ok:
            return
        initialized = True
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()  # updates already queued for this URL flow in from here
        ok, _ = await _unless_stopped(
            stop, _retrying(lambda: register_webhook(application), "set the webhook")
        )
        if ok:
            health.webhook_set = True
            svc.metrics.ready.set(1)
            log.info(
                "webhook mode: ready (Telegram delivers to %s, at most %d connections at once)",
                _host_of(settings.webhook_url),
                MAX_CONNECTIONS,
            )
            await stop.wait()
        log.info("stopping: no new updates; finishing the ones in flight")
    finally:
        health.stopping = True
        await http.stop()
        if application.running:
            await application.stop()
            if application.post_stop is not None:
                await application.post_stop(application)
        await health.stop()
        if initialized:
            await application.shutdown()
            if application.post_shutdown is not None:
                await application.post_shutdown(application)


def _host_of(url: str) -> str:
    return urlsplit(url).hostname or "?"


# --- polling mode: health and metrics only ------------------------------------------------------


def attach_health_server(application: AnyApplication, host: str, port: int) -> None:
    """Serve ``/healthz`` and ``/metrics`` on ``host:port`` while ``application`` runs with
    ``run_polling`` (the port is opened now; the server starts after ``post_init`` and stops
    at shutdown)."""
    health = Health(application, "polling")
    http = HttpServer(create_app(application, health), bind(host, port))
    post_init, post_shutdown = application.post_init, application.post_shutdown

    async def start(app: AnyApplication) -> None:
        if post_init is not None:
            await post_init(app)
        await health.start()
        await http.start()

    async def stop(app: AnyApplication) -> None:
        await health.stop()
        await http.stop()
        if post_shutdown is not None:
            await post_shutdown(app)

    application.post_init = start
    application.post_shutdown = stop
