"""The official Kubernetes API schemas, as OpenAPI 3.0 schema objects.

Kybernetes does not keep its own copy of the Kubernetes type schemas: the ``kubernetes-validate``
package ships the upstream definitions for each release as one JSON Schema (2020-12) file,
``kubernetes-json-schema/v1.N.0-local/_definitions.json``, keyed by definition name
(``io.k8s.api.apps.v1.Deployment``) and carrying the Kubernetes extensions that clients and the
server need (``x-kubernetes-group-version-kind``, patch merge keys and strategies, list types).

    _definitions.json ──load once──► raw definitions ──normalize (per name, on demand)──►
        OpenAPI 3.0 schema objects (what /openapi/v3 serves, refs "#/components/schemas/X")
            └──resolve──► schema_for(group, version, kind): the same schema with every ref
                          replaced by the schema it names (a graph: it may contain cycles)

Normalizing turns the JSON Schema spellings into the OpenAPI 3.0 ones the real server serves:
``type: [T, "null"]`` becomes ``type: T`` (kubectl's explain templates compare ``type`` with a
string); the ``oneOf`` of IntOrString and Quantity becomes ``type: string`` (with the
``int-or-string`` format for IntOrString); the ``enum`` the package adds to ``apiVersion`` and
``kind`` goes; a ``$ref`` with siblings is wrapped in ``allOf`` because OpenAPI 3.0 ignores the
siblings of a ``$ref``.

Loading parses about 1.6 MB of JSON, so it happens on first use and is cached for the process.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

import kybernetes

SCHEMA_PACKAGE = "kubernetes_validate"
COMPONENTS_PREFIX = "#/components/schemas/"
_SOURCE_PREFIX = "#/$defs/"
_VERSION_DIR = re.compile(r"^v(\d+)\.(\d+)\.(\d+)-local$")

# Keywords whose value is one schema, a list of schemas, or a map of name -> schema. Everything
# else in a schema object is a plain value and is copied as it is (a property may well be named
# "type" or "enum", so only these positions are walked).
_ONE_SCHEMA = ("items", "additionalProperties", "not")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_MAPS = ("properties", "patternProperties")
# Siblings of a $ref that only describe it; a resolved ref may drop them.
_DESCRIPTIVE = ("description", "default", "example", "title")


class SchemasUnavailableError(RuntimeError):
    """The package with the official API schemas is missing or unreadable."""


def _schema_root() -> Path:
    spec = importlib.util.find_spec(SCHEMA_PACKAGE)  # locate without importing it
    if spec is None or not spec.submodule_search_locations:
        raise SchemasUnavailableError(
            f"the Python package {SCHEMA_PACKAGE!r} (PyPI: kubernetes-validate) is not installed; it "
            "provides the Kubernetes API schemas for /openapi/v3: pip install 'kubernetes-validate>=1.30'")
    for location in spec.submodule_search_locations:
        root = Path(location) / "kubernetes-json-schema"
        if root.is_dir():
            return root
    raise SchemasUnavailableError(f"{SCHEMA_PACKAGE} is installed but has no kubernetes-json-schema folder")


def _minor_of(version: str) -> tuple[int, int] | None:
    m = re.match(r"^v?(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else None


def pick_schema_dir(root: Path, want: str = kybernetes.KUBERNETES_VERSION) -> Path:
    """The definitions folder matching ``want``'s minor version, else the newest one present."""
    found: list[tuple[tuple[int, int, int], Path]] = []
    for child in root.iterdir() if root.is_dir() else ():
        m = _VERSION_DIR.match(child.name)
        if m and (child / "_definitions.json").is_file():
            found.append(((int(m.group(1)), int(m.group(2)), int(m.group(3))), child))
    if not found:
        raise SchemasUnavailableError(f"no v1.N.0-local/_definitions.json under {root}")
    found.sort()
    wanted = _minor_of(want)
    matching = [path for version, path in found if version[:2] == wanted]
    return matching[-1] if matching else found[-1][1]


def _normalize_type(value: Any) -> Any:
    if isinstance(value, list):
        kinds = [t for t in value if t != "null"]
        return kinds[0] if len(kinds) == 1 else kinds
    return value


def _ref_target(ref: Any) -> str | None:
    if isinstance(ref, str):
        for prefix in (_SOURCE_PREFIX, COMPONENTS_PREFIX, "#/definitions/"):
            if ref.startswith(prefix):
                return ref[len(prefix):]
    return None


