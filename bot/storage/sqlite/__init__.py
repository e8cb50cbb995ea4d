"""The SQLite backend of :class:`bot.storage.api.Storage` (through aiosqlite).

Every SQL statement for SQLite lives in this package, split by concern:

* ``connection`` - opening the file (WAL, foreign keys, busy timeout), the write lock,
  ``BEGIN IMMEDIATE`` transactions and migrations by ``PRAGMA user_version``;
* ``users`` - the ``users`` table;
* ``checkins`` - the ``checkins`` table and claiming due check-ins;
* ``broadcasts`` - broadcasts, their recipients (``WITHOUT ROWID``), the triggers that keep the
  figures, and the aggregates;
* ``store`` - :class:`SqliteStorage`, combining them, with the migrations list and /delete;
* ``files`` - the file and folder modes (0600, 0700) and the names next to the database;
* ``maintenance`` - :class:`SqliteMaintenance`: the checks at start, the running lock, backup
  and restore (the command line's ``backup``, ``restore``, ``migrate``).

Beyond the protocol, :class:`SqliteStorage` offers ``transaction()`` and ``schema_version()``
for SQLite-only tests and benchmarks; the bot itself uses only the protocol.
"""

from bot.storage.sqlite.maintenance import SqliteMaintenance
from bot.storage.sqlite.store import MIGRATIONS, USER_TABLES, SqliteStorage

__all__ = ["MIGRATIONS", "USER_TABLES", "SqliteMaintenance", "SqliteStorage"]
