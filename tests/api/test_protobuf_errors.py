"""Bad protobuf bodies give typed ApiErrors (400 malformed, 415 undecodable), never tracebacks."""

from __future__ import annotations

import random

import pytest

from kybernetes.api.errors import ApiError
from kybernetes.api.protobuf import decode_object
from tests.api.test_protobuf_wire import entry, envelope, ld, msg, vint

_CONFIGMAP = envelope("v1", "ConfigMap", msg(1, ld(1, "x")) + entry(2, "a", "b"))


def _error(body: bytes) -> ApiError:
    with pytest.raises(ApiError) as caught:
        decode_object(body)
    return caught.value


def test_missing_magic_is_a_bad_request() -> None:
    error = _error(b'{"kind":"ConfigMap"}')
    assert (error.code, error.reason) == (400, "BadRequest")
    assert "k8s" in error.message


def test_unknown_kind_is_unsupported_media_type() -> None:
    error = _error(envelope("example.com/v1", "Widget", b""))
    assert (error.code, error.reason) == (415, "UnsupportedMediaType")
    assert "Widget" in error.message and "application/json" in error.message
    assert error.to_status()["code"] == 415


def test_envelope_without_type_meta_is_a_bad_request() -> None:
    assert _error(b"k8s\x00" + ld(2, b"")).code == 400


def test_content_encoding_is_unsupported() -> None:
    assert _error(envelope("v1", "ConfigMap", b"", encoding="gzip")).code == 415


def test_unknown_inner_content_type_is_unsupported() -> None:
    assert _error(envelope("v1", "ConfigMap", b"", content_type="application/cbor")).code == 415


def test_invalid_json_inside_the_envelope_is_a_bad_request() -> None:
    assert _error(envelope("v1", "ConfigMap", b"{nope", content_type="application/json")).code == 400
    assert _error(envelope("v1", "ConfigMap", b"[1]", content_type="application/json")).code == 400


def test_wrong_wire_type_names_the_field_path() -> None:
    container = msg(2, ld(1, "c"), vint(2, 5))  # image sent as a varint
    deployment = msg(1, ld(1, "d")) + msg(2, msg(3, msg(2, container)))
    error = _error(envelope("apps/v1", "Deployment", deployment))
    assert error.code == 400
    assert "spec.template.spec.containers[0].image" in error.message


def test_errors_inside_inline_structs_use_the_json_path() -> None:
    volume = msg(1, ld(1, "cfg"), msg(2, msg(19, msg(1, vint(1, 3)))))  # configMap.name as a varint
    error = _error(envelope("v1", "Pod", msg(1, ld(1, "p")) + msg(2, volume)))
    assert "spec.volumes[0].configMap.name:" in error.message


def test_errors_in_list_items_and_map_values_name_the_index_or_key() -> None:
    container = msg(2, ld(1, "c"), ld(3, "sh"), vint(3, 1))  # command[1] sent as a varint
    error = _error(envelope("v1", "Pod", msg(1, ld(1, "p")) + msg(2, container)))
    assert "spec.containers[0].command[1]:" in error.message
    limits = msg(2, msg(8, entry(1, "cpu", vint(1, 5))))  # Quantity text as a varint
    error = _error(envelope("v1", "Pod", msg(2, limits)))
    assert "spec.containers[0].resources.limits[cpu]:" in error.message


def test_invalid_utf8_is_a_bad_request() -> None:
    error = _error(envelope("v1", "ConfigMap", msg(1, ld(1, b"\xff\xfe"))))
    assert error.code == 400 and "metadata.name" in error.message


def test_bad_int_or_string_type() -> None:
    port = msg(1, vint(3, 80), msg(4, vint(1, 7)))
    error = _error(envelope("v1", "Service", msg(2, port)))
    assert error.code == 400 and "spec.ports[0].targetPort" in error.message


def test_time_out_of_range_is_a_bad_request() -> None:
    meta = msg(1, ld(1, "x"), msg(9, vint(1, 10**15)))
    assert _error(envelope("v1", "ConfigMap", meta)).code == 400


@pytest.mark.parametrize("cut", range(5, len(_CONFIGMAP)))
def test_every_truncation_is_typed(cut: int) -> None:
    try:
        decode_object(_CONFIGMAP[:cut])
    except ApiError as error:
        assert error.code in (400, 415)


def test_random_corruption_never_escapes_as_a_raw_exception() -> None:
    rng = random.Random(1234)
    body = bytearray(_CONFIGMAP)
    for _ in range(2000):
        mutated = bytearray(body)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(4, len(mutated))] = rng.randrange(256)
        try:
            decode_object(bytes(mutated))
        except ApiError as error:
            assert error.code in (400, 415)


def test_non_bytes_input_is_a_bad_request() -> None:
    assert _error("k8s\x00").code == 400  # type: ignore[arg-type]
