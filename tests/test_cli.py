"""The `archive-bot` command, run as a real process against a real archive file."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from itertools import islice
from pathlib import Path

import pytest
from PIL import Image

from conftest import shared_file
from tests.bot_harness import write_archive

DEMO_QUESTION = "Can Russia prevent Ukraine from joining NATO?"
PESKOV = "We cannot prevent it. It is impossible."
CITATION_KEYS = {"story_id", "title", "date", "quote", "score", "url"}

# Settings the command reads from the environment: the tests set their own or none.
SETTING_NAMES = {
    "TELEGRAM_BOT_TOKEN", "ADMIN_IDS", "ARCHIVE_DB", "ARCHIVE_PATHS", "TELEGRAM_BASE_URL",
    "TELEGRAM_BASE_FILE_URL", "WEBHOOK_URL", "WEBHOOK_SECRET", "WEBHOOK_LISTEN", "WEBHOOK_PORT",
    "ALLOWED_CHATS", "RATE_LIMIT_PER_MINUTE", "MESSAGES_PER_SECOND", "ANSWER_CITATIONS", "RECORD_QUESTION_TEXT",
    "ANALYZER_LANGUAGE", "BM25_VARIANT", "BM25_K1", "BM25_B", "LOG_LEVEL", "LOG_FORMAT",
}


@pytest.fixture
def cli(tmp_path: Path, tmp_db: Path):
    """Run `archive-bot --db tmp_db ARGS...` (ARGS alone when they hold --db) in a process of its own,
    from an empty directory."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()

    def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
            expect: int | None = 0) -> subprocess.CompletedProcess:
        environ = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
        db = [] if "--db" in args else ["--db", str(tmp_db)]  # a test may give its own, after the command
        result = subprocess.run([sys.executable, "-m", "bot.cli", *db, *map(str, args)],
                                input=stdin, capture_output=True, text=True, cwd=workdir,
                                env={**environ, **(env or {})})
        if expect is not None:
            assert result.returncode == expect, result.stderr
        return result

    return run


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines()]


def test_ingest_then_ask_json_cites_the_seed_story(cli, seed_dir):
    ingest = cli("ingest", seed_dir)
    assert "1 added" in ingest.stdout and "0 failed" in ingest.stdout

    ask = cli("ask", "--json", DEMO_QUESTION)

    [answer] = json_lines(ask.stdout)
    assert answer["question"] == DEMO_QUESTION
    assert isinstance(answer["took_ms"], (int, float)) and answer["took_ms"] >= 0
    first = answer["citations"][0]
    assert set(first) == CITATION_KEYS
    assert first["story_id"] == "960351"
    assert PESKOV in first["quote"]
    assert first["date"].startswith("2021-10-25")
    assert first["title"].startswith("Moscow Says Cannot Prevent Ukraine")
    assert first["score"] > 0 and first["url"] is None
    assert ask.stderr == ""


def test_ask_prints_a_readable_answer(cli, seed_dir):
    cli("ingest", seed_dir)
    output = cli("ask", DEMO_QUESTION).stdout
    assert PESKOV in output
    assert "25 October 2021" in output and "960351" in output


def test_ask_answers_each_line_of_stdin(cli, seed_dir):
    cli("ingest", seed_dir)
    questions = [DEMO_QUESTION, "the of and", "cocoa arrivals", "What did Peskov tell Rossiya 1?"]

    answers = json_lines(cli("ask", "--json", stdin="\n".join(questions) + "\n").stdout)

    assert [a["question"] for a in answers] == questions
    assert [bool(a["citations"]) for a in answers] == [True, False, False, True]
    assert "nothing to search for" in answers[1]["message"]
    assert answers[2]["message"].startswith("The archive never mentions \u201ccocoa\u201d")
    assert answers[2]["kind"] == "never_mentioned"


def test_ask_on_an_empty_archive_says_so(cli):
    [answer] = json_lines(cli("ask", "--json", DEMO_QUESTION).stdout)
    assert answer["citations"] == []
    assert "empty" in answer["message"]


def test_ask_with_since_and_until_options(cli, seed_dir):
    cli("ingest", seed_dir)
    [inside] = json_lines(cli("ask", "--json", "--since", "October 2021", "--until", "2021", "NATO").stdout)
    [outside] = json_lines(cli("ask", "--json", "--since", "2022-01-01", "NATO").stdout)
    assert [c["story_id"] for c in inside["citations"]] == ["960351"]
    assert outside["citations"] == []


