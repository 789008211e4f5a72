"""Who may open what: every route of the portal, as every kind of caller.

The routes come from the portal's own configuration (``tests/security/routes.py``):
every URL pattern Django resolves (the portal's pages, allauth's, the back office),
every operation of the API's OpenAPI document, and the live stream the server
mounts beside Django. Each is requested, with its path parameters naming real
objects of customer A, as

- ``anonymous``: nobody signed in;
- ``other``: the admin of customer B;
- ``admin``, ``member``, ``billing``: customer A's people, one per role;
- ``staff``: a back-office superuser with a second factor;
- ``token_read``, ``token_write``: the member's personal access tokens
  (API operations and the live stream only).

RULES says what each of them gets. A route without a rule, or a rule for a
route that no longer exists, fails ``test_every_route_has_a_rule`` naming it; a
different answer fails ``test_access_matrix`` with every difference listed.
Outcomes are a status code, or for redirects where they go: ``login`` (the
sign-in page, with ``next``), ``admin-login`` (the back office's sign-in, which
is allauth's sign-in for anonymous visitors and a 403 for customers), ``mfa``
(set up a second factor), ``redirect`` (any other page of the portal; never
another site).
"""

from __future__ import annotations

import fnmatch
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import resolve
from django.utils import translation

from portal.customers.roles import Permission, role_allows

from .routes import Route, all_routes
from .world import World, build_world, first_object

Outcome = int | str
Expect = dict[str, Outcome]

ROLES = ("admin", "member", "billing")
PAGE_ACTORS = ("anonymous", "other", *ROLES, "staff")
TOKEN_ACTORS = ("token_read", "token_write")
ALL_ACTORS = (*PAGE_ACTORS, *TOKEN_ACTORS)


# --- building rules ----------------------------------------------------------------------


def everyone(outcome: Outcome, **overrides: Outcome) -> Expect:
    return {**dict.fromkeys(PAGE_ACTORS, outcome), **overrides}


def signed_in(outcome: Outcome = 200, **overrides: Outcome) -> Expect:
    """Any signed-in person; anonymous visitors are sent to sign in."""
    return {**everyone(outcome, anonymous="login"), **overrides}


def customer(
    permission: Permission,
    ok: Outcome = 200,
    *,
    names_object: bool = False,
    denied: Outcome = 403,
    **overrides: Outcome,
) -> Expect:
    """A customer page: the role must allow ``permission``.

    Customer B's admin may use a list page for B, but an object of A is a 404 on
    every route that names one. Staff belong to no customer: 404.
    """
    expect: Expect = {"anonymous": "login", "staff": 404}
    expect["other"] = 404 if names_object else ok
    for role in ROLES:
        expect[role] = ok if role_allows(role, permission) else denied
    return {**expect, **overrides}


def back_office(ok: Outcome = 200, **overrides: Outcome) -> Expect:
    """Staff only: everyone else is sent to the back office's sign-in."""
    return {**everyone("admin-login"), "staff": ok, **overrides}


def api(
    permission: Permission | None,
    ok: Outcome = 200,
    *,
    names_object: bool = False,
    write: bool = False,
    denied: Outcome = 403,
    **overrides: Outcome,
) -> Expect:
    """An API operation: 401 without credentials, scoped like the pages otherwise.

    Read tokens may only read (403); staff act for no customer through the API.
    """
    expect: Expect = {"anonymous": 401}
    for role in ROLES:
        expect[role] = ok if permission is None or role_allows(role, permission) else denied
    expect["other"] = 404 if names_object else ok
    expect["staff"] = 404 if names_object else ok
    expect["token_write"] = expect["member"]
    expect["token_read"] = 403 if write else expect["member"]
    return {**expect, **overrides}


# --- the rules -----------------------------------------------------------------------------

