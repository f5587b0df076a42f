"""Storage: the archive's SQLite file (store: connections, migrations, the ingest's writes, reads,
the question log) and copies of it (backup). The only room that speaks SQL."""
