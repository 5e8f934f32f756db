"""docs/configuration.md is generated from click's command tree and must match it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_cli_reference", ROOT / "tools" / "gen_cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_reference_is_up_to_date():
    generated = _generator().render()
    on_disk = (ROOT / "docs" / "configuration.md").read_text()
    assert on_disk == generated, "docs/configuration.md is stale: run .venv/bin/python tools/gen_cli_reference.py"


def test_reference_lists_every_command_and_flag():
    from kybernetes.cli.main import cli

    text = _generator().render()
    for name, command in cli.all_commands().items():
        assert f"## `kyb {name}`" in text
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("-") and not getattr(param, "hidden", False):
                    assert f"`{opt}`" in text, f"kyb {name} {opt}"
