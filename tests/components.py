"""System components some tests need, and what to do when one is missing.

On a developer's machine a missing component skips the tests that need it and
the run ends with the command that installs it. With PORTAL_STRICT_TESTS=1
(set by .ci/run) a missing component fails the run instead: CI runs everything.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Component:
    name: str
    is_available: Callable[[], bool]
    install: str


def _postgres_binaries() -> bool:
    return any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


COMPONENTS = {
    "chromium": Component(
        "Chromium", lambda: Path("/usr/bin/chromium").exists(), "apt-get install -y chromium"
    ),
    "postgresql": Component("PostgreSQL", _postgres_binaries, "apt-get install -y postgresql"),
    "redis": Component(
        "Redis", lambda: shutil.which("redis-server") is not None, "apt-get install -y redis-server"
    ),
    "gettext": Component(
        "GNU gettext",
        lambda: all(shutil.which(tool) for tool in ("xgettext", "msgmerge", "msguniq")),
        "apt-get install -y gettext",
    ),
    "nginx": Component(
        "nginx",
        lambda: shutil.which("nginx") is not None or Path("/usr/sbin/nginx").exists(),
        "apt-get install -y nginx",
    ),
    # Checks and unit-tests the alert rules in deploy/prometheus (tests/test_slo.py).
    "promtool": Component(
        "Prometheus' promtool",
        lambda: shutil.which("promtool") is not None,
        "apt-get install -y prometheus",
    ),
    "clamd": Component(
        "ClamAV daemon",
        lambda: shutil.which("clamd") is not None or Path("/usr/sbin/clamd").exists(),
        "apt-get install -y clamav-daemon",
    ),
}

# The words of every skip message for a missing component (the summary looks for them).
MISSING_MARK = "is not installed; install it with:"

# Names of components whose absence skipped a test in this run.
missing_in_run: set[str] = set()


def strict() -> bool:
    return os.environ.get("PORTAL_STRICT_TESTS", "") == "1"


def require(key: str) -> None:
    """Skip (or, under PORTAL_STRICT_TESTS=1, fail) the calling test if ``key`` is absent."""
    component = COMPONENTS[key]
    if component.is_available():
        return
    message = f"{component.name} {MISSING_MARK} {component.install}"
    if strict():
        pytest.fail(f"PORTAL_STRICT_TESTS=1 and {message}", pytrace=False)
    missing_in_run.add(key)
    # Justified skip: the component is absent on this machine; the summary at the
    # end names it and CI (strict mode) turns this into a failure.
    pytest.skip(message)
