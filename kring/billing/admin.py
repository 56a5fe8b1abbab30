"""Technical administrators can look at finance data here; money only changes through the services
(numbering, audit log, payment states), in the back office."""

from django.contrib import admin

from kring.billing.models import BillingSettings, Invoice, InvoiceRun, Payment, ReminderStep
from kring.members.admin import ReadOnlyAdmin


@admin.register(BillingSettings)
class BillingSettingsAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "iban", "payment_term_days", "online_provider"]


@admin.register(ReminderStep)
class ReminderStepAdmin(admin.ModelAdmin):
    list_display = ["level", "days_after_due", "action", "subject"]


@admin.register(InvoiceRun)
class InvoiceRunAdmin(ReadOnlyAdmin):
    list_display = ["period", "invoice_date", "status", "invoice_count", "total", "started_at"]


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["number", "kind", "invoice_date", "recipient_name", "total", "status"]
    list_filter = ["kind", "status"]
    search_fields = ["number", "recipient_name"]
    raw_id_fields = ["member", "payer_member", "membership", "credited_invoice"]
    show_full_result_count = False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["invoice", "amount", "paid_on", "method", "source"]
    list_select_related = ["invoice"]
    raw_id_fields = ["invoice"]
    show_full_result_count = False
