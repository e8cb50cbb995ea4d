"""The PTB request adapter: :class:`FakeRequest` hands PTB's requests to a ``FakeTelegram`` in
process, encoded exactly as on the wire, so in-process tests need no network.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from telegram.request import BaseRequest, RequestData

from .records import Call, JSONDict, Upload

if TYPE_CHECKING:
    from .telegram import FakeTelegram


class FakeRequest(BaseRequest):
    """A PTB request backend answering from a :class:`FakeTelegram` in process.

    Parameters are taken from ``request_data.json_parameters`` - exactly the strings
    ``HTTPXRequest`` would post - and decoded by ``FakeTelegram`` per parameter type, so the
    in-process path sees the same typing as the HTTP path.  Uploaded files
    (``request_data.multipart_data``) become :class:`Upload` values.  Nothing is raised here:
    the status and JSON body go back to PTB, which raises ``RetryAfter``, ``Forbidden``,
    ``BadRequest``, ``InvalidToken`` (for 404/401) etc. as it would against Telegram.
    """

    def __init__(self, api: FakeTelegram, *, read_timeout: float | None = 5.0) -> None:
        self.api = api
        self._read_timeout = read_timeout
        self.initialized = False

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        self.initialized = True

    async def shutdown(self) -> None:
        self.initialized = False

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        path = urlsplit(url).path
        parts = path.rstrip("/").split("/")
        if "file" in parts[:-1] or len(parts) < 2 or not parts[-2].startswith("bot"):
            call = Call(f"GET {path}", {}, time.monotonic(), 404)
            with self.api._lock:
                self.api.unexpected.append(call)
            return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}'
        token = parts[-2].removeprefix("bot")
        params: JSONDict = dict(request_data.json_parameters) if request_data else {}
        if request_data is not None and request_data.contains_files:
            for name, (filename, content, mime) in request_data.multipart_data.items():
                size = len(content) if isinstance(content, bytes) else None
                params[name] = Upload(filename, size, mime)
        status, body = await self.api.handle_async(parts[-1], params, token=token)
        return status, json.dumps(body).encode()
