"""Sign-in, sign-up and reset: the same answers for known and unknown addresses,
throttling that lifts, rotating session ids, session limits, MFA policies."""

from __future__ import annotations

import time
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.core import mail
from django.test import Client

from portal.accounts.middleware import SESSION_LAST_SEEN, SESSION_STARTED
from portal.core.models import AuditAction, AuditEvent
from portal.core.tests.factories import TEST_PASSWORD, UserFactory
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member

pytestmark = pytest.mark.django_db


def _sign_in(client: Client, email: str, password: str) -> object:
    return client.post("/accounts/login/", {"login": email, "password": password})


def _visible_text(response: object) -> str:
    import re

    body = response.content.decode()  # type: ignore[attr-defined]
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)
    return body


def test_sign_in_answers_alike_for_unknown_and_known_addresses(client: Client) -> None:
    UserFactory(email="known@example.com")
    known = _sign_in(client, "known@example.com", "wrong password 1")
    unknown = _sign_in(Client(), "nobody@example.com", "wrong password 1")
    assert known.status_code == unknown.status_code == 200  # type: ignore[attr-defined]
    assert "are not correct" in _visible_text(known)
    assert _visible_text(known).replace("known@example.com", "X") == _visible_text(unknown).replace(
        "nobody@example.com", "X"
    )


def test_password_reset_answers_alike(client: Client) -> None:
    UserFactory(email="known@example.com")
    known = client.post("/accounts/password/reset/", {"email": "known@example.com"})
    unknown = Client().post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]


def test_sign_up_answers_alike_and_never_reveals_an_existing_account(
    client: Client, django_capture_on_commit_callbacks: object
) -> None:
    UserFactory(email="known@example.com")
    data = {"password1": "a long enough passphrase", "password2": "a long enough passphrase"}
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        existing = client.post("/accounts/signup/", {"email": "known@example.com", **data})
        fresh = Client().post("/accounts/signup/", {"email": "fresh@example.com", **data})
    assert existing.status_code == fresh.status_code == 302
    assert existing["Location"] == fresh["Location"] == "/accounts/confirm-email/"
    # The owner of the existing address is told by e-mail, not the visitor on screen.
    assert {m.to[0] for m in mail.outbox} == {"known@example.com", "fresh@example.com"}


def test_passwords_need_length_and_must_not_be_common(client: Client) -> None:
    short = client.post(
        "/accounts/signup/", {"email": "a@example.com", "password1": "Xy1!", "password2": "Xy1!"}
    )
    assert "at least 12 characters" in short.content.decode()
    common = client.post(
        "/accounts/signup/",
        {"email": "a@example.com", "password1": "password1234", "password2": "password1234"},
    )
    assert "too common" in common.content.decode()
    # No composition rules: a long lower-case passphrase is fine.
    ok = client.post(
        "/accounts/signup/",
        {
            "email": "a@example.com",
            "password1": "purple elephants dance",
            "password2": "purple elephants dance",
        },
    )
    assert ok.status_code == 302


def test_failed_sign_ins_are_throttled_and_the_block_lifts(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    UserFactory(email="target@example.com")
    for _ in range(5):
        assert "are not correct" in _sign_in(client, "target@example.com", "nope").content.decode()  # type: ignore[attr-defined]
    blocked = _sign_in(client, "target@example.com", TEST_PASSWORD)
    assert "Too many failed login attempts" in blocked.content.decode()  # type: ignore[attr-defined]
    assert "_auth_user_id" not in client.session

    # Six minutes later the window has passed: no permanent lock.
    later = time.time() + 360
    monkeypatch.setattr(time, "time", lambda: later)
    response = _sign_in(client, "target@example.com", TEST_PASSWORD)
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert "_auth_user_id" in client.session


def test_the_session_id_changes_at_sign_in(client: Client) -> None:
    UserFactory(email="rotate@example.com")
    client.get("/accounts/login/")
    client.session["probe"] = 1
    session = client.session
    session["probe"] = 1
    session.save()
    before = client.cookies["sessionid"].value
    _sign_in(client, "rotate@example.com", TEST_PASSWORD)
    assert client.cookies["sessionid"].value != before


def test_sign_in_and_failures_are_audited(client: Client) -> None:
    user = UserFactory(email="audit@example.com")
    _sign_in(client, "audit@example.com", "wrong")
    _sign_in(client, "audit@example.com", TEST_PASSWORD)
    client.post("/accounts/logout/")
    actions = list(
        AuditEvent.objects.filter(subject_user=user).order_by("pk").values_list("action", flat=True)
    )
    assert actions == [AuditAction.SIGN_IN_FAILED, AuditAction.SIGN_IN, AuditAction.SIGN_OUT]
    failed = AuditEvent.objects.get(action=AuditAction.SIGN_IN_FAILED)
    assert failed.actor is None and failed.ip_address == "127.0.0.1"


def test_sign_out_needs_a_post(client: Client) -> None:
    client.force_login(UserFactory())
    client.get("/accounts/logout/")
    assert "_auth_user_id" in client.session
    response = client.post("/accounts/logout/")
    assert "_auth_user_id" not in client.session
    # The browser drops what it cached or stored while signed in.
    assert response["Clear-Site-Data"] == '"cache", "storage"'
    assert "Clear-Site-Data" not in client.post("/accounts/logout/")  # nobody was signed in


def _age_session(client: Client, *, started_ago: int, seen_ago: int) -> None:
    session = client.session
    now = int(time.time())
    session[SESSION_STARTED] = now - started_ago
    session[SESSION_LAST_SEEN] = now - seen_ago
    session.save()


def test_an_idle_session_ends(client: Client, settings: object) -> None:
    _sign_in(client, UserFactory().email, TEST_PASSWORD)
    _age_session(client, started_ago=4000, seen_ago=3700)  # idle limit: 3600 s
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action=AuditAction.SESSION_EXPIRED).exists()


