"""Back-office finance pages (included under /backoffice/finance/ in the backoffice namespace)."""

from django.urls import path

urlpatterns: list = [
]