# Back-office models and what staff may do there beyond viewing and changing:
# "add", "delete" (the portal's own records of money, requests, documents, tokens
# and audit are changed through its services, never created or deleted by hand).
BACK_OFFICE_MODELS: dict[str, set[str]] = {
    "auth_group": {"add", "delete"},
    "account_emailaddress": {"add", "delete"},
    "mfa_authenticator": {"add", "delete"},
    "usersessions_usersession": {"add", "delete"},
    "socialaccount_socialapp": {"add", "delete"},
    "socialaccount_socialtoken": {"add", "delete"},
    "socialaccount_socialaccount": {"add", "delete"},
    "core_auditevent": set(),
    "accounts_user": {"add", "delete"},
    "tokens_personalaccesstoken": set(),
    "documents_category": {"add", "delete"},
    "documents_document": set(),
    "servicedesk_requesttype": {"add"},
    "servicedesk_servicerequest": set(),
    "billing_invoice": {"add"},
    "billing_payment": set(),
    "billing_refund": set(),
    # Task results: the tests run tasks at once, so there is no row to open.
    "django_tasks_database_dbtaskresult": set(),
}
NO_ROW = {"django_tasks_database_dbtaskresult"}


def _back_office_model_rules() -> dict[str, Expect]:
    rules: dict[str, Expect] = {}
    for name, may in BACK_OFFICE_MODELS.items():
        app_label, model = (
            name.split("_", 1)
            if not name.startswith("django_tasks")
            else (
                "django_tasks_database",
                "dbtaskresult",
            )
        )
        row = "redirect" if name in NO_ROW else 200  # a missing row: back to the index
        rules[f"admin:{name}_changelist"] = back_office()
        rules[f"admin:{name}_add"] = back_office(200 if "add" in may else 403)
        rules[f"admin:{name}_history"] = back_office(row)
        rules[f"admin:{name}_delete"] = back_office(row if "delete" in may else 403)
        rules[f"admin:{name}_change"] = back_office(row)
        # The old object URL without "change/": a redirect to it.
        rules[f"backoffice/{app_label}/{model}/<path:object_id>/"] = back_office("redirect")
    return rules


