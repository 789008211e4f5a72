"""Production settings, checked in a fresh interpreter as a deployment would start."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PORTAL_", "DJANGO_")) and key not in {"SECRET_KEY", "ALLOWED_HOSTS"}
    }
    base.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PORTAL_DATA_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        }
    )
    base.update(env)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def _production(**extra: str) -> dict[str, str]:
    env = {
        "PORTAL_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "portal.example.com",
    }
    env.update(extra)
    return env


def test_deploy_check_passes_under_production_settings(tmp_path: Path) -> None:
    env = _production(PORTAL_CLAMD_SOCKET="/run/clamav/clamd.ctl")
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_check_warns_when_documents_would_be_held_forever(tmp_path: Path) -> None:
    # Production holds unscanned documents; without a scanner none could be downloaded.
    result = _run(["manage.py", "check", "--deploy"], _production(), tmp_path)
    assert "portal.documents.W001" in result.stdout + result.stderr
    allowed = _production(PORTAL_SCAN_POLICY="allow")
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], allowed, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = _production()
    del env["SECRET_KEY"]
    result = _run(["manage.py", "check"], env, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "secrets.token_urlsafe" in result.stderr


@pytest.mark.parametrize("weak", ["short", "django-insecure-" + "x" * 60, "ab" * 40])
def test_production_refuses_a_weak_secret_key(tmp_path: Path, weak: str) -> None:
    result = _run(["manage.py", "check"], _production(SECRET_KEY=weak), tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr


def test_production_needs_allowed_hosts(tmp_path: Path) -> None:
    env = _production()
    del env["ALLOWED_HOSTS"]
    result = _run(["manage.py", "check"], env, tmp_path)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is not set" in result.stderr


def test_production_turns_on_secure_cookies_hsts_and_https(tmp_path: Path) -> None:
    script = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k) for k in ("
        "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_NAME', "
        "'CSRF_COOKIE_NAME', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', "
        "'SECURE_SSL_REDIRECT', 'DEBUG', 'EMAIL_BACKEND', 'LANGUAGE_COOKIE_NAME', "
        "'LANGUAGE_COOKIE_SECURE', 'LANGUAGE_COOKIE_HTTPONLY', 'LANGUAGE_COOKIE_SAMESITE')}))"
    )
    result = _run(["-c", script], _production(PORTAL_DEBUG="1"), tmp_path)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_NAME": "__Host-sessionid",
        "CSRF_COOKIE_NAME": "__Host-csrftoken",
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_SSL_REDIRECT": True,
        "DEBUG": False,  # PORTAL_DEBUG is ignored in production
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "LANGUAGE_COOKIE_NAME": "__Host-language",
        "LANGUAGE_COOKIE_SECURE": True,
        "LANGUAGE_COOKIE_HTTPONLY": True,
        "LANGUAGE_COOKIE_SAMESITE": "Lax",
    }


def test_demo_data_is_refused_in_production(tmp_path: Path) -> None:
    """The demo users, one of them staff, have a published password."""
    env = _production()
    assert _run(["manage.py", "migrate", "--noinput", "-v0"], env, tmp_path).returncode == 0
    result = _run(["manage.py", "load_demo"], env, tmp_path)
    assert result.returncode != 0
    assert "production" in result.stderr
    count = "from portal.accounts.models import User; print(User.objects.count())"
    users = _run(["-c", f"import django; django.setup(); {count}"], env, tmp_path)
    assert users.stdout.strip() == "0", users.stderr


def test_development_keeps_a_generated_secret_key_in_the_data_dir(tmp_path: Path) -> None:
    script = (
        "import django; django.setup(); "
        "from django.conf import settings; print(settings.SECRET_KEY)"
    )
    first = _run(["-c", script], {}, tmp_path)
    second = _run(["-c", script], {}, tmp_path)
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert len(key) >= 50
    assert second.stdout.strip() == key
    assert (tmp_path / "secret-key").stat().st_mode & 0o077 == 0


def test_an_unknown_portal_env_is_refused(tmp_path: Path) -> None:
    result = _run(["manage.py", "check"], {"PORTAL_ENV": "prod"}, tmp_path)
    assert result.returncode != 0
    assert "PORTAL_ENV must be 'development' or 'production'" in result.stderr


def test_production_has_no_development_outbox(tmp_path: Path) -> None:
    script = (
        "import django; django.setup(); from django.urls import resolve, Resolver404\n"
        "try:\n    resolve('/dev/outbox/'); print('mounted')\n"
        "except Resolver404:\n    print('absent')"
    )
    assert _run(["-c", script], _production(), tmp_path).stdout.strip() == "absent"
    assert _run(["-c", script], {}, tmp_path).stdout.strip() == "mounted"


def test_passwords_are_hashed_with_argon2(tmp_path: Path) -> None:
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.PASSWORD_HASHERS[0])"
    )
    result = _run(["-c", script], _production(), tmp_path)
    assert result.stdout.strip() == "django.contrib.auth.hashers.Argon2PasswordHasher"
