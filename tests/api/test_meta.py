import re
from datetime import UTC, datetime

from kybernetes.api import meta


def test_now_rfc3339_shape():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta.now_rfc3339())


def test_format_and_parse_round_trip():
    moment = datetime(2026, 11, 26, 20, 55, 22, tzinfo=UTC)
    assert meta.format_rfc3339(moment) == "2026-11-26T20:55:22Z"
    assert meta.parse_rfc3339("2026-11-26T20:55:22Z") == moment
    assert meta.parse_rfc3339("2026-11-26T21:55:22+01:00") == moment


def test_uid_is_uuid4():
    uid = meta.new_uid()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", uid)
    assert uid != meta.new_uid()


def test_generate_name_alphabet_and_length():
    name = meta.generate_name("web-")
    assert name.startswith("web-") and len(name) == 9
    assert all(c in meta.GENERATE_NAME_ALPHABET for c in name[4:])
    long = meta.generate_name("x" * 100)
    assert len(long) == 63


def test_deep_copy_is_independent():
    obj = {"a": [{"b": 1}], "c": None}
    copy = meta.deep_copy(obj)
    copy["a"][0]["b"] = 2
    assert obj["a"][0]["b"] == 1 and copy["c"] is None


def test_spec_changed_ignores_metadata_and_status():
    old = {"kind": "Deployment", "metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1}, "status": {}}
    assert not meta.spec_changed(old, {**old, "metadata": {}, "status": {"replicas": 3}})
    assert meta.spec_changed(old, {**old, "spec": {"replicas": 2}})
    assert meta.spec_changed({"data": {"a": "1"}}, {"data": {"a": "2"}})
