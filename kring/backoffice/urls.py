from django.urls import path

from kring.backoffice.views import dashboard

app_name = "backoffice"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
]
