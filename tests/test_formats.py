"""Reading archive files: the story text format, JSON Lines (plain and gzip) and CSV."""

from __future__ import annotations

import gzip
import json
import re
import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from retrieval.ingest import formats
from retrieval.ingest.formats import Problem, archive_files, parse_story, read_file
from retrieval.models import Article

SEED_BODY_START = '"We cannot prevent it. It is impossible.'

STORY = """\
 date 2021-10-25 0
Monday 25 October 2021 - 02:51

A Title

Story Code : 42
First paragraph, with words.

Second paragraph.
"""


def read_all(path: Path) -> tuple[list[Article], list[Problem]]:
    records = list(read_file(path))
    assert all(isinstance(r, (Article, Problem)) for r in records)
    return ([r for r in records if isinstance(r, Article)],
            [r for r in records if isinstance(r, Problem)])


def write_jsonl(path: Path, lines: list[str]) -> Path:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def record(number: int, **fields) -> str:
    return json.dumps({"id": f"s{number}", "title": f"Story {number}", "date": "1987-02-26T15:01:01",
                       "body": f"Body of story {number}.", **fields})


# The story text format ------------------------------------------------------------------------


def test_the_seed_story_parses(seed_dir):
    [story], problems = read_all(seed_dir / "960351.txt")
    assert problems == []
    assert story.id == "960351"
    assert story.title == "Moscow Says Cannot Prevent Ukraine from Joining NATO But Can Minimize Its Consequences"
    assert story.date == datetime(2021, 10, 25, 2, 51)
    assert story.body.startswith(SEED_BODY_START)
    assert "Story Code" not in story.body


@pytest.mark.parametrize("text", [
    pytest.param("\ufeff" + STORY, id="bom"),
    pytest.param(STORY.replace("\n", "\r\n"), id="crlf"),
    pytest.param("\ufeff" + STORY.replace("\n", "\r\n"), id="bom-and-crlf"),
    pytest.param(STORY.replace("\n", "\r"), id="old-mac-cr"),
    pytest.param("\n \n" + STORY.replace("\n\nA Title\n\n", "\n\n\n\tA Title \n\n\n") + "\n\n \n",
                 id="extra-blank-lines"),
])
def test_story_text_quirks_do_not_change_the_story(text):
    story = parse_story(text)
    assert (story.id, story.title, story.date) == ("42", "A Title", datetime(2021, 10, 25, 2, 51))
    assert story.body == "First paragraph, with words.\n\nSecond paragraph."


@pytest.mark.parametrize("drop, date", [
    pytest.param(" date 2021-10-25 0\n", datetime(2021, 10, 25, 2, 51), id="no-iso-header"),
    pytest.param("Monday 25 October 2021 - 02:51\n", datetime(2021, 10, 25), id="no-human-date"),
])
def test_a_missing_date_line_falls_back_to_the_other(drop, date):
    story = parse_story(STORY.replace(drop, ""))
    assert (story.id, story.title, story.date) == ("42", "A Title", date)
    assert story.body.startswith("First paragraph")


def test_a_story_without_any_date_line_is_undated():
    story = parse_story(STORY.split("\n", 2)[2])
    assert (story.id, story.title, story.date) == ("42", "A Title", None)


def test_a_story_without_a_title_takes_its_first_words_as_title():
    story = parse_story(STORY.replace("A Title\n\n", ""))
    assert story.id == "42"
    assert story.body == "First paragraph, with words.\n\nSecond paragraph."
    assert story.title == "First paragraph, with words."


def test_a_story_without_a_story_code_takes_its_file_name(tmp_path):
    path = tmp_path / "777001.txt"
    path.write_text(STORY.replace("Story Code : 42\n", ""), encoding="utf-8")
    [story], problems = read_all(path)
    assert problems == []
    assert (story.id, story.title) == ("777001", "A Title")
    assert story.body.startswith("First paragraph")


@pytest.mark.parametrize("title, body", [
    ("Москва заявила, что не может помешать Украине вступить в НАТО",
     "«Мы не можем этому помешать. Это невозможно», — сказал Песков."),
    ("莫斯科称无法阻止乌克兰加入北约", "佩斯科夫说：“我们无法阻止。这是不可能的。”"),
    ("موسكو: لا يمكننا منع أوكرانيا من الانضمام إلى الناتو", "قال بيسكوف: «لا يمكننا منع ذلك»."),
])
def test_non_english_stories_are_read_verbatim(tmp_path, title, body):
    path = tmp_path / "story.txt"
    path.write_text(f" date 2021-10-25 0\n\n{title}\n\nStory Code : 9\n{body}\n", encoding="utf-8")
    [story], problems = read_all(path)
    assert problems == []
    assert (story.id, story.title, story.body) == ("9", title, body)


def test_a_cp1252_file_is_decoded(tmp_path):
    path = tmp_path / "legacy.txt"
    path.write_bytes(STORY.replace("A Title", "Caf\u00e9 d\u00e9j\u00e0 vu").encode("cp1252"))
    [story], _ = read_all(path)
    assert story.title == "Caf\u00e9 d\u00e9j\u00e0 vu"


