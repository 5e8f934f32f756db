"""Backoff: doubling, capped, reset, jitter only ever lengthens."""

from __future__ import annotations

import random

import pytest

from kybernetes.util.backoff import Backoff


def test_doubles_to_the_cap_and_resets():
    b = Backoff(initial=1, maximum=5)
    assert [b.next_delay() for _ in range(5)] == [1, 2, 4, 5, 5]
    b.reset()
    assert b.next_delay() == 1


def test_jitter_stays_within_bounds():
    b = Backoff(initial=1, maximum=100, jitter=0.5, rng=random.Random(7))
    for expected in (1, 2, 4, 8):
        delay = b.next_delay()
        assert expected <= delay <= expected * 1.5


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError):
        Backoff(initial=-1)
    with pytest.raises(ValueError):
        Backoff(factor=0.5)