def _scalar_union(options: list[Any]) -> dict[str, Any] | None:
    """IntOrString and Quantity: a oneOf of bare scalar types, served as a string as upstream does."""
    if not all(isinstance(o, dict) and set(o) == {"type"} for o in options):
        return None
    kinds = {_normalize_type(o["type"]) for o in options}
    if kinds == {"string", "integer"}:
        return {"type": "string", "format": "int-or-string"}
    if kinds == {"string", "number"}:
        return {"type": "string"}
    return None


def normalize(schema: Any) -> Any:
    """A JSON Schema object from the package as an OpenAPI 3.0 schema object (a new dict)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref":
            target = _ref_target(value)
            out[key] = COMPONENTS_PREFIX + target if target is not None else value
        elif key == "type":
            out[key] = _normalize_type(value)
        elif key in _ONE_SCHEMA:
            out[key] = normalize(value)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            union = _scalar_union(value) if key == "oneOf" else None
            if union is not None:
                out.update(union)
            else:
                out[key] = [normalize(v) for v in value]
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: normalize(v) for name, v in value.items()}
        else:
            out[key] = value
    if "$ref" in out and len(out) > 1:
        out["allOf"] = [{"$ref": out.pop("$ref")}]
    return out


def refs_in(schema: Any) -> Iterable[str]:
    """The definition names a normalized schema refers to directly."""
    if isinstance(schema, dict):
        target = _ref_target(schema.get("$ref"))
        if target is not None:
            yield target
        for key in _ONE_SCHEMA:
            if key in schema:
                yield from refs_in(schema[key])
        for key in _SCHEMA_LISTS:
            for sub in schema.get(key) or ():
                yield from refs_in(sub)
        for key in _SCHEMA_MAPS:
            for sub in (schema.get(key) or {}).values():
                yield from refs_in(sub)


def _strip_version_enums(schema: dict[str, Any]) -> None:
    # The package pins apiVersion/kind of each kind to its own values; the real server doesn't,
    # and shared kinds (DeleteOptions) would list every group.
    props = schema.get("properties")
    if isinstance(props, dict):
        for name in ("apiVersion", "kind"):
            if isinstance(props.get(name), dict):
                props[name].pop("enum", None)


class SchemaLibrary:
    """The definitions of one Kubernetes release, normalized and resolved on demand."""

    def __init__(self, definitions: dict[str, Any], source: str = ""):
        self.source = source  # e.g. "v1.36.0-local": part of every document's hash
        self._raw = definitions
        self._normalized: dict[str, dict[str, Any]] = {}
        self._resolved: dict[str, dict[str, Any]] = {}
        self._building: set[str] = set()
        self._by_gvk: dict[tuple[str, str, str], str] = {}
        for name, schema in definitions.items():
            for gvk in schema.get("x-kubernetes-group-version-kind") or ():
                key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
                # A kind defined once per group (DeleteOptions) keeps the definition of its own group.
                self._by_gvk.setdefault(key, name)
        self._lock = threading.RLock()

    @classmethod
    def load(cls, root: Path | None = None, want: str = kybernetes.KUBERNETES_VERSION) -> SchemaLibrary:
        folder = pick_schema_dir(root or _schema_root(), want)
        try:
            document = orjson.loads((folder / "_definitions.json").read_bytes())
        except (OSError, orjson.JSONDecodeError) as e:
            raise SchemasUnavailableError(f"cannot read {folder / '_definitions.json'}: {e}") from e
        definitions = document.get("$defs") or document.get("definitions")
        if not isinstance(definitions, dict):
            raise SchemasUnavailableError(f"{folder / '_definitions.json'} holds no definitions")
        return cls(definitions, folder.name)

    def __contains__(self, name: str) -> bool:
        return name in self._raw

    def name_for(self, group: str, version: str, kind: str) -> str | None:
        """The definition name of a kind, e.g. ("apps", "v1", "Deployment") -> io.k8s.api.apps.v1.Deployment."""
        return self._by_gvk.get((group, version, kind))

    def definition(self, name: str) -> dict[str, Any] | None:
        """The normalized OpenAPI 3.0 schema of one definition (shared: do not change it)."""
        with self._lock:
            cached = self._normalized.get(name)
            if cached is None:
                raw = self._raw.get(name)
                if raw is None:
                    return None
                cached = normalize(raw)
                _strip_version_enums(cached)
                self._normalized[name] = cached
            return cached

    def closure(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Every named definition and every one they refer to, transitively, by name."""
        out: dict[str, dict[str, Any]] = {}
        pending = list(names)
        while pending:
            name = pending.pop()
            if name in out:
                continue
            schema = self.definition(name)
            if schema is None:
                continue
            out[name] = schema
            pending.extend(ref for ref in refs_in(schema) if ref not in out)
        return dict(sorted(out.items()))

    def resolved(self, name: str) -> dict[str, Any] | None:
        """The definition with every ref replaced by the (resolved) schema it names.

        Definitions that refer to themselves (JSONSchemaProps) make the result a cyclic graph:
        walk it alongside an object, never serialize it. Nodes are shared: do not change them."""
        with self._lock:
            if name in self._resolved:
                return self._resolved[name]
            if self.definition(name) is None:
                return None
            return self._resolve_definition(name)

    def _resolve_definition(self, name: str) -> dict[str, Any]:
        node: dict[str, Any] = {}
        self._resolved[name] = node  # placed before filling it, so cycles find it
        self._building.add(name)
        try:
            node.update(self._resolve_node(self.definition(name) or {}))
        finally:
            self._building.discard(name)
        return node

    def _resolve_ref(self, target: str) -> dict[str, Any]:
        if target in self._resolved:
            return self._resolved[target]
        if self.definition(target) is None:
            return {}
        return self._resolve_definition(target)

    def _resolve_node(self, schema: Any) -> Any:
        if not isinstance(schema, dict):
            return schema
        target = _ref_target(schema.get("$ref"))
        all_of = schema.get("allOf")
        if target is None and isinstance(all_of, list) and len(all_of) == 1:
            target = _ref_target(all_of[0].get("$ref")) if isinstance(all_of[0], dict) else None
        if target is not None:
            resolved = self._resolve_ref(target)
            extra = {k: v for k, v in schema.items() if k not in ("$ref", "allOf", *_DESCRIPTIVE)}
            # Keys like x-kubernetes-patch-strategy on the referring property matter; keep them
            # (in a copy, unless the target is still being filled in further up a cycle).
            return {**resolved, **extra} if extra and target not in self._building else resolved
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in _ONE_SCHEMA:
                out[key] = self._resolve_node(value)
            elif key in _SCHEMA_LISTS and isinstance(value, list):
                out[key] = [self._resolve_node(v) for v in value]
            elif key in _SCHEMA_MAPS and isinstance(value, dict):
                out[key] = {n: self._resolve_node(v) for n, v in value.items()}
            else:
                out[key] = value
        return out


