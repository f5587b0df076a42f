"""Shared fixtures: the shipped seeds, a temporary archive file, an archive with the seeds in it.

Hypothesis runs one fixed profile everywhere: derandomized (the same examples on every run), no
example database, and no deadline (tests never carry a time limit).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import settings

from retrieval.service import ArchiveService

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ARCHIVE_BOT_SHARED_DATA", REPO.parent / "shared" / "data"))
"""The evaluation data kept beside the project (never copied into it): Reuters, news-dev, news-ml-dev."""

settings.register_profile("archive-bot", derandomize=True, database=None, deadline=None,
                          max_examples=100, print_blob=True)
settings.load_profile("archive-bot")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "data: reads the shared data (ARCHIVE_BOT_SHARED_DATA, default ../shared/data);"
        " skipped when absent, failed when absent under CI=true; deselect with -m 'not data'")


def shared_file(name: str) -> Path:
    """A file of the shared evaluation data. Absent, the test is skipped with the path it looked
    at, or fails under CI=true: there the data must be, and a quality guard must not turn itself off."""
    path = SHARED_DATA / name
    if not path.exists():
        message = f"shared data absent: {path} (set ARCHIVE_BOT_SHARED_DATA)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    """The archive shipped with the project (one story, 960351)."""
    return REPO / "seeds"


@pytest.fixture
def tmp_db(tmp_path: Path) -> Path:
    """A path for a fresh SQLite archive file (not created yet)."""
    return tmp_path / "archive.sqlite"


@pytest.fixture
async def archive(tmp_db: Path, seed_dir: Path):
    """An ArchiveService on a temporary file, with the seeds ingested."""
    service = await ArchiveService.open(tmp_db)
    await service.ingest([seed_dir])
    yield service
    await service.close()


@pytest.fixture
async def api():
    """The test Bot API server on 127.0.0.1, for the end-to-end tests (`fakebotapi`)."""
    from fakebotapi import BotAPIServer

    server = BotAPIServer(username="ArchiveBot")
    await server.start()
    yield server
    await server.stop()


async def add_story(service: ArchiveService, folder: Path, story_id: str, title: str, day: str, body: str) -> None:
    """Ingest one story into `service`, as a JSON Lines record in a file of its own in `folder`."""
    await add_stories(service, folder, story_id, [{"id": story_id, "title": title, "date": day, "body": body}])


async def add_stories(service: ArchiveService, folder: Path, name: str, stories: list[dict]) -> None:
    """Ingest `stories` (JSON Lines records) into `service`, from the file `name`.jsonl in `folder`."""
    path = folder / f"{name}.jsonl"
    path.write_text("\n".join(json.dumps(story, ensure_ascii=False) for story in stories), encoding="utf-8")
    await service.ingest([path])
