"""The archive core: reading archives, storing them in SQLite, BM25 search and cited answers.

Nothing here knows about Telegram; `bot` builds on `retrieval.service.ArchiveService`.
"""
