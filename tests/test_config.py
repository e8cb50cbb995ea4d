"""Configuration from the environment: what an operator sees when a value is wrong."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import api_base_urls
from bot.config import PROJECT_ROOT, ConfigError, Settings

GOOD = "1234567:TEST-offline-token-not-real-abcdefgh"


def test_minimal_environment_needs_only_the_token() -> None:
    settings = Settings.from_env({"BOT_TOKEN": GOOD})
    assert settings.bot_token == GOOD
    assert settings.admin_ids == frozenset()
    assert settings.database_path == PROJECT_ROOT / "data" / "bot.sqlite3"
    assert settings.content_dir == PROJECT_ROOT / "content"
    assert settings.api_base_url is None
    assert settings.checkin_missed_window == timedelta(hours=2)


def test_all_variables_are_read() -> None:
    settings = Settings.from_env(
        {
            "BOT_TOKEN": GOOD,
            "ADMIN_IDS": " 42, 7 ,",
            "DATABASE_PATH": "/tmp/x.sqlite3",
            "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9999",
            "LOG_LEVEL": "debug",
            "CHECKIN_TICK_SECONDS": "5",
            "CHECKIN_MISSED_WINDOW_MINUTES": "30",
            "BROADCAST_RATE": "1000",
        }
    )
    assert settings.admin_ids == frozenset({42, 7})
    assert settings.database_path == Path("/tmp/x.sqlite3")
    assert settings.api_base_url == "http://127.0.0.1:9999"
    assert settings.log_level == "DEBUG"
    assert settings.checkin_tick_seconds == 5
    assert settings.checkin_missed_window == timedelta(minutes=30)
    assert settings.broadcast_rate == 1000


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "BOT_TOKEN is not set"),
        ({"BOT_TOKEN": "   "}, "BOT_TOKEN is not set"),
        ({"BOT_TOKEN": "not-a-token"}, "BOT_TOKEN is malformed"),
        ({"BOT_TOKEN": GOOD, "ADMIN_IDS": "@someone"}, "ADMIN_IDS must be positive numeric"),
        ({"BOT_TOKEN": GOOD, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be one of"),
        ({"BOT_TOKEN": GOOD, "BROADCAST_RATE": "fast"}, "BROADCAST_RATE must be a number"),
        ({"BOT_TOKEN": GOOD, "CHECKIN_TICK_SECONDS": "0"}, "greater than zero"),
    ],
)
def test_bad_values_give_one_clear_sentence(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        Settings.from_env(env)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "raw",
    [
        "٣٤٥",  # Arabic-Indic digits: str.isdigit() is True and int() read them as 345
        "¹²³",  # superscripts: isdigit() is True, int() raised ValueError (a traceback)
        "１２３",  # fullwidth digits
        "0",
        "-5",
        "+5",
        "1e3",
        "12 34",
        "42,abc",
        "9" * 25,
    ],
)
def test_admin_ids_are_positive_ascii_numbers_or_one_clear_line(raw: str) -> None:
    with pytest.raises(ConfigError, match="ADMIN_IDS must be positive numeric") as info:
        Settings.from_env({"BOT_TOKEN": GOOD, "ADMIN_IDS": raw})
    assert "\n" not in str(info.value)


def test_admin_ids_accept_ascii_digits_with_spaces_and_semicolons() -> None:
    assert Settings.from_env({"BOT_TOKEN": GOOD, "ADMIN_IDS": " 42;0007 , 99"}).admin_ids == {
        42,
        7,
        99,
    }


def test_relative_paths_are_relative_to_the_project_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # started from somewhere else, e.g. by a service manager
    settings = Settings.from_env(
        {"BOT_TOKEN": GOOD, "DATABASE_PATH": "var/x.sqlite3", "CONTENT_DIR": "content"}
    )
    assert settings.database_path == PROJECT_ROOT / "var" / "x.sqlite3"
    assert settings.content_dir == PROJECT_ROOT / "content"
    memory = Settings.from_env({"BOT_TOKEN": GOOD, "DATABASE_PATH": ":memory:"})
    assert memory.database_path == Path(":memory:")


def test_malformed_token_is_not_echoed() -> None:
    secret = "99999:short"
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"BOT_TOKEN": secret})
    assert secret not in str(info.value)


def test_token_is_not_in_the_settings_repr() -> None:
    assert GOOD not in repr(Settings(bot_token=GOOD))


@pytest.mark.parametrize(
    "base", ["http://127.0.0.1:8081", "http://127.0.0.1:8081/", "http://127.0.0.1:8081/bot"]
)
def test_api_base_url_accepts_a_server_root(base: str) -> None:
    assert api_base_urls(base) == ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot")


# --- webhook mode and the health port -----------------------------------------------------------

SECRET = "s3cr3t-Webhook_token-0123456789abcdefXYZ"  # 40 characters, many distinct


def test_polling_is_the_default_and_webhook_settings_have_defaults() -> None:
    settings = Settings.from_env({"BOT_TOKEN": GOOD, "WEBHOOK_SECRET": "ignored-in-polling"})
    assert settings.webhook_url is None
    assert settings.webhook_secret is None
    assert settings.webhook_listen == "127.0.0.1"
    assert settings.webhook_port == 8080
    assert settings.health_port is None


def test_webhook_settings_are_read() -> None:
    settings = Settings.from_env(
        {
            "BOT_TOKEN": GOOD,
            "WEBHOOK_URL": "https://help.example.org/tg/abc_DEF-123",
            "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_LISTEN": "0.0.0.0",
            "WEBHOOK_PORT": "8443",
            "HEALTH_PORT": "9090",
        }
    )
    assert settings.webhook_url == "https://help.example.org/tg/abc_DEF-123"
    assert settings.webhook_path == "/tg/abc_DEF-123"
    assert settings.webhook_secret == SECRET
    assert settings.webhook_listen == "0.0.0.0"
    assert settings.webhook_port == 8443
    assert settings.health_port == 9090
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8443/hook", "http://localhost/hook", "http://[::1]:9000/x"]
)
def test_plain_http_webhook_is_accepted_on_loopback_only(url: str) -> None:
    settings = Settings.from_env({"BOT_TOKEN": GOOD, "WEBHOOK_URL": url, "WEBHOOK_SECRET": SECRET})
    assert settings.webhook_url == url


def test_a_webhook_url_without_a_path_listens_on_slash() -> None:
    settings = Settings.from_env(
        {"BOT_TOKEN": GOOD, "WEBHOOK_URL": "https://help.example.org", "WEBHOOK_SECRET": SECRET}
    )
    assert settings.webhook_path == "/"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WEBHOOK_URL": "http://help.example.org/hook"}, "must use https://"),
        ({"WEBHOOK_URL": "ftp://help.example.org/hook"}, "must be an https:// URL"),
        ({"WEBHOOK_URL": "help.example.org/hook"}, "must be an https:// URL"),
        ({"WEBHOOK_URL": "https://help.example.org:99999/x"}, "not a valid URL"),
        ({"WEBHOOK_URL": "https://help.example.org/a b"}, "path may only hold"),
        ({"WEBHOOK_URL": "https://help.example.org/x#frag"}, "path may only hold"),
        ({"WEBHOOK_URL": "https://help.example.org/healthz"}, "cannot be /healthz"),
        ({"WEBHOOK_URL": "https://h.example.org/x", "WEBHOOK_SECRET": ""}, "WEBHOOK_SECRET is not"),
        ({"WEBHOOK_URL": "https://h.example.org/x", "WEBHOOK_SECRET": "short"}, "too weak"),
        ({"WEBHOOK_URL": "https://h.example.org/x", "WEBHOOK_SECRET": "a" * 64}, "too weak"),
        ({"WEBHOOK_URL": "https://h.example.org/x", "WEBHOOK_SECRET": "x" * 257}, "too weak"),
        (
            {"WEBHOOK_URL": "https://h.example.org/x", "WEBHOOK_SECRET": SECRET + "!"},
            "too weak or malformed",
        ),
        ({"WEBHOOK_PORT": "http"}, "WEBHOOK_PORT must be a port number"),
        ({"WEBHOOK_PORT": "0"}, "WEBHOOK_PORT must be a port number"),
        ({"HEALTH_PORT": "70000"}, "HEALTH_PORT must be a port number"),
        ({"WEBHOOK_LISTEN": "0.0.0.0; rm"}, "WEBHOOK_LISTEN must be"),
    ],
)
def test_bad_webhook_values_give_one_clear_sentence(env: dict[str, str], message: str) -> None:
    env = {"BOT_TOKEN": GOOD, "WEBHOOK_SECRET": SECRET, **env}
    with pytest.raises(ConfigError, match=message) as info:
        Settings.from_env(env)
    assert "\n" not in str(info.value)
    secret = env.get("WEBHOOK_SECRET", "")
    if secret:
        assert secret not in str(info.value)  # never echoed, not even a weak one