RULES: dict[str, Expect] = {
    # --- core ------------------------------------------------------------------------
    "core:home": everyone("redirect", anonymous=200),  # the signed-in go to the dashboard
    "core:dashboard": signed_in(),
    "core:healthz": everyone(200),
    "core:readyz": everyone(200),
    # The development outbox (not mounted with PORTAL_ENV=production); tests write no files.
    "dev:outbox": everyone(200),
    "dev:outbox_detail": everyone(404),
    # --- one's own account ------------------------------------------------------------
    "accounts:*": signed_in(),
    "tokens:list": signed_in(),
    "tokens:revoke": signed_in(404, member="redirect"),  # the member's token: theirs only
    "usersessions_list": signed_in(),
    "set_language": everyone("redirect"),
    # --- allauth: signing in and out, e-mail, password, second factor ------------------
    "account_login": everyone("redirect", anonymous=200),
    "account_signup": everyone("redirect", anonymous=200),
    "account_logout": signed_in(anonymous="redirect"),
    "account_inactive": everyone(200),
    "account_reauthenticate": signed_in(),
    # Re-authenticating by an e-mailed code (allauth 65.22): not enabled, the password is asked.
    "account_request_reauthentication_code": signed_in(403),
    "account_confirm_reauthentication_code": signed_in(403),
    "account_email": signed_in(),
    "account_email_verification_sent": everyone(200),
    "account_change_password": signed_in(),
    "account_set_password": signed_in("redirect"),  # everyone here has a password
    "account_reset_password": everyone(200),
    "account_reset_password_done": everyone(200),
    "account_reset_password_from_key": everyone("redirect"),  # the key moves to the session
    "account_reset_password_from_key_done": everyone(200),
    "account_confirm_login_code": everyone("redirect"),  # no code was sent
    "account_confirm_email": everyone(200),
    "mfa_index": signed_in(),
    "mfa_authenticate": everyone("redirect"),  # only in the middle of a sign-in
    "mfa_login_webauthn": everyone("redirect"),
    "mfa_reauthenticate": signed_in("redirect", staff=200),  # staff have a second factor
    "mfa_activate_totp": signed_in("redirect"),  # asks to re-authenticate first
    "mfa_deactivate_totp": signed_in(404, staff="redirect"),  # only with TOTP set up
    "mfa_view_recovery_codes": signed_in(404),
    "mfa_generate_recovery_codes": signed_in("redirect"),
    "mfa_download_recovery_codes": signed_in(404),
    "mfa_list_webauthn": signed_in(),
    "mfa_add_webauthn": signed_in("redirect"),
    "mfa_reauthenticate_webauthn": signed_in("redirect"),
    "mfa_remove_webauthn": signed_in("redirect"),  # re-authenticate first, then 404
    "mfa_edit_webauthn": signed_in("redirect"),
    "socialaccount_login_cancelled": everyone(200),
    "socialaccount_login_error": everyone(401),
    "socialaccount_signup": everyone("redirect"),  # only in the middle of a provider sign-in
    "socialaccount_connections": signed_in(),
    "accounts/social/*": everyone("redirect"),  # allauth's old addresses
    "openid_connect_login": everyone(404),  # no provider configured under that id
    "openid_connect_callback": everyone(404),
    # --- the customer organisation ---------------------------------------------------
    # Acting for A: any role of A may; B's admin and staff are not A's.
    "customers:switch": {**everyone("redirect"), "anonymous": "login", "other": 404, "staff": 404},
    "customers:members": customer(Permission.MEMBERS_MANAGE),
    "customers:member_role": customer(Permission.MEMBERS_MANAGE, names_object=True),
    "customers:member_remove": customer(Permission.MEMBERS_MANAGE, names_object=True),
    "customers:invitation_revoke": customer(
        Permission.MEMBERS_MANAGE, "redirect", names_object=True
    ),
    "customers:security": customer(Permission.CUSTOMER_MANAGE),
    "customers:activity": customer(Permission.ACTIVITY_VIEW),
    # The link in the invitation e-mail: its token is the key, signed in or not.
    "customers:invitation_accept": everyone(200),
    # --- notifications --------------------------------------------------------------
    "live:notifications": signed_in(),
    "live:mark_read": signed_in("redirect"),
    "asgi:/live/events": {**everyone(200, anonymous=401), "token_read": 200, "token_write": 200},
    # Prometheus' scrape: by network (and token), never by who signs in; from outside, 404.
    "asgi:/metrics": {**everyone(404), "token_read": 404, "token_write": 404},
    # --- service requests ------------------------------------------------------------
    "servicedesk:list": customer(Permission.REQUESTS_VIEW),
    "servicedesk:catalog": customer(Permission.REQUESTS_SUBMIT),
    "servicedesk:submit": customer(Permission.REQUESTS_SUBMIT),
    "servicedesk:draft_discard": customer(Permission.REQUESTS_SUBMIT, "redirect"),
    # A request of A: a 404 for whoever may not see it, role or customer.
    "servicedesk:detail": customer(Permission.REQUESTS_VIEW, names_object=True, denied=404),
    "servicedesk:submitted": customer(Permission.REQUESTS_VIEW, names_object=True, denied=404),
    "servicedesk:transition": customer(
        Permission.REQUESTS_SUBMIT, "redirect", names_object=True, denied=404
    ),
    "servicedesk:rate": customer(
        Permission.REQUESTS_SUBMIT, "redirect", names_object=True, denied=404
    ),
    # The file is a document: the route hands over to its download, which checks again.
    "servicedesk:attachment": customer(
        Permission.REQUESTS_VIEW, "redirect", names_object=True, denied=404
    ),
    # --- help pages (the page named is for signed-in people) ---------------------------
    "content:index": everyone(200),
    "content:search": everyone(200),
    "content:suggest": everyone(200),
    "content:page": everyone(200, anonymous=404),
    # --- documents -------------------------------------------------------------------
    "documents:library": customer(Permission.DOCUMENTS_VIEW),
    "documents:trash": customer(Permission.DOCUMENTS_VIEW),
    "documents:upload": customer(Permission.DOCUMENTS_UPLOAD, "redirect"),
    "documents:detail": customer(Permission.DOCUMENTS_VIEW, names_object=True),
    "documents:download": customer(Permission.DOCUMENTS_VIEW, names_object=True),
    "documents:edit": customer(Permission.DOCUMENTS_UPLOAD, 400, names_object=True),
    "documents:delete": customer(Permission.DOCUMENTS_UPLOAD, names_object=True),
    "documents:version_upload": customer(
        Permission.DOCUMENTS_UPLOAD, "redirect", names_object=True
    ),
    "documents:restore": customer(Permission.DOCUMENTS_UPLOAD, "redirect", names_object=True),
    # --- invoices and payments ---------------------------------------------------------
    "billing:invoice_list": customer(Permission.INVOICES_VIEW),
    "billing:payment_list": customer(Permission.INVOICES_VIEW),
    "billing:invoice_detail": customer(Permission.INVOICES_VIEW, names_object=True),
    "billing:invoice_print": customer(Permission.INVOICES_VIEW, names_object=True),
    "billing:receipt": customer(Permission.INVOICES_VIEW, names_object=True),
    "billing:invoice_pay": customer(Permission.INVOICES_PAY, 400, names_object=True),  # no card
    "billing:payment_sync": customer(Permission.INVOICES_PAY, names_object=True),
    # Stripe's notifications: no session, a signature (none here: refused).
    "billing:stripe_webhook": everyone(400),
    # --- the API's documentation: public ------------------------------------------------
    "api_docs": everyone(200),
    "api_problem_type": everyone(200),
    "api-v1:openapi-json": everyone(200),
    "api-v1:api-root": everyone(200),
    # --- the back office ---------------------------------------------------------------
    "admin:index": back_office(),
    "admin:app_list": back_office(),
    # allauth's sign-in guards it: visitors go there, customers are refused.
    "admin:login": {**everyone(403), "anonymous": "login", "staff": "redirect"},
    # Signs out whoever posts to it (CSRF-protected, like the portal's own sign-out).
    "admin:logout": {**everyone("redirect"), "staff": 200},
    "admin:password_change": back_office(),
    "admin:password_change_done": back_office(),
    "admin:autocomplete": back_office(403),  # without its parameters
    "admin:jsi18n": back_office(),
    "admin:view_on_site": back_office(404),  # service requests have no customer page link
    "backoffice/(?P<url>.*)$": back_office(404),
    "admin:auth_user_password_change": back_office(),
    "admin:documents_share": back_office(),
    "admin:documents_version_download": back_office(),
    "admin:servicedesk_servicerequest_attachment": back_office("redirect"),  # to the document
    "admin:billing_invoice_refund": back_office(),
    "admin:billing_invoice_record_payment": back_office(),
    **_back_office_model_rules(),
    # --- the API -----------------------------------------------------------------------
    "api:me_get": api(None),
    "api:me_update": api(None, write=True),
    "api:customer_list": api(None),
    "api:customer_get": api(None, names_object=True),
    # The member's own notification: nobody else's, whatever their role.
    "api:notification_list": api(None),
    "api:notification_get": api(None, names_object=True, admin=404, billing=404),
    "api:notification_mark_read": api(None, names_object=True, write=True, admin=404, billing=404),
    "api:notification_mark_all_read": api(None, write=True),
    "api:page_search": api(None),
    "api:page_get": api(None),
    "api:request_type_list": api(None),
    "api:request_type_get": api(None),
    # Lists and uploads act for the caller's only customer: B's admin for B. Staff act
    # for no customer here: no role of theirs allows it.
    "api:document_list": api(Permission.DOCUMENTS_VIEW, staff=403),
    "api:document_upload": api(Permission.DOCUMENTS_UPLOAD, 201, write=True, staff=403),
    "api:document_get": api(Permission.DOCUMENTS_VIEW, names_object=True, denied=404),
    "api:document_versions": api(Permission.DOCUMENTS_VIEW, names_object=True, denied=404),
    "api:document_version_add": api(
        Permission.DOCUMENTS_UPLOAD, 201, names_object=True, write=True, denied=404
    ),
    "api:document_download": api(Permission.DOCUMENTS_VIEW, names_object=True, denied=404),
    "api:service_request_list": api(Permission.REQUESTS_VIEW, staff=403),
    "api:service_request_submit": api(Permission.REQUESTS_SUBMIT, 201, write=True, staff=403),
    "api:service_request_get": api(Permission.REQUESTS_VIEW, names_object=True, denied=404),
    "api:service_request_comment": api(
        Permission.REQUESTS_SUBMIT, 201, names_object=True, write=True, denied=404
    ),
    "api:service_request_cancel": api(
        Permission.REQUESTS_SUBMIT, names_object=True, write=True, denied=404
    ),
    # Cancelled just before (routes run in order): reopening is refused, as a conflict.
    "api:service_request_reopen": api(
        Permission.REQUESTS_SUBMIT, 409, names_object=True, write=True, denied=404
    ),
    "api:invoice_list": api(Permission.INVOICES_VIEW, staff=403),
    "api:invoice_get": api(Permission.INVOICES_VIEW, names_object=True, denied=404),
    # Card payment is not configured in these tests: 503 once access is granted.
    "api:invoice_payment_start": api(
        Permission.INVOICES_PAY, 503, names_object=True, write=True, denied=404
    ),
}


