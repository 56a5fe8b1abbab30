"""Back-office finance pages (included under /backoffice/finance/ in the backoffice namespace)."""

from django.urls import path

from kring.backoffice.views import finance, finance_documents, finance_run_delivery, finance_runs
from kring.backoffice.views import finance_collections as collections
from kring.backoffice.views import finance_mandates as mandates
from kring.backoffice.views import finance_payments as payments
from kring.backoffice.views import finance_reminders as reminders
from kring.backoffice.views import finance_statements as statements

urlpatterns: list = [
    path("", finance.finance_overview, name="finance_overview"),
    path("invoices/", finance.finance_invoice_list, name="finance_invoice_list"),
    path("invoices/<int:pk>/", finance.finance_invoice_detail, name="finance_invoice_detail"),
    path("invoices/<int:pk>/credit/", finance.finance_credit_note_new, name="finance_credit_note_new"),
    path("invoices/<int:pk>/payments/new/", payments.finance_payment_new, name="finance_payment_new"),
    path(
        "invoices/<int:pk>/write-off/", payments.finance_invoice_write_off, name="finance_invoice_write_off"
    ),
    path("members/<int:member_pk>/invoices/new/", finance.finance_invoice_new, name="finance_invoice_new"),
    path("export/", finance.finance_export, name="finance_export"),
    path("settings/", finance.finance_settings, name="finance_settings"),
    path("invoices/<int:pk>/pdf/", finance_documents.finance_invoice_pdf, name="finance_invoice_pdf"),
    path("invoices/<int:pk>/send/", finance_documents.finance_invoice_send, name="finance_invoice_send"),
    path("reminders/", reminders.reminder_schedule, name="finance_reminder_schedule"),
    path("reminders/<int:pk>/edit/", reminders.reminder_step_edit, name="finance_reminder_step_edit"),
    path("reminders/send/", reminders.reminders_send, name="finance_reminders_send"),
    path("print-batches/", reminders.print_batch_list, name="finance_print_batch_list"),
    path("print-batches/<int:pk>/pdf/", reminders.print_batch_pdf, name="finance_print_batch_pdf"),
    path(
        "print-batches/<int:pk>/printed/", reminders.print_batch_printed, name="finance_print_batch_printed"
    ),
    path("flagged/", reminders.flagged_list, name="finance_flagged"),
    path("runs/", finance_runs.finance_run_list, name="finance_run_list"),
    path("runs/new/", finance_runs.finance_run_new, name="finance_run_new"),
    path("runs/<int:pk>/", finance_runs.finance_run_detail, name="finance_run_detail"),
    path("runs/<int:pk>/send/", finance_run_delivery.finance_run_send, name="finance_run_send"),
    path("runs/<int:pk>/paper.pdf", finance_run_delivery.finance_run_paper_pdf, name="finance_run_paper_pdf"),
    path(
        "members/<int:member_pk>/mandate-form.pdf",
        mandates.finance_mandate_form_pdf,
        name="finance_mandate_form_pdf",
    ),
    path("members/<int:member_pk>/mandates/new/", mandates.finance_mandate_new, name="finance_mandate_new"),
    path("collections/", collections.finance_collection_list, name="finance_collection_list"),
    path("collections/new/", collections.finance_collection_new, name="finance_collection_new"),
    path("collections/jobs/<int:job_id>/", collections.finance_collection_job, name="finance_collection_job"),
    path("collections/<int:pk>/", collections.finance_collection_detail, name="finance_collection_detail"),
    path(
        "collections/<int:pk>/file.xml",
        collections.finance_collection_download,
        name="finance_collection_download",
    ),
    path("statements/", statements.finance_statement_list, name="finance_statement_list"),
    path("statements/import/", statements.finance_statement_upload, name="finance_statement_upload"),
    path("statements/unmatched/", statements.finance_statement_unmatched, name="finance_statement_unmatched"),
    path("statements/return-codes/", statements.finance_statement_reasons, name="finance_statement_reasons"),
    path("statements/<int:pk>/", statements.finance_statement_detail, name="finance_statement_detail"),
    path(
        "statements/transactions/<int:pk>/match/",
        statements.finance_statement_match,
        name="finance_statement_match",
    ),
    path(
        "statements/transactions/<int:pk>/ignore/",
        statements.finance_statement_ignore,
        name="finance_statement_ignore",
    ),
]
