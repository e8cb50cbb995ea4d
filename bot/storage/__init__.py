"""Storage: every SQL statement in the bot lives in this package (SQLite through aiosqlite).

Privacy: a user row holds the numeric Telegram id, language, country and dates. No names, no
message text. ``Storage.delete_user`` removes every row about a user from every table.
"""

from bot.storage.core import MIGRATIONS, USER_TABLES, Storage, UserRecord

__all__ = ["MIGRATIONS", "USER_TABLES", "Storage", "UserRecord"]