# --- path parameters and bodies --------------------------------------------------------------


def _confirm_email_key(world: World, route: Route) -> str:
    from allauth.account.models import EmailAddress, EmailConfirmationHMAC

    return str(EmailConfirmationHMAC(EmailAddress.objects.get(user=world.member)).key)


def _password_reset_key(world: World, route: Route) -> str:
    from allauth.account.forms import default_token_generator

    return str(default_token_generator.make_token(world.member))


def _user_id_base36(world: World, route: Route) -> str:
    from allauth.account.utils import user_pk_to_url_str

    return str(user_pk_to_url_str(world.member))


def _content_type_id(world: World, route: Route) -> int:
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(world.service_request).pk


def _version_id(world: World, route: Route) -> int:
    from portal.documents.models import DocumentVersion

    return DocumentVersion.objects.get(document_id=world.document_id, number=1).pk


def _authenticator_id(world: World, route: Route) -> int:
    from allauth.mfa.models import Authenticator

    # Real passkeys need a browser; the routes must refuse anyone else's authenticator.
    return int(Authenticator.objects.get(user=world.staff).pk)


# "route:param" first, then "param": a real object of customer A for each
# (a back-office "object_id" is the first row of the page's model, A's).
PARAMS: dict[str, Callable[[World, Route], object]] = {
    "account_confirm_email:key": _confirm_email_key,
    "account_reset_password_from_key:key": _password_reset_key,
    "uidb36": _user_id_base36,
    "pk": _authenticator_id,  # the staff member's authenticator
    "provider_id": lambda w, r: "no-such-provider",  # none is configured in the tests
    "token_id": lambda w, r: w.token.pk,
    "membership_id": lambda w, r: w.membership.pk,
    "invitation_id": lambda w, r: w.extra["revoked_invitation_id"],
    "customers:invitation_accept:token": lambda w, r: w.invitation_token,
    "api_problem_type:slug": lambda w, r: "permission-denied",
    "slug": lambda w, r: w.request_type.slug,
    "reference": lambda w, r: w.service_request.reference,
    "attachment_id": lambda w, r: w.attachment.pk,
    "doc_id": lambda w, r: w.page_id,
    "documents:restore:document_id": lambda w, r: w.extra["trashed_document_id"],
    "document_id": lambda w, r: w.document_id,
    "documents:download:number": lambda w, r: 1,
    "api:document_download:number": lambda w, r: 1,
    "billing:payment_sync:number": lambda w, r: w.payment.invoice.number,
    "number": lambda w, r: w.invoice.number,
    "payment_id": lambda w, r: w.payment.pk,
    "invoice_number": lambda w, r: w.invoice.number,
    "customer_id": lambda w, r: w.acme.pk,
    "notification_id": lambda w, r: w.notification.pk,
    # The development outbox lists files the file e-mail backend wrote; tests send none.
    "message_id": lambda w, r: "no-such-message",
    "app_label": lambda w, r: "servicedesk",
    "url": lambda w, r: "no/such/page/",
    "admin:view_on_site:content_type_id": _content_type_id,
    "admin:view_on_site:object_id": lambda w, r: w.service_request.pk,
    "admin:servicedesk_servicerequest_attachment:object_id": lambda w, r: w.service_request.pk,
    "id": lambda w, r: w.member.pk,
    "version_id": _version_id,
    "invoice_id": lambda w, r: w.invoice.pk,
}
# Routes that refuse GET are requested with POST, sending this: harmless or invalid,
# so that one route's request leaves the world as the next one expects it.
POST_DATA: dict[str, Callable[[World], dict[str, Any]]] = {
    "customers:switch": lambda w: {"customer": w.acme.pk, "next": "/dashboard/"},
    "customers:invitation_revoke": lambda w: {},
    "live:mark_read": lambda w: {"notification": "x"},
    "servicedesk:draft_discard": lambda w: {},
    "servicedesk:transition": lambda w: {"to_status": "no-such-status"},
    "servicedesk:rate": lambda w: {"rating": "0"},
    "documents:upload": lambda w: {},
    "documents:edit": lambda w: {"title": ""},
    "documents:version_upload": lambda w: {},
    "documents:restore": lambda w: {},
    "billing:invoice_pay": lambda w: {},
    "billing:payment_sync": lambda w: {},
    "billing:stripe_webhook": lambda w: {},
    "set_language": lambda w: {"language": "en", "next": "/pages/"},
    "accounts:export": lambda w: {},
    "tokens:revoke": lambda w: {},
    "admin:logout": lambda w: {},
}
POST_ONLY = set(POST_DATA)

