from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .roles import Role


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address"), widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class SecurityPolicyForm(forms.Form):
    require_mfa = forms.BooleanField(
        label=_("Require two-factor authentication for every member"), required=False
    )
