"""Kybernetes: Kubernetes, written in Python.

The package is laid out as the architecture (docs/architecture.md): ``api`` holds pure data and
functions, ``store`` the revisioned key/value store, ``apiserver`` the only component that touches
the store, ``client`` the one way every other component talks to the apiserver, and ``cli`` the
``kyb`` command that starts them.
"""

__version__ = "0.1.0"

# The Kubernetes version this server reports on /version. kubectl dispatchers pick their client by
# its minor version, so it must be a real, current release.
KUBERNETES_VERSION = "v1.36.2"
