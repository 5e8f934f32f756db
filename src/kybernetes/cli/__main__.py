"""``python -m kybernetes.cli``: how supervisors start components with the same interpreter."""

from kybernetes.cli.main import main

main()
