"""Deployment files (``deploy/``): the systemd unit, the image, compose and Caddy say what
``docs/DEPLOY.md`` promises. Static checks only (no systemd or Docker engine needed), plus the
container health check script run against a local HTTP server.
"""

from __future__ import annotations

import configparser
import fnmatch
import http.server
import importlib.util
import json
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNIT_PATH = DEPLOY / "recovery-help-bot.service"
DOCKERFILE_PATH = DEPLOY / "Dockerfile"
COMPOSE_PATH = DEPLOY / "compose.yaml"
CADDYFILE_PATH = DEPLOY / "Caddyfile"
HEALTHCHECK_PATH = DEPLOY / "healthcheck.py"
DEPLOY_DOC = ROOT / "docs" / "DEPLOY.md"

# Settings the bot is getting but that may not be in bot/config.py or .env.example yet. Remove
# a name from here once it is there.
PLANNED_SETTINGS: set[str] = set()
# Webhook mode and the health port: in bot/config.py and .env.example, and explained by
# docs/DEPLOY.md.
WEBHOOK_SETTINGS = {
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
    "WEBHOOK_LISTEN",
    "WEBHOOK_PORT",
    "HEALTH_PORT",
}
# Read by compose.yaml and the Caddyfile only, never by the bot; docs/DEPLOY.md explains them.
DEPLOY_ONLY_SETTINGS = {"BOT_DOMAIN", "WEBHOOK_PATH"}
# The interpreter's and pip's own variables, not the bot's settings.
INTERPRETER_VARIABLES = {
    "PATH",
    "PYTHONPATH",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
}
SECRETS = {"BOT_TOKEN", "WEBHOOK_SECRET"}


# --- systemd unit -------------------------------------------------------------------------------


