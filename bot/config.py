"""Settings, read from the environment (and an optional `.env` file) in one place.

Every setting is listed in `deploy/env.example` with its default. A missing or malformed setting
raises `ConfigError` with one line that says which and why; the CLI prints it and exits 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from retrieval import VARIANTS, BM25Params, RetrievalSettings

DEFAULT_DB = "data/archive.sqlite"
DEFAULT_ARCHIVE_PATHS = ("seeds",)
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_BOT_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Everything the bot and the CLI can be told from outside."""

    token: str | None = field(default=None, repr=False)
    admin_ids: frozenset[int] = frozenset()
    db_path: Path = Path(DEFAULT_DB)
    archive_paths: tuple[Path, ...] = tuple(map(Path, DEFAULT_ARCHIVE_PATHS))
    base_url: str | None = None
    base_file_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    health_port: int = 0  # 0: no HTTP health path
    health_listen: str = "127.0.0.1"
    allowed_chats: frozenset[int] = frozenset()
    rate_limit_per_minute: int = 20
    messages_per_second: float = 30  # Telegram's limit for a bot's messages across all chats
    citations: int = 3
    follow_seconds: float = 10  # 0: never look for changes other processes made to the archive
    inbox_max_age: float = 3600  # seconds an update may wait in the inbox before it is dropped unanswered
    record_question_text: bool = False
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    log_level: str = "INFO"
    log_format: str = "text"

    def require_token(self) -> str:
        if not self.token:
            raise ConfigError("TELEGRAM_BOT_TOKEN is not set: get one from @BotFather")
        return self.token

    @property
    def bot_id(self) -> int:
        """The bot's user id: the token's first part (public, unlike the rest)."""
        return int(self.require_token().split(":", 1)[0])


def load_settings(environ: Mapping[str, str] | None = None, dotenv: bool = True) -> Settings:
    """Settings from `environ` (default: the process environment, after reading `.env`)."""
    if environ is None:
        if dotenv and Path(".env").is_file():
            from dotenv import load_dotenv

            load_dotenv(".env", override=False)
        environ = os.environ
    env = {k: v.strip() for k, v in environ.items() if v.strip()}
    token = env.get("TELEGRAM_BOT_TOKEN")
    if token and not _BOT_TOKEN.match(token):
        raise ConfigError("TELEGRAM_BOT_TOKEN is malformed: expected the form 123456:ABC-def from @BotFather")
    secret = env.get("WEBHOOK_SECRET")
    if secret and not _SECRET_TOKEN.match(secret):
        raise ConfigError("WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
    variant = env.get("BM25_VARIANT", "okapi").lower()
    if variant not in VARIANTS:
        raise ConfigError(f"BM25_VARIANT must be one of {', '.join(VARIANTS)}, not {variant!r}")
    log_format = env.get("LOG_FORMAT", "text").lower()
    if log_format not in ("text", "json"):
        raise ConfigError(f"LOG_FORMAT must be text or json, not {log_format!r}")
    return Settings(
        token=token,
        admin_ids=_ids(env, "ADMIN_IDS"),
        db_path=Path(env.get("ARCHIVE_DB", DEFAULT_DB)),
        archive_paths=tuple(Path(p) for p in _list(env.get("ARCHIVE_PATHS", ",".join(DEFAULT_ARCHIVE_PATHS)))),
        base_url=env.get("TELEGRAM_BASE_URL"),
        base_file_url=env.get("TELEGRAM_BASE_FILE_URL"),
        webhook_url=env.get("WEBHOOK_URL"),
        webhook_secret=secret,
        webhook_listen=env.get("WEBHOOK_LISTEN", "0.0.0.0"),
        webhook_port=_number(env, "WEBHOOK_PORT", 8443, 1, 65535, kind=int),
        health_port=_number(env, "HEALTH_PORT", 0, 0, 65535, kind=int),
        health_listen=env.get("HEALTH_LISTEN", "127.0.0.1"),
        allowed_chats=_ids(env, "ALLOWED_CHATS"),
        rate_limit_per_minute=_number(env, "RATE_LIMIT_PER_MINUTE", 20, 0, 10_000, kind=int),
        messages_per_second=_number(env, "MESSAGES_PER_SECOND", 30, 1, 1000),
        citations=_number(env, "ANSWER_CITATIONS", 3, 1, 10, kind=int),
        follow_seconds=_number(env, "ARCHIVE_FOLLOW_SECONDS", 10, 0, 86_400),
        inbox_max_age=_number(env, "INBOX_MAX_AGE", 3600, 1, 86_400),
        record_question_text=_bool(env, "RECORD_QUESTION_TEXT"),
        retrieval=_retrieval(env, variant),
        log_level=_log_level(env.get("LOG_LEVEL", "INFO")),
        log_format=log_format,
    )


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _ids(env: Mapping[str, str], name: str) -> frozenset[int]:
    try:
        return frozenset(int(item) for item in _list(env.get(name, "")))
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated numeric ids, got {env[name]!r}") from None


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float,
            kind: type = float) -> float:
    try:
        value = kind(env.get(name, default))
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name} must be {what}, got {env[name]!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _retrieval(env: Mapping[str, str], variant: str) -> RetrievalSettings:
    try:
        return RetrievalSettings(
            language=env.get("ANALYZER_LANGUAGE", "english").lower(),
            detect_languages=_bool(env, "DETECT_LANGUAGES", True),
            bm25=BM25Params(variant=variant, k1=_number(env, "BM25_K1", 1.5, 0.001, 100),
                            b=_number(env, "BM25_B", 0.75, 0, 1)),
        )
    except ValueError as error:
        raise ConfigError(f"ANALYZER_LANGUAGE: {error}") from None


def _bool(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = env.get(name, str(default)).lower()
    if value not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return value in ("1", "true", "yes", "on")


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {value!r}")
    return level
