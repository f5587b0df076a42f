"""Turning an `Answer` into what people read: Telegram HTML, or plain text for the terminal."""

from __future__ import annotations

from datetime import datetime

from retrieval.models import Answer, Citation


def format_date(value: datetime | None) -> str:
    """25 October 2021, or "undated"."""
    return f"{value.day} {value:%B %Y}" if value else "undated"


def citation_source(citation: Citation) -> str:
    """Title — date — story code, as plain text."""
    return f"{citation.title} — {format_date(citation.date)} — story {citation.story_id}"


def render_text(answer: Answer, first_number: int = 1) -> str:
    """The answer for a terminal: numbered quotes, each with its source line."""
    if not answer.citations:
        return answer.message or "Nothing relevant found."
    blocks = []
    for number, citation in enumerate(answer.citations, first_number):
        lines = [f"{number}. «{citation.quote}»", f"   {citation_source(citation)}"]
        if citation.url:
            lines.append(f"   {citation.url}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