class _MultiValueDict(dict):  # type: ignore[type-arg]
    """Keeps every value of a repeated key: configparser stores values as lists while reading,
    so a repeated key extends the list; the joined result has one value per line."""

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, list) and key in self and isinstance(self[key], list):
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as {section: {key: [every value, in order]}} (keys keep their case)."""
    parser = configparser.ConfigParser(
        strict=False,
        interpolation=None,
        dict_type=_MultiValueDict,
        empty_lines_in_values=False,
        comment_prefixes=("#", ";"),
        inline_comment_prefixes=None,
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return {
        section: {key: parser[section][key].split("\n") for key in parser[section]}
        for section in parser.sections()
    }


def effective(values: list[str]) -> list[str]:
    """systemd list semantics: every value adds, an empty assignment resets what came before."""
    result: list[str] = []
    for value in values:
        if value == "":
            result = []
        else:
            result.append(value)
    return result


@pytest.fixture(scope="module")
def unit() -> dict[str, dict[str, list[str]]]:
    return parse_unit(UNIT_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def service(unit: dict[str, dict[str, list[str]]]) -> dict[str, list[str]]:
    return unit["Service"]


def last(service: dict[str, list[str]], key: str) -> str:
    assert key in service, f"{key}= is missing from the unit"
    return service[key][-1]


def unit_environment(service: dict[str, list[str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in service.get("Environment", []):
        for assignment in shlex.split(line):
            name, _, value = assignment.partition("=")
            env[name] = value
    return env


def test_the_unit_parser_keeps_repeated_keys_and_resets() -> None:
    parsed = parse_unit(
        "[Service]\nSystemCallFilter=@system-service\nSystemCallFilter=~@privileged\n"
        "CapabilityBoundingSet=\nEnvironment=A=1\nEnvironment=B=2\n"
    )["Service"]
    assert parsed["SystemCallFilter"] == ["@system-service", "~@privileged"]
    assert parsed["CapabilityBoundingSet"] == [""]
    assert unit_environment(parsed) == {"A": "1", "B": "2"}
    assert effective(["a", "", "b"]) == ["b"]


def test_unit_has_unit_service_and_install_sections(unit: dict[str, dict[str, list[str]]]) -> None:
    assert {"Unit", "Service", "Install"} <= set(unit)
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_unit_runs_as_its_own_user_in_the_install_folder(service: dict[str, list[str]]) -> None:
    assert last(service, "User") == "recovery-bot"
    assert last(service, "Group") == "recovery-bot"
    assert last(service, "WorkingDirectory") == "/opt/recovery-help-bot"
    assert "DynamicUser" not in service


def test_unit_reads_settings_from_a_root_only_env_file(service: dict[str, list[str]]) -> None:
    assert last(service, "EnvironmentFile") == "/etc/recovery-help-bot/env"
    env = unit_environment(service)
    assert not SECRETS & set(env), "secrets belong in the env file, never in the unit"


def test_unit_checks_then_runs_the_bot_from_the_venv(service: dict[str, list[str]]) -> None:
    python = "/opt/recovery-help-bot/.venv/bin/python"
    assert shlex.split(last(service, "ExecStartPre")) == [python, "-m", "bot", "check"]
    assert len(service["ExecStart"]) == 1
    assert shlex.split(last(service, "ExecStart")) == [python, "-m", "bot", "run"]


def test_unit_restarts_on_failure_and_stops_in_time(service: dict[str, list[str]]) -> None:
    assert last(service, "Restart") == "on-failure"
    restart_sec = float(last(service, "RestartSec").removesuffix("s"))
    assert 1 <= restart_sec <= 60
    # Exit code 2 = bad settings or content: a restart cannot help.
    assert "2" in last(service, "RestartPreventExitStatus").split()
    assert last(service, "KillSignal") == "SIGTERM"
    # The bot stops within 10 s of SIGTERM; systemd waits 15 s before SIGKILL.
    assert last(service, "TimeoutStopSec") == "15"


HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "RestrictRealtime": "yes",
    "UMask": "0077",
}


@pytest.mark.parametrize(("key", "expected"), sorted(HARDENING.items()))
def test_unit_hardening(service: dict[str, list[str]], key: str, expected: str) -> None:
    assert last(service, key) == expected


def test_unit_has_no_capabilities_and_only_inet_and_unix_sockets(
    service: dict[str, list[str]],
) -> None:
    assert effective(service["CapabilityBoundingSet"]) == []
    families = " ".join(effective(service["RestrictAddressFamilies"])).split()
    assert sorted(families) == ["AF_INET", "AF_INET6", "AF_UNIX"]


def test_unit_writes_only_to_the_state_directory_holding_the_database(
    service: dict[str, list[str]],
) -> None:
    assert last(service, "StateDirectory") == "recovery-help-bot"
    assert last(service, "StateDirectoryMode") == "0700"
    database = PurePosixPath(unit_environment(service)["DATABASE_PATH"])
    assert database == PurePosixPath("/var/lib/recovery-help-bot/bot.sqlite3")
    assert database.parent == PurePosixPath("/var/lib") / last(service, "StateDirectory")
    writable = [PurePosixPath(p) for p in " ".join(service["ReadWritePaths"]).split()]
    assert writable == [database.parent]


def test_unit_values_have_no_inline_comments() -> None:
    # systemd has no inline comments: "Key=value # note" makes "# note" part of the value.
    for line in UNIT_PATH.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith(("#", ";", "[")):
            assert " #" not in line and not line.rstrip().endswith("\\"), line


def test_unit_explains_each_group_of_settings() -> None:
    text = UNIT_PATH.read_text(encoding="utf-8")
    groups = re.findall(r"^# --- (.+?) -+$", text, flags=re.MULTILINE)
    assert len(groups) >= 5, groups


# --- Dockerfile ---------------------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        full = (pending + line).strip()
        pending = ""
        name, _, args = full.partition(" ")
        instructions.append((name.upper(), args.strip()))
    assert not pending, "the Dockerfile ends with a continuation line"
    return instructions


def stages(instructions: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in instructions:
        if instruction[0] == "FROM":
            result.append([])
        assert result, "the Dockerfile must start with FROM"
        result[-1].append(instruction)
    return result


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return stages(instructions)[-1]


def args_of(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [args for instruction, args in stage if instruction == name]


def env_assignments(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in args_of(stage, "ENV"):
        for assignment in shlex.split(args):
            name, _, value = assignment.partition("=")
            env[name] = value
    return env


def copies(stage: list[tuple[str, str]]) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY, --from copies included, flags dropped."""
    result = []
    for args in args_of(stage, "COPY"):
        parts = [part for part in shlex.split(args) if not part.startswith("--")]
        result.append((parts[:-1], parts[-1]))
    return result


def test_dockerfile_helper_parses_continuations() -> None:
    parsed = dockerfile_instructions("# c\nFROM x\nRUN a \\\n  # note\n  && b\nENV A=1 \\\n B=2\n")
    assert parsed == [("FROM", "x"), ("RUN", "a && b"), ("ENV", "A=1 B=2")]


def test_dockerfile_builds_on_python_311_slim(instructions: list[tuple[str, str]]) -> None:
    for args in args_of(instructions, "FROM"):
        assert args.split()[0] == "python:3.11-slim"


