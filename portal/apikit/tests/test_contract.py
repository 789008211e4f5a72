"""Contract test: Schemathesis against the portal's real server, across every operation.

The portal's ASGI application runs under uvicorn on a free loopback port with
two customers' data; the Schemathesis CLI (same virtual environment) loads
the OpenAPI document from it and sends generated requests, valid and invalid,
with a read-and-write token: the coverage, fuzzing and stateful phases, every
check (no 5xx, status codes, content types, headers and bodies as documented,
invalid data rejected, valid data accepted, unsupported methods refused, no
operation that ignores authentication) on every operation, with the few
exceptions schemathesis.toml beside this file gives, each with its reason.
Every check is on by default; naming them on the command line would override
those exceptions. The requests each operation got are counted from the HAR file
it writes, and printed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.localstripe import localstripe_server, stripe_test  # noqa: F401 - fixtures
from tests.server import PortalServer

from .world import build_world

pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = 30  # per operation and phase
MIN_CASES_PER_OPERATION = 20
TIME_LIMIT = 300  # seconds; a normal run takes well under a minute


def _operations(document: dict[str, Any]) -> list[tuple[str, str, re.Pattern[str]]]:
    result = []
    for path, item in document["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$")
        for method in item:
            result.append((method.upper(), path, pattern))
    # Literal paths before templated ones: /notifications/read is not /notifications/{id}.
    result.sort(key=lambda op: op[1].count("{"))
    return result


def count_cases(har: dict[str, Any], document: dict[str, Any]) -> tuple[Counter[str], int]:
    """Requests per operation (``METHOD path``) in a HAR log, and how many matched none."""
    operations = _operations(document)
    counts: Counter[str] = Counter({f"{m} {p}": 0 for m, p, _ in operations})
    unmatched = 0
    for entry in har["log"]["entries"]:
        method = entry["request"]["method"]
        path = re.sub(r"^https?://[^/]+", "", entry["request"]["url"]).split("?")[0]
        for op_method, op_path, pattern in operations:
            if op_method == method and pattern.match(path):
                counts[f"{op_method} {op_path}"] += 1
                break
        else:
            unmatched += 1  # e.g. the unsupported-method probes (PUT, TRACE, ...)
    return counts, unmatched


# Card payments go to localstripe (the Stripe emulator), so starting one is tested too.
@pytest.mark.usefixtures("stripe_test")
def test_the_api_keeps_to_its_document(
    portal_server: PortalServer,
    tmp_path: Path,
    settings: Any,
    record_property: Callable[[str, object], None],
) -> None:
    # Schemathesis is quick; the limits are tested elsewhere.
    settings.PORTAL_API_RATE_LIMIT = settings.PORTAL_API_RATE_LIMIT_IP = (1_000_000, 60)
    settings.PORTAL_CONTENT_DIR = tmp_path / "content"
    world = build_world(content_dir=settings.PORTAL_CONTENT_DIR)
    har_path = tmp_path / "schemathesis.har"
    st = Path(sys.executable).with_name("st")
    command = [
        str(st), "--config-file", str(Path(__file__).with_name("schemathesis.toml")),
        "run", f"{portal_server.url}/api/v1/openapi.json",
        # The admin's token: every permission, so every operation gets past the role check.
        "--header", f"Authorization: Bearer {world.admin_token}",
        "--mode", "all",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(MAX_EXAMPLES),
        "--workers", "1",
        "--request-timeout", "20",
        "--report", "har", "--report-har-path", str(har_path),
    ]  # fmt: skip
    # A new seed each run finds new cases; the seed a failed run printed replays it.
    if seed := os.environ.get("PORTAL_SCHEMATHESIS_SEED"):
        command += ["--seed", seed]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=TIME_LIMIT, cwd=tmp_path, check=False
    )
    assert world.admin_token not in result.stdout + result.stderr  # Schemathesis masks it

    from portal.api import api

    document = api.get_openapi_schema()
    counts, unmatched = count_cases(json.loads(har_path.read_text()), document)
    summary = [line for line in result.stdout.splitlines() if "generated" in line or "Seed" in line]
    lines = ["Schemathesis: requests per operation"]
    lines += [f"  {count:5d}  {operation}" for operation, count in sorted(counts.items())]
    lines.append(f"  {unmatched:5d}  (unsupported-method probes and other unmatched requests)")
    lines += [f"  {line.strip()}" for line in summary]
    # Printed at the end of the run by the root conftest, also under pytest-xdist,
    # whose workers' own output is not shown.
    record_property("terminal_summary", "\n".join(lines))
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    thin = {op: n for op, n in counts.items() if n < MIN_CASES_PER_OPERATION}
    assert not thin, f"operations with too few generated cases: {thin}"


def test_counting_matches_literal_paths_before_templates() -> None:
    document: dict[str, Any] = {
        "paths": {
            "/api/v1/things/{thing_id}": {"get": {}, "post": {}},
            "/api/v1/things/read": {"post": {}},
        }
    }
    har = {
        "log": {
            "entries": [
                {"request": {"method": "POST", "url": "http://h/api/v1/things/read"}},
                {"request": {"method": "POST", "url": "http://h/api/v1/things/7?x=1"}},
                {"request": {"method": "GET", "url": "http://h/api/v1/things/7"}},
                {"request": {"method": "PUT", "url": "http://h/api/v1/things/7"}},
            ]
        }
    }
    counts, unmatched = count_cases(har, document)
    assert counts == {
        "POST /api/v1/things/read": 1,
        "POST /api/v1/things/{thing_id}": 1,
        "GET /api/v1/things/{thing_id}": 1,
    }
    assert unmatched == 1
