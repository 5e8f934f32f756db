"""Shared helpers for the store suites."""

from __future__ import annotations

import asyncio

from kybernetes.store import Event


async def collect_until(watch, revision: int, timeout: float = 10.0) -> list[Event]:
    """Events from ``watch`` up to and including ``revision`` (fails if it never arrives)."""
    events: list[Event] = []

    async def run() -> None:
        async for event in watch:
            events.append(event)
            if event.revision >= revision:
                return
        raise AssertionError(f"watch ended before revision {revision}; got {events[-3:]}")

    await asyncio.wait_for(run(), timeout)
    return events


def describe(event: Event) -> tuple:
    """What the suite compares: revision, type, key, value, and the previous value."""
    prev = event.prev.value if event.prev is not None else None
    return (event.revision, event.type.value, event.kv.key, event.kv.value, prev)
