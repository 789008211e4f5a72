from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme

from portal.core.audit import audit_record
from portal.core.models import AuditAction

from .secrets import decrypt_secret, encrypt_secret


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    def is_safe_url(self, url: str | None) -> bool:
        # Only paths on this site: never another host, never a scheme-relative URL.
        if not url:
            return False
        request = self.request
        allowed = {request.get_host()} if request is not None else set()
        return url_has_allowed_host_and_scheme(
            url, allowed_hosts=allowed, require_https=request is not None and request.is_secure()
        )

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        # Someone who signs up on a German page keeps German once signed in: the
        # profile's language (which wins over the browser's) starts as the page's.
        language = translation.get_language()
        if language in dict(settings.LANGUAGES):
            user.preferred_language = language
        return super().save_user(request, user, form, commit)

    def login(self, request: HttpRequest, user: Any) -> None:
        super().login(request, user)
        # A language picked with the switch just before signing in is the person's
        # latest choice: keep it in the profile rather than fall back to the old one.
        from .services import profile_update

        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        if chosen in dict(settings.LANGUAGES) and chosen != user.preferred_language:
            profile_update(user=user, data={"preferred_language": chosen}, request=request)

    def post_login(self, request: HttpRequest, user: Any, **kwargs: Any) -> HttpResponse:
        sociallogin = (kwargs.get("signal_kwargs") or {}).get("sociallogin")
        if isinstance(sociallogin, SocialLogin) and sociallogin.provider.id == "openid_connect":
            from portal.accounts.oidc.services import provider_sign_in_completed

            provider_sign_in_completed(request=request, user=user, sociallogin=sociallogin)
        response: HttpResponse = super().post_login(request, user, **kwargs)
        return response

    def get_logout_redirect_url(self, request: HttpRequest) -> str:
        # Asked before the session ends. A session that began at an identity
        # provider ends there too (RP-initiated logout), which then sends the
        # browser back to the portal's home page.
        from portal.accounts.oidc.session import end_session_url

        if request.user.is_authenticated:
            url = end_session_url(request)
            if url:
                return url
        return str(super().get_logout_redirect_url(request))


class SocialAccountAdapter(DefaultSocialAccountAdapter):  # type: ignore[misc]
    def authenticate_by_email(self, sociallogin: SocialLogin) -> tuple[Any, str] | None:
        """The existing account a first provider sign-in may sign in to, by e-mail.

        Only when both sides vouch for the address: the provider asserts
        ``email_verified`` and the address was verified here. Otherwise the
        sign-in goes on as a sign-up, which never takes over an existing
        account (allauth answers as if a verification mail had been sent, and
        mails the owner instead).
        """
        for address in sociallogin.email_addresses:
            if not address.verified:
                continue
            local = (
                EmailAddress.objects.filter(
                    email__iexact=address.email, verified=True, user__is_active=True
                )
                .select_related("user")
                .first()
            )
            if local is not None:
                return local.user, address.email
        return None

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: str | None = None,
        exception: BaseException | None = None,
        extra_context: dict[str, Any] | None = None,
    ) -> None:
        # Recorded like a failed password sign-in; whose account it was is not
        # known, as nothing the provider sent could be trusted.
        app = getattr(provider, "app", None)
        audit_record(
            action=AuditAction.SIGN_IN_FAILED,
            request=request,
            data={
                "method": "provider",
                "provider": getattr(app, "provider_id", "") or getattr(provider, "id", ""),
                "error": error or "unknown",
                "reason": str(exception)[:200] if exception is not None else "",
            },
        )


class UserSessionsAdapter(DefaultUserSessionsAdapter):  # type: ignore[misc]
    def end_sessions(self, sessions: Any) -> None:
        sessions = list(sessions)
        super().end_sessions(sessions)
        request: HttpRequest | None = getattr(self, "request", None)
        if sessions:
            audit_record(
                action=AuditAction.SESSIONS_REVOKED,
                request=request,
                actor=sessions[0].user,
                data={"count": len(sessions)},
            )


class MFAAdapter(DefaultMFAAdapter):  # type: ignore[misc]
    """TOTP keys and recovery-code seeds are stored encrypted (see ``secrets``)."""

    def encrypt(self, text: str) -> str:
        return encrypt_secret(text)

    def decrypt(self, encrypted_text: str) -> str:
        return decrypt_secret(encrypted_text)
