"""German ships: complete catalogues, compiled and committed, that cover the sources
and speak to people formally ("Sie"), on the portal's pages and on allauth's.

After changing a user-facing string run ``make messages``, translate what it
added to portal/locale/de/LC_MESSAGES/django.po, and run it again.
portal/locale_allauth/ holds hand-written formal replacements for allauth's
German, which mixes "du" and "Sie".
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import allauth
import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import translation

from portal.core.tests.factories import TEST_PASSWORD, UserFactory
from tests.components import require
from tests.pofile import PoEntry, read_mo, read_po

ROOT = Path(__file__).resolve().parents[1]
PORTAL_PO = ROOT / "portal" / "locale" / "de" / "LC_MESSAGES" / "django.po"
ALLAUTH_OVERRIDES_PO = ROOT / "portal" / "locale_allauth" / "de" / "LC_MESSAGES" / "django.po"
ALLAUTH_PO = Path(allauth.__file__).parent / "locale" / "de" / "LC_MESSAGES" / "django.po"
CATALOGUES = pytest.mark.parametrize(
    "po", [PORTAL_PO, ALLAUTH_OVERRIDES_PO], ids=["portal", "allauth-overrides"]
)
FIX = "run `make messages`, translate what is new in the .po, and run `make messages` again"
PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[sd]|\{\w*\}")
TAG = re.compile(r"</?\w+[^>]*>")
# The familiar "du": its pronouns and the verb forms and imperatives that go with it.
INFORMAL = re.compile(
    r"\b(du|dich|dir|dein\w*|hast|bist|kannst|musst|möchtest|erhältst|sendest|"
    r"gib|klick|klicke|erstelle|bestätige|melde|lass|überprüfe|kontaktiere|versuche|wähle)\b",
    re.IGNORECASE,
)
# allauth's apps the portal does not install; their strings never show.
ALLAUTH_UNUSED = re.compile(r"socialaccount|/idp/|headless|oidc")


def _described(entry: PoEntry) -> str:
    return f"line {entry.line}: {entry.msgid[:60]!r}"


@CATALOGUES
def test_every_entry_is_translated_and_none_is_fuzzy(po: Path) -> None:
    entries = read_po(po)
    header, messages = entries[0], entries[1:]
    assert header.is_header and not header.is_fuzzy, "the .po header must not be fuzzy"
    assert "Language: de\n" in header.msgstr[0]
    assert messages, "the catalogue is empty"
    untranslated = [_described(e) for e in messages if not e.is_translated]
    fuzzy = [_described(e) for e in messages if e.is_fuzzy]
    assert not untranslated, f"untranslated entries in {po}: {untranslated}"
    assert not fuzzy, f"fuzzy entries in {po} (check them, then drop the flag): {fuzzy}"


@CATALOGUES
def test_translations_keep_placeholders_and_markup(po: Path) -> None:
    broken = []
    for entry in read_po(po)[1:]:
        for form, translation_ in enumerate(entry.msgstr):
            # Plural forms after the first follow msgid_plural (which names the count).
            original = entry.msgid_plural if form and entry.msgid_plural else entry.msgid
            for pattern in (PLACEHOLDER, TAG):
                if sorted(pattern.findall(original)) != sorted(pattern.findall(translation_)):
                    broken.append(_described(entry))
    assert not broken, f"placeholders or tags differ from the original: {broken}"


@CATALOGUES
def test_the_committed_mo_is_compiled_from_the_po(po: Path) -> None:
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo.relative_to(ROOT)} is missing: {FIX}"
    compiled = read_mo(mo)
    entries = read_po(po)[1:]
    stale = [_described(e) for e in entries if compiled.get(e.key) != e.msgstr]
    assert not stale, f"{mo.name} differs from {po.name} for {stale}: {FIX}"
    extra = set(compiled) - {e.key for e in entries} - {""}
    assert not extra, f"{mo.name} holds entries the .po no longer has: {sorted(extra)[:5]}: {FIX}"


def test_the_catalogue_covers_every_marked_string(
    tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `make messages` would collect now is exactly what the committed .po holds."""
    require("gettext")
    shutil.copytree(
        ROOT / "portal",
        tmp_path / "portal",
        ignore=shutil.ignore_patterns("__pycache__", "locale", "locale_allauth"),
    )
    locale = tmp_path / "portal" / "locale"
    locale.mkdir()
    # makemessages writes into the first locale path: never into the real one here.
    settings.LOCALE_PATHS = [locale]
    monkeypatch.chdir(tmp_path)
    call_command("makemessages", locale=["de"], no_obsolete=True, verbosity=0)

    fresh = {e.key for e in read_po(locale / "de" / "LC_MESSAGES" / "django.po")[1:]}
    committed = {e.key for e in read_po(PORTAL_PO)[1:]}
    missing, gone = sorted(fresh - committed), sorted(committed - fresh)
    assert not missing, f"strings missing from the catalogue: {missing}: {FIX}"
    assert not gone, f"strings no longer in the sources: {gone}: {FIX}"


def test_every_allauth_override_replaces_a_string_allauth_has() -> None:
    """After an allauth upgrade that rewords a string, its override here would be dead."""
    allauth_ids = {e.key for e in read_po(ALLAUTH_PO)[1:]}
    dead = [_described(e) for e in read_po(ALLAUTH_OVERRIDES_PO)[1:] if e.key not in allauth_ids]
    assert not dead, f"no longer in allauth's catalogue, update or drop: {dead}"


def _shown_in_german(entry: PoEntry) -> list[str]:
    """What Django really renders for ``entry`` in German, whichever catalogue wins."""
    with translation.override("de"):
        if entry.msgid_plural is not None:
            return [translation.ngettext(entry.msgid, entry.msgid_plural, n) for n in (1, 2)]
        if entry.msgctxt is not None:
            return [translation.pgettext(entry.msgctxt, entry.msgid)]
        return [translation.gettext(entry.msgid)]


def test_german_pages_say_sie_never_du() -> None:
    shown = read_po(PORTAL_PO)[1:] + [
        e
        for e in read_po(ALLAUTH_PO)[1:]
        if any(not ALLAUTH_UNUSED.search(ref) for ref in e.references)
    ]
    informal = [
        f"{e.msgid[:50]!r} -> {text[:60]!r}"
        for e in shown
        for text in _shown_in_german(e)
        if INFORMAL.search(text)
    ]
    assert not informal, (
        "informal German; add a formal translation to "
        f"{ALLAUTH_OVERRIDES_PO.relative_to(ROOT)} (allauth's) or the portal's .po: {informal}"
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
    for text in ["Anmelden", "Passwort vergessen?", "Mit einem Passkey anmelden"]:
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