def test_dockerfile_installs_the_project_with_pip(instructions: list[tuple[str, str]]) -> None:
    runs = args_of(instructions, "RUN")
    assert any(re.search(r"pip install( -\S+)* \.(\s|$)", run) for run in runs), runs
    build = stages(instructions)[0]
    copied = {source.rstrip("/") for sources, _ in copies(build) for source in sources}
    assert {"pyproject.toml", "README.md", "bot", "handlers", "content"} <= copied


def test_dockerfile_runs_the_source_with_its_content(final_stage: list[tuple[str, str]]) -> None:
    # content/ is not package data and the installed package is incomplete: the image runs the
    # source tree in its working directory, which PYTHONPATH puts first.
    workdir = args_of(final_stage, "WORKDIR")[-1]
    assert env_assignments(final_stage)["PYTHONPATH"] == workdir
    copied = {source.rstrip("/") for sources, _ in copies(final_stage) for source in sources}
    assert {"bot", "handlers", "content"} <= copied


def test_dockerfile_leaves_no_build_tools(instructions: list[tuple[str, str]]) -> None:
    text = " ".join(args for _, args in instructions).lower()
    for tool in ("curl", "wget", "gcc", "build-essential", "apt-get install", "apk add"):
        assert tool not in text, tool


def test_dockerfile_runs_as_a_non_root_user(final_stage: list[tuple[str, str]]) -> None:
    names = [name for name, _ in final_stage]
    users = [i for i, name in enumerate(names) if name == "USER"]
    assert users, "the image must set a USER"
    assert users[-1] < names.index("ENTRYPOINT")
    user = final_stage[users[-1]][1].split(":")[0]
    assert user not in {"root", "0", ""}


def test_dockerfile_keeps_the_database_in_a_private_volume(
    final_stage: list[tuple[str, str]],
) -> None:
    assert env_assignments(final_stage)["DATABASE_PATH"] == "/data/bot.sqlite3"
    assert any(json_or_words(args) == ["/data"] for args in args_of(final_stage, "VOLUME"))
    names = [name for name, _ in final_stage]
    runs_before_volume = [
        args for name, args in final_stage[: names.index("VOLUME")] if name == "RUN"
    ]
    # /data exists before VOLUME, owned by the bot's user, mode 0700: a new volume copies both.
    assert any(
        re.search(r"install -d -o (\S+) -g \S+ -m 0700 /data", run) for run in runs_before_volume
    )


def json_or_words(args: str) -> list[str]:
    if args.startswith("["):
        return json.loads(args)
    return shlex.split(args)


def test_dockerfile_entrypoint_signal_port_and_health(final_stage: list[tuple[str, str]]) -> None:
    assert json.loads(args_of(final_stage, "ENTRYPOINT")[-1]) == ["python", "-m", "bot"]
    assert json.loads(args_of(final_stage, "CMD")[-1]) == ["run"]
    assert args_of(final_stage, "STOPSIGNAL") == ["SIGTERM"]
    assert "8080" in args_of(final_stage, "EXPOSE")[-1].split()
    health = args_of(final_stage, "HEALTHCHECK")[-1]
    command = json.loads(health[health.index("CMD") + 3 :].strip())
    assert command == ["python", image_healthcheck_path(final_stage)]


def image_healthcheck_path(final_stage: list[tuple[str, str]]) -> str:
    for sources, destination in copies(final_stage):
        if sources == ["deploy/healthcheck.py"]:
            return destination
    raise AssertionError("deploy/healthcheck.py is not copied into the image")


def test_dockerignore_keeps_secrets_and_data_out_but_not_the_sources(
    instructions: list[tuple[str, str]],
) -> None:
    patterns = [
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for required in (".git", ".venv", "data", "tests", "benchmarks", ".env", "**/.env"):
        assert required in patterns, required
    assert any("__pycache__" in pattern for pattern in patterns)
    sources = {
        s.rstrip("/") for stage in stages(instructions) for ss, _ in copies(stage) for s in ss
    }
    sources = {s for s in sources if not s.startswith("/")}  # COPY --from paths
    for source in sources:
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in patterns), source


# --- the container health check -----------------------------------------------------------------


