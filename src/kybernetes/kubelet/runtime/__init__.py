"""Container runtimes behind CRI's shape: protocol.py (the calls), fake.py (simulated nodes)."""
