"""Rendering citations: the copies folded into a citation are named under it."""

from __future__ import annotations

from datetime import datetime

from bot.render import render_answer, render_text
from retrieval.models import Answer, Citation


def answer(*copies: str) -> Answer:
    citation = Citation("reuters-175", "Banks Express Grave Concern", datetime(1987, 2, 26),
                        "Brazil froze credit lines.", 1.0, copies=copies)
    return Answer("Brazil credit?", [citation], 1.0)


def test_copies_are_named_under_the_citation():
    assert "Also filed as story reuters-190" in render_answer(answer("reuters-190"))[0]
    assert "Also filed as stories reuters-190, reuters-3542" in render_text(answer("reuters-190", "reuters-3542"))


def test_a_citation_without_copies_has_no_copies_line():
    assert "Also filed" not in render_answer(answer())[0]
    assert "Also filed" not in render_text(answer())
