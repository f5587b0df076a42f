"""Fitting the linear models answers use (the quote model), in numpy.

A model scores candidates with `features @ weights`. It is fitted as a conditional logit: per
question, a softmax over its candidates, maximising the mean log-probability of the right ones,
with an L2 penalty, by gradient descent (Adam).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

L2 = 0.01
STEPS = 3000
RATE = 0.05
FOLDS = 5


@dataclass(frozen=True)
class Group:
    """One question's candidates (a row of features each) and which of them are right."""

    features: np.ndarray
    right: np.ndarray  # bool


def fit(groups: Sequence[Group], l2: float = L2, steps: int = STEPS, rate: float = RATE) -> np.ndarray:
    """The weights that maximise the mean log-probability of the right candidates."""
    weights = np.zeros(groups[0].features.shape[1])
    moment, scale = np.zeros_like(weights), np.zeros_like(weights)
    for step in range(1, steps + 1):
        gradient = 2 * l2 * weights
        for group in groups:
            p = _softmax(group.features @ weights)
            q = p * group.right / (p * group.right).sum()
            gradient += group.features.T @ (p - q) / len(groups)
        moment = 0.9 * moment + 0.1 * gradient
        scale = 0.999 * scale + 0.001 * gradient ** 2
        weights -= rate * (moment / (1 - 0.9 ** step)) / (np.sqrt(scale / (1 - 0.999 ** step)) + 1e-8)
    return weights


def accuracy(groups: Sequence[Group], weights: np.ndarray) -> float:
    """The share of questions whose best-scored candidate is right."""
    return float(np.mean([g.right[int(np.argmax(g.features @ weights))] for g in groups]))


def cross_validated(groups: Sequence[Group]) -> float:
    """`accuracy` on each of FOLDS folds of the questions with weights fitted on the others."""
    hits = 0.0
    for fold in range(FOLDS):
        train = [g for i, g in enumerate(groups) if i % FOLDS != fold]
        held = [g for i, g in enumerate(groups) if i % FOLDS == fold]
        hits += accuracy(held, fit(train)) * len(held)
    return hits / len(groups)


def _softmax(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max())
    return e / e.sum()