@pytest.mark.parametrize("content, reason", [
    pytest.param(b"", "empty file", id="empty"),
    pytest.param(b" \n\r\n\t\n", "empty file", id="only-white-space"),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00", "binary data", id="binary"),
    pytest.param(STORY.split("Story Code : 42\n")[0].encode() + b"Story Code : 42\n\n  \n",
                 "no body", id="no-body"),
    pytest.param(b" date 2021-10-25 0\n\n-- *** --\n", "no body", id="no-words"),
])
def test_unusable_story_files_are_reported(tmp_path, content, reason):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    stories, [problem] = read_all(path)
    assert stories == []
    assert problem.path == str(path)
    assert reason in problem.reason


# Property: the story format round-trips --------------------------------------------------------

_LINE = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).map(
    str.strip).filter(bool)
_PARAGRAPH = st.lists(_LINE, min_size=1, max_size=3).map("\n".join)
_CODE = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,11}", fullmatch=True)
_WHEN = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0))
_LOOKS_LIKE_HEADER = re.compile(r"\s*(story\s*code|date\s+\d{4}-\d\d-\d\d|(\w+,?\s+)?\d{1,2}\s+\w+\.?\s+\d{4})",
                                re.IGNORECASE)


def render_story(title: str, when: datetime | None, code: str, paragraphs: list[str],
                 iso_header: bool, human_header: bool) -> str:
    lines = []
    if when and iso_header:
        lines.append(f" date {when:%Y-%m-%d} 0")
    if when and human_header:
        lines.append(f"{when:%A} {when.day} {when:%B %Y} - {when:%H:%M}")
    lines += ["", title, "", f"Story Code : {code}", "\n\n".join(paragraphs), ""]
    return "\n".join(lines)


@given(title=_LINE, when=st.none() | _WHEN, code=_CODE, paragraphs=st.lists(_PARAGRAPH, min_size=1, max_size=4),
       iso_header=st.booleans(), human_header=st.booleans(), crlf=st.booleans(), bom=st.booleans())
def test_any_story_round_trips_through_the_text_format(title, when, code, paragraphs, iso_header,
                                                       human_header, crlf, bom):
    assume(not _LOOKS_LIKE_HEADER.match(title))  # a title shaped like a header line is ambiguous
    assume(any(ch.isalnum() for p in paragraphs for ch in p))
    text = render_story(title, when, code, paragraphs, iso_header, human_header)
    if crlf:
        text = text.replace("\n", "\r\n")
    story = parse_story(("\ufeff" if bom else "") + text, default_id="fallback")
    expected_date = None
    if when and human_header:
        expected_date = when
    elif when and iso_header:
        expected_date = datetime(when.year, when.month, when.day)
    assert story.id == code
    assert story.title == title
    assert story.date == expected_date
    assert story.body == "\n\n".join(paragraphs)


# Property: garbage never raises past the reader ------------------------------------------------

_SUFFIXES = [".txt", ".story", ".jsonl", ".ndjson", ".jsonl.gz", ".csv"]


