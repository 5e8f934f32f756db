"""Pure API data and functions, no I/O: the kinds registry, errors <-> Status, selectors,
validation and defaulting, table columns. Every package may import it; it imports nothing of
ours (enforced by import-linter)."""
