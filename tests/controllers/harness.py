"""Running one controller against a test apiserver, as the controller-manager would."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from kybernetes.client import SharedInformerFactory
from kybernetes.controllers.base import ControllerContext


@contextlib.asynccontextmanager
async def running_controller(client, controller_class, *, options: dict[str, Any] | None = None,
                             run: bool = True, clock=None, sync_timeout: float = 5):
    """Build ``controller_class`` over shared informers, wait for their sync, and (with ``run``)
    run its workers until the block exits."""
    informers = SharedInformerFactory(client)
    extra = {"clock": clock} if clock is not None else {}
    controller = controller_class(ControllerContext(client, informers, options=options or {}, **extra))
    informers.start()
    assert await informers.wait_for_cache_sync(sync_timeout)
    task = asyncio.create_task(controller.run()) if run else None
    try:
        yield controller
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await informers.shutdown()
