"""Personal access tokens: how a person's scripts and systems call the API.

A token acts for its owner as one of their memberships: one customer, with the
permissions the owner's role there grants today. Only a SHA-256 hash of the
secret is stored; the secret is shown once, when the token is created.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TokenScope(models.TextChoices):
    READ = "read", _("Read only")
    WRITE = "write", _("Read and write")

    @property
    def scopes(self) -> list[str]:
        """The scope names a token of this kind carries: write includes read."""
        return ["read", "write"] if self == TokenScope.WRITE else ["read"]


class TokenStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Revoked")


class PersonalAccessToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens"
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    name = models.CharField(_("name"), max_length=100)
    scope = models.CharField(
        _("access"), max_length=10, choices=TokenScope.choices, default=TokenScope.READ
    )
    # The start of the secret (after the prefix), so people can tell tokens apart.
    hint = models.CharField(max_length=12, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("personal access token")
        verbose_name_plural = _("personal access tokens")
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.display_hint})"

    @property
    def display_hint(self) -> str:
        from .secret import TOKEN_PREFIX

        return f"{TOKEN_PREFIX}{self.hint}…"

    @property
    def status(self) -> TokenStatus:
        if self.revoked_at is not None:
            return TokenStatus.REVOKED
        if self.expires_at <= timezone.now():
            return TokenStatus.EXPIRED
        return TokenStatus.ACTIVE

    @property
    def is_active(self) -> bool:
        return self.status == TokenStatus.ACTIVE

    @property
    def scopes(self) -> list[str]:
        return TokenScope(self.scope).scopes

    @property
    def can_write(self) -> bool:
        return self.scope == TokenScope.WRITE
