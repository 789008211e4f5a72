from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("invoices/", views.invoice_list, name="invoice_list"),
    path("invoices/<str:number>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<str:number>/print/", views.invoice_print, name="invoice_print"),
    path("invoices/<str:number>/pay/", views.invoice_pay, name="invoice_pay"),
    path(
        "invoices/<str:number>/payments/<int:payment_id>/sync/",
        views.payment_sync,
        name="payment_sync",
    ),
    path("payments/", views.payment_list, name="payment_list"),
    path("payments/<int:payment_id>/receipt/", views.receipt, name="receipt"),
    # The payment provider's notifications: no session, verified by signature.
    path("webhooks/stripe/", views.stripe_webhook, name="stripe_webhook"),
]
