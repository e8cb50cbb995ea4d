"""The fake Bot API over HTTP: a small HTTP/1.1 server on 127.0.0.1 serving a ``FakeTelegram``.

This module owns the network front end of the fake Telegram: real PTB clients
(``telegram.Bot(TOKEN, base_url=server.base_url)``, ``Application`` + ``updater.start_polling``,
benchmarks) talk to it over TCP exactly as to ``api.telegram.org``:

* ``POST|GET /bot<token>/<method>`` with a form-encoded, multipart (file uploads), JSON or
  query-string body -> ``FakeTelegram.handle_async`` -> ``{"ok": ...}`` JSON;
* ``/file/bot<token>/...`` -> 404 (file downloads are not served; recorded as unexpected);
* ``GET /_fake/stats`` and ``POST /_fake/updates`` (JSON update or list of updates to queue):
  a side channel for benchmarks running the server in another process;
* webhooks: while the bot has a webhook set, a :class:`tests.fake.webhooks.WebhookSender`
  running in the server's event loop (``server.webhooks``) POSTs queued updates to it, as
  Telegram does; attempts are in ``api.webhook_deliveries``.

It is a plain asyncio server (hand-parsed request line / headers / Content-Length or chunked
bodies, keep-alive) running its own event loop in a daemon thread, so it never blocks on the
test's event loop.  Long-polling ``getUpdates`` is cancelled if the client disconnects.

Usage::

    with FakeApiServer(api) as server:           # or server.start() / server.stop()
        bot = telegram.Bot(TEST_TOKEN, base_url=server.base_url)

Standalone, from the repository root (prints the base_url, serves until interrupted)::

    python -m tests.fake.server --port 0 [--rate-429 0.1 --rate-500 0.05 --rate-403 0.03]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import sys
import threading
from collections.abc import Mapping
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .records import Call, Upload
from .telegram import FakeTelegram
from .webhooks import WebhookSender

_MAX_HEAD = 64 * 1024
_MAX_BODY = 64 * 1024 * 1024
_READ_SIZE = 256 * 1024
_BOUNDARY_RE = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_DISPOSITION_PARAM_RE = re.compile(r';\s*([A-Za-z*]+)="?([^";]*)"?')


class _BadRequest(Exception):
    """Malformed request body."""


class FakeApiServer:
    """HTTP front end for a :class:`FakeTelegram` (a new one if ``api`` is None).

    ``webhook_retry_delay``/``webhook_max_retry_delay``: see :class:`WebhookSender`.
    """

    def __init__(
        self,
        api: FakeTelegram | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_retry_delay: float = 0.1,
        webhook_max_retry_delay: float = 2.0,
    ) -> None:
        self.api = api if api is not None else FakeTelegram()
        self.webhooks = WebhookSender(
            self.api, retry_delay=webhook_retry_delay, max_retry_delay=webhook_max_retry_delay
        )
        self._webhook_task: asyncio.Task[None] | None = None
        self.host = host
        self.port = port
        self.requests_served = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._connections: set[asyncio.Task[None]] = set()

    # ---- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What PTB's ``base_url`` expects (PTB appends the token): ``http://HOST:PORT/bot``."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """What PTB's ``base_file_url`` expects: ``http://HOST:PORT/file/bot``."""
        return f"http://{self.host}:{self.port}/file/bot"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> FakeApiServer:
        """Start serving in a background thread; returns once the port is bound."""
        if self.running:
            return self
        self._ready.clear()
        self._startup_error = None
        self._thread = threading.Thread(target=self._run, name="fake-telegram-api", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._startup_error is not None:
            raise RuntimeError("fake Bot API server failed to start") from self._startup_error
        if not self._ready.is_set():
            raise RuntimeError("fake Bot API server did not start within 10s")
        return self

    def stop(self) -> None:
        """Close the listening socket and all connections, stop the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            with contextlib.suppress(RuntimeError):
                fut = asyncio.run_coroutine_threadsafe(self._close(), loop)
                with contextlib.suppress(Exception):
                    fut.result(5)
                loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
        self._thread = None
        self._loop = None

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> FakeApiServer:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(
                    self._on_connection,
                    self.host,
                    self.port,
                    backlog=1024,
                    reuse_address=True,
                    limit=_MAX_HEAD,
                )
            )
            self.port = self._server.sockets[0].getsockname()[1]
            self._webhook_task = loop.create_task(self.webhooks.run())
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _close(self) -> None:
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            await asyncio.gather(self._webhook_task, return_exceptions=True)
            self._webhook_task = None
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(self._connections, timeout=2)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    # ---- HTTP ------------------------------------------------------------------------------

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, ValueError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # client gone, malformed framing (bad Content-Length/chunk size) or server stop
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buf = bytearray()
        while True:
            while (end := buf.find(b"\r\n\r\n")) < 0:
                if len(buf) > _MAX_HEAD:
                    return
                chunk = await reader.read(_READ_SIZE)
                if not chunk:
                    return
                buf += chunk
            head = bytes(buf[:end]).decode("latin-1")
            del buf[: end + 4]
            request_line, *header_lines = head.split("\r\n")
            try:
                verb, target, version = request_line.split(" ", 2)
            except ValueError:
                await self._respond(writer, 400, {"ok": False, "description": "bad request"}, False)
                return
            headers: dict[str, str] = {}
            for line in header_lines:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            if headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await self._read_body(reader, headers, buf)
            connection = headers.get("connection", "").lower()
            keep_alive = (
                connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
            )
            outcome = await self._route(verb, target, headers, body, reader, buf)
            if outcome is None:  # client went away during a long poll
                return
            status, payload = outcome
            await self._respond(writer, status, payload, keep_alive)
            self.requests_served += 1
            if not keep_alive:
                return

    @staticmethod
    async def _read_body(
        reader: asyncio.StreamReader, headers: Mapping[str, str], buf: bytearray
    ) -> bytes:
        async def fill(size: int) -> None:
            while len(buf) < size:
                chunk = await reader.read(_READ_SIZE)
                if not chunk:
                    raise asyncio.IncompleteReadError(bytes(buf), size)
                buf.extend(chunk)

        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = bytearray()
            while True:
                while (eol := buf.find(b"\r\n")) < 0:
                    await fill(len(buf) + 1)
                size = int(bytes(buf[:eol]).split(b";")[0], 16)
                del buf[: eol + 2]
                await fill(size + 2)
                body += buf[:size]
                del buf[: size + 2]
                if size == 0:
                    return bytes(body)
                if len(body) > _MAX_BODY:
                    raise ConnectionError("body too large")
        length = int(headers.get("content-length", "0") or 0)
        if length > _MAX_BODY:
            raise ConnectionError("body too large")
        await fill(length)
        body_bytes = bytes(buf[:length])
        del buf[:length]
        return body_bytes

    @staticmethod
    async def _respond(
        writer: asyncio.StreamWriter, status: int, payload: Any, keep_alive: bool
    ) -> None:
        body = json.dumps(payload).encode()
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        head = (
            f"HTTP/1.1 {status} {phrase}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + body)
        await writer.drain()

    async def _route(
        self,
        verb: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        reader: asyncio.StreamReader,
        buf: bytearray,
    ) -> tuple[int, Any] | None:
        url = urlsplit(target)
        parts = unquote(url.path).strip("/").split("/")
        if parts[0] == "_fake":
            return self._control(verb, parts[1:], body)
        if parts[0] == "file" or len(parts) != 2 or not parts[0].startswith("bot"):
            with self.api._lock:
                self.api.unexpected.append(Call(f"{verb} {url.path}", {}, 0.0, 404))
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        try:
            params = _parse_params(url.query, headers.get("content-type", ""), body)
        except (_BadRequest, ValueError) as exc:
            return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}
        token, method = parts[0].removeprefix("bot"), parts[1]
        handler = asyncio.ensure_future(self.api.handle_async(method, params, token=token))
        if method.lower() != "getupdates":
            return await handler
        # Long poll: give up if the client disconnects meanwhile (data read here is kept).
        watcher = asyncio.ensure_future(reader.read(_READ_SIZE))
        try:
            while True:
                done, _ = await asyncio.wait(
                    {handler, watcher}, return_when=asyncio.FIRST_COMPLETED
                )
                if handler in done:
                    return handler.result()
                data = watcher.result()
                if not data:
                    handler.cancel()
                    return None
                buf += data
                watcher = asyncio.ensure_future(reader.read(_READ_SIZE))
        finally:
            if watcher.done() and not watcher.cancelled() and watcher.exception() is None:
                buf += watcher.result()  # bytes of a pipelined next request
            else:
                watcher.cancel()
                # Let the cancelled read finish before the connection reads again.
                await asyncio.gather(watcher, return_exceptions=True)
            if not handler.done():
                handler.cancel()

    def _control(self, verb: str, parts: list[str], body: bytes) -> tuple[int, Any]:
        api = self.api
        if parts == ["stats"]:
            with api._lock:
                stats = {
                    "requests_served": self.requests_served,
                    "calls": dict(api.call_counts),
                    "delivered_messages": sum(api.delivered.values()),
                    "delivered_chats": len(api.delivered),
                    "errors": len(api.errors),
                    "unexpected": len(api.unexpected),
                    "conflicts": api.conflicts,
                    "webhook_deliveries": len(api.webhook_deliveries),
                }
            return 200, {"ok": True, "result": stats}
        if parts == ["updates"] and verb == "POST":
            data = json.loads(body or b"[]")
            updates = data if isinstance(data, list) else [data]
            ids = [api.queue_update(u) for u in updates]
            return 200, {"ok": True, "result": ids}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}


def _parse_params(query: str, content_type: str, body: bytes) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    ctype = content_type.split(";")[0].strip().lower()
    if not body:
        return params
    if ctype == "application/json":
        data = json.loads(body)
        if not isinstance(data, dict):
            raise _BadRequest("JSON body must be an object")
        params.update(data)
    elif ctype == "multipart/form-data":
        params.update(_parse_multipart(body, content_type))
    else:  # application/x-www-form-urlencoded (what httpx sends for data=dict)
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
    return params


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    m = _BOUNDARY_RE.search(content_type)
    if m is None:
        raise _BadRequest("multipart body without boundary")
    delimiter = b"--" + m.group(1).encode("latin-1")
    out: dict[str, Any] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part.removeprefix(b"\r\n")
        raw_head, _, data = part.partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        name = filename = None
        mime = None
        for line in raw_head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-disposition":
                attrs = dict((k.lower(), v) for k, v in _DISPOSITION_PARAM_RE.findall(value))
                name, filename = attrs.get("name"), attrs.get("filename")
            elif key.strip().lower() == "content-type":
                mime = value.strip()
        if name is None:
            continue
        if filename is not None:
            out[name] = Upload(filename, len(data), mime)
        else:
            out[name] = data.decode()
    return out


def main(argv: list[str] | None = None) -> int:
    """Run a standalone fake Bot API server (for benchmarks); prints the base_url."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=None, help="only accept this token (default: any)")
    parser.add_argument("--rate-429", type=float, default=0.0)
    parser.add_argument("--rate-500", type=float, default=0.0)
    parser.add_argument("--rate-403", type=float, default=0.0)
    parser.add_argument("--max-delay", type=float, default=0.0, help="max latency per send (s)")
    parser.add_argument("--retry-after", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep every call and message in memory")
    args = parser.parse_args(argv)

    api = FakeTelegram(args.token, record_calls=args.keep, store_messages=args.keep)
    if args.rate_429 or args.rate_500 or args.rate_403 or args.max_delay:
        api.fault_plan(
            rate_429=args.rate_429,
            rate_500=args.rate_500,
            rate_403=args.rate_403,
            delay=(0.0, args.max_delay),
            seed=args.seed,
            retry_after=args.retry_after,
        )
    server = FakeApiServer(api, host=args.host, port=args.port).start()
    print(server.base_url, flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(0.5):
        pass
    server.stop()
    print(
        json.dumps({"delivered": sum(api.delivered.values()), **api.call_counts}), file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
