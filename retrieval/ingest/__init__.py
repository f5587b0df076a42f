"""Ingest: reading archive files (formats: story files, JSON Lines, CSV) into `Article`s, splitting
and analyzing them into passages (intake, on worker processes), ready for the store to write."""
