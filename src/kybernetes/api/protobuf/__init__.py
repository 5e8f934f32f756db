"""Decode the protobuf bodies kubectl sends for typed creates (``kubectl create deployment`` etc.).

    decode_object(body) -> dict        body: b"k8s\\x00" + runtime.Unknown; result: the JSON object

    wire.py        the protobuf wire format, no schema: varints, tags, length-delimited records
    messages/      descriptor tables, one module per API group (field number -> JSON name, type)
    schema.py      parses the table notation into FieldSpec / MessageSpec, lazily
    wellknown.py   Time, MicroTime, Duration, Quantity, IntOrString, RawExtension: wire -> JSON value
    decode.py      the envelope, the table-driven walk, Go's omitempty rules

Only decoding: the apiserver answers protobuf requests in JSON, which kubectl accepts.
"""

from kybernetes.api.protobuf.decode import MAGIC, PROTOBUF, decode_message, decode_object
from kybernetes.api.protobuf.schema import supported_kinds

__all__ = ["MAGIC", "PROTOBUF", "decode_message", "decode_object", "supported_kinds"]
