"""A pod's priority: spec.priority, or the value of its PriorityClass.

The apiserver's Priority admission writes spec.priority only for pods without a
priorityClassName (they get 0); a pod that names a class arrives without one, so the scheduler
resolves the class itself from a PriorityClass informer. The two built-in classes exist even
when nobody created them; an unknown class counts as the globalDefault class (or 0).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SYSTEM_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}

Obj = dict[str, Any]


class PriorityResolver:
    def __init__(self, classes: Callable[[], list[Obj]] | None = None, get: Callable[[str], Obj | None] | None = None):
        self._classes = classes or (lambda: [])
        self._get = get or (lambda name: next((c for c in self._classes()
                                                if (c.get("metadata") or {}).get("name") == name), None))

    def resolve(self, pod: Obj) -> tuple[int, str | None]:
        """(priority, preemptionPolicy or None for the pod's own/default)."""
        spec = pod.get("spec") or {}
        priority = spec.get("priority")
        if isinstance(priority, int) and not isinstance(priority, bool):
            return priority, None
        name = spec.get("priorityClassName") or ""
        klass = self._get(name) if name else None
        if klass is None and name in SYSTEM_CLASSES:
            return SYSTEM_CLASSES[name], None
        if klass is None:
            klass = next((c for c in self._classes() if c.get("globalDefault")), None)
        if klass is None:
            return 0, None
        return int(klass.get("value") or 0), klass.get("preemptionPolicy")
