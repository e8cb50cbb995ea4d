"""The bot's own settings in the fake Telegram: identity, command lists, descriptions, menu button.

This module owns :class:`BotInfoMixin` (part of :class:`tests.fake.telegram.FakeTelegram`):
``commands``, ``descriptions``, ``short_descriptions`` and ``menu_buttons``, and the Bot API
methods ``getMe``, ``close``, ``logOut``, ``setMyCommands``/``getMyCommands``/
``deleteMyCommands``, ``setMyDescription``/``getMyDescription``,
``setMyShortDescription``/``getMyShortDescription`` and
``setChatMenuButton``/``getChatMenuButton``.
"""

from __future__ import annotations

import json
import re

from .records import JSONDict, _Reject


class BotInfoMixin:
    """Bot identity and settings methods (see the module docstring)."""

    API_METHODS = (
        "getMe",
        "setMyCommands",
        "getMyCommands",
        "deleteMyCommands",
        "setMyDescription",
        "getMyDescription",
        "setMyShortDescription",
        "getMyShortDescription",
        "setChatMenuButton",
        "getChatMenuButton",
        "close",
        "logOut",
    )

    # shared with the other parts of FakeTelegram
    bot_user: JSONDict

    def _init_botinfo(self) -> None:
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.menu_buttons: dict[int | None, JSONDict] = {}

    def _m_getMe(self, p: JSONDict) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_close(self, p: JSONDict) -> bool:
        return True

    def _m_logOut(self, p: JSONDict) -> bool:
        return True

    @staticmethod
    def _command_key(p: JSONDict) -> tuple[str, str]:
        scope = p.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise _Reject(400, "Bad Request: can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), str(p.get("language_code", ""))

    def _m_setMyCommands(self, p: JSONDict) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise _Reject(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise _Reject(400, "Bad Request: too many commands")
        for cmd in commands:
            if not isinstance(cmd, dict):
                raise _Reject(400, "Bad Request: can't parse BotCommand JSON object")
            name, desc = cmd.get("command"), cmd.get("description")
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _Reject(400, "Bad Request: BOT_COMMAND_INVALID")
            if not isinstance(desc, str) or not 1 <= len(desc) <= 256:
                raise _Reject(400, "Bad Request: command description is invalid")
        self.commands[self._command_key(p)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _m_getMyCommands(self, p: JSONDict) -> list[JSONDict]:
        return list(self.commands.get(self._command_key(p), []))

    def _m_deleteMyCommands(self, p: JSONDict) -> bool:
        self.commands.pop(self._command_key(p), None)
        return True

    def _m_setMyDescription(self, p: JSONDict) -> bool:
        text = str(p.get("description", ""))
        if len(text) > 512:
            raise _Reject(400, "Bad Request: bot description is too long")
        self.descriptions[str(p.get("language_code", ""))] = text
        return True

    def _m_getMyDescription(self, p: JSONDict) -> JSONDict:
        return {"description": self.descriptions.get(str(p.get("language_code", "")), "")}

    def _m_setMyShortDescription(self, p: JSONDict) -> bool:
        text = str(p.get("short_description", ""))
        if len(text) > 120:
            raise _Reject(400, "Bad Request: bot short description is too long")
        self.short_descriptions[str(p.get("language_code", ""))] = text
        return True

    def _m_getMyShortDescription(self, p: JSONDict) -> JSONDict:
        lang = str(p.get("language_code", ""))
        return {"short_description": self.short_descriptions.get(lang, "")}

    def _m_setChatMenuButton(self, p: JSONDict) -> bool:
        button = p.get("menu_button", {"type": "default"})
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise _Reject(400, "Bad Request: can't parse menu button JSON object")
        chat_id = self._chat(p) if "chat_id" in p else None
        self.menu_buttons[chat_id] = button
        return True

    def _m_getChatMenuButton(self, p: JSONDict) -> JSONDict:
        chat_id = self._chat(p) if "chat_id" in p else None
        return self.menu_buttons.get(chat_id, self.menu_buttons.get(None, {"type": "default"}))
