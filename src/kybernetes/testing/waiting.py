"""Waiting for a condition in tests, in real time, with a deadline and a readable failure."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


async def eventually(condition: Callable[[], Any], timeout: float = 5.0, what: str = "",
                     interval: float = 0.01) -> Any:
    """Poll ``condition`` (a plain or an async function) until it returns something truthy, and
    return that; AssertionError naming ``what`` (default: the function's name) after ``timeout``
    seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            name = what or getattr(condition, "__name__", "condition")
            raise AssertionError(f"timed out after {timeout} s waiting for {name}")
        await asyncio.sleep(interval)
