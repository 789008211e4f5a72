from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import NotificationKind, User


class ProfileForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = User
        fields = (
            "first_name",
            "last_name",
            "phone",
            "address_line1",
            "address_line2",
            "postal_code",
            "city",
            "country",
            "preferred_language",
        )
        widgets = {"phone": forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        autocomplete = {
            "first_name": "given-name",
            "last_name": "family-name",
            "address_line1": "address-line1",
            "address_line2": "address-line2",
            "postal_code": "postal-code",
            "city": "address-level2",
            "country": "country-name",
        }
        for name, value in autocomplete.items():
            self.fields[name].widget.attrs["autocomplete"] = value

    def clean_phone(self) -> str:
        phone: str = self.cleaned_data["phone"].strip()
        allowed = set("0123456789+()-./ ")
        if phone and (not set(phone) <= allowed or sum(c.isdigit() for c in phone) < 5):
            raise forms.ValidationError(
                _("Enter a phone number with digits, and optionally +, spaces, dashes or brackets.")
            )
        return phone


class NotificationPreferencesForm(forms.Form):
    """Two checkboxes per kind of notification: by e-mail and in the portal."""

    def __init__(self, *args: Any, rows: list[tuple[str, str, bool, bool]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows = rows
        for kind, label, email, in_app in rows:
            self.fields[f"{kind}__email"] = forms.BooleanField(
                label=_("%(kind)s by e-mail") % {"kind": label}, required=False, initial=email
            )
            self.fields[f"{kind}__in_app"] = forms.BooleanField(
                label=_("%(kind)s in the portal") % {"kind": label},
                required=False,
                initial=in_app,
            )

    def grouped(self) -> list[tuple[str, forms.BoundField, forms.BoundField]]:
        return [
            (label, self[f"{kind}__email"], self[f"{kind}__in_app"])
            for kind, label, *_ in self.rows
        ]

    def choices(self) -> dict[str, dict[str, bool]]:
        return {
            kind.value: {
                "email": self.cleaned_data.get(f"{kind.value}__email", False),
                "in_app": self.cleaned_data.get(f"{kind.value}__in_app", False),
            }
            for kind in NotificationKind
        }


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    confirm = forms.BooleanField(
        label=_("I understand that my account will be closed and cannot be restored."),
        required=True,
    )
