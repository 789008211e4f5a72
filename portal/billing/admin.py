"""The back office for invoices: staff write drafts, then issue, void, record and refund
through the services. Issued invoices are read-only here; every change of state
goes through a service, so it is audited and the customer's pages follow live."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.accounts.request import signed_in_user

from . import services
from .forms import InvoiceLineAdminForm, ManualPaymentAdminForm, RefundAdminForm
from .models import Invoice, InvoiceLine, InvoiceStatus, Payment, Refund, RefundStatus
from .money import format_money, to_minor


class InvoiceLineInline(admin.TabularInline):  # type: ignore[type-arg]
    model = InvoiceLine
    form = InvoiceLineAdminForm
    extra = 1

    def _editable(self, obj: Invoice | None) -> bool:
        return obj is None or obj.status == InvoiceStatus.DRAFT

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if self._editable(obj):
            return ("position", "description", "quantity", "unit_price", "tax_rate")
        return ("position", "description", "quantity", "unit_price_shown", "tax_rate")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if self._editable(obj):
            return ()
        return self.get_fields(request, obj)

    @admin.display(description=gettext_lazy("unit price"))
    def unit_price_shown(self, line: InvoiceLine) -> str:
        return format_money(line.unit_price_minor, line.invoice.currency)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj)


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("__str__", "customer", "status", "total", "issue_date", "due_date")
    list_filter = ("status", "currency")
    search_fields = ("number", "customer__name", "customer__number")
    list_select_related = ("customer",)
    inlines = (InvoiceLineInline,)
    actions = ("issue_selected", "void_selected")
    readonly = (
        "number",
        "status",
        "issue_date",
        "due_date",
        "total",
        "paid",
        "refunded",
        "source_reference",
        "money_actions",
    )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("customer", "currency", "notes", *self.readonly)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.status != InvoiceStatus.DRAFT:
            return ("customer", "currency", "notes", *self.readonly)
        return self.readonly

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Issued invoices are records: void them instead.
        return obj is None or obj.status == InvoiceStatus.DRAFT

    @admin.display(description=gettext_lazy("total"))
    def total(self, invoice: Invoice) -> str:
        return invoice.total_display

    @admin.display(description=gettext_lazy("paid"))
    def paid(self, invoice: Invoice) -> str:
        return invoice.money(invoice.amount_paid_minor)

    @admin.display(description=gettext_lazy("refunded"))
    def refunded(self, invoice: Invoice) -> str:
        return invoice.money(invoice.amount_refunded_minor)

    @admin.display(description=gettext_lazy("money"))
    def money_actions(self, invoice: Invoice) -> str:
        if invoice.pk is None:
            return "—"
        links = []
        if invoice.status == InvoiceStatus.OPEN:
            links.append(
                (reverse("admin:billing_invoice_record_payment", args=[invoice.pk]),
                 _("Record a payment received another way"))
            )  # fmt: skip
        if invoice.refundable_minor > 0:
            links.append((reverse("admin:billing_invoice_refund", args=[invoice.pk]), _("Refund")))
        if not links:
            return "—"
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    def save_model(self, request: HttpRequest, obj: Invoice, form: Any, change: bool) -> None:
        # A draft is plain data entry (get_readonly_fields keeps issued invoices
        # read-only); issuing it is the service's job.
        if obj.created_by_id is None:
            obj.created_by = signed_in_user(request)
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        services.invoice_recalculate(invoice=form.instance)

    @admin.action(description=gettext_lazy("Issue the selected drafts"), permissions=["change"])
    def issue_selected(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._each(request, queryset, services.invoice_issue, _("Issued %(invoice)s."))

    @admin.action(description=gettext_lazy("Void the selected invoices"), permissions=["change"])
    def void_selected(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._each(request, queryset, services.invoice_void, _("Voided %(invoice)s."))

    def _each(
        self, request: HttpRequest, queryset: QuerySet[Invoice], service: Any, done: str
    ) -> None:
        actor = signed_in_user(request)
        for invoice in queryset:
            try:
                invoice = service(invoice=invoice, actor=actor, request=request)
            except services.BillingError as error:
                self.message_user(request, f"{invoice}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, done % {"invoice": invoice}, messages.SUCCESS)

    # --- Refund and manual payment pages ----------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:invoice_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="billing_invoice_refund",
            ),
            path(
                "<int:invoice_id>/record-payment/",
                self.admin_site.admin_view(self.record_payment_view),
                name="billing_invoice_record_payment",
            ),
        ]
        return own + super().get_urls()

    def _page(
        self, request: HttpRequest, invoice: Invoice, form: Any, title: str, intro: str
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": invoice,
            "title": title,
            "intro": intro,
            "form": form,
        }
        return TemplateResponse(request, "admin/billing/invoice/money_action.html", context)

    def _back(self, invoice: Invoice) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:billing_invoice_change", args=[invoice.pk]))

    def refund_view(self, request: HttpRequest, invoice_id: int) -> HttpResponse:
        invoice = get_object_or_404(Invoice, pk=invoice_id)
        # Money moves: the staff member must be allowed to change invoices.
        if not self.has_change_permission(request):
            return HttpResponse(status=403)
        form = RefundAdminForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                refund = services.refund_issue(
                    invoice=invoice,
                    amount_minor=to_minor(form.cleaned_data["amount"], invoice.currency),
                    actor=signed_in_user(request),
                    reason=form.cleaned_data["reason"],
                    request=request,
                )
            except services.BillingError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(
                    request,
                    _("Refunded %(amount)s of %(invoice)s.")
                    % {"amount": refund.amount_display, "invoice": invoice},
                    messages.SUCCESS,
                )
                return self._back(invoice)
        intro = _("Paid %(paid)s, refunded so far %(refunded)s.") % {
            "paid": invoice.money(invoice.amount_paid_minor),
            "refunded": invoice.money(invoice.amount_refunded_minor),
        }
        return self._page(
            request, invoice, form, _("Refund %(invoice)s") % {"invoice": invoice}, intro
        )

    def record_payment_view(self, request: HttpRequest, invoice_id: int) -> HttpResponse:
        invoice = get_object_or_404(Invoice, pk=invoice_id)
        # Money moves: the staff member must be allowed to change invoices.
        if not self.has_change_permission(request):
            return HttpResponse(status=403)
        form = ManualPaymentAdminForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.payment_record_manual(
                    invoice=invoice,
                    actor=signed_in_user(request),
                    note=form.cleaned_data["note"],
                    request=request,
                )
            except services.BillingError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(
                    request, _("%(invoice)s is paid.") % {"invoice": invoice}, messages.SUCCESS
                )
                return self._back(invoice)
        intro = _("Records that %(amount)s arrived, e.g. by bank transfer.") % {
            "amount": invoice.due_display
        }
        return self._page(
            request,
            invoice,
            form,
            _("Record a payment for %(invoice)s") % {"invoice": invoice},
            intro,
        )


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("receipt", "invoice", "amount", "status", "provider", "reference", "created_at")
    list_filter = ("status", "provider")
    search_fields = ("reference", "invoice__number", "invoice__customer__name")
    list_select_related = ("invoice",)
    exclude = ("client_secret", "starting_since")
    readonly_fields = (
        "invoice",
        "provider",
        "reference",
        "amount_minor",
        "currency",
        "status",
        "failure_message",
        "card_brand",
        "card_last4",
        "note",
        "started_by",
        "succeeded_at",
    )

    @admin.display(description=gettext_lazy("receipt"))
    def receipt(self, payment: Payment) -> str:
        return payment.receipt_number

    @admin.display(description=gettext_lazy("amount"))
    def amount(self, payment: Payment) -> str:
        return payment.amount_display

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("created_at", "invoice", "amount", "status", "reference", "failure")
    list_filter = ("status", "external")
    search_fields = ("reference", "invoice__number")
    list_select_related = ("invoice",)
    actions = ("send_again",)
    readonly_fields = (
        "payment",
        "invoice",
        "amount_minor",
        "currency",
        "reason",
        "status",
        "reference",
        "failure_message",
        "external",
        "created_by",
        "succeeded_at",
    )

    @admin.display(description=gettext_lazy("amount"))
    def amount(self, refund: Refund) -> str:
        return refund.amount_display

    @admin.display(description=gettext_lazy("failure"))
    def failure(self, refund: Refund) -> str:
        return refund.failure_message

    @admin.action(
        description=gettext_lazy("Send the selected requested refunds again"), permissions=["send"]
    )
    def send_again(self, request: HttpRequest, queryset: QuerySet[Refund]) -> None:
        for refund in queryset.filter(status=RefundStatus.REQUESTED):
            try:
                services.refund_send(refund=refund)
            except services.BillingError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, _("Refund sent."), messages.SUCCESS)

    def has_send_permission(self, request: HttpRequest) -> bool:
        """Sending a refund moves money: for staff who may change invoices."""
        return request.user.has_perm("billing.change_invoice")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
