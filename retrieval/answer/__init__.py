"""Answering: a question parsed into a `Query` (query), passages grouped into ranked stories with
copies told apart (ranking), and the sentences quoted from each (quotes)."""
