"""The OpenAPI document is valid and honest; the reference page works offline under the CSP."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def document(client: Client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def test_the_document_has_no_key_twice(client: Client) -> None:
    import json

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate keys: {keys}"
        return dict(pairs)

    json.loads(client.get("/api/v1/openapi.json").content, object_pairs_hook=unique)


def test_the_document_validates(document: dict[str, Any]) -> None:
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    assert document["openapi"].startswith("3.1")


def test_schemathesis_loads_the_document(document: dict[str, Any]) -> None:
    import schemathesis

    schema = schemathesis.openapi.from_dict(document)
    loaded = [op.ok() for op in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(loaded) == len(operations(document))


def test_every_operation_is_secured_and_documents_its_problems(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["TokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["TokenAuth"]["description"],
    }
    assert schemes["SessionAuth"]["in"] == "cookie"
    for method, path, operation in operations(document):
        assert operation["security"] == [{"TokenAuth": []}, {"SessionAuth": []}], path
        responses = operation["responses"]
        for code in ("401", "403", "429", "500"):
            content = responses[code]["content"]
            assert list(content) == ["application/problem+json"], (method, path, code)
        if "{" in path:
            assert "404" in responses and "422" in responses, (method, path)
        assert operation["operationId"].isidentifier(), operation["operationId"]
        assert operation.get("summary"), (method, path)
    assert "Retry-After" in document["paths"]["/api/v1/me"]["get"]["responses"]["429"]["headers"]


def test_paths_are_plain_templates(document: dict[str, Any]) -> None:
    for path in document["paths"]:
        assert path.startswith("/api/v1/")
        assert ":" not in path, path  # no Django converters leak into the document


def test_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids))


def test_the_reference_page_loads_vendored_files_under_a_strict_csp(client: Client) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    csp = response["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src 'self'" in csp
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts, "the page loads its scripts"
    for attributes, body in scripts:
        assert 'src="/static/' in attributes, attributes
        assert body.strip() == "", "no inline script"
    assert "<style" not in html and " style=" not in html
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    assert 'data-openapi-url="/api/v1/openapi.json"' in html


def test_the_vendored_swagger_ui_keeps_its_licence() -> None:
    from portal.apikit.views import SWAGGER_UI

    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"):
        assert finders.find(f"{SWAGGER_UI}/{name}"), name
    vendored = (settings.BASE_DIR / "docs" / "vendored.md").read_text()
    assert "swagger-ui-dist" in vendored and "5.35.0" in vendored


def test_the_documented_not_blank_pattern_agrees_with_the_server(
    document: dict[str, Any],
) -> None:
    # A client checking a comment against the document must reach the server's verdict
    # (Schemathesis found "\x1f" documented as valid but refused as blank).
    body = document["components"]["schemas"]["CommentIn"]["properties"]["body"]
    pattern = re.compile(body["pattern"])
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue  # lone surrogates are refused before the pattern matters
        character = chr(code)
        documented = bool(pattern.match(f"{character}{character}"))
        assert documented == (character != "\x00" and bool(character.strip())), hex(code)
