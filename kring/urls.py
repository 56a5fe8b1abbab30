from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import include, path

from kring.core.auth import landing_url_for


def home(request):
    if request.user.is_authenticated:
        return redirect(landing_url_for(request.user))
    return redirect("account_login")


def healthz(request):
    """For the load balancer: this app server is up and reaches its database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


# The Django admin's own login form would skip the second factor and the login rate limits:
# send it through allauth's login instead (docs.allauth.org, "Admin").
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("backoffice/", include("kring.backoffice.urls")),
    path("pay/", include("kring.billing.urls")),
    path("django-admin/", admin.site.urls),
]
