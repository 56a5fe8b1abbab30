"""Pages outside the back office: paying an invoice online and the payment providers' webhooks."""

from django.urls import path

from kring.billing import views

app_name = "billing"

urlpatterns: list = [
    path("webhook/mollie/", views.mollie_webhook, name="mollie_webhook"),
    path("<str:token>/", views.pay, name="pay"),
    path("<str:token>/return/", views.pay_return, name="pay_return"),
    path("<str:token>/demo/<str:payment_id>/", views.local_checkout, name="local_checkout"),
]
