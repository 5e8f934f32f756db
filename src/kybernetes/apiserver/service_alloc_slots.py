"""Picking free slots (cluster IPs, node ports) of a range whose taken slots are store records.

A requested slot is claimed as it is, or refused ("provided IP is already allocated", "... is not
in the valid range ..."). A slot for "any" is drawn at random from the dynamic band (above the
static band, see service_alloc_ranges.py) and claimed; random draws keep concurrent creates of
several apiservers from fighting over the same next slot. After a few lost draws (a crowded
range) the taken slots are read once and the free ones tried in random order; the static band is
used only when the dynamic one is full; nothing left is "range is full".

Dry runs claim nothing: they check the slot is free and report what a real run would take.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

from kybernetes.apiserver.service_alloc_ranges import NodePortRange, ServiceIPRange, canonical_ip
from kybernetes.apiserver.service_alloc_records import Owner, Records

_RANDOM_DRAWS = 8
# Bands larger than this are never scanned (an IPv6 /64): random draws always find room there.
_MAX_SCAN = 1 << 20


class AllocationError(Exception):
    """A slot could not be had; the message is the real allocator's wording."""


class Slots(Protocol):
    size: int
    static_size: int

    def slot(self, offset: int): ...

    def offset(self, slot) -> int | None: ...

    def not_in_range(self, slot) -> str: ...

    already_allocated: str


@dataclass(frozen=True)
class IPSlots:
    rng: ServiceIPRange
    already_allocated = "provided IP is already allocated"

    @property
    def size(self) -> int:
        return self.rng.size

    @property
    def static_size(self) -> int:
        return self.rng.static_size

    def slot(self, offset: int) -> str:
        return self.rng.address(offset)

    def offset(self, slot) -> int | None:
        ip = canonical_ip(str(slot))
        return self.rng.offset_of(ip) if ip else None

    def not_in_range(self, slot) -> str:
        return f"the provided IP ({slot}) is not in the valid range. The range of valid IPs is {self.rng.network}"


@dataclass(frozen=True)
class PortSlots:
    rng: NodePortRange
    already_allocated = "provided port is already allocated"

    @property
    def size(self) -> int:
        return self.rng.size

    @property
    def static_size(self) -> int:
        return self.rng.static_size

    def slot(self, offset: int) -> int:
        return self.rng.base + offset

    def offset(self, slot) -> int | None:
        return slot - self.rng.base if isinstance(slot, int) and self.rng.contains(slot) else None

    def not_in_range(self, slot) -> str:
        return f"provided port is not in the valid range. The range of valid ports is {self.rng}"


class SlotAllocator:
    def __init__(self, slots: Slots, records: Records, rand: random.Random | None = None):
        self.slots = slots
        self.records = records
        self.random = rand or random.SystemRandom()

    def contains(self, slot) -> bool:
        return self.slots.offset(slot) is not None

    async def allocate(self, slot, owner: Owner, *, dry_run: bool = False) -> bool:
        """Claim ``slot`` for ``owner``. True: claimed now; False: ``owner`` held it already."""
        if self.slots.offset(slot) is None:
            raise AllocationError(self.slots.not_in_range(slot))
        for _ in range(3):
            if dry_run:
                record = await self.records.lookup(slot)
                if record is None:
                    return True
            elif await self.records.claim(slot, owner):
                return True
            else:
                record = await self.records.lookup(slot)
                if record is None:
                    continue  # released between the two reads: try again
            if record.owner == owner:
                return False
            raise AllocationError(self.slots.already_allocated)
        raise AllocationError(self.slots.already_allocated)

    async def allocate_next(self, owner: Owner, *, dry_run: bool = False):
        """Claim some free slot, preferring the dynamic band; returns it."""
        size, static = self.slots.size, self.slots.static_size
        bands = [(static, size), (0, static)] if size > static else [(0, size)]
        for low, high in bands:
            if high <= low:
                continue
            for _ in range(_RANDOM_DRAWS if high - low <= _MAX_SCAN else 64):
                slot = self.slots.slot(self.random.randrange(low, high))
                if await self._try(slot, owner, dry_run):
                    return slot
            if high - low > _MAX_SCAN:
                continue
            taken = {r.slot for r in await self.records.list()}
            free = [o for o in range(low, high) if self.slots.slot(o) not in taken]
            self.random.shuffle(free)
            for offset in free:
                slot = self.slots.slot(offset)
                if await self._try(slot, owner, dry_run):
                    return slot
        raise AllocationError("range is full")

    async def _try(self, slot, owner: Owner, dry_run: bool) -> bool:
        if dry_run:
            return await self.records.lookup(slot) is None
        return await self.records.claim(slot, owner)

    async def release(self, slot, owner: Owner) -> bool:
        return await self.records.release(slot, owner)
