from django.contrib import admin
from django.shortcuts import redirect
from django.urls import include, path


def home(request):
    if request.user.is_authenticated and request.user.is_staff:
        return redirect("backoffice:dashboard")
    if request.user.is_authenticated:
        return redirect("backoffice:dashboard") if request.user.is_staff else redirect("account_email")
    return redirect("account_login")


urlpatterns = [
    path("", home, name="home"),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("backoffice/", include("kring.backoffice.urls")),
    path("django-admin/", admin.site.urls),
]