# API operations: a body each one accepts, multipart forms, query parameters.
API_BODIES: dict[str, Callable[[World], dict[str, Any]]] = {
    "me_update": lambda w: {"city": "Bern"},
    "service_request_submit": lambda w: {
        "request_type": w.request_type.slug,
        "title": "Two new cards",
        "answers": {"details": "For the new starters."},
    },
    "service_request_comment": lambda w: {"body": "Any news?"},
}
API_FORMS: dict[str, Callable[[World], dict[str, Any]]] = {
    "document_upload": lambda w: {"file": SimpleUploadedFile("note.txt", b"A note.\n")},
    "document_version_add": lambda w: {"file": SimpleUploadedFile("note.txt", b"Version 2.\n")},
}
API_QUERIES: dict[str, dict[str, str]] = {"page_search": {"q": "Invoices"}}


def _admin_model_pk(world: World, route: Route) -> object:
    app_label, model_name = route.pattern.split("/")[1:3]
    for model in admin.site._registry:
        if (model._meta.app_label, model._meta.model_name) == (app_label, model_name):
            instance = first_object(model)
            return instance.pk if instance is not None else "0"
    raise AssertionError(f"{route.key}: no model admin for {app_label}.{model_name}")


def _value(world: World, route: Route, param: str) -> str:
    for key in (f"{route.key}:{param}", param):
        if key in PARAMS:
            return str(PARAMS[key](world, route))
    if route.pattern.startswith("backoffice/") and param == "object_id":
        return str(_admin_model_pk(world, route))
    raise AssertionError(f"{route.key}: say in PARAMS which object {{{param}}} names")


