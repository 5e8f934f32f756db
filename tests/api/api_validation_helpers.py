"""Helpers shared by the api tests: build defaulted objects and read validation results."""

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.api.defaults import apply_defaults
from kybernetes.api.validation import validate_create, validate_update

REGISTRY = builtin_registry()


def info_for(group, resource, version="v1"):
    return REGISTRY.get(group, version, resource)


def errors_of(group, resource, obj, old=None, version="v1", default=True):
    """[(field, reason, message)] for an object after defaulting, as the apiserver would check it."""
    info = info_for(group, resource, version)
    if default:
        apply_defaults(info, obj)
        if old is not None:
            apply_defaults(info, old)
    causes = validate_create(info, obj) if old is None else validate_update(info, obj, old)
    return [(c.field, c.reason, c.message) for c in causes]
