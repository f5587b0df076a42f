"""Answering: a question parsed into a `Query` (query), passages grouped into ranked stories with
copies told apart (ranking, over the word shingles of shingles), and the sentences quoted from
each (quotes); the stories that mention a subject, counted per period (timeline)."""