def rule_for(key: str) -> Expect | None:
    if key in RULES:
        return RULES[key]
    for pattern, expect in RULES.items():
        if any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(key, pattern):
            return expect
    return None


@functools.cache
def routes() -> tuple[Route, ...]:
    """Read when the tests run: importing the server's router builds the application,
    which wants the static files collected (a session fixture does that)."""
    return tuple(all_routes())


def test_every_route_has_a_rule() -> None:
    keys = [route.key for route in routes()]
    missing = [key for key in keys if rule_for(key) is None]
    assert not missing, "routes without an access rule in RULES: " + ", ".join(missing)
    unused = [
        pattern
        for pattern in RULES
        if not any(pattern == key or fnmatch.fnmatchcase(key, pattern) for key in keys)
    ]
    assert not unused, f"rules for routes that do not exist: {unused}"
    for key in keys:
        expect = rule_for(key)
        assert expect is not None
        actors = set(ALL_ACTORS if key.startswith(("api:", "asgi:")) else PAGE_ACTORS)
        assert set(expect) == actors, f"{key}: the rule must name exactly {sorted(actors)}"


# --- running the matrix ----------------------------------------------------------------------


def observe(response: Any) -> Outcome:
    status: int = response.status_code
    if status not in (301, 302, 303, 307, 308):
        return status
    location = response["Location"]
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, f"redirect to another site: {location}"
    if parts.path == "/accounts/login/" and "next=" in parts.query:
        return "login"
    if parts.path == "/backoffice/login/" and "next=" in parts.query:
        return "admin-login"
    if parts.path.startswith("/accounts/2fa/"):
        return "mfa"
    return "redirect"