_default: SchemaLibrary | None = None
_default_lock = threading.Lock()


def schema_source() -> str:
    """The name of the release folder default_library() loads (cheap: lists a folder)."""
    if _default is not None:
        return _default.source
    return pick_schema_dir(_schema_root()).name


def default_library() -> SchemaLibrary:
    """The process-wide library of this release's schemas, loaded on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SchemaLibrary.load()
        return _default


def schema_for(group: str, version: str, kind: str) -> dict[str, Any] | None:
    """The resolved schema of a built-in kind (refs replaced; may be cyclic), or None if unknown.

    For server-side field validation and strategic merge patch: walk it alongside an object to
    find properties, ``x-kubernetes-patch-merge-key`` / ``-strategy`` and list types."""
    library = default_library()
    name = library.name_for(group, version, kind)
    return library.resolved(name) if name else None


def unknown_fields(schema: dict[str, Any] | None, obj: Any, path: str = "") -> list[str]:
    """Paths of the fields in ``obj`` that a resolved ``schema`` does not declare.

    The server-side half of ``?fieldValidation=Strict|Warn``: upstream rejects (or warns about)
    each as ``unknown field "spec.containers[0].imagePullPolice"``. Objects whose schema keeps
    unknown fields, or has no properties (RawExtension, free-form JSON), are not looked into."""
    found: list[str] = []
    _walk_unknown(schema or {}, obj, path, found)
    return found


def _walk_unknown(schema: dict[str, Any], value: Any, path: str, found: list[str]) -> None:
    if isinstance(value, dict):
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if isinstance(props, dict) and key in props:
                sub = props[key]
            elif isinstance(extra, dict):
                sub = extra
            else:
                if isinstance(props, dict) and extra is None:
                    found.append(f"{path}.{key}" if path else str(key))
                continue
            # Only objects and lists can hold unknown fields: most values (scalars) are passed
            # over without a call or a path string; every body of every write comes this way.
            if isinstance(item, (dict, list)):
                _walk_unknown(sub, item, f"{path}.{key}" if path else str(key), found)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                _walk_unknown(items, item, f"{path}[{i}]", found)
