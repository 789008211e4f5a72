"""Production headers and cookies, scored with the HTTP Observatory's rules: A+, no penalty."""

from __future__ import annotations

import json
import re
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
# More signed-in answers: notifications, the profile, the API with the session.
private_paths = ("/notifications/", "/accounts/profile/", "/api/v1/me")
private = {path: capture(signed_in, path) for path in private_paths}
# The language switch sets the one cookie the other pages do not.
language = anonymous.post("/i18n/setlang/", {"language": "de", "next": "/"}, secure=True)
print(json.dumps({
    "pages": pages,
    "private": private,
    "language": [m.OutputString() for m in language.cookies.values()],
}))
"""


def test_production_headers_score_a_plus_with_no_penalty(tmp_path: Path) -> None:
    from django.conf import settings

    env = _production(PORTAL_SCAN_POLICY="allow", PORTAL_STATIC_ROOT=str(settings.STATIC_ROOT))
    result = _run(["-c", CAPTURE], env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    captured = json.loads(result.stdout)
    pages = {name: Captured(**data) for name, data in captured["pages"].items()}
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
    for flag in ("Secure", "SameSite=Lax", "Path=/"):
        assert flag in csrf
    assert "Domain=" not in csrf
    # (Not HttpOnly: the API's browser client reads it for the X-CSRFToken header.)

    for name, page in pages.items():
        assert page.headers["x-content-type-options"] == "nosniff", name
        assert page.headers["referrer-policy"] == "same-origin", name
        assert page.headers["cross-origin-opener-policy"] == "same-origin", name
        assert page.headers["x-frame-options"] == "DENY", name
        # Scripts come from the portal itself; an inline one would need this
        # response's nonce (django-csp adds it only when a template uses it).
        csp_ = page.headers["content-security-policy"]
        script_src = re.search(r"script-src ([^;]*)", csp_)
        assert script_src is not None and "'self'" in script_src[1], name
        nonce = re.search(r"'nonce-([^']+)'", script_src[1])
        scripts = re.findall(r"<script\b[^>]*>", page.body)
        assert scripts, name
        for tag in scripts:
            if 'type="application/json"' in tag:
                continue  # data for a script, never run
            assert "src=" in tag or (nonce is not None and f'nonce="{nonce[1]}"' in tag), tag
        assert not re.search(r"\son[a-z]+=", page.body), f"inline event handler on {name}"

    # Every signed-in answer, page or API, is kept by no browser or proxy.
    for path, data in captured["private"].items():
        assert data["status"] == 200, path
        cache_control = data["headers"]["cache-control"]
        assert "no-store" in cache_control and "private" in cache_control, (path, cache_control)
    assert "no-store" not in pages["home"].headers.get("cache-control", ""), "public page"

    # The language cookie: sent over HTTPS only, hidden from scripts, same-site.
    language = next(c for c in captured["language"] if c.startswith("__Host-language="))
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in language, language
    assert "Domain=" not in language
