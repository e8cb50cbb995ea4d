"""Fixed facts of the fake Telegram: the offline bot's identity, Telegram's limits and the
error descriptions Telegram answers with, and which methods deliver messages or take faults.

Everything here is a plain constant shared by the other modules of :mod:`tests.fake`.
"""

from __future__ import annotations

#: Offline token: a 7-digit bot id so that it never looks like a real token
#: (real ones match ``[0-9]{8,10}:[A-Za-z0-9_-]{35}``).
TEST_TOKEN = "1234567:TEST-offline-token-not-real-abcdefgh"
BOT_USERNAME = "recovery_help_test_bot"
BOT_FIRST_NAME = "Recovery Help (test)"


#: Methods that put a message into a chat; successful ones are counted in ``delivered``.
DELIVERY_METHODS = frozenset({"sendMessage", "copyMessage", "sendPhoto", "sendDocument"})
#: Methods for which ``FakeTelegram.fault`` and ``FakeTelegram.latency`` are consulted.
FAULTABLE_METHODS = DELIVERY_METHODS | {
    "sendChatAction",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
    "deleteMessage",
}

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
CALLBACK_ANSWER_LIMIT = 200
MAX_BUTTONS = 100

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
BLOCKED = "Forbidden: bot was blocked by the user"
KICKED = "Forbidden: bot was kicked from the group chat"
CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
#: getUpdates while a webhook is set, and a long poll cut short by setWebhook (both 409).
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)
TERMINATED_BY_SET_WEBHOOK = "Conflict: terminated by setWebhook request"
#: The header a webhook request carries the ``secret_token`` in.
SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
