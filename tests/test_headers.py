"""Production headers and cookies, scored with the HTTP Observatory's rules: A+, no penalty."""

from __future__ import annotations

import json
from pathlib import Path

from tests.observatory import Captured, score
from tests.test_settings import _production, _run

CAPTURE = r"""
import json
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from portal.core.tests.factories import TEST_PASSWORD, UserFactory

def capture(client, path, secure=True):
    response = client.get(path, secure=secure)
    cookies = [morsel.OutputString() for morsel in response.cookies.values()]
    scheme = "https" if secure else "http"
    return {"url": f"{scheme}://portal.example.com{path}", "status": response.status_code,
            "headers": {k.lower(): v for k, v in response.headers.items()},
            "set_cookies": cookies,
            "body": response.content.decode() if response.status_code == 200 else ""}

anonymous = Client(HTTP_HOST="portal.example.com")
signed_in = Client(HTTP_HOST="portal.example.com")
person = UserFactory()
# A real sign-in, so the session cookie is the one the portal sets.
sign_in = signed_in.post(
    "/accounts/login/", {"login": person.email, "password": TEST_PASSWORD}, secure=True
)
assert sign_in.status_code == 302, sign_in.status_code
session_cookies = [m.OutputString() for m in sign_in.cookies.values() if "session" in m.key]
pages = {
    "home": capture(anonymous, "/"),
    "sign-in": capture(anonymous, "/accounts/login/"),
    "dashboard": capture(signed_in, "/dashboard/"),
    "http": capture(anonymous, "/", secure=False),
}
pages["dashboard"]["set_cookies"] += session_cookies
print(json.dumps(pages))
"""


def test_production_headers_score_a_plus_with_no_penalty(tmp_path: Path) -> None:
    from django.conf import settings

    env = _production(PORTAL_SCAN_POLICY="allow", PORTAL_STATIC_ROOT=str(settings.STATIC_ROOT))
    result = _run(["-c", CAPTURE], env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    pages = {name: Captured(**data) for name, data in json.loads(result.stdout).items()}
    redirect = pages.pop("http")
    for name, page in pages.items():
        assert page.status == 200, name
        result_ = score(page, redirect)
        print(name, result_.total, result_.grade, result_.modifiers)
        assert result_.grade == "A+" and not result_.penalties, (name, result_.modifiers)

    dashboard, sign_in = pages["dashboard"], pages["sign-in"]
    csp = dashboard.headers["content-security-policy"]
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert dashboard.headers["strict-transport-security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    assert dashboard.headers["cross-origin-opener-policy"] == "same-origin"
    assert "no-store" in dashboard.headers["cache-control"]
    session = next(c for c in dashboard.set_cookies if c.startswith("__Host-sessionid="))
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in session
    assert "Domain=" not in session  # the __Host- prefix forbids it
    csrf = next(c for c in sign_in.set_cookies if c.startswith("__Host-csrftoken="))
    assert "Secure" in csrf and "SameSite=Lax" in csrf
