"""The HTTP Observatory's published scoring rules, applied to responses we capture.

Mozilla's HTTP Observatory (https://developer.mozilla.org/en-US/observatory)
starts every site at 100 and adds the modifiers below; 100 or more is an A+,
and bonuses count only when the score without them is at least 90. This is a
faithful subset of its tests (CSP, cookies, redirection, Referrer-Policy,
HSTS, Subresource Integrity, X-Content-Type-Options, X-Frame-Options, CORS)
for responses captured from the portal itself: it needs no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlsplit


@dataclass
class Captured:
    url: str
    status: int
    headers: dict[str, str]  # lower-case names
    set_cookies: list[str] = field(default_factory=list)
    body: str = ""


@dataclass
class Score:
    modifiers: dict[str, int]

    @property
    def penalties(self) -> dict[str, int]:
        return {name: value for name, value in self.modifiers.items() if value < 0}

    @property
    def total(self) -> int:
        base = 100 + sum(self.penalties.values())
        bonus = sum(v for v in self.modifiers.values() if v > 0)
        return max(0, base + bonus if base >= 90 else base)

    @property
    def grade(self) -> str:
        bands = [(100, "A+"), (90, "A"), (85, "A-"), (80, "B+"), (70, "B"), (65, "B-"),
                 (60, "C+"), (50, "C"), (45, "C-"), (40, "D+"), (30, "D"), (25, "D-")]  # fmt: skip
        return next((grade for floor, grade in bands if self.total >= floor), "F")


def _csp(headers: dict[str, str]) -> tuple[str, int]:
    raw = headers.get("content-security-policy")
    if not raw:
        return "csp-not-implemented", -25
    directives: dict[str, list[str]] = {}
    for part in raw.split(";"):
        words = part.strip().split()
        if words:
            directives.setdefault(words[0].lower(), [w.lower() for w in words[1:]])
    script = directives.get("script-src", directives.get("default-src", []))
    style = directives.get("style-src", directives.get("default-src", []))
    sources = [s for values in directives.values() for s in values]
    if "'unsafe-inline'" in script and not any(s.startswith(("'nonce-", "'sha")) for s in script):
        return "csp-implemented-with-unsafe-inline", -20
    if any(s.startswith("http:") for s in sources) or "http:" in sources:
        return "csp-implemented-with-insecure-scheme", -20
    if "'unsafe-eval'" in script:
        return "csp-implemented-with-unsafe-eval", -10
    if "'unsafe-inline'" in style:
        return "csp-implemented-with-unsafe-inline-in-style-src-only", 0
    if directives.get("default-src") == ["'none'"]:
        return "csp-implemented-with-no-unsafe-default-src-none", 10
    return "csp-implemented-with-no-unsafe", 5


def _cookies(set_cookies: list[str], hsts: bool) -> tuple[str, int]:
    if not set_cookies:
        return "cookies-not-found", 0
    all_secure = all_samesite = True
    for header in set_cookies:
        cookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            session = "session" in name.lower() or name.lower().startswith("__host-")
            if session and not morsel["httponly"] and "csrf" not in name.lower():
                return "cookies-session-without-httponly-flag", -30
            if not morsel["secure"]:
                if session:
                    return (
                        ("cookies-session-without-secure-flag-but-protected-by-hsts", -10)
                        if hsts
                        else ("cookies-session-without-secure-flag", -40)
                    )
                all_secure = False
            if not morsel["samesite"]:
                all_samesite = False
    if not all_secure:
        return (
            ("cookies-without-secure-flag-but-protected-by-hsts", -5)
            if hsts
            else ("cookies-without-secure-flag", -20)
        )
    if all_samesite:
        return "cookies-secure-with-httponly-sessions-and-samesite", 5
    return "cookies-secure-with-httponly-sessions", 0


def _hsts(headers: dict[str, str]) -> tuple[str, int]:
    raw = headers.get("strict-transport-security", "")
    found = re.search(r"max-age=(\d+)", raw)
    if not found:
        return "hsts-not-implemented", -20
    if int(found[1]) < 15_768_000:
        return "hsts-implemented-max-age-less-than-six-months", -10
    return "hsts-implemented-max-age-at-least-six-months", 0


def _referrer(headers: dict[str, str]) -> tuple[str, int]:
    policies = [p.strip().lower() for p in headers.get("referrer-policy", "").split(",") if p]
    if not policies:
        return "referrer-policy-not-implemented", 0
    if policies[-1] in {
        "no-referrer",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
    }:
        return "referrer-policy-private", 5
    if policies[-1] in {
        "origin",
        "origin-when-cross-origin",
        "no-referrer-when-downgrade",
        "unsafe-url",
    }:
        return "referrer-policy-unsafe", -5
    return "referrer-policy-header-invalid", -5


def _sri(page: Captured) -> tuple[str, int]:
    if "html" not in page.headers.get("content-type", ""):
        return "sri-not-implemented-response-not-html", 0
    host = urlsplit(page.url).hostname
    scripts = re.findall(r"<script\b[^>]*>", page.body, flags=re.I)
    if not scripts:
        return "sri-not-implemented-but-no-scripts-loaded", 0
    external = []
    for tag in scripts:
        src = re.search(r'\bsrc="([^"]+)"', tag)
        if src and urlsplit(src[1]).hostname not in {None, host}:
            external.append(tag)
    if not external:
        return "sri-not-implemented-but-all-scripts-loaded-from-secure-origin", 0
    if all("integrity=" in tag for tag in external):
        return "sri-implemented-and-external-scripts-loaded-securely", 5
    return "sri-not-implemented-but-external-scripts-loaded-securely", -5


def _frame_options(headers: dict[str, str]) -> tuple[str, int]:
    if "frame-ancestors" in headers.get("content-security-policy", ""):
        return "x-frame-options-implemented-via-csp", 5
    value = headers.get("x-frame-options", "").lower()
    if value in {"deny", "sameorigin"}:
        return "x-frame-options-sameorigin-or-deny", 0
    return "x-frame-options-not-implemented", -20


def score(page: Captured, redirect_from_http: Captured) -> Score:
    headers = page.headers
    hsts_name, hsts_value = _hsts(headers)
    location = redirect_from_http.headers.get("location", "")
    http_host = urlsplit(redirect_from_http.url).hostname
    if redirect_from_http.status not in {301, 302, 307, 308}:
        redirection = ("redirection-missing", -20)
    elif not location.startswith("https://"):
        redirection = ("redirection-not-to-https", -20)
    elif urlsplit(location).hostname != http_host:
        redirection = ("redirection-off-host-from-http", -5)
    else:
        redirection = ("redirection-to-https", 0)
    cors = headers.get("access-control-allow-origin", "")
    results = [
        _csp(headers),
        _cookies(page.set_cookies, hsts_value == 0),
        ("cross-origin-resource-sharing-implemented-with-universal-access", -50)
        if cors == "*"
        else ("cross-origin-resource-sharing-not-implemented", 0),
        redirection,
        _referrer(headers),
        (hsts_name, hsts_value),
        _sri(page),
        ("x-content-type-options-nosniff", 0)
        if headers.get("x-content-type-options", "").lower() == "nosniff"
        else ("x-content-type-options-not-implemented", -5),
        _frame_options(headers),
    ]
    return Score(dict(results))
