"""Status JSON back into ApiError; 410 as ExpiredError."""

from __future__ import annotations

from kybernetes.api.errors import ApiError, Cause, conflict, expired, invalid
from kybernetes.client.errors import ExpiredError, error_from_response, error_from_status


def test_round_trip_of_server_errors():
    for original in (conflict("pods", "p"), invalid("Pod", "p", [Cause("FieldValueRequired", "Required value",
                                                                         "spec.containers")])):
        back = error_from_status(original.to_status())
        assert type(back) is ApiError
        assert (back.code, back.reason, back.message, back.name, back.kind) == (
            original.code, original.reason, original.message, original.name, original.kind)
        assert back.causes == original.causes


def test_expired_is_its_own_type():
    back = error_from_status(expired("too old resource version: 5 (10)").to_status())
    assert isinstance(back, ExpiredError) and back.code == 410


def test_responses_without_status():
    e = error_from_response(503, b"upstream down", None)
    assert (e.code, e.reason, e.message) == (503, "ServiceUnavailable", "upstream down")
    e = error_from_response(418, b"", None)
    assert e.reason == "Unknown" and "418" in e.message
    assert isinstance(error_from_response(410, b"gone", None), ExpiredError)
