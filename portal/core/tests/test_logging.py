from __future__ import annotations

import json
import logging

import pytest
from django.test import Client

from portal.core.logging import JsonFormatter

pytestmark = pytest.mark.django_db


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "portal.request"]


def test_one_structured_line_per_request(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="portal.request")
    response = client.get("/healthz")
    (record,) = _request_lines(caplog)
    line = json.loads(JsonFormatter().format(record))
    assert line["method"] == "GET"
    assert line["path"] == "/healthz"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["request_id"] == response["X-Request-ID"]
    assert len(line["request_id"]) == 32


def test_query_strings_never_reach_the_log(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="portal.request")
    client.get("/accounts/password/reset/key/abc/?token=s3cr3t-value&password=hunter2")
    formatted = "\n".join(JsonFormatter().format(r) for r in _request_lines(caplog))
    assert "s3cr3t-value" not in formatted
    assert "hunter2" not in formatted


def test_a_well_formed_request_id_from_the_proxy_is_kept(client: Client) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "edge-1234abcd"})
    assert response["X-Request-ID"] == "edge-1234abcd"


def test_a_malformed_request_id_is_replaced(client: Client) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "bad id\nforged log line"})
    assert response["X-Request-ID"] != "bad id\nforged log line"
    assert len(response["X-Request-ID"]) == 32


def test_formatter_drops_secret_fields() -> None:
    record = logging.makeLogRecord(
        {"msg": "hello", "password": "hunter2", "token": "abc", "customer": 7}
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello"
    assert line["customer"] == 7
    assert "password" not in line and "token" not in line
