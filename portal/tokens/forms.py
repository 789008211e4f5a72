from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal.accounts.models import User
from portal.customers.selectors import customers_for_user

from .models import TokenScope

EXPIRY_CHOICES_DAYS = (7, 30, 90, 365)


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the token is for, e.g. “ERP integration”."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    customer: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("Acts for"), queryset=None, empty_label=None, to_field_name="pk"
    )
    scope = forms.ChoiceField(
        label=_("Access"),
        choices=TokenScope.choices,
        initial=TokenScope.READ,
        widget=forms.RadioSelect,
        help_text=_("Read-only tokens can look but not change anything."),
    )
    expires_in_days = forms.TypedChoiceField(label=_("Expires after"), coerce=int, initial=90)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        customer_field: forms.ModelChoiceField[Any] = self.fields["customer"]  # type: ignore[assignment]
        customer_field.queryset = customers_for_user(user=user).order_by("name")
        limit = settings.PORTAL_API_TOKEN_MAX_DAYS
        days = [d for d in EXPIRY_CHOICES_DAYS if d <= limit] or [limit]
        expiry: forms.TypedChoiceField = self.fields["expires_in_days"]  # type: ignore[assignment]
        expiry.choices = [(d, ngettext("%(n)d day", "%(n)d days", d) % {"n": d}) for d in days]
        if 90 not in days:
            expiry.initial = days[-1]
