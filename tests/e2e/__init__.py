"""End-to-end tests: a real `kyb up` driven by real clients."""
