from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class LiveEvent(models.Model):
    """Something a browser should learn about at once: the outbox of the live stream.

    Written in the same transaction as the change it describes; its id is the
    stream's event id, so a reconnecting browser asks for everything after the
    last id it saw. ``data`` holds only what every member of the audience may see.
    """

    created_at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=64)
    # What pages listen for, e.g. "service_request:SR-2026-000123".
    topic = models.CharField(max_length=120)
    # The audience: members of ``customer`` whose role grants ``permission``
    # (any member when empty), the person ``user``, and staff when ``staff``.
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    permission = models.CharField(max_length=40, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    staff = models.BooleanField(default=False)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("id",)
        indexes = [
            models.Index(fields=["customer", "id"]),
            models.Index(fields=["user", "id"]),
            models.Index(fields=["created_at"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.topic}"

    def as_message(self) -> dict[str, object]:
        return {"id": self.pk, "kind": self.kind, "topic": self.topic, "data": self.data}


class Notification(models.Model):
    """An in-app notification for one person: the bell in the header."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=32)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    url = models.CharField(_("link"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["user", "read_at", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.user}: {self.title}"