def load_healthcheck() -> Any:
    spec = importlib.util.spec_from_file_location("deploy_healthcheck", HEALTHCHECK_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_healthcheck_asks_the_right_port() -> None:
    health_url = load_healthcheck().health_url
    webhook = {"WEBHOOK_URL": "https://example.org/hook", "WEBHOOK_PORT": "9000"}
    assert health_url(webhook) == "http://127.0.0.1:9000/healthz"
    assert health_url({"WEBHOOK_URL": "https://example.org/hook"}) == (
        "http://127.0.0.1:8080/healthz"
    )
    assert health_url({"HEALTH_PORT": "9100"}) == "http://127.0.0.1:9100/healthz"
    assert health_url({}) == "http://127.0.0.1:8080/healthz"


class _HealthServer:
    def __init__(self) -> None:
        self.status = 200
        self.paths: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.paths.append(self.path)
                body = b'{"ok": true}'
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]

    def __enter__(self) -> _HealthServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def health_server() -> Iterator[_HealthServer]:
    with _HealthServer() as server:
        yield server


def run_healthcheck(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK_PATH)],
        env={"NO_PROXY": "127.0.0.1", **env},
        capture_output=True,
        text=True,
        timeout=20,
    )


def test_healthcheck_is_healthy_only_on_200(health_server: _HealthServer) -> None:
    port = str(health_server.port)
    assert run_healthcheck(HEALTH_PORT=port).returncode == 0
    assert run_healthcheck(WEBHOOK_URL="https://example.org/x", WEBHOOK_PORT=port).returncode == 0
    health_server.status = 503
    assert run_healthcheck(HEALTH_PORT=port).returncode == 1
    assert health_server.paths == ["/healthz"] * 3


def test_healthcheck_fails_when_nothing_listens() -> None:
    with _HealthServer() as server:
        port = str(server.port)
    result = run_healthcheck(HEALTH_PORT=port)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr


def test_healthcheck_uses_only_the_standard_library() -> None:
    text = HEALTHCHECK_PATH.read_text(encoding="utf-8")
    assert "urllib.request" in text and "/healthz" in text
    imports = set(re.findall(r"^(?:from|import) ([\w.]+)", text, flags=re.MULTILINE))
    assert imports <= {
        "__future__",
        "os",
        "sys",
        "urllib.error",
        "urllib.request",
        "collections.abc",
    }


# --- compose and Caddy --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_PATH.read_text(encoding="utf-8"))


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): str(v) for k, v in env.items()}


def seconds(value: str) -> float:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", str(value))
    assert match and any(match.groups()), value
    return int(match.group(1) or 0) * 60 + float(match.group(2) or 0)


