"""Label selectors: the string grammar, its error wording, and metav1.LabelSelector objects."""

import pytest

from kybernetes.api.errors import ApiError
from kybernetes.api.selectors import label_selector_from_spec, parse_label_selector, selector_from_set

LABELS = {"app": "web", "tier": "front", "version": "3"}


@pytest.mark.parametrize("text,matches", [
    ("", True),
    ("app=web", True),
    ("app==web", True),
    ("app=db", False),
    ("app!=db", True),
    ("app!=web", False),
    ("missing!=x", True),
    ("app", True),
    ("missing", False),
    ("!missing", True),
    ("!app", False),
    ("app in (web,db)", True),
    ("app in (db)", False),
    ("app notin (db)", True),
    ("app notin (web, db)", False),
    ("missing notin (x)", True),
    ("missing in (x)", False),
    ("app=web,tier=front", True),
    ("app=web,tier=back", False),
    ("  app = web ,  tier in ( front , back )  ", True),
    ("version>2", True),
    ("version<3", False),
    ("missing>1", False),
    ("example.com/role", False),
    ("app in (in, notin, web)", True),
])
def test_matches(text, matches):
    assert parse_label_selector(text).matches(LABELS) is matches


@pytest.mark.parametrize("text,message", [
    ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ("a in b", "unable to parse requirement: found 'b' expected: '('"),
    ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("a=b,", "found '', expected: identifier after ','"),
    (",a", "found ',', expected: !, identifier, or 'end of string'"),
    ("!a=b", "found '=', expected: ',' or 'end of string'"),
    ("a>b", "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, "
            "the value must be an integer"),
    ("a=-bad", "unable to parse requirement: values[0]: Invalid value: \"-bad\": a valid label must be an "
               "empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end "
               "with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
               "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
    ("-a=b", "unable to parse requirement: <nil>: Invalid value: \"-a\": name part must consist of "
             "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
             "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
             "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
])
def test_parse_errors_are_bad_requests_with_real_wording(text, message):
    with pytest.raises(ApiError) as err:
        parse_label_selector(text)
    assert err.value.code == 400 and err.value.reason == "BadRequest"
    assert err.value.message == message


def test_empty_and_string_form():
    assert parse_label_selector("").empty
    assert parse_label_selector("   ").empty
    sel = parse_label_selector("tier in (b,a), app=web, !x")
    assert not sel.empty
    assert str(sel) == "app=web,tier in (a,b),!x"
    assert parse_label_selector(str(sel)) == sel


def test_empty_value_forms():
    assert parse_label_selector("a=").matches({"a": ""})
    assert parse_label_selector("a in (,x)").matches({"a": ""})
    assert parse_label_selector("a in ()").matches({"a": ""})


def test_matches_none_labels():
    assert parse_label_selector("!a").matches(None)
    assert not parse_label_selector("a").matches(None)


@pytest.mark.parametrize("spec,labels,matches", [
    ({}, {"x": "1"}, True),
    ({"matchLabels": {"app": "web"}}, LABELS, True),
    ({"matchLabels": {"app": "db"}}, LABELS, False),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]}, LABELS, True),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}, LABELS, False),
    ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, LABELS, True),
    ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, LABELS, False),
    ({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]},
     LABELS, True),
])
def test_from_spec(spec, labels, matches):
    assert label_selector_from_spec(spec).matches(labels) is matches


def test_nil_spec_selects_nothing_empty_selects_everything():
    assert not label_selector_from_spec(None).matches({})
    assert not label_selector_from_spec(None).empty
    assert label_selector_from_spec({}).empty


@pytest.mark.parametrize("spec", [
    {"matchExpressions": [{"key": "a", "operator": "Bogus"}]},
    {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
    {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
    {"matchLabels": {"bad key": "v"}},
    "not-a-selector",
])
def test_from_spec_errors(spec):
    with pytest.raises(ApiError) as err:
        label_selector_from_spec(spec)
    assert err.value.code == 400


def test_selector_from_set():
    sel = selector_from_set({"app": "web"})
    assert sel.matches(LABELS) and not sel.matches({"app": "db"})
    assert selector_from_set({}).empty
