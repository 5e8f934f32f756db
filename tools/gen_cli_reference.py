"""Write docs/configuration.md: every flag of every ``kyb`` command, from click's command tree.

    python tools/gen_cli_reference.py            # rewrite docs/configuration.md
    python tools/gen_cli_reference.py --check    # exit 1 when the file is out of date

The page is generated so that it cannot drift from the code: tests/cli/test_configuration_doc.py
runs ``render()`` and compares it with the checked-in file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kybernetes.cli.main import cli

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"

HEADER = """# Configuration reference

Every flag of every `kyb` command. This page is generated from the commands themselves by
`tools/gen_cli_reference.py` (a test fails when it is out of date); edit the flags' help text in
`src/kybernetes/cli/`, then run `.venv/bin/python tools/gen_cli_reference.py`.

"""


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    ctx = click.Context(group, info_name=prefix)
    out = []
    for name in sorted(group.list_commands(ctx)):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        out.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            out += _commands(command, f"{prefix} {name}")
    return out


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _option_row(param: click.Option) -> str:
    names = ", ".join(f"`{n}`" for n in [*param.opts, *param.secondary_opts])
    if param.is_flag:
        kind = "flag"
    elif isinstance(param.type, click.Choice):
        kind = " | ".join(param.type.choices)
    else:
        kind = param.metavar or param.type.name.upper()
    if param.multiple:
        kind += " (repeatable)"
    default = ""
    if param.show_default and param.default not in (None, "", (), False):
        default = f"`{param.default}`"
    return f"| {names} | {_cell(kind)} | {default} | {_cell(param.help or '')} |"


def render() -> str:
    parts = [HEADER]
    for path, command in _commands(cli, "kyb"):
        parts.append(f"## `{path}`\n\n{_cell(command.help or command.short_help or '')}\n")
        arguments = [p for p in command.params if isinstance(p, click.Argument)]
        if arguments:
            parts.append("Arguments: " + ", ".join(f"`{a.human_readable_name}`" for a in arguments) + "\n")
        options = [p for p in command.params if isinstance(p, click.Option) and not p.hidden]
        if options:
            parts.append("| flag | value | default | meaning |\n|---|---|---|---|")
            parts.append("\n".join(_option_row(o) for o in options) + "\n")
    return "\n".join(parts)


def main() -> int:
    text = render()
    if "--check" in sys.argv[1:]:
        if not DOC.exists() or DOC.read_text() != text:
            print(f"{DOC} is out of date: run python tools/gen_cli_reference.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
