"""Deterministic, sticky assignment of a customer to an experiment's variant.

A customer's bucket is SHA-256 of ``(tenant id, experiment name, customer id)`` read as a
number in [0, 1); the variants split [0, 1) by their shares in the order the config lists
them. Nothing is stored and nothing random is drawn, so precomputed and online lists, every
worker and every restart give one customer the same variant, and two experiments (different
names) assign independently. Customers without personalization consent get the control and
are marked ``consented = False`` (their outcomes are counted apart).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tailorcrm.experiments.config import Experiment, Variant

_SCALE = float(2**64)


@dataclass(frozen=True)
class Assignment:
    """A customer's arm of one experiment, and whether they consented to personalization."""

    experiment: str
    variant: Variant
    consented: bool


def bucket(tid: int, experiment: str, customer_id: str) -> float:
    """The customer's point in [0, 1) for ``experiment`` (64 bits of SHA-256)."""
    digest = hashlib.sha256(f"{tid}\x1f{experiment}\x1f{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def pick(experiment: Experiment, point: float) -> Variant:
    """The variant whose slice of [0, 1) holds ``point``."""
    edge = 0.0
    for variant in experiment.variants:
        edge += variant.share
        if point < edge:
            return variant
    return experiment.variants[-1]  # shares sum to 1 within rounding


def assign(experiment: Experiment, tid: int, customer_id: str, *,
           consented: bool = True) -> Assignment:
    """The customer's variant: the control without consent, else their bucket's variant."""
    if not consented:
        return Assignment(experiment.name, experiment.control, False)
    return Assignment(experiment.name, pick(experiment, bucket(tid, experiment.name,
                                                               customer_id)), True)
