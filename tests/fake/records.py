"""Records and response bodies of the fake Telegram.

This module owns the plain data the fake keeps and hands to tests: :class:`Call` (one request
and its answer), :class:`ApiError` (a request Telegram would reject), :class:`HandlerError` (an
exception in a handler), :class:`Upload` (a file part), :class:`CallbackRecord` (a button press
and the bot's answer), :class:`Msg` (a message as Telegram stores and the user sees it) and
:class:`WebhookDelivery` (one POST of an update to the webhook); and how answers are built:
:func:`ok_response`, :func:`error_response`, ``Described`` (a result with a description, e.g.
"Webhook was set") and ``_Reject``, the exception method implementations raise to answer with
an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSONDict = dict[str, Any]
Response = tuple[int, JSONDict]


@dataclass
class Call:
    """One request the bot made: method, decoded parameters, ``time.monotonic()`` when received.

    ``status`` and ``response`` are filled in once the fake has answered.
    """

    method: str
    params: JSONDict
    time: float
    status: int = 0
    response: JSONDict | None = None

    @property
    def ok(self) -> bool:
        """Whether Telegram answered ``{"ok": true}``."""
        return self.status == 200

    @property
    def result(self) -> Any:
        """The ``result`` of a successful call (``None`` otherwise)."""
        return (self.response or {}).get("result")

    @property
    def description(self) -> str:
        """The error description of a failed call (empty on success)."""
        return str((self.response or {}).get("description", ""))


@dataclass
class ApiError:
    """A request Telegram would reject (400, 401, ...), i.e. a bug in the bot unless expected."""

    method: str
    params: JSONDict
    status: int
    description: str
    time: float
    expected: bool = False


@dataclass
class HandlerError:
    """An exception that reached the Application's error handlers (see ``FakeTelegram.watch``)."""

    error: BaseException
    update: object
    expected: bool = False


@dataclass
class WebhookDelivery:
    """One HTTP POST of an update to the webhook, as the fake Telegram sent it.

    ``status`` is the webhook's HTTP status (``None`` if no answer came: ``error`` then says why,
    as ``getWebhookInfo``'s ``last_error_message`` would); ``attempt`` counts from 1 per update;
    ``secret_token`` is the ``X-Telegram-Bot-Api-Secret-Token`` header sent (``None``: no header).
    ``time`` is ``time.monotonic()`` when the request was sent, ``duration`` how long it took.
    """

    update_id: int
    update: JSONDict
    url: str
    attempt: int
    status: int | None
    error: str
    secret_token: str | None
    time: float
    duration: float

    @property
    def ok(self) -> bool:
        """Whether the webhook answered 2xx (only then is the update done with)."""
        return self.status is not None and 200 <= self.status <= 299


@dataclass
class Upload:
    """A file uploaded with the request (multipart part)."""

    filename: str
    size: int | None = None
    mime_type: str | None = None


@dataclass
class CallbackRecord:
    """A callback query sent to the bot and what the bot answered (``answer`` None = not yet)."""

    query_id: str
    chat_id: int | None
    message_id: int | None
    data: str | None
    answer: JSONDict | None = None