def test_a_session_ends_after_its_absolute_lifetime(client: Client) -> None:
    _sign_in(client, UserFactory().email, TEST_PASSWORD)
    _age_session(client, started_ago=86_500, seen_ago=10)  # absolute limit: 24 h
    assert client.get("/dashboard/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_an_active_session_carries_on(client: Client) -> None:
    _sign_in(client, UserFactory().email, TEST_PASSWORD)
    _age_session(client, started_ago=7200, seen_ago=120)
    assert client.get("/dashboard/").status_code == 200


def test_the_limits_are_settings(client: Client, settings: object) -> None:
    settings.PORTAL_SESSION_IDLE_TIMEOUT = 60  # type: ignore[attr-defined]
    _sign_in(client, UserFactory().email, TEST_PASSWORD)
    _age_session(client, started_ago=120, seen_ago=90)
    assert client.get("/dashboard/").status_code == 302


def _give_totp(user: object) -> None:
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})


def test_staff_without_mfa_are_sent_to_set_it_up(client: Client) -> None:
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.get("/backoffice/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/"
    _give_totp(staff)
    assert client.get("/backoffice/").status_code == 200


def test_the_back_office_signs_in_through_the_portal(client: Client) -> None:
    response = client.get("/backoffice/login/?next=/backoffice/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_customers_who_require_mfa_send_members_to_set_it_up(client: Client) -> None:
    customer = make_customer()
    member = make_member(customer, Role.MEMBER)
    client.force_login(member)
    assert client.get("/dashboard/").status_code == 200
    customer.require_mfa = True
    customer.save()
    response = client.get("/dashboard/")
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/"
    # The set-up pages themselves stay reachable.
    assert client.get("/accounts/2fa/").status_code == 200
    _give_totp(member)
    assert client.get("/dashboard/").status_code == 200


def test_the_portal_wide_setting_requires_mfa_for_customer_users(
    client: Client, settings: object
) -> None:
    settings.PORTAL_REQUIRE_MFA = True  # type: ignore[attr-defined]
    member = make_member(make_customer(), Role.MEMBER)
    client.force_login(member)
    assert client.get("/dashboard/")["Location"] == "/accounts/2fa/"


def test_sign_out_everywhere_else(client: Client) -> None:
    user = UserFactory(email="many@example.com")
    laptop, phone = Client(), Client(HTTP_USER_AGENT="Phone browser")
    for device in (laptop, phone):
        _sign_in(device, "many@example.com", TEST_PASSWORD)
        assert device.get("/dashboard/").status_code == 200
    page = laptop.get("/accounts/sessions/").content.decode()
    assert "Phone browser" in page
    laptop.post("/accounts/sessions/")
    assert laptop.get("/dashboard/").status_code == 200  # this session stays
    assert phone.get("/dashboard/").status_code == 302  # the other one is gone
    event = AuditEvent.objects.get(action=AuditAction.SESSIONS_REVOKED)
    assert event.subject_user == user and event.data == {"count": 1}


def _totp_code(secret: str, *, at: int) -> str:
    """The code an authenticator app shows at Unix time ``at`` (30-second steps)."""
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    return str(format_hotp_value(hotp_value(secret, at // 30)))


def test_a_used_totp_code_cannot_be_replayed_while_it_is_still_accepted() -> None:
    """A code is accepted one step either side (phones drift); once used it stays used."""
    from unittest import mock

    from allauth.mfa.totp.internal.auth import TOTP

    user = UserFactory()
    secret = "JBSWY3DPEHPK3PXP"
    authenticator = TOTP.activate(user, secret)
    start = 1_800_000_010  # 10 s into a 30-s step
    code = _totp_code(secret, at=start)
    with mock.patch("time.time", return_value=start):
        assert authenticator.validate_code(code)
        assert not authenticator.validate_code(code)
    # 45 s later the code belongs to the previous step and is still within tolerance.
    with mock.patch("time.time", return_value=start + 45):
        assert not authenticator.validate_code(code)
    # A fresh code of the new step is accepted.
    fresh = _totp_code(secret, at=start + 45)
    with mock.patch("time.time", return_value=start + 45):
        assert authenticator.validate_code(fresh)


def test_second_factor_secrets_are_encrypted_at_rest_and_survive_a_key_rotation(
    settings: Any,
) -> None:
    from unittest import mock

    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP

    user = UserFactory()
    secret = "JBSWY3DPEHPK3PXP"
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    for stored in Authenticator.objects.filter(user=user):
        raw = stored.data.get("secret") or stored.data.get("seed")
        assert raw.startswith("fernet:") and secret not in raw
    now = 1_800_000_010
    code = _totp_code(secret, at=now)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 50  # rotated: the old one decrypts still
    totp = TOTP(Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP))
    with mock.patch("time.time", return_value=now):
        assert totp.validate_code(code)


def test_a_second_factor_stored_before_encryption_still_works() -> None:
    from unittest import mock

    from allauth.mfa.totp.internal.auth import TOTP

    secret = "JBSWY3DPEHPK3PXP"
    legacy = Authenticator.objects.create(
        user=UserFactory(), type=Authenticator.Type.TOTP, data={"secret": secret}
    )
    now = 1_800_000_010
    with mock.patch("time.time", return_value=now):
        assert TOTP(legacy).validate_code(_totp_code(secret, at=now))


def test_rotating_the_key_re_encrypts_second_factors_so_the_old_key_can_go(
    settings: Any,
) -> None:
    from io import StringIO
    from unittest import mock

    from allauth.mfa.totp.internal.auth import TOTP
    from django.core.management import call_command

    secret = "JBSWY3DPEHPK3PXP"
    TOTP.activate(UserFactory(), secret)
    Authenticator.objects.create(  # stored in the clear before encryption
        user=UserFactory(), type=Authenticator.Type.TOTP, data={"secret": secret}
    )
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "y" * 50
    out = StringIO()
    call_command("mfa_secrets_rotate", stdout=out)
    assert out.getvalue().startswith("2 second factor(s)")
    settings.SECRET_KEY_FALLBACKS = []  # the old key is gone
    now = 1_800_000_010
    for authenticator in Authenticator.objects.all():
        assert authenticator.data["secret"].startswith("fernet:")
        with mock.patch("time.time", return_value=now):
            assert TOTP(authenticator).validate_code(_totp_code(secret, at=now))


def test_staff_sign_a_person_out_everywhere_from_the_back_office(client: Client) -> None:
    user = UserFactory(email="lost-laptop@example.com")
    devices = [Client(), Client(HTTP_USER_AGENT="Phone browser")]
    for device in devices:
        _sign_in(device, "lost-laptop@example.com", TEST_PASSWORD)
        assert device.get("/dashboard/").status_code == 200
    staff = UserFactory(is_staff=True, is_superuser=True)
    Authenticator.objects.create(user=staff, type=Authenticator.Type.TOTP, data={"secret": "x"})
    client.force_login(staff)
    response = client.post(
        "/backoffice/accounts/user/",
        {"action": "end_sessions", "_selected_action": [user.pk]},
        follow=True,
    )
    assert "2 sessions ended." in response.content.decode()
    for device in devices:
        assert device.get("/dashboard/").status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.SESSIONS_REVOKED)
    assert (event.actor, event.subject_user) == (staff, user)
    assert event.data == {"count": 2, "by_staff": True}
    assert client.get("/backoffice/").status_code == 200  # staff's own session is untouched


def test_the_last_seen_time_moves_after_a_twelfth_of_the_idle_limit(
    client: Client, settings: object
) -> None:
    settings.PORTAL_SESSION_IDLE_TIMEOUT = 1200  # type: ignore[attr-defined]
    _sign_in(client, UserFactory().email, TEST_PASSWORD)
    # A twelfth is 100 s; this session's own interval is between 75 and 100 s.
    _age_session(client, started_ago=600, seen_ago=70)  # not written again
    client.get("/dashboard/")
    assert int(time.time()) - client.session[SESSION_LAST_SEEN] >= 70
    _age_session(client, started_ago=600, seen_ago=110)
    client.get("/dashboard/")
    assert int(time.time()) - client.session[SESSION_LAST_SEEN] <= 2


def test_sessions_seen_together_come_due_at_different_times(settings: object) -> None:
    """Each session's interval is its own, up to a quarter shorter than a twelfth of
    the idle limit and fixed by its key: sessions that all began after a restart do
    not all write again in the same moment."""
    from django.utils.crypto import get_random_string

    from portal.accounts.middleware import last_seen_precision

    settings.PORTAL_SESSION_IDLE_TIMEOUT = 3600  # type: ignore[attr-defined]
    assert last_seen_precision() == 300
    keys = [get_random_string(32) for _ in range(50)]  # as Django makes session keys
    intervals = [last_seen_precision(key) for key in keys]
    assert all(225 <= interval <= 300 for interval in intervals)
    assert len(set(intervals)) > 10
    assert intervals == [last_seen_precision(key) for key in keys]  # the same for a session
