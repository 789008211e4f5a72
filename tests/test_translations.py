"""German ships: a complete catalogue, compiled and committed, that covers the sources.

After changing a user-facing string run ``make messages``, translate what it
added to portal/locale/de/LC_MESSAGES/django.po, and run it again.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from portal.core.tests.factories import TEST_PASSWORD, UserFactory
from tests.components import require
from tests.pofile import PoEntry, read_mo, read_po

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "portal" / "locale"
LANGUAGES = ["de"]
FIX = "run `make messages`, translate what is new in the .po, and run `make messages` again"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w*\}")
TAG = re.compile(r"</?\w+[^>]*>")


def _po(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "django.po"


def _described(entry: PoEntry) -> str:
    return f"line {entry.line}: {entry.msgid[:60]!r}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_entry_is_translated_and_none_is_fuzzy(language: str) -> None:
    entries = read_po(_po(language))
    header, messages = entries[0], entries[1:]
    assert header.is_header and not header.is_fuzzy, "the .po header must not be fuzzy"
    assert f"Language: {language}\n" in header.msgstr[0]
    assert messages, "the catalogue is empty"
    untranslated = [_described(e) for e in messages if not e.is_translated]
    fuzzy = [_described(e) for e in messages if e.is_fuzzy]
    assert not untranslated, f"untranslated entries in {language}: {untranslated}"
    assert not fuzzy, f"fuzzy entries in {language} (check them, then drop the flag): {fuzzy}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_placeholders_and_markup(language: str) -> None:
    broken = []
    for entry in read_po(_po(language))[1:]:
        for translation in entry.msgstr:
            for pattern in (PLACEHOLDER, TAG):
                if sorted(pattern.findall(entry.msgid)) != sorted(pattern.findall(translation)):
                    broken.append(_described(entry))
    assert not broken, f"placeholders or tags differ from the original: {broken}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_mo_is_compiled_from_the_po(language: str) -> None:
    po = _po(language)
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo.relative_to(ROOT)} is missing: {FIX}"
    compiled = read_mo(mo)
    entries = read_po(po)[1:]
    stale = [_described(e) for e in entries if compiled.get(e.key) != e.msgstr]
    assert not stale, f"{mo.name} differs from {po.name} for {stale}: {FIX}"
    extra = set(compiled) - {e.key for e in entries} - {""}
    assert not extra, f"{mo.name} holds entries the .po no longer has: {sorted(extra)[:5]}: {FIX}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalogue_covers_every_marked_string(
    language: str, tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `make messages` would collect now is exactly what the committed .po holds."""
    require("gettext")
    shutil.copytree(
        ROOT / "portal",
        tmp_path / "portal",
        ignore=shutil.ignore_patterns("__pycache__", "locale"),
    )
    locale = tmp_path / "portal" / "locale"
    locale.mkdir()
    # makemessages writes into the first locale path: never into the real one here.
    settings.LOCALE_PATHS = [locale]
    monkeypatch.chdir(tmp_path)
    call_command("makemessages", locale=[language], no_obsolete=True, verbosity=0)

    fresh = {e.key for e in read_po(locale / language / "LC_MESSAGES" / "django.po")[1:]}
    committed = {e.key for e in read_po(_po(language))[1:]}
    assert not fresh - committed, (
        f"strings missing from the catalogue: {sorted(fresh - committed)}: {FIX}"
    )
    assert not committed - fresh, (
        f"strings no longer in the sources: {sorted(committed - fresh)}: {FIX}"
    )


@pytest.mark.django_db
def test_a_german_browser_gets_the_sign_in_page_in_german(client: Client) -> None:
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="de">' in page
    assert response.headers["Content-Language"] == "de"
    # The portal's own strings...
    for text in ["Zum Inhalt springen", "Konto erstellen", "Sprache"]:
        assert text in page, text
    # ...and allauth's, from its own German catalogue.
    for text in ["Anmeldung", "Passwort vergessen?", "Mit einem Passkey anmelden"]:
        assert text in page, text
    assert "Forgot your password?" not in page


@pytest.mark.django_db
def test_a_german_speaker_switches_signs_in_and_sees_the_dashboard_in_german(
    client: Client,
) -> None:
    UserFactory(email="erika@example.de", first_name="Erika", last_name="Muster")
    # The language switch on the sign-in page, before signing in...
    client.post("/i18n/setlang/", {"language": "de", "next": "/accounts/login/"})
    assert "Passwort vergessen?" in client.get("/accounts/login/").content.decode()
    response = client.post(
        "/accounts/login/", {"login": "erika@example.de", "password": TEST_PASSWORD}
    )
    assert response.status_code == 302
    # ...is kept after it, although the profile said English until then.
    page = client.get("/dashboard/").content.decode()
    assert '<html lang="de">' in page
    for text in ["Hallo, Erika Muster", "Übersicht", "Abmelden", "Das ist Ihr Portal."]:
        assert text in page, text
    assert "Sign out" not in page

    other_browser = Client()  # no language cookie: the profile decides
    other_browser.post("/accounts/login/", {"login": "erika@example.de", "password": TEST_PASSWORD})
    assert "Hallo, Erika Muster" in other_browser.get("/dashboard/").content.decode()


@pytest.mark.django_db
def test_who_signs_up_in_german_keeps_german() -> None:
    from portal.accounts.models import User

    client = Client(HTTP_ACCEPT_LANGUAGE="de")
    password = "ein langes und fröhliches Passwort"
    client.post(
        "/accounts/signup/",
        {"email": "neu@example.de", "password1": password, "password2": password},
    )
    assert User.objects.get(email="neu@example.de").preferred_language == "de"
