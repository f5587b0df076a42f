"""Storage: the archive's SQLite file (store: connections, migrations, the ingest's writes, reads,
the question log), copies of it (backup), and the inbox file beside it (updates until answered).
The only room that speaks SQL."""
