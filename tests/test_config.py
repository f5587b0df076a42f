"""Settings from the environment: defaults, every kind of value, one clear line for a bad one."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings

TOKEN = "123456:ABC-def_ghi"


def settings(**env: str) -> Settings:
    return load_settings(env, dotenv=False)


def test_defaults_when_nothing_is_set():
    s = settings()
    assert s.token is None
    assert s.db_path == Path("data/archive.sqlite") and s.archive_paths == (Path("seeds"),)
    assert s.rate_limit_per_minute == 20 and s.messages_per_second == 30 and s.citations == 3
    assert s.retrieval.bm25.variant == "okapi" and not s.record_question_text


def test_values_are_read_and_converted():
    s = settings(TELEGRAM_BOT_TOKEN=TOKEN, ADMIN_IDS="1, 2", ARCHIVE_PATHS="a,b", MESSAGES_PER_SECOND="250",
                 RATE_LIMIT_PER_MINUTE="0", RECORD_QUESTION_TEXT="yes", BM25_VARIANT="Plus", BM25_K1="1.2")
    assert s.token == TOKEN and s.admin_ids == {1, 2} and s.archive_paths == (Path("a"), Path("b"))
    assert s.messages_per_second == 250 and s.rate_limit_per_minute == 0 and s.record_question_text
    assert s.retrieval.bm25.variant == "plus" and s.retrieval.bm25.k1 == 1.2


@pytest.mark.parametrize("name, value, says", [
    ("MESSAGES_PER_SECOND", "0", "between"),
    ("MESSAGES_PER_SECOND", "fast", "a number"),
    ("RATE_LIMIT_PER_MINUTE", "2.5", "a whole number"),
    ("ADMIN_IDS", "me", "numeric ids"),
    ("BM25_VARIANT", "bm42", "okapi"),
    ("RECORD_QUESTION_TEXT", "maybe", "true or false"),
    ("TELEGRAM_BOT_TOKEN", "not-a-token", "malformed"),
])
def test_a_bad_value_is_named_in_one_line(name, value, says):
    with pytest.raises(ConfigError, match=says) as raised:
        settings(**{name: value})
    assert name in str(raised.value) and "\n" not in str(raised.value)


def test_a_bad_token_is_not_repeated_in_the_error():
    with pytest.raises(ConfigError) as raised:
        settings(TELEGRAM_BOT_TOKEN="123456:secret part with spaces")
    assert "secret" not in str(raised.value)
