"""The webhook configurations, kept current from the store: a list, then a watch.

    start(): list /registry/admissionregistration.k8s.io/ at revision R ─► parsed webhooks
             watch the prefix after R ─► each event re-parses one configuration
    webhooks(mutating) ─► the sorted webhooks of every configuration of that kind

The watch follows every apiserver's writes (several can share an etcd). A write made through
this apiserver must also count for the very next request, before its watch event has arrived:
the admission plugins call ``note_change()`` when they admit a configuration write, and for a
short while after that each lookup re-lists from the store instead of trusting the watch. The
snapshot with the newer revision always wins, so a slow list never undoes a newer event.

Without ``start()`` (an ObjectStore used outside a server) every lookup lists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from kybernetes.apiserver import codec, keys
from kybernetes.apiserver.webhook_config import (
    GROUP,
    MUTATING_RESOURCE,
    VALIDATING_RESOURCE,
    Webhook,
    parse_configuration,
)
from kybernetes.store import EventType, StoreError

log = logging.getLogger(__name__)

PREFIX = f"{keys.ROOT}{GROUP}/"
_MUTATING_PREFIX = f"{PREFIX}{MUTATING_RESOURCE}/"
_VALIDATING_PREFIX = f"{PREFIX}{VALIDATING_RESOURCE}/"
# How long after a local configuration write lookups re-list rather than trust the watch.
FRESHNESS_WINDOW_SECONDS = 2.0
_RETRY_SECONDS = 0.5


def _kind_of_key(key: str) -> bool | None:
    """True for a mutating configuration key, False for a validating one, None otherwise."""
    if key.startswith(_MUTATING_PREFIX):
        return True
    if key.startswith(_VALIDATING_PREFIX):
        return False
    return None


class WebhookSource:
    def __init__(self, store: Any):
        self._store = store
        self._configs: dict[str, list[Webhook]] = {}  # store key -> its webhooks
        self._revision = 0
        self._sorted: dict[bool, list[Webhook]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._watching = False
        self._relist_until = 0.0

    # -- lookups -------------------------------------------------------------------------------

    async def webhooks(self, mutating: bool) -> list[Webhook]:
        if not self._watching or time.monotonic() < self._relist_until:
            await self._relist()
        if self._sorted is None:
            self._sorted = {True: [], False: []}
            for key in sorted(self._configs):  # key order is configuration name order
                hooks = self._configs[key]
                if hooks:
                    self._sorted[hooks[0].mutating].extend(hooks)
        return self._sorted[mutating]

    def note_change(self) -> None:
        self._relist_until = time.monotonic() + FRESHNESS_WINDOW_SECONDS

    # -- keeping current -----------------------------------------------------------------------

    async def _relist(self) -> int:
        result = await self._store.list(PREFIX)
        if result.revision < self._revision:
            return self._revision  # the watch already knows a newer state
        configs: dict[str, list[Webhook]] = {}
        for kv in result.items:
            mutating = _kind_of_key(kv.key)
            if mutating is not None:
                configs[kv.key] = self._parse(kv, mutating)
        self._configs = configs
        self._revision = result.revision
        self._sorted = None
        return result.revision

    @staticmethod
    def _parse(kv: Any, mutating: bool) -> list[Webhook]:
        try:
            return parse_configuration(codec.decode(kv), mutating)
        except (ValueError, TypeError, AttributeError):
            log.warning("ignoring a malformed webhook configuration at %s", kv.key)
            return []

    def _apply(self, event: Any) -> None:
        if event.revision <= self._revision:
            return
        self._revision = event.revision
        mutating = _kind_of_key(event.kv.key)
        if mutating is None:
            return
        if event.type == EventType.DELETE:
            self._configs.pop(event.kv.key, None)
        else:
            self._configs[event.kv.key] = self._parse(event.kv, mutating)
        self._sorted = None

    async def start(self) -> None:
        if self._task is None:
            await self._relist()
            self._task = asyncio.create_task(self._follow(), name="webhook-configurations")

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._watching = False
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _follow(self) -> None:
        while True:
            watch = None
            try:
                watch = self._store.watch(PREFIX, self._revision)
                self._watching = True
                async for event in watch:
                    self._apply(event)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - any failure: list again and watch anew
                log.info("webhook configuration watch ended (%s); listing again", e)
            finally:
                self._watching = False
                if watch is not None:
                    with contextlib.suppress(Exception):
                        await watch.close()
            await asyncio.sleep(_RETRY_SECONDS)
            with contextlib.suppress(StoreError, OSError):
                await self._relist()
