"""Content negotiation: what the client sent (Content-Type) and what it will read (Accept).

Responses are JSON (or YAML when that is all the client takes). Protobuf is accepted in Accept
lists because clients that prefer it also list application/json, and JSON is a valid answer.
Beyond the media type, Accept can ask for a different *shape* of the same data:

    application/json;as=Table;v=v1;g=meta.k8s.io                 kubectl get's server-side table
    application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io  metadata-only (garbage collector)
    application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io

The first entry the server can produce wins, as in Kubernetes' negotiation.
"""

from __future__ import annotations

from dataclasses import dataclass

from kybernetes.api.errors import ApiError, not_acceptable

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"

_TABLE_VERSIONS = ("v1", "v1beta1")
_SHAPES = ("Table", "PartialObjectMetadata", "PartialObjectMetadataList")


@dataclass(frozen=True, slots=True)
class MediaType:
    type: str  # "application/json"
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class Negotiated:
    """The answer's media type ("json"/"yaml") and shape ("" = the object itself)."""

    media: str = "json"
    shape: str = ""  # "", "Table", "PartialObjectMetadata", "PartialObjectMetadataList"
    shape_version: str = "v1"

    @property
    def as_table(self) -> bool:
        return self.shape == "Table"


def parse_media_type(text: str) -> MediaType:
    pieces = [p.strip() for p in text.split(";")]
    params: dict[str, str] = {}
    for p in pieces[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            params[k.strip().lower()] = v.strip().strip('"')
    return MediaType(pieces[0].lower(), params)


def parse_accept(header: str | None, *, allow_shapes: bool = True) -> Negotiated:
    """Pick the response form from an Accept header; 406 when nothing listed can be produced."""
    if not header or not header.strip():
        return Negotiated()
    for entry in header.split(","):
        if not entry.strip():
            continue
        mt = parse_media_type(entry)
        if mt.params.get("q") == "0":
            continue
        shape = mt.params.get("as", "")
        if shape:
            if not allow_shapes or shape not in _SHAPES:
                continue
            if mt.params.get("g") != "meta.k8s.io" or mt.params.get("v") not in _TABLE_VERSIONS:
                continue
            if mt.type not in (JSON, "application/*", "*/*"):
                continue
            return Negotiated("json", shape, mt.params["v"])
        if mt.type in (JSON, "application/*", "*/*", PROTOBUF):
            return Negotiated("json")
        if mt.type in (YAML, "application/x-yaml", "text/yaml"):
            return Negotiated("yaml")
    raise not_acceptable_error(header)


def not_acceptable_error(header: str) -> ApiError:
    return not_acceptable(
        "only the following media types are accepted: application/json, application/yaml, "
        f"application/vnd.kubernetes.protobuf (got {header!r})"
    )
