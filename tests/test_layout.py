"""The module map of docs/DESIGN.md, held: which room may import which."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

ALLOWED = {  # room -> the rooms of ours it may import (besides itself)
    "text": set(),
    "ingest": {"text", "models"},
    "storage": {"ingest", "text", "models"},
    "bm25": {"text"},
    "answer": {"text", "bm25", "snapshot", "models"},
    "models": set(),
    "headers": {"bm25", "storage"},
    "snapshot": {"text", "bm25", "storage", "models", "headers"},
}


def imports(path: Path) -> set[str]:
    """The modules `path` imports (absolute names)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "retrieval" and len(parts) > 1 else None


@pytest.mark.parametrize("path", sorted((REPO / "bot").glob("*.py")), ids=lambda p: p.name)
def test_bot_imports_retrieval_only_through_its_public_api(path):
    ours = {m for m in imports(path) if m.split(".")[0] == "retrieval"}
    assert ours <= {"retrieval"}, f"{path.name} reaches past retrieval's public API: {sorted(ours)}"
    assert not {m for m in imports(path) if m.startswith("telegram._")}, "a private module of PTB"


@pytest.mark.parametrize("path", sorted((REPO / "retrieval").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO)))
def test_retrieval_rooms_import_down_the_map(path):
    names = imports(path)
    assert not {m for m in names if m.split(".")[0] in ("bot", "telegram")}, "retrieval knows no Telegram"
    own = room("retrieval." + ".".join(path.relative_to(REPO / "retrieval").with_suffix("").parts))
    if own not in ALLOWED:
        return  # the top of the house (service, evaluation, the package itself) may import any room
    reached = {room(m) for m in names if room(m)} - {own}
    assert reached <= ALLOWED[own], f"{own} imports {sorted(reached - ALLOWED[own])}"