@pytest.fixture
def world(db: None, tmp_path: Path, settings: Any) -> World:
    settings.PORTAL_CONTENT_DIR = tmp_path / "content"
    with translation.override("en"):
        return build_world(settings.PORTAL_CONTENT_DIR)


def _client(world: World, actor: str) -> Client:
    if actor.startswith("token_"):
        secret = world.read_secret if actor == "token_read" else world.write_secret
        return Client(headers={"Authorization": f"Bearer {secret}"})
    client = Client()
    if actor != "anonymous":
        client.force_login(world.user(actor))
    return client


def _request(client: Client, world: World, route: Route) -> Any:
    values = {param: _value(world, route, param) for param in route.params}
    path = route.path(values)
    if route.is_api:
        return _api_request(client, world, route, path)
    match = resolve(path)
    assert match.func == route.callback, f"{route.key}: {path} resolves to {match.func}"
    if route.key in POST_ONLY:
        data = POST_DATA[route.key](world) if route.key in POST_DATA else {}
        return client.post(path, data)
    return client.get(path)


def _api_request(client: Client, world: World, route: Route, path: str) -> Any:
    operation = route.key.removeprefix("api:")
    if operation in API_FORMS:
        return client.post(path, API_FORMS[operation](world))
    if route.method == "GET":
        return client.get(path, API_QUERIES.get(operation, {}))
    body = API_BODIES[operation](world) if operation in API_BODIES else {}
    return client.generic(route.method, path, json.dumps(body), content_type="application/json")


def _outcomes(world: World, actor: str) -> dict[str, Outcome]:
    client = _client(world, actor)
    found: dict[str, Outcome] = {}
    for route in routes():
        if actor in TOKEN_ACTORS and not route.key.startswith(("api:", "asgi:")):
            continue
        if route.key == "asgi:/metrics":
            found[route.key] = _metrics_outcome(client)
            continue
        if route.key.startswith("asgi:"):
            found[route.key] = _live_outcome(client, world, actor)
            continue
        response = _request(client, world, route)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)  # read to the end: the file is closed
        found[route.key] = observe(response)
        if actor not in ("anonymous", *TOKEN_ACTORS) and "_auth_user_id" not in client.session:
            client.force_login(world.user(actor))  # signed out by the route: sign in again
    return found


def _metrics_outcome(client: Client) -> Outcome:
    """The metrics endpoint's own check, for this actor's credentials from outside."""
    from portal.core.metrics import client_allowed

    allowed = client_allowed("203.0.113.9", client.defaults.get("HTTP_AUTHORIZATION"))
    return 200 if allowed else 404


def _live_outcome(client: Client, world: World, actor: str) -> Outcome:
    """The stream's own check of who is connecting (its handler answers 401 for None)."""
    from django.conf import settings

    from portal.live.stream import Credentials, authenticate

    authorization = client.defaults.get("HTTP_AUTHORIZATION")
    cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
    credentials = Credentials(
        cookie=f"{cookie.key}={cookie.value}" if cookie else "", authorization=authorization
    )
    viewer = authenticate(credentials)
    if viewer is None:
        return 401
    own = {"other": {world.globex.pk}, "staff": set()}.get(actor, {world.acme.pk})
    assert set(viewer.grants) == own, f"{actor} would see the events of {set(viewer.grants)}"
    assert viewer.is_staff == (actor == "staff")
    return 200


@pytest.mark.parametrize("actor", ALL_ACTORS)
def test_access_matrix(world: World, actor: str) -> None:
    found = _outcomes(world, actor)
    wrong = []
    for key, outcome in found.items():
        expect = rule_for(key)
        assert expect is not None
        if expect[actor] != outcome:
            wrong.append(f"{key}: expected {expect[actor]!r}, got {outcome!r}")
    assert not wrong, f"{actor}, {len(wrong)} of {len(found)} routes:\n" + "\n".join(wrong)
