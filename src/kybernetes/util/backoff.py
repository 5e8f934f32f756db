"""Exponential backoff with a cap and optional jitter.

Every retry loop (REST retries, a reflector re-watching, leader election after an error) asks a
``Backoff`` for its next delay and sleeps it on its Clock; a success calls ``reset()``. Jitter
spreads many clients that failed together (an apiserver restart) so they do not all come back in
the same instant.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# One generator for every Backoff that isn't given its own: seeding a new Random reads the OS's
# entropy (~0.2 ms), and the REST client makes a Backoff for every request it sends.
_SHARED_RNG = random.Random()


@dataclass
class Backoff:
    initial: float = 0.8
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.0  # 0.1 = up to 10 % longer, chosen at random
    rng: random.Random = field(default_factory=lambda: _SHARED_RNG, repr=False)
    attempts: int = 0

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < 0 or self.factor < 1 or self.jitter < 0:
            raise ValueError("backoff needs initial >= 0, maximum >= 0, factor >= 1, jitter >= 0")

    def peek(self) -> float:
        """The delay the next call to ``next_delay`` will return, without jitter."""
        return min(self.maximum, self.initial * self.factor ** self.attempts)

    def next_delay(self) -> float:
        delay = self.peek()
        self.attempts += 1
        if self.jitter:
            delay += delay * self.jitter * self.rng.random()
        return delay

    def reset(self) -> None:
        self.attempts = 0
