"""``python -m kybernetes.cli``: how supervisors start components with the same interpreter
(behind a start gate when the supervisor gives one: start_gate.py)."""

import sys

from kybernetes.cli.start_gate import wait_at_start_gate

wait_at_start_gate(sys.argv[1:])

from kybernetes.cli.main import main  # noqa: E402

main()