def test_compose_bot_runs_the_image_in_webhook_mode(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    assert bot["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert bot["env_file"] in (".env", [".env"])
    assert bot["restart"] == "unless-stopped"
    env = environment_of(bot)
    assert env["WEBHOOK_LISTEN"] == "0.0.0.0"
    assert env["WEBHOOK_URL"].startswith("https://${BOT_DOMAIN")
    assert "${WEBHOOK_PATH" in env["WEBHOOK_URL"]
    assert not SECRETS & set(env), "secrets come from .env, never from compose.yaml"


def test_compose_bot_port_is_not_published(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    assert "ports" not in bot
    assert "network_mode" not in bot
    port = environment_of(bot).get("WEBHOOK_PORT", "8080")
    assert [str(p) for p in bot.get("expose", [])] == [port]


def test_compose_database_lives_in_a_named_volume(
    compose: dict[str, Any], final_stage: list[tuple[str, str]]
) -> None:
    bot = compose["services"]["bot"]
    # Set here as well as in the image: environment: wins over a DATABASE_PATH in .env.
    assert environment_of(bot)["DATABASE_PATH"] == env_assignments(final_stage)["DATABASE_PATH"]
    mounts = [str(v).split(":") for v in bot["volumes"]]
    data = [m for m in mounts if m[1] == "/data"]
    assert len(data) == 1
    assert data[0][0] in compose["volumes"], "/data must be a named volume"


def test_compose_bot_healthcheck_and_stop(
    compose: dict[str, Any], final_stage: list[tuple[str, str]]
) -> None:
    bot = compose["services"]["bot"]
    assert bot["healthcheck"]["test"] == ["CMD", "python", image_healthcheck_path(final_stage)]
    assert seconds(bot["stop_grace_period"]) >= 15
    assert bot.get("stop_signal", "SIGTERM") == "SIGTERM"
    assert bot.get("read_only") is True
    assert bot.get("cap_drop") == ["ALL"]


def test_compose_caddy_publishes_https(compose: dict[str, Any]) -> None:
    caddy = compose["services"]["caddy"]
    assert str(caddy["image"]).startswith("caddy:")
    ports = [str(p) for p in caddy["ports"]]
    assert "443:443" in ports
    assert any(str(v).startswith("./Caddyfile:/etc/caddy/Caddyfile") for v in caddy["volumes"])
    assert caddy["restart"] == "unless-stopped"
    assert set(environment_of(caddy)) == DEPLOY_ONLY_SETTINGS


def caddy_blocks(text: str) -> list[tuple[str, list[Any]]]:
    """The Caddyfile as a tree: [(line, children)], comments dropped."""
    root: list[tuple[str, list[Any]]] = []
    stack = [root]
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.strip().startswith("#") else ""
        if not line:
            continue
        if line == "}":
            stack.pop()
            assert stack, "unbalanced braces in the Caddyfile"
            continue
        if line.endswith("{"):
            children: list[Any] = []
            stack[-1].append((line[:-1].strip(), children))
            stack.append(children)
        else:
            stack[-1].append((line, []))
    assert len(stack) == 1, "unbalanced braces in the Caddyfile"
    return root


def test_caddy_proxies_only_the_webhook_path_to_the_bot(compose: dict[str, Any]) -> None:
    text = CADDYFILE_PATH.read_text(encoding="utf-8")
    sites = caddy_blocks(text)
    assert [site for site, _ in sites] == ["{$BOT_DOMAIN}"]
    body = sites[0][1]
    matchers = {line: children for line, children in body if line.startswith("@")}
    handles = [(line, children) for line, children in body if line.startswith("handle")]
    assert [line for line, _ in handles] == ["handle @webhook", "handle"]
    webhook = {line for line, _ in matchers["@webhook"]}
    assert webhook == {"method POST", "path {$WEBHOOK_PATH}"}
    port = environment_of(compose["services"]["bot"]).get("WEBHOOK_PORT", "8080")
    assert ("reverse_proxy bot:" + port, []) in handles[0][1]
    assert handles[1][1] == [("respond 404", [])]
    # The only reverse_proxy in the file is the webhook one; nothing names health or metrics.
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    assert code.count("reverse_proxy") == 1
    assert "healthz" not in code and "metrics" not in code


# --- settings named in the deploy files ---------------------------------------------------------


def known_settings() -> set[str]:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    names = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    config = (ROOT / "bot" / "config.py").read_text(encoding="utf-8")
    names |= set(re.findall(r"\"([A-Z][A-Z0-9_]{2,})\"", config))
    return names


def settings_named_in_deploy_files(
    service: dict[str, list[str]], final_stage: list[tuple[str, str]], compose: dict[str, Any]
) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}

    def add(names: set[str], where: str) -> None:
        for name in names:
            found.setdefault(name, set()).add(where)

    add(set(unit_environment(service)), UNIT_PATH.name)
    add(set(env_assignments(final_stage)), DOCKERFILE_PATH.name)
    for service_def in compose["services"].values():
        add(set(environment_of(service_def)), COMPOSE_PATH.name)
    compose_text = COMPOSE_PATH.read_text(encoding="utf-8")
    add(set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose_text)), COMPOSE_PATH.name)
    caddy_text = CADDYFILE_PATH.read_text(encoding="utf-8")
    add(set(re.findall(r"\{\$([A-Z][A-Z0-9_]*)", caddy_text)), CADDYFILE_PATH.name)
    health_text = HEALTHCHECK_PATH.read_text(encoding="utf-8")
    add(set(re.findall(r"env\.get\(\"([A-Z][A-Z0-9_]*)\"", health_text)), HEALTHCHECK_PATH.name)
    return found


def test_every_setting_in_the_deploy_files_exists(
    service: dict[str, list[str]], final_stage: list[tuple[str, str]], compose: dict[str, Any]
) -> None:
    found = settings_named_in_deploy_files(service, final_stage, compose)
    assert {"DATABASE_PATH", "WEBHOOK_URL", "BOT_DOMAIN"} <= set(found)
    allowed = known_settings() | PLANNED_SETTINGS | DEPLOY_ONLY_SETTINGS | INTERPRETER_VARIABLES
    unknown = {name: sorted(where) for name, where in found.items() if name not in allowed}
    assert not unknown, f"not in .env.example or bot/config.py: {unknown}"


def test_deploy_only_settings_are_documented() -> None:
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    for name in DEPLOY_ONLY_SETTINGS | PLANNED_SETTINGS | WEBHOOK_SETTINGS:
        assert f"`{name}`" in doc, name


def test_deploy_doc_covers_operations() -> None:
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    for phrase in (
        "python -m bot backup",
        "python -m bot restore",
        "python -m bot migrate",
        "/revoke",
        "X-Telegram-Bot-Api-Secret-Token",
        "/metrics",
        "/healthz",
        "has not been built",
    ):
        assert phrase in doc, phrase
