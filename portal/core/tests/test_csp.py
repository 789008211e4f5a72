"""The policy kept per process is the one django-csp would build for the same response."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from csp.constants import NONE, SELF
from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings

from portal.core.csp import CSPMiddleware

HEADERS = ("Content-Security-Policy", "Content-Security-Policy-Report-Only")


def answer(
    middleware_class: type[LibraryCSPMiddleware],
    view: Callable[[HttpRequest], HttpResponse],
    path: str = "/dashboard/",
) -> tuple[dict[str, str], HttpRequest]:
    request = RequestFactory().get(path)
    middleware = middleware_class(view)
    middleware.process_request(request)
    response = view(request)
    answered = middleware.process_response(request, response)
    return {name: answered[name] for name in HEADERS if name in answered}, request


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("page")


def with_nonce(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"<script nonce='{request.csp_nonce}'></script>")  # type: ignore[attr-defined]


def with_update(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("payment")
    response._csp_update = {"frame-src": ["https://js.stripe.example"]}  # type: ignore[attr-defined]
    return response


def exempt(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("exempt")
    response._csp_exempt = True  # type: ignore[attr-defined]
    return response


def already_set(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("own")
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


@pytest.mark.parametrize("view", [plain, with_update, exempt, already_set])
def test_the_header_is_the_one_django_csp_builds(view: Callable[..., HttpResponse]) -> None:
    ours, _ = answer(CSPMiddleware, view)
    library, _ = answer(LibraryCSPMiddleware, view)
    assert ours == library


def test_a_page_that_uses_a_nonce_gets_it_in_its_header() -> None:
    headers, request = answer(CSPMiddleware, with_nonce)
    nonce = request._csp_nonce  # type: ignore[attr-defined]
    assert f"'nonce-{nonce}'" in headers["Content-Security-Policy"]
    # The next page without a nonce gets none: the nonce is not kept.
    assert "nonce-" not in answer(CSPMiddleware, plain)[0]["Content-Security-Policy"]


def test_a_nonce_asked_for_after_the_header_is_refused() -> None:
    from csp.exceptions import CSPNonceError

    _, request = answer(CSPMiddleware, plain)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)  # type: ignore[attr-defined]


def test_changed_settings_change_the_kept_policy() -> None:
    before = answer(CSPMiddleware, plain)[0]
    policy = {"DIRECTIVES": {"default-src": [NONE]}}
    report_only = {"DIRECTIVES": {"default-src": [SELF]}, "EXCLUDE_URL_PREFIXES": ["/dashboard/"]}
    with override_settings(
        CONTENT_SECURITY_POLICY=policy, CONTENT_SECURITY_POLICY_REPORT_ONLY=report_only
    ):
        changed = answer(CSPMiddleware, plain)[0]
        assert changed == answer(LibraryCSPMiddleware, plain)[0]
        assert changed == {"Content-Security-Policy": "default-src 'none'"}
        elsewhere = answer(CSPMiddleware, plain, path="/requests/")[0]
        assert elsewhere == answer(LibraryCSPMiddleware, plain, path="/requests/")[0]
        assert elsewhere["Content-Security-Policy-Report-Only"] == "default-src 'self'"
    assert answer(CSPMiddleware, plain)[0] == before


@pytest.mark.django_db
def test_a_page_of_the_portal_carries_the_settings_policy() -> None:
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    assert (
        response["Content-Security-Policy"]
        == answer(LibraryCSPMiddleware, plain)[0]["Content-Security-Policy"]
    )
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