@dataclass
class Msg:
    """A message in a chat as Telegram stores it (and as the user sees it).

    ``text``/``caption`` are what the client shows (HTML already turned into plain text plus
    ``entities``); ``source`` is what the bot sent (e.g. the HTML) and ``parse_mode`` how.
    ``reply_markup`` is the markup as sent (inline or reply keyboard); ``content`` holds the
    other Telegram fields of the message (``photo``, ``document``, ``sticker``, ...).
    """

    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    kind: str
    sender: JSONDict
    chat: JSONDict
    text: str | None = None
    caption: str | None = None
    parse_mode: str | None = None
    source: str | None = None
    entities: list[JSONDict] = field(default_factory=list)
    reply_markup: JSONDict | None = None
    content: JSONDict = field(default_factory=dict)
    reply_to: JSONDict | None = None
    edited: bool = False
    edits: int = 0
    edit_date: int | None = None

    @property
    def shown(self) -> str:
        """Text or caption as shown to the user ('' for media without caption)."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def inline_keyboard(self) -> list[list[JSONDict]]:
        """The rows of the inline keyboard (empty if none)."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard")
        return rows if isinstance(rows, list) else []

    @property
    def button_rows(self) -> list[list[str]]:
        """Inline button labels, row by row."""
        return [[str(b.get("text", "")) for b in row] for row in self.inline_keyboard]

    @property
    def buttons(self) -> list[str]:
        """Inline button labels, flattened in order."""
        return [label for row in self.button_rows for label in row]

    @property
    def inline_buttons(self) -> list[JSONDict]:
        """Inline buttons (raw dicts), flattened in order."""
        return [b for row in self.inline_keyboard for b in row]

    @property
    def keyboard(self) -> list[str]:
        """Reply-keyboard labels sent with this message (empty if none)."""
        if not self.reply_markup or "keyboard" not in self.reply_markup:
            return []
        return [
            b if isinstance(b, str) else str(b.get("text", ""))
            for row in self.reply_markup["keyboard"]
            for b in row
        ]

    def button(self, label: str) -> JSONDict:
        """The inline button whose label equals (else contains) ``label``, case-insensitively."""
        return _find_button(self.inline_buttons, label, where=f"message {self.message_id}")

    @property
    def raw(self) -> JSONDict:
        """The message as a Bot API ``Message`` object."""
        raw: JSONDict = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
        }
        if self.edit_date is not None:
            raw["edit_date"] = self.edit_date
        if self.reply_to is not None:
            raw["reply_to_message"] = self.reply_to
        raw.update(self.content)
        if self.text is not None:
            raw["text"] = self.text
            if self.entities:
                raw["entities"] = self.entities
        elif self.caption is not None:
            raw["caption"] = self.caption
            if self.entities:
                raw["caption_entities"] = self.entities
        if self.inline_keyboard:
            raw["reply_markup"] = {"inline_keyboard": self.inline_keyboard}
        return raw

    def __str__(self) -> str:
        who = "bot" if self.from_bot else "user"
        extra = f" {self.buttons}" if self.buttons else ""
        return f"[{self.message_id} {who} {self.kind}] {self.shown}{extra}"


def _find_button(buttons: list[JSONDict], label: str, *, where: str) -> JSONDict:
    wanted = label.casefold()
    labels = [str(b.get("text", "")) for b in buttons]
    exact = [b for b, t in zip(buttons, labels, strict=True) if t.casefold() == wanted]
    if len(exact) == 1:
        return exact[0]
    partial = [b for b, t in zip(buttons, labels, strict=True) if wanted in t.casefold()]
    if len(exact) > 1 or len(partial) > 1:
        matches = [str(b.get("text")) for b in (exact or partial)]
        raise AssertionError(f"button {label!r} is ambiguous in {where}: {matches}; all {labels}")
    if not partial:
        raise AssertionError(f"no button {label!r} in {where}; available: {labels}")
    return partial[0]


class _Reject(Exception):
    """Raised inside method implementations to answer with an error."""

    def __init__(
        self,
        status: int,
        description: str,
        *,
        parameters: JSONDict | None = None,
        validation: bool = True,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters
        self.validation = validation

    def response(self) -> Response:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return self.status, body


def error_response(status: int, description: str, **parameters: Any) -> Response:
    """A Telegram error body, e.g. ``error_response(429, "Too Many Requests: retry after 3",
    retry_after=3)``; handy for custom ``FakeTelegram.fault`` functions."""
    return _Reject(status, description, parameters=parameters or None).response()


def ok_response(result: Any, description: str | None = None) -> Response:
    """A Telegram success body (some methods add a ``description``, e.g. "Webhook was set")."""
    body: JSONDict = {"ok": True, "result": result}
    if description is not None:
        body["description"] = description
    return 200, body


@dataclass(frozen=True)
class Described:
    """What a method implementation returns when Telegram's answer has a ``description``."""

    result: Any
    description: str
