"""Questions remembered for the "More" button: Telegram's callback data holds 64 bytes, so the
button carries a short key and the question stays here, the most recent ones kept."""

from __future__ import annotations

import secrets
from collections import OrderedDict


class QuestionMemory:
    """A bounded map from short keys to question texts; old keys are forgotten."""

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self._questions: OrderedDict[str, str] = OrderedDict()

    def remember(self, question: str) -> str:
        key = secrets.token_urlsafe(6)
        self._questions[key] = question
        if len(self._questions) > self.capacity:
            self._questions.popitem(last=False)
        return key

    def recall(self, key: str) -> str | None:
        question = self._questions.get(key)
        if question is not None:
            self._questions.move_to_end(key)
        return question
