"""Faults the server can inject, and the Telegram error answers its methods raise.

A :class:`Fault` is one misbehaviour of the network or of Telegram (429, 500, a malformed body, a
slow answer, a dropped connection); :class:`FaultPlan` decides which call gets which: one-off
injections first, then random faults at set rates.  :class:`ApiError` is a regular Telegram
error answer (``{"ok": false, ...}``), raised by the method implementations.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]


@dataclass(frozen=True)
class Fault:
    """A fault to inject.  ``kind`` is one of "429", "500", "malformed", "slow", "drop".

    Build them with the class methods: ``Fault.retry_after(3)``, ``Fault.server_error()``,
    ``Fault.malformed()``, ``Fault.slow(2.0)``, ``Fault.drop()``.
    """

    kind: str
    seconds: float = 0

    @classmethod
    def retry_after(cls, seconds: int) -> Fault:
        """HTTP 429 with ``parameters.retry_after``; the call does not take effect."""
        return cls("429", int(seconds))

    @classmethod
    def server_error(cls) -> Fault:
        """HTTP 500 with a Telegram-style error body; the call does not take effect."""
        return cls("500")

    @classmethod
    def malformed(cls) -> Fault:
        """HTTP 200 with a body that is not JSON; the call does not take effect."""
        return cls("malformed")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally after ``seconds``; the call does take effect (even if the client left)."""
        return cls("slow", seconds)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without an answer; the call does not take effect."""
        return cls("drop")


FAULT_KINDS = ("429", "500", "malformed", "slow", "drop")
_FAULT_ALIASES = {"retry_after": "429", "server_error": "500"}


@dataclass
class _Injection:
    fault: Fault
    method: str | None
    remaining: int


class FaultPlan:
    """Which call gets which fault: injections in the order given, else a random draw."""

    def __init__(self) -> None:
        self._injections: list[_Injection] = []
        self._rates: dict[str, float] = {}
        self._rate_methods: set[str] | None = None
        self._rng = random.Random(0)
        self._rate_retry_after = 1
        self._rate_slow_seconds = 1.0

    def inject(self, fault: Fault, method: str | None, times: int) -> None:
        """Give the next ``times`` calls (to ``method``, or to any method) ``fault``."""
        self._injections.append(_Injection(fault, method, times))

    def set_rates(self, rates: dict[str, float], rng_seed: int, methods: set[str] | None,
                  retry_after: int, slow_seconds: float) -> None:
        """Fault each call (to one of ``methods``, or any) at random with the given probabilities."""
        self._rates = {_FAULT_ALIASES.get(k, k): v for k, v in rates.items()}
        unknown = set(self._rates) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}")
        self._rng = random.Random(rng_seed)
        self._rate_methods = methods
        self._rate_retry_after, self._rate_slow_seconds = retry_after, slow_seconds

    def next_fault(self, method: str) -> Fault | None:
        """The fault for the call to ``method`` arriving now, or None."""
        for injection in self._injections:
            if injection.method in (None, method):
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self._injections.remove(injection)
                return injection.fault
        if not self._rates or (self._rate_methods is not None and method not in self._rate_methods):
            return None
        draw = self._rng.random()
        for kind, rate in self._rates.items():
            if draw < rate:
                delays = {"slow": self._rate_slow_seconds, "429": self._rate_retry_after}
                return Fault(kind, delays.get(kind, 0))
            draw -= rate
        return None


class ApiError(Exception):
    """A Telegram error answer: ``{"ok": false, "error_code": code, "description": ...}``."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")
