"""A test client for the API: a bearer token, JSON in and out."""

from __future__ import annotations

from typing import Any

from django.test import Client


class ApiClient:
    def __init__(self, token: str | None = None, client: Client | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = client or Client(headers=headers)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(_url(path), params)

    def post(self, path: str, body: Any = None, **headers: str) -> Any:
        return self.client.post(
            _url(path), body if body is not None else {}, content_type="application/json",
            headers=headers,
        )  # fmt: skip

    def patch(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.patch(_url(path), body, content_type="application/json", headers=headers)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        if method == "GET":
            return self.get(path)
        return getattr(self.client, method.lower())(
            _url(path), body if body is not None else {}, content_type="application/json"
        )


def _url(path: str) -> str:
    return path if path.startswith("/") else f"/api/v1/{path}"
