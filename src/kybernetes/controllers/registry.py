"""The controllers the controller-manager runs, by name (as `--controllers` names them)."""

from __future__ import annotations

from kybernetes.controllers.base import Controller

CONTROLLERS: dict[str, type[Controller]] = {}
