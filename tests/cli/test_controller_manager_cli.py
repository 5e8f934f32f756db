"""`kyb controller-manager --controllers` follows kube-controller-manager's syntax."""

import click
import pytest

from kybernetes.cli.controller_manager import select_controllers

AVAILABLE = {"deployment": 1, "replicaset": 2, "job": 3}


@pytest.mark.parametrize("spec, expected", [
    ("*", {"deployment", "replicaset", "job"}),
    ("*,-job", {"deployment", "replicaset"}),
    ("job", {"job"}),
    ("job,deployment", {"job", "deployment"}),
])
def test_select_controllers(spec, expected):
    assert set(select_controllers(spec, AVAILABLE)) == expected


def test_unknown_controller_is_a_clear_error():
    with pytest.raises(click.BadParameter, match="unknown controller"):
        select_controllers("*,-nope", AVAILABLE)
