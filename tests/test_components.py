"""A missing system component skips locally and fails under PORTAL_STRICT_TESTS=1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import components
from tests.components import Component, require


@pytest.fixture
def absent_component(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setitem(
        components.COMPONENTS,
        "nothing",
        Component("Nothing Server", lambda: False, "apt-get install -y nothing-server"),
    )
    yield "nothing"
    components.missing_in_run.discard("nothing")


def test_missing_component_skips_with_the_install_command(
    absent_component: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PORTAL_STRICT_TESTS", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require(absent_component)
    assert "apt-get install -y nothing-server" in str(skipped.value)
    assert absent_component in components.missing_in_run


def test_missing_component_fails_in_strict_mode(
    absent_component: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTAL_STRICT_TESTS", "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        require(absent_component)
    assert "PORTAL_STRICT_TESTS=1" in str(failed.value)
    assert absent_component not in components.missing_in_run


def test_present_component_lets_the_test_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        components.COMPONENTS, "always", Component("Always", lambda: True, "nothing to do")
    )
    require("always")  # returns without skipping
