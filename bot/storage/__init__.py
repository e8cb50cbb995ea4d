"""Storage: the bot's database, behind one interface.

The rest of the bot imports only from here: the records and constants of
:mod:`bot.storage.api`, the :class:`Storage` protocol, and :func:`open_storage`, which opens the
configured backend. Handlers and jobs reach the open storage through ``services(context).db``
and never see SQL or a driver.

Layout:

* ``api.py`` - the records, constants and the :class:`Storage` protocol with each method's
  contract (no SQL, no driver);
* ``sqlite/`` - the SQLite backend (aiosqlite), the only one today.

Next to :class:`Storage` (what the running bot does) is :class:`Maintenance` (what an operator
does from the command line: the checks at start, the running lock, backup, restore), opened
with :func:`open_maintenance`. Errors an operator should read are :class:`StorageError` (one
line, safe to print); :class:`LocationError` is an impossible location (a configuration error),
:class:`Unsupported` an operation that has no meaning for the backend.

Adding a backend (PostgreSQL, say):

1. Write ``bot/storage/<name>/`` with a class implementing every method of :class:`Storage`
   with the same guarantees (exclusive claims, compare-and-set schedules, outcomes counted
   once, /delete removing every row about a person) and an async ``open`` that connects and
   applies that backend's own migrations, and a :class:`Maintenance` (raise
   :class:`Unsupported` for what it leaves to the server's own tools, e.g. backup). Keep its
   driver import inside that package.
2. Choose it in :func:`open_storage` and :func:`open_maintenance` from the settings (e.g. a
   ``DATABASE_URL`` scheme), importing the package there, so the other backends' drivers are
   never imported.
3. Add its name to the ``storage`` fixture's ``params`` in ``tests/storage/conftest.py``: the
   contract tests (``tests/storage/test_contract_*.py``) then run against it too.

Privacy: a user row holds the numeric Telegram id, language, country and dates. No names, no
message text. :meth:`Storage.delete_user` removes every row about a user from every table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.storage.api import (
    ALL,
    BLOCKED,
    CANCELLED,
    CHECKINS,
    COUNTRY_PREFIX,
    FAILED,
    FINISHED,
    LANG_PREFIX,
    PENDING,
    RUNNING,
    SENT,
    STOPPED,
    AudienceCounts,
    Broadcast,
    CheckinSettings,
    CopyReport,
    DueCheckin,
    LocationError,
    Maintenance,
    Outcome,
    Stats,
    Storage,
    StorageError,
    Unsupported,
    UserRecord,
    parse_audience,
)

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = [
    "ALL",
    "BLOCKED",
    "CANCELLED",
    "CHECKINS",
    "COUNTRY_PREFIX",
    "FAILED",
    "FINISHED",
    "LANG_PREFIX",
    "PENDING",
    "RUNNING",
    "SENT",
    "STOPPED",
    "AudienceCounts",
    "Broadcast",
    "CheckinSettings",
    "CopyReport",
    "DueCheckin",
    "LocationError",
    "Maintenance",
    "Outcome",
    "Stats",
    "Storage",
    "StorageError",
    "Unsupported",
    "UserRecord",
    "open_maintenance",
    "open_storage",
    "parse_audience",
]


async def open_storage(settings: Settings) -> Storage:
    """Open the storage the settings choose, migrated and ready.

    Today that is always SQLite at ``settings.database_path`` (``":memory:"`` gives a private
    in-memory database, for tests). Any failure is a :class:`StorageError` naming the database
    (the driver's error is its ``__cause__``)."""
    from bot.storage.sqlite import SqliteStorage

    try:
        return await SqliteStorage.open(settings.database_path)
    except Exception as exc:
        reason = str(exc) if isinstance(exc, StorageError) else f"{type(exc).__name__}: {exc}"
        raise StorageError(f"database {settings.database_path}: {reason}") from exc


def open_maintenance(settings: Settings) -> Maintenance:
    """The operator's operations on the database the settings choose (see :class:`Maintenance`)."""
    from bot.storage.sqlite import MIGRATIONS, SqliteMaintenance

    return SqliteMaintenance(settings.database_path, len(MIGRATIONS))
