"""The node agent: runs the pods bound to its node through a CRI-shaped runtime (real runc, or the fake runtime of simulated nodes)."""
