"""Fixtures for the storage tests.

``storage`` is a fresh, migrated database of each backend in ``BACKENDS`` (in ``tmp_path``), as
the :class:`bot.storage.Storage` protocol: the contract tests (``test_contract_*.py``) run once
per backend and use nothing else. Adding a backend is adding its name to ``BACKENDS`` and a
branch to :func:`open_backend` and to :func:`set_last_active`.

``set_last_active`` is the one thing the protocol cannot do and some tests need: move a
person's last-active date into the past (``seen`` only ever records today).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path

import pytest

from bot.config import Settings
from bot.storage import Storage, open_storage
from bot.storage.sqlite import SqliteStorage
from tests.fake import TEST_TOKEN

BACKENDS = ["sqlite"]


async def open_backend(name: str, tmp_path: Path) -> Storage:
    """A fresh, empty, migrated database of backend ``name``."""
    if name == "sqlite":
        settings = Settings(bot_token=TEST_TOKEN, database_path=tmp_path / "bot.sqlite3")
        return await open_storage(settings)
    raise AssertionError(f"unknown storage backend {name!r}")


@pytest.fixture(params=BACKENDS)
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    store = await open_backend(request.param, tmp_path)
    try:
        yield store
    finally:
        await store.close()


SetLastActive = Callable[[int, date], Awaitable[None]]


@pytest.fixture
def set_last_active(storage: Storage) -> SetLastActive:
    """``await set_last_active(user_id, day)``: the person was last seen on ``day``."""
    if isinstance(storage, SqliteStorage):
        sqlite = storage

        async def run(user_id: int, day: date) -> None:
            async with sqlite.transaction() as db:
                await db.execute(
                    "UPDATE users SET last_active_on = ? WHERE user_id = ?",
                    (day.isoformat(), user_id),
                )

        return run
    raise AssertionError(f"no set_last_active for {type(storage).__name__}")
