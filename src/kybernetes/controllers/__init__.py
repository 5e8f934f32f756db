"""Controllers: each drives one kind of object towards its spec (base.py has the shape,
manager.py runs them together, registry.py lists them)."""
