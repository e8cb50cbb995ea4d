"""Operations from the command line: ``python -m bot backup | restore | migrate | stats``, each
with ``--help``; and the database's files (0600 file, 0700 folder, also -wal and -shm).

The commands run in process through ``bot.__main__.main`` (the same code ``python -m bot``
runs); ``tests/test_startup.py`` runs the real process against the fake Bot API, including a
restore refused while a bot runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.config import Settings
from bot.storage import StorageError, open_maintenance, open_storage
from bot.storage.sqlite import MIGRATIONS, SqliteStorage
from tests.fake import TEST_TOKEN

COMMANDS = ["run", "check", "backup", "restore", "migrate", "stats"]


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bot's database for ``main()``: ``tmp_path/data/bot.sqlite3`` (not created yet)."""
    path = tmp_path / "data" / "bot.sqlite3"
    monkeypatch.setenv("BOT_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("DATABASE_PATH", str(path))
    monkeypatch.delenv("ADMIN_IDS", raising=False)
    return path


def run(*argv: str) -> int:
    return main(list(argv))


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and TEST_TOKEN not in err
    return lines[0]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def seed(path: Path, users: dict[int, tuple[str, str | None]], *, blocked: int = 0) -> None:
    """Create the database (migrated) with ``users``: id -> (language, country)."""

    async def write() -> None:
        storage = await SqliteStorage.open(path)
        try:
            for user_id, (language, country) in users.items():
                await storage.seen(user_id, language)
                if country:
                    await storage.set_country(user_id, country)
            if blocked:
                await storage.mark_blocked(blocked)
        finally:
            await storage.close()

    asyncio.run(write())


def user_ids(path: Path) -> set[int]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return {row[0] for row in db.execute("SELECT user_id FROM users")}


def integrity(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def damage(path: Path) -> None:
    """Scramble the cell pointers of one table leaf page (of a table with a few thousand rows):
    the file still opens, migrations see nothing wrong, only a check finds it."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=DELETE")
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    leaves = [i for i in range(1, len(data) // page_size) if data[i * page_size] == 0x0D]
    start = leaves[len(leaves) // 2] * page_size
    for k in range(8, 40):
        data[start + k] = 0xFF if k % 2 else 0x01
    path.write_bytes(bytes(data))


# --- help -------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(command, "--help")
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m bot {command}")
    assert len(out.split("\n\n")) >= 2  # a description beyond the usage line


def test_the_overview_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run("--help")
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert f"    {command} " in out, command


# --- backup -----------------------------------------------------------------------------------


def test_backup_while_the_database_is_in_use_is_a_verified_private_copy(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(db_path, {1: ("en", "US"), 2: ("es", "ES")})
    bot = sqlite3.connect(db_path, isolation_level=None)  # a running bot: writes in its WAL
    try:
        bot.execute("PRAGMA journal_mode=WAL")
        bot.execute("PRAGMA wal_autocheckpoint=0")
        bot.execute(
            "INSERT INTO users SELECT 3, language, country, created_on, last_active_on,"
            " NULL FROM users WHERE user_id = 1"
        )
        assert Path(f"{db_path}-wal").stat().st_size > 0
        dest = tmp_path / "backups" / "bot-2026-01-01.sqlite3"
        dest.parent.mkdir()
        bot.execute("BEGIN IMMEDIATE")  # the bot is in the middle of a write meanwhile
        bot.execute("DELETE FROM users WHERE user_id = 2")
        assert run("backup", str(dest)) == 0
        bot.execute("COMMIT")
    finally:
        bot.close()
    out = capsys.readouterr().out
    assert f"backup written: {dest}" in out and "integrity ok" in out
    assert mode(dest) == 0o600
    assert integrity(dest) == "ok"
    assert user_ids(dest) == {1, 2, 3}  # committed rows still in the WAL, not the open write
    assert not Path(f"{dest}-wal").exists()  # one self-contained file
    assert not [p.name for p in dest.parent.iterdir() if p != dest]  # no partial file left


def test_backup_replaces_an_older_backup_only_once_the_copy_is_good(
    db_path: Path, tmp_path: Path
) -> None:
    seed(db_path, {1: ("en", None)})
    dest = tmp_path / "bot-backup.sqlite3"
    assert run("backup", str(dest)) == 0
    more = {n: ("en", None) for n in range(2, 3000)}
    seed(db_path, more)
    assert run("backup", str(dest)) == 0  # a nightly job writing the same name again
    assert user_ids(dest) == {1, *more}
    damage(db_path)
    assert run("backup", str(dest)) == 1
    assert user_ids(dest) == {1, *more}  # the good backup was not replaced by a damaged copy


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no database", "no database at"),
        ("into itself", "is the database itself"),
        ("into a folder", "is a folder"),
        ("missing folder", "does not exist"),
    ],
)
def test_backup_refuses_with_one_line(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, message: str
) -> None:
    if case != "no database":
        seed(db_path, {1: ("en", None)})
    dest = {
        "no database": tmp_path / "b.sqlite3",
        "into itself": db_path,
        "into a folder": tmp_path,
        "missing folder": tmp_path / "nowhere" / "b.sqlite3",
    }[case]
    assert run("backup", str(dest)) == 1
    assert message in one_line(capsys.readouterr().err)


# --- restore ----------------------------------------------------------------------------------


def test_restore_replaces_the_database_and_keeps_the_replaced_one(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(db_path, {1: ("en", None)})
    backup = tmp_path / "backup.sqlite3"
    assert run("backup", str(backup)) == 0
    seed(db_path, {2: ("en", None)})  # written after the backup
    capsys.readouterr()
    assert run("restore", str(backup)) == 0
    out = capsys.readouterr().out
    kept = Path(f"{db_path}.before-restore")
    assert f"restored {db_path} from {backup}" in out and str(kept) in out
    assert user_ids(db_path) == {1}
    assert user_ids(kept) == {1, 2}
    assert mode(db_path) == 0o600 and mode(kept) == 0o600
    assert integrity(db_path) == "ok"
    assert run("stats") == 0  # the restored database opens and is used as usual
    assert "people: 1" in capsys.readouterr().out


def test_restore_is_refused_while_a_bot_holds_the_running_lock(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(db_path, {1: ("en", None)})
    backup = tmp_path / "backup.sqlite3"
    assert run("backup", str(backup)) == 0
    seed(db_path, {2: ("en", None)})
    maintenance = open_maintenance(Settings(bot_token=TEST_TOKEN, database_path=db_path))
    with maintenance.running_lock():  # what `python -m bot run` holds from start to exit
        assert run("restore", str(backup)) == 1
        line = one_line(capsys.readouterr().err)
        assert "restore refused: a bot is running on" in line and "stop it first" in line
        assert user_ids(db_path) == {1, 2}
    assert run("restore", str(backup)) == 0
    assert user_ids(db_path) == {1}


def test_a_bot_cannot_start_while_a_restore_holds_the_lock(db_path: Path) -> None:
    maintenance = open_maintenance(Settings(bot_token=TEST_TOKEN, database_path=db_path))
    maintenance.preflight()
    fd = os.open(f"{db_path}.lock", os.O_RDWR)
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)  # what restore holds while it replaces the file
        with pytest.raises(StorageError, match="a restore is in progress"):
            with maintenance.running_lock():
                pass
    finally:
        os.close(fd)
    with maintenance.running_lock():  # several bots may hold it at once
        with maintenance.running_lock():
            pass


@pytest.mark.parametrize("case", ["damaged", "not a database", "not the bot's", "newer"])
def test_restore_checks_the_backup_before_anything_changes(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    seed(db_path, {1: ("en", None), 2: ("en", None)})
    before = db_path.read_bytes()
    backup = tmp_path / "backup.sqlite3"
    if case == "damaged":
        seed(backup, {n: ("en", None) for n in range(1, 3000)})
        damage(backup)
    elif case == "not a database":
        backup.write_bytes(os.urandom(8192))
    elif case == "not the bot's":
        with contextlib.closing(sqlite3.connect(backup)) as db:
            db.execute("CREATE TABLE notes (x)")
    else:
        seed(backup, {1: ("en", None)})
        with contextlib.closing(sqlite3.connect(backup)) as db:
            db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    assert run("restore", str(backup)) == 1
    line = one_line(capsys.readouterr().err)
    assert "restore refused, nothing changed" in line
    assert {
        "damaged": "is damaged",
        "not a database": "not a database",
        "not the bot's": "is not a recovery-help-bot database",
        "newer": "is newer than this version of the bot",
    }[case] in line
    assert db_path.read_bytes() == before
    assert not Path(f"{db_path}.before-restore").exists()
    assert sorted(p.name for p in db_path.parent.iterdir()) == ["bot.sqlite3", "bot.sqlite3.lock"]


def test_restore_of_a_missing_file_says_so(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("restore", str(tmp_path / "nothing.sqlite3")) == 1
    assert "there is no file" in one_line(capsys.readouterr().err)


# --- migrate and stats ------------------------------------------------------------------------


def test_migrate_applies_what_is_pending_and_says_what_it_did(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_path.parent.mkdir()
    with contextlib.closing(sqlite3.connect(db_path)) as db:  # the first release's schema
        db.executescript(f"{MIGRATIONS[0]}\nPRAGMA user_version = 1;")
    assert run("migrate") == 0
    latest = len(MIGRATIONS)
    assert f"migrated from schema version 1 to {latest}" in capsys.readouterr().out
    assert run("migrate") == 0
    assert f"schema version {latest}, nothing to migrate" in capsys.readouterr().out


def test_migrate_refuses_a_database_from_a_newer_version(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_path.parent.mkdir()
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 2}")
    assert run("migrate") == 1
    assert "is newer than this version of the bot knows" in one_line(capsys.readouterr().err)


def test_stats_prints_the_admin_figures_as_counts_only(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people = {
        734_001: ("en", "US"),
        734_002: ("en", "US"),
        734_003: ("es", "ES"),
        734_004: ("en", None),
    }
    seed(db_path, people, blocked=734_004)
    assert run("stats") == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "people: 4",
        "active in the last 7 days: 4",
        "active in the last 30 days: 4",
        "with check-ins on: 0",
        "blocked the bot: 1",
        "by language: en 3, es 1",
        "by country: US 2, ES 1, not set 1",
    ]
    assert not any(str(uid) in out for uid in people)


def test_stats_without_a_database_does_not_create_one(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("stats") == 1
    assert "no database at" in one_line(capsys.readouterr().err)
    assert not db_path.exists()


@pytest.mark.parametrize(
    "argv", [["backup", "x.sqlite3"], ["restore", "x.sqlite3"], ["migrate"], ["stats"]]
)
def test_commands_without_meaning_for_an_in_memory_database_say_so(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOT_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("DATABASE_PATH", ":memory:")
    assert run(*argv) == 2
    assert "an in-memory database lives only inside the bot's own process" in one_line(
        capsys.readouterr().err
    )


# --- the files --------------------------------------------------------------------------------


async def test_database_folder_and_sqlite_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask: without care, files would be 0644
    try:
        path = tmp_path / "fresh" / "bot.sqlite3"
        storage = await SqliteStorage.open(path)
        try:
            await storage.seen(1, "en")
            files = {p.name: mode(p) for p in path.parent.iterdir()}
        finally:
            await storage.close()
    finally:
        os.umask(old)
    assert mode(path.parent) == 0o700
    assert files == {"bot.sqlite3": 0o600, "bot.sqlite3-wal": 0o600, "bot.sqlite3-shm": 0o600}


async def test_a_file_that_is_not_a_database_fails_fast_and_leaves_no_thread(
    tmp_path: Path,
) -> None:
    """It used to print a traceback and then hang: aiosqlite's thread kept the process alive."""
    path = tmp_path / "bot.sqlite3"
    path.write_bytes(os.urandom(4096))
    before = set(threading.enumerate())
    with pytest.raises(StorageError, match="file is not a database") as info:
        await open_storage(Settings(bot_token=TEST_TOKEN, database_path=path))
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    await asyncio.sleep(0.1)
    assert [t for t in threading.enumerate() if t not in before and t.is_alive()] == []
