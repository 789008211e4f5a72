"""Forms of the billing pages. None of them has a field for card data: cards are
entered only in the payment provider's own fields, which send us a token."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from .models import InvoiceLine
from .money import to_major, to_minor
from .services import CARD_TOKEN

STATUS_FILTERS = [
    ("", _("All")),
    ("open", _("Open")),
    ("overdue", _("Overdue")),
    ("paid", _("Paid")),
    ("refunded", _("Refunded")),
    ("void", _("Void")),
]


class InvoiceFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Show"), choices=STATUS_FILTERS, required=False)


class PayForm(forms.Form):
    """What the payment page posts: the provider's token for the card, nothing else."""

    token = forms.CharField(max_length=120, validators=[RegexValidator(CARD_TOKEN.pattern + "$")])


class InvoiceLineAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    """A line as staff type it: the unit price in the currency's main unit (12.50)."""

    unit_price = forms.DecimalField(
        label=_("unit price"), min_value=Decimal(0), max_digits=14, decimal_places=2
    )

    class Meta:
        model = InvoiceLine
        fields = ("position", "description", "quantity", "unit_price", "tax_rate")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            currency = self.instance.invoice.currency
            self.initial["unit_price"] = to_major(self.instance.unit_price_minor, currency)

    def save(self, commit: bool = True) -> InvoiceLine:
        line: InvoiceLine = super().save(commit=False)
        line.unit_price_minor = to_minor(self.cleaned_data["unit_price"], line.invoice.currency)
        if commit:
            line.save()
        return line


class RefundAdminForm(forms.Form):
    amount = forms.DecimalField(
        label=_("amount to refund"), min_value=Decimal("0.01"), max_digits=14, decimal_places=2
    )
    reason = forms.CharField(label=_("reason"), max_length=300, required=False)


class ManualPaymentAdminForm(forms.Form):
    note = forms.CharField(
        label=_("note"),
        max_length=300,
        required=False,
        help_text=_("For example the bank transfer's reference."),
    )