def test_stats_show_what_the_archive_holds(cli, seed_dir):
    cli("ingest", seed_dir)
    stats = json.loads(cli("stats", "--json").stdout)
    assert (stats["stories"], stats["last_ingest"]["added"]) == (1, 1)
    assert stats["passages"] > 1
    assert "stories: 1" in cli("stats").stdout.splitlines()


def test_db_may_come_after_the_command(cli, seed_dir, tmp_path):
    other = tmp_path / "other.sqlite"
    assert "1 added" in cli("ingest", "--db", other, seed_dir).stdout
    [answer] = json_lines(cli("ask", "--db", other, "--json", DEMO_QUESTION).stdout)
    assert answer["citations"][0]["story_id"] == "960351"
    assert json.loads(cli("stats", "--json").stdout)["stories"] == 0  # the archive named before the command


def test_ask_help_lists_the_question_syntax_with_examples(cli):
    help_text = cli("ask", "--help").stdout
    for syntax in ('"exact words"', "-word", "since March 1987", "between March 1987 and April 1987", "--since",
                   "examples:", 'archive-bot ask "What did the Kremlin say about NATO?"', "< questions.txt"):
        assert syntax in help_text


@pytest.mark.parametrize("args, hint", [
    (["aks", "NATO"], "invalid choice: 'aks'"),
    (["stast"], "did you mean 'stats'?"),
    (["ask", "--jsno", "NATO"], "unrecognized arguments: --jsno (did you mean --json?)"),
    (["timeline", "NATO", "--ot", "x.png"], "--ot (did you mean --out?) x.png"),
])
def test_a_mistyped_command_or_option_is_told_the_right_one(cli, args, hint):
    result = cli(*args, expect=2)
    assert hint in result.stderr and result.stdout == ""
    assert "did you mean 'ask'?" in cli("aks", "NATO", expect=2).stderr


def test_timeline_draws_the_chart_and_prints_the_counts(cli, tmp_path):
    cli("ingest", write_archive(tmp_path / "archive"))
    chart = tmp_path / "chart.png"
    drawn = cli("timeline", "NATO", "--out", chart).stdout
    assert drawn.startswith("NATO: 5 stories from 25 October 2021 to 12 November 2021, by week.")
    assert re.search(r"^25–31 October 2021 +1  █{20}\n1–7 November 2021 +2  █{40}$", drawn, re.MULTILINE)
    assert f"Chart: {chart}" in drawn
    with Image.open(chart) as image:
        assert image.format == "PNG" and image.size == (1280, 960)
    counts = json.loads(cli("timeline", "NATO", "--json").stdout)
    assert [(p["start"], p["stories"]) for p in counts["periods"]] == [
        ("2021-10-25", 1), ("2021-11-01", 2), ("2021-11-08", 2)]
    assert counts["top"]["story_id"] in ("970001", "970002") and counts["undated"] == 0


def test_a_timeline_with_nothing_to_chart_writes_no_file_and_exits_1(cli, seed_dir, tmp_path):
    cli("ingest", seed_dir)
    chart = tmp_path / "chart.png"
    result = cli("timeline", "Zyzzogeton", "--out", chart, expect=1)
    assert "never mentions" in result.stdout and "no chart written" in result.stderr and not chart.exists()
    single = cli("timeline", "Peskov").stdout
    assert single.startswith("Only one dated story mentions “Peskov”:") and "960351" in single


