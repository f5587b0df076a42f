"""The archive core: reading archives, storing them in SQLite, BM25 search and cited answers.

Nothing here knows about Telegram. This module is the public API: `bot` and the command line
import from here only. The rooms behind it follow the data flow of docs/DESIGN.md:

- `text`: analysis (tokens, stems, stopwords) and sentence and passage boundaries;
- `ingest`: archive file formats and turning stories into analyzed passages;
- `storage`: the SQLite file (the store), its backups, and the inbox of updates beside it;
- `bm25`: postings, the exact BM25 index and the compiled loops that build and search them;
- `answer`: parsing questions, ranking stories, telling copies apart, choosing quotes;
- at the top: `models` (the values that flow), `snapshot` (the index in service), `service`
  (open, ingest, answer) and `evaluation` (answer quality).

Example:

    service = await ArchiveService.open("data/archive.sqlite")
    await service.ingest(["seeds/"])
    answer = await service.ask("Can Russia stop Ukraine joining NATO?")
    print(answer.kind, [c.quote for c in answer.citations])
    timeline = await service.timeline("NATO")  # stories mentioning it, per week, month or year
    print(timeline.unit, [(p.start, p.stories) for p in timeline.periods])
"""

from retrieval.answer.query import DateError, parse_date_option
from retrieval.bm25.index import VARIANTS, BM25Params
from retrieval.ingest.formats import SUFFIXES, Problem, read_file
from retrieval.models import Answer, AnswerKind, Article, Citation, Period, StoryRecord, Timeline
from retrieval.service import ArchiveService, ReloadInProgress, RetrievalSettings
from retrieval.storage.backup import BackupError, FileCheck
from retrieval.storage.backup import backup as backup_archive
from retrieval.storage.backup import check as check_archive
from retrieval.storage.backup import restore as restore_archive
from retrieval.storage.inbox import Inbox, InboxCounts, InboxRow, inbox_path
from retrieval.ingest.ledger import IngestReport, Progress
from retrieval.messages import long_date, say
from retrieval.storage.schema import ArchiveError
from retrieval.text.languages import language_code, right_to_left
from retrieval.text.sentences import paragraph_spans

__all__ = [
    "VARIANTS", "SUFFIXES",
    "Answer", "AnswerKind", "ArchiveError", "ArchiveService", "Article", "BM25Params", "BackupError",
    "Citation", "DateError", "FileCheck", "Inbox", "InboxCounts", "InboxRow", "IngestReport", "Period", "Problem",
    "Progress", "ReloadInProgress", "RetrievalSettings", "StoryRecord", "Timeline",
    "backup_archive", "check_archive", "inbox_path", "language_code", "long_date", "paragraph_spans", "parse_date_option",
    "read_file", "restore_archive", "right_to_left", "say",
]
