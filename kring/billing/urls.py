"""Pages outside the back office: paying an invoice online and the payment providers' webhooks."""

from django.urls import path

app_name = "billing"

urlpatterns: list = [
]
