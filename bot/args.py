"""The command line's parser: argparse, telling a mistyped command or option what was meant
("invalid choice: 'aks'; did you mean 'ask'?"), as Python 3.14's `suggest_on_error` does (the
project runs on 3.11)."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Iterable, Sequence
from typing import Any


class SuggestingParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors name the closest command or option to a mistyped one.
    Its commands (`add_subparsers(dest="command_name")`) are parsers of the same kind."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.options: list[str] = []  # before argparse adds -h/--help
        self.commands: argparse.Action | None = None
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        self.options.extend(action.option_strings)
        return action

    def add_subparsers(self, **kwargs: Any) -> Any:
        self.commands = super().add_subparsers(**kwargs)
        return self.commands

    def _check_value(self, action: argparse.Action, value: object) -> None:
        # where argparse refuses a value outside `choices` (a command, for one); 3.14 suggests here too
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as error:
            hint = closest(str(value), action.choices or ())
            if hint is None:
                raise
            raise argparse.ArgumentError(action, f"{error.message}; did you mean {hint!r}?") from None

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        """As argparse's own, but each unrecognized argument is followed by the closest option
        of the command it was given to, and the error comes from that command's parser (with
        its usage line)."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = self.commands.choices.get(getattr(parsed, "command_name", None), self) \
                if self.commands else self
            parser.error("unrecognized arguments: " + " ".join(map(parser.with_hint, extras)))
        return parsed

    def with_hint(self, argument: str) -> str:
        """`argument`, and the option it misspells if it looks like one of this parser's."""
        hint = closest(argument, self.options) if argument.startswith("-") else None
        return f"{argument} (did you mean {hint}?)" if hint else argument


def closest(word: str, choices: Iterable[object]) -> str | None:
    """The choice `word` most likely misspells, if one is close enough (difflib's ratio >= 0.6)."""
    matches = difflib.get_close_matches(word, [str(c) for c in choices], n=1)
    return matches[0] if matches else None