def write_broken_folder(folder: Path) -> dict[str, Path]:
    """One valid story, one valid JSON Lines file with a truncated line, and files that are all bad."""
    folder.mkdir()
    files = {name: folder / name for name in
             ["binary.txt", "empty.txt", "good.txt", "huge.jsonl", "mixed.jsonl", "no-body.txt"]}
    files["empty.txt"].write_bytes(b"")
    files["binary.txt"].write_bytes(bytes(range(256)) * 64)
    files["no-body.txt"].write_text(" date 2021-10-26 0\n\nA title alone\n\nStory Code : 5000\n\n")
    files["good.txt"].write_text(" date 2021-10-26 0\n\nCocoa news\n\nStory Code : 5001\n"
                                 "Cocoa arrivals in Bahia rose, Comissaria Smith said.\n")
    good = [json.dumps({"id": f"j{n}", "title": f"J{n}", "body": f"Sugar quotas story number {n}."})
            for n in (1, 3)]
    files["mixed.jsonl"].write_text(f"{good[0]}\n{good[1][:25]}\n{good[1]}\n")
    with files["huge.jsonl"].open("w") as huge:  # one 50 MB line, written piece by piece
        huge.write('{"id": "huge", "body": "')
        for _ in range(50):
            huge.write("word " * (2**20 // 5))
        huge.write('"}\n')
    return files


def test_a_folder_of_broken_files_ingests_what_is_valid_and_keeps_what_was_stored(cli, seed_dir, tmp_path):
    cli("ingest", seed_dir)
    files = write_broken_folder(tmp_path / "broken")
    assert files["huge.jsonl"].stat().st_size > 50 * 10**6

    result = cli("ingest", tmp_path / "broken")

    summary, languages, *skipped = result.stdout.splitlines()
    assert "6 files: 3 added, 0 updated, 0 unchanged, 0 removed, 5 failed" in summary
    assert languages == "  by language: en 3"
    assert "Traceback" not in result.stderr
    for name, line in [("binary.txt", None), ("empty.txt", None), ("no-body.txt", None),
                       ("huge.jsonl", 1), ("mixed.jsonl", 2)]:
        where = f"{files[name]}:{line}:" if line else f"{files[name]}:"
        assert any(where in entry for entry in skipped), f"{name} is reported"
    assert len(skipped) == 5

    answers = json_lines(cli("ask", "--json", stdin=f"{DEMO_QUESTION}\ncocoa arrivals\nsugar quotas\n").stdout)
    assert [[c["story_id"] for c in a["citations"]] for a in answers] == [["960351"], ["5001"], ["j1", "j3"]]
    assert PESKOV in answers[0]["citations"][0]["quote"]
    files["huge.jsonl"].unlink()  # pytest keeps the last runs' tmp_path: do not keep 50 MB there


@pytest.mark.parametrize("env, args", [
    pytest.param({"BM25_VARIANT": "nope"}, ["stats"], id="bm25-variant"),
    pytest.param({"BM25_K1": "fast"}, ["ask", "NATO"], id="bm25-k1"),
    pytest.param({"ADMIN_IDS": "alice"}, ["stats"], id="admin-ids"),
    pytest.param({"TELEGRAM_BOT_TOKEN": "not a token"}, ["stats"], id="token"),
    pytest.param({}, ["ask", "--since", "yesterday", "NATO"], id="since-word"),
    pytest.param({}, ["ask", "--until", "2021-13-45", "NATO"], id="until-impossible-date"),
    pytest.param({}, ["ask", "-k", "0", "NATO"], id="k-zero"),
    pytest.param({}, ["ask", "--lang", "klingon", "NATO"], id="lang-unknown"),
])
def test_a_bad_setting_or_option_is_one_line_and_exit_code_2(cli, env, args):
    result = cli(*args, env=env, expect=2)
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("archive-bot: ")


@pytest.mark.data
def test_reuters_cocoa_question_cites_reuters_1(cli, tmp_path):
    reuters = shared_file("reuters21578.jsonl.gz")
    sample = tmp_path / "reuters-sample.jsonl"
    with gzip.open(reuters, "rt", encoding="utf-8") as source:
        sample.write_text("".join(islice(source, 300)), encoding="utf-8")
    cli("ingest", sample)

    [answer] = json_lines(cli("ask", "--json", "What did Comissaria Smith say about cocoa arrivals in Bahia?").stdout)

    first = answer["citations"][0]
    assert first["story_id"] == "reuters-1"
    body = next(json.loads(line)["body"] for line in sample.open() if '"reuters-1"' in line)
    assert first["quote"] and first["quote"] in body


def test_ingest_reports_languages_and_ask_lang_overrides_detection(cli, seed_dir, tmp_path):
    russian = tmp_path / "ru.jsonl"
    russian.write_text(json.dumps({"id": "r1", "title": "Новости", "date": "2023-09-15", "lang": "ru",
                                   "body": "Банк России поднял ключевую ставку до 13%."}, ensure_ascii=False),
                       encoding="utf-8")
    ingest = cli("ingest", seed_dir, russian)
    assert "by language: en 1, ru 1" in ingest.stdout or "by language: ru 1, en 1" in ingest.stdout
    # "NATO" is read as English unless the question is said to be Russian, where no story names it
    assert json_lines(cli("ask", "--json", "NATO").stdout)[0]["citations"]
    told = json_lines(cli("ask", "--json", "--lang", "russian", "NATO").stdout)[0]
    assert told["kind"] == "never_mentioned" and not told["citations"]
    told = json_lines(cli("ask", "--json", "--lang", "fr", "NATO").stdout)[0]
    assert told["kind"] == "other_language"
