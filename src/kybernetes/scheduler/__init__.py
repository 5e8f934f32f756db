"""The scheduler: assigns a node to every pod without one (framework, queue, plugins, binder)."""