def read_bytes_as(name: str, content: bytes) -> tuple[list[Article], list[Problem]]:
    """read_all of a file called `name` holding `content` (hypothesis tests cannot use tmp_path)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        return read_all(path)


@pytest.mark.parametrize("suffix", _SUFFIXES)
@given(content=st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_past_read_file(suffix, content):
    assert_stories_or_reported(*read_bytes_as(f"garbage{suffix}", content), f"garbage{suffix}")


@pytest.mark.parametrize("suffix", _SUFFIXES)
@given(text=st.text(max_size=300), compress=st.booleans())
def test_arbitrary_text_never_raises_past_read_file(suffix, text, compress):
    content = text.encode("utf-8", "surrogatepass")
    stories, problems = read_bytes_as(f"garbage{suffix}", gzip.compress(content) if compress else content)
    assert_stories_or_reported(stories, problems, f"garbage{suffix}")


def assert_stories_or_reported(stories: list[Article], problems: list[Problem], name: str) -> None:
    """Every result is a whole story or a problem that names the file and says why."""
    for story in stories:
        assert story.id and story.title is not None and story.body.strip()
    for problem in problems:
        assert problem.path.endswith(name) and problem.reason
        assert problem.line is None or problem.line >= 1


@given(lines=st.lists(st.one_of(
    st.text(max_size=60),
    st.recursive(st.none() | st.booleans() | st.floats() | st.text(max_size=10),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                     st.sampled_from(["id", "title", "date", "body", "url", "source", "x"]), inner,
                     max_size=6)).map(json.dumps),
), max_size=6))
def test_arbitrary_json_lines_yield_stories_or_problems(lines):
    stories, _ = read_bytes_as("records.jsonl", "\n".join(lines).encode("utf-8", "surrogatepass"))
    for story in stories:
        assert story.id and story.body
        story.content_hash()


# JSON Lines ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["stories.jsonl", "stories.jsonl.gz", "stories.ndjson"])
def test_json_lines_are_read_plain_and_gzipped(tmp_path, name):
    path = write_jsonl(tmp_path / name, [
        record(1, url="https://example.com/1", source="Reuters", topics=["cocoa"]),
        "",
        record(2, date="2021-10-25T02:51:00+03:00"),
    ])
    stories, problems = read_all(path)
    assert problems == []
    assert [s.id for s in stories] == ["s1", "s2"]
    first, second = stories
    assert (first.title, first.body, first.url, first.source) == (
        "Story 1", "Body of story 1.", "https://example.com/1", "Reuters")
    assert first.date == datetime(1987, 2, 26, 15, 1, 1)
    assert first.metadata == {"topics": ["cocoa"]}
    assert second.date.utcoffset().total_seconds() == 3 * 3600


@pytest.mark.parametrize("bad_line, reason", [
    pytest.param(record(2)[:-15], "not valid JSON", id="truncated"),
    pytest.param('{"id": "s2", "title": "no body"}', "no body", id="no-body"),
    pytest.param('{"title": "no id", "body": "words"}', "no id", id="no-id"),
    pytest.param('["a", "list"]', "expected an object", id="not-an-object"),
    pytest.param(record(2, date="yesterday"), "ISO 8601", id="bad-date"),
    pytest.param("[" * 100_000, "JSON", id="deeply-nested"),
])
def test_a_bad_json_line_is_reported_with_its_number_and_the_rest_is_read(tmp_path, bad_line, reason):
    path = write_jsonl(tmp_path / "stories.jsonl", [record(1), bad_line, record(3)])
    stories, [problem] = read_all(path)
    assert [s.id for s in stories] == ["s1", "s3"]
    assert (problem.path, problem.line) == (str(path), 2)
    assert reason in problem.reason


def test_a_line_over_the_size_limit_is_skipped_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "MAX_STORY_BYTES", 1000)
    path = write_jsonl(tmp_path / "stories.jsonl", [record(1), record(2, body="word " * 5000), record(3)])
    stories, [problem] = read_all(path)
    assert [s.id for s in stories] == ["s1", "s3"]
    assert problem.line == 2
    assert "longer than" in problem.reason


def test_a_corrupt_gzip_file_is_reported(tmp_path):
    path = tmp_path / "stories.jsonl.gz"
    path.write_bytes(b"this is not gzip at all\n")
    stories, [problem] = read_all(path)
    assert stories == []
    assert "gzip" in problem.reason


def test_a_truncated_gzip_file_keeps_the_stories_before_the_cut(tmp_path):
    path = write_jsonl(tmp_path / "stories.jsonl.gz", [record(n) for n in range(200)])
    path.write_bytes(path.read_bytes()[:-40])
    stories, [problem] = read_all(path)
    assert 0 < len(stories) < 200
    assert [s.id for s in stories] == [f"s{n}" for n in range(len(stories))]
    assert "gzip" in problem.reason


def test_an_empty_json_lines_file_is_reported(tmp_path):
    path = write_jsonl(tmp_path / "empty.jsonl", ["", "  "])
    assert read_all(path) == ([], [Problem(str(path), None, "empty file")])


# CSV -------------------------------------------------------------------------------------------


def test_csv_rows_are_stories(tmp_path):
    path = tmp_path / "stories.csv"
    path.write_text('id,title,date,body,url\n'
                    '1,First,2021-10-25,"One paragraph.\n\nAnother, with a comma.",https://example.com/1\n'
                    '2,,,Second body,\n'
                    '3,No body,2021-10-25,,\n', encoding="utf-8")
    stories, [problem] = read_all(path)
    assert [(s.id, s.title, s.url) for s in stories] == [
        ("1", "First", "https://example.com/1"), ("2", "Second body", None)]
    assert stories[0].body == "One paragraph.\n\nAnother, with a comma."
    assert stories[0].date == datetime(2021, 10, 25)
    assert (problem.line, problem.reason) == (6, "record has no body")  # row 1 spans 3 lines


def test_csv_rows_with_more_fields_than_the_header_keep_them_as_metadata(tmp_path):
    path = tmp_path / "stories.csv"
    path.write_text("id,title,body,lang\n1,T,Some words,en,surplus,fields\n", encoding="utf-8")
    [story], problems = read_all(path)
    assert problems == []
    assert all(isinstance(key, str) for key in story.metadata)
    assert story.metadata["lang"] == "en"
    story.content_hash()  # the store hashes every story it reads


# Walking directories ---------------------------------------------------------------------------


def test_directories_are_walked_in_name_order_and_odd_files_reported(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.txt").write_text(STORY)
    (tmp_path / "a.jsonl").write_text(record(1))
    (tmp_path / ".hidden.txt").write_text(STORY)
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    found = list(archive_files([tmp_path, tmp_path / "missing.txt"]))
    assert found == [
        tmp_path / "a.jsonl",
        tmp_path / "b" / "2.txt",
        Problem(str(tmp_path / "notes.pdf"), None, "unsupported file type"),
        Problem(str(tmp_path / "missing.txt"), None, "no such file or directory"),
    ]
