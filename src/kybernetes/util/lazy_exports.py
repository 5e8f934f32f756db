"""Package names resolved on first use (PEP 562), so importing one light submodule of a package
doesn't import its heavy siblings: `kyb up`'s supervisor reads kubeconfigs and DNS options
without loading aiohttp through kybernetes.client or kybernetes.dns."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, where: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``where`` maps an exported name to the submodule
    defining it; the first lookup imports it and caches the value in ``namespace``."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    return __getattr__
