"""The Telegram bot and the `archive-bot` command line, built on `retrieval.service.ArchiveService`."""
